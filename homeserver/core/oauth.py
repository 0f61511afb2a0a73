"""The Matrix rules of the OAuth 2.0 API as pure functions (spec: Client-Server API,
"OAuth 2.0 API"): scope tokens, client metadata URIs and redirect URI validation.

The protocol mechanics (grants, PKCE, registration, revocation) are authlib's, driven
by :mod:`homeserver.services.oauth`; this module holds what Matrix adds on top.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

#: ``urn:matrix:client:api:*`` and the MSC2967 form clients such as Element X still send.
API_SCOPES = ("urn:matrix:client:api:*", "urn:matrix:org.matrix.msc2967.client:api:*")
DEVICE_SCOPE_PREFIXES = ("urn:matrix:client:device:", "urn:matrix:org.matrix.msc2967.client:device:")
OPENID = "openid"
_UNRESERVED = re.compile(r"[A-Za-z0-9\-._~]{1,255}")
_LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


class OAuthRuleError(ValueError):
    """A scope or client metadata value breaks the spec's rules (the message says which)."""


@dataclass(frozen=True)
class MatrixScope:
    """A requested scope, understood: the device it allocates and whether it is OpenID."""

    tokens: tuple[str, ...]
    device_id: str
    openid: bool

    @property
    def text(self) -> str:
        return " ".join(self.tokens)


def parse_scope(scope: str | None) -> MatrixScope:
    """Check a login scope: full API access, exactly one device token (a device ID of
    unreserved characters, RFC 3986 section 2.3), optionally ``openid``; nothing else."""
    tokens = tuple(dict.fromkeys((scope or "").split(" ")))  # order kept, repeats dropped
    tokens = tuple(t for t in tokens if t)
    devices = []
    for token in tokens:
        prefix = next((p for p in DEVICE_SCOPE_PREFIXES if token.startswith(p)), None)
        if prefix is not None:
            devices.append(token[len(prefix):])
        elif token not in API_SCOPES and token != OPENID:
            raise OAuthRuleError(f"Unknown scope token {token!r}")
    if not any(t in API_SCOPES for t in tokens):
        raise OAuthRuleError("The scope must include urn:matrix:client:api:*")
    if len(set(devices)) != 1:
        raise OAuthRuleError("The scope must allocate exactly one device (urn:matrix:client:device:<device_id>)")
    if not _UNRESERVED.fullmatch(devices[0]):
        raise OAuthRuleError("A device ID may only hold the characters A-Z a-z 0-9 - . _ ~")
    return MatrixScope(tokens, devices[0], OPENID in tokens)


def is_loopback_host(host: str | None) -> bool:
    return host is not None and host.lower() in _LOOPBACK_HOSTS


def check_client_uri(uri: object) -> str:
    """The ``client_uri``: required, ``https`` (``http`` only on a loopback host, for
    clients under development), with a host and no user or password."""
    if not isinstance(uri, str) or not uri:
        raise OAuthRuleError("client_uri is required")
    parts = _split(uri, "client_uri")
    if parts.scheme != "https" and not (parts.scheme == "http" and is_loopback_host(parts.hostname)):
        raise OAuthRuleError("client_uri must use https")
    if not parts.hostname or parts.username is not None or parts.password is not None:
        raise OAuthRuleError("client_uri must name a host and no user or password")
    if parts.fragment:
        raise OAuthRuleError("client_uri must not have a fragment")
    return uri


def check_related_uri(name: str, uri: object, client_uri: str) -> None:
    """``logo_uri``, ``tos_uri``, ``policy_uri``: the client URI's scheme, on its host or
    a subdomain of it, no user or password."""
    if not isinstance(uri, str):
        raise OAuthRuleError(f"{name} must be a string")
    if not _same_site(uri, client_uri, name):
        raise OAuthRuleError(f"{name} must be on the host of client_uri (or a subdomain of it)")


def check_redirect_uri(uri: object, *, application_type: str, client_uri: str) -> None:
    """One registered redirect URI, by the spec's "Redirect URI validation" rules."""
    if not isinstance(uri, str) or not uri:
        raise OAuthRuleError("redirect_uris must be non-empty strings")
    parts = _split(uri, "redirect_uri")
    if "#" in uri:
        raise OAuthRuleError("A redirect URI must not have a fragment")
    if application_type == "web" or parts.scheme == "https":  # web, or a native claimed https URI
        if not _same_site(uri, client_uri, "redirect_uri"):
            raise OAuthRuleError(f"Redirect URI {uri} must use https on the host of client_uri (or a subdomain)")
        return
    if parts.scheme == "http":  # native: the loopback interface, any port at authorization time
        if not is_loopback_host(parts.hostname) or parts.port is not None or parts.username or parts.password:
            raise OAuthRuleError(f"Redirect URI {uri}: http is only for localhost, 127.0.0.1 or [::1], without a port")
        return
    # native: a private-use scheme, the client URI's host in reverse-DNS notation.
    host = urlsplit(client_uri).hostname or ""
    reverse = ".".join(reversed(host.split(".")))
    if not (parts.scheme == reverse or parts.scheme.startswith(reverse + ".")):
        raise OAuthRuleError(f"Redirect URI {uri}: a private-use scheme must start with {reverse}")
    if uri[len(parts.scheme) + 1:].startswith("//"):
        raise OAuthRuleError(f"Redirect URI {uri}: a private-use scheme URI has no authority component")


def redirect_uri_matches(requested: str, registered: list[str], *, application_type: str) -> bool:
    """Whether an authorization request's redirect URI is one of the registered ones:
    exactly, except that a native client's loopback URI may use any port."""
    if requested in registered:
        return True
    if application_type != "native":
        return False
    try:
        parts = urlsplit(requested)
        port = parts.port
    except ValueError:
        return False
    if parts.scheme != "http" or not is_loopback_host(parts.hostname) or port is None:
        return False
    host = parts.netloc.rsplit(":", 1)[0]
    return parts._replace(netloc=host).geturl() in registered


def _split(uri: str, name: str):  # type: ignore[no-untyped-def]
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise OAuthRuleError(f"{name} {uri!r} is not a valid URI") from None
    if not parts.scheme:
        raise OAuthRuleError(f"{name} {uri!r} is not an absolute URI")
    return parts


def _same_site(uri: str, client_uri: str, name: str) -> bool:
    parts = _split(uri, name)
    base = urlsplit(client_uri)
    host, base_host = (parts.hostname or "").lower(), (base.hostname or "").lower()
    return (
        parts.scheme == base.scheme
        and bool(host)
        and parts.username is None
        and parts.password is None
        and not parts.fragment
        and (host == base_host or host.endswith("." + base_host))
    )
