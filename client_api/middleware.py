"""The middlewares every HTTP listener shares: request IDs and access logs,
CORS, Matrix JSON errors for everything (never a traceback or an HTML page),
request metrics, and the one check of every path and query parameter.
"""

from __future__ import annotations

import itertools
import secrets
import time

import structlog
from aiohttp import web

from homeserver.http import json_response
from homeserver import metrics
from homeserver.errors import MatrixError
from homeserver.parsing import check_request_strings

logger = structlog.get_logger("hearth.http")

# Spec: Client-Server API, "Web Browser Clients".
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, PUT, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "X-Requested-With, Content-Type, Authorization",
    "Access-Control-Expose-Headers": "Retry-After",
}


_ID_PREFIX = secrets.token_hex(3)
_request_counter = itertools.count(1)


@web.middleware
async def request_context(request: web.Request, handler):  # type: ignore[no-untyped-def]
    """Bind a request ID for every log line, log the request once, count it."""
    request_id = f"{_ID_PREFIX}{next(_request_counter):x}"
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=request_id)
    started = time.monotonic()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    finally:
        elapsed = time.monotonic() - started
        route = request.match_info.route.resource
        pattern = route.canonical if route is not None else "unmatched"
        metrics.HTTP_REQUESTS.labels(request.method, pattern, str(status)).inc()
        metrics.HTTP_SECONDS.labels(request.method, pattern).observe(elapsed)
        logger.info(
            "request",
            method=request.method,
            path=request.path,  # the path only: query strings may hold secrets
            status=status,
            ms=round(elapsed * 1000, 1),
            ip=request.remote,
        )
        structlog.contextvars.clear_contextvars()


@web.middleware
async def cors(request: web.Request, handler):  # type: ignore[no-untyped-def]
    """Answer preflights for any path and add the spec's CORS headers to every response."""
    if request.method == "OPTIONS":
        return web.Response(status=204, headers=CORS_HEADERS)
    try:
        response = await handler(request)
    except web.HTTPException as e:
        e.headers.update(CORS_HEADERS)
        raise
    response.headers.update(CORS_HEADERS)
    return response


@web.middleware
async def matrix_errors(request: web.Request, handler):  # type: ignore[no-untyped-def]
    """Render every failure as a Matrix JSON error with the right status."""
    try:
        return await handler(request)
    except MatrixError as e:
        return json_response(e.to_json(), status=e.status, headers=e.headers)
    except web.HTTPNotFound:
        return _error(404, "M_UNRECOGNIZED", "Unrecognized request")
    except web.HTTPMethodNotAllowed:
        return _error(405, "M_UNRECOGNIZED", "Unrecognized request method for this endpoint")
    except web.HTTPRequestEntityTooLarge:
        return _error(413, "M_TOO_LARGE", "The request body is too large")
    except web.HTTPException as e:
        if e.status < 400:
            raise
        return _error(e.status, "M_UNKNOWN", e.reason or "Request failed")
    except Exception:
        logger.exception("unhandled_error", path=request.path)
        return _error(500, "M_UNKNOWN", "Internal server error")


def _error(status: int, errcode: str, message: str) -> web.Response:
    return json_response({"errcode": errcode, "error": message}, status=status)


@web.middleware
async def parameter_strings(request: web.Request, handler):  # type: ignore[no-untyped-def]
    """No path or query parameter of any route may hold U+0000 (see :mod:`homeserver.parsing`)."""
    check_request_strings([*request.match_info.values(), *(s for pair in request.query.items() for s in pair)])
    return await handler(request)


MIDDLEWARES = [request_context, cors, matrix_errors, parameter_strings]
