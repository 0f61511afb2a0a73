"""Version discovery, well-known documents and the health check."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from homeserver.http import Route, json_response
from homeserver import __version__
from homeserver.config import Config
from homeserver.errors import MatrixError
from storage.database import Database

#: Spec versions whose client-server endpoints Hearth serves. One place to change.
SPEC_VERSIONS = [f"v1.{minor}" for minor in range(1, 20)]


class DiscoveryRoutes:
    def __init__(self, config: Config, db: Database) -> None:
        self._config = config
        self._db = db

    def routes(self) -> list[Route]:
        return [
            Route("GET", "/_matrix/client/versions", self.versions),
            Route("GET", "/.well-known/matrix/client", self.well_known_client),
            Route("GET", "/.well-known/matrix/server", self.well_known_server),
            Route("GET", "/health", self.health),
        ]

    async def versions(self, request: web.Request) -> web.Response:
        """GET /_matrix/client/versions (spec: API Versions)."""
        return json_response({"versions": SPEC_VERSIONS, "unstable_features": {}})

    async def well_known_client(self, request: web.Request) -> web.Response:
        """GET /.well-known/matrix/client (spec: Server Discovery)."""
        base_url = self._config.well_known.client_base_url or self._config.public_baseurl
        answer: dict[str, Any] = {"m.homeserver": {"base_url": base_url}}
        if self._config.well_known.rtc_foci:
            answer["org.matrix.msc4143.rtc_foci"] = list(self._config.well_known.rtc_foci)
        return json_response(answer)

    async def well_known_server(self, request: web.Request) -> web.Response:
        """GET /.well-known/matrix/server (spec: server-server API, Server discovery)."""
        delegated = self._config.well_known.server
        if delegated is None and self._config.federation.enabled:
            delegated = f"{self._config.server_name.split(':')[0]}:{self._config.federation.port}"
        if delegated is None:
            raise MatrixError("M_NOT_FOUND", "No federation delegation is configured")
        return json_response({"m.server": delegated})

    async def health(self, request: web.Request) -> web.Response:
        """GET /health: 200 when the database answers, 503 otherwise."""
        try:
            await self._db.fetchval("SELECT 1 AS ok")
        except Exception:
            return web.Response(status=503, text="database unavailable")
        return web.Response(text="OK", headers={"Server": f"Hearth/{__version__}"})
