"""Events from other servers, and joins across servers (spec: Server-Server API,
"Checks performed on receipt of a PDU" and "Joining Rooms").

Design note: every PDU from another server passes the same checks before it
touches the room: it must be well formed for the room version; a content hash
that does not match gets the event redacted; the servers that must have
signed it must have (keys from :class:`~homeserver.services.ports.ServerKeys`);
its auth events must be the right selection and must authorise it; the state
before it (from its prev events, resolved when they differ) must authorise it;
and an event the current state would not allow is kept soft-failed. What
passes goes to :meth:`EventSender.persist_remote`, the same per-room writer
local events use. Joins, leaves and invites across servers build on these
checks in :mod:`homeserver.services.rooms.remote_membership`.

Missing prev events are asked of the sending server (``/get_missing_events``,
one round); when some are still unknown after that, the state before the event
is asked of it (``/state_ids``) and the state and auth events missing here are
fetched (``/event``), checked and kept as outliers.

History older than this server's (``/backfill``) is taken oldest first, each
event checked against the state before it: the state after its prev events
where those are here (stored, or taken earlier in the same batch), else asked
of the server that sent the batch, a bounded number of times per batch. Each
backfilled event gets the state group of the state after it, so history
visibility, ``/context`` and ``/members?at=`` see the room as it was then.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from operator import attrgetter
from typing import Any

import structlog

from homeserver.core import auth_rules
from homeserver.core.events import Event, auth_parents
from homeserver.core.identifiers import get_domain_from_id, is_valid_event_id, is_valid_room_id
from homeserver.core.hashing import check_content_hash
from homeserver.core.pdu_format import InvalidPDU, validate_pdu
from homeserver.core.redaction import redact
from homeserver.core.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion, get_room_version
from homeserver.core.signing import KnownVerifyKey, SignatureError, servers_required_to_sign, verify_event_signatures
from homeserver.core.server_acl import server_allowed
from homeserver.core.state_res import resolve_state
from homeserver.errors import MatrixError
from homeserver.services.ports import FederationQueries, KeyUnavailable, RemoteUnavailable, ServerKeys
from homeserver.services.rooms.guest_access import GuestAccess
from homeserver.services.rooms.sender import BackfilledEvent, EventSender
from storage.events import EventStore
from storage.rooms import RoomStore
from storage.state import StateStore

logger = structlog.get_logger(__name__)

StateMap = Mapping[tuple[str, str], str]
#: Most state and auth events fetched one by one to fill a gap.
MAX_GAP_EVENTS = 2000
#: Most events asked for and taken in one backfill.
MAX_BACKFILL_EVENTS = 100
#: Most gaps (``/state_ids`` asks) one backfill fills.
MAX_BACKFILL_GAPS = 5
#: Room versions Hearth joins over federation: every one it knows.
JOINABLE_VERSIONS = sorted(KNOWN_ROOM_VERSIONS, key=int)


class Rejected(Exception):
    """A remote event failed a check; the message says which."""


class RemoteEvents:
    def __init__(
        self,
        *,
        sender: EventSender,
        events: EventStore,
        state: StateStore,
        rooms: RoomStore,
        keys: ServerKeys,
        federation: FederationQueries,
        server_name: str,
        guest_access: GuestAccess,
    ) -> None:
        self._server_name = server_name
        self._guest_access = guest_access
        self._sender = sender
        self._events = events
        self._state = state
        self._rooms = rooms
        self._keys = keys
        self._federation = federation

    # -- the checks ------------------------------------------------------------------------

    def parse(self, pdu: Any, version: RoomVersion) -> Event:
        """A PDU as an event: well formed, and redacted if its content hash does not match."""
        if not isinstance(pdu, dict):
            raise Rejected("a PDU must be an object")
        try:
            validate_pdu(pdu, version)
        except InvalidPDU as e:
            raise Rejected(f"malformed PDU: {e}") from None
        if not check_content_hash(pdu):
            pdu = redact(pdu, version)
        return Event(pdu, version)

    async def check_signatures(self, event: Event) -> None:
        signatures = event.signatures if isinstance(event.signatures, Mapping) else {}
        known: dict[tuple[str, str], KnownVerifyKey] = {}
        for server in servers_required_to_sign(event):
            for key_id in signatures.get(server, {}) if isinstance(signatures.get(server), Mapping) else ():
                try:
                    key = await self._keys.verify_key(server, key_id, valid_at_ms=event.origin_server_ts)
                except KeyUnavailable:
                    continue
                known[(server, key_id)] = KnownVerifyKey(key, 2**63 - 1)
        try:
            verify_event_signatures(event, known)
        except SignatureError as e:
            raise Rejected(f"bad signatures: {e}") from None

    async def check_against_auth_events(self, event: Event, known: Mapping[str, Event]) -> dict[tuple[str, str], Event]:
        """Rule: the event is allowed by its own auth events (all of which must be known)."""
        missing = [a for a in event.auth_event_ids if a not in known]
        if missing:
            stored = await self._events.get_events(missing)
            known = {**known, **{k: v.event for k, v in stored.items()}}
        auth_events = [known[a] for a in event.auth_event_ids if a in known]
        if len(auth_events) != len(event.auth_event_ids):
            raise Rejected("some auth events are unknown")
        auth_state = {e.state_tuple(): e for e in auth_events}
        create = await self._create_event(event, known)
        if create is not None:
            auth_state.setdefault(("m.room.create", ""), create)
        try:
            auth_rules.check_auth_events_list(event, auth_events)
            auth_rules.check_auth_rules(event, auth_state)
        except auth_rules.AuthError as e:
            raise Rejected(f"not allowed by its auth events: {e}") from None
        return auth_state

    async def _create_event(self, event: Event, known: Mapping[str, Event]) -> Event | None:
        if event.type == "m.room.create":
            return None
        if event.room_version.auth.room_create_event_id_as_room_id:
            create_id = "$" + event.room_id[1:]
            if create_id in known:
                return known[create_id]
            stored = await self._events.get_event(create_id)
            return stored.event if stored is not None else None
        return next((e for e in known.values() if e.type == "m.room.create" and e.room_id == event.room_id), None)

    async def _check_against_state(
        self, event: Event, state: StateMap, pending: Mapping[str, Event] | None = None
    ) -> dict[tuple[str, str], Event]:
        """Rule: ``state`` allows the event (its events stored here, or in ``pending``:
        checked but not stored yet)."""
        version = event.room_version
        pending = pending or {}
        wanted = auth_rules.auth_types_for_event(version, event.type, event.sender, event.state_key, event.content)
        wanted.add(("m.room.create", ""))
        ids = {k: state[k] for k in wanted if k in state}
        stored = await self._events.get_events([v for v in ids.values() if v not in pending])
        found = {**{k: v.event for k, v in stored.items()}, **pending}
        auth_state = {k: found[v] for k, v in ids.items() if v in found}
        if ("m.room.create", "") not in auth_state:
            create = await self._create_event(event, pending)
            if create is not None:
                auth_state[("m.room.create", "")] = create
        auth_rules.check_auth_rules(event, auth_state)
        return auth_state

    async def resolve(
        self,
        version: RoomVersion,
        state_sets: list[StateMap],
        *,
        new: Event | None = None,
        pending: Mapping[str, Event] | None = None,
    ) -> dict[tuple[str, str], str]:
        """State resolution over stored events (their auth chains are loaded as needed)
        and events not stored yet: ``new``, the event being persisted, and ``pending``
        (checked history being backfilled)."""
        unstored = {**(pending or {}), **({new.event_id: new} if new is not None else {})}
        ids = {eid for state in state_sets for eid in state.values()} | ({new.event_id} if new is not None else set())
        event_map = await self.auth_closure(ids, pending=unstored)
        return resolve_state(version, state_sets, event_map)

    async def auth_closure(
        self, event_ids: Iterable[str], *, pending: Mapping[str, Event] | None = None
    ) -> dict[str, Event]:
        """The events and, recursively, their auth events (those stored here, or in
        ``pending``: checked but not stored yet).

        From room version 12 the create event is in every auth chain although
        no event lists it (the room ID names it).
        """
        pending = pending or {}
        event_map: dict[str, Event] = {}
        frontier = set(event_ids)
        while frontier:
            found = {i: pending[i] for i in frontier if i in pending}
            stored = await self._events.get_events([i for i in frontier if i not in found])
            found.update({k: v.event for k, v in stored.items()})
            event_map.update(found)
            frontier = {a for e in found.values() for a in auth_parents(e) if a not in event_map}
        return event_map

    async def state_before(
        self,
        event: Event,
        *,
        after: Mapping[str, StateMap] | None = None,
        pending: Mapping[str, Event] | None = None,
    ) -> dict[tuple[str, str], str]:
        """The room state before ``event``: after its prev events, resolved when they differ.

        ``after`` holds the state after prev events that are not stored (history
        being backfilled), and ``pending`` the events not stored yet that those
        states name.
        """
        after = after or {}
        stored_prevs = {p for p in event.prev_event_ids if p not in after}
        groups = await self._state.get_event_state_groups(sorted(stored_prevs))
        if len(groups) != len(stored_prevs):
            raise Rejected("some prev events are unknown here")
        states = [after[p] for p in dict.fromkeys(event.prev_event_ids) if p in after]
        states += [await self._state.get_state(g) for g in sorted(set(groups.values()))]
        distinct = [state for n, state in enumerate(states) if state not in states[:n]]
        if len(distinct) == 1:
            return dict(distinct[0])
        return await self.resolve(event.room_version, distinct, pending=pending)

    async def check_acl(self, room_id: str, server: str) -> None:
        """``403 M_FORBIDDEN`` unless the room's server ACL lets ``server`` take part."""
        if not await self.acl_allows(room_id, server):
            raise MatrixError("M_FORBIDDEN", "Your server is denied by the room's server ACL", status=403)

    async def acl_allows(self, room_id: str, server: str) -> bool:
        event_id = await self._state.get_current_state_event_id(room_id, "m.room.server_acl", "")
        if event_id is None:
            return True
        stored = await self._events.get_event(event_id)
        return server_allowed(dict(stored.event.content) if stored is not None else None, server)

    # -- inbound PDUs ------------------------------------------------------------------------

    async def receive_pdu(self, origin: str, pdu: Any, *, fetch_missing: bool = True) -> tuple[str | None, str | None]:
        """Check and persist one PDU from ``/send``: its event ID (``None`` when it has
        none we can tell) and an error message (``None`` when it was taken).

        Whatever is wrong with one PDU is its own answer, never an exception that
        would fail the other PDUs of its transaction (spec: "Transactions").
        """
        room_id = pdu.get("room_id") if isinstance(pdu, dict) else None
        room = await self._rooms.get_room(room_id) if isinstance(room_id, str) and is_valid_room_id(room_id) else None
        if room is None:
            return None, "this server is not in that room"
        version = get_room_version(room.room_version)
        event_id = _event_id_of(pdu, version)
        try:
            return await self._receive_pdu(origin, pdu, room.room_id, version, event_id, fetch_missing)
        except Exception:  # noqa: BLE001 - one PDU's failure is reported for it alone
            logger.exception("pdu_failed", origin=origin, room_id=room_id, event_id=event_id)
            return event_id, "the event could not be processed"

    async def _receive_pdu(
        self, origin: str, pdu: Any, room_id: str, version: RoomVersion, event_id: str | None, fetch_missing: bool
    ) -> tuple[str | None, str | None]:
        if not await self.acl_allows(room_id, origin):
            return event_id, "the sending server is denied by the room's server ACL"
        try:
            event = self.parse(pdu, version)
            event_id = event.event_id
            if await self._events.get_event(event.event_id) is not None:
                return event_id, None  # already have it
            await self.check_signatures(event)
            auth_state = await self.check_against_auth_events(event, {})
            if fetch_missing:
                await self._fetch_missing_prev_events(origin, event)
            try:
                before = await self.state_before(event)
            except Rejected:
                if not fetch_missing:
                    raise
                before = await self._state_at_gap(origin, event)
            try:
                await self._check_against_state(event, before)
            except auth_rules.AuthError as e:
                raise Rejected(f"not allowed by the state before it: {e}") from None
            soft_failed = False
            current = await self._rooms.get_room(room_id)
            assert current is not None and current.current_state_group is not None
            try:
                await self._check_against_state(event, await self._state.get_state(current.current_state_group))
            except auth_rules.AuthError:
                soft_failed = True
                logger.info("event_soft_failed", event_id=event.event_id, origin=origin)
        except Rejected as e:
            logger.info("pdu_rejected", origin=origin, room_id=room_id, event_id=event_id, error=str(e))
            return event_id, str(e)
        await self._sender.persist_remote(
            event, state_before=before, auth_state=auth_state, soft_failed=soft_failed,
            resolve=lambda sets: self.resolve(event.room_version, sets, new=event),
        )
        if not soft_failed and event.type == "m.room.guest_access" and event.state_key == "":
            await self._guest_access.enforce(event.room_id)
        return event_id, None

    async def backfill(self, room_id: str, limit: int) -> int:
        """Fetch history older than the oldest event this server has from a server in the
        room (``/backfill``, at most :data:`MAX_BACKFILL_EVENTS`); the number of events added.

        The events are checked and placed by :meth:`_store_backfilled` and get
        stream positions below everything else, oldest lowest.
        """
        oldest = await self._events.oldest_timeline_event(room_id)
        if oldest is None:
            return 0
        known = await self._events.get_events(oldest.event.prev_event_ids)
        frontier = [e for e in oldest.event.prev_event_ids if e not in known or known[e].outlier]
        servers = sorted({get_domain_from_id(m) for m in await self._rooms.members(room_id)} - {self._server_name})
        if not frontier or not servers:
            return 0
        groups = await self._state.get_event_state_groups([oldest.event_id])
        group = groups.get(oldest.event_id)
        if group is None:
            return 0
        limit = max(1, min(limit, MAX_BACKFILL_EVENTS))
        for server in servers:
            try:
                answer = await self._federation.backfill(server, room_id, frontier, limit)
            except (RemoteUnavailable, MatrixError) as e:
                logger.info("backfill_failed", server=server, room_id=room_id, error=str(e))
                continue
            pdus = answer.get("pdus") if isinstance(answer, dict) else None
            return await self._store_backfilled(server, room_id, pdus[:limit] if isinstance(pdus, list) else [], group)
        return 0

    async def _store_backfilled(self, origin: str, room_id: str, pdus: list[Any], fallback_group: int) -> int:
        """Check history ``origin`` sent and store what passes; the number of events stored.

        The events are taken oldest first (by depth, each after its prev events).
        The state before one is the state after its prev events (stored here or
        taken earlier in this batch, resolved when they differ); at the batch's old
        edge, where they are unknown, it is asked of ``origin`` (``/state_ids``, at
        most :data:`MAX_BACKFILL_GAPS` times). An event with bad signatures, or
        whose state before cannot be learnt, is dropped; one its auth events or
        the state before it do not allow is rejected: not stored, and the state
        after it is the state before it (spec: "Rejection"). Outliers from the join
        were checked against their auth events when they arrived; they are checked
        against the state before them and join the timeline. ``fallback_group``
        (the state of the oldest event already here) is what the state of events
        at the old edge is stored as a delta of.
        """
        room = await self._rooms.get_room(room_id)
        assert room is not None
        version = get_room_version(room.room_version)
        fetched: dict[str, Event] = {}
        for pdu in pdus:
            try:
                event = self.parse(pdu, version)
            except Rejected as e:
                logger.info("backfilled_event_dropped", room_id=room_id, error=str(e))
                continue
            if event.room_id == room_id:  # (a v12 create event names its room only through its ID)
                fetched[event.event_id] = event
        stored = await self._events.get_events(list(fetched))
        batch = {
            i: stored[i].event if i in stored else e for i, e in fetched.items() if i not in stored or stored[i].outlier
        }
        taken: dict[str, Event] = {}  # passed, not in the timeline yet
        after: dict[str, StateMap] = {}  # the state after each event looked at (rejected: the state before it)
        placed: list[BackfilledEvent] = []
        gaps = 0
        for event in topological(batch, parents=attrgetter("prev_event_ids")):
            is_new = event.event_id not in stored
            try:
                if is_new:
                    await self.check_signatures(event)
                try:
                    before = await self.state_before(event, after=after, pending=taken)
                except Rejected:
                    if gaps == MAX_BACKFILL_GAPS:
                        raise Rejected("too many gaps in one batch of history") from None
                    gaps += 1
                    before = await self._state_at_gap(origin, event)
            except Rejected as e:
                logger.info("backfilled_event_dropped", room_id=room_id, event_id=event.event_id, error=str(e))
                continue
            try:
                if is_new:
                    await self.check_against_auth_events(event, taken)
                await self._check_against_state(event, before, taken)
            except (Rejected, auth_rules.AuthError) as e:
                logger.info("backfilled_event_rejected", room_id=room_id, event_id=event.event_id, error=str(e))
                after[event.event_id] = before
                continue
            after[event.event_id] = {**before, event.state_tuple(): event.event_id} if event.is_state else before
            taken[event.event_id] = event
            placed.append(BackfilledEvent(event, state_before=before, state_after=after[event.event_id]))
        await self._sender.persist_backfilled(placed, fallback_group=fallback_group)
        return len(placed)

    async def _state_at_gap(self, origin: str, event: Event) -> dict[tuple[str, str], str]:
        """The state before ``event`` asked of ``origin`` (``/state_ids``), when the events
        in between cannot all be fetched; the state and auth events missing here are
        fetched (``/event``), checked and kept as outliers."""
        try:
            answer = await self._federation.state_ids(origin, event.room_id, event.event_id)
        except (RemoteUnavailable, MatrixError) as e:
            raise Rejected(f"the state at the gap could not be fetched: {e}") from None
        answer = answer if isinstance(answer, dict) else {}
        state_ids, chain_ids = answer.get("pdu_ids"), answer.get("auth_chain_ids")
        if not isinstance(state_ids, list) or not isinstance(chain_ids, list):
            raise Rejected("a malformed /state_ids answer")
        wanted = [i for i in state_ids + chain_ids if isinstance(i, str) and is_valid_event_id(i)]
        if len(wanted) > MAX_GAP_EVENTS:
            raise Rejected("the state at the gap is too large to fetch")
        stored = await self._events.get_events(wanted)
        known: dict[str, Event] = {k: v.event for k, v in stored.items()}
        fetched: dict[str, Event] = {}
        for event_id in [i for i in wanted if i not in known]:
            try:
                pdus = (await self._federation.get_event(origin, event_id)).get("pdus")
                candidate = self.parse(pdus[0], event.room_version) if isinstance(pdus, list) and pdus else None
            except (RemoteUnavailable, MatrixError):
                candidate = None
            if candidate is None or candidate.event_id != event_id or candidate.room_id != event.room_id:
                raise Rejected(f"could not fetch {event_id} of the state at the gap")
            fetched[event_id] = candidate
        known.update(fetched)
        for candidate in topological(fetched):
            await self.check_signatures(candidate)
            await self.check_against_auth_events(candidate, known)
        await self._sender.persist_outliers(list(topological(fetched)))
        state = {known[i].state_tuple(): i for i in state_ids if isinstance(i, str) and i in known and known[i].is_state}
        return state

    async def _fetch_missing_prev_events(self, origin: str, event: Event) -> None:
        """Ask ``origin`` for the events between our forward extremities and ``event``
        when some of its prev events are unknown here, and take them oldest first."""
        known = await self._events.get_events(event.prev_event_ids)
        if len(known) == len(event.prev_event_ids):
            return
        earliest = await self._events.get_extremities(event.room_id)
        try:
            answer = await self._federation.get_missing_events(
                origin, event.room_id, earliest, [event.event_id], limit=10, min_depth=0
            )
        except (RemoteUnavailable, MatrixError) as e:
            logger.info("missing_events_unavailable", origin=origin, event_id=event.event_id, error=str(e))
            return
        missing = answer.get("events") if isinstance(answer, dict) else None
        for pdu in sorted(missing if isinstance(missing, list) else [], key=_depth_of):
            await self.receive_pdu(origin, pdu, fetch_missing=False)

