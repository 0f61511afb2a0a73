"""Outbound federation requests: discovered, TLS-verified and signed.

Every request carries an ``X-Matrix`` signature over its method, target,
origin, destination and body. Certificates are verified against the system
store plus ``federation.ca_bundle_path``; ``federation.verify_certificates:
false`` turns verification off for test setups (and says so in the log).

Design note: connections go only where the outbound IP policy allows (checked
on every resolved address, see :mod:`homeserver.outbound`). One slow or
hostile destination cannot take the pool from the others: a destination gets
at most ``per_destination`` requests in flight (the rest wait their turn inside
their own timeout), TCP connects give up after :data:`CONNECT_TIMEOUT_S`, and
work done for strangers (the notary API) runs on its own client with its own
small pool. Errors carry the details for the log; what clients are told is
decided elsewhere, and never includes them.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson
import structlog
from yarl import URL

from federation.discovery import ServerResolver, UnresolvableServer
from homeserver.clock import Clock
from homeserver.core.federation_auth import authorization_header
from homeserver.core.signing import ServerSigningKey
from homeserver.outbound import OutboundPolicy, refused_by_policy

logger = structlog.get_logger(__name__)

DEFAULT_TIMEOUT_S = 30.0
#: Seconds to open a TCP connection; the request's own timeout bounds the rest.
CONNECT_TIMEOUT_S = 5.0
#: Requests in flight to one destination at once (by default).
MAX_REQUESTS_PER_DESTINATION = 10
#: Connections in the pool across all destinations (by default).
MAX_CONNECTIONS = 200
#: Largest response body read from another server.
MAX_RESPONSE_BYTES = 64 * 1024 * 1024


class FederationError(Exception):
    """A request to another server failed: unreachable, or an error response."""

    def __init__(self, destination: str, message: str, *, status: int | None = None, errcode: str | None = None) -> None:
        super().__init__(f"{destination}: {message}")
        self.destination = destination
        self.status = status
        self.errcode = errcode


def tls_context(*, verify: bool, ca_bundle: Path | None) -> ssl.SSLContext:
    """The client TLS context for federation (and well-known lookups)."""
    context = ssl.create_default_context()
    if ca_bundle is not None:
        context.load_verify_locations(cafile=str(ca_bundle))
    if not verify:
        logger.warning(
            "federation_tls_verification_disabled",
            detail="other servers' certificates are NOT verified (federation.verify_certificates is false)",
        )
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class _PerDestination:
    """At most ``limit`` holders per destination; idle destinations are forgotten."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._slots: dict[str, tuple[asyncio.Semaphore, list[int]]] = {}

    @asynccontextmanager
    async def hold(self, destination: str) -> AsyncIterator[None]:
        slot = self._slots.get(destination)
        if slot is None:
            slot = self._slots[destination] = (asyncio.Semaphore(self._limit), [0])
        semaphore, users = slot
        users[0] += 1
        try:
            async with semaphore:
                yield
        finally:
            users[0] -= 1
            if users[0] == 0:
                del self._slots[destination]


