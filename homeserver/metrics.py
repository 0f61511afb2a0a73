"""Prometheus metrics, served on the optional metrics listener (see ``metrics`` in the config)."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "hearth_http_requests_total",
    "HTTP requests by method, route and status",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_SECONDS = Histogram(
    "hearth_http_request_seconds",
    "HTTP request handling time by method and route",
    ["method", "route"],
    registry=REGISTRY,
)
RATE_LIMITED = Counter(
    "hearth_rate_limited_total",
    "Requests refused by a rate limit, by action",
    ["action"],
    registry=REGISTRY,
)


def create_metrics_app() -> web.Application:
    """The metrics listener's application: ``GET /metrics`` in Prometheus' text format."""
    app = web.Application()
    app.router.add_get("/metrics", _metrics)
    return app


async def _metrics(request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})
