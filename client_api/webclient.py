"""Serves the bundled web client (``webclient/dist``) at ``/``.

Until the web client is built, ``/`` answers with a short page saying that
Hearth is running and where the Client-Server API lives.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from homeserver.http import Route

DIST = Path(__file__).resolve().parent.parent / "webclient" / "dist"

_PLACEHOLDER = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Hearth</title></head>
<body><h1>Hearth is running</h1>
<p>This Matrix homeserver speaks the Client-Server API at <code>/_matrix/client</code>.
Point any Matrix client at this address to sign in.</p></body></html>
"""

_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


class WebClientRoutes:
    def routes(self) -> list[Route]:
        return [Route("GET", "/", self.index), Route("GET", "/{path:(?!_matrix/|_synapse/).+}", self.asset)]

    async def index(self, request: web.Request) -> web.StreamResponse:
        """GET /: the web client's entry page."""
        index = DIST / "index.html"
        if index.is_file():
            return web.FileResponse(index, headers=_SECURITY_HEADERS)
        return web.Response(text=_PLACEHOLDER, content_type="text/html", headers=_SECURITY_HEADERS)

    async def asset(self, request: web.Request) -> web.StreamResponse:
        """GET /{path}: a static file of the built web client (never outside ``dist``)."""
        target = (DIST / request.match_info["path"]).resolve()
        if not target.is_relative_to(DIST) or not target.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(target, headers=_SECURITY_HEADERS)
