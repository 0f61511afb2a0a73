"""Request parsing and response rendering shared by every route module."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from homeserver.errors import MatrixError
from homeserver.parsing import parse_bool, parse_int, parse_json

Handler = Callable[[web.Request], Any]


@dataclass(frozen=True)
class Route:
    """One row of a route table: ``METHOD path -> handler``."""

    method: str
    path: str
    handler: Handler


def add_routes(app: web.Application, routes: Iterable[Route]) -> None:
    for route in routes:
        app.router.add_route(route.method, route.path, route.handler)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON response rendered with orjson."""
    return web.Response(
        body=orjson.dumps(data),
        status=status,
        content_type="application/json",
        headers=headers,
    )


async def read_json(request: web.Request, *, allow_empty: bool = False) -> dict[str, Any]:
    """The request body as a JSON object (parsed by :func:`~homeserver.parsing.parse_json`).

    Invalid JSON is ``M_NOT_JSON``; JSON beyond the JSON policy (too deep, U+0000,
    huge integers) or that is not an object is ``M_BAD_JSON``. An empty body is
    ``{}`` when ``allow_empty`` (several endpoints accept no body at all).
    Oversize bodies never reach here: the application's ``client_max_size`` turns
    them into ``M_TOO_LARGE``.
    """
    raw = await request.read()
    if not raw.strip():
        if allow_empty:
            return {}
        raise MatrixError("M_NOT_JSON", "The request body is empty; expected a JSON object")
    data = parse_json(raw)
    if not isinstance(data, dict):
        raise MatrixError("M_BAD_JSON", "The request body must be a JSON object")
    return data


def field(body: dict[str, Any], name: str, kind: type | tuple[type, ...], *, required: bool = True, default: Any = None) -> Any:
    """``body[name]``, checked to be of ``kind`` (``M_MISSING_PARAM`` / ``M_BAD_JSON``)."""
    if name not in body or body[name] is None:
        if required:
            raise MatrixError("M_MISSING_PARAM", f"Missing parameter: {name}")
        return default
    value = body[name]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
        names = " or ".join(_type_name(k) for k in kinds)
        raise MatrixError("M_BAD_JSON", f"Parameter {name} must be {names}")
    return value


def query_int(request: web.Request, name: str, default: int | None = None, *, minimum: int = 0) -> int | None:
    """An integer query parameter (:func:`~homeserver.parsing.parse_int`), or ``default``."""
    raw = request.query.get(name)
    return default if raw is None else parse_int(raw, f"Query parameter {name}", minimum=minimum)


def query_bool(request: web.Request, name: str, default: bool = False) -> bool:
    raw = request.query.get(name)
    return default if raw is None else parse_bool(raw, f"Query parameter {name}")


@dataclass(frozen=True)
class ThumbnailQuery:
    """The query of a media thumbnail request (client and federation APIs alike)."""

    width: int
    height: int
    method: str
    animated: bool
    timeout_ms: int


def thumbnail_query(request: web.Request) -> ThumbnailQuery:
    width = query_int(request, "width", minimum=1)
    height = query_int(request, "height", minimum=1)
    if width is None or height is None:
        raise MatrixError("M_MISSING_PARAM", "width and height are required")
    method = request.query.get("method", "scale")
    if method not in ("crop", "scale"):
        raise MatrixError("M_INVALID_PARAM", "method must be crop or scale")
    return ThumbnailQuery(
        width, height, method, query_bool(request, "animated", False), media_timeout_ms(request)
    )


def media_timeout_ms(request: web.Request) -> int:
    """How long a media request may wait for content still being uploaded (default 20 s)."""
    return query_int(request, "timeout_ms", 20_000) or 0


def _type_name(kind: type) -> str:
    return {
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "a boolean",
        dict: "an object",
        list: "an array",
    }.get(kind, kind.__name__)
