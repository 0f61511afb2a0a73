"""Server ACLs (spec: Client-Server API, "Server Access Control Lists (ACLs) for rooms").

``m.room.server_acl`` names the servers allowed and denied in a room with
``*``/``?`` globs over server names without their port; IP literals are
denied unless ``allow_ip_literals`` (default true). Deny wins over allow, and
a server no allow pattern matches is denied.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeserver.core.glob import compile_glob, matches
from homeserver.core.identifiers import InvalidIdentifier, parse_server_name


def _patterns(content: Mapping[str, Any], key: str) -> list[str]:
    value = content.get(key)
    return [p for p in value if isinstance(p, str)] if isinstance(value, list) else []


def server_allowed(acl: Mapping[str, Any] | None, server_name: str) -> bool:
    """Whether ``server_name`` may take part in a room with this ACL content (``None``: no ACL)."""
    if acl is None:
        return True
    try:
        name = parse_server_name(server_name)
    except InvalidIdentifier:
        return False
    host = name.host
    allow_ip = acl.get("allow_ip_literals", True)
    if name.is_ip_literal and allow_ip is False:
        return False
    if any(matches(compile_glob(p), host) for p in _patterns(acl, "deny")):
        return False
    return any(matches(compile_glob(p), host) for p in _patterns(acl, "allow"))
