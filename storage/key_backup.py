"""Server-side key backups: versions and the encrypted session keys stored in them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from storage.database import Database


@dataclass(frozen=True)
class BackupVersion:
    version: int
    algorithm: str
    auth_data: dict[str, Any]
    etag: int
    count: int


@dataclass(frozen=True)
class BackedUpSession:
    room_id: str
    session_id: str
    first_message_index: int
    forwarded_count: int
    is_verified: bool
    session_data: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {
            "first_message_index": self.first_message_index,
            "forwarded_count": self.forwarded_count,
            "is_verified": self.is_verified,
            "session_data": self.session_data,
        }


class KeyBackupStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create_version(self, user_id: str, algorithm: str, auth_data: dict[str, Any]) -> int:
        """A new backup version (inside a transaction), newer than every earlier one."""
        latest = await self.db.fetchval(
            "SELECT MAX(version) FROM key_backup_versions WHERE user_id = $1", user_id
        )
        version = int(latest or 0) + 1
        await self.db.execute(
            "INSERT INTO key_backup_versions (user_id, version, algorithm, auth_data) VALUES ($1, $2, $3, $4)",
            user_id, version, algorithm, orjson.dumps(auth_data).decode(),
        )
        return version

    async def get_version(self, user_id: str, version: int | None = None) -> BackupVersion | None:
        """A live backup version, or the newest one when ``version`` is ``None``."""
        row = await self.db.fetchrow(
            "SELECT v.version, v.algorithm, v.auth_data, v.etag,"
            " (SELECT COUNT(*) FROM key_backup_sessions s WHERE s.user_id = v.user_id AND s.version = v.version)"
            " AS count FROM key_backup_versions v WHERE v.user_id = $1 AND NOT v.deleted"
            + (" AND v.version = $2" if version is not None else " ORDER BY v.version DESC LIMIT 1"),
            *((user_id, version) if version is not None else (user_id,)),
        )
        if row is None:
            return None
        return BackupVersion(
            int(row["version"]), row["algorithm"], orjson.loads(row["auth_data"]), int(row["etag"]), int(row["count"])
        )

    async def set_auth_data(self, user_id: str, version: int, auth_data: dict[str, Any]) -> None:
        await self.db.execute(
            "UPDATE key_backup_versions SET auth_data = $3 WHERE user_id = $1 AND version = $2",
            user_id, version, orjson.dumps(auth_data).decode(),
        )

    async def delete_version(self, user_id: str, version: int) -> bool:
        """Delete a version and its keys (inside a transaction); ``False`` if it never existed."""
        changed = await self.db.execute(
            "UPDATE key_backup_versions SET deleted = TRUE WHERE user_id = $1 AND version = $2",
            user_id, version,
        )
        await self.db.execute(
            "DELETE FROM key_backup_sessions WHERE user_id = $1 AND version = $2", user_id, version
        )
        return changed == 1

    async def bump_etag(self, user_id: str, version: int) -> None:
        await self.db.execute(
            "UPDATE key_backup_versions SET etag = etag + 1 WHERE user_id = $1 AND version = $2", user_id, version
        )

    async def sessions(
        self, user_id: str, version: int, room_id: str | None = None, session_id: str | None = None
    ) -> list[BackedUpSession]:
        where, args = _scope(user_id, version, room_id, session_id)
        rows = await self.db.fetch(
            "SELECT room_id, session_id, first_message_index, forwarded_count, is_verified, session_data"
            f" FROM key_backup_sessions WHERE {where}",
            *args,
        )
        return [
            BackedUpSession(
                r["room_id"], r["session_id"], int(r["first_message_index"]), int(r["forwarded_count"]),
                bool(r["is_verified"]), orjson.loads(r["session_data"]),
            )
            for r in rows
        ]

    async def put_sessions(self, user_id: str, version: int, sessions: list[BackedUpSession]) -> None:
        await self.db.executemany(
            "INSERT INTO key_backup_sessions (user_id, version, room_id, session_id, first_message_index,"
            " forwarded_count, is_verified, session_data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            " ON CONFLICT (user_id, version, room_id, session_id) DO UPDATE SET"
            " first_message_index = EXCLUDED.first_message_index, forwarded_count = EXCLUDED.forwarded_count,"
            " is_verified = EXCLUDED.is_verified, session_data = EXCLUDED.session_data",
            [
                (user_id, version, s.room_id, s.session_id, s.first_message_index, s.forwarded_count,
                 s.is_verified, orjson.dumps(s.session_data).decode())
                for s in sessions
            ],
        )

    async def delete_sessions(
        self, user_id: str, version: int, room_id: str | None = None, session_id: str | None = None
    ) -> None:
        where, args = _scope(user_id, version, room_id, session_id)
        await self.db.execute(f"DELETE FROM key_backup_sessions WHERE {where}", *args)


def _scope(user_id: str, version: int, room_id: str | None, session_id: str | None) -> tuple[str, list[Any]]:
    """The WHERE clause for a backup, one room of it, or one session."""
    where = "user_id = $1 AND version = $2"
    args: list[Any] = [user_id, version]
    if room_id is not None:
        where += " AND room_id = $3"
        args.append(room_id)
        if session_id is not None:
            where += " AND session_id = $4"
            args.append(session_id)
    return where, args
