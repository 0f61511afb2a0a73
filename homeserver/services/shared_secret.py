"""Shared-secret registration, compatible with Synapse's ``register_new_matrix_user``.

The client fetches a single-use nonce, then proves it knows
``registration.shared_secret`` with
``HMAC-SHA1(secret, nonce NUL username NUL password NUL ("admin"|"notadmin")
[NUL user_type])``, hex-encoded. Nonces expire after :data:`NONCE_LIFETIME_MS`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from homeserver.clock import Clock
from homeserver.errors import MatrixError
from homeserver.services.accounts import AccountService
from homeserver.services.ratelimit import RateLimiter
from storage.registration import RegistrationStore

NONCE_LIFETIME_MS = 60_000


def registration_mac(
    secret: str, nonce: str, username: str, password: str, admin: bool, user_type: str | None = None
) -> str:
    """The hex HMAC a shared-secret registration request must carry."""
    mac = hmac.new(secret.encode("utf-8"), digestmod=hashlib.sha1)
    parts = [nonce, username, password, "admin" if admin else "notadmin"]
    if user_type is not None:
        parts.append(user_type)
    mac.update(b"\x00".join(p.encode("utf-8") for p in parts))
    return mac.hexdigest()


class SharedSecretRegistration:
    def __init__(
        self,
        *,
        secret: str | None,
        accounts: AccountService,
        store: RegistrationStore,
        clock: Clock,
        rate_limiter: RateLimiter,
    ) -> None:
        self._rate_limiter = rate_limiter
        self._secret = secret
        self._accounts = accounts
        self._store = store
        self._clock = clock

    def _require_enabled(self) -> str:
        if not self._secret:
            raise MatrixError("M_FORBIDDEN", "Shared secret registration is not enabled", status=400)
        return self._secret

    async def new_nonce(self, ip: str) -> str:
        """A nonce for the caller at ``ip`` (unauthenticated, and a row each: rate limited)."""
        self._require_enabled()
        self._rate_limiter.check("shared_secret_nonce", ip)
        nonce = secrets.token_hex(32)
        await self._store.add_nonce(nonce, self._clock.time_ms())
        return nonce

    async def register(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create the account described by ``body`` if its MAC is right."""
        secret = self._require_enabled()
        fields = {}
        for name in ("nonce", "username", "password", "mac"):
            value = body.get(name)
            if not isinstance(value, str) or not value:
                raise MatrixError("M_MISSING_PARAM" if value is None else "M_BAD_JSON", f"{name} must be a non-empty string")
            fields[name] = value
        admin = body.get("admin", False)
        if not isinstance(admin, bool):
            raise MatrixError("M_BAD_JSON", "admin must be a boolean")
        user_type = body.get("user_type")
        if user_type is not None and not isinstance(user_type, str):
            raise MatrixError("M_BAD_JSON", "user_type must be a string")
        displayname = body.get("displayname")
        if displayname is not None and not isinstance(displayname, str):
            raise MatrixError("M_BAD_JSON", "displayname must be a string")

        if not await self._store.consume_nonce(fields["nonce"], self._clock.time_ms() - NONCE_LIFETIME_MS):
            raise MatrixError("M_UNKNOWN", "Unrecognised or expired nonce", status=400)
        expected = registration_mac(
            secret, fields["nonce"], fields["username"], fields["password"], admin, user_type
        )
        if not hmac.compare_digest(expected.encode(), fields["mac"].lower().encode()):
            raise MatrixError("M_FORBIDDEN", "HMAC incorrect")

        user_id = await self._accounts.create_user(fields["username"].lower(), fields["password"], is_admin=admin)
        if displayname:
            await self._accounts.set_displayname(user_id, displayname)
        session = await self._accounts.start_session(user_id, None, None, refreshable=False)
        return {
            "user_id": user_id,
            "access_token": session.tokens.access_token,
            "device_id": session.device_id,
            "home_server": self._accounts.server_name,
        }
