"""Token-bucket rate limiting per (action, key).

Design note: buckets live in this process's memory, keyed by action (a field of
``rate_limits`` in the config) and a key (client IP or user ID). A bucket holds
up to ``burst`` tokens and refills at ``per_second``; an action costs one token.
An empty bucket refuses with ``429 M_LIMIT_EXCEEDED``, a ``Retry-After`` header
and the deprecated ``retry_after_ms``. Idle buckets are full buckets, so they
are dropped when the table grows. ``rate_limits.enabled: false`` turns every
check into a no-op.
"""

from __future__ import annotations

import math

from homeserver import metrics
from homeserver.clock import Clock
from homeserver.config import RateLimit, RateLimitsConfig
from homeserver.errors import MatrixError

_MAX_BUCKETS = 100_000


class RateLimiter:
    def __init__(self, config: RateLimitsConfig, clock: Clock) -> None:
        self._config = config
        self._clock = clock
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}

    def check(self, action: str, key: str, *, spend: bool = True) -> None:
        """Spend one token of ``action`` for ``key`` or raise ``M_LIMIT_EXCEEDED``.

        With ``spend=False`` only check that a token is available (for limits on
        failures, which :meth:`record` spends once the failure happened).
        """
        if not self._config.enabled:
            return
        limit: RateLimit = getattr(self._config, action)
        now = self._clock.monotonic()
        tokens = self._tokens(action, key, limit, now)
        if tokens < 1.0:
            wait = (1.0 - tokens) / limit.per_second
            metrics.RATE_LIMITED.labels(action).inc()
            raise MatrixError(
                "M_LIMIT_EXCEEDED",
                "Too many requests; try again later",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
                retry_after_ms=max(1, math.ceil(wait * 1000)),
            )
        if spend:
            self._store(action, key, tokens - 1.0, now)

    def record(self, action: str, key: str) -> None:
        """Spend one token of ``action`` for ``key`` without refusing anything."""
        if not self._config.enabled:
            return
        limit: RateLimit = getattr(self._config, action)
        now = self._clock.monotonic()
        self._store(action, key, max(0.0, self._tokens(action, key, limit, now) - 1.0), now)

    def _tokens(self, action: str, key: str, limit: RateLimit, now: float) -> float:
        tokens, last = self._buckets.get((action, key), (float(limit.burst), now))
        return min(float(limit.burst), tokens + (now - last) * limit.per_second)

    def _store(self, action: str, key: str, tokens: float, now: float) -> None:
        if len(self._buckets) >= _MAX_BUCKETS:
            self._drop_full_buckets(now)
        self._buckets[(action, key)] = (tokens, now)

    def _drop_full_buckets(self, now: float) -> None:
        for (action, key), (tokens, last) in list(self._buckets.items()):
            limit: RateLimit = getattr(self._config, action)
            if tokens + (now - last) * limit.per_second >= limit.burst:
                del self._buckets[(action, key)]
