"""Global and per-room account data, and saved sync filters."""

from __future__ import annotations

import json
from typing import Any

from storage.database import Database
from storage.read_cache import MISSING, ReadCache
from storage.streams import next_position

ACCOUNT_DATA_STREAM = "account_data"


_CACHE_SIZE = 50_000


class AccountDataStore:
    """Account data; single entries are cached in memory (sync reads some on every
    request) and dropped whenever they are written."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._cache: ReadCache[tuple[str, str, str], dict[str, Any] | None] = ReadCache(db, "account_data", _CACHE_SIZE)

    def _forget(self, user_id: str, room_id: str | None = None, data_type: str | None = None) -> None:
        if room_id is not None and data_type is not None:
            self._cache.invalidate([(user_id, room_id, data_type)])
        else:
            self._cache.invalidate_where(lambda key, _value: key[0] == user_id)

    async def put(self, user_id: str, room_id: str, data_type: str, content: dict[str, Any]) -> int:
        """Store account data (``room_id`` ``""`` for global); return its stream position."""
        async with self.db.transaction("put_account_data"):
            position = await next_position(self.db, ACCOUNT_DATA_STREAM)
            await self.db.execute(
                "INSERT INTO account_data (user_id, room_id, data_type, content, stream_id)"
                " VALUES ($1, $2, $3, $4, $5)"
                " ON CONFLICT (user_id, room_id, data_type)"
                " DO UPDATE SET content = EXCLUDED.content, stream_id = EXCLUDED.stream_id",
                user_id,
                room_id,
                data_type,
                json.dumps(content),
                position,
            )
        self._forget(user_id, room_id, data_type)
        return position

    async def get(self, user_id: str, room_id: str, data_type: str) -> dict[str, Any] | None:
        key = (user_id, room_id, data_type)
        cached = self._cache.get(key)
        if cached is not MISSING:
            return dict(cached) if cached is not None else None  # type: ignore[call-overload]
        ticket = self._cache.ticket()
        raw = await self.db.fetchval(
            "SELECT content FROM account_data WHERE user_id = $1 AND room_id = $2 AND data_type = $3",
            user_id,
            room_id,
            data_type,
        )
        value = json.loads(raw) if raw is not None else None
        self._cache.fill(ticket, key, value)
        return dict(value) if value is not None else None

    async def changed_since(
        self, user_id: str, since: int
    ) -> list[tuple[str, str, dict[str, Any]]]:
        """``(room_id, type, content)`` of everything changed after stream position ``since``."""
        rows = await self.db.fetch(
            "SELECT room_id, data_type, content FROM account_data"
            " WHERE user_id = $1 AND stream_id > $2 ORDER BY stream_id",
            user_id,
            since,
        )
        return [(r["room_id"], r["data_type"], json.loads(r["content"])) for r in rows]

    async def delete_all(self, user_id: str) -> None:
        await self.db.execute("DELETE FROM account_data WHERE user_id = $1", user_id)
        self._forget(user_id)


class FilterStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(self, user_id: str, filter_json: dict[str, Any]) -> int:
        return int(
            await self.db.fetchval(
                "INSERT INTO filters (user_id, filter_json) VALUES ($1, $2) RETURNING id",
                user_id,
                json.dumps(filter_json),
            )
        )

    async def get(self, user_id: str, filter_id: int) -> dict[str, Any] | None:
        raw = await self.db.fetchval(
            "SELECT filter_json FROM filters WHERE user_id = $1 AND id = $2", user_id, filter_id
        )
        return json.loads(raw) if raw is not None else None
