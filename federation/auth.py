"""Authenticating inbound federation requests (spec: "Request Authentication").

Every Server-Server endpoint but the key and version endpoints needs an
``X-Matrix`` header from the origin, for this server, with a signature that
the origin's current key verifies over the exact request. A header naming an
origin or destination that is not a server name at all (say, with a port that
is not a number) is a bad request, ``400 M_UNAUTHORIZED``; anything else that
fails is ``401 M_UNAUTHORIZED``. Nothing is read or written before that check.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from federation.keys import KeyRing
from homeserver.services.ports import KeyUnavailable
from homeserver.core.federation_auth import InvalidAuthorization, parse_authorization, verify_request
from homeserver.core.identifiers import is_valid_server_name
from homeserver.core.canonical_json import InvalidJSON
from homeserver.core.signing import SignatureError
from homeserver.errors import MatrixError
from homeserver.parsing import check_server_json, parse_transport_json


def _refuse(message: str) -> MatrixError:
    return MatrixError("M_UNAUTHORIZED", message, status=401)


class FederationAuthenticator:
    def __init__(self, keyring: KeyRing, server_name: str) -> None:
        self._keyring = keyring
        self._server_name = server_name

    async def origin(self, request: web.Request, *, check_body: bool = True) -> tuple[str, Any]:
        """The authenticated origin server of ``request`` and its parsed JSON body (or ``None``).

        The body is parsed as it came (the signature covers it), then, once the
        request is authenticated, checked against the JSON policy unless the
        caller checks the items in it one by one (``check_body=False``: ``/send``).
        """
        header = request.headers.get("Authorization")
        if not header:
            raise _refuse("Missing X-Matrix Authorization header")
        try:
            auth = parse_authorization(header)
        except InvalidAuthorization as e:
            raise _refuse(str(e)) from None
        if not is_valid_server_name(auth.origin):
            raise MatrixError("M_UNAUTHORIZED", "The origin is not a valid server name", status=400)
        if auth.destination is not None and not is_valid_server_name(auth.destination):
            raise MatrixError("M_UNAUTHORIZED", "The destination is not a valid server name", status=400)
        if auth.destination is not None and auth.destination != self._server_name:
            raise _refuse(f"This request is for {auth.destination}, not this server")
        raw = await request.read()
        body = parse_transport_json(raw) if raw else None
        try:
            key = await self._keyring.verify_key(auth.origin, auth.key)
            verify_request(request.method, request.raw_path, auth, self._server_name, body, key)
        except KeyUnavailable as e:
            raise _refuse(f"Cannot verify the request: {e}") from None
        except SignatureError:
            raise _refuse("Invalid request signature") from None
        except InvalidJSON:
            raise MatrixError("M_NOT_JSON", "The request body cannot be encoded as canonical JSON") from None
        if check_body:
            check_server_json(body)
        return auth.origin, body
