"""Relationships and threads (spec: "Relationships API", "Threading")."""

from __future__ import annotations

from aiohttp import web

from client_api.auth import Authenticator
from homeserver.http import Route, json_response, query_bool, query_int
from homeserver.services.rooms.relations import RelationsService

V1 = "/_matrix/client/v1/rooms/{room_id}"


class RelationRoutes:
    def __init__(self, authenticator: Authenticator, relations: RelationsService) -> None:
        self._auth = authenticator
        self._relations = relations

    def routes(self) -> list[Route]:
        return [
            Route("GET", f"{V1}/relations/{{event_id}}", self.relations),
            Route("GET", f"{V1}/relations/{{event_id}}/{{rel_type}}", self.relations),
            Route("GET", f"{V1}/relations/{{event_id}}/{{rel_type}}/{{event_type}}", self.relations),
            Route("GET", f"{V1}/threads", self.threads),
        ]

    async def relations(self, request: web.Request) -> web.Response:
        """GET /_matrix/client/v1/rooms/{roomId}/relations/{eventId}[/{relType}[/{eventType}]]."""
        requester = await self._auth.requester(request)
        return json_response(
            await self._relations.relations(
                requester, request.match_info["room_id"], request.match_info["event_id"],
                rel_type=request.match_info.get("rel_type"), event_type=request.match_info.get("event_type"),
                from_token=request.query.get("from"), to_token=request.query.get("to"),
                limit=query_int(request, "limit", 50) or 50, direction=request.query.get("dir", "b"),
                recurse=query_bool(request, "recurse", False),
            )
        )

    async def threads(self, request: web.Request) -> web.Response:
        """GET /_matrix/client/v1/rooms/{roomId}/threads."""
        requester = await self._auth.requester(request)
        return json_response(
            await self._relations.threads(
                requester, request.match_info["room_id"], include=request.query.get("include", "all"),
                from_token=request.query.get("from"), limit=query_int(request, "limit", 50) or 50,
            )
        )
