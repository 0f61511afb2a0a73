"""Reading rooms: events, state, members, history (``/messages``) and context,
always through the history-visibility rules (spec: "Getting events for a room",
"History visibility")."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from homeserver.errors import MatrixError
from homeserver.parsing import parse_token
from homeserver.services.auth import Requester
from homeserver.services.filters import EventFilter
from homeserver.services.rooms.scan import scan_timeline
from homeserver.services.rooms.serializer import EventSerializer
from homeserver.services.rooms.visibility import EventVisibility
from homeserver.services.sync_token import SyncToken
from storage.events import EventStore, StoredEvent
from storage.rooms import RoomStore
from storage.state import StateStore

MIN_STREAM = -(2**62)
MAX_STREAM = 2**62
MAX_LIMIT = 1000


def parse_position(token: str) -> int:
    """A pagination position: ``t<stream>`` from /messages, or a sync token."""
    if token.startswith("s"):
        return SyncToken.decode(token).events
    return parse_token(token, "t", "pagination token")


def position_token(position: int) -> str:
    return f"t{position}"


@dataclass(frozen=True)
class RoomAccess:
    """What a user may read in a room: up to ``until`` (their leave) or everything."""

    membership: str | None
    until: int | None


class TimelineService:
    def __init__(
        self,
        *,
        events: EventStore,
        state: StateStore,
        rooms: RoomStore,
        visibility: EventVisibility,
        serializer: EventSerializer,
        backfill: Callable[[str, int], Awaitable[int]] | None = None,
    ) -> None:
        self._backfill = backfill
        self._events = events
        self._state = state
        self._rooms = rooms
        self._visibility = visibility
        self._serializer = serializer

    # -- access ----------------------------------------------------------------------

    async def access(self, user_id: str, room_id: str) -> RoomAccess:
        """The user's access to a room (spec: "History visibility": "a user needs to
        join a room to view events in that room"): a joined member reads everything;
        anyone reads a ``world_readable`` room; a former member reads up to the end of
        their last stay (their leave or ban, or the invite or knock that followed it)
        unless they forgot the room. Everyone else, invitees and knockers included
        (they have the stripped state of ``/sync``), gets ``M_FORBIDDEN``."""
        room = await self._rooms.get_room(room_id)
        if room is None:
            raise MatrixError("M_FORBIDDEN", "You are not allowed to read this room")
        memberships = await self._rooms.current_memberships_of_user(user_id)
        membership = memberships[room_id][0] if room_id in memberships else None
        if membership == "join":
            return RoomAccess(membership, None)
        if await self._current_visibility(room_id) == "world_readable":
            return RoomAccess(membership, None)
        if membership is not None and room_id not in await self._rooms.forgotten_rooms(user_id):
            span = await self._rooms.last_join_span(room_id, user_id)
            if span is not None and span[1] is not None:
                return RoomAccess(membership, span[1])
        raise MatrixError("M_FORBIDDEN", "You are not allowed to read this room")

    async def ignored_users(self, user_id: str) -> set[str]:
        return await self._visibility.ignored_users(user_id)

    async def filter_visible(
        self,
        user_id: str,
        items: Sequence[StoredEvent],
        *,
        memberships: Mapping[str, tuple[str, str, int]] | None = None,
        ignored: set[str] | None = None,
        drop_erased: bool = False,
    ) -> list[StoredEvent]:
        """The events the user may see (see :meth:`EventVisibility.filter_visible`)."""
        return await self._visibility.filter_visible(
            user_id, items, memberships=memberships, ignored=ignored, drop_erased=drop_erased
        )

    # -- single events and state ----------------------------------------------------------

    async def readable_event(self, user_id: str, room_id: str, event_id: str) -> StoredEvent:
        """An event of the room the user may read; ``404 M_NOT_FOUND`` whether it does not
        exist or the user may not see it (spec: ``GET /rooms/{roomId}/event/{eventId}``)."""
        item = await self._events.get_event(event_id)
        if item is None or item.event.room_id != room_id or item.outlier or item.rejected or item.soft_failed:
            raise MatrixError("M_NOT_FOUND", "Event not found")  # soft-failed events are never shown
        try:
            await self.access(user_id, room_id)
        except MatrixError:
            raise MatrixError("M_NOT_FOUND", "Event not found") from None
        visible = await self.filter_visible(user_id, [item])  # an erased sender's event comes back redacted
        if not visible:
            raise MatrixError("M_NOT_FOUND", "Event not found")
        return visible[0]

    async def get_event(self, requester: Requester, room_id: str, event_id: str) -> dict[str, Any]:
        item = await self.readable_event(requester.user_id, room_id, event_id)
        return (await self._serializer.serialize([item], requester))[0]

    async def state_map(self, requester: Requester, room_id: str) -> Mapping[tuple[str, str], str]:
        """The state the user may see: current, or as it was when they left."""
        access = await self.access(requester.user_id, room_id)
        room = await self._rooms.get_room(room_id)
        assert room is not None
        if access.until is None:
            assert room.current_state_group is not None
            return await self._state.get_state(room.current_state_group)
        return await self.state_at_position(room_id, access.until)

    async def state_at_position(self, room_id: str, position: int) -> Mapping[tuple[str, str], str]:
        """The room state after the last event at or before stream ``position``."""
        last = await self._events.room_events_between(
            room_id, after=MIN_STREAM, up_to=position, limit=1, include_outliers=False
        )
        if not last:
            return {}
        groups = await self._state.get_event_state_groups([last[0].event_id])
        group = groups.get(last[0].event_id)
        return await self._state.get_state(group) if group is not None else {}

    async def state_events(self, requester: Requester, room_id: str) -> list[dict[str, Any]]:
        state = await self.state_map(requester, room_id)
        stored = await self._events.get_events(state.values())
        return await self._serializer.serialize([stored[e] for e in state.values() if e in stored], requester)

    async def state_event(self, requester: Requester, room_id: str, event_type: str, state_key: str) -> StoredEvent:
        state = await self.state_map(requester, room_id)
        event_id = state.get((event_type, state_key))
        item = await self._events.get_event(event_id) if event_id else None
        if item is None:
            raise MatrixError("M_NOT_FOUND", "No such state event")
        return item

    async def serialize(self, requester: Requester, items: Sequence[StoredEvent]) -> list[dict[str, Any]]:
        return await self._serializer.serialize(items, requester)

    # -- members ----------------------------------------------------------------------------

    async def members(
        self,
        requester: Requester,
        room_id: str,
        *,
        at: str | None = None,
        membership: str | None = None,
        not_membership: str | None = None,
    ) -> list[dict[str, Any]]:
        access = await self.access(requester.user_id, room_id)
        if at is not None:
            position = parse_position(at)
            if access.until is not None:
                position = min(position, access.until)
            state = await self.state_at_position(room_id, position)
        else:
            state = await self.state_map(requester, room_id)
        member_ids = [eid for (t, _), eid in state.items() if t == "m.room.member"]
        stored = await self._events.get_events(member_ids)
        chosen = [
            stored[eid] for eid in member_ids
            if eid in stored
            and (membership is None or stored[eid].event.membership == membership)
            and (not_membership is None or stored[eid].event.membership != not_membership)
        ]
        return await self._serializer.serialize(chosen, requester)

    async def joined_members(self, requester: Requester, room_id: str) -> dict[str, dict[str, Any]]:
        if await self._rooms.membership(room_id, requester.user_id) != "join":
            raise MatrixError("M_FORBIDDEN", "You are not joined to this room")
        room = await self._rooms.get_room(room_id)
        assert room is not None and room.current_state_group is not None
        state = await self._state.get_state(room.current_state_group)
        member_ids = [eid for (t, _), eid in state.items() if t == "m.room.member"]
        stored = await self._events.get_events(member_ids)
        joined: dict[str, dict[str, Any]] = {}
        for eid in member_ids:
            event = stored[eid].event if eid in stored else None
            if event is not None and event.membership == "join" and event.state_key is not None:
                joined[event.state_key] = {
                    "display_name": event.content.get("displayname"),
                    "avatar_url": event.content.get("avatar_url"),
                }
        return joined

    # -- history --------------------------------------------------------------------------------

    async def messages(
        self,
        requester: Requester,
        room_id: str,
        *,
        from_token: str | None,
        to_token: str | None,
        direction: str,
        limit: int,
        event_filter: EventFilter,
    ) -> dict[str, Any]:
        """``GET /messages``: a page of visible events in either direction."""
        if direction not in ("b", "f"):
            raise MatrixError("M_INVALID_PARAM", "dir must be 'b' or 'f'")
        limit = max(0, min(limit, MAX_LIMIT))
        access = await self.access(requester.user_id, room_id)
        ceiling = access.until if access.until is not None else MAX_STREAM
        backwards = direction == "b"
        if from_token is not None:
            start = parse_position(from_token)
        else:
            start = ceiling if backwards else MIN_STREAM
        bound = parse_position(to_token) if to_token is not None else (MIN_STREAM if backwards else ceiling)
        chunk, next_position = await self._page(
            requester, room_id, start, bound, ceiling, limit, backwards, event_filter
        )
        body: dict[str, Any] = {
            "chunk": await self._serializer.serialize(chunk, requester),
            "start": from_token or position_token(start),
        }
        if next_position is not None:
            body["end"] = position_token(next_position)
        if event_filter.lazy_load_members and chunk:
            body["state"] = await self._lazy_members(requester, room_id, chunk)
        return body

    async def _page(
        self,
        requester: Requester,
        room_id: str,
        start: int,
        bound: int,
        ceiling: int,
        limit: int,
        backwards: bool,
        event_filter: EventFilter,
    ) -> tuple[list[StoredEvent], int | None]:
        chunk: list[StoredEvent] = []
        cursor = start

        async def visible(items: Sequence[StoredEvent]) -> list[StoredEvent]:
            return await self.filter_visible(requester.user_id, items)

        while len(chunk) < limit:
            if backwards:
                after, up_to = max(bound, MIN_STREAM), min(cursor, ceiling)
            else:
                after, up_to = cursor, min(bound, ceiling)
            scan = await scan_timeline(
                self._events, room_id, after=after, up_to=up_to, newest_first=backwards,
                count=limit - len(chunk), event_filter=event_filter, visible=visible,
            )
            chunk.extend(scan.events)
            cursor = scan.reached
            if scan.next_position is None:
                # The start of what this server has: older history may be on other servers.
                if backwards and self._backfill is not None and await self._backfill(room_id, limit):
                    continue
                return chunk, None
            if len(chunk) < limit:
                break  # the scan read its fill of events: answer with what it found
        return chunk, cursor

    async def _lazy_members(
        self, requester: Requester, room_id: str, chunk: Sequence[StoredEvent]
    ) -> list[dict[str, Any]]:
        senders = {item.event.sender for item in chunk}
        state = await self.state_map(requester, room_id)
        ids = [state[("m.room.member", s)] for s in senders if ("m.room.member", s) in state]
        stored = await self._events.get_events(ids)
        return await self._serializer.serialize([stored[i] for i in ids if i in stored], requester)

    async def context(
        self, requester: Requester, room_id: str, event_id: str, limit: int, event_filter: EventFilter
    ) -> dict[str, Any]:
        """``GET /context/{eventId}``: the event with events before and after it."""
        target = await self._events.get_event(event_id)
        if target is None or target.event.room_id != room_id:
            raise MatrixError("M_NOT_FOUND", "Event not found")
        access = await self.access(requester.user_id, room_id)
        shown = await self.filter_visible(requester.user_id, [target])
        if not shown:
            raise MatrixError("M_NOT_FOUND", "Event not found")
        limit = max(0, min(limit, MAX_LIMIT))
        ceiling = access.until if access.until is not None else MAX_STREAM
        before, _ = await self._page(
            requester, room_id, target.stream_ordering - 1, MIN_STREAM, ceiling, limit // 2, True, event_filter
        )
        after, _ = await self._page(
            requester, room_id, target.stream_ordering, MAX_STREAM, ceiling, limit - limit // 2, False, event_filter
        )
        last = after[-1] if after else target
        groups = await self._state.get_event_state_groups([last.event_id])
        state_ids = await self._state.get_state(groups[last.event_id]) if last.event_id in groups else {}
        state_events = await self._events.get_events(state_ids.values())
        state = [state_events[e] for e in state_ids.values() if e in state_events]
        if event_filter.lazy_load_members:
            senders = {e.event.sender for e in [*before, target, *after]}
            state = [s for s in state if s.event.type != "m.room.member" or s.event.state_key in senders]
        first_position = before[-1].stream_ordering - 1 if before else target.stream_ordering - 1
        return {
            "event": (await self._serializer.serialize(shown, requester))[0],
            "events_before": await self._serializer.serialize(before, requester),
            "events_after": await self._serializer.serialize(after, requester),
            "state": await self._serializer.serialize(state, requester),
            "start": position_token(first_position),
            "end": position_token(last.stream_ordering),
        }

    async def _current_visibility(self, room_id: str) -> str | None:
        event_id = await self._state.get_current_state_event_id(room_id, "m.room.history_visibility", "")
        item = await self._events.get_event(event_id) if event_id else None
        return item.event.content.get("history_visibility") if item else None


async def event_at_timestamp(
    timeline: "TimelineService", events: EventStore, requester: Requester, room_id: str, ts: int, direction: str
) -> dict[str, Any]:
    """``GET /timestamp_to_event``: the visible event closest to ``ts`` in a direction."""
    if direction not in ("f", "b"):
        raise MatrixError("M_INVALID_PARAM", "dir must be 'f' or 'b'")
    await timeline.access(requester.user_id, room_id)
    found = await events.closest_by_timestamp(room_id, ts, direction == "f")
    if found is None or not await timeline.filter_visible(requester.user_id, [found]):
        raise MatrixError("M_NOT_FOUND", "No event found in that direction")
    return {"event_id": found.event_id, "origin_server_ts": found.event.origin_server_ts}
