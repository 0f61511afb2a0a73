"""One room of a ``/sync`` response: its timeline window, its state section and,
with lazy-loading, the membership events its client still needs (spec:
"Syncing", "Filtering", "Lazy-loading room members").

Design note: the timeline filter is applied before the limit (see
:mod:`homeserver.services.rooms.scan`). The state section is the change from
what the client knew at ``since`` to the state at the start of the timeline;
when the window left events out (a filter, history visibility), the state they
set is added as it stands at the end of the window, since the client would
otherwise never hear of it. With lazy-loading, membership events are limited
to the timeline's senders, the summary's heroes and (when the room is new to
the client) the user, less those this device was already sent (recorded per
device in :class:`~storage.lazy_members.LazyMemberStore`, at the position of
the response that carried them); membership changes in a gap are always sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from homeserver.services.auth import Requester
from homeserver.services.filters import EventFilter, Filter
from homeserver.services.push import PushService
from homeserver.services.rooms.scan import scan_timeline
from homeserver.services.rooms.serializer import EventSerializer
from homeserver.services.rooms.timeline import MIN_STREAM, TimelineService, position_token
from storage.events import EventStore, StoredEvent
from storage.lazy_members import LazyMemberStore
from storage.rooms import RoomStore
from storage.state import StateStore

DEFAULT_TIMELINE_LIMIT = 10
#: Most timeline events of one room in one response.
MAX_TIMELINE_LIMIT = 1000

StateMap = Mapping[tuple[str, str], str]


@dataclass(frozen=True)
class Seen:
    """What one sync reads once and every room reuses."""

    memberships: Mapping[str, tuple[str, str, int]]
    ignored: set[str]


@dataclass(frozen=True)
class RoomQuery:
    """What one sync asks of every room."""

    filter: Filter
    use_state_after: bool
    seen: Seen


@dataclass(frozen=True)
class Window:
    """A room's timeline in a sync response."""

    events: list[StoredEvent]
    limited: bool
    #: The position just before the window (its ``prev_batch``).
    start: int
    #: Whether every event of the range is in ``events`` (nothing filtered or hidden).
    complete: bool
    #: The timeline event right before the window, when the scan read it.
    before: StoredEvent | None = None


@dataclass
class RoomResult:
    body: dict[str, Any]
    #: Membership events sent to a lazy-loading client: member -> event ID.
    members_sent: dict[str, str] = field(default_factory=dict)


