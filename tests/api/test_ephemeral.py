"""Typing, receipts, read markers and presence, through /sync."""

from __future__ import annotations

import asyncio
import time

SYNC = "/_matrix/client/v3/sync"
R = "/_matrix/client/v3/rooms"


async def _pair(client):
    alice = await client.register("alice")
    bob = await client.register("bob")
    room_id = (await alice.post("/_matrix/client/v3/createRoom", {"preset": "public_chat"})).body["room_id"]
    await bob.post(f"/_matrix/client/v3/join/{room_id}", {})
    return alice, bob, room_id


def _ephemeral(body, room_id, event_type):
    room = body.get("rooms", {}).get("join", {}).get(room_id, {})
    return [e for e in room.get("ephemeral", {}).get("events", []) if e["type"] == event_type]


async def test_typing_shows_and_expires(client):
    alice, bob, room_id = await _pair(client)
    since = (await bob.get(SYNC)).body["next_batch"]
    task = asyncio.create_task(bob.get(SYNC, params={"since": since, "timeout": "10000"}))
    await asyncio.sleep(0.1)
    resp = await alice.put(f"{R}/{room_id}/typing/{alice.user_id}", {"typing": True, "timeout": 500})
    assert resp.status == 200
    synced = await asyncio.wait_for(task, 5)
    assert _ephemeral(synced.body, room_id, "m.typing") == [{"type": "m.typing", "content": {"user_ids": [alice.user_id]}}]
    # The typing notification expires by itself.
    since = synced.body["next_batch"]
    expired = await bob.get(SYNC, params={"since": since, "timeout": "5000"})
    assert _ephemeral(expired.body, room_id, "m.typing") == [{"type": "m.typing", "content": {"user_ids": []}}]


async def test_typing_stop_and_errors(client):
    alice, bob, room_id = await _pair(client)
    await alice.put(f"{R}/{room_id}/typing/{alice.user_id}", {"typing": True, "timeout": 30000})
    since = (await bob.get(SYNC)).body["next_batch"]
    await alice.put(f"{R}/{room_id}/typing/{alice.user_id}", {"typing": False})
    resp = await bob.get(SYNC, params={"since": since})
    assert _ephemeral(resp.body, room_id, "m.typing")[0]["content"]["user_ids"] == []
    assert (await alice.put(f"{R}/{room_id}/typing/{bob.user_id}", {"typing": True})).status == 403
    assert (await alice.put(f"{R}/{room_id}/typing/{alice.user_id}", {"typing": "yes"})).errcode == "M_BAD_JSON"
    carol = await client.register("carol")
    assert (await carol.put(f"{R}/{room_id}/typing/{carol.user_id}", {"typing": True})).status == 403


async def _message(user, room_id, body="x"):
    resp = await user.put(f"{R}/{room_id}/send/m.room.message/t{time.monotonic_ns()}", {"msgtype": "m.text", "body": body})
    return resp.body["event_id"]


async def test_public_and_private_receipts(client):
    alice, bob, room_id = await _pair(client)
    first = await _message(alice, room_id)
    second = await _message(alice, room_id)
    since_alice = (await alice.get(SYNC)).body["next_batch"]
    assert (await bob.post(f"{R}/{room_id}/receipt/m.read/{first}", {})).status == 200
    assert (await bob.post(f"{R}/{room_id}/receipt/m.read.private/{second}", {})).status == 200
    seen = await alice.get(SYNC, params={"since": since_alice})
    receipts = _ephemeral(seen.body, room_id, "m.receipt")
    content = receipts[0]["content"]
    assert set(content) == {first}  # Alice never sees Bob's private receipt
    assert bob.user_id in content[first]["m.read"]
    own = await bob.get(SYNC)
    own_content = {}
    for event in _ephemeral(own.body, room_id, "m.receipt"):
        own_content.update(event["content"])
    assert second in own_content and "m.read.private" in own_content[second]


async def test_receipts_do_not_move_backwards(client):
    alice, bob, room_id = await _pair(client)
    first = await _message(alice, room_id)
    second = await _message(alice, room_id)
    await bob.post(f"{R}/{room_id}/receipt/m.read/{second}", {})
    since = (await alice.get(SYNC)).body["next_batch"]
    await bob.post(f"{R}/{room_id}/receipt/m.read/{first}", {})
    resp = await alice.get(SYNC, params={"since": since})
    assert _ephemeral(resp.body, room_id, "m.receipt") == []


