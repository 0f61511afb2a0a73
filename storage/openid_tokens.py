"""OpenID tokens (stored as their SHA-256, with the user and the expiry)."""

from __future__ import annotations

from storage.database import Database


class OpenIdTokenStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(self, token_hash: str, user_id: str, expires_ts: int) -> None:
        await self.db.execute(
            "INSERT INTO openid_tokens (token_hash, user_id, expires_ts) VALUES ($1, $2, $3)",
            token_hash, user_id, expires_ts,
        )

    async def user_for(self, token_hash: str, now_ms: int) -> str | None:
        """The user of an unexpired token whose account is still active."""
        row = await self.db.fetchrow(
            "SELECT t.user_id FROM openid_tokens t JOIN users u ON u.user_id = t.user_id"
            " WHERE t.token_hash = $1 AND t.expires_ts > $2 AND NOT u.deactivated",
            token_hash,
            now_ms,
        )
        return None if row is None else row["user_id"]

    async def delete_expired(self, now_ms: int) -> None:
        await self.db.execute("DELETE FROM openid_tokens WHERE expires_ts <= $1", now_ms)
