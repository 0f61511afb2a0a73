"""Room aliases and the published room directory (spec: "Room aliases",
"Published room directory")."""

from __future__ import annotations

from aiohttp import web

from client_api.auth import Authenticator
from homeserver.http import Route, field, json_response, query_int, read_json
from homeserver.errors import MatrixError
from homeserver.services.directory import DirectoryService

V3 = "/_matrix/client/v3"


class DirectoryRoutes:
    def __init__(self, authenticator: Authenticator, directory: DirectoryService) -> None:
        self._auth = authenticator
        self._directory = directory

    def routes(self) -> list[Route]:
        return [
            Route("GET", f"{V3}/directory/room/{{alias}}", self.get_alias),
            Route("PUT", f"{V3}/directory/room/{{alias}}", self.put_alias),
            Route("DELETE", f"{V3}/directory/room/{{alias}}", self.delete_alias),
            Route("GET", f"{V3}/rooms/{{room_id}}/aliases", self.room_aliases),
            Route("GET", f"{V3}/directory/list/room/{{room_id}}", self.get_visibility),
            Route("PUT", f"{V3}/directory/list/room/{{room_id}}", self.put_visibility),
            Route("GET", f"{V3}/publicRooms", self.public_rooms),
            Route("POST", f"{V3}/publicRooms", self.query_public_rooms),
        ]

    async def get_alias(self, request: web.Request) -> web.Response:
        """GET /_matrix/client/v3/directory/room/{roomAlias}."""
        return json_response(await self._directory.resolve_alias(request.match_info["alias"]))

    async def put_alias(self, request: web.Request) -> web.Response:
        """PUT /_matrix/client/v3/directory/room/{roomAlias}."""
        requester = await self._auth.requester(request)
        body = await read_json(request)
        await self._directory.create_alias(requester, request.match_info["alias"], field(body, "room_id", str))
        return json_response({})

    async def delete_alias(self, request: web.Request) -> web.Response:
        """DELETE /_matrix/client/v3/directory/room/{roomAlias}."""
        requester = await self._auth.requester(request)
        await self._directory.delete_alias(requester, request.match_info["alias"])
        return json_response({})

    async def room_aliases(self, request: web.Request) -> web.Response:
        """GET /_matrix/client/v3/rooms/{roomId}/aliases."""
        requester = await self._auth.requester(request)
        return json_response({"aliases": await self._directory.room_aliases(requester, request.match_info["room_id"])})

    async def get_visibility(self, request: web.Request) -> web.Response:
        """GET /_matrix/client/v3/directory/list/room/{roomId}."""
        return json_response({"visibility": await self._directory.get_visibility(request.match_info["room_id"])})

    async def put_visibility(self, request: web.Request) -> web.Response:
        """PUT /_matrix/client/v3/directory/list/room/{roomId}."""
        requester = await self._auth.requester(request)
        body = await read_json(request, allow_empty=True)
        visibility = field(body, "visibility", str, required=False, default="public")
        await self._directory.set_visibility(requester, request.match_info["room_id"], visibility)
        return json_response({})

    async def public_rooms(self, request: web.Request) -> web.Response:
        """GET /_matrix/client/v3/publicRooms."""
        return json_response(
            await self._directory.public_rooms(
                server=request.query.get("server"), limit=query_int(request, "limit"),
                since=request.query.get("since"), search_term=None, room_types=None,
            )
        )

    async def query_public_rooms(self, request: web.Request) -> web.Response:
        """POST /_matrix/client/v3/publicRooms."""
        await self._auth.requester(request)
        body = await read_json(request, allow_empty=True)
        filter_ = field(body, "filter", dict, required=False, default={})
        term = field(filter_, "generic_search_term", str, required=False)
        room_types = field(filter_, "room_types", list, required=False)
        if room_types is not None and not all(t is None or isinstance(t, str) for t in room_types):
            raise MatrixError("M_BAD_JSON", "room_types must hold strings or null")
        limit = field(body, "limit", int, required=False)
        return json_response(
            await self._directory.public_rooms(
                server=request.query.get("server"), limit=limit, since=field(body, "since", str, required=False),
                search_term=term, room_types=room_types,
            )
        )
