"""A real coturn on loopback accepts exactly the credentials Hearth hands out.

coturn runs with the configuration ``hearth turn-config`` renders (plus loopback
listening for the test); ``turnutils_uclient`` allocates relays and sends through them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from homeserver.clock import FakeClock
from homeserver.services.turn import turnserver_conf
from tests.support.ports import free_port

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])  # the database is not under test here

SECRET = "relay-secret"


@pytest.fixture
async def relay(tmp_path: Path) -> AsyncIterator[Callable[[Any], Awaitable[int]]]:
    """Start coturn from a Hearth config; returns its port."""
    processes: list[asyncio.subprocess.Process] = []

    async def start(config: Any) -> int:
        port = config.turn.uris[0].split(":")[2].split("?")[0]
        relay_low = free_port()
        conf = tmp_path / f"turnserver-{port}.conf"
        conf.write_text(turnserver_conf(config) + "\n".join([
            "# test only: a loopback relay",
            "listening-ip=127.0.0.1", "relay-ip=127.0.0.1", f"min-port={relay_low}", f"max-port={relay_low + 40}",
            "no-tls", "no-dtls", f"pidfile={tmp_path}/turnserver-{port}.pid", "log-file=stdout", "simple-log", "",
        ]))
        process = await asyncio.create_subprocess_exec(
            "turnserver", "-c", str(conf), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
        )
        processes.append(process)
        await asyncio.sleep(1.0)  # coturn opens its UDP listeners within a few hundred ms
        assert process.returncode is None, "coturn did not start"
        return int(port)

    try:
        yield start
    finally:
        for process in processes:
            process.terminate()
            await process.wait()


async def _relay_through(port: int, username: str, password: str) -> tuple[int, str]:
    """Two clients allocate relays on ``port`` and exchange packets through them."""
    process = await asyncio.create_subprocess_exec(
        "turnutils_uclient", "-y", "-n", "2", "-u", username, "-w", password, "-p", str(port), "127.0.0.1",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), 30)
    except TimeoutError:
        process.kill()
        raise
    return process.returncode or 0, out.decode(errors="replace")


def _turn(port: int) -> dict[str, Any]:
    return {"uris": [f"turn:127.0.0.1:{port}?transport=udp"], "shared_secret": SECRET, "user_lifetime": 600}


async def _credentials(server: Any) -> dict[str, Any]:
    alice = await server.client.register("alice")
    body = (await alice.get("/_matrix/client/v3/voip/turnServer")).body
    assert set(body) == {"username", "password", "uris", "ttl"}
    return body


async def test_handed_out_credentials_relay_media_and_forged_ones_do_not(make_server, relay):
    # The test relay may reach loopback peers: said here, in its config, not by a default.
    server = await make_server(turn=_turn(free_port()), outbound={"allow_ranges": ["127.0.0.0/8"]})
    port = await relay(server.hearth.config)
    creds = await _credentials(server)
    code, out = await _relay_through(port, creds["username"], creds["password"])
    assert code == 0 and "tot_recv_bytes" in out, out[-2000:]
    code, out = await _relay_through(port, creds["username"], "forged" + creds["password"][6:])
    assert code != 0 and "Cannot complete Allocation" in out, out[-2000:]
    code, out = await _relay_through(port, creds["username"].replace("@alice", "@mallory"), creds["password"])
    assert code != 0 and "Cannot complete Allocation" in out, out[-2000:]


async def test_expired_credentials_are_refused(make_server, relay):
    an_hour_ago = FakeClock(start_ms=int((time.time() - 3600) * 1000))
    server = await make_server(clock=an_hour_ago, turn=_turn(free_port()), outbound={"allow_ranges": ["127.0.0.0/8"]})
    port = await relay(server.hearth.config)
    creds = await _credentials(server)
    code, out = await _relay_through(port, creds["username"], creds["password"])
    assert code != 0 and "Cannot complete Allocation" in out, out[-2000:]


async def test_by_default_the_relay_cannot_reach_loopback_peers(make_server, relay):
    server = await make_server(turn=_turn(free_port()))
    port = await relay(server.hearth.config)
    creds = await _credentials(server)
    code, out = await _relay_through(port, creds["username"], creds["password"])
    assert code != 0 and "Forbidden IP" in out, out[-2000:]
