"""Users and their profile fields."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from storage import like
from storage.database import Database, Row


@dataclass(frozen=True)
class UserRecord:
    user_id: str
    password_hash: str | None
    is_admin: bool
    is_guest: bool
    deactivated: bool
    created_ts: int


#: ``order_by`` values of the admin users list and the columns they sort on. Hearth has
#: no user types and no shadow bans, so every user ties on those (``None``: by user ID).
USER_ORDERS: dict[str, str | None] = {
    "name": "user_id",
    "is_guest": "is_guest",
    "admin": "is_admin",
    "deactivated": "deactivated",
    "creation_ts": "created_ts",
    "user_type": None,
    "shadow_banned": None,
}


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

    async def upgrade_guest(self, user_id: str, password_hash: str) -> bool:
        """A guest becomes a full user with this password; ``False`` if not a guest (any more)."""
        changed = await self.db.execute(
            "UPDATE users SET is_guest = FALSE, password_hash = $2 WHERE user_id = $1 AND is_guest AND NOT deactivated",
            user_id,
            password_hash,
        )
        return changed == 1

    async def set_suspended(self, user_id: str, suspended: bool) -> None:
        await self.db.execute("UPDATE users SET suspended = $2 WHERE user_id = $1", user_id, suspended)

    async def is_suspended(self, user_id: str) -> bool:
        return bool(await self.db.fetchval("SELECT suspended FROM users WHERE user_id = $1", user_id))

    async def set_admin(self, user_id: str, is_admin: bool) -> None:
        await self.db.execute("UPDATE users SET is_admin = $2 WHERE user_id = $1", user_id, is_admin)

    async def mark_deactivated(self, user_id: str) -> None:
        await self.db.execute(
            "UPDATE users SET deactivated = TRUE, password_hash = NULL WHERE user_id = $1", user_id
        )

    async def list_users(
        self,
        *,
        offset: int,
        limit: int,
        server_name: str,
        name_contains: str | None = None,
        user_id_contains: str | None = None,
        include_deactivated: bool = False,
        include_guests: bool = True,
        admins: bool | None = None,
        order_by: str = "name",
        descending: bool = False,
    ) -> tuple[list[UserRecord], int]:
        """A page of users and the total matching (Synapse's admin users list).

        ``name_contains`` matches the localpart or the display name, ``user_id_contains``
        the user ID (both ignoring ASCII case); ``admins`` ``None`` keeps both admins and
        others. ``order_by`` is a
        key of :data:`USER_ORDERS`; ties are broken by ascending user ID.
        """
        conditions, args = [], []
        if name_contains:
            needle = name_contains.lower()
            args.append(f"@{like.contains(needle)}:{like.escape(server_name.lower())}")
            args.append(like.contains(json.dumps(needle)[1:-1]))  # display names are stored as JSON
            conditions.append(
                f"(LOWER(user_id) LIKE ${len(args) - 1} ESCAPE '\\' OR EXISTS (SELECT 1 FROM profile_fields p"
                f" WHERE p.user_id = users.user_id AND p.field = 'displayname'"
                f" AND LOWER(p.value) LIKE ${len(args)} ESCAPE '\\'))"
            )
        elif user_id_contains:
            args.append(like.contains(user_id_contains.lower()))
            conditions.append(f"LOWER(user_id) LIKE ${len(args)} ESCAPE '\\'")
        if not include_deactivated:
            conditions.append("NOT deactivated")
        if not include_guests:
            conditions.append("NOT is_guest")
        if admins is not None:
            conditions.append("is_admin" if admins else "NOT is_admin")
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        column = USER_ORDERS[order_by]
        order = f"{column} {'DESC' if descending else 'ASC'}, user_id ASC" if column else "user_id ASC"
        total = await self.db.fetchval(f"SELECT COUNT(*) AS n FROM users{where}", *args)
        rows = await self.db.fetch(
            "SELECT user_id, password_hash, is_admin, is_guest, deactivated, created_ts"
            f" FROM users{where} ORDER BY {order} LIMIT ${len(args) + 1} OFFSET ${len(args) + 2}",
            *args,
            limit,
            offset,
        )
        return [_user(r) for r in rows], int(total)

    async def reactivate(self, user_id: str, password_hash: str) -> None:
        await self.db.execute(
            "UPDATE users SET deactivated = FALSE, password_hash = $2 WHERE user_id = $1", user_id, password_hash
        )

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
