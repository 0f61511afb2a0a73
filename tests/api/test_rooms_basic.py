"""Creating rooms, sending and reading messages."""

from __future__ import annotations


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
