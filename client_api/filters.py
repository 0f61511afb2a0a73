"""Saved filters (spec: Client-Server API, "Filtering")."""

from __future__ import annotations

from aiohttp import web

from client_api.auth import Authenticator
from homeserver.http import Route, json_response, read_json
from homeserver.services.filters import FilterService

V3 = "/_matrix/client/v3"


class FilterRoutes:
    def __init__(self, authenticator: Authenticator, filters: FilterService) -> None:
        self._authenticator = authenticator
        self._filters = filters

    def routes(self) -> list[Route]:
        return [
            Route("POST", f"{V3}/user/{{user_id}}/filter", self.create),
            Route("GET", f"{V3}/user/{{user_id}}/filter/{{filter_id}}", self.get),
        ]

    async def create(self, request: web.Request) -> web.Response:
        """POST /_matrix/client/v3/user/{userId}/filter."""
        requester = await self._authenticator.requester(request)
        body = await read_json(request)
        filter_id = await self._filters.create(requester.user_id, request.match_info["user_id"], body)
        return json_response({"filter_id": filter_id})

    async def get(self, request: web.Request) -> web.Response:
        """GET /_matrix/client/v3/user/{userId}/filter/{filterId}."""
        requester = await self._authenticator.requester(request)
        definition = await self._filters.get_definition(
            requester.user_id, request.match_info["user_id"], request.match_info["filter_id"]
        )
        return json_response(definition)
