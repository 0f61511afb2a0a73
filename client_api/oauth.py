"""The OAuth 2.0 API's machine endpoints (spec: Client-Server API, "OAuth 2.0 API"):
server metadata, client registration, token, revocation, device authorization and the
ID-token keys. Their errors are OAuth's ``{"error", "error_description"}``; the pages a
person sees are in :mod:`client_api.pages`."""

from __future__ import annotations

from aiohttp import web

from client_api.auth import Authenticator
from homeserver.errors import MatrixError
from homeserver.http import Route, json_response
from homeserver.parsing import check_request_strings, parse_json
from homeserver.services.oauth.service import OAuthResponse, OAuthService

Form = dict[str, list[str]]


async def read_form(request: web.Request) -> Form:
    """An ``application/x-www-form-urlencoded`` body as ``name -> [values]`` (no U+0000)."""
    posted = await request.post()
    form: Form = {}
    for name, value in posted.items():
        if not isinstance(value, str):
            raise MatrixError("M_INVALID_PARAM", "File uploads are not accepted here")
        form.setdefault(name, []).append(value)
    check_request_strings([s for name, values in form.items() for s in (name, *values)])
    return form


def oauth_response(response: OAuthResponse) -> web.Response:
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-type"}
    return json_response(response.body, status=response.status, headers=headers)


class OAuthRoutes:
    def __init__(self, authenticator: Authenticator, oauth: OAuthService) -> None:
        self._authenticator = authenticator
        self._oauth = oauth

    def routes(self) -> list[Route]:
        routes = [Route("GET", "/_matrix/client/v1/auth_metadata", self.auth_metadata)]
        if not self._oauth.enabled:
            return routes
        return routes + [
            Route("GET", "/.well-known/openid-configuration", self.auth_metadata),
            Route("GET", "/.well-known/oauth-authorization-server", self.auth_metadata),
            Route("POST", "/_hearth/oauth2/register", self.register),
            Route("POST", "/_hearth/oauth2/token", self.token),
            Route("POST", "/_hearth/oauth2/revoke", self.revoke),
            Route("POST", "/_hearth/oauth2/device_authorization", self.device_authorization),
            Route("GET", "/_hearth/oauth2/keys.json", self.keys),
        ]

    async def auth_metadata(self, request: web.Request) -> web.Response:
        """GET /_matrix/client/v1/auth_metadata (spec: "Server metadata discovery"; RFC 8414).
        ``404 M_UNRECOGNIZED`` while ``oauth.enabled`` is off."""
        if not self._oauth.enabled:
            raise MatrixError("M_UNRECOGNIZED", "The OAuth 2.0 API is not enabled on this server")
        return json_response(self._oauth.metadata(), headers={"Cache-Control": "public, max-age=3600"})

    async def register(self, request: web.Request) -> web.Response:
        """POST /_hearth/oauth2/register (RFC 7591 dynamic client registration)."""
        try:
            body = parse_json(await request.read())
        except MatrixError as e:
            return json_response({"error": "invalid_client_metadata", "error_description": e.message}, status=400)
        return oauth_response(
            await self._oauth.register_client(body, ip=self._authenticator.client_ip(request))
        )

    async def token(self, request: web.Request) -> web.Response:
        """POST /_hearth/oauth2/token (authorization code, refresh token, device code grants)."""
        return oauth_response(await self._oauth.token(await read_form(request)))

    async def revoke(self, request: web.Request) -> web.Response:
        """POST /_hearth/oauth2/revoke (RFC 7009): end the session of an access or refresh token."""
        return oauth_response(await self._oauth.revoke(await read_form(request)))

    async def device_authorization(self, request: web.Request) -> web.Response:
        """POST /_hearth/oauth2/device_authorization (RFC 8628 section 3.1)."""
        return oauth_response(
            await self._oauth.device_authorization(await read_form(request), ip=self._authenticator.client_ip(request))
        )

    async def keys(self, request: web.Request) -> web.Response:
        """GET /_hearth/oauth2/keys.json: the JWKS that verifies ID tokens."""
        return json_response(await self._oauth.jwks(), headers={"Cache-Control": "public, max-age=3600"})
