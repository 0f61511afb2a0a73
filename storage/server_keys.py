"""Other servers' signing keys and the key responses they came in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from storage.database import Database


@dataclass(frozen=True)
class StoredKey:
    verify_key: str
    valid_until_ts: int
    is_old: bool


class ServerKeyStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get_key(self, server_name: str, key_id: str) -> StoredKey | None:
        row = await self.db.fetchrow(
            "SELECT verify_key, valid_until_ts, is_old FROM server_keys WHERE server_name = $1 AND key_id = $2",
            server_name, key_id,
        )
        return StoredKey(row["verify_key"], int(row["valid_until_ts"]), bool(row["is_old"])) if row else None

    async def store_response(
        self, server_name: str, response: dict[str, Any], keys: list[tuple[str, str, int, bool]], now_ms: int
    ) -> None:
        """Keep a verified key response and its keys ``(key_id, key, valid_until_ts, is_old)``.

        A key already known is only extended, never shortened: an older response
        arriving late (say, through a notary) does not undo a newer one.
        """
        valid_until = max((k[2] for k in keys if not k[3]), default=0)
        async with self.db.transaction("store_server_keys"):
            await self.db.executemany(
                "INSERT INTO server_keys (server_name, key_id, verify_key, valid_until_ts, is_old, fetched_ts)"
                " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (server_name, key_id) DO UPDATE SET"
                " valid_until_ts = CASE WHEN server_keys.verify_key = EXCLUDED.verify_key"
                " AND server_keys.valid_until_ts > EXCLUDED.valid_until_ts THEN server_keys.valid_until_ts"
                " ELSE EXCLUDED.valid_until_ts END,"
                " verify_key = EXCLUDED.verify_key, is_old = EXCLUDED.is_old, fetched_ts = EXCLUDED.fetched_ts",
                [(server_name, key_id, key, until, old, now_ms) for key_id, key, until, old in keys],
            )
            await self.db.execute(
                "INSERT INTO server_key_responses (server_name, response, valid_until_ts, fetched_ts)"
                " VALUES ($1, $2, $3, $4) ON CONFLICT (server_name) DO UPDATE SET response = EXCLUDED.response,"
                " valid_until_ts = EXCLUDED.valid_until_ts, fetched_ts = EXCLUDED.fetched_ts"
                " WHERE server_key_responses.valid_until_ts <= EXCLUDED.valid_until_ts",
                server_name, orjson.dumps(response).decode(), valid_until, now_ms,
            )

    async def get_response(self, server_name: str) -> tuple[dict[str, Any], int] | None:
        """The latest stored key response of a server, with its ``valid_until_ts``."""
        row = await self.db.fetchrow(
            "SELECT response, valid_until_ts FROM server_key_responses WHERE server_name = $1", server_name
        )
        return (orjson.loads(row["response"]), int(row["valid_until_ts"])) if row else None
