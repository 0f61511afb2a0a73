"""Devices and the access and refresh tokens bound to them.

Tokens are stored as SHA-256 hashes only; a database dump does not let anyone
act as a user.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from storage.database import Database, Row
from storage.read_cache import MISSING, ReadCache


@dataclass(frozen=True)
class DeviceRecord:
    user_id: str
    device_id: str
    display_name: str | None
    last_seen_ts: int | None
    last_seen_ip: str | None
    last_seen_user_agent: str | None


@dataclass(frozen=True)
class AccessTokenRecord:
    id: int
    user_id: str
    device_id: str
    expires_ts: int | None
    refresh_token_id: int | None
    used: bool
    is_admin: bool
    is_guest: bool
    deactivated: bool


@dataclass(frozen=True)
class RefreshTokenRecord:
    id: int
    user_id: str
    device_id: str
    expires_ts: int | None
    prev_id: int | None
    next_id: int | None


def _device(row: Row) -> DeviceRecord:
    return DeviceRecord(
        user_id=row["user_id"],
        device_id=row["device_id"],
        display_name=row["display_name"],
        last_seen_ts=row["last_seen_ts"],
        last_seen_ip=row["last_seen_ip"],
        last_seen_user_agent=row["last_seen_user_agent"],
    )


_DEVICE_COLUMNS = (
    "user_id, device_id, display_name, last_seen_ts, last_seen_ip, last_seen_user_agent"
)


_TOKEN_CACHE_SIZE = 10_000


class DeviceStore:
    """Devices and tokens. Access-token lookups are cached in memory (they run on
    every request); every method that deletes or changes tokens or the flags
    they carry invalidates the affected entries (see :mod:`storage.read_cache`:
    a revoked token fails from the moment its revocation commits, even while
    other requests are reading it)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._tokens: ReadCache[str, AccessTokenRecord] = ReadCache(db, "access_tokens", _TOKEN_CACHE_SIZE)

    def forget_cached_tokens(self, user_id: str) -> None:
        """Drop cached tokens of a user whose flags (admin, deactivated) changed."""
        self._forget_token_ids(lambda r: r.user_id == user_id)

    # -- devices ----------------------------------------------------------------------

    async def ensure_device(
        self, user_id: str, device_id: str, display_name: str | None, now_ms: int
    ) -> bool:
        """Create the device unless it exists; ``True`` when it was created."""
        changed = await self.db.execute(
            "INSERT INTO devices (user_id, device_id, display_name, created_ts)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, device_id) DO NOTHING",
            user_id,
            device_id,
            display_name,
            now_ms,
        )
        return changed == 1

    async def get_device(self, user_id: str, device_id: str) -> DeviceRecord | None:
        row = await self.db.fetchrow(
            f"SELECT {_DEVICE_COLUMNS} FROM devices WHERE user_id = $1 AND device_id = $2",
            user_id,
            device_id,
        )
        return _device(row) if row else None

    async def list_devices(self, user_id: str) -> list[DeviceRecord]:
        rows = await self.db.fetch(
            f"SELECT {_DEVICE_COLUMNS} FROM devices WHERE user_id = $1 ORDER BY device_id",
            user_id,
        )
        return [_device(r) for r in rows]

    async def set_display_name(self, user_id: str, device_id: str, display_name: str | None) -> bool:
        changed = await self.db.execute(
            "UPDATE devices SET display_name = $3 WHERE user_id = $1 AND device_id = $2",
            user_id,
            device_id,
            display_name,
        )
        return changed == 1

    async def update_last_seen(
        self, user_id: str, device_id: str, now_ms: int, ip: str | None, user_agent: str | None
    ) -> None:
        await self.db.execute(
            "UPDATE devices SET last_seen_ts = $3, last_seen_ip = $4, last_seen_user_agent = $5"
            " WHERE user_id = $1 AND device_id = $2",
            user_id,
            device_id,
            now_ms,
            ip,
            user_agent,
        )

    async def device_ids(self, user_id: str) -> list[str]:
        rows = await self.db.fetch("SELECT device_id FROM devices WHERE user_id = $1", user_id)
        return [r["device_id"] for r in rows]

    async def delete_devices(self, user_id: str, device_ids: list[str]) -> None:
        """Delete devices with their tokens (the foreign keys cascade)."""
        gone = set(device_ids)
        self._forget_token_ids(lambda r: r.user_id == user_id and r.device_id in gone)
        for device_id in device_ids:
            await self.db.execute(
                "DELETE FROM access_tokens WHERE user_id = $1 AND device_id = $2", user_id, device_id
            )
            await self.db.execute(
                "DELETE FROM refresh_tokens WHERE user_id = $1 AND device_id = $2", user_id, device_id
            )
            await self.db.execute(
                "DELETE FROM devices WHERE user_id = $1 AND device_id = $2", user_id, device_id
            )

    async def delete_tokens(self, user_id: str, device_id: str) -> None:
        """Revoke every access and refresh token of one device, keeping the device."""
        self._forget_token_ids(lambda r: r.user_id == user_id and r.device_id == device_id)
        await self.db.execute("DELETE FROM access_tokens WHERE user_id = $1 AND device_id = $2", user_id, device_id)
        await self.db.execute("DELETE FROM refresh_tokens WHERE user_id = $1 AND device_id = $2", user_id, device_id)

    # -- access tokens ----------------------------------------------------------------

    async def add_access_token(
        self,
        token_hash: str,
        user_id: str,
        device_id: str,
        now_ms: int,
        *,
        expires_ts: int | None = None,
        refresh_token_id: int | None = None,
    ) -> int:
        return int(
            await self.db.fetchval(
                "INSERT INTO access_tokens"
                " (token_hash, user_id, device_id, created_ts, expires_ts, refresh_token_id)"
                " VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                token_hash,
                user_id,
                device_id,
                now_ms,
                expires_ts,
                refresh_token_id,
            )
        )

    async def get_access_token(self, token_hash: str) -> AccessTokenRecord | None:
        cached = self._tokens.get(token_hash)
        if cached is not MISSING:
            return cached  # type: ignore[return-value]
        ticket = self._tokens.ticket()
        row = await self.db.fetchrow(
            "SELECT t.id, t.user_id, t.device_id, t.expires_ts, t.refresh_token_id, t.used,"
            " u.is_admin, u.is_guest, u.deactivated"
            " FROM access_tokens t JOIN users u ON u.user_id = t.user_id"
            " WHERE t.token_hash = $1",
            token_hash,
        )
        if row is None:
            return None
        record = AccessTokenRecord(
            id=row["id"],
            user_id=row["user_id"],
            device_id=row["device_id"],
            expires_ts=row["expires_ts"],
            refresh_token_id=row["refresh_token_id"],
            used=bool(row["used"]),
            is_admin=bool(row["is_admin"]),
            is_guest=bool(row["is_guest"]),
            deactivated=bool(row["deactivated"]),
        )
        self._tokens.fill(ticket, token_hash, record)
        return record

    def _forget_token_ids(self, predicate: Callable[[AccessTokenRecord], bool]) -> None:
        self._tokens.invalidate_where(lambda _hash, record: predicate(record))

    async def mark_access_token_used(self, token_id: int) -> None:
        await self.db.execute("UPDATE access_tokens SET used = TRUE WHERE id = $1", token_id)
        for token_hash, record in self._tokens.items():
            if record.id == token_id:
                self._tokens.replace(token_hash, replace(record, used=True))

    async def delete_access_token(self, token_id: int) -> None:
        await self.db.execute("DELETE FROM access_tokens WHERE id = $1", token_id)
        self._forget_token_ids(lambda r: r.id == token_id)

    # -- refresh tokens ---------------------------------------------------------------

    async def add_refresh_token(
        self,
        token_hash: str,
        user_id: str,
        device_id: str,
        now_ms: int,
        *,
        expires_ts: int | None,
        prev_id: int | None,
    ) -> int:
        return int(
            await self.db.fetchval(
                "INSERT INTO refresh_tokens"
                " (token_hash, user_id, device_id, created_ts, expires_ts, prev_id)"
                " VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                token_hash,
                user_id,
                device_id,
                now_ms,
                expires_ts,
                prev_id,
            )
        )

    async def get_refresh_token(self, token_hash: str) -> RefreshTokenRecord | None:
        row = await self.db.fetchrow(
            "SELECT id, user_id, device_id, expires_ts, prev_id, next_id"
            " FROM refresh_tokens WHERE token_hash = $1",
            token_hash,
        )
        return _refresh(row) if row else None

    async def get_refresh_token_by_id(self, token_id: int) -> RefreshTokenRecord | None:
        row = await self.db.fetchrow(
            "SELECT id, user_id, device_id, expires_ts, prev_id, next_id"
            " FROM refresh_tokens WHERE id = $1",
            token_id,
        )
        return _refresh(row) if row else None

    async def set_refresh_successor(self, token_id: int, next_id: int) -> None:
        await self.db.execute("UPDATE refresh_tokens SET next_id = $2 WHERE id = $1", token_id, next_id)

    async def revoke_refresh_token(self, token_id: int) -> None:
        """Delete a refresh token together with the access tokens issued with it."""
        self._forget_token_ids(lambda r: r.refresh_token_id == token_id)
        await self.db.execute("DELETE FROM access_tokens WHERE refresh_token_id = $1", token_id)
        await self.db.execute("UPDATE refresh_tokens SET prev_id = NULL WHERE prev_id = $1", token_id)
        await self.db.execute("DELETE FROM refresh_tokens WHERE id = $1", token_id)


def _refresh(row: Row) -> RefreshTokenRecord:
    return RefreshTokenRecord(
        id=row["id"],
        user_id=row["user_id"],
        device_id=row["device_id"],
        expires_ts=row["expires_ts"],
        prev_id=row["prev_id"],
        next_id=row["next_id"],
    )
