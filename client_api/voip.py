"""VoIP: TURN server credentials (spec: Client-Server API, "Voice over IP")."""

from __future__ import annotations

from aiohttp import web

from client_api.auth import Authenticator
from homeserver.http import Route, json_response
from homeserver.services.turn import TurnService


class VoipRoutes:
    def __init__(self, authenticator: Authenticator, turn: TurnService) -> None:
        self._authenticator = authenticator
        self._turn = turn

    def routes(self) -> list[Route]:
        return [Route("GET", "/_matrix/client/v3/voip/turnServer", self.turn_server)]

    async def turn_server(self, request: web.Request) -> web.Response:
        """GET /_matrix/client/v3/voip/turnServer."""
        requester = await self._authenticator.requester(request, allow_guest=self._turn.allows_guests)
        return json_response(self._turn.credentials_for(requester.user_id))
