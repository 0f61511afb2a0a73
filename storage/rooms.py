"""Rooms, memberships and client transaction IDs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from storage.database import Database
from storage.read_cache import MISSING, ReadCache


@dataclass(frozen=True)
class RoomRecord:
    room_id: str
    room_version: str
    creator: str
    created_ts: int
    current_state_group: int | None
    is_public: bool


@dataclass(frozen=True)
class MembershipChange:
    event_id: str
    room_id: str
    user_id: str
    sender: str
    membership: str
    stream_ordering: int


_MEMBERSHIP_CACHE_SIZE = 50_000


class RoomStore:
    """Rooms and memberships. Each user's current memberships are cached in memory
    (every sync reads them) and dropped whenever one of them changes."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._memberships: ReadCache[str, dict[str, tuple[str, str, int]]] = ReadCache(db, "memberships", _MEMBERSHIP_CACHE_SIZE)

    async def create_room(self, room_id: str, room_version: str, creator: str, now_ms: int) -> bool:
        changed = await self.db.execute(
            "INSERT INTO rooms (room_id, room_version, creator, created_ts) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (room_id) DO NOTHING",
            room_id,
            room_version,
            creator,
            now_ms,
        )
        return changed == 1

    async def set_outside_room_version(self, room_id: str, room_version: str) -> None:
        """Correct the version of a room known only from an invite or knock, as it is joined."""
        await self.db.execute(
            "UPDATE rooms SET room_version = $2 WHERE room_id = $1 AND current_state_group IS NULL",
            room_id, room_version,
        )

    async def get_room(self, room_id: str) -> RoomRecord | None:
        row = await self.db.fetchrow(
            "SELECT room_id, room_version, creator, created_ts, current_state_group, is_public"
            " FROM rooms WHERE room_id = $1",
            room_id,
        )
        if row is None:
            return None
        return RoomRecord(
            room_id=row["room_id"],
            room_version=row["room_version"],
            creator=row["creator"],
            created_ts=row["created_ts"],
            current_state_group=row["current_state_group"],
            is_public=bool(row["is_public"]),
        )

    async def lock_room(self, room_id: str) -> RoomRecord | None:
        """Read the room and, inside a transaction, hold it until commit.

        PostgreSQL takes a row lock; SQLite's single writer already serialises
        every write transaction.
        """
        assert self.db.in_transaction, "lock_room needs a transaction"
        if self.db.dialect == "postgres":
            await self.db.execute("SELECT 1 FROM rooms WHERE room_id = $1 FOR UPDATE", room_id)
        return await self.get_room(room_id)

    async def set_join_rule(self, room_id: str, join_rule: str | None) -> None:
        await self.db.execute("UPDATE rooms SET join_rule = $2 WHERE room_id = $1", room_id, join_rule)

    async def public_rooms(self) -> list[str]:
        rows = await self.db.fetch("SELECT room_id FROM rooms WHERE is_public ORDER BY room_id")
        return [r["room_id"] for r in rows]

    async def joined_counts(self, room_ids: list[str]) -> dict[str, int]:
        if not room_ids:
            return {}
        placeholders = ", ".join(f"${i + 1}" for i in range(len(room_ids)))
        rows = await self.db.fetch(
            "SELECT room_id, COUNT(*) AS n FROM current_memberships WHERE membership = 'join'"
            f" AND room_id IN ({placeholders}) GROUP BY room_id",
            *room_ids,
        )
        return {r["room_id"]: int(r["n"]) for r in rows}

    async def set_public(self, room_id: str, is_public: bool) -> None:
        await self.db.execute("UPDATE rooms SET is_public = $2 WHERE room_id = $1", room_id, is_public)

    # -- memberships ------------------------------------------------------------------

    async def record_membership(self, change: MembershipChange) -> None:
        """Log a membership event and make it the user's current membership in the room."""
        await self.db.execute(
            "INSERT INTO room_memberships (event_id, room_id, user_id, sender, membership, stream_ordering)"
            " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (event_id) DO NOTHING",
            change.event_id,
            change.room_id,
            change.user_id,
            change.sender,
            change.membership,
            change.stream_ordering,
        )
        await self.db.execute(
            "INSERT INTO current_memberships (room_id, user_id, membership, event_id, stream_ordering)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (room_id, user_id) DO UPDATE SET"
            " membership = EXCLUDED.membership, event_id = EXCLUDED.event_id,"
            " stream_ordering = EXCLUDED.stream_ordering",
            change.room_id,
            change.user_id,
            change.membership,
            change.event_id,
            change.stream_ordering,
        )
        if change.membership in ("join", "invite", "knock"):
            await self.unforget(change.user_id, change.room_id)
        self._memberships.invalidate([change.user_id])

    async def rooms_for_user(self, user_id: str, membership: str = "join") -> list[str]:
        rows = await self.db.fetch(
            "SELECT room_id FROM current_memberships WHERE user_id = $1 AND membership = $2"
            " ORDER BY room_id",
            user_id,
            membership,
        )
        return [r["room_id"] for r in rows]

    async def current_memberships_of_user(self, user_id: str) -> dict[str, tuple[str, str, int]]:
        """``room_id -> (membership, event_id, stream_ordering)`` for every room the user touched."""
        cached = self._memberships.get(user_id)
        if cached is not MISSING:
            return dict(cached)  # type: ignore[call-overload]
        ticket = self._memberships.ticket()
        rows = await self.db.fetch(
            "SELECT room_id, membership, event_id, stream_ordering FROM current_memberships"
            " WHERE user_id = $1",
            user_id,
        )
        result = {r["room_id"]: (r["membership"], r["event_id"], r["stream_ordering"]) for r in rows}
        self._memberships.fill(ticket, user_id, result)
        return dict(result)

    async def first_join(self, room_id: str, user_id: str) -> int | None:
        """The stream position at which the user first joined the room, if ever."""
        joined = await self.db.fetchval(
            "SELECT MIN(stream_ordering) FROM room_memberships"
            " WHERE user_id = $1 AND room_id = $2 AND membership = 'join'",
            user_id,
            room_id,
        )
        return None if joined is None else int(joined)

    async def last_join_span(self, room_id: str, user_id: str) -> tuple[int, int | None] | None:
        """The user's latest stretch of membership ``join`` in the room, as stream
        positions ``(joined, ended)`` (``ended`` is the change that ended it, ``None``
        while it lasts), or ``None`` if they never joined."""
        joined = await self.db.fetchval(
            "SELECT MAX(stream_ordering) FROM room_memberships"
            " WHERE user_id = $1 AND room_id = $2 AND membership = 'join'",
            user_id,
            room_id,
        )
        if joined is None:
            return None
        ended = await self.db.fetchval(
            "SELECT MIN(stream_ordering) FROM room_memberships"
            " WHERE user_id = $1 AND room_id = $2 AND membership <> 'join' AND stream_ordering > $3",
            user_id,
            room_id,
            joined,
        )
        return int(joined), None if ended is None else int(ended)

    async def membership(self, room_id: str, user_id: str) -> str | None:
        return await self.db.fetchval(
            "SELECT membership FROM current_memberships WHERE room_id = $1 AND user_id = $2",
            room_id,
            user_id,
        )

    async def members(self, room_id: str, membership: str = "join") -> list[str]:
        rows = await self.db.fetch(
            "SELECT user_id FROM current_memberships WHERE room_id = $1 AND membership = $2"
            " ORDER BY user_id",
            room_id,
            membership,
        )
        return [r["user_id"] for r in rows]

    async def local_guests(self, room_id: str) -> list[str]:
        """This server's guest accounts joined to the room."""
        rows = await self.db.fetch(
            "SELECT m.user_id FROM current_memberships m JOIN users u ON u.user_id = m.user_id"
            " WHERE m.room_id = $1 AND m.membership = 'join' AND u.is_guest ORDER BY m.user_id",
            room_id,
        )
        return [r["user_id"] for r in rows]

    async def users_sharing_rooms(self, user_id: str) -> set[str]:
        """Everyone joined to a room the user is joined to (the user included)."""
        rows = await self.db.fetch(
            "SELECT DISTINCT other.user_id FROM current_memberships mine"
            " JOIN current_memberships other ON other.room_id = mine.room_id"
            " WHERE mine.user_id = $1 AND mine.membership = 'join' AND other.membership = 'join'",
            user_id,
        )
        return {r["user_id"] for r in rows} | {user_id}

    async def users_in_public_rooms(self) -> set[str]:
        """Users joined to rooms whose join rule is public."""
        rows = await self.db.fetch(
            "SELECT DISTINCT m.user_id FROM current_memberships m JOIN rooms r ON r.room_id = m.room_id"
            " WHERE m.membership = 'join' AND r.join_rule = 'public'"
        )
        return {r["user_id"] for r in rows}

    async def member_summary(self, room_id: str, exclude: str, limit: int = 5) -> tuple[int, int, list[str]]:
        """``(joined, invited, heroes)``: member counts and up to ``limit`` other members
        (joined or invited, else former members), oldest membership first."""
        rows = await self.db.fetch(
            "SELECT user_id, membership FROM current_memberships WHERE room_id = $1"
            " ORDER BY stream_ordering",
            room_id,
        )
        joined = sum(1 for r in rows if r["membership"] == "join")
        invited = sum(1 for r in rows if r["membership"] == "invite")
        present = [r["user_id"] for r in rows if r["membership"] in ("join", "invite") and r["user_id"] != exclude]
        former = [r["user_id"] for r in rows if r["membership"] in ("leave", "ban") and r["user_id"] != exclude]
        return joined, invited, (present or former)[:limit]

    async def membership_changes_since(self, user_id: str, since: int, up_to: int) -> list[MembershipChange]:
        rows = await self.db.fetch(
            "SELECT event_id, room_id, user_id, sender, membership, stream_ordering"
            " FROM room_memberships WHERE user_id = $1 AND stream_ordering > $2"
            " AND stream_ordering <= $3 ORDER BY stream_ordering",
            user_id,
            since,
            up_to,
        )
        return [MembershipChange(**dict(r)) for r in rows]

    async def membership_changes_in_rooms(self, room_ids: list[str], since: int, up_to: int) -> list[MembershipChange]:
        """Every membership change in the given rooms after ``since`` up to ``up_to``."""
        if not room_ids:
            return []
        placeholders = ", ".join(f"${i + 3}" for i in range(len(room_ids)))
        rows = await self.db.fetch(
            "SELECT event_id, room_id, user_id, sender, membership, stream_ordering"
            " FROM room_memberships WHERE stream_ordering > $1 AND stream_ordering <= $2"
            f" AND room_id IN ({placeholders}) ORDER BY stream_ordering",
            since,
            up_to,
            *room_ids,
        )
        return [MembershipChange(**dict(r)) for r in rows]

    async def set_invite_state(
        self, room_id: str, user_id: str, state: list[dict[str, Any]], *, knocked_via: str | None = None
    ) -> None:
        """Keep the preview state another server sent with an invite or a knock, and the
        server a knock went through."""
        await self.db.execute(
            "INSERT INTO remote_invite_state (room_id, user_id, state, knocked_via) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (room_id, user_id) DO UPDATE SET state = EXCLUDED.state, knocked_via = EXCLUDED.knocked_via",
            room_id, user_id, orjson.dumps(state).decode(), knocked_via,
        )

    async def knocked_via(self, room_id: str, user_id: str) -> str | None:
        """The server through which the user knocked on a room this server is not in."""
        return await self.db.fetchval(
            "SELECT knocked_via FROM remote_invite_state WHERE room_id = $1 AND user_id = $2", room_id, user_id
        )

    async def invite_state(self, room_id: str, user_id: str) -> list[dict[str, Any]]:
        raw = await self.db.fetchval(
            "SELECT state FROM remote_invite_state WHERE room_id = $1 AND user_id = $2", room_id, user_id
        )
        return orjson.loads(raw) if raw is not None else []

    async def forget(self, user_id: str, room_id: str) -> None:
        await self.db.execute(
            "INSERT INTO forgotten_rooms (user_id, room_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            user_id,
            room_id,
        )

    async def unforget(self, user_id: str, room_id: str) -> None:
        await self.db.execute(
            "DELETE FROM forgotten_rooms WHERE user_id = $1 AND room_id = $2", user_id, room_id
        )

    async def forgotten_rooms(self, user_id: str) -> set[str]:
        rows = await self.db.fetch("SELECT room_id FROM forgotten_rooms WHERE user_id = $1", user_id)
        return {r["room_id"] for r in rows}

    # -- transaction IDs ----------------------------------------------------------------

    async def get_txn_event(self, user_id: str, device_id: str, txn_id: str) -> str | None:
        return await self.db.fetchval(
            "SELECT event_id FROM event_txn_ids WHERE user_id = $1 AND device_id = $2 AND txn_id = $3",
            user_id,
            device_id,
            txn_id,
        )

    async def txn_ids_for_device(self, user_id: str, device_id: str, event_ids: list[str]) -> dict[str, str]:
        """``event_id -> txn_id`` for those of ``event_ids`` this device sent."""
        if not event_ids:
            return {}
        placeholders = ", ".join(f"${i + 3}" for i in range(len(event_ids)))
        rows = await self.db.fetch(
            "SELECT event_id, txn_id FROM event_txn_ids WHERE user_id = $1 AND device_id = $2"
            f" AND event_id IN ({placeholders})",
            user_id,
            device_id,
            *event_ids,
        )
        return {r["event_id"]: r["txn_id"] for r in rows}

    async def record_txn(self, user_id: str, device_id: str, txn_id: str, event_id: str, now_ms: int) -> None:
        await self.db.execute(
            "INSERT INTO event_txn_ids (user_id, device_id, txn_id, event_id, created_ts)"
            " VALUES ($1, $2, $3, $4, $5)",
            user_id,
            device_id,
            txn_id,
            event_id,
            now_ms,
        )


class AliasStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, alias: str, room_id: str, creator: str, now_ms: int) -> bool:
        """Map an alias to a room; ``False`` if the alias is taken."""
        changed = await self.db.execute(
            "INSERT INTO room_aliases (alias, room_id, creator, created_ts) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (alias) DO NOTHING",
            alias,
            room_id,
            creator,
            now_ms,
        )
        return changed == 1

    async def get(self, alias: str) -> tuple[str, str] | None:
        """``(room_id, creator)`` of an alias."""
        row = await self.db.fetchrow("SELECT room_id, creator FROM room_aliases WHERE alias = $1", alias)
        return (row["room_id"], row["creator"]) if row else None

    async def delete(self, alias: str) -> bool:
        return await self.db.execute("DELETE FROM room_aliases WHERE alias = $1", alias) == 1

    async def for_room(self, room_id: str) -> list[str]:
        rows = await self.db.fetch(
            "SELECT alias FROM room_aliases WHERE room_id = $1 ORDER BY alias", room_id
        )
        return [r["alias"] for r in rows]
