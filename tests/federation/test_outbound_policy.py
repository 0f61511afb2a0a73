"""Server-side request forgery and outbound starvation (issue 12, point 5).

The notary API is open to anyone and names servers to fetch keys from; client
endpoints name servers to ask. Hearth must not connect to loopback or private
addresses however a name gets there (IP literal, DNS, SRV, well-known,
``federation.server_addresses``) unless ``outbound.allow_ranges`` says so, must
not tell clients which hosts and ports answer, and must keep real federation
going while strangers make it wait on slow hosts.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest

from federation.keys import KEY_FETCH_CONCURRENCY, NOTARY_CONCURRENCY, NOTARY_MAX_SERVERS
from tests.federation.conftest import FederatedServer, ca_context
from tests.support.ports import free_port
from tests.support.sockets import tcp_targets

pytestmark = pytest.mark.federation

V3 = "/_matrix/client/v3"
DEFAULT_POLICY: dict[str, Any] = {"outbound": {}}


async def _notary(server: FederatedServer, session: aiohttp.ClientSession, names: list[str]) -> tuple[int, Any]:
    async with session.post(
        f"{server.federation_url}/_matrix/key/v2/query", json={"server_keys": {n: {} for n in names}},
        ssl=ca_context(server), server_hostname=server.name,
    ) as resp:
        return resp.status, await resp.json()


async def test_notary_refuses_loopback_targets_without_connecting(federation):
    (hs1,) = await federation("hs1.test", overrides={"hs1.test": DEFAULT_POLICY})
    async with tcp_targets("hang") as [target], aiohttp.ClientSession() as session:
        names = [f"127.0.0.1:{target.port}", f"localhost:{target.port}", f"[::ffff:127.0.0.1]:{target.port}"]
        status, body = await _notary(hs1, session, names)
        assert (status, body) == (200, {"server_keys": []})
        async with session.get(
            f"{hs1.federation_url}/_matrix/key/v2/query/127.0.0.1:{target.port}",
            ssl=ca_context(hs1), server_hostname=hs1.name,
        ) as resp:
            assert (resp.status, await resp.json()) == (200, {"server_keys": []})
    assert target.connections == 0


async def test_one_notary_query_names_a_bounded_number_of_servers(federation):
    (hs1,) = await federation("hs1.test", overrides={"hs1.test": DEFAULT_POLICY})
    async with aiohttp.ClientSession() as session:
        status, body = await _notary(hs1, session, [f"s{i}.invalid" for i in range(NOTARY_MAX_SERVERS + 1)])
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")


async def test_configured_and_discovered_loopback_targets_are_refused(federation):
    async with tcp_targets("hang") as [target]:
        (hs1,) = await federation("hs1.test", overrides={"hs1.test": {
            "outbound": {}, "federation": {"server_addresses": {"mapped.test": f"127.0.0.1:{target.port}"}},
        }})
        resolver = hs1.hearth.federation_client._resolver

        async def well_known(host: str) -> Any:
            return {"m.server": f"localhost:{target.port}"} if host == "delegated.test" else None

        async def srv(name: str) -> list[tuple[int, int, int, str]]:
            return [(10, 10, target.port, "localhost.")] if name == "_matrix-fed._tcp.srv.test" else []

        resolver._well_known, resolver._srv = well_known, srv
        alice = await hs1.client.register("alice")
        for server in ("mapped.test", "delegated.test", "srv.test"):
            profile = await alice.get(f"{V3}/profile/@x:{server}")
            assert (profile.status, profile.errcode) == (404, "M_NOT_FOUND"), server
    assert target.connections == 0


async def test_allow_ranges_let_a_private_federation_through(federation):
    async with tcp_targets("hang_up") as [target]:
        (hs1,) = await federation("hs1.test", overrides={"hs1.test": {
            "outbound": {"allow_ranges": ["127.0.0.1/32"]},
            "federation": {"server_addresses": {"mapped.test": f"127.0.0.1:{target.port}"}},
        }})
        alice = await hs1.client.register("alice")
        assert (await alice.get(f"{V3}/profile/@x:mapped.test")).status == 404
    assert target.connections >= 1


async def test_errors_toward_clients_do_not_tell_which_ports_answer(federation):
    closed = free_port()
    async with tcp_targets("hang_up", "plain_http") as [hang_up, plain]:
        targets = {"closed.test": closed, "hangup.test": hang_up.port, "plain.test": plain.port}
        (hs1,) = await federation("hs1.test", overrides={"hs1.test": {"federation": {"server_addresses": {
            name: f"127.0.0.1:{port}" for name, port in targets.items()
        }}}})
        alice = await hs1.client.register("alice")
        answers: dict[str, list[Any]] = {}
        for name in targets:
            responses = [
                await alice.get(f"{V3}/profile/@x:{name}"),
                await alice.get(f"{V3}/directory/room/{quote(f'#a:{name}')}"),
                await alice.post(f"{V3}/join/{quote(f'#a:{name}')}", {}),
                await alice.post(f"{V3}/join/{quote(f'!r:{name}')}?server_name={name}", {}),
                await alice.get(f"{V3}/publicRooms", params={"server": name}),
                await alice.get(f"/_matrix/client/v1/media/download/{name}/abc"),
            ]
            keys = await alice.post(f"{V3}/keys/query", {"device_keys": {f"@x:{name}": []}})
            answers[name] = [(r.status, r.body) for r in responses] + [keys.body["failures"]]
        texts = {name: repr(answer).replace(name, "NAME") for name, answer in answers.items()}
        assert len(set(texts.values())) == 1, texts
        for port in targets.values():
            assert str(port) not in texts["closed.test"]
        assert "127.0.0.1" not in texts["closed.test"]


async def test_notary_work_on_slow_hosts_leaves_federation_alone(federation):
    hs1, hs2 = await federation("hs1.test", "hs2.test")
    alice = await hs1.client.register("alice")
    bob = await hs2.client.register("bob")
    await bob.put(f"{V3}/profile/{bob.user_id}/displayname", {"displayname": "Bob"})
    async with tcp_targets(*["hang"] * 10) as slow, aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0)
    ) as session:
        queries = [
            asyncio.create_task(_notary(hs1, session, [f"127.0.0.1:{slow[i % len(slow)].port}"]))
            for i in range(160)
        ]
        try:
            async with asyncio.timeout(60):
                while sum(t.connections for t in slow) < NOTARY_CONCURRENCY:
                    await asyncio.sleep(0.05)
            async with asyncio.timeout(20):  # the pool is not held by the notary work
                profile = await alice.get(f"{V3}/profile/{bob.user_id}")
            assert profile.body == {"displayname": "Bob"}
            assert sum(t.open for t in slow) <= NOTARY_CONCURRENCY
        finally:
            for query in queries:
                query.cancel()
            await asyncio.gather(*queries, return_exceptions=True)
    assert max(t.most_open for t in slow) <= 1  # one notary request per destination at a time


async def test_requests_naming_slow_origins_take_a_bounded_share_of_the_pool(federation):
    """An unverified request names its origin, and checking it means fetching that origin's keys."""
    (hs1,) = await federation("hs1.test")
    async with tcp_targets(*["hang"] * 30) as slow, aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0)
    ) as session:
        async def forged(port: int) -> int:
            header = f'X-Matrix origin="127.0.0.1:{port}",destination="hs1.test",key="ed25519:k",sig="c2ln"'
            async with session.get(
                f"{hs1.federation_url}/_matrix/federation/v1/query/profile", params={"user_id": "@a:hs1.test"},
                headers={"Authorization": header}, ssl=ca_context(hs1), server_hostname=hs1.name,
            ) as resp:
                return resp.status

        requests = [asyncio.create_task(forged(slow[i % len(slow)].port)) for i in range(60)]
        try:
            async with asyncio.timeout(60):
                while sum(t.connections for t in slow) < KEY_FETCH_CONCURRENCY:
                    await asyncio.sleep(0.05)
            for _ in range(20):
                assert sum(t.open for t in slow) <= KEY_FETCH_CONCURRENCY
                await asyncio.sleep(0.05)
        finally:
            for request in requests:
                request.cancel()
            await asyncio.gather(*requests, return_exceptions=True)
