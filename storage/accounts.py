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
    """Users and profiles; the (rarely changing) set of erased users is kept in memory."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._erased: dict[str, int] | None = None
        self._erasures = 0  # bumped by each committed erasure, so a read racing one is not cached

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

    # -- erasure ----------------------------------------------------------------------

    async def erase(self, user_id: str, stream_ordering: int) -> None:
        """Remember that the user was erased at this events-stream position."""
        await self.db.execute(
            "INSERT INTO erased_users (user_id, stream_ordering) VALUES ($1, $2) ON CONFLICT (user_id) DO NOTHING",
            user_id,
            stream_ordering,
        )
        self.db.after_commit(self._forget_erased)

    def _forget_erased(self) -> None:
        self._erased = None
        self._erasures += 1

    async def erased_users(self) -> dict[str, int]:
        """Erased users and the events-stream position of their erasure."""
        if self._erased is None:
            seen = self._erasures
            rows = await self.db.fetch("SELECT user_id, stream_ordering FROM erased_users")
            erased = {r["user_id"]: int(r["stream_ordering"]) for r in rows}
            if self.db.in_transaction or seen != self._erasures:
                return erased
            self._erased = erased
        return self._erased
