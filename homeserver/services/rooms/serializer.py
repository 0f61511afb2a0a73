"""Events in the client format (spec: Client-Server API, "Room event format"):
``unsigned`` with ``age``, ``prev_content``, ``redacted_because`` and, for the
device that sent it, ``transaction_id``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from homeserver.clock import Clock
from homeserver.services.auth import Requester
from storage.events import EventStore, StoredEvent
from storage.rooms import RoomStore


class EventSerializer:
    def __init__(self, events: EventStore, rooms: RoomStore, clock: Clock) -> None:
        self._events = events
        self._rooms = rooms
        self._clock = clock

    async def serialize(
        self,
        stored: Sequence[StoredEvent],
        requester: Requester | None,
        *,
        include_room_id: bool = True,
    ) -> list[dict[str, Any]]:
        """Client-format events, with the related events they mention loaded in bulk."""
        if not stored:
            return []
        related_ids = {s.replaces_state for s in stored if s.replaces_state}
        related_ids |= {s.redacted_by for s in stored if s.redacted_by}
        related = await self._events.get_events(related_ids) if related_ids else {}
        txn_ids: dict[str, str] = {}
        if requester is not None:
            own = [s.event_id for s in stored if s.event.sender == requester.user_id]
            txn_ids = await self._rooms.txn_ids_for_device(requester.user_id, requester.device_id, own)
        now = self._clock.time_ms()
        result = []
        for item in stored:
            body = client_event(item, now, include_room_id=include_room_id)
            unsigned = body["unsigned"]
            if item.event_id in txn_ids:
                unsigned["transaction_id"] = txn_ids[item.event_id]
            previous = related.get(item.replaces_state) if item.replaces_state else None
            if previous is not None:
                unsigned["prev_content"] = dict(previous.event.content)
                unsigned["prev_sender"] = previous.event.sender
                unsigned["replaces_state"] = previous.event_id
            redaction = related.get(item.redacted_by) if item.redacted_by else None
            if redaction is not None:
                unsigned["redacted_because"] = client_event(redaction, now, include_room_id=include_room_id)
            result.append(body)
        return result


def client_event(item: StoredEvent, now_ms: int, *, include_room_id: bool = True) -> dict[str, Any]:
    """One event in the client format, without the related-event fields."""
    event = item.event
    body: dict[str, Any] = {
        "event_id": item.event_id,
        "type": event.type,
        "sender": event.sender,
        "content": dict(event.content),
        "origin_server_ts": event.origin_server_ts,
        "unsigned": {"age": max(0, now_ms - event.origin_server_ts)},
    }
    if include_room_id:
        body["room_id"] = event.room_id
    if event.is_state:
        body["state_key"] = event.state_key
    if event.redacts is not None:
        body["redacts"] = event.redacts
    return body
