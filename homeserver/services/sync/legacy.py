"""The deprecated but specified ways to read rooms: the ``/events`` stream (also for
peeking into ``world_readable`` rooms), ``/initialSync``, a room's ``/initialSync``
(room previews) and ``/events/{eventId}`` (spec: Client-Server API, "Syncing",
"Room Previews").

Design note: ``/events`` streams room events after the events position of its
``from`` token (a ``/sync`` or ``/initialSync`` token), at most :data:`MAX_CHUNK`
at a time, in the rooms the user is in or was in during that span, or in the
one room it peeks into. Every event goes through the history-visibility rules,
so a peeker sees only events whose room was ``world_readable`` at the time. A
request with nothing to return waits on the notifier (on the peeked room's
events too) up to ``timeout``.
"""

from __future__ import annotations

from typing import Any

from homeserver.core.identifiers import is_valid_room_id
from homeserver.errors import MatrixError
from homeserver.services.auth import Requester
from homeserver.services.filters import EventFilter
from homeserver.services.notifier import Notifier, wait_for
from homeserver.services.presence import PresenceService
from homeserver.services.push import PushService
from homeserver.services.rooms.serializer import EventSerializer
from homeserver.services.rooms.timeline import TimelineService, parse_position, position_token
from homeserver.services.sync.service import MAX_TIMEOUT_MS, SyncService
from homeserver.services.sync_token import SyncToken
from storage.account_data import AccountDataStore
from storage.events import EVENTS_STREAM, EventStore, StoredEvent
from storage.rooms import RoomStore

#: Most events one ``/events`` response carries.
MAX_CHUNK = 100
DEFAULT_MESSAGES = 10
MAX_MESSAGES = 100
_NO_FILTER = EventFilter()


