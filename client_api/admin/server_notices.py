"""Sending server notices (Synapse admin API: "Server Notices")."""

from __future__ import annotations

from aiohttp import web

from client_api.auth import Authenticator
from homeserver.http import Route, field, json_response, read_json
from homeserver.services.server_notices import ServerNotices

V1 = "/_synapse/admin/v1"


class ServerNoticeRoutes:
    def __init__(self, authenticator: Authenticator, notices: ServerNotices) -> None:
        self._authenticator = authenticator
        self._notices = notices

    def routes(self) -> list[Route]:
        return [
            Route("POST", f"{V1}/send_server_notice", self.send),
            Route("PUT", f"{V1}/send_server_notice/{{txn_id}}", self.send),
        ]

    async def send(self, request: web.Request) -> web.Response:
        """POST /_synapse/admin/v1/send_server_notice and PUT .../send_server_notice/{txnId}:
        ``{"user_id", "content"}`` → ``{"event_id"}``."""
        requester = await self._authenticator.admin(request)
        body = await read_json(request)
        user_id = field(body, "user_id", str)
        content = field(body, "content", dict)
        txn_id = request.match_info.get("txn_id")
        txn = (requester.user_id, requester.device_id, txn_id) if txn_id is not None else None
        event_id = await self._notices.send(user_id, content, txn=txn)
        return json_response({"event_id": event_id})
