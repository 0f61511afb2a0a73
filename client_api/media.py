"""The content repository (spec: Client-Server API, "Content repository").

Served media can never run script on this origin: every response carries a
sandboxing ``Content-Security-Policy`` and ``X-Content-Type-Options: nosniff``,
and only the spec's list of harmless content types is served ``inline``;
everything else (HTML, SVG, ...) is an ``attachment``.
"""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from client_api.auth import Authenticator
from homeserver.connections import ConnectionGuard
from homeserver.http import Route, json_response, media_timeout_ms, thumbnail_query
from homeserver.config import MediaConfig
from homeserver.errors import MatrixError
from homeserver.services.media.service import Content, MediaService

CLIENT_V1 = "/_matrix/client/v1/media"
MEDIA_V1 = "/_matrix/media/v1"
MEDIA_V3 = "/_matrix/media/v3"
_CHUNK = 64 * 1024

#: Content types served with ``Content-Disposition: inline`` (spec: "Serving inline content").
INLINE_TYPES = frozenset({
    "text/css", "text/plain", "text/csv", "application/json", "application/ld+json",
    "image/jpeg", "image/gif", "image/png", "image/apng", "image/webp", "image/avif",
    "video/mp4", "video/webm", "video/ogg", "video/quicktime",
    "audio/mp4", "audio/webm", "audio/aac", "audio/mpeg", "audio/ogg", "audio/wave", "audio/wav",
    "audio/x-wav", "audio/x-pn-wav", "audio/flac", "audio/x-flac",
})
CONTENT_SECURITY_POLICY = (
    "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf;"
    " style-src 'unsafe-inline'; media-src 'self'; object-src 'self';"
)


class MediaRoutes:
    def __init__(
        self, authenticator: Authenticator, media: MediaService, config: MediaConfig, connections: ConnectionGuard
    ) -> None:
        self._authenticator = authenticator
        self._media = media
        self._legacy = config.legacy_unauthenticated
        self._connections = connections

    def routes(self) -> list[Route]:
        item = "{server_name}/{media_id}"
        routes = [
            Route("POST", f"{MEDIA_V3}/upload", self.upload),
            Route("POST", f"{MEDIA_V1}/create", self.create),
            Route("PUT", f"{MEDIA_V3}/upload/{item}", self.upload_to),
            Route("GET", f"{CLIENT_V1}/config", self.config),
            Route("GET", f"{MEDIA_V3}/config", self.config),
        ]
        for base, authenticated in ((CLIENT_V1, True), (MEDIA_V3, False)):
            download = self.download if authenticated else self.legacy_download
            thumbnail = self.thumbnail if authenticated else self.legacy_thumbnail
            routes += [
                Route("GET", f"{base}/download/{item}", download),
                Route("GET", f"{base}/download/{item}/{{file_name}}", download),
                Route("GET", f"{base}/thumbnail/{item}", thumbnail),
            ]
        return routes

    async def upload(self, request: web.Request) -> web.Response:
        """POST /_matrix/media/v3/upload?filename=."""
        requester = await self._authenticator.requester(request, allow_guest=True)
        uri = await self._media.upload(
            requester, _content_type(request), request.query.get("filename"),
            request.content.iter_chunked(_CHUNK), request.content_length,
        )
        return json_response({"content_uri": uri})

    async def create(self, request: web.Request) -> web.Response:
        """POST /_matrix/media/v1/create."""
        requester = await self._authenticator.requester(request, allow_guest=True)
        uri, expires = await self._media.create(requester)
        return json_response({"content_uri": uri, "unused_expires_at": expires})

    async def upload_to(self, request: web.Request) -> web.Response:
        """PUT /_matrix/media/v3/upload/{serverName}/{mediaId}."""
        requester = await self._authenticator.requester(request, allow_guest=True)
        await self._media.upload_to(
            requester, request.match_info["server_name"], request.match_info["media_id"],
            _content_type(request), request.query.get("filename"),
            request.content.iter_chunked(_CHUNK), request.content_length,
        )
        return json_response({})

    async def config(self, request: web.Request) -> web.Response:
        """GET /_matrix/client/v1/media/config (and the older /_matrix/media/v3/config)."""
        await self._authenticator.requester(request, allow_guest=True)
        return json_response(self._media.limits())

    async def download(self, request: web.Request) -> web.StreamResponse:
        """GET /_matrix/client/v1/media/download/{serverName}/{mediaId}[/{fileName}]."""
        await self._authenticator.requester(request, allow_guest=True)
        return await self._serve_download(request)

    async def thumbnail(self, request: web.Request) -> web.StreamResponse:
        """GET /_matrix/client/v1/media/thumbnail/{serverName}/{mediaId}."""
        await self._authenticator.requester(request, allow_guest=True)
        return await self._serve_thumbnail(request)

    async def legacy_download(self, request: web.Request) -> web.StreamResponse:
        """GET /_matrix/media/v3/download/... (deprecated, unauthenticated; off by default)."""
        self._check_legacy()
        return await self._serve_download(request)

    async def legacy_thumbnail(self, request: web.Request) -> web.StreamResponse:
        """GET /_matrix/media/v3/thumbnail/... (deprecated, unauthenticated; off by default)."""
        self._check_legacy()
        return await self._serve_thumbnail(request)

    def _check_legacy(self) -> None:
        if not self._legacy:
            raise MatrixError("M_NOT_FOUND", "Use the authenticated /_matrix/client/v1/media endpoints", status=404)

    async def _serve_download(self, request: web.Request) -> web.StreamResponse:
        with self._connections.cancelled_on_disconnect(request):  # it may wait for an upload
            content = await self._media.download(
                request.match_info["server_name"], request.match_info["media_id"], media_timeout_ms(request)
            )
        return _file_response(content, request.match_info.get("file_name") or content.upload_name)

    async def _serve_thumbnail(self, request: web.Request) -> web.StreamResponse:
        q = thumbnail_query(request)
        with self._connections.cancelled_on_disconnect(request):  # it may wait for an upload
            content = await self._media.thumbnail(
                request.match_info["server_name"], request.match_info["media_id"], q.width, q.height, q.method,
                q.animated, q.timeout_ms,
            )
        return _file_response(content, None)


def _content_type(request: web.Request) -> str:
    raw = request.headers.get("Content-Type", "application/octet-stream")
    return raw.strip() or "application/octet-stream"


def _file_response(content: Content, file_name: str | None) -> web.FileResponse:
    bare_type = content.content_type.split(";", 1)[0].strip().lower()
    disposition = "inline" if bare_type in INLINE_TYPES else "attachment"
    if file_name:
        disposition += f"; filename*=utf-8''{quote(file_name, safe='')}"
    return web.FileResponse(content.path, headers={
        "Content-Type": content.content_type,
        "Content-Disposition": disposition,
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Content-Type-Options": "nosniff",
        "Cross-Origin-Resource-Policy": "cross-origin",
        "Cache-Control": "private, max-age=86400",
    })
