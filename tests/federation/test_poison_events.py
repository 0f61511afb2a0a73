"""One malformed event must not block federation (issue 12, point 4): a PDU holding
U+0000 or nested 300 levels deep is rejected on its own in the ``/send`` answer, and
a sender facing a destination that keeps refusing a transaction isolates the item it
refuses and delivers the rest. (One bad local event among concurrent sends:
tests/security/test_bad_events.py.)"""

from __future__ import annotations

import asyncio
import json
from urllib.parse import quote

import aiohttp
import pytest

from federation import sender as sender_module
from homeserver.core.events import Event
from homeserver.core.federation_auth import authorization_header
from homeserver.core.room_versions import get_room_version
from tests.federation.conftest import ca_context
from tests.support.pdus import signed_pdu

pytestmark = pytest.mark.federation

V3 = "/_matrix/client/v3"


def _nested(levels: int) -> dict:
    value: dict = {"body": "deep"}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


async def _shared_room(federation, overrides=None):
    hs1, hs2 = await federation("hs1.test", "hs2.test", overrides=overrides)
    alice = await hs1.client.register("alice")
    room_id = (await alice.post(f"{V3}/createRoom", {"preset": "public_chat"})).body["room_id"]
    bob = await hs2.client.register("bob")
    assert (await bob.post(f"{V3}/join/{quote(room_id)}", {}, params={"via": "hs1.test"})).status == 200
    return hs1, hs2, alice, bob, room_id


async def _messages(user, room_id: str) -> list[str]:
    resp = await user.get(f"{V3}/rooms/{quote(room_id)}/messages", params={"dir": "b", "limit": "100"})
    assert resp.status == 200, resp.body
    return [e["content"].get("body") for e in resp.body["chunk"] if e["type"] == "m.room.message"]


async def _wait_for_bodies(user, room_id: str, wanted: set[str], timeout: float = 30.0) -> list[str]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        bodies = await _messages(user, room_id)
        if wanted <= set(bodies):
            return bodies
        assert asyncio.get_running_loop().time() < deadline, f"missing {wanted - set(bodies)}"
        await asyncio.sleep(0.2)


async def _signed_send(hs1, hs2, txn_id: str, pdus: list[dict]) -> tuple[int, object]:
    """``PUT /send`` from hs2 to hs1, signed by hand and encoded by the standard library
    (orjson, which Hearth's own client uses, cannot encode 300 levels)."""
    body = {"origin": "hs2.test", "origin_server_ts": 1, "pdus": pdus, "edus": []}
    uri = f"/_matrix/federation/v1/send/{txn_id}"
    header = authorization_header("PUT", uri, "hs2.test", "hs1.test", body, hs2.hearth.keyring._key)
    async with aiohttp.ClientSession() as session:
        async with session.put(
            hs1.federation_url + uri, data=json.dumps(body).encode(), ssl=ca_context(hs1), server_hostname="hs1.test",
            headers={"Authorization": header, "Content-Type": "application/json"},
        ) as resp:
            return resp.status, await resp.json(content_type=None)


async def test_a_transaction_with_bad_pdus_is_answered_per_pdu(federation):
    hs1, hs2, alice, bob, room_id = await _shared_room(federation)
    hearth = hs1.hearth
    room = await hearth.event_store.db.fetchrow("SELECT room_version, current_state_group FROM rooms WHERE room_id = $1", room_id)
    version = get_room_version(room["room_version"])
    state = dict(await hearth.remote_events._state.get_state(room["current_state_group"]))
    key = hs2.hearth.keyring._key

    async def craft(content: dict, prev: list[str]) -> dict:
        return await signed_pdu(hearth, "hs2.test", key, room_id, bob.user_id, "m.room.message", content,
                                prev_events=prev, auth_state=state)

    extremities = await hearth.event_store.get_extremities(room_id)
    nul = await craft({"msgtype": "m.text", "body": "a\u0000b"}, extremities)
    deep = await craft(_nested(300), extremities)
    nul_key = await craft({"msgtype": "m.text", "body": "k", "x\u0000": 1}, extremities)
    good = await craft({"msgtype": "m.text", "body": "good one"}, extremities)
    status, answer = await _signed_send(hs1, hs2, "mixed", [nul, deep, nul_key, good])
    assert status == 200, answer
    ids = {name: Event(pdu, version).event_id for name, pdu in
           (("nul", nul), ("deep", deep), ("nul_key", nul_key), ("good", good))}
    results = answer["pdus"]
    assert results[ids["good"]] == {}
    for name in ("nul", "deep", "nul_key"):
        assert results[ids[name]].get("error"), (name, results)
        assert await hearth.event_store.get_event(ids[name]) is None
    assert "good one" in await _messages(alice, room_id)


async def test_a_peer_refusing_one_big_event_still_gets_the_rest(federation):
    # hs1 takes request bodies of at most 32 KiB: a 40 KB event (well within the PDU limit)
    # makes every transaction holding it a 413.
    hs1, hs2, alice, bob, room_id = await _shared_room(
        federation, overrides={"hs1.test": {"listen": {"max_request_size": 32 * 1024}}}
    )
    big = {"msgtype": "m.text", "body": "big " + "x" * 40_000}
    assert (await bob.put(f"{V3}/rooms/{quote(room_id)}/send/m.room.message/big", big)).status == 200
    wanted = {f"after {n}" for n in range(5)}
    for n in range(5):
        resp = await bob.put(f"{V3}/rooms/{quote(room_id)}/send/m.room.message/a{n}", {"msgtype": "m.text", "body": f"after {n}"})
        assert resp.status == 200
    await _wait_for_bodies(alice, room_id, wanted)
    store = hs2.hearth.federation_sender._store
    deadline = asyncio.get_running_loop().time() + 10
    while await store.next_batch("hs1.test", 50, 100):  # the refused event does not stay queued
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.1)


