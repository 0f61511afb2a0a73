"""Serves the bundled web client (``webclient/dist``, built by ``make webclient``) at ``/``.

Every page and file goes out with a strict Content-Security-Policy: scripts only
from this origin (no inline script), ``'wasm-unsafe-eval'`` because the Rust
crypto runs as WebAssembly, and ``connect-src`` open to any ``https:`` origin
(plus plain-HTTP loopback for development) because a Matrix client may sign in
to another homeserver and follows media and well-known lookups there.

Vite names the files under ``assets/`` by their content hash, so they are cached
for a year as immutable; ``index.html`` names the current hashes and is never
served from a cache without asking (``no-cache``).

Until the web client is built, ``/`` answers with a short page saying that
Hearth is running and where the Client-Server API lives.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from homeserver.http import Route

#: In a source checkout and in an installed wheel alike, ``webclient/`` sits beside ``client_api/``.
DIST = Path(__file__).resolve().parent.parent / "webclient" / "dist"

_PLACEHOLDER = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Hearth</title></head>
<body><h1>Hearth is running</h1>
<p>This Matrix homeserver speaks the Client-Server API at <code>/_matrix/client</code>.
Point any Matrix client at this address to sign in.</p></body></html>
"""

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self' 'wasm-unsafe-eval'",
    "style-src 'self'",
    # Decrypted attachments and avatars are shown from blob: URLs.
    "img-src 'self' blob: data:",
    "media-src 'self' blob:",
    "font-src 'self'",
    # Other homeservers (any https origin) and local development servers.
    "connect-src 'self' https: http://localhost:* http://127.0.0.1:*",
    "worker-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])

_SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"

#: Types that a system's mime.types may lack; browsers refuse streaming wasm compiled under another type.
_CONTENT_TYPES = {
    ".wasm": "application/wasm",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".html": "text/html",
    ".webmanifest": "application/manifest+json",
}


class WebClientRoutes:
    def __init__(self, dist: Path | None = None) -> None:
        self._dist = (dist or DIST).resolve()

    def routes(self) -> list[Route]:
        return [Route("GET", "/", self.index), Route("GET", "/{path:(?!_matrix/|_synapse/).+}", self.asset)]

    async def index(self, request: web.Request) -> web.StreamResponse:
        """GET /: the web client's entry page (never cached without revalidation)."""
        index = self._dist / "index.html"
        headers = _SECURITY_HEADERS | {"Cache-Control": REVALIDATE}
        if index.is_file():
            return self._file(index, headers)
        return web.Response(text=_PLACEHOLDER, content_type="text/html", headers=headers)

    async def asset(self, request: web.Request) -> web.StreamResponse:
        """GET /{path}: a static file of the built web client (never outside ``dist``)."""
        try:
            target = (self._dist / request.match_info["path"]).resolve()
            found = target.is_relative_to(self._dist) and target.is_file()
        except (OSError, ValueError):  # a name too long for the file system, and the like
            found = False
        if not found:
            raise web.HTTPNotFound()
        hashed = target.parent == self._dist / "assets"
        return self._file(target, _SECURITY_HEADERS | {"Cache-Control": IMMUTABLE if hashed else REVALIDATE})

    @staticmethod
    def _file(path: Path, headers: dict[str, str]) -> web.FileResponse:
        content_type = _CONTENT_TYPES.get(path.suffix.lower())
        if content_type:
            headers = headers | {"Content-Type": content_type}
        return web.FileResponse(path, headers=headers)
