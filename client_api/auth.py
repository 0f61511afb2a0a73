"""Resolving the requester of a Client-Server API request from its access token."""

from __future__ import annotations

from aiohttp import web

from homeserver.errors import MatrixError
from homeserver.services.auth import AuthService, Requester


class Authenticator:
    def __init__(self, auth: AuthService, *, x_forwarded: bool, allow_guests: bool) -> None:
        self._auth = auth
        self._x_forwarded = x_forwarded
        self._allow_guests = allow_guests

    def client_ip(self, request: web.Request) -> str:
        """The client's address; ``X-Forwarded-For`` only when configured to trust it."""
        if self._x_forwarded:
            forwarded = request.headers.get("X-Forwarded-For")
            if forwarded:
                return forwarded.split(",")[0].strip()
        return request.remote or "unknown"

    async def requester(self, request: web.Request, *, allow_guest: bool = False) -> Requester:
        """The authenticated user, or ``401 M_MISSING_TOKEN``/``M_UNKNOWN_TOKEN``.

        Guests get ``403 M_GUEST_ACCESS_FORBIDDEN`` unless the endpoint allows them
        (the spec's list, "Guest Access") and ``registration.allow_guests`` is on.
        """
        token = access_token_of(request)
        if token is None:
            raise MatrixError("M_MISSING_TOKEN", "Missing access token")
        requester = await self._auth.authenticate(
            token, ip=self.client_ip(request), user_agent=request.headers.get("User-Agent")
        )
        if requester.is_guest and not (allow_guest and self._allow_guests):
            raise MatrixError("M_GUEST_ACCESS_FORBIDDEN", "Guest access is not allowed here")
        return requester

    async def admin(self, request: web.Request) -> Requester:
        """A server admin, or ``403 M_FORBIDDEN``."""
        requester = await self.requester(request)
        if not requester.is_admin:
            raise MatrixError("M_FORBIDDEN", "You are not a server admin")
        return requester


def access_token_of(request: web.Request) -> str | None:
    """The bearer token from the ``Authorization`` header (or the deprecated query parameter)."""
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise MatrixError("M_MISSING_TOKEN", "Authorization header must be 'Bearer <token>'")
        return token.strip()
    return request.query.get("access_token") or None
