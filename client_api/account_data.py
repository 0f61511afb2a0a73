"""Account data (spec: Client-Server API, "Client Config")."""

from __future__ import annotations

from aiohttp import web

from client_api.auth import Authenticator
from homeserver.http import Route, json_response, read_json
from homeserver.core.identifiers import is_valid_room_id
from homeserver.errors import MatrixError
from homeserver.services.account_data import AccountDataService

V3 = "/_matrix/client/v3"


class AccountDataRoutes:
    def __init__(self, authenticator: Authenticator, account_data: AccountDataService) -> None:
        self._authenticator = authenticator
        self._account_data = account_data

    def routes(self) -> list[Route]:
        user = f"{V3}/user/{{user_id}}"
        return [
            Route("GET", f"{user}/account_data/{{type}}", self.get_global),
            Route("PUT", f"{user}/account_data/{{type}}", self.put_global),
            Route("GET", f"{user}/rooms/{{room_id}}/account_data/{{type}}", self.get_room),
            Route("PUT", f"{user}/rooms/{{room_id}}/account_data/{{type}}", self.put_room),
        ]

    async def get_global(self, request: web.Request) -> web.Response:
        """GET /_matrix/client/v3/user/{userId}/account_data/{type}."""
        requester = await self._authenticator.requester(request)
        content = await self._account_data.get(
            requester.user_id, request.match_info["user_id"], "", request.match_info["type"]
        )
        return json_response(content)

    async def put_global(self, request: web.Request) -> web.Response:
        """PUT /_matrix/client/v3/user/{userId}/account_data/{type}."""
        requester = await self._authenticator.requester(request)
        body = await read_json(request, allow_empty=False)
        await self._account_data.put(
            requester.user_id, request.match_info["user_id"], "", request.match_info["type"], body
        )
        return json_response({})

    async def get_room(self, request: web.Request) -> web.Response:
        """GET /_matrix/client/v3/user/{userId}/rooms/{roomId}/account_data/{type}."""
        requester = await self._authenticator.requester(request)
        room_id = _room_id(request)
        content = await self._account_data.get(
            requester.user_id, request.match_info["user_id"], room_id, request.match_info["type"]
        )
        return json_response(content)

    async def put_room(self, request: web.Request) -> web.Response:
        """PUT /_matrix/client/v3/user/{userId}/rooms/{roomId}/account_data/{type}."""
        requester = await self._authenticator.requester(request)
        room_id = _room_id(request)
        body = await read_json(request)
        await self._account_data.put(
            requester.user_id, request.match_info["user_id"], room_id, request.match_info["type"], body
        )
        return json_response({})


def _room_id(request: web.Request) -> str:
    room_id = request.match_info["room_id"]
    if not is_valid_room_id(room_id):
        raise MatrixError("M_INVALID_PARAM", f"{room_id!r} is not a valid room ID")
    return room_id
