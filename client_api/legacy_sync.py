"""The deprecated reads the spec keeps: ``/events`` (with ``room_id`` for peeking),
``/events/{eventId}``, ``/initialSync`` and a room's ``/initialSync`` (spec:
Client-Server API, "Syncing", "Room Previews")."""

from __future__ import annotations

from aiohttp import web

from client_api.auth import Authenticator
from homeserver.connections import ConnectionGuard
from homeserver.http import Route, json_response, query_bool, query_int
from homeserver.services.sync.legacy import LegacySync

V3 = "/_matrix/client/v3"
#: How long ``/events`` waits when the request names no ``timeout``.
DEFAULT_TIMEOUT_MS = 30_000


class LegacySyncRoutes:
    def __init__(self, authenticator: Authenticator, legacy: LegacySync, connections: ConnectionGuard) -> None:
        self._auth = authenticator
        self._legacy = legacy
        self._connections = connections

    def routes(self) -> list[Route]:
        return [
            Route("GET", f"{V3}/events", self.events),
            Route("GET", f"{V3}/events/{{event_id}}", self.event),
            Route("GET", f"{V3}/initialSync", self.initial_sync),
            Route("GET", f"{V3}/rooms/{{room_id}}/initialSync", self.room_initial_sync),
        ]

    async def events(self, request: web.Request) -> web.Response:
        """GET /_matrix/client/v3/events?from=&timeout=&room_id= (guests may peek)."""
        requester = await self._auth.requester(request, allow_guest=True)
        with self._connections.cancelled_on_disconnect(request):
            body = await self._legacy.events(
                requester, from_token=request.query.get("from"),
                timeout_ms=query_int(request, "timeout", DEFAULT_TIMEOUT_MS) or 0, room_id=request.query.get("room_id"),
            )
        return json_response(body)

    async def event(self, request: web.Request) -> web.Response:
        """GET /_matrix/client/v3/events/{eventId}."""
        requester = await self._auth.requester(request)
        return json_response(await self._legacy.event(requester, request.match_info["event_id"]))

    async def initial_sync(self, request: web.Request) -> web.Response:
        """GET /_matrix/client/v3/initialSync?limit=&archived=."""
        requester = await self._auth.requester(request)
        return json_response(await self._legacy.initial_sync(
            requester, limit=query_int(request, "limit"), archived=query_bool(request, "archived", False),
        ))

    async def room_initial_sync(self, request: web.Request) -> web.Response:
        """GET /_matrix/client/v3/rooms/{roomId}/initialSync (guests may peek)."""
        requester = await self._auth.requester(request, allow_guest=True)
        return json_response(await self._legacy.room_initial_sync(
            requester, request.match_info["room_id"], limit=query_int(request, "limit"),
        ))
