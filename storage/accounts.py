"""Users and their profile fields."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from storage.database import Database, Row


@dataclass(frozen=True)
class UserRecord:
    user_id: str
    password_hash: str | None
    is_admin: bool
    is_guest: bool
    deactivated: bool
    created_ts: int


def _user(row: Row) -> UserRecord:
    return UserRecord(
        user_id=row["user_id"],
        password_hash=row["password_hash"],
        is_admin=bool(row["is_admin"]),
        is_guest=bool(row["is_guest"]),
        deactivated=bool(row["deactivated"]),
        created_ts=row["created_ts"],
    )


class AccountStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create_user(
        self,
        user_id: str,
        password_hash: str | None,
        *,
        now_ms: int,
        is_admin: bool = False,
        is_guest: bool = False,
    ) -> bool:
        """Insert a user; ``False`` when the user ID is taken (no exception, no partial row)."""
        changed = await self.db.execute(
            "INSERT INTO users (user_id, password_hash, is_admin, is_guest, created_ts)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id) DO NOTHING",
            user_id,
            password_hash,
            is_admin,
            is_guest,
            now_ms,
        )
        return changed == 1

    async def get_user(self, user_id: str) -> UserRecord | None:
        row = await self.db.fetchrow(
            "SELECT user_id, password_hash, is_admin, is_guest, deactivated, created_ts"
            " FROM users WHERE user_id = $1",
            user_id,
        )
        return _user(row) if row else None

    async def user_exists(self, user_id: str) -> bool:
        return await self.db.fetchval("SELECT 1 FROM users WHERE user_id = $1", user_id) is not None

    async def set_password_hash(self, user_id: str, password_hash: str | None) -> None:
        await self.db.execute(
            "UPDATE users SET password_hash = $2 WHERE user_id = $1", user_id, password_hash
        )

    async def upgrade_guest(self, user_id: str, password_hash: str) -> bool:
        """A guest becomes a full user with this password; ``False`` if not a guest (any more)."""
        changed = await self.db.execute(
            "UPDATE users SET is_guest = FALSE, password_hash = $2 WHERE user_id = $1 AND is_guest AND NOT deactivated",
            user_id,
            password_hash,
        )
        return changed == 1

    async def set_admin(self, user_id: str, is_admin: bool) -> None:
        await self.db.execute("UPDATE users SET is_admin = $2 WHERE user_id = $1", user_id, is_admin)

    async def mark_deactivated(self, user_id: str) -> None:
        await self.db.execute(
            "UPDATE users SET deactivated = TRUE, password_hash = NULL WHERE user_id = $1", user_id
        )

    async def list_users(
        self, *, offset: int, limit: int, name_contains: str | None, include_deactivated: bool
    ) -> tuple[list[UserRecord], int]:
        """A page of users ordered by ID, and the total matching."""
        conditions, args = [], []
        if name_contains:
            args.append(f"%{name_contains}%")
            conditions.append(f"user_id LIKE ${len(args)}")
        if not include_deactivated:
            conditions.append("NOT deactivated")
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        total = await self.db.fetchval(f"SELECT COUNT(*) AS n FROM users{where}", *args)
        rows = await self.db.fetch(
            "SELECT user_id, password_hash, is_admin, is_guest, deactivated, created_ts"
            f" FROM users{where} ORDER BY user_id LIMIT ${len(args) + 1} OFFSET ${len(args) + 2}",
            *args,
            limit,
            offset,
        )
        return [_user(r) for r in rows], int(total)

    # -- profile ----------------------------------------------------------------------

    async def get_profile(self, user_id: str) -> dict[str, Any]:
        rows = await self.db.fetch(
            "SELECT field, value FROM profile_fields WHERE user_id = $1 ORDER BY field", user_id
        )
        return {row["field"]: json.loads(row["value"]) for row in rows}

    async def set_profile_field(self, user_id: str, field: str, value: Any) -> None:
        await self.db.execute(
            "INSERT INTO profile_fields (user_id, field, value) VALUES ($1, $2, $3)"
            " ON CONFLICT (user_id, field) DO UPDATE SET value = EXCLUDED.value",
            user_id,
            field,
            json.dumps(value),
        )

    async def delete_profile_field(self, user_id: str, field: str) -> None:
        await self.db.execute(
            "DELETE FROM profile_fields WHERE user_id = $1 AND field = $2", user_id, field
        )

    async def clear_profile(self, user_id: str) -> None:
        await self.db.execute("DELETE FROM profile_fields WHERE user_id = $1", user_id)
