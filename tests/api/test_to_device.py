"""Send-to-device messaging: delivery, idempotency, acknowledgement, restarts."""

from __future__ import annotations

import asyncio

from tests.support.client import MatrixClient

V3 = "/_matrix/client/v3"
SYNC = f"{V3}/sync"


def _events(body):
    return body.get("to_device", {}).get("events", [])


async def test_delivery_idempotency_and_acknowledgement(client):
    alice = await client.register("alice")
    bob = await client.register("bob")
    since = (await bob.get(SYNC)).body["next_batch"]
    waiting = asyncio.create_task(bob.get(SYNC, params={"since": since, "timeout": "10000"}))
    await asyncio.sleep(0.1)
    message = {"messages": {bob.user_id: {bob.device_id: {"hello": "bob"}}}}
    assert (await alice.put(f"{V3}/sendToDevice/m.test/txn1", message)).status == 200
    woken = await asyncio.wait_for(waiting, 5)
    assert _events(woken.body) == [{"sender": alice.user_id, "type": "m.test", "content": {"hello": "bob"}}]
    # The same transaction ID again is not a second message.
    assert (await alice.put(f"{V3}/sendToDevice/m.test/txn1", message)).status == 200
    # A sync that repeats the old token (its response was lost) gets the message again...
    again = await bob.get(SYNC, params={"since": since})
    assert len(_events(again.body)) == 1
    # ...and one with the newer token acknowledges it: it is gone for good.
    after = await bob.get(SYNC, params={"since": woken.body["next_batch"]})
    assert _events(after.body) == []
    assert _events((await bob.get(SYNC, params={"since": since})).body) == []


async def test_wildcard_reaches_every_device_and_only_those(client):
    alice = await client.register("alice")
    bob = await client.register("bob")
    bob_phone = await client.login("bob")
    await alice.put(f"{V3}/sendToDevice/m.test/t", {"messages": {bob.user_id: {"*": {"n": 1}}}})
    for device in (bob, bob_phone):
        assert [e["content"] for e in _events((await device.get(SYNC)).body)] == [{"n": 1}]
    await alice.put(f"{V3}/sendToDevice/m.test/t2", {"messages": {bob.user_id: {bob_phone.device_id: {"n": 2}, "GHOST": {}}}})
    assert _events((await bob.get(SYNC)).body) == [{"sender": alice.user_id, "type": "m.test", "content": {"n": 1}}]
    assert [e["content"] for e in _events((await bob_phone.get(SYNC)).body)] == [{"n": 1}, {"n": 2}]


async def test_messages_survive_a_restart(make_server):
    first = await make_server()
    alice = await first.client.register("alice")
    bob = await first.client.register("bob")
    since = (await bob.get(SYNC)).body["next_batch"]
    await alice.put(f"{V3}/sendToDevice/m.test/t", {"messages": {bob.user_id: {bob.device_id: {"kept": True}}}})
    second = await make_server()
    bob_again = MatrixClient(second.url, bob.session, bob.token)
    synced = await bob_again.get(SYNC, params={"since": since})
    assert [e["content"] for e in _events(synced.body)] == [{"kept": True}]


async def test_many_messages_come_in_batches(client):
    alice = await client.register("alice")
    bob = await client.register("bob")
    for i in range(150):
        await alice.put(f"{V3}/sendToDevice/m.test/t{i}", {"messages": {bob.user_id: {bob.device_id: {"i": i}}}})
    first = await bob.get(SYNC)
    assert [e["content"]["i"] for e in _events(first.body)] == list(range(100))
    second = await bob.get(SYNC, params={"since": first.body["next_batch"], "timeout": "5000"})
    assert [e["content"]["i"] for e in _events(second.body)] == list(range(100, 150))


async def test_bad_requests(client):
    alice = await client.register("alice")
    resp = await alice.put(f"{V3}/sendToDevice/m.test/a", {"messages": {"not-a-user": {"D": {}}}})
    assert (resp.status, resp.errcode) == (400, "M_INVALID_PARAM")
    resp = await alice.put(f"{V3}/sendToDevice/m.test/b", {"messages": {alice.user_id: {"D": "text"}}})
    assert resp.errcode == "M_BAD_JSON"
    assert (await alice.put(f"{V3}/sendToDevice/m.test/c", {})).errcode == "M_MISSING_PARAM"
    assert (await client.put(f"{V3}/sendToDevice/m.test/d", {"messages": {}})).status == 401
    # Unknown users and remote users are accepted and dropped (federation delivers remote ones).
    resp = await alice.put(f"{V3}/sendToDevice/m.test/e", {"messages": {
        "@nobody:test.local": {"*": {}}, "@x:elsewhere.example": {"D": {}},
    }})
    assert resp.status == 200


async def test_old_transaction_ids_are_forgotten(make_server):
    from homeserver.clock import FakeClock
    from homeserver.services.e2ee.to_device import TXN_MEMORY_MS

    clock = FakeClock()
    server = await make_server(clock=clock)
    alice = await server.client.register("alice")
    bob = await server.client.register("bob")
    message = {"messages": {bob.user_id: {bob.device_id: {"n": 1}}}}
    await alice.put(f"{V3}/sendToDevice/m.test/same", message)
    clock.advance(TXN_MEMORY_MS / 1000 + 1)
    await server.hearth.to_device.forget_old_txns()
    await alice.put(f"{V3}/sendToDevice/m.test/same", message)  # a new message now
    assert len(_events((await bob.get(SYNC)).body)) == 2


async def test_remote_message_ids_are_remembered_then_forgotten(make_server):
    from homeserver.clock import FakeClock
    from homeserver.services.e2ee.to_device import TXN_MEMORY_MS

    clock = FakeClock()
    server = await make_server(clock=clock)
    bob = await server.client.register("bob")
    edu = {"sender": "@alice:remote.test", "type": "m.test", "message_id": "m1",
           "messages": {bob.user_id: {bob.device_id: {"n": 1}}}}
    to_device = server.hearth.to_device
    await to_device.receive_remote("remote.test", edu)
    await to_device.receive_remote("remote.test", edu)  # a retry, in another transaction
    synced = (await bob.get(SYNC)).body
    assert len(_events(synced)) == 1
    clock.advance(TXN_MEMORY_MS / 1000 + 1)
    await to_device.forget_old_txns()
    await to_device.receive_remote("remote.test", edu)  # long forgotten: a new message now
    assert len(_events((await bob.get(SYNC, params={"since": synced["next_batch"]})).body)) == 1
