"""Errors across servers as the spec has them: a remote refusal keeps its errcode (not its
text), a server that left a room does not hand out joins to it, an unreachable server
is a 502, malformed invites and server names are bad requests, and large answers are
read whole."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import quote

import aiohttp
import pytest
from yarl import URL

import federation.keys as key_ring
import homeserver.services.rooms.remote_membership as remote_membership
from federation.client import FederationError
from homeserver.core.federation_auth import authorization_header
from homeserver.core.signing import signing_key_from_seed
from tests.federation.conftest import ca_context

pytestmark = pytest.mark.federation

V3 = "/_matrix/client/v3"


def q(value: str) -> str:
    return quote(value, safe="")


async def test_a_remote_join_refusal_keeps_its_errcode_and_room_version(federation, monkeypatch):
    hs1, hs2 = await federation("hs1.test", "hs2.test")
    alice = await hs1.client.register("alice")
    room_id = (await alice.post(f"{V3}/createRoom", {"preset": "public_chat", "room_version": "12"})).body["room_id"]
    bob = await hs2.client.register("bob")
    # bob's server offers only versions the room is not of.
    monkeypatch.setattr(remote_membership, "JOINABLE_VERSIONS", ["10", "11"])
    refused = await bob.post(f"{V3}/join/{q(room_id)}", {}, params={"via": "hs1.test"})
    assert (refused.status, refused.errcode, refused.body.get("room_version")) == (400, "M_INCOMPATIBLE_ROOM_VERSION", "12")
    assert "does not support" not in refused.body["error"]  # hs1's own words are not passed on


async def test_a_server_whose_users_all_left_hands_out_no_joins(federation):
    hs1, hs2, hs3 = await federation("hs1.test", "hs2.test", "hs3.test")
    alice, bob, dave = (await hs1.client.register("alice"), await hs2.client.register("bob"),
                        await hs3.client.register("dave"))
    room_id = (await alice.post(f"{V3}/createRoom", {"preset": "public_chat"})).body["room_id"]
    assert (await bob.post(f"{V3}/join/{q(room_id)}", {}, params={"via": "hs1.test"})).status == 200
    assert (await alice.post(f"{V3}/rooms/{q(room_id)}/leave", {})).status == 200
    with pytest.raises(FederationError) as gone:
        await hs3.hearth.federation_client.request(
            "hs1.test", "GET", f"/_matrix/federation/v1/make_join/{q(room_id)}/{q(dave.user_id)}", query={"ver": "12"}
        )
    assert (gone.value.status, gone.value.errcode) == (404, "M_NOT_FOUND")
    refused = await dave.post(f"{V3}/join/{q(room_id)}", {}, params={"via": "hs1.test"})
    assert (refused.status, refused.errcode) == (404, "M_NOT_FOUND")
    # Through a server still in the room, the join works.
    joined = await dave.post(f"{V3}/join/{q(room_id)}", {}, params={"via": "hs2.test"})
    assert joined.status == 200, joined.body


async def test_an_unreachable_invitee_server_is_a_bad_gateway(federation):
    hs1, = await federation("hs1.test", addresses={"gone.test": "127.0.0.1:9"})
    alice = await hs1.client.register("alice")
    room_id = (await alice.post(f"{V3}/createRoom", {"preset": "private_chat"})).body["room_id"]
    invited = await alice.post(f"{V3}/rooms/{q(room_id)}/invite", {"user_id": "@bob:gone.test"})
    assert (invited.status, invited.errcode) == (502, "M_UNKNOWN")
    assert "127.0.0.1" not in invited.body["error"]


async def test_invites_that_are_not_invites_are_bad_requests(federation):
    hs1, hs2 = await federation("hs1.test", "hs2.test")
    alice, bob = await hs1.client.register("alice"), await hs2.client.register("bob")
    room_id = (await alice.post(f"{V3}/createRoom", {"preset": "private_chat"})).body["room_id"]
    event, _, _ = await hs1.hearth.remote_membership._sender.prepare(
        room_id, alice.user_id, "m.room.member", {"membership": "invite"}, state_key=bob.user_id
    )
    pdu, path = event.pdu(), f"/_matrix/federation/v2/invite/{q(room_id)}/{q(event.event_id)}"

    async def refusal(body) -> tuple[int | None, str | None]:
        with pytest.raises(FederationError) as refused:
            await hs1.hearth.federation_client.request("hs2.test", "PUT", path, body=body)
        return refused.value.status, refused.value.errcode

    assert await refusal({"room_version": "12", "event": {**pdu, "prev_events": "nope"}}) == (400, "M_BAD_JSON")
    assert await refusal({"room_version": "12", "event": {**pdu, "depth": "deep"}}) == (400, "M_BAD_JSON")
    forged = {**pdu, "signatures": {"hs1.test": {k: "A" * 86 for k in pdu["signatures"]["hs1.test"]}}}
    assert await refusal({"room_version": "12", "event": forged}) == (400, "M_INVALID_PARAM")
    # The genuine invite is co-signed.
    answer = await hs1.hearth.federation_client.request("hs2.test", "PUT", path, body={"room_version": "12", "event": pdu})
    assert "hs2.test" in answer["event"]["signatures"]


async def _get(server, path: str, headers: dict) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as session:
        async with session.get(
            URL(server.federation_url + path, encoded=True), headers=headers, ssl=ca_context(server),
            server_hostname=server.name,
        ) as resp:
            return resp.status, await resp.json()


async def test_a_server_name_with_a_port_that_is_not_a_number_is_a_bad_request(federation):
    hs1, hs2 = await federation("hs1.test", "hs2.test")
    alice = await hs1.client.register("alice")
    path = f"/_matrix/federation/v1/query/profile?user_id={q(alice.user_id)}"
    key = signing_key_from_seed(b"\x07" * 32, "k")
    for origin, destination in (("hs2.test:abc", "hs1.test"), ("hs2.test", "hs1.test:8448x")):
        header = authorization_header("GET", path, origin, destination, None, key)
        status, body = await _get(hs1, path, {"Authorization": header})
        assert (status, body["errcode"]) == (400, "M_UNAUTHORIZED"), (origin, destination)
    # A well-formed but wrong destination stays a 401, as the spec says.
    header = authorization_header("GET", path, "hs2.test", "hs9.test", None, hs2.hearth.keyring._key)
    assert (await _get(hs1, path, {"Authorization": header}))[0] == 401
    # Clients naming such a server get a 400 too.
    listed = await alice.get(f"{V3}/publicRooms", params={"server": "hs2.test:abc"})
    assert (listed.status, listed.errcode) == (400, "M_INVALID_PARAM")


async def test_large_answers_are_read_whole(federation):
    """A join whose answer (the room's state) is far larger than one network read."""
    hs1, hs2 = await federation("hs1.test", "hs2.test")
    alice = await hs1.client.register("alice")
    room_id = (await alice.post(f"{V3}/createRoom", {"preset": "public_chat"})).body["room_id"]
    for n in range(6):
        big = {"blob": "x" * 60_000}
        assert (await alice.put(f"{V3}/rooms/{q(room_id)}/state/org.example.big/{n}", big)).status == 200
    bob = await hs2.client.register("bob")
    joined = await bob.post(f"{V3}/join/{q(room_id)}", {}, params={"via": "hs1.test"})
    assert joined.status == 200, joined.body
    state = await bob.get(f"{V3}/rooms/{q(room_id)}/state/org.example.big/5")
    assert state.body == {"blob": "x" * 60_000}
    assert len(json.dumps(state.body)) > 60_000


async def test_the_notary_asks_a_server_once_and_does_not_hang_on_one_that_stalls(federation, monkeypatch):
    monkeypatch.setattr(key_ring, "KEY_FETCH_TIMEOUT_S", 0.5)
    connections: list[int] = []

    async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        await reader.read()  # never answers; returns when the other side gives up
        writer.close()

    stalling = await asyncio.start_server(stall, "127.0.0.1", 0)
    port = stalling.sockets[0].getsockname()[1]
    try:
        hs1, hs2 = await federation("hs1.test", "hs2.test", addresses={"stall.test": f"127.0.0.1:{port}"})
        asked: list[str] = []
        client = hs1.hearth.notary_client  # notary work has a client (and pool) of its own
        original = client.request

        async def counting(destination, method, path, **kwargs):
            if path == "/_matrix/key/v2/server":
                asked.append(destination)
            return await original(destination, method, path, **kwargs)

        monkeypatch.setattr(client, "request", counting)
        key_id = next(iter(hs2.hearth.keyring.own_response()["verify_keys"]))
        far = hs1.hearth.clock.time_ms() + 30 * 86_400_000  # longer than hs2's keys are valid
        queries = [
            lambda: _get(hs1, "/_matrix/key/v2/query/hs2.test", {}),
            lambda: _post(hs1, {"server_keys": {"hs2.test": {key_id: {"minimum_valid_until_ts": far}}}}),
            lambda: _get(hs1, f"/_matrix/key/v2/query/hs2.test?minimum_valid_until_ts={far}", {}),
        ]
        for query in queries:
            status, body = await query()
            assert status == 200 and [r["server_name"] for r in body["server_keys"]] == ["hs2.test"]
        assert asked.count("hs2.test") == 1
        # Three queries at once about a server that never answers: one attempt, and answers.
        answers = await asyncio.gather(*(_get(hs1, "/_matrix/key/v2/query/stall.test", {}) for _ in range(3)))
        assert answers == [(200, {"server_keys": []})] * 3
        assert asked.count("stall.test") == 1 and len(connections) == 1
        status, body = await _get(hs1, "/_matrix/key/v2/query/stall.test", {})
        assert (status, body) == (200, {"server_keys": []}) and len(connections) == 1
    finally:
        stalling.close()


async def _post(server, body: dict) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as session:
        async with session.post(
            URL(server.federation_url + "/_matrix/key/v2/query", encoded=True), json=body, ssl=ca_context(server),
            server_hostname=server.name,
        ) as resp:
            return resp.status, await resp.json()
