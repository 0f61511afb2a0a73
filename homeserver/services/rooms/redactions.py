"""Applying redactions (spec: Client-Server API, "Redactions"; room versions,
"Handling redactions"): one path for every redaction, sent here or by another
server, received live or backfilled.

Before a redaction is stored, :meth:`Redactions.judge` looks for the event it
redacts. When that event is here and the redaction may redact it
(:func:`~homeserver.core.redaction.redaction_applies`: same room; in room
versions 3 and later a sender with the redact power level or of the event
sender's server), the redaction is applied in the transaction that stores it.
When the event is here but may not be redacted so, the redaction is kept (it is
part of the room's DAG) but never shown to clients. When the event is not here
yet, the redaction is kept, withheld from clients, and waits: as any event from
another server is stored, :meth:`Redactions.apply_waiting` applies the
redactions that wait for it, checked the same way, so it is never served with
the content they removed.

Applying a redaction replaces the stored event with the room version's
redacted form and drops its relations and search entry.
"""

from __future__ import annotations

import enum

from homeserver.core.events import Event, auth_parents
from homeserver.core.redaction import redact, redaction_applies
from storage.events import EventStore
from storage.relations import RelationStore
from storage.search import SearchStore


class Verdict(enum.Enum):
    #: Not a redaction (or one naming no event): stored and shown like any event.
    NONE = "none"
    #: Redacts an event that is here and that it may redact.
    APPLY = "apply"
    #: Names an event that is here but that it may not redact: kept, never shown.
    IGNORE = "ignore"
    #: Names an event that is not here yet: kept, withheld, judged when it arrives.
    WAIT = "wait"

    @property
    def withheld(self) -> bool:
        """Clients are not shown the redaction event."""
        return self in (Verdict.IGNORE, Verdict.WAIT)


class Redactions:
    def __init__(self, *, events: EventStore, relations: RelationStore, search: SearchStore) -> None:
        self._events = events
        self._relations = relations
        self._search = search

    async def judge(self, event: Event) -> Verdict:
        """What storing ``event`` does as a redaction (before it is stored)."""
        if event.type != "m.room.redaction" or event.redacts is None:
            return Verdict.NONE
        target = await self._events.get_event(event.redacts)
        if target is None:
            return Verdict.WAIT
        return Verdict.APPLY if await self._applies(event, target.event) else Verdict.IGNORE

    async def settle(self, event: Event, verdict: Verdict) -> None:
        """In the transaction that stored ``event``: apply it, or keep it waiting for its event."""
        if verdict is Verdict.APPLY:
            assert event.redacts is not None
            target = await self._events.get_event(event.redacts)
            if target is not None and target.redacted_by is None:
                await self._apply(event, target.event)
        elif verdict is Verdict.WAIT:
            assert event.redacts is not None
            await self._events.add_pending_redaction(event.event_id, event.redacts, event.room_id)

    async def apply_waiting(self, events: list[Event]) -> list[Event]:
        """In the transaction that stored ``events`` (from another server): apply the
        redactions that arrived before them and may redact them; the events as they
        are now stored, in order."""
        waiting = await self._events.take_pending_redactions([e.event_id for e in events])
        if not waiting:
            return events
        redactions = await self._events.get_events([r for ids in waiting.values() for r in ids])
        result = []
        for event in events:
            for redaction_id in waiting.get(event.event_id, []):
                redaction = redactions.get(redaction_id)
                if redaction is not None and await self._applies(redaction.event, event):
                    await self._apply(redaction.event, event)
                    event = Event(redact(event.pdu(), event.room_version), event.room_version, event_id=event.event_id)
                    break
            result.append(event)
        return result

    async def _applies(self, redaction: Event, target: Event) -> bool:
        """The core rule, with the power levels the redaction was authorised by."""
        stored = await self._events.get_events(auth_parents(redaction))
        auth_state = {s.event.state_tuple(): s.event for s in stored.values() if s.event.is_state}
        return redaction_applies(redaction, target, auth_state)

    async def _apply(self, redaction: Event, target: Event) -> None:
        await self._events.set_redacted(target.event_id, redact(target.pdu(), target.room_version), redaction.event_id)
        await self._relations.remove(target.event_id)
        await self._search.forget(target.event_id)
