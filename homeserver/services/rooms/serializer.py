"""Events in the client format (spec: Client-Server API, "Room event format"):
``unsigned`` with ``age``, ``prev_content``, ``redacted_because`` and, for the
device that sent it, ``transaction_id``; or, for a ``/sync`` filter's
``event_format: federation``, the event as it travels between servers with the
same ``unsigned``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from homeserver.clock import Clock
from homeserver.services.auth import Requester
from homeserver.services.rooms.visibility import EventVisibility
from storage.events import EventStore, StoredEvent
from storage.relations import Relation, RelationStore
from storage.rooms import RoomStore


BUNDLED = ("m.thread", "m.replace", "m.reference")


class EventSerializer:
    def __init__(
        self, events: EventStore, rooms: RoomStore, relations: RelationStore, clock: Clock, visibility: EventVisibility
    ) -> None:
        self._visibility = visibility
        self._events = events
        self._rooms = rooms
        self._relations = relations
        self._clock = clock

    async def serialize(
        self,
        stored: Sequence[StoredEvent],
        requester: Requester | None,
        *,
        include_room_id: bool = True,
        bundle: bool = True,
        federation_format: bool = False,
    ) -> list[dict[str, Any]]:
        """Client-format events (or federation-format ones), with the related events they
        mention loaded in bulk, and (unless ``bundle`` is false) bundled aggregations of
        their children."""
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
            if federation_format:
                body = {**item.event.pdu(), "event_id": item.event_id, "unsigned": unsigned}
            result.append(body)
        if bundle:
            await self._bundle(stored, result, requester, include_room_id)
        return result

    async def _bundle(
        self,
        stored: Sequence[StoredEvent],
        bodies: list[dict[str, Any]],
        requester: Requester | None,
        include_room_id: bool,
    ) -> None:
        """Add ``unsigned.m.relations`` (threads, edits, references) to parent events."""
        parents = {s.event_id: s for s in stored if not s.event.is_state}
        children = await self._relations.children(parents, rel_types=BUNDLED)
        if not children:
            return
        by_parent: dict[str, list[Relation]] = {}
        for relation in children:
            by_parent.setdefault(relation.relates_to_id, []).append(relation)
        wanted: set[str] = set()
        for parent_id, relations in by_parent.items():
            threads = [r for r in relations if r.rel_type == "m.thread"]
            if threads:
                wanted.add(threads[-1].event_id)
            wanted |= {r.event_id for r in relations if r.rel_type == "m.replace"}
        related = list((await self._events.get_events(wanted)).values())
        if requester is not None:
            # A thread's latest reply or an edit the user may not see stays out of the bundle.
            related = await self._visibility.filter_visible(requester.user_id, related)
        serialized = {
            e["event_id"]: e
            for e in await self.serialize(related, requester, include_room_id=include_room_id, bundle=False)
        }
        for body in bodies:
            relations = by_parent.get(body["event_id"])
            if not relations:
                continue
            parent = parents[body["event_id"]]
            aggregations: dict[str, Any] = {}
            threads = [r for r in relations if r.rel_type == "m.thread"]
            if threads and threads[-1].event_id in serialized:
                aggregations["m.thread"] = {
                    "latest_event": serialized[threads[-1].event_id],
                    "count": len(threads),
                    "current_user_participated": requester is not None and (
                        parent.event.sender == requester.user_id or any(r.sender == requester.user_id for r in threads)
                    ),
                }
            edits = [
                serialized[r.event_id] for r in relations
                if r.rel_type == "m.replace" and r.sender == parent.event.sender and r.event_id in serialized
            ]
            if edits and parent.redacted_by is None:
                aggregations["m.replace"] = max(edits, key=lambda e: (e["origin_server_ts"], e["event_id"]))
            references = [{"event_id": r.event_id} for r in relations if r.rel_type == "m.reference"]
            if references:
                aggregations["m.reference"] = {"chunk": references}
            if aggregations:
                body["unsigned"]["m.relations"] = aggregations


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
