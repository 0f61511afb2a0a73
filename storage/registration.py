"""Registration tokens, user-interactive-auth sessions and shared-secret nonces."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from storage.database import Database, Row


@dataclass(frozen=True)
class RegistrationToken:
    token: str
    uses_allowed: int | None
    pending: int
    completed: int
    expiry_time: int | None


@dataclass(frozen=True)
class UIASession:
    session_id: str
    created_ts: int
    operation: str
    user_id: str
    completed: dict[str, Any]
    params: dict[str, Any]
    request_hash: str | None = None
    consumed: bool = False
    registration_token: str | None = None


def _token(row: Row) -> RegistrationToken:
    return RegistrationToken(
        token=row["token"],
        uses_allowed=row["uses_allowed"],
        pending=row["pending"],
        completed=row["completed"],
        expiry_time=row["expiry_time"],
    )


def _session(row: Row) -> UIASession:
    return UIASession(
        session_id=row["session_id"],
        created_ts=row["created_ts"],
        operation=row["operation"],
        user_id=row["user_id"],
        completed=json.loads(row["completed"]),
        params=json.loads(row["params"]),
        request_hash=row["request_hash"],
        consumed=bool(row["consumed"]),
        registration_token=row["registration_token"],
    )


_SESSION_COLUMNS = "session_id, created_ts, operation, user_id, completed, params, request_hash, consumed, registration_token"


_TOKEN_COLUMNS = "token, uses_allowed, pending, completed, expiry_time"


class _NoUseLeft(Exception):
    """The token has no use left (internal: undoes a session's claim)."""


class RegistrationStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- registration tokens ------------------------------------------------------------

    async def create_token(
        self, token: str, uses_allowed: int | None, expiry_time: int | None, now_ms: int
    ) -> bool:
        changed = await self.db.execute(
            "INSERT INTO registration_tokens (token, uses_allowed, expiry_time, created_ts)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (token) DO NOTHING",
            token,
            uses_allowed,
            expiry_time,
            now_ms,
        )
        return changed == 1

    async def get_token(self, token: str) -> RegistrationToken | None:
        row = await self.db.fetchrow(
            f"SELECT {_TOKEN_COLUMNS} FROM registration_tokens WHERE token = $1", token
        )
        return _token(row) if row else None

    async def list_tokens(self) -> list[RegistrationToken]:
        rows = await self.db.fetch(f"SELECT {_TOKEN_COLUMNS} FROM registration_tokens ORDER BY token")
        return [_token(r) for r in rows]

    async def update_token(self, token: str, uses_allowed: int | None, expiry_time: int | None) -> bool:
        changed = await self.db.execute(
            "UPDATE registration_tokens SET uses_allowed = $2, expiry_time = $3 WHERE token = $1",
            token,
            uses_allowed,
            expiry_time,
        )
        return changed == 1

    async def delete_token(self, token: str) -> bool:
        return await self.db.execute("DELETE FROM registration_tokens WHERE token = $1", token) == 1

    async def reserve_token_use(self, token: str, now_ms: int) -> bool:
        """Count a pending use if the token is still valid; ``False`` otherwise. Atomic."""
        changed = await self.db.execute(
            "UPDATE registration_tokens SET pending = pending + 1 WHERE token = $1"
            " AND (expiry_time IS NULL OR expiry_time > $2)"
            " AND (uses_allowed IS NULL OR pending + completed < uses_allowed)",
            token,
            now_ms,
        )
        return changed == 1

    async def complete_token_use(self, token: str) -> None:
        await self.db.execute(
            "UPDATE registration_tokens SET pending = pending - 1, completed = completed + 1"
            " WHERE token = $1 AND pending > 0",
            token,
        )

    async def release_token_use(self, token: str) -> None:
        await self.db.execute(
            "UPDATE registration_tokens SET pending = pending - 1 WHERE token = $1 AND pending > 0",
            token,
        )

    # -- user-interactive auth sessions -------------------------------------------------

    async def create_uia_session(
        self, session_id: str, operation: str, user_id: str, now_ms: int
    ) -> None:
        await self.db.execute(
            "INSERT INTO uia_sessions (session_id, created_ts, operation, user_id, completed, params)"
            " VALUES ($1, $2, $3, $4, '{}', '{}')",
            session_id,
            now_ms,
            operation,
            user_id,
        )

    async def get_uia_session(self, session_id: str) -> UIASession | None:
        row = await self.db.fetchrow(f"SELECT {_SESSION_COLUMNS} FROM uia_sessions WHERE session_id = $1", session_id)
        return _session(row) if row else None

    async def record_uia_stage(self, session_id: str, completed: dict[str, Any], request_hash: str) -> bool:
        """Save a completed stage and bind the session to the request that completed it;
        ``False`` (nothing saved) if the session is used up or bound to another request."""
        changed = await self.db.execute(
            "UPDATE uia_sessions SET completed = $2, request_hash = $3"
            " WHERE session_id = $1 AND NOT consumed AND (request_hash IS NULL OR request_hash = $3)",
            session_id,
            json.dumps(completed),
            request_hash,
        )
        return changed == 1

    async def consume_uia_session(self, session_id: str, request_hash: str) -> bool:
        """Use the session for its request; ``True`` for exactly one caller."""
        changed = await self.db.execute(
            "UPDATE uia_sessions SET consumed = TRUE"
            " WHERE session_id = $1 AND NOT consumed AND request_hash = $2",
            session_id,
            request_hash,
        )
        return changed == 1

    async def hold_token_use(self, session_id: str, token: str, now_ms: int) -> bool:
        """Let the session hold a use of ``token``: ``True`` if it holds one now (this
        call reserved it, or an earlier one reserved the same token)."""
        try:
            async with self.db.transaction("hold_token_use"):
                claimed = await self.db.execute(
                    "UPDATE uia_sessions SET registration_token = $2"
                    " WHERE session_id = $1 AND registration_token IS NULL AND NOT consumed",
                    session_id,
                    token,
                )
                if claimed == 1:
                    if not await self.reserve_token_use(token, now_ms):
                        raise _NoUseLeft  # rolls the claim back
                    return True
                held = await self.db.fetchval(
                    "SELECT registration_token FROM uia_sessions WHERE session_id = $1", session_id
                )
        except _NoUseLeft:
            return False
        return held == token

    async def delete_expired_uia_sessions(self, before_ms: int) -> None:
        """Drop sessions older than ``before_ms``, giving back the token uses of those
        that were never used (each session in a transaction of its own)."""
        rows = await self.db.fetch("SELECT session_id FROM uia_sessions WHERE created_ts < $1", before_ms)
        for row in rows:
            async with self.db.transaction("expire_uia_session"):
                gone = await self.db.fetchrow(
                    "DELETE FROM uia_sessions WHERE session_id = $1 RETURNING consumed, registration_token",
                    row["session_id"],
                )
                if gone is not None and not gone["consumed"] and gone["registration_token"]:
                    await self.release_token_use(gone["registration_token"])

    # -- shared-secret registration nonces ----------------------------------------------

    async def add_nonce(self, nonce: str, now_ms: int) -> None:
        await self.db.execute(
            "INSERT INTO registration_nonces (nonce, created_ts) VALUES ($1, $2)", nonce, now_ms
        )

    async def consume_nonce(self, nonce: str, not_before_ms: int) -> bool:
        """Use a nonce once; ``False`` if unknown, used or older than ``not_before_ms``."""
        changed = await self.db.execute(
            "DELETE FROM registration_nonces WHERE nonce = $1 AND created_ts >= $2",
            nonce,
            not_before_ms,
        )
        return changed == 1

    async def delete_old_nonces(self, before_ms: int) -> None:
        await self.db.execute("DELETE FROM registration_nonces WHERE created_ts < $1", before_ms)
