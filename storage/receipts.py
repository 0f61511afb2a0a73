"""Read receipts and presence."""

from __future__ import annotations

from dataclasses import dataclass

from storage.database import Database
from storage.read_cache import MISSING, ReadCache
from storage.streams import next_position

RECEIPTS_STREAM = "receipts"
PRESENCE_STREAM = "presence"


@dataclass(frozen=True)
class Receipt:
    room_id: str
    receipt_type: str
    user_id: str
    thread_id: str
    event_id: str
    event_stream: int
    ts: int
    stream_id: int


_RECEIPT_COLUMNS = "room_id, receipt_type, user_id, thread_id, event_id, event_stream, ts, stream_id"


class ReceiptStore:
    """Receipts; each user's receipts in a room are cached (unread counts read them
    on every sync) and dropped when the user sends a new one."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._mine: ReadCache[tuple[str, str], list[Receipt]] = ReadCache(db, "own_receipts", 50_000)

    async def put(
        self, room_id: str, receipt_type: str, user_id: str, thread_id: str, event_id: str, event_stream: int, ts: int
    ) -> int | None:
        """Store a receipt unless it would move backwards; its stream position, or ``None``."""
        async with self.db.transaction("put_receipt"):
            current = await self.db.fetchval(
                "SELECT event_stream FROM receipts WHERE room_id = $1 AND receipt_type = $2"
                " AND user_id = $3 AND thread_id = $4",
                room_id,
                receipt_type,
                user_id,
                thread_id,
            )
            if current is not None and current >= event_stream:
                return None
            position = await next_position(self.db, RECEIPTS_STREAM)
            await self.db.execute(
                f"INSERT INTO receipts ({_RECEIPT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                " ON CONFLICT (room_id, receipt_type, user_id, thread_id) DO UPDATE SET"
                " event_id = EXCLUDED.event_id, event_stream = EXCLUDED.event_stream,"
                " ts = EXCLUDED.ts, stream_id = EXCLUDED.stream_id",
                room_id,
                receipt_type,
                user_id,
                thread_id,
                event_id,
                event_stream,
                ts,
                position,
            )
        self._mine.invalidate([(user_id, room_id)])
        return position

    async def changed_since(self, room_ids: list[str], since: int, up_to: int) -> list[Receipt]:
        if not room_ids:
            return []
        placeholders = ", ".join(f"${i + 3}" for i in range(len(room_ids)))
        rows = await self.db.fetch(
            f"SELECT {_RECEIPT_COLUMNS} FROM receipts WHERE stream_id > $1 AND stream_id <= $2"
            f" AND room_id IN ({placeholders}) ORDER BY stream_id",
            since,
            up_to,
            *room_ids,
        )
        return [Receipt(**dict(r)) for r in rows]

    async def for_user(self, user_id: str, room_id: str) -> list[Receipt]:
        key = (user_id, room_id)
        cached = self._mine.get(key)
        if cached is not MISSING:
            return cached  # type: ignore[return-value]
        ticket = self._mine.ticket()
        rows = await self.db.fetch(
            f"SELECT {_RECEIPT_COLUMNS} FROM receipts WHERE user_id = $1 AND room_id = $2", user_id, room_id
        )
        receipts = [Receipt(**dict(r)) for r in rows]
        self._mine.fill(ticket, key, receipts)
        return receipts


@dataclass(frozen=True)
class PresenceRecord:
    user_id: str
    state: str
    status_msg: str | None
    last_active_ts: int
    stream_id: int


class PresenceStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, user_id: str) -> PresenceRecord | None:
        row = await self.db.fetchrow(
            "SELECT user_id, state, status_msg, last_active_ts, stream_id FROM presence WHERE user_id = $1", user_id
        )
        return PresenceRecord(**dict(row)) if row else None

    async def put(self, user_id: str, state: str, status_msg: str | None, last_active_ts: int) -> int:
        async with self.db.transaction("put_presence"):
            position = await next_position(self.db, PRESENCE_STREAM)
            await self.db.execute(
                "INSERT INTO presence (user_id, state, status_msg, last_active_ts, stream_id)"
                " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id) DO UPDATE SET state = EXCLUDED.state,"
                " status_msg = EXCLUDED.status_msg, last_active_ts = EXCLUDED.last_active_ts,"
                " stream_id = EXCLUDED.stream_id",
                user_id,
                state,
                status_msg,
                last_active_ts,
                position,
            )
        return position

    async def changed_since(self, user_ids: list[str], since: int, up_to: int) -> list[PresenceRecord]:
        if not user_ids:
            return []
        placeholders = ", ".join(f"${i + 3}" for i in range(len(user_ids)))
        rows = await self.db.fetch(
            "SELECT user_id, state, status_msg, last_active_ts, stream_id FROM presence"
            f" WHERE stream_id > $1 AND stream_id <= $2 AND user_id IN ({placeholders})",
            since,
            up_to,
            *user_ids,
        )
        return [PresenceRecord(**dict(r)) for r in rows]