async def test_threaded_receipt(client):
    alice, bob, room_id = await _pair(client)
    event_id = await _message(alice, room_id)
    assert (await bob.post(f"{R}/{room_id}/receipt/m.read/{event_id}", {"thread_id": "main"})).status == 200
    resp = await alice.get(SYNC)
    content = _ephemeral(resp.body, room_id, "m.receipt")[0]["content"]
    assert content[event_id]["m.read"][bob.user_id]["thread_id"] == "main"
    bad = await bob.post(f"{R}/{room_id}/receipt/m.read/{event_id}", {"thread_id": "nonsense"})
    assert bad.errcode == "M_INVALID_PARAM"


async def test_receipt_errors(client):
    alice, bob, room_id = await _pair(client)
    event_id = await _message(alice, room_id)
    assert (await bob.post(f"{R}/{room_id}/receipt/m.bogus/{event_id}", {})).errcode == "M_INVALID_PARAM"
    assert (await bob.post(f"{R}/{room_id}/receipt/m.read/$nope", {})).status == 404
    carol = await client.register("carol")
    assert (await carol.post(f"{R}/{room_id}/receipt/m.read/{event_id}", {})).status == 403


async def test_read_markers(client):
    alice, bob, room_id = await _pair(client)
    event_id = await _message(alice, room_id)
    resp = await bob.post(f"{R}/{room_id}/read_markers", {"m.fully_read": event_id, "m.read": event_id})
    assert resp.status == 200
    marker = await bob.get(f"/_matrix/client/v3/user/{bob.user_id}/rooms/{room_id}/account_data/m.fully_read")
    assert marker.body == {"event_id": event_id}
    synced = await alice.get(SYNC)
    assert any(event_id in e["content"] for e in _ephemeral(synced.body, room_id, "m.receipt"))
    assert (await bob.post(f"{R}/{room_id}/read_markers", {"m.fully_read": 5})).errcode == "M_BAD_JSON"


async def test_presence(client):
    alice, bob, room_id = await _pair(client)
    since = (await bob.get(SYNC)).body["next_batch"]
    resp = await alice.put(f"/_matrix/client/v3/presence/{alice.user_id}/status", {"presence": "unavailable", "status_msg": "lunch"})
    assert resp.status == 200
    status = await bob.get(f"/_matrix/client/v3/presence/{alice.user_id}/status")
    assert status.body["presence"] == "unavailable"
    assert status.body["status_msg"] == "lunch"
    assert status.body["last_active_ago"] >= 0
    synced = await bob.get(SYNC, params={"since": since})
    events = synced.body["presence"]["events"]
    assert {"sender": alice.user_id, "presence": "unavailable"} in [
        {"sender": e["sender"], "presence": e["content"]["presence"]} for e in events
    ]
    # Users without a shared room cannot see presence.
    carol = await client.register("carol")
    assert (await carol.get(f"/_matrix/client/v3/presence/{alice.user_id}/status")).status == 403
    assert (await carol.put(f"/_matrix/client/v3/presence/{alice.user_id}/status", {"presence": "online"})).status == 403
    assert (await alice.put(f"/_matrix/client/v3/presence/{alice.user_id}/status", {"presence": "asleep"})).errcode == "M_INVALID_PARAM"


async def test_sync_sets_presence(client):
    alice, bob, room_id = await _pair(client)
    await alice.get(SYNC, params={"set_presence": "online"})
    status = await bob.get(f"/_matrix/client/v3/presence/{alice.user_id}/status")
    assert status.body["presence"] == "online"
    assert status.body["currently_active"] is True


async def test_newly_shared_presence_is_in_the_next_sync(client):
    """Presence set before two users shared a room reaches the other once they do."""
    alice = await client.register("alice")
    bob = await client.register("bob")
    resp = await alice.put(f"/_matrix/client/v3/presence/{alice.user_id}/status", {"presence": "unavailable", "status_msg": "away"})
    assert resp.status == 200
    since = (await bob.get(SYNC, params={"set_presence": "offline"})).body["next_batch"]
    room_id = (await alice.post("/_matrix/client/v3/createRoom", {"preset": "public_chat"})).body["room_id"]
    assert (await bob.post(f"{R}/{room_id}/join", {})).status == 200
    synced = await bob.get(SYNC, params={"since": since, "set_presence": "offline"})
    presence = {e["sender"]: e["content"] for e in synced.body.get("presence", {}).get("events", [])}
    assert presence[alice.user_id]["presence"] == "unavailable"
    assert presence[alice.user_id]["status_msg"] == "away"
    # Once told, the next sync does not repeat it.
    again = await bob.get(SYNC, params={"since": synced.body["next_batch"], "set_presence": "offline"})
    assert alice.user_id not in {e["sender"] for e in again.body.get("presence", {}).get("events", [])}
