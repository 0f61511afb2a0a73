"""Registration (spec: "Account registration", "Token-authenticated registration")."""

from __future__ import annotations

from aiohttp import web

from client_api.auth import Authenticator
from homeserver.http import Route, field, json_response, read_json
from homeserver.errors import MatrixError
from homeserver.services.registration import RegistrationRequest, RegistrationService

V3 = "/_matrix/client/v3"
V1 = "/_matrix/client/v1"


class RegisterRoutes:
    def __init__(self, authenticator: Authenticator, registration: RegistrationService) -> None:
        self._authenticator = authenticator
        self._registration = registration

    def routes(self) -> list[Route]:
        return [
            Route("POST", f"{V3}/register", self.register),
            Route("GET", f"{V3}/register/available", self.available),
            Route("GET", f"{V1}/register/m.login.registration_token/validity", self.token_validity),
        ]

    async def register(self, request: web.Request) -> web.Response:
        """POST /_matrix/client/v3/register (spec: Account registration)."""
        body = await read_json(request, allow_empty=True)
        parsed = RegistrationRequest(
            body=body,
            username=field(body, "username", str, required=False),
            password=field(body, "password", str, required=False),
            device_id=field(body, "device_id", str, required=False),
            initial_device_display_name=field(
                body, "initial_device_display_name", str, required=False
            ),
            inhibit_login=field(body, "inhibit_login", bool, required=False, default=False),
            refresh_token=field(body, "refresh_token", bool, required=False, default=False),
            guest_access_token=field(body, "guest_access_token", str, required=False),
        )
        result = await self._registration.register(
            parsed,
            kind=request.query.get("kind", "user"),
            ip=self._authenticator.client_ip(request),
        )
        return json_response(result)

    async def available(self, request: web.Request) -> web.Response:
        """GET /_matrix/client/v3/register/available?username=..."""
        username = request.query.get("username")
        if not username:
            raise MatrixError("M_MISSING_PARAM", "username is required")
        await self._registration.username_available(
            username, ip=self._authenticator.client_ip(request)
        )
        return json_response({"available": True})

    async def token_validity(self, request: web.Request) -> web.Response:
        """GET /_matrix/client/v1/register/m.login.registration_token/validity?token=..."""
        token = request.query.get("token")
        if token is None:
            raise MatrixError("M_MISSING_PARAM", "token is required")
        valid = await self._registration.token_valid(token, ip=self._authenticator.client_ip(request))
        return json_response({"valid": valid})
