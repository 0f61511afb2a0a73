"""What other servers may read of a room (spec: Server-Server API, "Retrieving
events", "Backfilling and retrieving missing events", "Retrieving event
authorisation information").

A server may read a room's events only while one of its users is joined to
it and the room's server ACL allows it (``403 M_FORBIDDEN`` otherwise): the
same rule that decides which servers receive the room's new events. The
events of users erased on deactivation are served redacted.
"""

from __future__ import annotations

from typing import Any

from homeserver.clock import Clock
from homeserver.core.events import Event
from homeserver.core.identifiers import get_domain_from_id
from homeserver.core.redaction import redact
from homeserver.errors import MatrixError
from homeserver.services.rooms.remote import RemoteEvents, Rejected
from storage.accounts import AccountStore
from storage.events import EventStore
from storage.rooms import RoomStore

MAX_BACKFILL = 100
MAX_MISSING = 20


class ServerReads:
    def __init__(
        self, *, events: EventStore, rooms: RoomStore, accounts: AccountStore, remote: RemoteEvents, clock: Clock,
        server_name: str,
    ) -> None:
        self._accounts = accounts
        self._events = events
        self._rooms = rooms
        self._remote = remote
        self._clock = clock
        self._server_name = server_name

    async def _check_in_room(self, origin: str, room_id: str) -> None:
        await self._remote.check_acl(room_id, origin)
        members = await self._rooms.members(room_id)
        if not any(get_domain_from_id(m) == origin for m in members):
            raise MatrixError("M_FORBIDDEN", "Your server is not in this room", status=403)

    async def _event_in(self, origin: str, event_id: str, room_id: str | None = None) -> Event:
        stored = await self._events.get_event(event_id)
        if stored is None or (room_id is not None and stored.event.room_id != room_id):
            raise MatrixError("M_NOT_FOUND", "Unknown event", status=404)
        await self._check_in_room(origin, stored.event.room_id)
        return stored.event

    def _envelope(self, pdus: list[dict[str, Any]]) -> dict[str, Any]:
        return {"origin": self._server_name, "origin_server_ts": self._clock.time_ms(), "pdus": pdus}

    async def _unerased(self, events: list[Event]) -> list[dict[str, Any]]:
        """The events' PDUs, those of erased users redacted."""
        erased = await self._accounts.erased_users()
        return [redact(e.pdu(), e.room_version) if e.sender in erased else e.pdu() for e in events]

    async def event(self, origin: str, event_id: str) -> dict[str, Any]:
        """``/event/{eventId}``."""
        return self._envelope(await self._unerased([await self._event_in(origin, event_id)]))

    async def state_ids(self, origin: str, room_id: str, event_id: str) -> dict[str, Any]:
        """``/state_ids/{roomId}?event_id=``: the state before the event, as IDs, with its auth chain."""
        state = await self._state_before(origin, room_id, event_id)
        chain = await self._remote.auth_closure(state.values())
        return {"pdu_ids": sorted(state.values()), "auth_chain_ids": sorted(set(chain) - set(state.values()))}

    async def state(self, origin: str, room_id: str, event_id: str) -> dict[str, Any]:
        """``/state/{roomId}?event_id=``: the same, as PDUs."""
        state = await self._state_before(origin, room_id, event_id)
        chain = await self._remote.auth_closure(state.values())
        return {
            "pdus": [chain[e].pdu() for e in sorted(state.values()) if e in chain],
            "auth_chain": [e.pdu() for eid, e in sorted(chain.items()) if eid not in set(state.values())],
        }

    async def _state_before(self, origin: str, room_id: str, event_id: str) -> dict[tuple[str, str], str]:
        event = await self._event_in(origin, event_id, room_id)
        if not event.prev_event_ids:
            return {}
        try:
            return await self._remote.state_before(event)
        except Rejected:
            raise MatrixError("M_NOT_FOUND", "The state at that event is not known here", status=404) from None

    async def event_auth(self, origin: str, room_id: str, event_id: str) -> dict[str, Any]:
        """``/event_auth/{roomId}/{eventId}``: the event's full auth chain."""
        event = await self._event_in(origin, event_id, room_id)
        chain = await self._remote.auth_closure([event.event_id])
        del chain[event.event_id]
        return {"auth_chain": [e.pdu() for _, e in sorted(chain.items())]}

    async def backfill(self, origin: str, room_id: str, starts: list[str], limit: int) -> dict[str, Any]:
        """``/backfill/{roomId}?v=&limit=``: events before (and including) ``starts``, newest first."""
        await self._check_in_room(origin, room_id)
        found = await self._walk_back(room_id, starts, stop=set(), limit=min(max(limit, 0), MAX_BACKFILL))
        return self._envelope(await self._unerased(found))

    async def missing_events(
        self, origin: str, room_id: str, earliest: list[str], latest: list[str], limit: int, min_depth: int
    ) -> dict[str, Any]:
        """``/get_missing_events/{roomId}``: events between ``earliest`` and ``latest``, oldest first."""
        await self._check_in_room(origin, room_id)
        starts: list[str] = []
        for stored in (await self._events.get_events(latest)).values():
            if stored.event.room_id == room_id:
                starts.extend(stored.event.prev_event_ids)
        found = await self._walk_back(room_id, starts, stop=set(earliest), limit=min(max(limit, 0), MAX_MISSING))
        return {"events": await self._unerased([e for e in reversed(found) if e.depth >= min_depth])}

    async def timestamp_to_event(self, origin: str, room_id: str, ts: int, direction: str) -> dict[str, Any]:
        """``/timestamp_to_event/{roomId}``: the event nearest ``ts`` in direction ``f`` or ``b``."""
        if direction not in ("f", "b"):
            raise MatrixError("M_INVALID_PARAM", "dir must be 'f' or 'b'")
        await self._check_in_room(origin, room_id)
        found = await self._events.closest_by_timestamp(room_id, ts, direction == "f")
        if found is None:
            raise MatrixError("M_NOT_FOUND", "No event found in that direction", status=404)
        return {"event_id": found.event_id, "origin_server_ts": found.event.origin_server_ts}

    async def _walk_back(self, room_id: str, starts: list[str], *, stop: set[str], limit: int) -> list[Event]:
        """Breadth-first through prev events from ``starts``, deepest first, up to ``limit`` events."""
        seen: set[str] = set(stop)
        frontier = [e for e in starts if e not in seen]
        found: list[Event] = []
        while frontier and len(found) < limit:
            stored = await self._events.get_events(frontier)
            batch = sorted(
                (s.event for s in stored.values() if s.event.room_id == room_id), key=lambda e: -e.depth
            )
            seen.update(frontier)
            frontier = []
            for event in batch:
                if len(found) >= limit:
                    break
                found.append(event)
                frontier.extend(p for p in event.prev_event_ids if p not in seen)
        return found
