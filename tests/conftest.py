"""Shared fixtures: a database per test on SQLite and on PostgreSQL, and real
Hearth servers listening on loopback for API tests."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from homeserver.app import HEARTH_KEY, Hearth, create_app
from homeserver.clock import Clock
from homeserver.config import Config, parse_config
from homeserver.signing_keys import generate_signing_key_file
from storage.database import Database
from storage.migrations import migrate
from tests.support import databases
from tests.support.client import MatrixClient

BACKENDS = ["sqlite", "postgres"]

SERVER_NAME = "test.local"

#: Cheap password hashing and no rate limits unless a test asks for them.
BASE_CONFIG: dict[str, Any] = {
    "server_name": SERVER_NAME,
    "public_baseurl": "http://localhost:8008/",
    "registration": {"enabled": True, "open": True, "shared_secret": "test shared secret"},
    "auth": {"password_hashing": {"time_cost": 1, "memory_kib": 1024, "parallelism": 1}},
    "rate_limits": {"enabled": False},
    "logging": {"level": "warning"},
}


@pytest.fixture(scope="session")
def pg_template() -> Any:
    """A migrated PostgreSQL template database, cloned per test."""
    name = databases.create_pg_template()
    yield name
    databases.drop_pg_database(name)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
async def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A database URL for a fresh, migrated database on the parametrised backend."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'hearth.db'}"
        return
    template = request.getfixturevalue("pg_template")
    name = await databases.clone_pg_database(template)
    try:
        yield databases.postgres_url(name)
    finally:
        await databases.drop_pg_database_async(name)


@pytest.fixture
async def database(database_url: str, tmp_path: Path) -> AsyncIterator[Database]:
    """An open, migrated database (SQLite and PostgreSQL)."""
    from storage.database import connect

    db = connect(database_url, base_dir=tmp_path, pool_size=4)
    await db.open()
    await migrate(db)
    try:
        yield db
    finally:
        await db.close()


def _merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def make_config(database_url: str, config_dir: Path, **overrides: Any) -> Config:
    key_path = config_dir / "signing.key"
    if not key_path.exists():
        generate_signing_key_file(key_path)
    data = _merge(BASE_CONFIG, {"database": {"url": database_url, "pool_size": 4}})
    return parse_config(_merge(data, overrides), config_dir=str(config_dir))


@dataclass
class RunningServer:
    url: str
    hearth: Hearth
    client: MatrixClient


ServerFactory = Callable[..., Awaitable[RunningServer]]


@pytest.fixture
async def make_server(database_url: str, tmp_path: Path) -> AsyncIterator[ServerFactory]:
    """Start Hearth servers on loopback: ``await make_server(clock=..., **config_overrides)``.

    All servers of one test share its database (start one unless testing restarts).
    """
    servers: list[TestServer] = []
    session = aiohttp.ClientSession()

    async def start(*, clock: Clock | None = None, **overrides: Any) -> RunningServer:
        config = make_config(database_url, tmp_path, **overrides)
        app = create_app(config, clock=clock)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        url = str(server.make_url("")).rstrip("/")
        return RunningServer(url, app[HEARTH_KEY], MatrixClient(url, session))

    try:
        yield start
    finally:
        for server in reversed(servers):
            await server.close()
        await session.close()


@pytest.fixture
async def server(make_server: ServerFactory) -> RunningServer:
    """A Hearth with open registration and rate limits off."""
    return await make_server()


@pytest.fixture
async def client(server: RunningServer) -> MatrixClient:
    """An anonymous client of :func:`server`."""
    return server.client


@pytest.fixture(autouse=True)
async def _no_leaked_tasks() -> AsyncIterator[None]:
    """Fail a test that leaves asyncio tasks running behind it."""
    before = asyncio.all_tasks()
    yield
    await asyncio.sleep(0)
    leaked = [
        t for t in asyncio.all_tasks() - before
        if not t.done() and t is not asyncio.current_task()
    ]
    assert not leaked, f"tasks leaked by the test: {leaked}"
