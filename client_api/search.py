"""Server-side search and the user directory (spec: "Server Side Search", "User Directory")."""

from __future__ import annotations

from aiohttp import web

from client_api.auth import Authenticator
from homeserver.http import Route, field, json_response, read_json
from homeserver.services.search import SearchService, UserDirectoryService

V3 = "/_matrix/client/v3"


class SearchRoutes:
    def __init__(self, authenticator: Authenticator, search: SearchService, users: UserDirectoryService) -> None:
        self._auth = authenticator
        self._search = search
        self._users = users

    def routes(self) -> list[Route]:
        return [
            Route("POST", f"{V3}/search", self.search),
            Route("POST", f"{V3}/user_directory/search", self.user_directory),
        ]

    async def search(self, request: web.Request) -> web.Response:
        """POST /_matrix/client/v3/search."""
        requester = await self._auth.requester(request)
        body = await read_json(request)
        return json_response(await self._search.search(requester, body, request.query.get("next_batch")))

    async def user_directory(self, request: web.Request) -> web.Response:
        """POST /_matrix/client/v3/user_directory/search."""
        requester = await self._auth.requester(request)
        body = await read_json(request)
        term = field(body, "search_term", str)
        limit = min(max(field(body, "limit", int, required=False, default=10), 1), 50)
        return json_response(await self._users.search(requester, term, limit))
