"""State resolution v1 (room version 1), v2 (room versions 2-11) and v2.1
(room version 12) (spec: room versions, "State resolution").

Design note: the caller fetches first. ``event_map`` must hold every event of
the state sets and every event in their auth chains; nothing here awaits or
reads storage. Work is linear in the auth graph: auth chains are walked with
explicit stacks (no recursion), and the auth chain of the unconflicted state is
computed once and used to stop every other walk early, which keeps resolution
of rooms with tens of thousands of members proportional to the size of the
conflict rather than the size of the room.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Collection, Iterable, Mapping, Sequence

from homeserver.core.auth_rules import AuthError, auth_types_for_event, check_auth_rules
from homeserver.core.events import Event
from homeserver.core.power_levels import user_power_level
from homeserver.core.room_versions import RoomVersion, StateResAlgorithm

StateKey = tuple[str, str]
StateMap = Mapping[StateKey, str]

CREATE = ("m.room.create", "")
POWER_LEVELS = ("m.room.power_levels", "")


class MissingEvent(KeyError):
    """The caller did not supply an event that resolution needs."""


def resolve_state(
    room_version: RoomVersion,
    state_sets: Sequence[StateMap],
    event_map: Mapping[str, Event],
    *,
    rejected: Collection[str] = (),
) -> dict[StateKey, str]:
    """Resolve several state maps (one per fork) into one.

    ``rejected`` names events that were rejected on their own auth chain; they
    are never used as auth events during the iterative auth checks.
    """
    if room_version.state_res is StateResAlgorithm.V1:
        return resolve_state_v1(room_version, state_sets, event_map)
    if not state_sets:
        return {}
    if len(state_sets) == 1:
        return dict(state_sets[0])
    unconflicted, conflicted = split_conflicts(state_sets)
    if not conflicted:
        return unconflicted

    conflicted_ids = {eid for ids in conflicted.values() for eid in ids}
    full_conflicted = conflicted_ids | auth_difference(state_sets, unconflicted, event_map)
    if room_version.state_res is StateResAlgorithm.V2_1:
        full_conflicted |= conflicted_subgraph(conflicted_ids, event_map)
    full_conflicted = {eid for eid in full_conflicted if eid in event_map}

    power_events = {eid for eid in full_conflicted if is_power_event(event_map[eid])}
    power_closure = set(power_events)
    for eid in power_events:
        power_closure.update(a for a in auth_chain([eid], event_map) if a in full_conflicted)
    ordered_power = reverse_topological_power_order(power_closure, event_map, room_version)

    initial = {} if room_version.state_res is StateResAlgorithm.V2_1 else dict(unconflicted)
    partial = iterative_auth_checks(room_version, initial, ordered_power, event_map, rejected)

    leftovers = [eid for eid in full_conflicted if eid not in power_closure]
    power_levels_id = partial.get(POWER_LEVELS)
    ordered_rest = mainline_order(leftovers, power_levels_id, event_map)
    resolved = iterative_auth_checks(room_version, partial, ordered_rest, event_map, rejected)

    resolved.update(unconflicted)
    return resolved


#: v1: the event types resolved first, in this order, by replaying their conflicting events.
_V1_AUTH_TYPES = ("m.room.power_levels", "m.room.join_rules", "m.room.member")


def resolve_state_v1(
    room_version: RoomVersion, state_sets: Sequence[StateMap], event_map: Mapping[str, Event]
) -> dict[StateKey, str]:
    """State resolution v1 (room version 1).

    The result starts as every entry that no two states disagree on. The
    conflicting power levels, join rules and members (in that order) are each
    replayed from the shallowest (ties: greatest SHA-1 of the ID first), every
    one after the first taken while the state so far allows it; any other
    conflict goes to the deepest event (ties: least SHA-1) the state so far
    allows, else the shallowest of them.
    """
    candidates: dict[StateKey, set[str]] = {}
    for state in state_sets:
        for key, eid in state.items():
            candidates.setdefault(key, set()).add(eid)
    resolved = {key: next(iter(ids)) for key, ids in candidates.items() if len(ids) == 1}
    conflicted = {key: ids for key, ids in candidates.items() if len(ids) > 1}

    def allowed(event: Event) -> bool:
        wanted = auth_types_for_event(room_version, event.type, event.sender, event.state_key, event.content)
        auth_state = {k: event_map[resolved[k]] for k in wanted | {CREATE} if k in resolved and resolved[k] in event_map}
        try:
            check_auth_rules(event, auth_state)
        except AuthError:
            return False
        return True

    def shallowest_first(ids: set[str]) -> list[Event]:
        return sorted((_event(e, event_map) for e in ids), key=lambda e: (e.depth, _sha1_descending(e.event_id)))

    for event_type in _V1_AUTH_TYPES:
        for key in sorted(k for k in conflicted if k[0] == event_type):
            first, *rest = shallowest_first(conflicted[key])
            resolved[key] = first.event_id
            for event in rest:
                if not allowed(event):
                    break
                resolved[key] = event.event_id
    for key in sorted(k for k in conflicted if k[0] not in _V1_AUTH_TYPES):
        deepest_first = list(reversed(shallowest_first(conflicted[key])))
        chosen = next((e for e in deepest_first if allowed(e)), deepest_first[-1])
        resolved[key] = chosen.event_id
    return resolved


def _sha1_descending(event_id: str) -> tuple[int, ...]:
    """A sort key putting greater SHA-1 digests of event IDs first."""
    return tuple(255 - b for b in hashlib.sha1(event_id.encode()).digest())


def split_conflicts(state_sets: Sequence[StateMap]) -> tuple[dict[StateKey, str], dict[StateKey, set[str]]]:
    """The unconflicted state map and, per key, the conflicting event IDs."""
    unconflicted: dict[StateKey, str] = {}
    conflicted: dict[StateKey, set[str]] = {}
    keys = set().union(*(s.keys() for s in state_sets))
    for key in keys:
        values = {s.get(key) for s in state_sets}
        if len(values) == 1 and None not in values:
            unconflicted[key] = values.pop()
        else:
            conflicted[key] = {v for v in values if v is not None}
    return unconflicted, conflicted


def auth_chain(event_ids: Iterable[str], event_map: Mapping[str, Event], *, stop: Collection[str] = ()) -> set[str]:
    """Every event reachable through ``auth_events`` from ``event_ids`` (exclusive),
    not walking past events in ``stop``."""
    chain: set[str] = set()
    stack = [a for eid in event_ids for a in _event(eid, event_map).auth_event_ids]
    while stack:
        eid = stack.pop()
        if eid in chain:
            continue
        chain.add(eid)
        if eid in stop or eid not in event_map:
            continue
        stack.extend(a for a in event_map[eid].auth_event_ids if a not in chain)
    return chain


def auth_difference(
    state_sets: Sequence[StateMap], unconflicted: Mapping[StateKey, str], event_map: Mapping[str, Event]
) -> set[str]:
    """∪ Cᵢ − ∩ Cᵢ over the full auth chains Cᵢ of each state set.

    The auth chain of the unconflicted state is in every Cᵢ (and closed under
    auth edges), so it is computed once and each state set's walk stops where
    it reaches it.
    """
    common_roots = set(unconflicted.values())
    common = auth_chain(common_roots, event_map)
    chains = []
    for state in state_sets:
        roots = [eid for eid in state.values() if eid not in common_roots]
        chains.append(auth_chain(roots, event_map, stop=common) - common)
    union = set().union(*chains)
    intersection = set.intersection(*chains) if chains else set()
    return union - intersection


def conflicted_subgraph(conflicted_ids: set[str], event_map: Mapping[str, Event]) -> set[str]:
    """v2.1: the events on auth paths between conflicted events (endpoints included):
    those reachable from a conflicted event that can themselves reach one."""
    reachable = auth_chain(conflicted_ids, event_map) | conflicted_ids
    dependents: dict[str, list[str]] = {}
    for eid in reachable:
        if eid in event_map:
            for a in event_map[eid].auth_event_ids:
                if a in reachable:
                    dependents.setdefault(a, []).append(eid)
    subgraph: set[str] = set()
    stack = list(conflicted_ids)
    while stack:
        eid = stack.pop()
        if eid in subgraph:
            continue
        subgraph.add(eid)
        stack.extend(d for d in dependents.get(eid, ()) if d not in subgraph)
    return subgraph


def is_power_event(event: Event) -> bool:
    """Power levels, join rules, and kicks/bans of someone else."""
    if not event.is_state:
        return False
    if event.type in ("m.room.power_levels", "m.room.join_rules"):
        return True
    return (
        event.type == "m.room.member"
        and event.membership in ("leave", "ban")
        and event.sender != event.state_key
    )


def reverse_topological_power_order(
    event_ids: Collection[str], event_map: Mapping[str, Event], room_version: RoomVersion
) -> list[str]:
    """Kahn's algorithm over the auth DAG of ``event_ids``, taking at each step the
    event whose sender has the highest power (then earliest, then smallest ID)."""
    ids = set(event_ids)
    pending = {eid: 0 for eid in ids}
    dependents: dict[str, list[str]] = {eid: [] for eid in ids}
    for eid in ids:
        for a in event_map[eid].auth_event_ids:
            if a in ids:
                pending[eid] += 1
                dependents[a].append(eid)
    def key(eid: str) -> tuple[float, int, str]:
        event = event_map[eid]
        return (-_sender_power(event, event_map, room_version), event.origin_server_ts, eid)

    heap = [key(eid) for eid, n in pending.items() if n == 0]
    heapq.heapify(heap)
    ordered: list[str] = []
    while heap:
        _, _, eid = heapq.heappop(heap)
        ordered.append(eid)
        for dependent in dependents[eid]:
            pending[dependent] -= 1
            if pending[dependent] == 0:
                heapq.heappush(heap, key(dependent))
    if len(ordered) != len(ids):
        raise ValueError("the auth events of the conflicted set contain a cycle")
    return ordered


def mainline_order(event_ids: Iterable[str], power_levels_id: str | None, event_map: Mapping[str, Event]) -> list[str]:
    """Order by mainline position (earlier mainline first), then timestamp, then ID."""
    mainline: dict[str, int] = {}
    current = power_levels_id
    index = 0
    while current is not None:
        mainline[current] = index
        index += 1
        current = _power_levels_auth_event(event_map[current], event_map)
    infinity = float("inf")

    def position(eid: str) -> float:
        current = _power_levels_auth_event(event_map[eid], event_map)
        while current is not None:
            if current in mainline:
                return mainline[current]
            current = _power_levels_auth_event(event_map[current], event_map)
        return infinity

    def key(eid: str) -> tuple[float, int, str]:
        return (-position(eid), event_map[eid].origin_server_ts, eid)

    return sorted(event_ids, key=key)


def iterative_auth_checks(
    room_version: RoomVersion,
    initial: Mapping[StateKey, str],
    event_ids: Sequence[str],
    event_map: Mapping[str, Event],
    rejected: Collection[str] = (),
) -> dict[StateKey, str]:
    """Apply each event to the state if the auth rules allow it there."""
    state = dict(initial)
    for eid in event_ids:
        event = event_map[eid]
        if not event.is_state:
            continue
        auth_state: dict[StateKey, Event] = {}
        for aid in event.auth_event_ids:
            auth_event = event_map.get(aid)
            if auth_event is not None and aid not in rejected and auth_event.is_state:
                auth_state[auth_event.state_tuple()] = auth_event
        wanted = auth_types_for_event(room_version, event.type, event.sender, event.state_key, event.content)
        for key in wanted | {CREATE}:
            if key in state and state[key] in event_map:
                auth_state[key] = event_map[state[key]]
        if CREATE not in auth_state and event.type != "m.room.create":
            create = event_map.get("$" + event.room_id[1:]) if room_version.auth.room_create_event_id_as_room_id else None
            if create is not None:
                auth_state[CREATE] = create
        try:
            check_auth_rules(event, auth_state)
        except AuthError:
            continue
        state[event.state_tuple()] = eid
    return state


def _event(eid: str, event_map: Mapping[str, Event]) -> Event:
    try:
        return event_map[eid]
    except KeyError:
        raise MissingEvent(eid) from None


def _power_levels_auth_event(event: Event, event_map: Mapping[str, Event]) -> str | None:
    for aid in event.auth_event_ids:
        auth_event = event_map.get(aid)
        if auth_event is not None and auth_event.type == "m.room.power_levels" and auth_event.state_key == "":
            return aid
    return None


def _sender_power(event: Event, event_map: Mapping[str, Event], room_version: RoomVersion) -> float:
    """The sender's power level according to the event's own auth events."""
    auth_state: dict[StateKey, Event] = {}
    for aid in event.auth_event_ids:
        auth_event = event_map.get(aid)
        if auth_event is not None and auth_event.is_state:
            auth_state[auth_event.state_tuple()] = auth_event
    if CREATE not in auth_state and room_version.auth.room_create_event_id_as_room_id:
        create = event_map.get("$" + event.room_id[1:])
        if create is not None:
            auth_state[CREATE] = create
    return user_power_level(event.sender, auth_state)