async def test_a_poison_event_is_isolated_then_dropped(federation, monkeypatch):
    # A peer that fails every transaction holding one event with a 500 (as Hearth did for a
    # NUL on PostgreSQL): the sender backs off, then sends its items one by one, delivers the
    # others and finally drops the one that keeps failing.
    monkeypatch.setattr(sender_module, "BASE_BACKOFF_S", 0.05)
    hs1, hs2, alice, bob, room_id = await _shared_room(federation)
    inbox = hs1.hearth.federation_inbox
    receive = inbox.receive
    refused: list[int] = []

    async def failing_receive(origin, txn_id, body):
        if any("poison" in json.dumps(p) for p in body.get("pdus", [])):
            refused.append(len(body["pdus"]))
            raise RuntimeError("cannot store this event")
        return await receive(origin, txn_id, body)

    monkeypatch.setattr(inbox, "receive", failing_receive)
    sender = hs2.hearth.federation_sender
    await sender.stop()  # queue the poison and the good events before anything is sent
    assert (await bob.put(f"{V3}/rooms/{quote(room_id)}/send/m.room.message/p", {"msgtype": "m.text", "body": "poison"})).status == 200
    wanted = {f"good {n}" for n in range(4)}
    for n in range(4):
        resp = await bob.put(f"{V3}/rooms/{quote(room_id)}/send/m.room.message/g{n}", {"msgtype": "m.text", "body": f"good {n}"})
        assert resp.status == 200
    await sender.start()
    await _wait_for_bodies(alice, room_id, wanted)
    assert refused[0] == 5 and refused[-1] == 1  # the whole batch first, at last the poison alone
    assert len([n for n in refused if n > 1]) == sender_module.ISOLATE_AFTER
    store = sender._store
    deadline = asyncio.get_running_loop().time() + 10
    while await store.next_batch("hs1.test", 50, 100):  # and it is dropped in the end
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.1)
    assert len([n for n in refused if n == 1]) == sender_module.DROP_AFTER
    # Later events go in whole transactions again.
    refused.clear()
    assert (await bob.put(f"{V3}/rooms/{quote(room_id)}/send/m.room.message/z", {"msgtype": "m.text", "body": "later"})).status == 200
    await _wait_for_bodies(alice, room_id, {"later"})
    assert refused == []


async def test_bad_edus_and_requests_are_refused_alone(federation):
    hs1, hs2, alice, bob, room_id = await _shared_room(federation)
    good = {"edu_type": "m.direct_to_device", "content": {
        "sender": bob.user_id, "type": "m.test", "message_id": "ok", "messages": {alice.user_id: {"*": {"fine": 1}}},
    }}
    bad = [
        {"edu_type": "m.presence", "content": {"push": [{"user_id": "no-colon", "presence": "online"}]}},
        {"edu_type": "m.typing", "content": {"room_id": room_id, "user_id": "no-colon", "typing": True}},
        {"edu_type": "m.receipt", "content": {room_id: {"m.read": {"no-colon": {"event_ids": ["$x"], "data": {}}}}}},
        {"edu_type": "m.receipt", "content": {room_id: {"m.read": {bob.user_id: {
            "event_ids": [(await alice.get(f"{V3}/rooms/{quote(room_id)}/messages", params={"dir": "b", "limit": "1"})).body["chunk"][0]["event_id"]],
            "data": {"ts": 2**63 - 1}}}}}},
        {"edu_type": "m.typing", "content": {"room_id": "!a\u0000:hs1.test", "user_id": bob.user_id, "typing": True}},
        {"edu_type": "m.direct_to_device", "content": {**good["content"], "message_id": "nul", "type": "m.te\u0000st"}},
        {"edu_type": "m.direct_to_device", "content": {**good["content"], "message_id": "deep", "deep": _nested(150)}},
    ]
    body = {"origin": "hs2.test", "origin_server_ts": 1, "pdus": [], "edus": [*bad, good]}
    answer = await hs2.hearth.federation_client.request("hs1.test", "PUT", "/_matrix/federation/v1/send/edus", body=body)
    assert answer == {"pdus": {}}
    synced = await alice.get(f"{V3}/sync")
    assert [e["content"] for e in synced.body["to_device"]["events"]] == [{"fine": 1}]
    from federation.client import FederationError

    client = hs2.hearth.federation_client
    with pytest.raises(FederationError) as refused:
        await client.request("hs1.test", "GET", f"/_matrix/federation/v1/make_join/{quote(room_id)}/no-colon")
    assert refused.value.status == 400
    # The notary endpoint takes criteria of any shape without failing.
    keys = await client.request("hs1.test", "POST", "/_matrix/key/v2/query", body={"server_keys": {
        "hs2.test": {"a": {"minimum_valid_until_ts": "soon"}, "b": {"minimum_valid_until_ts": 5}, "c": {}},
    }})
    assert isinstance(keys["server_keys"], list)
