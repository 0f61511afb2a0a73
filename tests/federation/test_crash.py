"""Real ``hearth run`` processes federating over TLS, killed with SIGKILL mid-conversation:
nothing acknowledged is lost, and delivery catches up after the restart."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest
import yaml

from tests.support.ports import free_port
from tests.support import databases
from tests.support.client import MatrixClient
from tests.support.tls import TestCA

pytestmark = [pytest.mark.federation, pytest.mark.slow]

V3 = "/_matrix/client/v3"


class Process:
    def __init__(self, name: str, directory: Path, port: int) -> None:
        self.name, self.directory, self.port = name, directory, port
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        log = (self.directory / "hearth.log").open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "homeserver", "run", "-c", str(self.directory / "config.yaml")],
            stdout=log, stderr=subprocess.STDOUT,
        )
        async with aiohttp.ClientSession() as session:
            for _ in range(200):
                try:
                    async with session.get(self.url + "/health") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                assert self.proc.poll() is None, (self.directory / "hearth.log").read_text()[-3000:]
                await asyncio.sleep(0.1)
        raise AssertionError(f"{self.name} did not start")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
async def two_processes(tmp_path: Path, backend: str):
    ca = TestCA(tmp_path / "ca")
    names = ["hs1.test", "hs2.test"]
    ports = {n: (free_port(), free_port()) for n in names}
    dropped = []
    processes = []
    for name in names:
        directory = tmp_path / name
        port, federation_port = ports[name]
        args = [sys.executable, "-m", "homeserver", "init", "--server-name", name, "--data-dir", str(directory),
                "--port", str(port), "--federation-port", str(federation_port), "--open-registration"]
        if backend == "postgres":
            db = databases.create_empty_pg_database()
            dropped.append(db)
            args += ["--database", databases.postgres_url(db)]
        subprocess.run(args, check=True, capture_output=True)
        cert, key = ca.issue(name)
        config_path = directory / "config.yaml"
        config = yaml.safe_load(config_path.read_text())
        config["federation"].update({
            "bind_addresses": ["127.0.0.1"], "tls_certificate_path": str(cert), "tls_private_key_path": str(key),
            "ca_bundle_path": str(ca.bundle),
            "server_addresses": {n: f"127.0.0.1:{ports[n][1]}" for n in names if n != name},
        })
        config["outbound"] = {"allow_ranges": ["127.0.0.0/8", "::1/128"]}  # the peers are on loopback
        config["rate_limits"] = {"enabled": False}
        config["logging"] = {"level": "info"}
        config["auth"] = {"password_hashing": {"time_cost": 1, "memory_kib": 1024, "parallelism": 1}}
        config_path.write_text(yaml.safe_dump(config))
        processes.append(Process(name, directory, port))
    try:
        for process in processes:
            await process.start()
        yield processes
    finally:
        for process in processes:
            process.stop()
        for db in dropped:
            databases.drop_pg_database(db)


async def _bodies(user: MatrixClient, room_id: str) -> list[str]:
    resp = await user.get(f"{V3}/rooms/{quote(room_id)}/messages", params={"dir": "b", "limit": "100"})
    assert resp.status == 200, resp.body
    return [e["content"]["body"] for e in reversed(resp.body["chunk"]) if e["type"] == "m.room.message"]


async def test_sigkill_loses_nothing_acknowledged_and_delivery_catches_up(two_processes):
    hs1, hs2 = two_processes
    async with aiohttp.ClientSession() as session:
        alice = await MatrixClient(hs1.url, session).register("alice")
        bob = await MatrixClient(hs2.url, session).register("bob")
        room_id = (await alice.post(f"{V3}/createRoom", {"preset": "public_chat"})).body["room_id"]
        assert (await bob.post(f"{V3}/join/{quote(room_id)}", {}, params={"via": "hs1.test"})).status == 200

        # The receiving server dies; the sender keeps acknowledging its user's messages.
        hs2.kill()
        sent = []
        for n in range(10):
            resp = await alice.put(f"{V3}/rooms/{quote(room_id)}/send/m.room.message/m{n}", {"msgtype": "m.text", "body": f"m{n}"})
            assert resp.status == 200
            sent.append(f"m{n}")
        # Then the sending server dies too, with those messages still queued for hs2.
        hs1.kill()
        await hs1.start()
        assert await _bodies(alice, room_id) == sent  # nothing acknowledged was lost
        await hs2.start()
        deadline = asyncio.get_running_loop().time() + 60
        while await _bodies(bob, room_id) != sent:
            assert asyncio.get_running_loop().time() < deadline, "hs2 never caught up"
            await asyncio.sleep(0.5)
        # And the conversation goes on both ways.
        assert (await bob.put(f"{V3}/rooms/{quote(room_id)}/send/m.room.message/b", {"msgtype": "m.text", "body": "back"})).status == 200
        while (await _bodies(alice, room_id))[-1:] != ["back"]:
            assert asyncio.get_running_loop().time() < deadline, "hs1 never got bob's reply"
            await asyncio.sleep(0.3)