class FederationClient:
    def __init__(
        self,
        *,
        server_name: str,
        signing_key: ServerSigningKey,
        tls: ssl.SSLContext,
        addresses: Mapping[str, str],
        clock: Clock,
        policy: OutboundPolicy,
        max_connections: int = MAX_CONNECTIONS,
        per_destination: int = MAX_REQUESTS_PER_DESTINATION,
    ) -> None:
        self.server_name = server_name
        self._key = signing_key
        self._tls = tls
        self._policy = policy
        self._max_connections = max_connections
        self._per_destination = _PerDestination(per_destination)
        self._session: aiohttp.ClientSession | None = None
        self._resolver = ServerResolver(well_known=self.fetch_well_known, overrides=addresses, clock=clock)

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=self._policy.connector(ssl=self._tls, limit=self._max_connections),
                json_serialize=lambda v: orjson.dumps(v).decode(),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(
        self,
        destination: str,
        method: str,
        path: str,
        *,
        query: dict[str, Any] | list[tuple[str, str]] | None = None,
        body: Any = None,
        timeout: float = DEFAULT_TIMEOUT_S,
    ) -> Any:
        """Send a signed request; its JSON response. :class:`FederationError` on any failure.

        ``path`` must already be percent-encoded (it is signed exactly as sent).
        """
        _, raw = await self.request_raw(destination, method, path, query=query, body=body, timeout=timeout)
        try:
            return orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            raise FederationError(destination, "response is not JSON") from None

    async def request_raw(
        self,
        destination: str,
        method: str,
        path: str,
        *,
        query: dict[str, Any] | list[tuple[str, str]] | None = None,
        body: Any = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        max_bytes: int = MAX_RESPONSE_BYTES,
    ) -> tuple[str, bytes]:
        """Send a signed request; the response's content type and body (at most ``max_bytes``).

        ``timeout`` covers everything: waiting for the destination's turn,
        discovery, connecting and reading the response.
        """
        if destination == self.server_name:
            raise FederationError(destination, "refusing to send a federation request to ourselves")
        try:
            async with asyncio.timeout(timeout), self._per_destination.hold(destination):
                return await self._send(destination, method, path, query, body, timeout, max_bytes)
        except TimeoutError:
            raise FederationError(destination, f"no answer within {timeout} s") from None

    async def _send(
        self,
        destination: str,
        method: str,
        path: str,
        query: dict[str, Any] | list[tuple[str, str]] | None,
        body: Any,
        timeout: float,
        max_bytes: int,
    ) -> tuple[str, bytes]:
        uri = path + (f"?{urlencode(query, doseq=True)}" if query else "")
        try:
            endpoint = await self._resolver.resolve(destination)
        except UnresolvableServer as e:
            raise FederationError(destination, str(e)) from None
        headers = {
            "Authorization": authorization_header(method, uri, self.server_name, destination, body, self._key),
            "Host": endpoint.host_header,
        }
        data = None
        if body is not None:
            data = orjson.dumps(body)
            headers["Content-Type"] = "application/json"
        url = URL(f"https://{endpoint.url_host}:{endpoint.port}{uri}", encoded=True)
        try:
            async with self._http().request(
                method, url, data=data, headers=headers, server_hostname=endpoint.tls_name,
                timeout=aiohttp.ClientTimeout(total=timeout, sock_connect=CONNECT_TIMEOUT_S), allow_redirects=False,
            ) as resp:
                raw = await resp.content.read(max_bytes + 1)
                status, content_type = resp.status, resp.headers.get("Content-Type", "")
        except (aiohttp.ClientError, OSError, ssl.SSLError) as e:
            if refused_by_policy(e):
                raise FederationError(destination, "its address is refused by the outbound IP policy") from None
            raise FederationError(destination, f"unreachable: {type(e).__name__}: {e}") from None
        if len(raw) > max_bytes:
            raise FederationError(destination, "response too large", status=status, errcode="M_TOO_LARGE")
        if status >= 300:
            try:
                parsed = orjson.loads(raw) if raw else None
            except orjson.JSONDecodeError:
                parsed = None
            errcode = parsed.get("errcode") if isinstance(parsed, dict) else None
            error = parsed.get("error") if isinstance(parsed, dict) else None
            raise FederationError(destination, f"HTTP {status} {errcode or ''} {error or ''}".strip(), status=status, errcode=errcode)
        return content_type, raw

    async def fetch_well_known(self, hostname: str) -> Any:
        """``https://<hostname>/.well-known/matrix/server`` (for discovery): parsed JSON or ``None``."""
        async with self._http().get(
            f"https://{hostname}/.well-known/matrix/server",
            timeout=aiohttp.ClientTimeout(total=10, sock_connect=CONNECT_TIMEOUT_S),
        ) as resp:
            if resp.status != 200:
                return None
            return orjson.loads(await resp.content.read(64 * 1024))