class LegacySync:
    def __init__(
        self,
        *,
        sync: SyncService,
        events: EventStore,
        rooms: RoomStore,
        account_data: AccountDataStore,
        timeline: TimelineService,
        serializer: EventSerializer,
        notifier: Notifier,
        presence: PresenceService,
        push: PushService,
    ) -> None:
        self._sync = sync
        self._events = events
        self._rooms = rooms
        self._account_data = account_data
        self._timeline = timeline
        self._serializer = serializer
        self._notifier = notifier
        self._presence = presence
        self._push = push

    # -- /events --------------------------------------------------------------------------

    async def events(
        self, requester: Requester, *, from_token: str | None, timeout_ms: int, room_id: str | None
    ) -> dict[str, Any]:
        """``GET /events``: room events after ``from`` (waiting up to ``timeout_ms``)."""
        start = self._sync.current_token()
        if from_token is not None:
            # A sync token (/sync, /initialSync), or a room's pagination token (a preview's
            # messages.end, where clients start peeking).
            try:
                start = SyncToken.decode(from_token) if from_token.startswith("s") else start.advance(
                    events=parse_position(from_token)
                )
            except MatrixError:
                raise MatrixError("M_INVALID_PARAM", "Bad pagination from parameter") from None
        peeked = [room_id] if room_id is not None else []
        if room_id is not None:
            if not is_valid_room_id(room_id):
                raise MatrixError("M_INVALID_PARAM", "Invalid room ID")
            await self._timeline.access(requester.user_id, room_id)  # member, or world-readable
        timeout = max(0, min(timeout_ms, MAX_TIMEOUT_MS)) / 1000
        with self._notifier.listen(requester.user_id, peeked) as woken:
            chunk, reached, anything = await self._events_after(requester, start.events, room_id)
            if not anything and timeout > 0:
                # Nothing new at all (not merely nothing visible): wait for news.
                await wait_for(woken, timeout)
                chunk, reached, _ = await self._events_after(requester, start.events, room_id)
        return {
            "start": from_token if from_token is not None else start.encode(),
            "end": start.advance(events=reached).encode(),
            "chunk": await self._serializer.serialize(chunk, requester),
        }

    async def _events_after(
        self, requester: Requester, after: int, room_id: str | None
    ) -> tuple[list[StoredEvent], int, bool]:
        """The visible events after position ``after``, the position they reach, and
        whether there was any event at all (visible or not) in the user's rooms."""
        now = self._notifier.position(EVENTS_STREAM)
        if after >= now:
            return [], now, False
        memberships = await self._rooms.current_memberships_of_user(requester.user_id)
        if room_id is not None:
            candidates = {room_id}
        else:
            # The rooms the user is in, and those they left or were invited to in the span.
            candidates = {r for r, (membership, _, stream) in memberships.items() if membership == "join" or stream > after}
        changed = self._notifier.rooms_changed_since(candidates, after)
        rooms = sorted(changed if changed is not None else candidates)
        # One more than a chunk tells whether the chunk reaches ``now``.
        found = await self._events.events_in_rooms_between(rooms, after=after, up_to=now, limit=MAX_CHUNK + 1)
        window = found[:MAX_CHUNK]
        reached = window[-1].stream_ordering if len(found) > MAX_CHUNK else now
        visible = await self._timeline.filter_visible(requester.user_id, window, memberships=memberships)
        return visible, reached, bool(found)

    async def event(self, requester: Requester, event_id: str) -> dict[str, Any]:
        """``GET /events/{eventId}``: any event the user may read, ``404`` otherwise."""
        item = await self._events.get_event(event_id)
        if item is None:
            raise MatrixError("M_NOT_FOUND", "Event not found")
        readable = await self._timeline.readable_event(requester.user_id, item.event.room_id, event_id)
        return (await self._serializer.serialize([readable], requester))[0]

    # -- /initialSync ---------------------------------------------------------------------------

    async def initial_sync(self, requester: Requester, *, limit: int | None, archived: bool) -> dict[str, Any]:
        """``GET /initialSync``: every room of the user (left ones too when ``archived``)
        with its state and latest messages, their presence and account data."""
        user_id = requester.user_id
        now = self._sync.current_token()
        memberships = await self._rooms.current_memberships_of_user(user_id)
        forgotten = await self._rooms.forgotten_rooms(user_id) if archived else set()
        data = await self._account_data.changed_since(user_id, 0)
        room_data: dict[str, list[dict[str, Any]]] = {}
        for room_id, data_type, content in data:
            if room_id:
                room_data.setdefault(room_id, []).append({"type": data_type, "content": content})
        rooms = []
        for room_id, (membership, event_id, _) in sorted(memberships.items()):
            if membership in ("leave", "ban") and (not archived or room_id in forgotten):
                continue
            if membership == "knock":
                continue  # not a membership this API names
            info: dict[str, Any] = {"room_id": room_id, "membership": membership}
            if membership == "invite":
                invite = await self._events.get_event(event_id)
                if invite is not None:
                    info["invite"] = (await self._serializer.serialize([invite], requester))[0]
            else:
                info |= await self._room_info(requester, room_id, limit, now.events)
            info["account_data"] = room_data.get(room_id, [])
            rooms.append(info)
        global_data = [{"type": t, "content": c} for room_id, t, c in data if not room_id]
        if not any(d["type"] == "m.push_rules" for d in global_data):
            global_data.append({"type": "m.push_rules", "content": {"global": await self._push.ruleset(user_id)}})
        return {
            "end": now.encode(),
            "rooms": rooms,
            "presence": await self._presence.for_sync(user_id, 0, now.presence),
            "account_data": global_data,
        }

    async def room_initial_sync(self, requester: Requester, room_id: str, *, limit: int | None) -> dict[str, Any]:
        """``GET /rooms/{roomId}/initialSync``: a room's state and latest messages, for its
        members and, when it is ``world_readable``, for anyone peeking (else ``403``)."""
        if not is_valid_room_id(room_id):
            raise MatrixError("M_INVALID_PARAM", "Invalid room ID")
        access = await self._timeline.access(requester.user_id, room_id)
        info: dict[str, Any] = {"room_id": room_id}
        if access.membership is not None:
            info["membership"] = access.membership
        info |= await self._room_info(requester, room_id, limit, self._notifier.position(EVENTS_STREAM))
        data = await self._account_data.changed_since(requester.user_id, 0)
        info["account_data"] = [{"type": t, "content": c} for r, t, c in data if r == room_id]
        return info

    async def _room_info(self, requester: Requester, room_id: str, limit: int | None, now: int) -> dict[str, Any]:
        """A room's ``messages`` (the latest, up to the user's leave), ``state`` and ``visibility``."""
        access = await self._timeline.access(requester.user_id, room_id)
        # The end of a room the user is in is now, as a token /events streams on from.
        newest = position_token(access.until) if access.until is not None else self._sync.current_token().advance(
            events=now
        ).encode()
        count = DEFAULT_MESSAGES if limit is None else max(0, min(limit, MAX_MESSAGES))
        page = await self._timeline.messages(
            requester, room_id, from_token=newest, to_token=None, direction="b", limit=count, event_filter=_NO_FILTER,
        )
        messages: dict[str, Any] = {"chunk": list(reversed(page["chunk"])), "end": page["start"]}
        if "end" in page:
            messages["start"] = page["end"]
        room = await self._rooms.get_room(room_id)
        return {
            "messages": messages,
            "state": await self._timeline.state_events(requester, room_id),
            "visibility": "public" if room is not None and room.is_public else "private",
        }

