"""Read receipts and read markers (spec: Client-Server API, "Receipts",
"Fully read markers")."""

from __future__ import annotations

from typing import Any

from homeserver.clock import Clock
from homeserver.core.canonical_json import MAX_SAFE_INTEGER
from homeserver.core.identifiers import get_domain_from_id, is_valid_user_id
from homeserver.errors import MatrixError
from homeserver.services.account_data import AccountDataService
from homeserver.services.auth import Requester
from homeserver.services.notifier import Notifier
from homeserver.services.ports import OutboundFederation
from storage.events import EventStore
from storage.receipts import RECEIPTS_STREAM, ReceiptStore
from storage.rooms import RoomStore

PUBLIC = "m.read"
PRIVATE = "m.read.private"
FULLY_READ = "m.fully_read"


class ReceiptService:
    def __init__(
        self,
        *,
        receipts: ReceiptStore,
        events: EventStore,
        rooms: RoomStore,
        account_data: AccountDataService,
        notifier: Notifier,
        federation: OutboundFederation,
        clock: Clock,
        server_name: str,
    ) -> None:
        self._federation = federation
        self._receipts = receipts
        self._events = events
        self._rooms = rooms
        self._account_data = account_data
        self._notifier = notifier
        self._clock = clock
        self._server_name = server_name

    async def send_receipt(
        self, requester: Requester, room_id: str, receipt_type: str, event_id: str, thread_id: str | None
    ) -> None:
        """``POST /rooms/{roomId}/receipt/{receiptType}/{eventId}``."""
        if receipt_type not in (PUBLIC, PRIVATE, FULLY_READ):
            raise MatrixError("M_INVALID_PARAM", f"Unknown receipt type {receipt_type!r}")
        if thread_id is not None and receipt_type == FULLY_READ:
            raise MatrixError("M_INVALID_PARAM", "m.fully_read receipts cannot be threaded")
        if thread_id is not None and not (thread_id == "main" or thread_id.startswith("$")):
            raise MatrixError("M_INVALID_PARAM", "thread_id must be 'main' or an event ID")
        event_stream = await self._check_event(requester.user_id, room_id, event_id)
        if receipt_type == FULLY_READ:
            await self._account_data.put_internal(requester.user_id, room_id, FULLY_READ, {"event_id": event_id})
            return
        now = self._clock.time_ms()
        if not await self._store(room_id, receipt_type, requester.user_id, thread_id, event_id, event_stream, now):
            return
        if receipt_type == PUBLIC:
            servers = {get_domain_from_id(m) for m in await self._rooms.members(room_id)} - {self._server_name}
            if servers:
                data: dict[str, Any] = {"ts": now} | ({"thread_id": thread_id} if thread_id else {})
                await self._federation.enqueue_edu("m.receipt", {room_id: {PUBLIC: {
                    requester.user_id: {"event_ids": [event_id], "data": data},
                }}}, servers)
                self._federation.wake()

    async def receive_remote(self, origin: str, content: Any) -> None:
        """An ``m.receipt`` EDU: public read receipts of ``origin``'s users."""
        if not isinstance(content, dict):
            return
        for room_id, by_type in content.items():
            users = by_type.get(PUBLIC) if isinstance(by_type, dict) else None
            if not isinstance(room_id, str) or not isinstance(users, dict):
                continue
            for user_id, receipt in users.items():
                event_ids = receipt.get("event_ids") if isinstance(receipt, dict) else None
                data = receipt.get("data") if isinstance(receipt, dict) else None
                if (
                    not isinstance(user_id, str) or not is_valid_user_id(user_id) or get_domain_from_id(user_id) != origin
                    or not isinstance(event_ids, list) or not event_ids or not isinstance(event_ids[0], str)
                    or await self._rooms.membership(room_id, user_id) != "join"
                ):
                    continue
                stored = await self._events.get_event(event_ids[0])
                if stored is None or stored.event.room_id != room_id:
                    continue
                data = data if isinstance(data, dict) else {}
                thread_id = data.get("thread_id") if isinstance(data.get("thread_id"), str) else None
                ts = data.get("ts")
                if isinstance(ts, bool) or not isinstance(ts, int) or not 0 <= ts <= MAX_SAFE_INTEGER:
                    ts = self._clock.time_ms()
                await self._store(room_id, PUBLIC, user_id, thread_id, stored.event.event_id, stored.stream_ordering, ts)

    async def _store(
        self, room_id: str, receipt_type: str, user_id: str, thread_id: str | None, event_id: str, event_stream: int,
        ts: int,
    ) -> bool:
        """Keep a receipt and tell the local users who may see it; ``False`` if it changed nothing."""
        position = await self._receipts.put(room_id, receipt_type, user_id, thread_id or "", event_id, event_stream, ts)
        if position is None:
            return False
        if receipt_type == PRIVATE:
            audience = [user_id]
        else:
            audience = [m for m in await self._rooms.members(room_id) if get_domain_from_id(m) == self._server_name]
        self._notifier.notify(RECEIPTS_STREAM, position, audience)
        return True

    async def set_read_markers(self, requester: Requester, room_id: str, markers: dict[str, Any]) -> None:
        """``POST /rooms/{roomId}/read_markers``."""
        for key in (FULLY_READ, PUBLIC, PRIVATE):
            value = markers.get(key)
            if value is None:
                continue
            if not isinstance(value, str):
                raise MatrixError("M_BAD_JSON", f"{key} must be an event ID")
            await self.send_receipt(requester, room_id, key, value, None)

    async def for_sync(self, user_id: str, room_ids: list[str], since: int, up_to: int) -> dict[str, dict[str, Any]]:
        """The ``m.receipt`` event per room for receipts after ``since`` (private ones only the user's own)."""
        by_room: dict[str, dict[str, Any]] = {}
        for receipt in await self._receipts.changed_since(room_ids, since, up_to):
            if receipt.receipt_type == PRIVATE and receipt.user_id != user_id:
                continue
            content = by_room.setdefault(receipt.room_id, {})
            entry: dict[str, Any] = {"ts": receipt.ts}
            if receipt.thread_id:
                entry["thread_id"] = receipt.thread_id
            content.setdefault(receipt.event_id, {}).setdefault(receipt.receipt_type, {})[receipt.user_id] = entry
        return {room_id: {"type": "m.receipt", "content": content} for room_id, content in by_room.items()}

    async def _check_event(self, user_id: str, room_id: str, event_id: str) -> int:
        if await self._rooms.membership(room_id, user_id) != "join":
            raise MatrixError("M_FORBIDDEN", "You are not joined to this room")
        stored = await self._events.get_event(event_id)
        if stored is None or stored.event.room_id != room_id:
            raise MatrixError("M_NOT_FOUND", "Unknown event")
        return stored.stream_ordering
