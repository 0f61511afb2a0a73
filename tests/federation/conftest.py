"""Several Hearth servers federating over loopback TLS, each with its own name,
signing key, database and certificate from a test CA."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from homeserver.app import HEARTH_KEY, Hearth, create_app, create_federation_app
from homeserver.server import server_tls_context
from tests.conftest import make_config
from tests.support.ports import free_port
from tests.support import databases
from tests.support.client import MatrixClient
from tests.support.tls import TestCA

#: The test servers federate over loopback, which the default outbound policy refuses.
LOOPBACK_ALLOWED = {"allow_ranges": ["127.0.0.0/8", "::1/128"]}


@dataclass
class FederatedServer:
    name: str
    client: MatrixClient
    hearth: Hearth
    federation_url: str


@pytest.fixture
async def federation(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Callable[..., Awaitable[list[FederatedServer]]]]:
    """``await federation("hs1.test", "hs2.test", overrides={"hs2.test": {...config...}})``.

    ``addresses`` adds entries to every started server's address map (servers
    started later, or unreachable ones); ``ports`` fixes federation ports.
    Loopback is allowed by ``outbound.allow_ranges`` unless an override gives
    its own ``outbound`` section (``{}`` keeps the default policy).
    """
    ca = TestCA(tmp_path / "ca")
    servers: list[TestServer] = []
    running: list[FederatedServer] = []
    dropped: list[str] = []
    session = aiohttp.ClientSession()

    async def database_url(name: str, directory: Path) -> str:
        if backend == "sqlite":
            return f"sqlite:///{directory / 'hearth.db'}"
        clone = await databases.clone_pg_database(request.getfixturevalue("pg_template"))
        dropped.append(clone)
        return databases.postgres_url(clone)

    async def start(*names: str, overrides: dict[str, dict[str, Any]] | None = None,
                    addresses: dict[str, str] | None = None, ports: dict[str, int] | None = None) -> list[FederatedServer]:
        ports = {name: (ports or {}).get(name) or free_port() for name in names}
        started = []
        for name in names:
            directory = tmp_path / name
            directory.mkdir()
            cert, key = ca.issue(name)
            federation = {
                "enabled": True, "port": ports[name], "bind_addresses": ["127.0.0.1"],
                "tls_certificate_path": str(cert), "tls_private_key_path": str(key),
                "ca_bundle_path": str(ca.bundle),
                "server_addresses": {n: f"127.0.0.1:{p}" for n, p in ports.items() if n != name} | (addresses or {}),
            }
            extra = dict((overrides or {}).get(name, {}))
            extra.setdefault("outbound", LOOPBACK_ALLOWED)
            federation |= extra.pop("federation", {})
            config = make_config(await database_url(name, directory), directory, server_name=name,
                                 federation=federation, **extra)
            client_app = create_app(config)
            client_server = TestServer(client_app, host="127.0.0.1")
            await client_server.start_server()
            servers.append(client_server)
            hearth = client_app[HEARTH_KEY]
            federation_server = TestServer(create_federation_app(hearth), host="127.0.0.1", port=ports[name])
            await federation_server.start_server(ssl=server_tls_context(config))
            servers.append(federation_server)
            url = str(client_server.make_url("")).rstrip("/")
            started.append(FederatedServer(name, MatrixClient(url, session), hearth, f"https://127.0.0.1:{ports[name]}"))
        # Servers started earlier learn where the new ones are (as DNS would tell them).
        for earlier in running:
            for server in started:
                earlier.hearth.federation_client._resolver._overrides[server.name] = f"127.0.0.1:{ports[server.name]}"
        running.extend(started)
        return started

    try:
        yield start
    finally:
        for server in reversed(servers):
            await server.close()
        await session.close()
        for name in dropped:
            await databases.drop_pg_database_async(name)


def ca_context(server: FederatedServer) -> ssl.SSLContext:
    """A client TLS context trusting the test CA (to call a federation listener by hand)."""
    bundle = server.hearth.config.federation.ca_bundle_path
    assert bundle is not None
    return ssl.create_default_context(cafile=bundle)
