"""Query parameters shared by the admin API's lists (Synapse's conventions)."""

from __future__ import annotations

from aiohttp import web

from homeserver.errors import MatrixError
from homeserver.http import query_int


def page(request: web.Request) -> tuple[int, int]:
    """``from`` (an offset, default 0) and ``limit`` (default 100, at most 1000)."""
    offset = query_int(request, "from", 0) or 0
    limit = query_int(request, "limit", 100, minimum=1) or 100
    return offset, min(limit, 1000)


def backwards(request: web.Request, default: str) -> bool:
    """Whether ``dir`` (``f`` or ``b``, ``default`` when absent) asks for the reverse order."""
    direction = request.query.get("dir", default)
    if direction not in ("f", "b"):
        raise MatrixError("M_INVALID_PARAM", "dir must be 'f' or 'b'")
    return direction == "b"


def optional_bool(request: web.Request, name: str) -> bool | None:
    """A ``true``/``false`` query parameter, ``None`` when absent."""
    raw = request.query.get(name)
    if raw is None:
        return None
    if raw not in ("true", "false"):
        raise MatrixError("M_INVALID_PARAM", f"Query parameter {name} must be true or false")
    return raw == "true"
