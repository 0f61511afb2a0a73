"""Server-Server API routes: keys, version and queries (spec: Server-Server API)."""

from __future__ import annotations

from aiohttp import web

from homeserver.http import Route, json_response, read_json
from federation.auth import FederationAuthenticator
from federation.keys import KeyRing
from homeserver import __version__
from homeserver.core.identifiers import is_valid_user_id
from homeserver.errors import MatrixError
from homeserver.services.directory import DirectoryService
from homeserver.services.profiles import ProfileService

FED_V1 = "/_matrix/federation/v1"
KEY_V2 = "/_matrix/key/v2"


class KeyRoutes:
    """Publishing our keys and the notary API; no authentication (keys are self-signed)."""

    def __init__(self, keyring: KeyRing) -> None:
        self._keyring = keyring

    def routes(self) -> list[Route]:
        return [
            Route("GET", f"{KEY_V2}/server", self.server),
            Route("GET", f"{KEY_V2}/query/{{server_name}}", self.query_one),
            Route("POST", f"{KEY_V2}/query", self.query),
        ]

    async def server(self, request: web.Request) -> web.Response:
        return json_response(self._keyring.own_response())

    async def query_one(self, request: web.Request) -> web.Response:
        answers = await self._keyring.notary_answer({request.match_info["server_name"]: {}})
        return json_response({"server_keys": answers})

    async def query(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        wanted = body.get("server_keys")
        if not isinstance(wanted, dict) or not all(isinstance(v, dict) for v in wanted.values()):
            raise MatrixError("M_BAD_JSON", "server_keys must map server names to key criteria")
        return json_response({"server_keys": await self._keyring.notary_answer(wanted)})


class QueryRoutes:
    """``/version`` and the simple authenticated queries."""

    def __init__(
        self, authenticator: FederationAuthenticator, profiles: ProfileService, directory: DirectoryService
    ) -> None:
        self._authenticator = authenticator
        self._profiles = profiles
        self._directory = directory

    def routes(self) -> list[Route]:
        return [
            Route("GET", f"{FED_V1}/version", self.version),
            Route("GET", f"{FED_V1}/query/profile", self.profile),
            Route("GET", f"{FED_V1}/query/directory", self.directory),
        ]

    async def version(self, request: web.Request) -> web.Response:
        return json_response({"server": {"name": "Hearth", "version": __version__}})

    async def profile(self, request: web.Request) -> web.Response:
        """GET /query/profile?user_id=&field=."""
        await self._authenticator.origin(request)
        user_id = request.query.get("user_id", "")
        if not is_valid_user_id(user_id):
            raise MatrixError("M_INVALID_PARAM", "user_id must be a user ID")
        field_name = request.query.get("field")
        if field_name is not None and field_name not in ("displayname", "avatar_url"):
            raise MatrixError("M_INVALID_PARAM", "field must be displayname or avatar_url")
        profile = await self._profiles.get_profile(user_id)
        if field_name is not None:
            profile = {k: v for k, v in profile.items() if k == field_name}
        return json_response(profile)

    async def directory(self, request: web.Request) -> web.Response:
        """GET /query/directory?room_alias=."""
        await self._authenticator.origin(request)
        return json_response(await self._directory.resolve_alias(request.query.get("room_alias", "")))
