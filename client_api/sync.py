"""``GET /sync`` (spec: Client-Server API, "Syncing")."""

from __future__ import annotations

from aiohttp import web

from client_api.auth import Authenticator
from homeserver.connections import ConnectionGuard
from homeserver.http import Route, json_response, query_bool, query_int
from homeserver.errors import MatrixError
from homeserver.services.filters import FilterService
from homeserver.services.sync.service import SyncRequest, SyncService, parse_since


class SyncRoutes:
    def __init__(
        self, authenticator: Authenticator, sync: SyncService, filters: FilterService, connections: ConnectionGuard
    ) -> None:
        self._auth = authenticator
        self._sync = sync
        self._filters = filters
        self._connections = connections

    def routes(self) -> list[Route]:
        return [Route("GET", "/_matrix/client/v3/sync", self.sync)]

    async def sync(self, request: web.Request) -> web.Response:
        """GET /_matrix/client/v3/sync."""
        requester = await self._auth.requester(request, allow_guest=True)
        set_presence = request.query.get("set_presence", "online")
        if set_presence not in ("online", "offline", "unavailable"):
            raise MatrixError("M_INVALID_PARAM", "set_presence must be online, offline or unavailable")
        sync_request = SyncRequest(
            since=parse_since(request.query.get("since")),
            timeout_ms=query_int(request, "timeout", 0) or 0,
            filter=await self._filters.resolve(requester.user_id, request.query.get("filter")),
            full_state=query_bool(request, "full_state", False),
            use_state_after=query_bool(request, "use_state_after", False),
            set_presence=set_presence,
        )
        with self._connections.cancelled_on_disconnect(request):
            body = await self._sync.sync(requester, sync_request)
        return json_response(body)
