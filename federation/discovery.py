"""Server discovery (spec: Server-Server API, "Resolving server names").

``resolve(server_name)`` says where to connect, which ``Host`` header to send
and which name the TLS certificate must be valid for: an IP literal or an
explicit port is used as it is; otherwise ``/.well-known/matrix/server`` may
delegate to another host (itself an IP literal, host:port, or a host whose
``_matrix-fed._tcp`` SRV record names the target), and without delegation
the SRV record of the server name itself, then port 8448. Results are cached
(well-known answers for a day, failures for ten minutes). A configured
address map bypasses all of it (test setups, private networks).
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import dns.asyncresolver
import dns.exception
import dns.resolver
import structlog

from homeserver.clock import Clock
from homeserver.core.identifiers import InvalidIdentifier, parse_server_name

logger = structlog.get_logger(__name__)

DEFAULT_PORT = 8448
WELL_KNOWN_TTL_S = 24 * 60 * 60
FAILURE_TTL_S = 10 * 60

#: Fetches ``https://<host>/.well-known/matrix/server``: the parsed JSON, or ``None``.
WellKnownFetcher = Callable[[str], Awaitable[Any]]
#: Looks up an SRV name: ``[(priority, weight, port, target)]``, empty when there is none.
SrvLookup = Callable[[str], Awaitable[list[tuple[int, int, int, str]]]]


class UnresolvableServer(Exception):
    """The server name is not valid."""


@dataclass(frozen=True)
class Endpoint:
    """Where and how to reach a server."""

    host: str  # a DNS name or IP address to connect to (IPv6 without brackets)
    port: int
    host_header: str
    tls_name: str  # the name the server's certificate must be valid for

    @property
    def url_host(self) -> str:
        return f"[{self.host}]" if ":" in self.host else self.host


class ServerResolver:
    def __init__(
        self,
        *,
        well_known: WellKnownFetcher,
        srv: SrvLookup | None = None,
        overrides: Mapping[str, str] | None = None,
        clock: Clock,
    ) -> None:
        self._well_known = well_known
        self._srv = srv or lookup_srv
        self._overrides = dict(overrides or {})
        self._clock = clock
        self._cache: dict[str, tuple[float, Endpoint]] = {}

    async def resolve(self, server_name: str) -> Endpoint:
        try:
            name = parse_server_name(server_name)
        except InvalidIdentifier as e:
            raise UnresolvableServer(str(e)) from None
        if server_name in self._overrides:
            host, _, port = self._overrides[server_name].rpartition(":")
            return Endpoint(host.strip("[]"), int(port), server_name, name.host.strip("[]"))
        if name.is_ip_literal or name.port is not None:
            # Steps 1 and 2: use the name as it is.
            return Endpoint(name.host.strip("[]"), name.port or DEFAULT_PORT, server_name, name.host.strip("[]"))
        cached = self._cache.get(server_name)
        now = self._clock.monotonic()
        if cached is not None and cached[0] > now:
            return cached[1]
        endpoint, ttl = await self._discover(name.host)
        self._cache[server_name] = (now + ttl, endpoint)
        return endpoint

    async def _discover(self, hostname: str) -> tuple[Endpoint, float]:
        delegated = await self._delegation(hostname)
        if delegated is None:
            # Steps 4 to 6: SRV records of the server name itself, else port 8448.
            return await self._by_srv(hostname), FAILURE_TTL_S
        try:
            target = parse_server_name(delegated)
        except InvalidIdentifier:
            return await self._by_srv(hostname), FAILURE_TTL_S
        bare = target.host.strip("[]")
        if target.is_ip_literal or target.port is not None:
            # Steps 3.1 and 3.2.
            return Endpoint(bare, target.port or DEFAULT_PORT, delegated, bare), WELL_KNOWN_TTL_S
        # Steps 3.3 to 3.5: SRV of the delegated name, else its port 8448.
        return await self._by_srv(bare), WELL_KNOWN_TTL_S

    async def _delegation(self, hostname: str) -> str | None:
        try:
            body = await self._well_known(hostname)
        except Exception as e:  # noqa: BLE001 - any failure means "no delegation"
            logger.info("well_known_failed", server=hostname, error=str(e))
            return None
        server = body.get("m.server") if isinstance(body, dict) else None
        return server if isinstance(server, str) and server else None

    async def _by_srv(self, hostname: str) -> Endpoint:
        for service in ("_matrix-fed._tcp", "_matrix._tcp"):
            records = await self._srv(f"{service}.{hostname}")
            if records:
                _, _, port, target = _pick(records)
                return Endpoint(target.rstrip("."), port, hostname, hostname)
        return Endpoint(hostname, DEFAULT_PORT, hostname, hostname)


def _pick(records: list[tuple[int, int, int, str]]) -> tuple[int, int, int, str]:
    """RFC 2782: the lowest priority, then by weight at random."""
    best = min(r[0] for r in records)
    candidates = [r for r in records if r[0] == best]
    weights = [max(r[1], 0) for r in candidates]
    if sum(weights) == 0:
        return candidates[0]
    return random.choices(candidates, weights=weights)[0]


async def lookup_srv(name: str) -> list[tuple[int, int, int, str]]:
    try:
        answer = await dns.asyncresolver.resolve(name, "SRV", lifetime=5.0)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.NoNameservers, dns.exception.Timeout):
        return []
    except dns.exception.DNSException as e:
        logger.info("srv_lookup_failed", name=name, error=str(e))
        return []
    return [(r.priority, r.weight, r.port, r.target.to_text()) for r in answer]
