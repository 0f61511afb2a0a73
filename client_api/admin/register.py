"""Shared-secret registration (Synapse admin API: ``/_synapse/admin/v1/register``)."""

from __future__ import annotations

from aiohttp import web

from client_api.auth import Authenticator
from homeserver.http import Route, json_response, read_json
from homeserver.services.shared_secret import SharedSecretRegistration

PATH = "/_synapse/admin/v1/register"


class SharedSecretRoutes:
    def __init__(self, authenticator: Authenticator, registration: SharedSecretRegistration) -> None:
        self._authenticator = authenticator
        self._registration = registration

    def routes(self) -> list[Route]:
        return [Route("GET", PATH, self.nonce), Route("POST", PATH, self.register)]

    async def nonce(self, request: web.Request) -> web.Response:
        """GET /_synapse/admin/v1/register: a single-use nonce."""
        return json_response({"nonce": await self._registration.new_nonce(self._authenticator.client_ip(request))})

    async def register(self, request: web.Request) -> web.Response:
        """POST /_synapse/admin/v1/register: create an account proven by HMAC."""
        body = await read_json(request)
        return json_response(await self._registration.register(body))
