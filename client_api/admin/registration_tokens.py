"""Registration tokens (Synapse admin API: ``/_synapse/admin/v1/registration_tokens``)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from client_api.auth import Authenticator
from homeserver.http import Route, json_response, read_json
from homeserver.errors import MatrixError
from homeserver.services.registration import RegistrationService
from storage.registration import RegistrationToken

PATH = "/_synapse/admin/v1/registration_tokens"


def token_json(token: RegistrationToken) -> dict[str, Any]:
    return {
        "token": token.token,
        "uses_allowed": token.uses_allowed,
        "pending": token.pending,
        "completed": token.completed,
        "expiry_time": token.expiry_time,
    }


def _nullable_int(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise MatrixError("M_INVALID_PARAM", f"{key} must be an integer or null")
    return value


class RegistrationTokenRoutes:
    def __init__(self, authenticator: Authenticator, registration: RegistrationService) -> None:
        self._authenticator = authenticator
        self._registration = registration

    def routes(self) -> list[Route]:
        return [
            Route("GET", PATH, self.list_tokens),
            Route("POST", f"{PATH}/new", self.create),
            Route("GET", f"{PATH}/{{token}}", self.get),
            Route("PUT", f"{PATH}/{{token}}", self.update),
            Route("DELETE", f"{PATH}/{{token}}", self.delete),
        ]

    async def list_tokens(self, request: web.Request) -> web.Response:
        """GET /_synapse/admin/v1/registration_tokens[?valid=true|false]."""
        await self._authenticator.admin(request)
        valid_param = request.query.get("valid")
        if valid_param not in (None, "true", "false"):
            raise MatrixError("M_INVALID_PARAM", "valid must be true or false")
        valid = None if valid_param is None else valid_param == "true"
        tokens = await self._registration.list_tokens(valid=valid)
        return json_response({"registration_tokens": [token_json(t) for t in tokens]})

    async def create(self, request: web.Request) -> web.Response:
        """POST /_synapse/admin/v1/registration_tokens/new."""
        await self._authenticator.admin(request)
        body = await read_json(request, allow_empty=True)
        token = body.get("token")
        if token is not None and not isinstance(token, str):
            raise MatrixError("M_INVALID_PARAM", "token must be a string")
        length = body.get("length", 16)
        if isinstance(length, bool) or not isinstance(length, int):
            raise MatrixError("M_INVALID_PARAM", "length must be an integer")
        created = await self._registration.create_token(
            token,
            uses_allowed=_nullable_int(body, "uses_allowed"),
            expiry_time=_nullable_int(body, "expiry_time"),
            length=length,
        )
        return json_response(token_json(created))

    async def get(self, request: web.Request) -> web.Response:
        """GET /_synapse/admin/v1/registration_tokens/{token}."""
        await self._authenticator.admin(request)
        return json_response(token_json(await self._registration.get_token(request.match_info["token"])))

    async def update(self, request: web.Request) -> web.Response:
        """PUT /_synapse/admin/v1/registration_tokens/{token}: change uses_allowed/expiry_time."""
        await self._authenticator.admin(request)
        body = await read_json(request, allow_empty=True)
        current = await self._registration.get_token(request.match_info["token"])
        updated = await self._registration.update_token(
            current.token,
            uses_allowed=_nullable_int(body, "uses_allowed") if "uses_allowed" in body else current.uses_allowed,
            expiry_time=_nullable_int(body, "expiry_time") if "expiry_time" in body else current.expiry_time,
        )
        return json_response(token_json(updated))

    async def delete(self, request: web.Request) -> web.Response:
        """DELETE /_synapse/admin/v1/registration_tokens/{token}."""
        await self._authenticator.admin(request)
        await self._registration.delete_token(request.match_info["token"])
        return json_response({})
