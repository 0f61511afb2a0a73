"""Send-to-device inboxes: messages wait here until their device's sync acknowledges them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from storage.database import Database, IntegrityError
from storage.streams import next_position

TO_DEVICE_STREAM = "to_device"


@dataclass(frozen=True)
class ToDeviceMessage:
    user_id: str
    device_id: str
    sender: str
    type: str
    content: dict[str, Any]


class ToDeviceStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def claim_txn(self, user_id: str, device_id: str, txn_id: str, now_ms: int) -> bool:
        """Record a sender's transaction ID (inside a transaction); ``False`` if it was seen before."""
        try:
            inserted = await self.db.execute(
                "INSERT INTO to_device_txns (user_id, device_id, txn_id, created_ts) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT DO NOTHING",
                user_id, device_id, txn_id, now_ms,
            )
        except IntegrityError:  # the sending device was deleted meanwhile
            return False
        return inserted == 1

    async def claim_remote_message(self, sender: str, message_id: str, now_ms: int) -> bool:
        """Record a remote sender's to-device ``message_id`` (inside a transaction); ``False``
        if it was delivered before."""
        inserted = await self.db.execute(
            "INSERT INTO inbound_to_device (sender, message_id, received_ts) VALUES ($1, $2, $3)"
            " ON CONFLICT DO NOTHING",
            sender, message_id, now_ms,
        )
        return inserted == 1

    async def add(self, messages: list[ToDeviceMessage]) -> int:
        """Queue messages (inside a transaction) at one new stream position; return it."""
        position = await next_position(self.db, TO_DEVICE_STREAM)
        await self.db.executemany(
            "INSERT INTO to_device_inbox (user_id, device_id, stream_id, sender, type, content)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            [(m.user_id, m.device_id, position, m.sender, m.type, orjson.dumps(m.content).decode()) for m in messages],
        )
        return position

    async def pending(self, user_id: str, device_id: str, after: int, up_to: int, limit: int) -> list[tuple[int, dict[str, Any]]]:
        """Messages for a device after ``after`` up to ``up_to``, oldest first, as (position, event)."""
        rows = await self.db.fetch(
            "SELECT stream_id, sender, type, content FROM to_device_inbox"
            " WHERE user_id = $1 AND device_id = $2 AND stream_id > $3 AND stream_id <= $4"
            " ORDER BY stream_id LIMIT $5",
            user_id, device_id, after, up_to, limit,
        )
        return [
            (int(r["stream_id"]), {"sender": r["sender"], "type": r["type"], "content": orjson.loads(r["content"])})
            for r in rows
        ]

    async def acknowledge(self, user_id: str, device_id: str, up_to: int) -> None:
        """Delete the messages a device has received (those at or before ``up_to``)."""
        await self.db.execute(
            "DELETE FROM to_device_inbox WHERE user_id = $1 AND device_id = $2 AND stream_id <= $3",
            user_id, device_id, up_to,
        )

    async def delete_old_txns(self, before_ms: int) -> None:
        await self.db.execute("DELETE FROM to_device_txns WHERE created_ts < $1", before_ms)

    async def delete_old_remote_messages(self, before_ms: int) -> None:
        await self.db.execute("DELETE FROM inbound_to_device WHERE received_ts < $1", before_ms)
