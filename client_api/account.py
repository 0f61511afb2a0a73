"""Password changes and deactivation (spec: "Account management")."""

from __future__ import annotations

from aiohttp import web

from client_api.auth import Authenticator
from homeserver.http import Route, field, json_response, read_json
from homeserver.services.accounts import AccountService
from homeserver.services.deactivation import Deactivation
from homeserver.services.uia import UIAService

V3 = "/_matrix/client/v3"


class AccountRoutes:
    def __init__(
        self, authenticator: Authenticator, accounts: AccountService, uia: UIAService, deactivation: Deactivation
    ) -> None:
        self._deactivation = deactivation
        self._authenticator = authenticator
        self._accounts = accounts
        self._uia = uia

    def routes(self) -> list[Route]:
        return [
            Route("POST", f"{V3}/account/password", self.change_password),
            Route("POST", f"{V3}/account/deactivate", self.deactivate),
        ]

    async def change_password(self, request: web.Request) -> web.Response:
        """POST /_matrix/client/v3/account/password (UIA)."""
        requester = await self._authenticator.requester(request)
        body = await read_json(request)
        new_password = field(body, "new_password", str)
        logout_devices = field(body, "logout_devices", bool, required=False, default=True)
        self._accounts.check_password_strength(new_password)
        await self._uia.confirm_identity(
            body, user_id=requester.user_id, operation="POST /account/password"
        )
        await self._accounts.change_password(requester, new_password, logout_devices=logout_devices)
        return json_response({})

    async def deactivate(self, request: web.Request) -> web.Response:
        """POST /_matrix/client/v3/account/deactivate (UIA)."""
        requester = await self._authenticator.requester(request)
        body = await read_json(request, allow_empty=True)
        erase = field(body, "erase", bool, required=False, default=False)
        await self._uia.confirm_identity(
            body, user_id=requester.user_id, operation="POST /account/deactivate"
        )
        await self._deactivation.deactivate(requester.user_id, erase=erase)
        return json_response({"id_server_unbind_result": "no-support"})
