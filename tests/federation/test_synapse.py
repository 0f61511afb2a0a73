"""One scenario against Synapse, the reference homeserver (installed from PyPI into
``.bench/synapse-venv`` on first use): a Synapse user joins a Hearth room, a
Hearth user joins a Synapse room, and messages flow both ways in each. Both servers are named by IP literal and port, so
each reaches the other directly, over TLS with certificates from a test CA."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest

from bench.servers import SHARED_SECRET, synapse_config, synapse_python, write_synapse_config
from tests.support.ports import free_port
from tests.support.client import MatrixClient
from tests.support.tls import TestCA

pytestmark = [pytest.mark.federation, pytest.mark.slow]

V3 = "/_matrix/client/v3"


async def _start_synapse(
    directory: Path, server_name: str, federation_port: int, ca: TestCA, trusted: list[str]
) -> tuple[subprocess.Popen, str]:
    python = synapse_python()
    client_port = free_port()
    directory.mkdir(parents=True)
    cert, key = ca.issue(server_name)
    config = synapse_config(directory, server_name)
    config.update({
        "listeners": [
            {"port": client_port, "bind_addresses": ["127.0.0.1"], "type": "http", "tls": False,
             "resources": [{"names": ["client"], "compress": False}]},
            {"port": federation_port, "bind_addresses": ["127.0.0.1"], "type": "http", "tls": True,
             "resources": [{"names": ["federation", "keys"], "compress": False}]},
        ],
        "database": {"name": "sqlite3", "args": {"database": str(directory / "homeserver.db")}},
        "tls_certificate_path": str(cert),
        "tls_private_key_path": str(key),
        "federation_custom_ca_list": trusted,
        "federation_verify_certificates": True,
        "ip_range_blacklist": [],  # loopback is where the test servers live
        "ip_range_whitelist": ["127.0.0.1"],
    })
    config_path = write_synapse_config(python, directory, config)
    process = subprocess.Popen([str(python), "-m", "synapse.app.homeserver", "-c", str(config_path)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{client_port}"
    async with aiohttp.ClientSession() as session:
        for _ in range(600):
            try:
                async with session.get(url + "/_matrix/client/versions") as resp:
                    if resp.status == 200:
                        return process, url
            except aiohttp.ClientError:
                pass
            assert process.poll() is None, (directory / "synapse.log").read_text()[-3000:]
            await asyncio.sleep(0.1)
    raise AssertionError("Synapse did not start")


async def _register_on_synapse(session: aiohttp.ClientSession, url: str, username: str) -> MatrixClient:
    import hashlib
    import hmac

    async with session.get(url + "/_synapse/admin/v1/register") as resp:
        nonce = (await resp.json())["nonce"]
    mac = hmac.new(SHARED_SECRET.encode(), b"\0".join([nonce.encode(), username.encode(), b"a strong password", b"notadmin"]),
                   hashlib.sha1).hexdigest()
    async with session.post(url + "/_synapse/admin/v1/register", json={
        "nonce": nonce, "username": username, "password": "a strong password", "admin": False, "mac": mac,
    }) as resp:
        body = await resp.json()
        assert resp.status == 200, body
    client = MatrixClient(url, session, body["access_token"])
    client.user_id = body["user_id"]
    return client


async def _until(check, what: str, timeout: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, what
        await asyncio.sleep(0.5)


async def test_hearth_and_synapse_users_join_each_others_rooms(federation, tmp_path, backend):
    if backend != "sqlite":
        pytest.skip("one Synapse scenario is enough; Hearth's backends are covered by the other federation tests")
    hearth_port, synapse_port = free_port(), free_port()
    hearth_name, synapse_name = f"127.0.0.1:{hearth_port}", f"127.0.0.1:{synapse_port}"
    (hs1,) = await federation(hearth_name, ports={hearth_name: hearth_port})
    # Synapse's certificate comes from a CA of its own, which Hearth is told to trust;
    # Synapse trusts the CA of Hearth's certificate.
    ca = TestCA(tmp_path / "synapse-ca")
    hs1.hearth.federation_client._tls.load_verify_locations(cafile=str(ca.bundle))
    hearth_ca = hs1.hearth.config.federation.ca_bundle_path
    assert hearth_ca is not None
    process, synapse_url = await _start_synapse(tmp_path / "synapse", synapse_name, synapse_port, ca, [hearth_ca])
    try:
        async with aiohttp.ClientSession() as session:
            alice = await hs1.client.register("alice")
            room_id = (await alice.post(f"{V3}/createRoom", {"preset": "public_chat", "name": "Hearth x Synapse"})).body["room_id"]
            bob = await _register_on_synapse(session, synapse_url, "bob")
            joined = await bob.post(f"{V3}/join/{quote(room_id)}", {}, params={"server_name": hearth_name})
            assert joined.status == 200, joined.body

            async def hearth_sees_bob() -> bool:
                members = await alice.get(f"{V3}/rooms/{quote(room_id)}/joined_members")
                return bob.user_id in members.body.get("joined", {})

            await _until(hearth_sees_bob, "Hearth never saw the Synapse user join")
            assert (await bob.get(f"{V3}/rooms/{quote(room_id)}/state/m.room.name")).body == {"name": "Hearth x Synapse"}
            await alice.put(f"{V3}/rooms/{quote(room_id)}/send/m.room.message/h1", {"msgtype": "m.text", "body": "hello synapse"})
            await bob.put(f"{V3}/rooms/{quote(room_id)}/send/m.room.message/s1", {"msgtype": "m.text", "body": "hello hearth"})

            async def bodies(user) -> list[str]:
                resp = await user.get(f"{V3}/rooms/{quote(room_id)}/messages", params={"dir": "b", "limit": "50"})
                return [e["content"].get("body") for e in resp.body.get("chunk", []) if e["type"] == "m.room.message"]

            async def both_have_both() -> bool:
                for user in (alice, bob):
                    if not {"hello synapse", "hello hearth"} <= set(await bodies(user)):
                        return False
                return True

            await _until(both_have_both, "messages did not cross between Hearth and Synapse")

            # The other way round: a Hearth user joins a room that lives on Synapse.
            synapse_room = (await bob.post(f"{V3}/createRoom", {"preset": "public_chat", "name": "On Synapse"})).body["room_id"]
            joined = await alice.post(f"{V3}/join/{quote(synapse_room)}", {}, params={"via": synapse_name})
            assert joined.status == 200, joined.body
            assert (await alice.get(f"{V3}/rooms/{quote(synapse_room)}/state/m.room.name")).body == {"name": "On Synapse"}
            await bob.put(f"{V3}/rooms/{quote(synapse_room)}/send/m.room.message/s2", {"msgtype": "m.text", "body": "from synapse"})
            await alice.put(f"{V3}/rooms/{quote(synapse_room)}/send/m.room.message/h2", {"msgtype": "m.text", "body": "from hearth"})
            room_id = synapse_room

            async def both_have_second() -> bool:
                for user in (alice, bob):
                    if not {"from synapse", "from hearth"} <= set(await bodies(user)):
                        return False
                return True

            await _until(both_have_second, "messages did not cross in the Synapse room")
    finally:
        process.terminate()
        process.wait(timeout=30)
