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
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from homeserver.clock import Clock
from homeserver.core import auth_rules
from homeserver.core.builder import build_event
from homeserver.core.events import Event
from homeserver.core.identifiers import get_domain_from_id
from homeserver.core.pdu_format import InvalidPDU, validate_pdu
from homeserver.core.room_versions import RoomVersion, get_room_version
from homeserver.core.signing import ServerSigningKey
from homeserver.errors import MatrixError
from homeserver.services.notifier import Notifier
from homeserver.services.ports import OutboundFederation
from homeserver.services.push import PushService
from storage.database import Database
from storage.events import EVENTS_STREAM, EventStore
from storage.relations import RelationStore
from storage.rooms import MembershipChange, RoomRecord, RoomStore
from storage.search import SearchStore
from storage.state import StateStore
from storage.streams import next_position

logger = structlog.get_logger(__name__)

#: At most this many forward extremities become one event's prev_events.
MAX_PREV_EVENTS = 10


@dataclass(frozen=True)
class SentEvent:
    event: Event
    stream_ordering: int
    #: True when a repeated transaction ID returned an earlier event.
    deduplicated: bool = False


@dataclass(frozen=True)
class Txn:
    user_id: str
    device_id: str
    txn_id: str


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
        self._notifier = notifier
        self._federation = federation
        self._push = push
        self._clock = clock
        self._server_name = server_name
        self._signing_key = signing_key

    async def create_room_event(
        self, room_version: RoomVersion, room_id: str | None, sender: str, content: dict[str, Any]
    ) -> SentEvent:
        """Create a room with its ``m.room.create`` event (``room_id`` None in v12)."""
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
            origin_server_ts=self._clock.time_ms(),
            server_name=self._server_name,
            signing_key=self._signing_key,
        )
        async with self._db.transaction("create_room"):
            if not await self._rooms.create_room(
                event.room_id, room_version.identifier, sender, self._clock.time_ms()
            ):
                raise MatrixError("M_ROOM_IN_USE", "Room ID already exists")
            room = await self._rooms.lock_room(event.room_id)
            assert room is not None
            stream = await self._persist(room, event, state_group=None, state={}, txn=None)
            self._db.after_commit(lambda: self._announce(event, stream, {sender}))
        return SentEvent(event, stream)

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
        async with self._db.transaction("send_event"):
            room = await self._rooms.lock_room(room_id)
            if room is None or room.current_state_group is None:
                raise MatrixError("M_NOT_FOUND", "Unknown room")
            if txn is not None:
                previous = await self._rooms.get_txn_event(txn.user_id, txn.device_id, txn.txn_id)
                if previous is not None:
                    stored = await self._events.get_event(previous)
                    assert stored is not None
                    return SentEvent(stored.event, stored.stream_ordering, deduplicated=True)
            version = get_room_version(room.room_version)
            state = await self._state.get_state(room.current_state_group)
            extremities = (await self._events.get_extremities(room_id))[:MAX_PREV_EVENTS]
            depth = await self._events.max_depth(extremities) + 1
            auth_state = await self._auth_state(version, state, event_type, sender, state_key, content)
            try:
                event = build_event(
                    room_version=version,
                    room_id=room_id,
                    sender=sender,
                    event_type=event_type,
                    state_key=state_key,
                    content=content,
                    prev_event_ids=extremities,
                    depth=depth,
                    auth_state=auth_state,
                    origin_server_ts=self._clock.time_ms(),
                    server_name=self._server_name,
                    signing_key=self._signing_key,
                    redacts=redacts,
                )
            except auth_rules.AuthError as e:
                raise MatrixError("M_FORBIDDEN", str(e)) from None
            _check_format(event)
            stream = await self._persist(
                room, event, state_group=room.current_state_group, state=state, txn=txn
            )
            members = await self._rooms.members(room_id)
            await self._push.on_event(event, stream, auth_state, members)
            audience = set(members)
            if event.type == "m.room.member" and event.state_key is not None:
                audience.add(event.state_key)
            destinations = {get_domain_from_id(user) for user in audience} - {self._server_name}
            if destinations:
                await self._federation.enqueue_pdu(event, destinations)
            self._db.after_commit(
                lambda: self._announce(event, stream, audience, federate=bool(destinations))
            )
        return SentEvent(event, stream)

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
        room: RoomRecord,
        event: Event,
        *,
        state_group: int | None,
        state: Mapping[tuple[str, str], str],
        txn: Txn | None,
    ) -> int:
        now = self._clock.time_ms()
        replaces = state.get(event.state_tuple()) if event.is_state else None
        stream = await next_position(self._db, EVENTS_STREAM)
        await self._events.insert_event(
            event, stream_ordering=stream, received_ts=now, replaces_state=replaces
        )
        await self._events.update_extremities(room.room_id, event)
        if event.is_state:
            new_state = dict(state)
            new_state[event.state_tuple()] = event.event_id
            group = await self._state.create_group(
                room.room_id, new_state, prev_group=state_group, prev_state=state
            )
            await self._state.update_current_state(
                room.room_id, {event.state_tuple(): event.event_id}, group
            )
        else:
            assert state_group is not None
            group = state_group
        await self._state.set_event_state_group(event.event_id, group)
        if event.membership is not None and event.state_key is not None:
            await self._rooms.record_membership(
                MembershipChange(
                    event_id=event.event_id,
                    room_id=room.room_id,
                    user_id=event.state_key,
                    sender=event.sender,
                    membership=event.membership,
                    stream_ordering=stream,
                )
            )
        await self._relations.add(event, stream)
        await self._search.index(event, stream)
        if event.type == "m.room.join_rules" and event.state_key == "":
            rule = event.content.get("join_rule")
            await self._rooms.set_join_rule(room.room_id, rule if isinstance(rule, str) else None)
        if txn is not None:
            await self._rooms.record_txn(txn.user_id, txn.device_id, txn.txn_id, event.event_id, now)
        return stream

    def _announce(
        self, event: Event, stream: int, audience: set[str], *, federate: bool = False
    ) -> None:
        local = {u for u in audience if get_domain_from_id(u) == self._server_name}
        self._notifier.notify(EVENTS_STREAM, stream, local)
        if federate:
            self._federation.wake()
        logger.debug("event_sent", event_id=event.event_id, room_id=event.room_id, type=event.type)


def _check_format(event: Event) -> None:
    """Refuse events that other servers would refuse (size, value limits)."""
    try:
        validate_pdu(event.pdu(), event.room_version)
    except InvalidPDU as e:
        if "bytes" in str(e):
            raise MatrixError("M_TOO_LARGE", "The event is larger than 64 KiB", status=413) from None
        raise MatrixError("M_BAD_JSON", f"Invalid event: {e}") from None
