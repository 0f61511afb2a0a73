"""Media moderation (Synapse admin API paths, so existing admin tools work)."""

from __future__ import annotations

from aiohttp import web

from client_api.admin.paging import backwards, page
from client_api.auth import Authenticator
from homeserver.http import Route, json_response
from homeserver.errors import MatrixError
from homeserver.services.media.service import MediaService
from storage.media import MediaRecord

V1 = "/_synapse/admin/v1"


def _media_json(record: MediaRecord) -> dict:
    return {
        "media_id": record.media_id,
        "media_type": record.content_type,
        "media_length": record.size,
        "upload_name": record.upload_name,
        "created_ts": record.created_ts,
        "quarantined_by": "admin" if record.quarantined else None,
        "safe_from_quarantine": False,
    }


class MediaAdminRoutes:
    def __init__(self, authenticator: Authenticator, media: MediaService, server_name: str) -> None:
        self._authenticator = authenticator
        self._media = media
        self._server_name = server_name

    def routes(self) -> list[Route]:
        return [
            Route("POST", f"{V1}/media/quarantine/{{server_name}}/{{media_id}}", self.quarantine),
            Route("POST", f"{V1}/media/unquarantine/{{server_name}}/{{media_id}}", self.unquarantine),
            Route("POST", f"{V1}/user/{{user_id}}/media/quarantine", self.quarantine_user),
            Route("DELETE", f"{V1}/media/{{server_name}}/{{media_id}}", self.delete),
            Route("GET", f"{V1}/users/{{user_id}}/media", self.list_user_media),
            Route("DELETE", f"{V1}/users/{{user_id}}/media", self.delete_user_media),
        ]

    def _local_media_id(self, request: web.Request) -> str:
        if request.match_info["server_name"] != self._server_name:
            raise MatrixError("M_INVALID_PARAM", "Only local media can be moderated here")
        return request.match_info["media_id"]

    async def quarantine(self, request: web.Request) -> web.Response:
        await self._authenticator.admin(request)
        await self._media.quarantine([self._local_media_id(request)])
        return json_response({})

    async def unquarantine(self, request: web.Request) -> web.Response:
        await self._authenticator.admin(request)
        await self._media.quarantine([self._local_media_id(request)], quarantined=False)
        return json_response({})

    async def quarantine_user(self, request: web.Request) -> web.Response:
        await self._authenticator.admin(request)
        media = await self._media.media_of(request.match_info["user_id"])
        count = await self._media.quarantine([m.media_id for m in media])
        return json_response({"num_quarantined": count})

    async def delete(self, request: web.Request) -> web.Response:
        await self._authenticator.admin(request)
        deleted = await self._media.delete([self._local_media_id(request)])
        if not deleted:
            raise MatrixError("M_NOT_FOUND", "No such media", status=404)
        return json_response({"deleted_media": deleted, "total": len(deleted)})

    async def list_user_media(self, request: web.Request) -> web.Response:
        """GET /_synapse/admin/v1/users/{userId}/media?from=&limit=&order_by=&dir=."""
        await self._authenticator.admin(request)
        offset, limit = page(request)
        media, total = await self._user_media(request, offset, limit)
        body: dict[str, object] = {"media": [_media_json(m) for m in media], "total": total}
        if offset + len(media) < total:
            body["next_token"] = offset + len(media)
        return json_response(body)

    async def delete_user_media(self, request: web.Request) -> web.Response:
        """DELETE /_synapse/admin/v1/users/{userId}/media: the page the same parameters
        would list (by default the newest 100)."""
        await self._authenticator.admin(request)
        media, _ = await self._user_media(request, *page(request))
        deleted = await self._media.delete([m.media_id for m in media])
        return json_response({"deleted_media": deleted, "total": len(deleted)})

    async def _user_media(self, request: web.Request, offset: int, limit: int) -> tuple[list[MediaRecord], int]:
        return await self._media.page_of_user(
            request.match_info["user_id"],
            order_by=request.query.get("order_by"),
            backwards=backwards(request, "b") if "dir" in request.query else None,
            offset=offset,
            limit=limit,
        )
