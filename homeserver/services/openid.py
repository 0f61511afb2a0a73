"""OpenID tokens: a user proves their Matrix ID to a widget or call app.

Design note: ``request_token`` hands the user a random token (only its SHA-256 is
stored, so the lookup by hash is the comparison and no secret sits in the database);
the app passes it to ``GET /_matrix/federation/v1/openid/userinfo`` on the user's
server, which answers the user ID. The token is good for that alone: it is not an
access token and ``AuthService`` never sees it. Expired rows go in housekeeping.
"""

from __future__ import annotations

import secrets
from typing import Any

from homeserver.clock import Clock
from homeserver.errors import MatrixError
from homeserver.services.auth import hash_token
from homeserver.services.ratelimit import RateLimiter
from storage.openid_tokens import OpenIdTokenStore

#: Seconds a token stays valid (Synapse's choice; the spec leaves it to the server).
TOKEN_LIFETIME_S = 3600


class OpenIdService:
    def __init__(self, store: OpenIdTokenStore, rate_limiter: RateLimiter, clock: Clock, server_name: str) -> None:
        self._store = store
        self._rate_limiter = rate_limiter
        self._clock = clock
        self._server_name = server_name

    async def request_token(self, requester_id: str, user_id: str) -> dict[str, Any]:
        """The ``request_token`` answer for ``requester_id``, who may only ask for themselves."""
        if user_id != requester_id:
            raise MatrixError("M_FORBIDDEN", "You can only request an OpenID token for yourself")
        self._rate_limiter.check("openid", requester_id)
        token = secrets.token_urlsafe(32)
        expires_ts = self._clock.time_ms() + TOKEN_LIFETIME_S * 1000
        await self._store.add(hash_token(token), requester_id, expires_ts)
        return {
            "access_token": token,
            "token_type": "Bearer",
            "matrix_server_name": self._server_name,
            "expires_in": TOKEN_LIFETIME_S,
        }

    async def user_info(self, token: str) -> dict[str, str]:
        """The ``userinfo`` answer (``{"sub": user_id}``) for a valid token."""
        user_id = await self._store.user_for(hash_token(token), self._clock.time_ms()) if token else None
        if user_id is None:
            raise MatrixError("M_UNKNOWN_TOKEN", "Access token unknown or expired")
        return {"sub": user_id}

    async def expire(self) -> None:
        await self._store.delete_expired(self._clock.time_ms())
