"""Capabilities negotiation (spec: Client-Server API, "Capabilities negotiation")."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from client_api.auth import Authenticator
from homeserver.http import Route, json_response
from homeserver.config import Config
from homeserver.core.room_versions import KNOWN_ROOM_VERSIONS


def capabilities(config: Config) -> dict[str, Any]:
    """What this server lets clients do, derived from its configuration."""
    return {
        "m.change_password": {"enabled": True},
        "m.room_versions": {
            "default": config.rooms.default_version,
            "available": {
                identifier: "stable" if version.stable else "unstable"
                for identifier, version in KNOWN_ROOM_VERSIONS.items()
            },
        },
        "m.set_displayname": {"enabled": True},
        "m.set_avatar_url": {"enabled": True},
        "m.profile_fields": {"enabled": True},
        "m.3pid_changes": {"enabled": False},
        "m.get_login_token": {"enabled": False},
    }


#: What a server admin may do besides (spec v1.18: ``m.account_moderation``).
ADMIN_CAPABILITIES = {"m.account_moderation": {"suspend": True, "lock": False}}


class CapabilitiesRoutes:
    def __init__(self, authenticator: Authenticator, config: Config) -> None:
        self._authenticator = authenticator
        self._capabilities = capabilities(config)

    def routes(self) -> list[Route]:
        return [Route("GET", "/_matrix/client/v3/capabilities", self.get)]

    async def get(self, request: web.Request) -> web.Response:
        """GET /_matrix/client/v3/capabilities."""
        requester = await self._authenticator.requester(request)
        if requester.is_admin:  # admins may suspend accounts (Hearth has no account locks)
            return json_response({"capabilities": {**self._capabilities, **ADMIN_CAPABILITIES}})
        return json_response({"capabilities": self._capabilities})
