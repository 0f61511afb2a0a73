"""Prometheus metrics, served on the optional metrics listener (see ``metrics`` in the config)."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

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

EVENTS_PERSISTED = Counter(
    "hearth_events_persisted_total",
    "Room events committed, by origin (local, remote, backfill, outlier)",
    ["origin"],
    registry=REGISTRY,
)
EVENT_WRITE_SECONDS = Histogram(
    "hearth_event_write_seconds",
    "Time to commit one batch of locally sent events",
    registry=REGISTRY,
)
SYNC_WAKEUPS = Counter(
    "hearth_sync_wakeups_total",
    "Waiting /sync long-polls woken by new data",
    registry=REGISTRY,
)
FEDERATION_QUEUED = Gauge(
    "hearth_federation_queued_items",
    "PDUs and EDUs waiting for a destination, as of its last delivery attempt",
    ["destination"],
    registry=REGISTRY,
)
FEDERATION_TRANSACTIONS = Counter(
    "hearth_federation_transactions_total",
    "Federation transactions sent, by result (ok, failed)",
    ["result"],
    registry=REGISTRY,
)
CACHE_LOOKUPS = Counter(
    "hearth_cache_lookups_total",
    "In-memory read cache lookups, by cache and result (hit, miss)",
    ["cache", "result"],
    registry=REGISTRY,
)


class _DatabasePool(Collector):
    """Connections of the database the server runs on: open and in use (read at scrape time)."""

    def __init__(self) -> None:
        self.source: Callable[[], tuple[int, int] | None] = lambda: None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("hearth_db_connections", "Database connections, by state (open, in_use)",
                                   labels=["state"])
        counts = self.source()
        if counts is not None:
            family.add_metric(["open"], counts[0])
            family.add_metric(["in_use"], counts[1])
        yield family


_POOL = _DatabasePool()
REGISTRY.register(_POOL)


def watch_database(db: Any) -> None:
    """Report ``db``'s connections (its ``connection_counts()``: open, in use) in ``hearth_db_connections``."""
    ref = weakref.ref(db)

    def counts() -> tuple[int, int] | None:
        current = ref()
        return current.connection_counts() if current is not None else None

    _POOL.source = counts


def create_metrics_app() -> web.Application:
    """The metrics listener's application: ``GET /metrics`` in Prometheus' text format."""
    app = web.Application()
    app.router.add_get("/metrics", _metrics)
    return app


async def _metrics(request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})
