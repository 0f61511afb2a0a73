"""Prometheus metrics, served on the optional metrics listener (see ``metrics`` in the config)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

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
