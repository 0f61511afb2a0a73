"""Spaces, room summaries, mutual rooms, reports and tags."""

from __future__ import annotations

from aiohttp import web

from client_api.admin.paging import backwards, page
from client_api.auth import Authenticator, access_token_of
from homeserver.http import Route, field, json_response, query_bool, query_int, read_json
from homeserver.errors import MatrixError
from homeserver.services.account_data import AccountDataService
from homeserver.services.reports import ReportService
from homeserver.services.spaces import SpaceService

V1 = "/_matrix/client/v1"
V3 = "/_matrix/client/v3"


class SpaceRoutes:
    def __init__(
        self,
        authenticator: Authenticator,
        spaces: SpaceService,
        reports: ReportService,
        account_data: AccountDataService,
    ) -> None:
        self._auth = authenticator
        self._spaces = spaces
        self._reports = reports
        self._account_data = account_data

    def routes(self) -> list[Route]:
        tags = f"{V3}/user/{{user_id}}/rooms/{{room_id}}/tags"
        return [
            Route("GET", f"{V1}/rooms/{{room_id}}/hierarchy", self.hierarchy),
            Route("GET", f"{V1}/room_summary/{{room}}", self.room_summary),
            Route("GET", f"{V1}/mutual_rooms", self.mutual_rooms),
            Route("POST", f"{V3}/rooms/{{room_id}}/report/{{event_id}}", self.report_event),
            Route("POST", f"{V3}/rooms/{{room_id}}/report", self.report_room),
            Route("POST", f"{V3}/users/{{user_id}}/report", self.report_user),
            Route("GET", "/_synapse/admin/v1/event_reports", self.list_reports),
            Route("GET", tags, self.get_tags),
            Route("PUT", f"{tags}/{{tag}}", self.put_tag),
            Route("DELETE", f"{tags}/{{tag}}", self.delete_tag),
        ]

    async def hierarchy(self, request: web.Request) -> web.Response:
        """GET /_matrix/client/v1/rooms/{roomId}/hierarchy."""
        requester = await self._auth.requester(request)
        return json_response(
            await self._spaces.hierarchy(
                requester, request.match_info["room_id"],
                suggested_only=query_bool(request, "suggested_only", False),
                max_depth=query_int(request, "max_depth"), limit=query_int(request, "limit", minimum=1),
                from_token=request.query.get("from"),
            )
        )

    async def room_summary(self, request: web.Request) -> web.Response:
        """GET /_matrix/client/v1/room_summary/{roomIdOrAlias} (access token optional)."""
        requester = await self._auth.requester(request, allow_guest=True) if access_token_of(request) else None
        return json_response(await self._spaces.room_summary(requester, request.match_info["room"]))

    async def mutual_rooms(self, request: web.Request) -> web.Response:
        """GET /_matrix/client/v1/mutual_rooms?user_id=..."""
        requester = await self._auth.requester(request)
        other = request.query.get("user_id")
        if other is None:
            raise MatrixError("M_MISSING_PARAM", "user_id is required")
        return json_response(await self._spaces.mutual_rooms(requester, other))

    async def report_event(self, request: web.Request) -> web.Response:
        """POST /_matrix/client/v3/rooms/{roomId}/report/{eventId}."""
        requester = await self._auth.requester(request)
        body = await read_json(request, allow_empty=True)
        await self._reports.report_event(
            requester, request.match_info["room_id"], request.match_info["event_id"],
            field(body, "reason", str, required=False), field(body, "score", int, required=False),
        )
        return json_response({})

    async def report_room(self, request: web.Request) -> web.Response:
        """POST /_matrix/client/v3/rooms/{roomId}/report."""
        requester = await self._auth.requester(request)
        body = await read_json(request, allow_empty=True)
        await self._reports.report_room(requester, request.match_info["room_id"], field(body, "reason", str, required=False))
        return json_response({})

    async def report_user(self, request: web.Request) -> web.Response:
        """POST /_matrix/client/v3/users/{userId}/report."""
        requester = await self._auth.requester(request)
        body = await read_json(request, allow_empty=True)
        await self._reports.report_user(requester, request.match_info["user_id"], field(body, "reason", str, required=False))
        return json_response({})

    async def list_reports(self, request: web.Request) -> web.Response:
        """GET /_synapse/admin/v1/event_reports?from=&limit=&dir=&user_id=&room_id=&sender_user_id= (admins)."""
        await self._auth.admin(request)
        offset, limit = page(request)
        reports, total = await self._reports.list_reports(
            offset=offset,
            limit=limit,
            newest_first=backwards(request, "b"),
            reporter=request.query.get("user_id"),
            room_id=request.query.get("room_id"),
            event_sender=request.query.get("sender_user_id"),
        )
        body: dict[str, object] = {"event_reports": reports, "total": total}
        if offset + len(reports) < total:
            body["next_token"] = offset + len(reports)
        return json_response(body)

    async def get_tags(self, request: web.Request) -> web.Response:
        """GET /_matrix/client/v3/user/{userId}/rooms/{roomId}/tags."""
        requester = await self._auth.requester(request)
        tags = await self._account_data.tags(requester.user_id, request.match_info["user_id"], request.match_info["room_id"])
        return json_response({"tags": tags})

    async def put_tag(self, request: web.Request) -> web.Response:
        """PUT /_matrix/client/v3/user/{userId}/rooms/{roomId}/tags/{tag}."""
        requester = await self._auth.requester(request)
        body = await read_json(request, allow_empty=True)
        order = body.get("order")
        if order is not None and (isinstance(order, bool) or not isinstance(order, (int, float))):
            raise MatrixError("M_BAD_JSON", "order must be a number")
        await self._account_data.set_tag(
            requester.user_id, request.match_info["user_id"], request.match_info["room_id"], request.match_info["tag"], body
        )
        return json_response({})

    async def delete_tag(self, request: web.Request) -> web.Response:
        """DELETE /_matrix/client/v3/user/{userId}/rooms/{roomId}/tags/{tag}."""
        requester = await self._auth.requester(request)
        await self._account_data.delete_tag(
            requester.user_id, request.match_info["user_id"], request.match_info["room_id"], request.match_info["tag"]
        )
        return json_response({})
