"""The sync algorithm (spec: Client-Server API, "Syncing").

Design note: a sync token is one position per stream (:class:`SyncToken`).
The response covers everything after ``since`` up to "now", where "now" is
read from the notifier, whose positions only advance after a commit, so every
change at or below it is already visible. An incremental sync with nothing to
say listens on the notifier *before* computing, then waits up to ``timeout``
and computes once more: a change that lands in between still wakes it. When
the notifier knows that nothing was announced for the user since the token,
the first computation is skipped (an idle long-poll reads nothing).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from homeserver.errors import MatrixError
from homeserver.services.auth import Requester
from homeserver.services.e2ee.device_lists import DeviceListService
from homeserver.services.e2ee.to_device import ToDeviceService
from homeserver.services.filters import EventFilter, Filter
from homeserver.services.notifier import Notifier, wait_for
from homeserver.services.presence import PresenceService
from homeserver.services.push import PushService
from homeserver.services.receipts import ReceiptService
from homeserver.services.rooms.serializer import EventSerializer
from homeserver.services.rooms.timeline import TimelineService
from homeserver.services.shared_rooms import sharing_changes
from homeserver.services.sync.room_sync import RoomQuery, RoomResult, RoomSync, Seen
from homeserver.services.sync.stripped import stripped_state
from homeserver.services.sync_token import SyncToken
from homeserver.services.typing import TYPING_STREAM, TypingService
from storage.account_data import ACCOUNT_DATA_STREAM, AccountDataStore
from storage.device_lists import DEVICE_LISTS_STREAM
from storage.events import EVENTS_STREAM, EventStore
from storage.lazy_members import LazyMemberStore
from storage.receipts import PRESENCE_STREAM, RECEIPTS_STREAM
from storage.rooms import RoomStore
from storage.state import StateStore
from storage.to_device import TO_DEVICE_STREAM

#: Rooms of one sync computed at the same time.
ROOM_CONCURRENCY = 8
MAX_TIMEOUT_MS = 5 * 60 * 1000


@dataclass(frozen=True)
class SyncRequest:
    since: SyncToken | None
    timeout_ms: int
    filter: Filter
    full_state: bool = False
    use_state_after: bool = False
    set_presence: str = "online"


@dataclass
class _Computed:
    body: dict[str, Any]
    has_news: bool
    #: The events position the response reaches.
    position: int
    #: Lazy-loading: rooms whose sent members are forgotten first (``None``: all of them),
    #: and the membership events this response sends, per room.
    forget_rooms: list[str] | None = None
    members_sent: dict[str, dict[str, str]] = field(default_factory=dict)


class SyncService:
    def __init__(
        self,
        *,
        events: EventStore,
        state: StateStore,
        rooms: RoomStore,
        account_data: AccountDataStore,
        timeline: TimelineService,
        serializer: EventSerializer,
        notifier: Notifier,
        typing: TypingService,
        receipts: ReceiptService,
        presence: PresenceService,
        push: PushService,
        to_device: ToDeviceService,
        device_lists: DeviceListService,
        lazy_members: LazyMemberStore,
    ) -> None:
        self._room_sync = RoomSync(
            events=events, state=state, rooms=rooms, timeline=timeline, serializer=serializer, push=push,
            lazy_members=lazy_members,
        )
        self._lazy_members = lazy_members
        self._events = events
        self._state = state
        self._rooms = rooms
        self._account_data = account_data
        self._timeline = timeline
        self._notifier = notifier
        self._typing = typing
        self._receipts = receipts
        self._presence = presence
        self._push = push
        self._to_device = to_device
        self._device_lists = device_lists

    def current_token(self) -> SyncToken:
        positions = {name: self._notifier.position(stream) for name, stream in _STREAMS.items()}
        return SyncToken(**(positions | {"typing": self._typing.position}))

    async def sync(self, requester: Requester, request: SyncRequest) -> dict[str, Any]:
        timeout = max(0, min(request.timeout_ms, MAX_TIMEOUT_MS)) / 1000
        if request.set_presence != "offline":
            await self._presence.on_activity(requester.user_id, request.set_presence)
        since = request.since
        with self._notifier.listen(requester.user_id) as woken:
            if since is None or request.full_state or timeout == 0 or not self._notifier.nothing_new_since(
                requester.user_id, _positions(since)
            ):
                computed = await self._compute(requester, request)
                if computed.has_news or since is None or request.full_state or timeout == 0:
                    return await self._answer(requester, request, computed)
            await wait_for(woken, timeout)
        return await self._answer(requester, request, await self._compute(requester, request))

    async def _answer(self, requester: Requester, request: SyncRequest, computed: _Computed) -> dict[str, Any]:
        """The response to send, once what it tells a lazy-loading device is recorded."""
        if request.filter.room.state.lazy_load_members:
            await self._lazy_members.save(
                requester.user_id, requester.device_id, forget_rooms=computed.forget_rooms,
                sent=computed.members_sent, position=computed.position,
            )
        return computed.body

    async def _compute(self, requester: Requester, request: SyncRequest) -> _Computed:
        now = self.current_token()
        since = request.since
        if since is not None and (
            since.events > now.events or since.account_data > now.account_data
            or since.receipts > now.receipts or since.presence > now.presence
            or since.to_device > now.to_device or since.device_lists > now.device_lists
        ):
            # A token from the future (e.g. another server's): answer as if it were now.
            since = now.advance(typing=since.typing)
        user_id = requester.user_id
        room_filter = request.filter.room
        memberships = await self._rooms.current_memberships_of_user(user_id)
        since_events = since.events if since is not None else None
        events_moved = since_events is None or since_events < now.events
        changed_rooms: set[str] = set()
        membership_changes: dict[str, Any] = {}
        if since_events is not None and events_moved:
            rooms = self._notifier.rooms_changed_since(memberships, since_events)
            changed_rooms = (
                rooms if rooms is not None
                else await self._events.rooms_with_events_between(since_events, now.events)
            )
            if self._notifier.membership_changed_since(user_id, since_events) is not False:
                membership_changes = {
                    c.room_id: c for c in await self._rooms.membership_changes_since(user_id, since_events, now.events)
                }
        account_data_moved = since is None or since.account_data < now.account_data
        changed_data = (
            await self._account_data.changed_since(user_id, since.account_data if since else 0)
            if account_data_moved else []
        )
        room_data = _room_account_data(changed_data, request.filter.room.account_data)
        joined_ids = [r for r, (m, _, _) in memberships.items() if m == "join"]
        ephemeral = await self._ephemeral(user_id, joined_ids, since, now)
        leaving = [r for r, (m, _, _) in memberships.items() if m in ("leave", "ban")]
        forgotten = await self._rooms.forgotten_rooms(user_id) if leaving else set()
        ignored = await self._timeline.ignored_users(user_id)
        query = RoomQuery(request.filter, request.use_state_after, Seen(memberships, ignored))
        fresh_rooms: list[str] = []
        joined_work: dict[str, Any] = {}
        invite: dict[str, Any] = {}
        left_rooms: dict[str, RoomResult] = {}
        knock: dict[str, Any] = {}
        for room_id, (membership, event_id, stream) in memberships.items():
            if not room_filter.includes_room(room_id):
                continue
            changed_membership = room_id in membership_changes
            if membership == "join":
                fresh = since_events is None or request.full_state or (
                    changed_membership and not await self._was_joined_at(user_id, room_id, since_events)
                )
                if not fresh and room_id not in changed_rooms and room_id not in room_data and room_id not in ephemeral:
                    continue
                if fresh:
                    fresh_rooms.append(room_id)
                joined_work[room_id] = self._room_sync.joined(
                    requester, room_id, None if fresh else since_events, now.events, query, room_data.get(room_id, []),
                )
            elif membership == "invite" and (since_events is None or changed_membership):
                invite_event = await self._events.get_event(event_id)
                if invite_event is not None and invite_event.event.sender in ignored:
                    continue  # invites from ignored users are not shown
                invite[room_id] = {"invite_state": {"events": await self._stripped(room_id, event_id, user_id)}}
            elif membership == "knock" and (since_events is None or changed_membership):
                knock[room_id] = {"knock_state": {"events": await self._stripped(room_id, event_id, user_id)}}
            elif membership in ("leave", "ban") and room_id not in forgotten:
                if (since_events is None and room_filter.include_leave) or changed_membership:
                    left_rooms[room_id] = await self._room_sync.left(
                        requester, room_id, event_id, since_events, stream, query, room_data.get(room_id, [])
                    )

        # Rooms are independent: their reads overlap instead of queueing one after another.
        joined_rooms: dict[str, RoomResult] = dict(
            zip(joined_work, await _gather_limited(list(joined_work.values()), ROOM_CONCURRENCY))
        )
        join = {room_id: result.body for room_id, result in joined_rooms.items()}
        leave = {room_id: result.body for room_id, result in left_rooms.items()}
        for room_id, room in join.items():
            room["ephemeral"] = {
                "events": [e for e in ephemeral.get(room_id, []) if room_filter.ephemeral.matches(e["type"])]
            }
        data_filter = request.filter.account_data
        global_data = [{"type": t, "content": c} for room_id, t, c in changed_data if not room_id]
        if since is None and data_filter.matches("m.push_rules") and not any(
            d["type"] == "m.push_rules" for d in global_data
        ):
            # Push rules nobody has changed yet still belong in a first sync.
            global_data.append({"type": "m.push_rules", "content": {"global": await self._push.ruleset(user_id)}})
        global_data = _filtered_account_data(global_data, data_filter)
        sharing = await sharing_changes(
            self._rooms, self._notifier, user_id, since.events, now.events,
            joined_rooms=joined_ids, own_changes=membership_changes.values(),
        ) if since is not None else None
        # Users who newly share a room with the user: their presence as it stands.
        newcomers = sorted(sharing.joined - {user_id}) if sharing is not None else []
        presence_moved = since is None or since.presence < now.presence or bool(newcomers)
        presence = [
            p for p in await self._presence.for_sync(
                user_id, since.presence if since else 0, now.presence, newcomers=newcomers
            )
            if request.filter.presence.matches(p["type"], p["sender"])
        ] if presence_moved else []
        to_device, to_device_reached, keys = await self._to_device.for_sync(
            user_id, requester.device_id, since.to_device if since else 0, now.to_device
        )
        device_lists = await self._device_lists.delta(user_id, since, now, sharing=sharing) if since is not None else None
        rooms: dict[str, Any] = {}
        for name, section in (("join", join), ("invite", invite), ("leave", leave), ("knock", knock)):
            if section:
                rooms[name] = section
        body: dict[str, Any] = {
            "next_batch": now.advance(to_device=to_device_reached).encode(),
            "device_one_time_keys_count": keys.one_time_key_counts,
            "device_unused_fallback_key_types": keys.unused_fallback_key_types,
        }
        if to_device:
            body["to_device"] = {"events": to_device}
        if device_lists is not None and (device_lists.changed or device_lists.left):
            body["device_lists"] = {"changed": device_lists.changed, "left": device_lists.left}
        if rooms:
            body["rooms"] = rooms
        if global_data:
            body["account_data"] = {"events": global_data}
        if presence:
            body["presence"] = {"events": presence}
        has_news = bool(rooms or global_data or presence or to_device or "device_lists" in body)
        sent = {
            room_id: result.members_sent
            for room_id, result in (joined_rooms | left_rooms).items() if result.members_sent
        }
        forget = None if since is None or request.full_state else fresh_rooms
        return _Computed(body, has_news, now.events, forget, sent)

    async def _ephemeral(
        self, user_id: str, room_ids: list[str], since: SyncToken | None, now: SyncToken
    ) -> dict[str, list[dict[str, Any]]]:
        """Typing and receipt events per joined room since the token."""
        result: dict[str, list[dict[str, Any]]] = {}
        for room_id, event in self._typing.changes(room_ids, since.typing if since else 0).items():
            result.setdefault(room_id, []).append(event)
        if since is not None and since.receipts >= now.receipts:
            return result
        receipts = await self._receipts.for_sync(user_id, room_ids, since.receipts if since else 0, now.receipts)
        for room_id, event in receipts.items():
            result.setdefault(room_id, []).append(event)
        return result

    async def _was_joined_at(self, user_id: str, room_id: str, position: int) -> bool:
        state = await self._timeline.state_at_position(room_id, position)
        member_id = state.get(("m.room.member", user_id))
        if member_id is None:
            return False
        member = await self._events.get_event(member_id)
        return member is not None and member.event.membership == "join"

    async def _stripped(self, room_id: str, membership_event_id: str, user_id: str) -> list[dict[str, Any]]:
        room = await self._rooms.get_room(room_id)
        if room is None or room.current_state_group is None:
            # A room this server is not in: the preview the inviting server sent, and the invite.
            invite = await self._events.get_event(membership_event_id)
            own = [{
                "type": invite.event.type, "state_key": invite.event.state_key, "sender": invite.event.sender,
                "content": dict(invite.event.content),
            }] if invite is not None else []
            return [*await self._rooms.invite_state(room_id, user_id), *own]
        state = await self._state.get_state(room.current_state_group)
        return await stripped_state(self._events, state, membership_event_id)



async def _gather_limited(coroutines: list[Any], limit: int) -> list[Any]:
    """Await coroutines with at most ``limit`` running at once, keeping their order."""
    semaphore = asyncio.Semaphore(limit)

    async def run(coroutine: Any) -> Any:
        async with semaphore:
            return await coroutine

    return await asyncio.gather(*(run(c) for c in coroutines))


def _room_account_data(
    changed: list[tuple[str, str, dict[str, Any]]], data_filter: EventFilter
) -> dict[str, list[dict[str, Any]]]:
    by_room: dict[str, list[dict[str, Any]]] = {}
    for room_id, data_type, content in changed:
        if room_id and data_filter.includes_room(room_id):
            by_room.setdefault(room_id, []).append({"type": data_type, "content": content})
    return {
        room_id: filtered for room_id, events in by_room.items()
        if (filtered := _filtered_account_data(events, data_filter))
    }


def _filtered_account_data(events: list[dict[str, Any]], data_filter: EventFilter) -> list[dict[str, Any]]:
    events = [e for e in events if data_filter.matches(e["type"])]
    return events[: data_filter.limit] if data_filter.limit is not None else events


#: The stream behind each position of a sync token.
_STREAMS = {
    "events": EVENTS_STREAM, "account_data": ACCOUNT_DATA_STREAM, "receipts": RECEIPTS_STREAM,
    "typing": TYPING_STREAM, "presence": PRESENCE_STREAM, "to_device": TO_DEVICE_STREAM,
    "device_lists": DEVICE_LISTS_STREAM,
}


def _positions(token: SyncToken) -> dict[str, int]:
    """A sync token as stream -> position."""
    return {stream: getattr(token, name) for name, stream in _STREAMS.items()}


def parse_since(raw: str | None) -> SyncToken | None:
    if raw is None:
        return None
    try:
        return SyncToken.decode(raw)
    except MatrixError:
        raise MatrixError("M_INVALID_PARAM", "Invalid since token") from None
