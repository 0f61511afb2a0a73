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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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
from homeserver.services.rooms.timeline import MIN_STREAM, TimelineService, position_token
from homeserver.services.sync.stripped import stripped_state
from homeserver.services.sync_token import SyncToken
from homeserver.services.typing import TYPING_STREAM, TypingService
from storage.account_data import ACCOUNT_DATA_STREAM, AccountDataStore
from storage.device_lists import DEVICE_LISTS_STREAM
from storage.events import EVENTS_STREAM, EventStore, StoredEvent
from storage.receipts import PRESENCE_STREAM, RECEIPTS_STREAM
from storage.rooms import RoomStore
from storage.state import StateStore
from storage.to_device import TO_DEVICE_STREAM

DEFAULT_TIMELINE_LIMIT = 10
#: Rooms of one sync computed at the same time.
ROOM_CONCURRENCY = 8
MAX_TIMEOUT_MS = 5 * 60 * 1000

StateMap = Mapping[tuple[str, str], str]


@dataclass(frozen=True)
class _Seen:
    """What one sync reads once and every room reuses."""

    memberships: Mapping[str, tuple[str, str, int]]
    ignored: set[str]


@dataclass(frozen=True)
class _Window:
    """A room's timeline in a sync response."""

    events: list[StoredEvent]
    limited: bool
    #: The position just before the window (its ``prev_batch``).
    start: int
    #: The event right before the window, when the window did not reach back to the start.
    before: StoredEvent | None
    #: The window's first event (before filtering), when it has one.
    first: StoredEvent | None = None


