"""Matrix identifiers: server names, user IDs, room IDs, event IDs and room aliases
(spec: Appendices, "Identifier Grammar")."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

MAX_ID_BYTES = 255

_DNS_NAME = re.compile(r"[A-Za-z0-9\-.]{1,255}")
_IPV4 = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}")
_IPV6_CHARS = re.compile(r"[0-9A-Fa-f:.]{2,45}")
_LOCALPART = re.compile(r"[a-z0-9._=\-/+]+")


class InvalidIdentifier(ValueError):
    """A string does not follow the grammar of the identifier it should be."""


@dataclass(frozen=True)
class ServerName:
    host: str
    port: int | None

    @property
    def is_ip_literal(self) -> bool:
        return self.host.startswith("[") or _IPV4.fullmatch(self.host) is not None


@dataclass(frozen=True)
class UserID:
    localpart: str
    server_name: str

    def __str__(self) -> str:
        return f"@{self.localpart}:{self.server_name}"


def parse_server_name(value: str) -> ServerName:
    """Split a server name into host and optional port, validating both."""
    if value.startswith("["):
        end = value.find("]")
        if end == -1:
            raise InvalidIdentifier(f"unterminated IPv6 literal in {value!r}")
        host, rest = value[: end + 1], value[end + 1 :]
        inner = host[1:-1]
        if not _IPV6_CHARS.fullmatch(inner):
            raise InvalidIdentifier(f"invalid IPv6 literal in {value!r}")
        try:
            ipaddress.IPv6Address(inner)
        except ValueError:
            raise InvalidIdentifier(f"invalid IPv6 literal in {value!r}") from None
    else:
        host, sep, port_text = value.partition(":")
        rest = sep + port_text
        if _IPV4.fullmatch(host):
            if any(int(part) > 255 for part in host.split(".")):
                raise InvalidIdentifier(f"invalid IPv4 literal in {value!r}")
        elif not _DNS_NAME.fullmatch(host):
            raise InvalidIdentifier(f"invalid host name in {value!r}")
    port = None
    if rest:
        if not rest.startswith(":") or not re.fullmatch(r"\d{1,5}", rest[1:]):
            raise InvalidIdentifier(f"invalid port in {value!r}")
        port = int(rest[1:])
        if port > 65535:
            raise InvalidIdentifier(f"port out of range in {value!r}")
    return ServerName(host, port)


def is_valid_server_name(value: str) -> bool:
    try:
        parse_server_name(value)
    except InvalidIdentifier:
        return False
    return True


def _split(value: str, sigil: str, what: str) -> tuple[str, str]:
    if not value.startswith(sigil):
        raise InvalidIdentifier(f"{what} must start with {sigil!r}")
    if len(value.encode("utf-8")) > MAX_ID_BYTES:
        raise InvalidIdentifier(f"{what} is longer than {MAX_ID_BYTES} bytes")
    local, sep, server = value[1:].partition(":")
    if not sep:
        raise InvalidIdentifier(f"{what} has no server name")
    parse_server_name(server)
    if "\x00" in local:
        raise InvalidIdentifier(f"{what} contains NUL")
    return local, server


def parse_user_id(value: str) -> UserID:
    """Parse a user ID, accepting historical localparts (any character but ``:`` and NUL)."""
    local, server = _split(value, "@", "user ID")
    return UserID(local, server)


def is_valid_user_id(value: str) -> bool:
    try:
        parse_user_id(value)
    except InvalidIdentifier:
        return False
    return True


def is_valid_localpart(localpart: str) -> bool:
    """Whether ``localpart`` follows the grammar for *new* user IDs (a-z 0-9 . _ = - / +)."""
    return bool(_LOCALPART.fullmatch(localpart))


def is_valid_room_id(value: str) -> bool:
    """``!opaque:server`` (room versions 1-11) or ``!hash`` (v12, no server part)."""
    if not value.startswith("!") or len(value.encode("utf-8")) > MAX_ID_BYTES or "\x00" in value:
        return False
    local, sep, server = value[1:].partition(":")
    if not sep:
        return bool(re.fullmatch(r"[A-Za-z0-9+/_\-]{43}", local))
    return is_valid_server_name(server)


def is_valid_event_id(value: str) -> bool:
    """``$opaque:server`` (room versions 1-2) or ``$hash`` (v3+)."""
    if not value.startswith("$") or len(value.encode("utf-8")) > MAX_ID_BYTES or "\x00" in value:
        return False
    local, sep, server = value[1:].partition(":")
    if not sep:
        return bool(re.fullmatch(r"[A-Za-z0-9+/_\-]{43}", local))
    return is_valid_server_name(server)


def is_valid_room_alias(value: str) -> bool:
    try:
        _split(value, "#", "room alias")
    except InvalidIdentifier:
        return False
    return True


def get_domain_from_id(value: str) -> str:
    """The server name of a user ID, room alias or server-generated room/event ID."""
    _, sep, server = value.partition(":")
    if not sep:
        raise InvalidIdentifier(f"{value!r} has no server name")
    return server
