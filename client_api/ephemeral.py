"""Typing, receipts, read markers and presence (spec: Client-Server API modules
"Typing Notifications", "Receipts", "Fully read markers", "Presence")."""

from __future__ import annotations

from aiohttp import web

from client_api.auth import Authenticator
from homeserver.http import Route, field, json_response, read_json
from homeserver.services.presence import PresenceService
from homeserver.services.receipts import ReceiptService
from homeserver.services.typing import TypingService

V3 = "/_matrix/client/v3"


class EphemeralRoutes:
    def __init__(
        self,
        authenticator: Authenticator,
        typing: TypingService,
        receipts: ReceiptService,
        presence: PresenceService,
    ) -> None:
        self._auth = authenticator
        self._typing = typing
        self._receipts = receipts
        self._presence = presence

    def routes(self) -> list[Route]:
        return [
            Route("PUT", f"{V3}/rooms/{{room_id}}/typing/{{user_id}}", self.typing),
            Route("POST", f"{V3}/rooms/{{room_id}}/receipt/{{receipt_type}}/{{event_id}}", self.receipt),
            Route("POST", f"{V3}/rooms/{{room_id}}/read_markers", self.read_markers),
            Route("PUT", f"{V3}/presence/{{user_id}}/status", self.set_presence),
            Route("GET", f"{V3}/presence/{{user_id}}/status", self.get_presence),
        ]

    async def typing(self, request: web.Request) -> web.Response:
        """PUT /_matrix/client/v3/rooms/{roomId}/typing/{userId}."""
        requester = await self._auth.requester(request)
        body = await read_json(request)
        typing = field(body, "typing", bool)
        timeout = field(body, "timeout", int, required=False, default=30_000)
        await self._typing.set_typing(
            requester, request.match_info["room_id"], request.match_info["user_id"], typing, timeout
        )
        return json_response({})

    async def receipt(self, request: web.Request) -> web.Response:
        """POST /_matrix/client/v3/rooms/{roomId}/receipt/{receiptType}/{eventId}."""
        requester = await self._auth.requester(request)
        body = await read_json(request, allow_empty=True)
        await self._receipts.send_receipt(
            requester, request.match_info["room_id"], request.match_info["receipt_type"],
            request.match_info["event_id"], field(body, "thread_id", str, required=False),
        )
        return json_response({})

    async def read_markers(self, request: web.Request) -> web.Response:
        """POST /_matrix/client/v3/rooms/{roomId}/read_markers."""
        requester = await self._auth.requester(request)
        body = await read_json(request)
        await self._receipts.set_read_markers(requester, request.match_info["room_id"], body)
        return json_response({})

    async def set_presence(self, request: web.Request) -> web.Response:
        """PUT /_matrix/client/v3/presence/{userId}/status."""
        requester = await self._auth.requester(request)
        body = await read_json(request)
        await self._presence.set_status(
            requester, request.match_info["user_id"], field(body, "presence", str),
            field(body, "status_msg", str, required=False),
        )
        return json_response({})

    async def get_presence(self, request: web.Request) -> web.Response:
        """GET /_matrix/client/v3/presence/{userId}/status."""
        requester = await self._auth.requester(request)
        return json_response(await self._presence.get_status(requester, request.match_info["user_id"]))
