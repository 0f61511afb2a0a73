"""User administration (Synapse admin API: users, deactivate, reset_password)."""

from __future__ import annotations

from aiohttp import web

from client_api.auth import Authenticator
from client_api.admin.paging import backwards, optional_bool, page
from homeserver import __version__
from homeserver.http import Route, field, json_response, query_bool, read_json
from homeserver.services.user_admin import UserAdminService

V1 = "/_synapse/admin/v1"
V2 = "/_synapse/admin/v2"
#: The spec's admin API (v1.18).
SPEC_V1 = "/_matrix/client/v1/admin"


class UserAdminRoutes:
    def __init__(self, authenticator: Authenticator, users: UserAdminService) -> None:
        self._authenticator = authenticator
        self._users = users

    def routes(self) -> list[Route]:
        return [
            Route("GET", f"{V1}/server_version", self.server_version),
            Route("GET", f"{V2}/users", self.list_users),
            Route("GET", f"{V2}/users/{{user_id}}", self.get_user),
            Route("PUT", f"{V2}/users/{{user_id}}", self.put_user),
            Route("POST", f"{V1}/deactivate/{{user_id}}", self.deactivate),
            Route("POST", f"{V1}/reset_password/{{user_id}}", self.reset_password),
            Route("GET", f"{SPEC_V1}/suspend/{{user_id}}", self.get_suspended),
            Route("PUT", f"{SPEC_V1}/suspend/{{user_id}}", self.put_suspended),
        ]

    async def server_version(self, request: web.Request) -> web.Response:
        """GET /_synapse/admin/v1/server_version."""
        return json_response({"server_version": f"Hearth {__version__}"})

    async def list_users(self, request: web.Request) -> web.Response:
        """GET /_synapse/admin/v2/users?from=&limit=&name=&user_id=&guests=&admins=&deactivated=
        &order_by=&dir=&not_user_type=&locked= (Synapse admin API, "List Accounts")."""
        await self._authenticator.admin(request)
        offset, limit = page(request)
        query_bool(request, "locked", False)  # no account is ever locked: including them changes nothing
        users, total = await self._users.list_users(
            offset=offset,
            limit=limit,
            name=request.query.get("name"),
            user_id=request.query.get("user_id"),
            include_deactivated=query_bool(request, "deactivated", False),
            include_guests=query_bool(request, "guests", True),
            admins=optional_bool(request, "admins"),
            order_by=request.query.get("order_by", "name"),
            descending=backwards(request, "f"),
            not_user_types=request.query.getall("not_user_type", []),
        )
        body = {"users": users, "total": total}
        if offset + len(users) < total:
            body["next_token"] = str(offset + len(users))
        return json_response(body)

    async def get_user(self, request: web.Request) -> web.Response:
        """GET /_synapse/admin/v2/users/{userId}."""
        await self._authenticator.admin(request)
        return json_response(await self._users.describe(request.match_info["user_id"]))

    async def put_user(self, request: web.Request) -> web.Response:
        """PUT /_synapse/admin/v2/users/{userId}: create or modify an account."""
        await self._authenticator.admin(request)
        body = await read_json(request)
        user, created = await self._users.create_or_modify(request.match_info["user_id"], body)
        return json_response(user, status=201 if created else 200)

    async def deactivate(self, request: web.Request) -> web.Response:
        """POST /_synapse/admin/v1/deactivate/{userId}."""
        await self._authenticator.admin(request)
        body = await read_json(request, allow_empty=True)
        erase = field(body, "erase", bool, required=False, default=False)
        await self._users.deactivate(request.match_info["user_id"], erase=erase)
        return json_response({"id_server_unbind_result": "success"})

    async def reset_password(self, request: web.Request) -> web.Response:
        """POST /_synapse/admin/v1/reset_password/{userId}."""
        await self._authenticator.admin(request)
        body = await read_json(request)
        await self._users.reset_password(
            request.match_info["user_id"],
            field(body, "new_password", str),
            logout_devices=field(body, "logout_devices", bool, required=False, default=True),
        )
        return json_response({})

    async def get_suspended(self, request: web.Request) -> web.Response:
        """GET /_matrix/client/v1/admin/suspend/{userId}."""
        await self._authenticator.admin(request)
        return json_response({"suspended": await self._users.is_suspended(request.match_info["user_id"])})

    async def put_suspended(self, request: web.Request) -> web.Response:
        """PUT /_matrix/client/v1/admin/suspend/{userId}: ``{"suspended": bool}``."""
        requester = await self._authenticator.admin(request)
        suspended = field(await read_json(request), "suspended", bool)
        await self._users.set_suspended(requester.user_id, request.match_info["user_id"], suspended)
        return json_response({"suspended": suspended})