class RoomSync:
    def __init__(
        self,
        *,
        events: EventStore,
        state: StateStore,
        rooms: RoomStore,
        timeline: TimelineService,
        serializer: EventSerializer,
        push: PushService,
        lazy_members: LazyMemberStore,
    ) -> None:
        self._events = events
        self._state = state
        self._rooms = rooms
        self._timeline = timeline
        self._serializer = serializer
        self._push = push
        self._lazy_members = lazy_members

    async def joined(
        self,
        requester: Requester,
        room_id: str,
        since: int | None,
        now: int,
        query: RoomQuery,
        account_data: list[dict[str, Any]],
    ) -> RoomResult:
        """A joined room; ``since`` is ``None`` when the room is new to the client."""
        window = await self._window(requester, room_id, since, now, query)
        events = window.events
        body: dict[str, Any] = {
            "timeline": {
                # Bundled aggregations are only owed when the timeline has a gap.
                "events": await self._serialize(events, requester, query, bundle=since is None or window.limited),
                "limited": window.limited,
                "prev_batch": position_token(window.start),
            },
        }
        heroes: list[str] = []
        # The summary only changes with membership; clients keep the last one they saw.
        if since is None or window.limited or not window.complete or any(
            e.event.type == "m.room.member" for e in events
        ):
            joined, invited, heroes = await self._rooms.member_summary(room_id, requester.user_id)
            body["summary"] = {"m.heroes": heroes, "m.joined_member_count": joined, "m.invited_member_count": invited}
        state, members_sent = await self._state_section(
            requester, room_id, since, now, window, query, heroes, state_after=query.use_state_after
        )
        body["state_after" if query.use_state_after else "state"] = {"events": state}
        body["account_data"] = {"events": account_data}
        body.update(
            await self._push.unread(
                requester.user_id, room_id, query.filter.room.timeline.unread_thread_notifications, now
            )
        )
        return RoomResult(body, members_sent)

    async def left(
        self,
        requester: Requester,
        room_id: str,
        leave_event_id: str,
        since: int | None,
        left_at: int,
        query: RoomQuery,
        account_data: list[dict[str, Any]],
    ) -> RoomResult:
        """A room the user left (or was banned from), up to their leave."""
        room = await self._rooms.get_room(room_id)
        if room is not None and (
            room.current_state_group is None or await self._rooms.last_join_span(room_id, requester.user_id) is None
        ):
            # A room this server is not in, or one the user never joined (a rejected
            # invite, a retracted knock): all they may see of it is their own leave.
            leave = await self._events.get_event(leave_event_id)
            return RoomResult({
                "timeline": {
                    "events": await self._serialize([leave] if leave else [], requester, query),
                    "limited": False,
                    "prev_batch": position_token(left_at),
                },
                "state": {"events": []},
                "account_data": {"events": account_data},
            })
        window = await self._window(requester, room_id, since, left_at, query)
        state, members_sent = await self._state_section(
            requester, room_id, since, left_at, window, query, [], state_after=False
        )
        return RoomResult({
            "timeline": {
                "events": await self._serialize(window.events, requester, query),
                "limited": window.limited,
                "prev_batch": position_token(window.start),
            },
            "state": {"events": state},
            "account_data": {"events": account_data},
        }, members_sent)

    # -- timeline ------------------------------------------------------------------------

    async def _window(
        self, requester: Requester, room_id: str, since: int | None, up_to: int, query: RoomQuery
    ) -> Window:
        """The newest events after ``since`` that pass the timeline filter and that the
        user may see, at most the filter's ``limit``."""
        timeline_filter = query.filter.room.timeline
        limit = timeline_filter.limit if timeline_filter.limit is not None else DEFAULT_TIMELINE_LIMIT
        limit = min(limit, MAX_TIMELINE_LIMIT)
        seen = query.seen

        async def visible(items: Sequence[StoredEvent]) -> list[StoredEvent]:
            return await self._timeline.filter_visible(
                requester.user_id, items, memberships=seen.memberships, ignored=seen.ignored
            )

        scan = await scan_timeline(
            self._events, room_id, after=since if since is not None else MIN_STREAM, up_to=up_to,
            newest_first=True, count=limit + 1, event_filter=timeline_filter, visible=visible,
        )
        limited = scan.next_position is not None
        events = list(reversed(scan.events[:limit]))
        start = events[0].stream_ordering - 1 if events else up_to
        complete = not limited and not scan.dropped and timeline_filter.selection() is None
        # Unfiltered and nothing hidden: the extra event read is the one right before the window.
        before = scan.events[limit] if len(scan.events) > limit and not scan.dropped and (
            timeline_filter.selection() is None
        ) else None
        return Window(events, limited, start, complete, before)

    # -- state ---------------------------------------------------------------------------

    async def _state_section(
        self,
        requester: Requester,
        room_id: str,
        since: int | None,
        up_to: int,
        window: Window,
        query: RoomQuery,
        heroes: Sequence[str],
        *,
        state_after: bool,
    ) -> tuple[list[dict[str, Any]], dict[str, str]]:
        """The ``state`` (or ``state_after``) events of a room, and the membership
        events among them and the timeline that a lazy-loading client now has."""
        state_filter = query.filter.room.state
        lazy = state_filter.lazy_load_members
        events = window.events
        timeline_ids = {e.event_id for e in events}
        include: dict[tuple[str, str], str] = {}
        if state_after:
            # Clients take their state from this list alone, timeline events included.
            source = await self._timeline.state_at_position(room_id, up_to)
            include = _delta(await self._state_at(room_id, since), source)
            timeline_ids = set()
        elif since is None or window.limited or not window.complete:
            known = await self._state_at(room_id, since)
            source = await self._state_before(room_id, window, up_to)
            include = _delta(known, source)
            if not window.complete:
                include.update(await self._unseen_state(room_id, up_to, window, known, include, source))
            include = {k: v for k, v in include.items() if v not in timeline_ids}
        else:
            # Every event since the token is in the timeline: the state has nothing to add.
            source = await self._state_before(room_id, window, up_to) if lazy and events else {}
        if lazy:
            include = await self._lazy_members_of(
                requester, room_id, since, include, source, events, heroes, timeline_ids,
                redundant=state_filter.include_redundant_members,
            )
        items = await self._state_events(include, state_filter)
        members_sent: dict[str, str] = {}
        if lazy:
            for item in [*items, *events]:
                if item.event.type == "m.room.member" and item.event.state_key is not None:
                    members_sent[item.event.state_key] = item.event_id
        return await self._serialize(items, requester, query), members_sent

    async def _state_at(self, room_id: str, since: int | None) -> StateMap:
        """The state the client knew: at ``since``, or none for a room new to it."""
        return await self._timeline.state_at_position(room_id, since) if since is not None else {}

    async def _unseen_state(
        self, room_id: str, up_to: int, window: Window, known: StateMap, include: StateMap, start: StateMap
    ) -> dict[tuple[str, str], str]:
        """State set inside the window by events the timeline leaves out, as it stands
        at the end of the window (keys the timeline itself sets are left to it)."""
        end = await self._timeline.state_at_position(room_id, up_to) if window.events else start
        set_by_timeline = {e.event.state_tuple() for e in window.events if e.event.is_state}
        return {
            key: event_id for key, event_id in end.items()
            if key not in set_by_timeline and include.get(key, known.get(key)) != event_id
        }

    async def _lazy_members_of(
        self,
        requester: Requester,
        room_id: str,
        since: int | None,
        include: dict[tuple[str, str], str],
        source: StateMap,
        timeline: Sequence[StoredEvent],
        heroes: Sequence[str],
        timeline_ids: set[str],
        *,
        redundant: bool,
    ) -> dict[tuple[str, str], str]:
        """``include`` with only the membership events a lazy-loading client needs."""
        others = {k: v for k, v in include.items() if k[0] != "m.room.member"}
        # Membership changes in a gap are sent whoever they concern (spec: /sync).
        changed = {k: v for k, v in include.items() if k[0] == "m.room.member"} if since is not None else {}
        wanted = {e.event.sender for e in timeline} | set(heroes)
        if since is None:
            wanted.add(requester.user_id)  # the room is new to the client: the user's own membership
        needed: dict[tuple[str, str], str] = {}
        for user_id in wanted:
            key = ("m.room.member", user_id)
            # What the state section already says of them (it may correct ``source``), else ``source``.
            event_id = include.get(key) or source.get(key)
            if event_id is not None and event_id not in timeline_ids:
                needed[key] = event_id
        if since is not None and not redundant and needed:
            known = await self._lazy_members.known(
                requester.user_id, requester.device_id, room_id, sorted(k[1] for k in needed), since
            )
            needed = {k: v for k, v in needed.items() if known.get(k[1]) != v}
        return others | changed | needed

    async def _state_before(self, room_id: str, window: Window, up_to: int) -> StateMap:
        """The state just before a timeline window: after the event that precedes its
        first event; or, when that event is the first this server has (the room's
        creation, or the join to a room of another server), the state after it without
        its own change. An empty window starts (and ends) at ``up_to``."""
        if not window.events:
            return await self._timeline.state_at_position(room_id, up_to)
        first = window.events[0]
        previous = [window.before] if window.before is not None else await self._events.room_events_between(
            room_id, after=MIN_STREAM, up_to=first.stream_ordering - 1, limit=1
        )
        anchor = previous[0] if previous else first
        groups = await self._state.get_event_state_groups([anchor.event_id])
        if anchor.event_id not in groups:
            return await self._timeline.state_at_position(room_id, window.start)
        state = await self._state.get_state(groups[anchor.event_id])
        if previous or not first.event.is_state or state.get(first.event.state_tuple()) != first.event_id:
            return state
        state = dict(state)
        if first.replaces_state:
            state[first.event.state_tuple()] = first.replaces_state
        else:
            del state[first.event.state_tuple()]
        return state

    async def _state_events(
        self, include: Mapping[tuple[str, str], str], state_filter: EventFilter
    ) -> list[StoredEvent]:
        keys = [k for k in include if state_filter.matches(k[0])]
        stored = await self._events.get_events(include[k] for k in keys)
        items = [stored[include[k]] for k in keys if include[k] in stored]
        return [i for i in items if state_filter.matches(i.event.type, i.event.sender)]

    async def _serialize(
        self, items: Sequence[StoredEvent], requester: Requester, query: RoomQuery, *, bundle: bool = True
    ) -> list[dict[str, Any]]:
        return await self._serializer.serialize(
            items, requester, include_room_id=False, bundle=bundle,
            federation_format=query.filter.event_format == "federation",
        )


def _delta(before: StateMap, after: StateMap) -> dict[tuple[str, str], str]:
    """Entries of ``after`` that are new or different compared with ``before``."""
    return {k: v for k, v in after.items() if before.get(k) != v}