def topological(
    events: Mapping[str, Event], *, parents: Callable[[Event], list[str]] = attrgetter("auth_event_ids")
) -> list[Event]:
    """Events ordered so each comes after its ``parents`` among ``events`` (its auth
    events unless told otherwise), the shallowest first where that leaves a choice."""
    ordered: list[Event] = []
    seen: set[str] = set()
    for root in sorted(events, key=lambda e: events[e].depth):
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, iter(parents(events[root])))]
        while stack:  # depth first, without recursion (a batch of history is a long chain)
            event_id, unvisited = stack[-1]
            parent = next((p for p in unvisited if p in events and p not in seen), None)
            if parent is None:
                stack.pop()
                ordered.append(events[event_id])
            else:
                seen.add(parent)
                stack.append((parent, iter(parents(events[parent]))))
    return ordered


def _depth_of(pdu: Any) -> int:
    depth = pdu.get("depth") if isinstance(pdu, dict) else None
    return depth if isinstance(depth, int) else 0


def _event_id_of(pdu: Mapping[str, Any], version: RoomVersion) -> str | None:
    """The ID a PDU claims or hashes to, even when it is malformed (for the ``/send`` answer)."""
    try:
        return Event(pdu, version).event_id
    except Exception:  # noqa: BLE001 - too malformed to have one
        return None
