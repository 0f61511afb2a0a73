"""OpenID: tokens a user hands to widgets and call apps (spec: Client-Server API, "OpenID")."""

from __future__ import annotations

from aiohttp import web

from client_api.auth import Authenticator
from homeserver.http import Route, json_response, read_json
from homeserver.services.openid import OpenIdService


class OpenIdRoutes:
    def __init__(self, authenticator: Authenticator, openid: OpenIdService) -> None:
        self._authenticator = authenticator
        self._openid = openid

    def routes(self) -> list[Route]:
        return [Route("POST", "/_matrix/client/v3/user/{user_id}/openid/request_token", self.request_token)]

    async def request_token(self, request: web.Request) -> web.Response:
        """POST /_matrix/client/v3/user/{userId}/openid/request_token (body ``{}``, reserved)."""
        requester = await self._authenticator.requester(request)
        await read_json(request, allow_empty=True)  # reserved for future expansion
        return json_response(await self._openid.request_token(requester.user_id, request.match_info["user_id"]))
