"""OAuth 2.0 clients, authorization and device codes, the grant behind each OAuth
device, the ID-token signing key and approved cross-signing resets.

Secrets (codes, device codes) are stored as SHA-256 hashes and looked up by hash.
Every single-use step is one conditional statement: a code is redeemed by the one
``UPDATE ... WHERE NOT used`` that changes its row, a device authorization moves from
``pending`` to ``approved`` or ``denied`` once and from ``approved`` to ``used`` once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from storage.database import Database, Row


@dataclass(frozen=True)
class ClientRecord:
    client_id: str
    metadata: dict[str, Any]


@dataclass(frozen=True)
class CodeRecord:
    id: int
    client_id: str
    user_id: str
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str
    auth_time: int
    expires_ts: int
    used: bool


@dataclass(frozen=True)
class DeviceCodeRecord:
    id: int
    client_id: str
    scope: str
    user_code: str
    expires_ts: int
    last_poll_ts: int | None
    status: str
    user_id: str | None
    auth_time: int | None


@dataclass(frozen=True)
class OAuthSessionRecord:
    user_id: str
    device_id: str
    client_id: str
    scope: str
    grant_id: str


_CODE_COLUMNS = (
    "id, client_id, user_id, redirect_uri, scope, nonce, code_challenge, auth_time, expires_ts, used"
)
_DEVICE_COLUMNS = "id, client_id, scope, user_code, expires_ts, last_poll_ts, status, user_id, auth_time"


def _code(row: Row) -> CodeRecord:
    return CodeRecord(**{k: row[k] for k in _CODE_COLUMNS.split(", ") if k != "used"}, used=bool(row["used"]))


def _device_code(row: Row) -> DeviceCodeRecord:
    return DeviceCodeRecord(**{k: row[k] for k in _DEVICE_COLUMNS.split(", ")})


class OAuthStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- clients --------------------------------------------------------------------

    async def add_client(self, client_id: str, metadata_hash: str, metadata: dict[str, Any], now_ms: int) -> str:
        """Register a client; an identical registration gets the existing client's ID."""
        await self.db.execute(
            "INSERT INTO oauth_clients (client_id, metadata_hash, metadata, created_ts) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (metadata_hash) DO NOTHING",
            client_id,
            metadata_hash,
            json.dumps(metadata),
            now_ms,
        )
        return str(await self.db.fetchval("SELECT client_id FROM oauth_clients WHERE metadata_hash = $1", metadata_hash))

    async def get_client(self, client_id: str) -> ClientRecord | None:
        row = await self.db.fetchrow("SELECT client_id, metadata FROM oauth_clients WHERE client_id = $1", client_id)
        return ClientRecord(row["client_id"], json.loads(row["metadata"])) if row else None

    # -- authorization codes --------------------------------------------------------

    async def add_code(
        self, code_hash: str, *, client_id: str, user_id: str, redirect_uri: str, scope: str, nonce: str | None,
        code_challenge: str, auth_time: int, expires_ts: int,
    ) -> None:
        await self.db.execute(
            "INSERT INTO oauth_authorization_codes (code_hash, client_id, user_id, redirect_uri, scope, nonce,"
            " code_challenge, auth_time, expires_ts) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            code_hash, client_id, user_id, redirect_uri, scope, nonce, code_challenge, auth_time, expires_ts,
        )

    async def get_code(self, code_hash: str) -> CodeRecord | None:
        row = await self.db.fetchrow(
            f"SELECT {_CODE_COLUMNS} FROM oauth_authorization_codes WHERE code_hash = $1", code_hash
        )
        return _code(row) if row else None

    async def redeem_code(self, code_id: int) -> bool:
        """Mark a code used: ``True`` for exactly one caller."""
        changed = await self.db.execute(
            "UPDATE oauth_authorization_codes SET used = TRUE WHERE id = $1 AND NOT used", code_id
        )
        return changed == 1

    # -- device authorizations ------------------------------------------------------

    async def add_device_code(
        self, device_code_hash: str, user_code: str, *, client_id: str, scope: str, expires_ts: int
    ) -> None:
        await self.db.execute(
            "INSERT INTO oauth_device_codes (device_code_hash, user_code, client_id, scope, expires_ts, status)"
            " VALUES ($1, $2, $3, $4, $5, 'pending')",
            device_code_hash, user_code, client_id, scope, expires_ts,
        )

    async def get_device_code(self, device_code_hash: str) -> DeviceCodeRecord | None:
        row = await self.db.fetchrow(
            f"SELECT {_DEVICE_COLUMNS} FROM oauth_device_codes WHERE device_code_hash = $1", device_code_hash
        )
        return _device_code(row) if row else None

    async def find_user_code(self, user_code: str, now_ms: int) -> DeviceCodeRecord | None:
        """A pending, unexpired device authorization by the code the person types."""
        row = await self.db.fetchrow(
            f"SELECT {_DEVICE_COLUMNS} FROM oauth_device_codes"
            " WHERE user_code = $1 AND status = 'pending' AND expires_ts > $2",
            user_code,
            now_ms,
        )
        return _device_code(row) if row else None

    async def decide_device_code(self, code_id: int, user_id: str, *, approved: bool, auth_time: int, now_ms: int) -> bool:
        changed = await self.db.execute(
            "UPDATE oauth_device_codes SET status = $2, user_id = $3, auth_time = $4"
            " WHERE id = $1 AND status = 'pending' AND expires_ts > $5",
            code_id, "approved" if approved else "denied", user_id, auth_time, now_ms,
        )
        return changed == 1

    async def record_poll(self, code_id: int, now_ms: int) -> None:
        await self.db.execute("UPDATE oauth_device_codes SET last_poll_ts = $2 WHERE id = $1", code_id, now_ms)

    async def redeem_device_code(self, code_id: int) -> bool:
        changed = await self.db.execute(
            "UPDATE oauth_device_codes SET status = 'used' WHERE id = $1 AND status = 'approved'", code_id
        )
        return changed == 1

    # -- sessions (OAuth devices) ---------------------------------------------------

    async def set_session(
        self, user_id: str, device_id: str, *, client_id: str, scope: str, grant_id: str, now_ms: int
    ) -> None:
        await self.db.execute(
            "INSERT INTO oauth_sessions (user_id, device_id, client_id, scope, grant_id, created_ts)"
            " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (user_id, device_id) DO UPDATE SET"
            " client_id = EXCLUDED.client_id, scope = EXCLUDED.scope, grant_id = EXCLUDED.grant_id,"
            " created_ts = EXCLUDED.created_ts",
            user_id, device_id, client_id, scope, grant_id, now_ms,
        )

    async def get_session(self, user_id: str, device_id: str) -> OAuthSessionRecord | None:
        row = await self.db.fetchrow(
            "SELECT user_id, device_id, client_id, scope, grant_id FROM oauth_sessions"
            " WHERE user_id = $1 AND device_id = $2",
            user_id,
            device_id,
        )
        return OAuthSessionRecord(**{k: row[k] for k in row.keys()}) if row else None

    async def session_of_grant(self, grant_id: str) -> OAuthSessionRecord | None:
        row = await self.db.fetchrow(
            "SELECT user_id, device_id, client_id, scope, grant_id FROM oauth_sessions WHERE grant_id = $1", grant_id
        )
        return OAuthSessionRecord(**{k: row[k] for k in row.keys()}) if row else None

    async def client_names(self, user_id: str) -> dict[str, str]:
        """Device ID -> the name of the OAuth client it belongs to (for the account page)."""
        rows = await self.db.fetch(
            "SELECT s.device_id, c.metadata FROM oauth_sessions s JOIN oauth_clients c ON c.client_id = s.client_id"
            " WHERE s.user_id = $1",
            user_id,
        )
        names = {}
        for row in rows:
            metadata = json.loads(row["metadata"])
            names[row["device_id"]] = str(metadata.get("client_name") or metadata.get("client_uri"))
        return names

    # -- ID-token signing key -------------------------------------------------------

    async def signing_key(self) -> tuple[str, str] | None:
        row = await self.db.fetchrow("SELECT kid, private_key FROM oauth_signing_keys WHERE id = 1")
        return (row["kid"], row["private_key"]) if row else None

    async def add_signing_key(self, kid: str, private_key: str, now_ms: int) -> None:
        """Store the key unless another process stored one first (then that one counts)."""
        await self.db.execute(
            "INSERT INTO oauth_signing_keys (id, kid, private_key, created_ts) VALUES (1, $1, $2, $3)"
            " ON CONFLICT (id) DO NOTHING",
            kid,
            private_key,
            now_ms,
        )

    # -- cross-signing resets -------------------------------------------------------

    async def approve_cross_signing_reset(self, user_id: str, expires_ts: int) -> None:
        await self.db.execute(
            "INSERT INTO cross_signing_reset_approvals (user_id, expires_ts) VALUES ($1, $2)"
            " ON CONFLICT (user_id) DO UPDATE SET expires_ts = EXCLUDED.expires_ts",
            user_id,
            expires_ts,
        )

    async def use_cross_signing_reset(self, user_id: str, now_ms: int) -> bool:
        changed = await self.db.execute(
            "DELETE FROM cross_signing_reset_approvals WHERE user_id = $1 AND expires_ts > $2", user_id, now_ms
        )
        return changed == 1

    # -- housekeeping ---------------------------------------------------------------

    async def delete_expired(self, now_ms: int, *, unused_client_before_ms: int) -> None:
        """Drop expired codes and approvals, and clients with no session or code left
        that were registered before ``unused_client_before_ms``."""
        await self.db.execute("DELETE FROM oauth_authorization_codes WHERE expires_ts <= $1", now_ms)
        await self.db.execute("DELETE FROM oauth_device_codes WHERE expires_ts <= $1", now_ms)
        await self.db.execute("DELETE FROM cross_signing_reset_approvals WHERE expires_ts <= $1", now_ms)
        await self.db.execute(
            "DELETE FROM oauth_clients WHERE created_ts < $1"
            " AND NOT EXISTS (SELECT 1 FROM oauth_sessions s WHERE s.client_id = oauth_clients.client_id)"
            " AND NOT EXISTS (SELECT 1 FROM oauth_authorization_codes a WHERE a.client_id = oauth_clients.client_id)"
            " AND NOT EXISTS (SELECT 1 FROM oauth_device_codes d WHERE d.client_id = oauth_clients.client_id)",
            unused_client_before_ms,
        )
