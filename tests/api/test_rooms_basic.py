"""Creating rooms, sending and reading messages."""

from __future__ import annotations

import asyncio


async def _room(alice, **body):
    resp = await alice.post("/_matrix/client/v3/createRoom", body)
    assert resp.status == 200, resp.body
    return resp.body["room_id"]


async def test_create_send_and_read(client):
    alice = await client.register("alice")
    room_id = await _room(alice, name="Lounge", topic="chat")
    sent = await alice.put(f"/_matrix/client/v3/rooms/{room_id}/send/m.room.message/t1", {"msgtype": "m.text", "body": "hello"})
    assert sent.status == 200, sent.body
    again = await alice.put(f"/_matrix/client/v3/rooms/{room_id}/send/m.room.message/t1", {"msgtype": "m.text", "body": "hello"})
    assert again.body["event_id"] == sent.body["event_id"]
    msgs = await alice.get(f"/_matrix/client/v3/rooms/{room_id}/messages", params={"dir": "b", "limit": "5"})
    assert msgs.status == 200, msgs.body
    assert msgs.body["chunk"][0]["event_id"] == sent.body["event_id"]
    assert msgs.body["chunk"][0]["unsigned"]["transaction_id"] == "t1"
    name = await alice.get(f"/_matrix/client/v3/rooms/{room_id}/state/m.room.name")
    assert name.body == {"name": "Lounge"}
    state = await alice.get(f"/_matrix/client/v3/rooms/{room_id}/state")
    types = {e["type"] for e in state.body}
    assert {"m.room.create", "m.room.member", "m.room.power_levels", "m.room.join_rules", "m.room.name", "m.room.topic"} <= types


async def test_a_transaction_id_is_remembered_across_a_restart(make_server):
    first = await make_server()
    alice = await first.client.register("alice")
    room_id = await _room(alice)
    path = f"/_matrix/client/v3/rooms/{room_id}/send/m.room.message/kept"
    sent = await alice.put(path, {"msgtype": "m.text", "body": "once"})
    await first.hearth.db.close()
    # A second server process on the same database knows nothing of the send in memory.
    second = await make_server()
    retried = await second.client.as_user(alice.token).put(path, {"msgtype": "m.text", "body": "once"})
    assert retried.status == 200, retried.body
    assert retried.body["event_id"] == sent.body["event_id"]
    # The same ID in a batch with new sends: the repeat gets its event, the others are written.
    again = second.client.as_user(alice.token)
    answers = await asyncio.gather(*(
        again.put(f"/_matrix/client/v3/rooms/{room_id}/send/m.room.message/{txn}", {"msgtype": "m.text", "body": txn})
        for txn in ("new1", "kept", "new2")
    ))
    assert answers[1].body["event_id"] == sent.body["event_id"]
    assert len({a.body["event_id"] for a in answers}) == 3
    msgs = await again.get(f"/_matrix/client/v3/rooms/{room_id}/messages", params={"dir": "b", "limit": "10"})
    bodies = [e["content"].get("body") for e in msgs.body["chunk"] if e["type"] == "m.room.message"]
    assert sorted(bodies) == ["new1", "new2", "once"]


async def test_the_creators_join_carries_their_profile(client):
    alice = await client.register("alice")
    profile = f"/_matrix/client/v3/profile/{alice.user_id}"
    assert (await alice.put(f"{profile}/displayname", {"displayname": "Alice A."})).status == 200
    assert (await alice.put(f"{profile}/avatar_url", {"avatar_url": "mxc://test.local/abc"})).status == 200
    room_id = await _room(alice)
    member = await alice.get(f"/_matrix/client/v3/rooms/{room_id}/state/m.room.member/{alice.user_id}")
    assert member.body == {"membership": "join", "displayname": "Alice A.", "avatar_url": "mxc://test.local/abc"}
