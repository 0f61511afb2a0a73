"""Slow clients cannot hold connections (issue 12, point 9): request heads and bodies
have deadlines, one address has a bounded share of connections, and a long-poll
whose client went away stops. Against the real listeners (``open_listeners``, as
``hearth run`` starts them), with small configured limits."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from homeserver.app import HEARTH_KEY, Hearth, create_app
from homeserver.server import Listeners, open_listeners, server_tls_context
from tests.conftest import make_config
from tests.support.ports import free_port
from tests.support.client import MatrixClient
from tests.support.sockets import closed_by_server, open_raw
from tests.support.tls import TestCA

FAST = {"header_timeout": 1.0, "body_timeout": 1.0, "body_min_rate": 100}
CLOSED_WITHIN = 20.0  # generous: "eventually", never a timing claim


@dataclass
class Guarded:
    hearth: Hearth
    client: MatrixClient
    port: int
    federation_port: int
    tls: ssl.SSLContext

    async def raw(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await open_raw("127.0.0.1", self.port)


@pytest.fixture
async def guarded(database_url: str, tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[Guarded]]]:
    running: list[Listeners] = []
    session = aiohttp.ClientSession()
    ca = TestCA(tmp_path / "ca")

    async def start(**listen: Any) -> Guarded:
        cert, key = ca.issue("hs1.test")
        port, federation_port = free_port(), free_port()
        config = make_config(database_url, tmp_path, server_name="hs1.test", listen={
            "bind_addresses": ["127.0.0.1"], "port": port, **listen,
        }, federation={
            "enabled": True, "bind_addresses": ["127.0.0.1"], "port": federation_port,
            "tls_certificate_path": str(cert), "tls_private_key_path": str(key),
        })
        app = create_app(config)
        running.append(await open_listeners(config, app, server_tls_context(config)))
        tls = ssl.create_default_context(cafile=str(ca.bundle))
        return Guarded(app[HEARTH_KEY], MatrixClient(f"http://127.0.0.1:{port}", session), port, federation_port, tls)

    try:
        yield start
    finally:
        await session.close()
        for listeners in running:
            await listeners.close()


async def _still_open(reader: asyncio.StreamReader) -> bool:
    return not await closed_by_server(reader, 0.5)


async def test_a_connection_without_a_complete_request_head_is_closed(guarded):
    server = await guarded(**FAST)
    silent_reader, silent = await server.raw()
    trickle_reader, trickle = await server.raw()
    trickle.write(b"GET /_matrix/client/versions HTTP/1.1\r\n")

    async def keep_trickling() -> None:
        for _ in range(int(CLOSED_WITHIN * 4)):
            trickle.write(b"X-Slow: 1\r\n")
            await asyncio.sleep(0.25)

    feeder = asyncio.create_task(keep_trickling())
    try:
        assert await closed_by_server(silent_reader, CLOSED_WITHIN)
        assert await closed_by_server(trickle_reader, CLOSED_WITHIN)
    finally:
        feeder.cancel()
        await asyncio.gather(feeder, return_exceptions=True)
        silent.close()
        trickle.close()


async def test_an_idle_keep_alive_connection_is_closed(guarded):
    server = await guarded(**FAST)
    reader, writer = await server.raw()
    writer.write(b"GET /_matrix/client/versions HTTP/1.1\r\nHost: hs1.test\r\n\r\n")
    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
    assert await closed_by_server(reader, CLOSED_WITHIN)
    writer.close()


async def test_the_federation_listener_closes_slow_connections_too(guarded):
    server = await guarded(**FAST)
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", server.federation_port, ssl=server.tls, server_hostname="hs1.test"
    )
    writer.write(b"GET /_matrix/federation/v1/version HTTP/1.1\r\n")
    assert await closed_by_server(reader, CLOSED_WITHIN)
    writer.close()


async def test_a_trickled_body_is_cut_off_and_a_steady_one_is_not(guarded):
    server = await guarded(**FAST)
    body = b'{"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "nobody"}, "password": "'
    body += b"x" * 2000 + b'"}'
    head = (
        f"POST /_matrix/client/v3/login HTTP/1.1\r\nHost: hs1.test\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    trickle_reader, trickle = await server.raw()
    steady_reader, steady = await server.raw()
    trickle.write(head)
    steady.write(head)

    async def send(writer: asyncio.StreamWriter, piece: int, pause: float) -> None:
        for start in range(0, len(body), piece):
            writer.write(body[start:start + piece])
            await asyncio.sleep(pause)

    # A long-poll that never reads its (trickled) body is cut off all the same.
    alice = await server.client.register("alice")
    since = (await alice.get("/_matrix/client/v3/sync")).body["next_batch"]
    unread_reader, unread = await server.raw()
    unread.write((
        f"GET /_matrix/client/v3/sync?since={since}&timeout=300000 HTTP/1.1\r\nHost: hs1.test\r\n"
        f"Authorization: Bearer {alice.token}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode())
    trickling = [asyncio.create_task(send(w, 5, 0.5)) for w in (trickle, unread)]  # under body_min_rate
    try:
        await send(steady, 500, 0.25)  # 2000 bytes a second: it keeps earning time
        answer = await asyncio.wait_for(steady_reader.readuntil(b"\r\n\r\n"), CLOSED_WITHIN)
        assert answer.startswith(b"HTTP/1.1 403"), answer
        assert await closed_by_server(trickle_reader, CLOSED_WITHIN)
        assert await closed_by_server(unread_reader, CLOSED_WITHIN)
    finally:
        for task in trickling:
            task.cancel()
        await asyncio.gather(*trickling, return_exceptions=True)
        for writer in (trickle, steady, unread):
            writer.close()


async def test_connections_per_address_are_capped(guarded):
    server = await guarded(max_connections_per_address=3)
    held = [await server.raw() for _ in range(3)]
    extra_reader, extra = await server.raw()
    assert await closed_by_server(extra_reader, CLOSED_WITHIN)
    extra.close()
    assert await _still_open(held[0][0])
    held[0][1].close()

    async def served() -> bool:
        reader, writer = await server.raw()
        writer.write(b"GET /_matrix/client/versions HTTP/1.1\r\nHost: hs1.test\r\nConnection: close\r\n\r\n")
        try:
            return (await reader.read(12)).startswith(b"HTTP/1.1 200")
        except ConnectionError:
            return False
        finally:
            writer.close()

    async with asyncio.timeout(CLOSED_WITHIN):  # a closed connection gives its place back
        while not await served():
            await asyncio.sleep(0.1)
    for _, writer in held[1:]:
        writer.close()


async def test_behind_a_proxy_the_address_cap_is_left_to_the_proxy(guarded):
    server = await guarded(max_connections_per_address=1, x_forwarded=True)
    held = [await server.raw() for _ in range(3)]
    assert all([await _still_open(reader) for reader, _ in held])
    for _, writer in held:
        writer.close()


async def test_a_long_poll_stops_when_its_client_leaves(guarded):
    server = await guarded()
    alice = await server.client.register("alice")
    since = (await alice.get("/_matrix/client/v3/sync")).body["next_batch"]
    reader, writer = await server.raw()
    writer.write((
        f"GET /_matrix/client/v3/sync?since={since}&timeout=300000 HTTP/1.1\r\nHost: hs1.test\r\n"
        f"Authorization: Bearer {alice.token}\r\n\r\n"
    ).encode())
    waiters = server.hearth.notifier._waiters
    async with asyncio.timeout(CLOSED_WITHIN):
        while not waiters.get(alice.user_id):
            await asyncio.sleep(0.05)
    writer.close()
    async with asyncio.timeout(CLOSED_WITHIN):  # not after the five minutes it asked to wait
        while waiters.get(alice.user_id):
            await asyncio.sleep(0.05)
