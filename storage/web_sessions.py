"""Browser sign-ins to Hearth's own pages (login, consent, account management).

The cookie holds a random secret; this table holds its SHA-256 only.
"""

from __future__ import annotations

from dataclasses import dataclass

from storage.database import Database


@dataclass(frozen=True)
class WebSessionRecord:
    user_id: str
    expires_ts: int
    authenticated: bool
    auth_time: int


class WebSessionStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(
        self, session_hash: str, user_id: str, *, now_ms: int, expires_ts: int, authenticated: bool, auth_time: int
    ) -> None:
        await self.db.execute(
            "INSERT INTO web_sessions (session_hash, user_id, created_ts, expires_ts, authenticated, auth_time)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            session_hash, user_id, now_ms, expires_ts, authenticated, auth_time,
        )

    async def get(self, session_hash: str, now_ms: int) -> WebSessionRecord | None:
        row = await self.db.fetchrow(
            "SELECT s.user_id, s.expires_ts, s.authenticated, s.auth_time FROM web_sessions s"
            " JOIN users u ON u.user_id = s.user_id"
            " WHERE s.session_hash = $1 AND s.expires_ts > $2 AND NOT u.deactivated",
            session_hash,
            now_ms,
        )
        if row is None:
            return None
        return WebSessionRecord(row["user_id"], row["expires_ts"], bool(row["authenticated"]), row["auth_time"])

    async def authenticate(self, session_hash: str, expires_ts: int) -> bool:
        """The pending second step is done: ``True`` for the one request that finishes it."""
        changed = await self.db.execute(
            "UPDATE web_sessions SET authenticated = TRUE, expires_ts = $2"
            " WHERE session_hash = $1 AND NOT authenticated",
            session_hash,
            expires_ts,
        )
        return changed == 1

    async def delete(self, session_hash: str) -> None:
        await self.db.execute("DELETE FROM web_sessions WHERE session_hash = $1", session_hash)

    async def delete_expired(self, now_ms: int) -> None:
        await self.db.execute("DELETE FROM web_sessions WHERE expires_ts <= $1", now_ms)
