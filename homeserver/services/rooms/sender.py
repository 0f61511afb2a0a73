"""Creating local events: the one spine every locally sent event goes through.

Design note (the path of one message):
1. In one transaction, lock the room, answer a repeated transaction ID with
   its first event, read the forward extremities and the current state.
2. Build the event in the core (prev events, depth, auth events chosen from
   the current state, hashes, signature); the core's auth rules decide, and a
   refusal becomes ``M_FORBIDDEN``.
3. Allocate the stream position as late as possible (it serialises writers),
   then persist the event, its DAG edges, the new extremities, its state group,
   the current state, membership rows, the transaction ID and the durable
   federation queue rows: they commit together or not at all.
4. After commit, wake the ``/sync`` long-polls of the room's local members and
   nudge the federation sender. The order matters: nobody is told about an
   event that might still roll back.

Hot path: a per-room asyncio lock orders the room's local events, and a small
in-memory "head" per room (version, current state group, forward
extremities, depth, joined members) saves reading them back for every
message. This process is the only writer of its rooms' local events, so the
head stays true; it is updated only after a commit and dropped on any doubt
(an error, or a send inside a caller's larger transaction, which uses the
database instead). The writes of a message go to the database in one batch.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import structlog

from homeserver import metrics
from homeserver.clock import Clock
from homeserver.core import auth_rules
from homeserver.core.builder import build_event
from homeserver.core.events import Event
from homeserver.core.identifiers import get_domain_from_id
from homeserver.core.pdu_format import InvalidPDU, PDUTooLarge, validate_pdu
from homeserver.core.room_versions import RoomVersion, get_room_version
from homeserver.core.signing import ServerSigningKey
from homeserver.errors import MatrixError
from homeserver.services.notifier import Notifier
from homeserver.services.ports import OutboundFederation
from homeserver.services.push import PushService
from homeserver.services.rooms.redactions import Redactions, Verdict
from storage.database import Database, IntegrityError
from storage.events import EVENTS_STREAM, EventStore
from storage.relations import RelationStore
from storage.rooms import MembershipChange, RoomStore
from storage.search import SearchStore
from storage.state import StateStore
from storage.streams import next_positions

logger = structlog.get_logger(__name__)

#: At most this many forward extremities become one event's prev_events.
MAX_PREV_EVENTS = 10
#: Rooms whose head is kept in memory.
_HEAD_CACHE_SIZE = 10_000
#: Most events written in one transaction.
MAX_BATCH = 50
#: Tries to find a free room ID for a new room.
_CREATE_ATTEMPTS = 20
#: Backfilled history takes stream positions counting down from here (below any
#: outlier's, which are the negated positions of the events stream).
BACKFILL_BASE = -(2**40)
BACKFILL_STREAM = "backfill"
#: Transaction IDs answered from memory before asking the database.
_RECENT_TXNS = 10_000


@dataclass(frozen=True)
class SentEvent:
    event: Event
    stream_ordering: int
    #: True when a repeated transaction ID returned an earlier event.
    deduplicated: bool = False


@dataclass(frozen=True)
class BackfilledEvent:
    """An event of history fetched from another server, checked, with the room
    state before and after it."""

    event: Event
    state_before: Mapping[tuple[str, str], str]
    state_after: Mapping[tuple[str, str], str]


@dataclass
class RoomHead:
    """What building the next local event of a room needs, kept between sends."""

    version: RoomVersion
    state_group: int
    extremities: list[str]
    depth: int
    members: set[str]


@dataclass(frozen=True)
class Txn:
    user_id: str
    device_id: str
    txn_id: str


@dataclass(eq=False)
class _Request:
    sender: str
    event_type: str
    content: dict[str, Any]
    state_key: str | None
    txn: Txn | None
    redacts: str | None
    future: asyncio.Future[SentEvent] | None = None
    built: _Built | None = None
    duplicate_of: _Built | None = None
    #: Written in a transaction of its own (after a batch holding it failed).
    alone: bool = False


@dataclass(eq=False)
class _Built:
    request: _Request
    event: Event
    state: Mapping[tuple[str, str], str]
    auth_state: dict[tuple[str, str], Event]
    state_group: int
    next_head: RoomHead
    stream: int = 0

    def result(self, *, deduplicated: bool = False) -> SentEvent:
        return SentEvent(self.event, self.stream, deduplicated=deduplicated)


@dataclass
class _RoomQueue:
    pending: list[_Request] = field(default_factory=list)
    worker: asyncio.Task[None] | None = None


def _fail(request: _Request, error: BaseException) -> None:
    if request.future is not None and not request.future.done():
        request.future.set_exception(error)


class EventSender:
    def __init__(
        self,
        *,
        db: Database,
        events: EventStore,
        state: StateStore,
        rooms: RoomStore,
        relations: RelationStore,
        search: SearchStore,
        redactions: Redactions,
        notifier: Notifier,
        federation: OutboundFederation,
        push: PushService,
        clock: Clock,
        server_name: str,
        signing_key: ServerSigningKey,
    ) -> None:
        self._db = db
        self._events = events
        self._state = state
        self._rooms = rooms
        self._relations = relations
        self._search = search
        self._redactions = redactions
        self._notifier = notifier
        self._federation = federation
        self._push = push
        self._clock = clock
        self._server_name = server_name
        self._signing_key = signing_key
        self._heads: OrderedDict[str, RoomHead] = OrderedDict()
        self._locks: dict[str, list[Any]] = {}
        self._queues: dict[str, _RoomQueue] = {}
        self._recent_txns: OrderedDict[Txn, SentEvent] = OrderedDict()

    async def create_room_event(
        self, room_version: RoomVersion, room_id: str | None, sender: str, content: dict[str, Any]
    ) -> SentEvent:
        """Create a room with its ``m.room.create`` event (``room_id`` None in v12).

        In room version 12 the room ID is the create event's hash, so two
        identical create events in the same millisecond would name the same
        room: the timestamp moves on until the ID is free.
        """
        timestamp = self._clock.time_ms()
        for _ in range(_CREATE_ATTEMPTS):
            try:
                event = build_event(
                    room_version=room_version,
                    room_id=room_id,
                    sender=sender,
                    event_type="m.room.create",
                    state_key="",
                    content=content,
                    prev_event_ids=[],
                    depth=1,
                    auth_state={},
                    origin_server_ts=timestamp,
                    server_name=self._server_name,
                    signing_key=self._signing_key,
                )
            except auth_rules.AuthError as e:  # e.g. additional_creators that are not user IDs
                raise MatrixError("M_BAD_JSON", f"Invalid creation content: {e}") from None
            _check_format(event)
            async with self._db.transaction("create_room"):
                if not await self._rooms.create_room(
                    event.room_id, room_version.identifier, sender, self._clock.time_ms()
                ):
                    timestamp += 1
                    continue
                [stream] = await next_positions(self._db, EVENTS_STREAM, 1)
                async with self._db.batched(reorder=True):
                    await self._persist(event.room_id, event, stream, state_group=None, state={}, txn=None)
                    await self._events.replace_extremities(event.room_id, (), [event.event_id])
                self._db.after_commit(lambda: self._announce(event, stream, {sender}))
            return SentEvent(event, stream)
        raise MatrixError("M_ROOM_IN_USE", "Could not find a free room ID")

    async def send(
        self,
        room_id: str,
        sender: str,
        event_type: str,
        content: dict[str, Any],
        *,
        state_key: str | None = None,
        txn: Txn | None = None,
        redacts: str | None = None,
    ) -> SentEvent:
        """Build, authorise and persist a local event in an existing room."""
        request = _Request(sender, event_type, content, state_key, txn, redacts)
        previous = self._recent_txns.get(txn) if txn is not None else None
        if previous is not None:
            return previous
        if self._db.in_transaction:
            # Part of a caller's transaction: write now, reading the room as that
            # transaction sees it, and forget the cached head.
            previous = await self._stored_send(txn) if txn is not None else None
            if previous is not None:
                return previous
            async with self._room_lock(room_id):
                self._heads.pop(room_id, None)
                built = await self._build(await self._load_head(room_id), room_id, request)
                await self._rooms.lock_room(room_id)
                await self._write(room_id, [built])
                return built.result()
        queue = self._queues.setdefault(room_id, _RoomQueue())
        request.future = asyncio.get_running_loop().create_future()
        queue.pending.append(request)
        if queue.worker is None:
            queue.worker = asyncio.create_task(self._drain(room_id, queue), name=f"room-writer {room_id}")
        return await request.future

    async def prepare(
        self, room_id: str, sender: str, event_type: str, content: dict[str, Any], *, state_key: str | None = None
    ) -> tuple[Event, Mapping[tuple[str, str], str], dict[tuple[str, str], Event]]:
        """Build and authorise a local event without persisting it (an invite another
        server must co-sign first): the event, the state before it and its auth state.
        Persist it later with :meth:`persist_remote`."""
        async with self._room_lock(room_id):
            head = self._heads.get(room_id) or await self._load_head(room_id)
            built = await self._build(head, room_id, _Request(sender, event_type, content, state_key, None, None))
            return built.event, built.state, built.auth_state

    async def persist_remote(
        self,
        event: Event,
        *,
        state_before: Mapping[tuple[str, str], str],
        auth_state: dict[tuple[str, str], Event],
        soft_failed: bool,
        resolve: Callable[[list[Mapping[tuple[str, str], str]]], Awaitable[dict[tuple[str, str], str]]],
    ) -> SentEvent:
        """Persist an event another server created, already checked by the caller.

        Under the room's writer lock: a soft-failed event is kept but changes
        nothing visible, and so is a redaction that cannot apply (yet; see
        :mod:`~homeserver.services.rooms.redactions`). Otherwise it becomes a
        forward extremity; when it extends every current extremity its state
        after is the room's current state, and when it forks the room the
        current state is ``resolve``d from both sides. Redactions that arrived
        before the event apply to it as it is stored.
        """
        room_id = event.room_id
        async with self._room_lock(room_id):
            head = self._heads.pop(room_id, None) or await self._load_head(room_id)
            async with self._db.transaction("persist_remote"):
                self._db.after_commit(partial(_count_committed, "remote", 1))
                [stream] = await next_positions(self._db, EVENTS_STREAM, 1)
                verdict = await self._redactions.judge(event)
                hidden = soft_failed or verdict.withheld
                state_after = dict(state_before)
                if event.is_state:
                    state_after[event.state_tuple()] = event.event_id
                linear = set(head.extremities) <= set(event.prev_event_ids)
                current = await self._state.get_state(head.state_group)
                if hidden or linear:
                    resolved = state_after
                else:
                    resolved = await resolve([current, state_after])
                async with self._db.batched(reorder=True):
                    group = head.state_group if state_after == current else await self._state.create_group(
                        room_id, state_after, prev_group=head.state_group, prev_state=current
                    )
                    await self._events.insert_event(
                        event, stream_ordering=stream, received_ts=self._clock.time_ms(), soft_failed=hidden,
                        replaces_state=current.get(event.state_tuple()) if event.is_state else None,
                    )
                    await self._state.set_event_state_group(event.event_id, group)
                    await self._redactions.settle(event, verdict)
                    [stored] = await self._redactions.apply_waiting([event])
                    if hidden:
                        return SentEvent(event, stream)
                    await self._relations.add(stored, stream)
                    await self._search.index(stored, stream)
                    changes = {k: v for k, v in resolved.items() if current.get(k) != v}
                    current_group = group if resolved == state_after else await self._state.create_group(
                        room_id, resolved, prev_group=head.state_group, prev_state=current
                    )
                    await self._state.update_current_state(room_id, changes, current_group)
                    await self._apply_membership_changes(room_id, changes, event, stream)
                    members = sorted(head.members | {k[1] for k, v in changes.items() if k[0] == "m.room.member"})
                    await self._push.on_event(stored, stream, auth_state, members)
                    remaining = [e for e in head.extremities if e not in event.prev_event_ids]
                    await self._events.replace_extremities(room_id, set(head.extremities) - set(remaining), [*remaining, event.event_id])
                audience = set(await self._rooms.members(room_id)) | set(members)
                self._db.after_commit(partial(self._announce, event, stream, audience))
            return SentEvent(event, stream)

    async def persist_outliers(self, events: list[Event]) -> None:
        """Keep events known only as state or auth (checked by the caller), outside the timeline."""
        if not events:
            return
        async with self._db.transaction("persist_outliers"):
            self._db.after_commit(partial(_count_committed, "outlier", len(events)))
            positions = await next_positions(self._db, EVENTS_STREAM, len(events))
            for event, position in zip(events, positions):
                await self._events.insert_event(
                    event, stream_ordering=-position, received_ts=self._clock.time_ms(), outlier=True
                )
            await self._redactions.apply_waiting(events)

    async def persist_backfilled(self, events: list[BackfilledEvent], *, fallback_group: int) -> None:
        """Keep history fetched from another server (checked by the caller, oldest
        first) below every stream position in use, the oldest lowest; it changes
        neither the current state nor the extremities.

        Each event gets the state group of the state after it: its prev event's
        group when it changed nothing, else a new group stored as a delta on that
        one (on ``fallback_group`` for events whose prev events have no group).
        Outliers (room state from the join) take their place in history; events
        that reached the timeline meanwhile (another backfill) are left alone.
        """
        async with self._db.transaction("persist_backfilled"):
            known = await self._events.get_events([b.event.event_id for b in events])
            events = [b for b in events if b.event.event_id not in known or known[b.event.event_id].outlier]
            if not events:
                return
            self._db.after_commit(partial(_count_committed, "backfill", len(events)))
            positions = await next_positions(self._db, BACKFILL_STREAM, len(events))
            ids = {b.event.event_id for b in events}
            groups = await self._state.get_event_state_groups(
                sorted({p for b in events for p in b.event.prev_event_ids} - ids)
            )
            for item, position in zip(events, reversed(positions)):
                event, stream = item.event, BACKFILL_BASE - position
                base = next((groups[p] for p in event.prev_event_ids if p in groups), fallback_group)
                base_state = await self._state.get_state(base)
                groups[event.event_id] = base if base_state == item.state_after else await self._state.create_group(
                    event.room_id, item.state_after, prev_group=base, prev_state=base_state
                )
                replaces = item.state_before.get(event.state_tuple()) if event.is_state else None
                verdict = await self._redactions.judge(event)
                if event.event_id in known:
                    await self._events.promote_outlier(event.event_id, stream, replaces_state=replaces)
                else:
                    await self._events.insert_event(
                        event, stream_ordering=stream, received_ts=self._clock.time_ms(), replaces_state=replaces,
                        soft_failed=verdict.withheld,
                    )
                await self._state.set_event_state_group(event.event_id, groups[event.event_id])
                await self._redactions.settle(event, verdict)
                [stored] = await self._redactions.apply_waiting([event])
                await self._relations.add(stored, stream)

    async def _apply_membership_changes(
        self, room_id: str, changes: Mapping[tuple[str, str], str], event: Event, stream: int
    ) -> None:
        """Make the members of changed ``m.room.member`` state current (and log the new event's)."""
        member_ids = [v for k, v in changes.items() if k[0] == "m.room.member"]
        stored = await self._events.get_events(member_ids) if member_ids else {}
        for (event_type, user_id), event_id in changes.items():
            if event_type != "m.room.member":
                continue
            member = event if event_id == event.event_id else (stored[event_id].event if event_id in stored else None)
            if member is None or member.membership is None:
                continue
            await self._rooms.record_membership(MembershipChange(
                event_id=member.event_id, room_id=room_id, user_id=user_id, sender=member.sender,
                membership=member.membership, stream_ordering=stream,
            ))
        if event.type == "m.room.join_rules" and changes.get(("m.room.join_rules", "")) == event.event_id:
            rule = event.content.get("join_rule")
            await self._rooms.set_join_rule(room_id, rule if isinstance(rule, str) else None)

    @asynccontextmanager
    async def _room_lock(self, room_id: str) -> AsyncIterator[None]:
        """One writer at a time per room; the lock lives while anyone holds or awaits it."""
        entry = self._locks.get(room_id)
        if entry is None:
            entry = self._locks[room_id] = [asyncio.Lock(), 0]
        entry[1] += 1
        try:
            async with entry[0]:
                yield
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                del self._locks[room_id]

    async def _stored_send(self, txn: Txn) -> SentEvent | None:
        """The event a transaction ID produced before (this process may not remember it)."""
        previous = await self._rooms.get_txn_event(txn.user_id, txn.device_id, txn.txn_id)
        if previous is None:
            return None
        stored = await self._events.get_event(previous)
        assert stored is not None
        return SentEvent(stored.event, stored.stream_ordering, deduplicated=True)

    async def _drain(self, room_id: str, queue: _RoomQueue) -> None:
        """Write a room's queued events in batches until none are left (one task per busy room)."""
        try:
            while queue.pending:
                async with self._room_lock(room_id):
                    await self._write_batch(room_id, queue)
        finally:
            queue.worker = None
            if not queue.pending:
                self._queues.pop(room_id, None)

    async def _write_batch(self, room_id: str, queue: _RoomQueue) -> None:
        """Build queued events one after another on the room's head, then write
        them in one transaction. A state event ends a batch (the next event
        needs the state group it creates). When the write fails, each of the
        batch's events is built and written again on its own, so only a bad
        event's send fails (other users' sends share the batch)."""
        requests: list[_Request] = []
        builds: list[_Built] = []
        try:
            head = self._heads.get(room_id) or await self._load_head(room_id)
        except BaseException as e:
            for request in queue.pending:
                _fail(request, e)
            queue.pending.clear()
            return
        while queue.pending and len(builds) < MAX_BATCH:
            if queue.pending[0].alone and requests:
                break
            request = queue.pending.pop(0)
            earlier = self._recent_txns.get(request.txn) if request.txn is not None else None
            if earlier is not None:  # written by an earlier batch while this one waited
                if request.future is not None and not request.future.done():
                    request.future.set_result(earlier)
                continue
            repeated = self._batch_duplicate(request, builds)
            if repeated is not None:
                requests.append(request)
                request.duplicate_of = repeated
                continue
            try:
                built = await self._build(head, room_id, request, builds)
            except BaseException as e:
                # A retry of a send from before a restart may no longer be allowed: it gets its event.
                earlier = await self._stored_send(request.txn) if request.txn is not None else None
                if earlier is not None and request.future is not None and not request.future.done():
                    request.future.set_result(earlier)
                else:
                    _fail(request, e)
                continue
            requests.append(request)
            request.built = built
            builds.append(built)
            head = built.next_head
            if built.event.is_state or request.alone:
                break
        if not builds:
            return
        try:
            await self._write(room_id, builds)
        except BaseException as e:
            self._heads.pop(room_id, None)
            retry = await self._settle_repeated_txns(requests) if isinstance(e, IntegrityError) else None
            if retry is None and len(requests) > 1 and isinstance(e, Exception):
                # One bad event must not fail the others' sends: each is written on its own.
                logger.warning("event_batch_failed", room_id=room_id, size=len(requests), error=repr(e))
                retry = requests
                for request in retry:
                    request.built = request.duplicate_of = None
                    request.alone = True
            if retry is None:
                for request in requests:
                    _fail(request, e)
            else:
                queue.pending[:0] = retry
            return
        self._remember_head(room_id, builds[-1].next_head)
        for request in requests:
            source = request.duplicate_of or request.built
            assert source is not None
            result = source.result(deduplicated=request.duplicate_of is not None)
            if request.txn is not None:
                self._remember_txn(request.txn, result)
            if request.future is not None and not request.future.done():
                request.future.set_result(result)

    async def _settle_repeated_txns(self, requests: list[_Request]) -> list[_Request] | None:
        """After a batch failed on a unique key: answer the requests whose transaction ID
        an earlier send (one this process does not remember) already used, and return the
        others to be built again; ``None`` when no transaction ID was repeated.

        Transaction IDs are not looked up before every send: the unique key on them
        catches the rare repeat (a client retrying across a restart) at no cost to the rest.
        """
        earlier = {txn: await self._stored_send(txn) for txn in {r.txn for r in requests if r.txn is not None}}
        if not any(earlier.values()):
            return None
        retry = []
        for request in requests:
            previous = earlier.get(request.txn) if request.txn is not None else None
            if previous is not None:
                if request.future is not None and not request.future.done():
                    request.future.set_result(previous)
            else:
                request.built = request.duplicate_of = None
                retry.append(request)
        return retry

    @staticmethod
    def _batch_duplicate(request: _Request, builds: list[_Built]) -> _Built | None:
        if request.txn is None:
            return None
        return next((b for b in builds if b.request.txn == request.txn), None)

    async def _build(
        self, head: RoomHead, room_id: str, request: _Request, unwritten: Sequence[_Built] = ()
    ) -> _Built:
        """The next event of the room on top of ``head`` (nothing is written; ``unwritten``:
        events of the same batch built before it)."""
        state = await self._state.get_state(head.state_group)
        auth_state = await self._auth_state(
            head.version, state, request.event_type, request.sender, request.state_key, request.content
        )
        prev_events = head.extremities[:MAX_PREV_EVENTS]
        prev_hashes: dict[str, Mapping[str, Any]] = {}
        if head.version.event_format.reference_pairs:  # v1, v2: prev events are named with their hashes
            prev_hashes = {b.event.event_id: b.event.hashes for b in unwritten if b.event.event_id in prev_events}
            stored = await self._events.get_events([e for e in prev_events if e not in prev_hashes])
            prev_hashes |= {e: s.event.hashes for e, s in stored.items()}
        try:
            event = build_event(
                room_version=head.version,
                room_id=room_id,
                sender=request.sender,
                event_type=request.event_type,
                state_key=request.state_key,
                content=request.content,
                prev_event_ids=prev_events,
                depth=head.depth + 1,
                auth_state=auth_state,
                origin_server_ts=self._clock.time_ms(),
                server_name=self._server_name,
                signing_key=self._signing_key,
                redacts=request.redacts,
                prev_hashes=prev_hashes,
            )
        except auth_rules.AuthError as e:
            raise MatrixError("M_FORBIDDEN", str(e)) from None
        _check_format(event)
        members = set(head.members)
        if event.membership is not None and event.state_key is not None:
            if event.membership == "join":
                members.add(event.state_key)
            else:
                members.discard(event.state_key)
        remaining = [e for e in head.extremities if e not in event.prev_event_ids]
        next_head = RoomHead(head.version, head.state_group, [*remaining, event.event_id], event.depth, members)
        return _Built(request, event, state, auth_state, head.state_group, next_head)

    async def _write(self, room_id: str, builds: list[_Built]) -> None:
        """Persist built events in order, in one transaction (the caller's, if any).

        Statements are queued and sent grouped by kind (``batched(reorder=True)``):
        every statement here is an insert or upsert that is independent of the
        statements of other kinds, and the forward extremities are written once,
        for the whole batch, from the head.
        """
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        async with self._db.transaction("send_events"):
            self._db.after_commit(partial(_count_committed, "local", len(builds), started))
            async with self._db.batched(reorder=True):
                positions = await next_positions(self._db, EVENTS_STREAM, len(builds))
                notified = []
                for built, stream in zip(builds, positions):
                    event = built.event
                    built.stream = stream
                    built.next_head.state_group = await self._persist(
                        room_id, event, stream, state_group=built.state_group, state=built.state,
                        txn=built.request.txn,
                    )
                    members = built.next_head.members
                    audience = set(members)
                    if event.membership is not None and event.state_key:
                        audience.add(event.state_key)
                    destinations = {get_domain_from_id(user) for user in audience} - {self._server_name}
                    notified += await self._push.notified_by(event, stream, built.auth_state, sorted(members))
                    if destinations:
                        await self._federation.enqueue_pdu(event, destinations)
                    # Announced on the loop's next turn, still before the senders' requests
                    # resume (they are woken after this): each sender is answered before the
                    # long-polls woken by the announcement compute their responses.
                    self._db.after_commit(partial(
                        loop.call_soon, partial(self._announce, event, stream, audience, federate=bool(destinations))
                    ))
                await self._push.record(notified)  # the batch's notifications in one write
                final = builds[-1].next_head.extremities
                replaced = {p for b in builds for p in b.event.prev_event_ids} - set(final)
                await self._events.replace_extremities(room_id, replaced, final)

    def _remember_txn(self, txn: Txn, result: SentEvent) -> None:
        self._recent_txns[txn] = SentEvent(result.event, result.stream_ordering, deduplicated=True)
        if len(self._recent_txns) > _RECENT_TXNS:
            self._recent_txns.popitem(last=False)

    async def _load_head(self, room_id: str) -> RoomHead:
        room = await self._rooms.get_room(room_id)
        if room is None or room.current_state_group is None:
            raise MatrixError("M_NOT_FOUND", "Unknown room")
        extremities = await self._events.get_extremities(room_id)
        depth = await self._events.max_depth(extremities)
        members = set(await self._rooms.members(room_id))
        return RoomHead(get_room_version(room.room_version), room.current_state_group, extremities, depth, members)

    def _remember_head(self, room_id: str, head: RoomHead) -> None:
        self._heads[room_id] = head
        self._heads.move_to_end(room_id)
        if len(self._heads) > _HEAD_CACHE_SIZE:
            self._heads.popitem(last=False)

    async def _auth_state(
        self,
        version: RoomVersion,
        state: Mapping[tuple[str, str], str],
        event_type: str,
        sender: str,
        state_key: str | None,
        content: dict[str, Any],
    ) -> dict[tuple[str, str], Event]:
        wanted = auth_rules.auth_types_for_event(version, event_type, sender, state_key, content)
        wanted.add(("m.room.create", ""))  # the auth rules always need it, even in v12
        ids = {key: state[key] for key in wanted if key in state}
        stored = await self._events.get_events(ids.values())
        return {key: stored[eid].event for key, eid in ids.items() if eid in stored}

    async def _persist(
        self,
        room_id: str,
        event: Event,
        stream: int,
        *,
        state_group: int | None,
        state: Mapping[tuple[str, str], str],
        txn: Txn | None,
    ) -> int:
        """Write the event and what follows from it, but not the extremities (inside
        a transaction, batched by the caller). Returns the state group after it."""
        now = self._clock.time_ms()
        replaces = state.get(event.state_tuple()) if event.is_state else None
        if event.is_state:
            new_state = dict(state)
            new_state[event.state_tuple()] = event.event_id
            group = await self._state.create_group(room_id, new_state, prev_group=state_group, prev_state=state)
        else:
            assert state_group is not None
            group = state_group
        verdict = await self._redactions.judge(event) if event.type == "m.room.redaction" else Verdict.NONE
        await self._events.insert_event(event, stream_ordering=stream, received_ts=now, replaces_state=replaces)
        if event.is_state:
            await self._state.update_current_state(room_id, {event.state_tuple(): event.event_id}, group)
        await self._state.set_event_state_group(event.event_id, group)
        if event.membership is not None and event.state_key is not None:
            await self._rooms.record_membership(
                MembershipChange(
                    event_id=event.event_id,
                    room_id=room_id,
                    user_id=event.state_key,
                    sender=event.sender,
                    membership=event.membership,
                    stream_ordering=stream,
                )
            )
        await self._relations.add(event, stream)
        await self._search.index(event, stream)
        await self._redactions.settle(event, verdict)
        if event.type == "m.room.join_rules" and event.state_key == "":
            rule = event.content.get("join_rule")
            await self._rooms.set_join_rule(room_id, rule if isinstance(rule, str) else None)
        if txn is not None:
            await self._rooms.record_txn(txn.user_id, txn.device_id, txn.txn_id, event.event_id, now)
        return group

    def announce_membership(self, room_id: str, user_id: str, stream: int) -> None:
        """After commit: a local user's membership changed outside the room's timeline
        (an invite to a room this server is not in)."""
        self._notifier.room_changed(room_id, stream, user_id)
        self._notifier.notify(EVENTS_STREAM, stream, {user_id})

    def _announce(
        self, event: Event, stream: int, audience: set[str], *, federate: bool = False
    ) -> None:
        local = {u for u in audience if get_domain_from_id(u) == self._server_name}
        self._notifier.room_changed(event.room_id, stream, event.state_key if event.membership else None)
        self._notifier.notify(EVENTS_STREAM, stream, local)
        if federate:
            self._federation.wake()
        logger.debug("event_sent", event_id=event.event_id, room_id=event.room_id, type=event.type)


def _count_committed(origin: str, count: int, started: float | None = None) -> None:
    metrics.EVENTS_PERSISTED.labels(origin).inc(count)
    if started is not None:
        metrics.EVENT_WRITE_SECONDS.observe(time.perf_counter() - started)


def _check_format(event: Event) -> None:
    """Refuse events that other servers would refuse (size, value limits)."""
    try:
        validate_pdu(event.pdu(), event.room_version)
    except PDUTooLarge:
        raise MatrixError("M_TOO_LARGE", "The event is larger than 64 KiB", status=413) from None
    except InvalidPDU as e:
        raise MatrixError("M_BAD_JSON", f"Invalid event: {e}") from None