@dataclass(frozen=True)
class SyncRequest:
    since: SyncToken | None
    timeout_ms: int
    filter: Filter
    full_state: bool = False
    use_state_after: bool = False
    set_presence: str = "online"


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
    ) -> None:
        self._events = events
        self._state = state
        self._rooms = rooms
        self._account_data = account_data
        self._timeline = timeline
        self._serializer = serializer
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
                body, has_news = await self._compute(requester, request)
                if has_news or since is None or request.full_state or timeout == 0:
                    return body
            await wait_for(woken, timeout)
        body, _ = await self._compute(requester, request)
        return body

    async def _compute(self, requester: Requester, request: SyncRequest) -> tuple[dict[str, Any], bool]:
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
        room_data = _room_account_data(changed_data)
        joined_ids = [r for r, (m, _, _) in memberships.items() if m == "join"]
        ephemeral = await self._ephemeral(user_id, joined_ids, since, now)
        leaving = [r for r, (m, _, _) in memberships.items() if m in ("leave", "ban")]
        forgotten = await self._rooms.forgotten_rooms(user_id) if leaving else set()
        ignored = await self._timeline.ignored_users(user_id)
        seen = _Seen(memberships, ignored)
        joined_work: dict[str, Any] = {}
        invite: dict[str, Any] = {}
        leave: dict[str, Any] = {}
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
                joined_work[room_id] = self._joined_room(
                    requester, room_id, None if fresh else since_events, now.events, request,
                    room_data.get(room_id, []), seen,
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
                    leave[room_id] = await self._left_room(
                        requester, room_id, event_id, since_events, stream, request, room_data.get(room_id, []), seen
                    )

        # Rooms are independent: their reads overlap instead of queueing one after another.
        join = dict(zip(joined_work, await _gather_limited(list(joined_work.values()), ROOM_CONCURRENCY)))
        for room_id, room in join.items():
            room["ephemeral"] = {
                "events": [e for e in ephemeral.get(room_id, []) if room_filter.ephemeral.matches(e["type"])]
            }
        global_data = _global_account_data(changed_data, request.filter.account_data)
        if since is None and not any(d["type"] == "m.push_rules" for d in global_data):
            # Push rules nobody has changed yet still belong in a first sync.
            global_data.append({"type": "m.push_rules", "content": {"global": await self._push.ruleset(user_id)}})
        presence_moved = since is None or since.presence < now.presence
        presence = [
            p for p in await self._presence.for_sync(user_id, since.presence if since else 0, now.presence)
            if request.filter.presence.matches(p["type"], p["sender"])
        ] if presence_moved else []
        to_device, to_device_reached, keys = await self._to_device.for_sync(
            user_id, requester.device_id, since.to_device if since else 0, now.to_device
        )
        device_lists = await self._device_lists.delta(
            user_id, since, now, joined_rooms=joined_ids, own_changes=membership_changes.values()
        ) if since is not None else None
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
        return body, has_news

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

    async def _joined_room(
        self,
        requester: Requester,
        room_id: str,
        since: int | None,
        now: int,
        request: SyncRequest,
        account_data: list[dict[str, Any]],
        seen: _Seen,
    ) -> dict[str, Any]:
        timeline_filter = request.filter.room.timeline
        limit = timeline_filter.limit if timeline_filter.limit is not None else DEFAULT_TIMELINE_LIMIT
        window = await self._timeline_events(requester, room_id, since, now, limit, timeline_filter, seen)
        events, limited, start = window.events, window.limited, window.start
        body: dict[str, Any] = {
            "timeline": {
                # Bundled aggregations are only owed when the timeline has a gap.
                "events": await self._serializer.serialize(
                    events, requester, include_room_id=False, bundle=since is None or limited
                ),
                "limited": limited,
                "prev_batch": position_token(start),
            },
        }
        state_key = "state_after" if request.use_state_after else "state"
        include: dict[tuple[str, str], str] = {}
        if request.use_state_after or since is None or limited:
            before = await self._timeline.state_at_position(room_id, since) if since is not None else {}
            if request.use_state_after:
                target = await self._timeline.state_at_position(room_id, now)
            else:
                target = await self._state_before(room_id, window)
            include = _delta(before, target)
            if not request.use_state_after:
                timeline_ids = {e.event_id for e in events}
                include = {k: v for k, v in include.items() if v not in timeline_ids}
        body[state_key] = {
            "events": await self._state_events(requester, include, events, request.filter.room.state)
        }
        body["account_data"] = {"events": account_data}
        # The summary only changes with membership; clients keep the last one they saw.
        if since is None or limited or any(e.event.type == "m.room.member" for e in events):
            joined, invited, heroes = await self._rooms.member_summary(room_id, requester.user_id)
            body["summary"] = {"m.heroes": heroes, "m.joined_member_count": joined, "m.invited_member_count": invited}
        body.update(
            await self._push.unread(
                requester.user_id, room_id, request.filter.room.timeline.unread_thread_notifications, now
            )
        )
        return body

    async def _state_before(self, room_id: str, window: _Window) -> Mapping[tuple[str, str], str]:
        """The state just before a timeline window: after the event that precedes it; or,
        when the window starts at the beginning of what this server has (the room's
        creation, or the join to a room of another server), the state after its first
        event without that event's own change."""
        if window.before is None:
            first = window.first
            if first is None:
                return {}
            groups = await self._state.get_event_state_groups([first.event_id])
            if first.event_id not in groups:
                return {}
            state = dict(await self._state.get_state(groups[first.event_id]))
            if first.event.is_state and state.get(first.event.state_tuple()) == first.event_id:
                if first.replaces_state:
                    state[first.event.state_tuple()] = first.replaces_state
                else:
                    del state[first.event.state_tuple()]
            return state
        groups = await self._state.get_event_state_groups([window.before.event_id])
        group = groups.get(window.before.event_id)
        if group is None:
            return await self._timeline.state_at_position(room_id, window.start)
        return await self._state.get_state(group)

    async def _left_room(
        self,
        requester: Requester,
        room_id: str,
        leave_event_id: str,
        since: int | None,
        left_at: int,
        request: SyncRequest,
        account_data: list[dict[str, Any]],
        seen: _Seen,
    ) -> dict[str, Any]:
        room = await self._rooms.get_room(room_id)
        if room is not None and (
            room.current_state_group is None or await self._rooms.last_join_span(room_id, requester.user_id) is None
        ):
            # A room this server is not in, or one the user never joined (a rejected
            # invite, a retracted knock): all they may see of it is their own leave.
            leave = await self._events.get_event(leave_event_id)
            return {
                "timeline": {
                    "events": await self._serializer.serialize([leave] if leave else [], requester, include_room_id=False),
                    "limited": False,
                    "prev_batch": position_token(left_at),
                },
                "state": {"events": []},
                "account_data": {"events": account_data},
            }
        timeline_filter = request.filter.room.timeline
        limit = timeline_filter.limit if timeline_filter.limit is not None else DEFAULT_TIMELINE_LIMIT
        window = await self._timeline_events(requester, room_id, since, left_at, limit, timeline_filter, seen)
        events, limited, start = window.events, window.limited, window.start
        state = await self._state_before(room_id, window)
        before = await self._timeline.state_at_position(room_id, since) if since is not None else {}
        include = _delta(before, state) if since is not None else dict(state)
        timeline_ids = {e.event_id for e in events}
        include = {k: v for k, v in include.items() if v not in timeline_ids}
        return {
            "timeline": {
                "events": await self._serializer.serialize(events, requester, include_room_id=False),
                "limited": limited,
                "prev_batch": position_token(start),
            },
            "state": {"events": await self._state_events(requester, include, events, request.filter.room.state)},
            "account_data": {"events": account_data},
        }

    async def _timeline_events(
        self,
        requester: Requester,
        room_id: str,
        since: int | None,
        up_to: int,
        limit: int,
        timeline_filter: EventFilter,
        seen: _Seen,
    ) -> _Window:
        batch = await self._events.room_events_between(
            room_id, after=since if since is not None else MIN_STREAM, up_to=up_to, limit=limit + 1, newest_first=True
        )
        limited = len(batch) > limit
        before = batch[limit] if limited else None
        window = list(reversed(batch[:limit]))
        start = window[0].stream_ordering - 1 if window else up_to
        wanted = [
            e for e in window
            if timeline_filter.matches(e.event.type, e.event.sender, room_id, dict(e.event.content))
        ]
        events = await self._timeline.filter_visible(
            requester.user_id, wanted, memberships=seen.memberships, ignored=seen.ignored
        )
        return _Window(events, limited, start, before, window[0] if window else None)

    async def _state_events(
        self,
        requester: Requester,
        include: Mapping[tuple[str, str], str],
        timeline: Sequence[StoredEvent],
        state_filter: EventFilter,
    ) -> list[dict[str, Any]]:
        keys = list(include)
        if state_filter.lazy_load_members:
            senders = {e.event.sender for e in timeline} | {requester.user_id}
            keys = [k for k in keys if k[0] != "m.room.member" or k[1] in senders]
        keys = [k for k in keys if state_filter.matches(k[0])]
        stored = await self._events.get_events(include[k] for k in keys)
        items = [stored[include[k]] for k in keys if include[k] in stored]
        items = [i for i in items if state_filter.matches(i.event.type, i.event.sender)]
        return await self._serializer.serialize(items, requester, include_room_id=False)

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


def _room_account_data(changed: list[tuple[str, str, dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    by_room: dict[str, list[dict[str, Any]]] = {}
    for room_id, data_type, content in changed:
        if room_id:
            by_room.setdefault(room_id, []).append({"type": data_type, "content": content})
    return by_room


def _global_account_data(changed: list[tuple[str, str, dict[str, Any]]], data_filter: EventFilter) -> list[dict[str, Any]]:
    events = [
        {"type": data_type, "content": content}
        for room_id, data_type, content in changed
        if not room_id and data_filter.matches(data_type)
    ]
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


def _delta(before: StateMap, after: StateMap) -> dict[tuple[str, str], str]:
    """Entries of ``after`` that are new or different compared with ``before``."""
    return {k: v for k, v in after.items() if before.get(k) != v}


def parse_since(raw: str | None) -> SyncToken | None:
    if raw is None:
        return None
    try:
        return SyncToken.decode(raw)
    except MatrixError:
        raise MatrixError("M_INVALID_PARAM", "Invalid since token") from None
