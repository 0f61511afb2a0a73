"""Login, logout, token refresh and whoami (spec: "Login", "Refreshing access tokens")."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from client_api.auth import Authenticator
from homeserver.http import Route, field, json_response, read_json
from homeserver.errors import MatrixError
from homeserver.services.accounts import AccountService, LoginResult
from homeserver.services.auth import AuthService
from homeserver.services.devices import DeviceService

V3 = "/_matrix/client/v3"


class SessionRoutes:
    def __init__(
        self,
        authenticator: Authenticator,
        accounts: AccountService,
        auth: AuthService,
        devices: DeviceService,
        *,
        password_login: bool,
    ) -> None:
        self._password_login = password_login
        self._authenticator = authenticator
        self._accounts = accounts
        self._auth = auth
        self._devices = devices

    def routes(self) -> list[Route]:
        return [
            Route("GET", f"{V3}/login", self.login_flows),
            Route("POST", f"{V3}/login", self.login),
            Route("POST", f"{V3}/logout", self.logout),
            Route("POST", f"{V3}/logout/all", self.logout_all),
            Route("POST", f"{V3}/refresh", self.refresh),
            Route("GET", f"{V3}/account/whoami", self.whoami),
        ]

    async def login_flows(self, request: web.Request) -> web.Response:
        """GET /_matrix/client/v3/login (spec: Login). Without any legacy login type the
        legacy API is not supported: ``404 M_UNRECOGNIZED`` (spec: "Authentication API
        discovery")."""
        flows = [{"type": "m.login.password"}] if self._password_login else []
        if not flows:
            raise MatrixError("M_UNRECOGNIZED", "Legacy login is not available on this server; use OAuth 2.0")
        return json_response({"flows": flows})

    async def login(self, request: web.Request) -> web.Response:
        """POST /_matrix/client/v3/login (spec: Login)."""
        body = await read_json(request)
        login_type = field(body, "type", str)
        if login_type != "m.login.password":
            raise MatrixError("M_UNKNOWN", f"Unsupported login type {login_type!r}")
        password = field(body, "password", str)
        result = await self._accounts.login_with_password(
            body,
            password,
            ip=self._authenticator.client_ip(request),
            device_id=field(body, "device_id", str, required=False),
            display_name=field(body, "initial_device_display_name", str, required=False),
            refreshable=field(body, "refresh_token", bool, required=False, default=False),
        )
        return json_response(_login_body(result, self._accounts.server_name))

    async def logout(self, request: web.Request) -> web.Response:
        """POST /_matrix/client/v3/logout: end this session and delete its device."""
        requester = await self._authenticator.requester(request, allow_guest=True)
        await self._devices.remove_devices(requester.user_id, [requester.device_id])
        return json_response({})

    async def logout_all(self, request: web.Request) -> web.Response:
        """POST /_matrix/client/v3/logout/all: end every session of the user."""
        requester = await self._authenticator.requester(request, allow_guest=True)
        devices = await self._devices.list_devices(requester.user_id)
        await self._devices.remove_devices(requester.user_id, [d.device_id for d in devices])
        return json_response({})

    async def refresh(self, request: web.Request) -> web.Response:
        """POST /_matrix/client/v3/refresh (spec: Refreshing access tokens)."""
        body = await read_json(request)
        tokens = await self._auth.refresh(field(body, "refresh_token", str))
        return json_response(
            {
                "access_token": tokens.access_token,
                "refresh_token": tokens.refresh_token,
                "expires_in_ms": tokens.expires_in_ms,
            }
        )

    async def whoami(self, request: web.Request) -> web.Response:
        """GET /_matrix/client/v3/account/whoami."""
        requester = await self._authenticator.requester(request, allow_guest=True)
        return json_response(
            {
                "user_id": requester.user_id,
                "device_id": requester.device_id,
                "is_guest": requester.is_guest,
            }
        )


def _login_body(result: LoginResult, server_name: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "user_id": result.user_id,
        "access_token": result.tokens.access_token,
        "device_id": result.device_id,
        "home_server": server_name,
    }
    if result.tokens.refresh_token is not None:
        body["refresh_token"] = result.tokens.refresh_token
        body["expires_in_ms"] = result.tokens.expires_in_ms
    return body
