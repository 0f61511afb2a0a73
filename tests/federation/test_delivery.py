"""Durable delivery of EDUs: to-device messages (and so E2EE) across servers,
backoff while a server is away, and resumption after a restart."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.ports import free_port
from tests.support.olm import CryptoDevice

pytestmark = pytest.mark.federation

V3 = "/_matrix/client/v3"


async def _sync_until(device: CryptoDevice, predicate, timeout: float = 15.0) -> dict:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        body = await device.sync(timeout=1000)
        if predicate(body):
            return body
        assert asyncio.get_running_loop().time() < deadline, "nothing arrived in time"


async def test_room_keys_reach_another_server_by_to_device(federation):
    hs1, hs2 = await federation("hs1.test", "hs2.test")
    alice = CryptoDevice(await hs1.client.register("alice"))
    bob = CryptoDevice(await hs2.client.register("bob"))
    await alice.upload_keys()
    await bob.upload_keys()
    await alice.sync()
    # Bob shares a Megolm session with Alice's device on hs1, over Olm, across servers.
    await bob.share_room_key("!room:hs2.test", [alice.user_id])
    session_id = bob.outbound["!room:hs2.test"].session_id
    await _sync_until(alice, lambda body: session_id in alice.inbound)
    encrypted = bob.encrypt("!room:hs2.test", "m.room.message", {"msgtype": "m.text", "body": "across servers"})
    assert alice.decrypt({"content": encrypted})["content"]["body"] == "across servers"


async def test_delivery_backs_off_then_catches_up_and_survives_a_restart(federation):
    port = free_port()
    (hs2,) = await federation("hs2.test", addresses={"hs3.test": f"127.0.0.1:{port}"})
    bob = await hs2.client.register("bob")
    sender = hs2.hearth.federation_sender
    for n in range(3):
        resp = await bob.put(f"{V3}/sendToDevice/m.test/t{n}", {"messages": {"@carol:hs3.test": {"*": {"n": n}}}})
        assert resp.status == 200
    store = sender._store
    deadline = asyncio.get_running_loop().time() + 10
    while (await store.health("hs3.test")).failures == 0:
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.1)
    assert len(await store.next_batch("hs3.test", 50, 100)) == 3  # kept while hs3 is away
    # A restart of the sender (as after a crash) picks the queue up again...
    await sender.stop()
    await sender.start()
    # ...and once hs3 is there, everything arrives, in order.
    (hs3,) = await federation("hs3.test", ports={"hs3.test": port},
                              addresses={"hs2.test": hs2.hearth.config.federation.server_addresses.get("hs2.test") or
                                         hs2.federation_url.removeprefix("https://")})
    carol = CryptoDevice(await hs3.client.register("carol"))
    received: list[dict] = []

    def collect(body: dict) -> bool:
        received.extend(body.get("to_device", {}).get("events", []))
        return len(received) >= 3

    await _sync_until(carol, collect, timeout=20)
    assert [e["content"]["n"] for e in received] == [0, 1, 2]
    assert all(e["sender"] == bob.user_id for e in received)
    deadline = asyncio.get_running_loop().time() + 10
    while await store.next_batch("hs3.test", 50, 100):  # delivered rows go once hs3 has answered
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.1)
    assert (await store.health("hs3.test")).failures == 0


async def test_transactions_are_processed_once(federation):
    hs1, hs2 = await federation("hs1.test", "hs2.test")
    alice = await hs1.client.register("alice")
    edu = {"edu_type": "m.direct_to_device", "content": {
        "sender": "@bob:hs2.test", "type": "m.test", "message_id": "m1",
        "messages": {alice.user_id: {"*": {"hello": 1}}},
    }}
    body = {"origin": "hs2.test", "origin_server_ts": 1, "pdus": [], "edus": [edu]}
    for _ in range(2):
        answer = await hs2.hearth.federation_client.request("hs1.test", "PUT", "/_matrix/federation/v1/send/same", body=body)
        assert answer == {"pdus": {}}
    synced = await alice.get(f"{V3}/sync")
    assert [e["content"] for e in synced.body["to_device"]["events"]] == [{"hello": 1}]
    # A server cannot send to-device messages in another server's users' names, nor oversize transactions.
    forged = {**body, "edus": [{**edu, "content": {**edu["content"], "sender": "@eve:hs1.test"}}]}
    await hs2.hearth.federation_client.request("hs1.test", "PUT", "/_matrix/federation/v1/send/forged", body=forged)
    assert "to_device" not in (await alice.get(f"{V3}/sync", params={"since": synced.body["next_batch"]})).body
    from federation.client import FederationError

    with pytest.raises(FederationError) as big:
        await hs2.hearth.federation_client.request(
            "hs1.test", "PUT", "/_matrix/federation/v1/send/big", body={**body, "edus": [edu] * 101}
        )
    assert big.value.status == 400
    with pytest.raises(FederationError) as other_origin:
        await hs2.hearth.federation_client.request(
            "hs1.test", "PUT", "/_matrix/federation/v1/send/other", body={**body, "origin": "hs9.test"}
        )
    assert other_origin.value.status == 403


async def test_a_to_device_edu_retried_in_another_transaction_arrives_once(federation):
    hs1, hs2 = await federation("hs1.test", "hs2.test")
    alice = await hs1.client.register("alice")

    async def push(txn_id: str, message_id: str | None, n: int) -> None:
        content = {"sender": "@bob:hs2.test", "type": "m.test", "messages": {alice.user_id: {"*": {"n": n}}}}
        if message_id is not None:
            content["message_id"] = message_id
        body = {"origin": "hs2.test", "origin_server_ts": 1, "pdus": [],
                "edus": [{"edu_type": "m.direct_to_device", "content": content}]}
        await hs2.hearth.federation_client.request("hs1.test", "PUT", f"/_matrix/federation/v1/send/{txn_id}", body=body)

    # The same message ID in two transactions (as a retry with more queued would be) arrives once...
    await push("first", "m1", 1)
    await push("second", "m1", 1)
    # ...while another message ID is delivered, and so is an EDU without one (nothing tells a retry).
    await push("third", "m2", 2)
    await push("fourth", None, 3)
    synced = await alice.get(f"{V3}/sync")
    assert [e["content"] for e in synced.body["to_device"]["events"]] == [{"n": 1}, {"n": 2}, {"n": 3}]
    # A retry after the device has had its messages is still not a new one.
    await push("fifth", "m1", 1)
    assert "to_device" not in (await alice.get(f"{V3}/sync", params={"since": synced.body["next_batch"]})).body


def test_backoff_doubles_up_to_a_day():
    from federation.sender import backoff_seconds

    assert [backoff_seconds(n) for n in (1, 2, 3, 4)] == [2.0, 4.0, 8.0, 16.0]
    assert backoff_seconds(40) == 24 * 60 * 60


async def test_megolm_messages_in_an_encrypted_room_across_servers(federation):
    from urllib.parse import quote

    hs1, hs2 = await federation("hs1.test", "hs2.test")
    alice = CryptoDevice(await hs1.client.register("alice"))
    bob = CryptoDevice(await hs2.client.register("bob"))
    await alice.upload_keys()
    await bob.upload_keys()
    room_id = (await alice.client.post(f"{V3}/createRoom", {
        "preset": "public_chat",
        "initial_state": [{"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}],
    })).body["room_id"]
    assert (await bob.client.post(f"{V3}/join/{quote(room_id)}", {}, params={"via": "hs1.test"})).status == 200
    await bob.sync()
    await alice.share_room_key(room_id, [alice.user_id, bob.user_id])
    event_id = await alice.send(room_id, "secret across servers")

    def decrypted(body: dict) -> bool:
        timeline = body.get("rooms", {}).get("join", {}).get(room_id, {}).get("timeline", {}).get("events", [])
        for event in timeline:
            if event["event_id"] == event_id and event["content"].get("session_id") in bob.inbound:
                assert bob.decrypt(event)["content"]["body"] == "secret across servers"
                return True
        return False

    seen: list[dict] = []

    def collect(body: dict) -> bool:
        seen.append(body)
        return any(decrypted(b) for b in seen)

    await _sync_until(bob, collect)
