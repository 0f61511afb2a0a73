"""Profiles (spec: Client-Server API, "Profiles")."""

from __future__ import annotations

from aiohttp import web

from client_api.auth import Authenticator
from homeserver.http import Route, json_response, read_json
from homeserver.errors import MatrixError
from homeserver.services.auth import Requester
from homeserver.services.profiles import ProfileService

V3 = "/_matrix/client/v3"


class ProfileRoutes:
    def __init__(self, authenticator: Authenticator, profiles: ProfileService) -> None:
        self._authenticator = authenticator
        self._profiles = profiles

    def routes(self) -> list[Route]:
        return [
            Route("GET", f"{V3}/profile/{{user_id}}", self.get_profile),
            Route("GET", f"{V3}/profile/{{user_id}}/{{key}}", self.get_field),
            Route("PUT", f"{V3}/profile/{{user_id}}/{{key}}", self.set_field),
            Route("DELETE", f"{V3}/profile/{{user_id}}/{{key}}", self.delete_field),
        ]

    async def get_profile(self, request: web.Request) -> web.Response:
        """GET /_matrix/client/v3/profile/{userId}."""
        return json_response(await self._profiles.get_profile(request.match_info["user_id"]))

    async def get_field(self, request: web.Request) -> web.Response:
        """GET /_matrix/client/v3/profile/{userId}/{keyName}."""
        key = request.match_info["key"]
        value = await self._profiles.get_field(request.match_info["user_id"], key)
        return json_response({key: value})

    async def set_field(self, request: web.Request) -> web.Response:
        """PUT /_matrix/client/v3/profile/{userId}/{keyName}."""
        requester = await self._authenticator.requester(request, allow_guest=True)
        key = request.match_info["key"]
        _guests_only_displayname(requester, key)
        body = await read_json(request)
        if key not in body:
            raise MatrixError("M_MISSING_PARAM", f"The body must contain {key!r}")
        await self._profiles.set_field(requester.user_id, request.match_info["user_id"], key, body[key])
        return json_response({})

    async def delete_field(self, request: web.Request) -> web.Response:
        """DELETE /_matrix/client/v3/profile/{userId}/{keyName}."""
        requester = await self._authenticator.requester(request, allow_guest=True)
        _guests_only_displayname(requester, request.match_info["key"])
        await self._profiles.delete_field(
            requester.user_id, request.match_info["user_id"], request.match_info["key"]
        )
        return json_response({})


def _guests_only_displayname(requester: Requester, key: str) -> None:
    """Guests may change their display name and no other profile field (spec: Guest Access)."""
    if requester.is_guest and key != "displayname":
        raise MatrixError("M_GUEST_ACCESS_FORBIDDEN", "Guests may only change their display name")
