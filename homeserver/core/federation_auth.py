"""Signing and verifying federation requests (spec: Server-Server API, "Request Authentication").

A request is signed by wrapping its method, target (path and query, starting
at ``/_matrix``), origin, destination and JSON body in an object and signing
that with the origin's server key; the signature travels in an
``Authorization: X-Matrix origin=...,destination=...,key=...,sig=...`` header.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from nacl.signing import VerifyKey

from homeserver.core.signing import ServerSigningKey, sign_json, verify_json

_SCHEME = re.compile(r"X-Matrix +", re.I)
# name=value, where value is a quoted string (with backslash escapes) or a token
# (colons allowed, for older servers).
_PARAM = re.compile(r'\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s"]*))\s*(?:,|$)')


class InvalidAuthorization(ValueError):
    """The ``Authorization`` header is not a well-formed ``X-Matrix`` header."""


@dataclass(frozen=True)
class XMatrix:
    origin: str
    destination: str | None
    key: str
    sig: str


def request_json(method: str, uri: str, origin: str, destination: str, content: Any = None) -> dict[str, Any]:
    """The object whose signature authenticates a request (``content`` only when there is a body)."""
    obj: dict[str, Any] = {"method": method.upper(), "uri": uri, "origin": origin, "destination": destination}
    if content is not None:
        obj["content"] = content
    return obj


def authorization_header(
    method: str, uri: str, origin: str, destination: str, content: Any, key: ServerSigningKey
) -> str:
    """The ``Authorization`` header value for a request from ``origin`` to ``destination``."""
    signed = sign_json(request_json(method, uri, origin, destination, content), origin, key)
    signature = signed["signatures"][origin][key.key_id]
    return f'X-Matrix origin="{origin}",destination="{destination}",key="{key.key_id}",sig="{signature}"'


def parse_authorization(header: str) -> XMatrix:
    """Parse an ``X-Matrix`` header; :class:`InvalidAuthorization` if it is not one."""
    scheme = _SCHEME.match(header)
    if scheme is None:
        raise InvalidAuthorization("the authorization scheme is not X-Matrix")
    params: dict[str, str] = {}
    rest = header[scheme.end():]
    position = 0
    while position < len(rest):
        match = _PARAM.match(rest, position)
        if match is None or match.end() == position:
            raise InvalidAuthorization("malformed X-Matrix parameters")
        name = match.group(1).lower()
        quoted = match.group(2)
        value = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else match.group(3)
        params.setdefault(name, value)
        position = match.end()
    missing = [name for name in ("origin", "key", "sig") if not params.get(name)]
    if missing:
        raise InvalidAuthorization(f"X-Matrix header without {', '.join(missing)}")
    return XMatrix(params["origin"], params.get("destination"), params["key"], params["sig"])


def verify_request(
    method: str, uri: str, auth: XMatrix, destination: str, content: Any, verify_key: VerifyKey
) -> None:
    """Raise :class:`~homeserver.core.signing.SignatureError` unless ``auth`` signs this request."""
    obj = request_json(method, uri, auth.origin, destination, content)
    obj["signatures"] = {auth.origin: {auth.key: auth.sig}}
    verify_json(obj, auth.origin, auth.key, verify_key)
