"""/sync: initial and incremental, long-polling, limits, invites, leaves, account data."""

from __future__ import annotations

import asyncio
import json
import time

SYNC = "/_matrix/client/v3/sync"


async def _room(user, **body):
    resp = await user.post("/_matrix/client/v3/createRoom", body)
    assert resp.status == 200, resp.body
    return resp.body["room_id"]


async def _send(user, room_id, body="hi", txn=None):
    txn = txn or f"t{time.monotonic_ns()}"
    resp = await user.put(f"/_matrix/client/v3/rooms/{room_id}/send/m.room.message/{txn}", {"msgtype": "m.text", "body": body})
    assert resp.status == 200, resp.body
    return resp.body["event_id"]


async def test_initial_sync(client):
    alice = await client.register("alice")
    room_id = await _room(alice, name="Room")
    event_id = await _send(alice, room_id, "first")
    resp = await alice.get(SYNC)
    assert resp.status == 200
    joined = resp.body["rooms"]["join"][room_id]
    timeline = joined["timeline"]["events"]
    assert timeline[-1]["event_id"] == event_id
    assert "room_id" not in timeline[-1]
    ids = {e["event_id"] for e in timeline}
    state_ids = {e["event_id"] for e in joined["state"]["events"]}
    assert not ids & state_ids
    all_types = {e["type"] for e in timeline + joined["state"]["events"]}
    assert {"m.room.create", "m.room.member", "m.room.power_levels", "m.room.name"} <= all_types
    assert joined["summary"]["m.joined_member_count"] == 1
    assert resp.body["next_batch"]


async def test_incremental_sync_and_limited_timeline(client):
    alice = await client.register("alice")
    room_id = await _room(alice)
    first = await alice.get(SYNC)
    since = first.body["next_batch"]
    empty = await alice.get(SYNC, params={"since": since})
    assert "rooms" not in empty.body
    ids = [await _send(alice, room_id, f"m{i}") for i in range(3)]
    incremental = await alice.get(SYNC, params={"since": since})
    timeline = incremental.body["rooms"]["join"][room_id]["timeline"]
    assert [e["event_id"] for e in timeline["events"]] == ids
    assert timeline["limited"] is False
    assert incremental.body["rooms"]["join"][room_id]["state"]["events"] == []
    flt = json.dumps({"room": {"timeline": {"limit": 2}}})
    limited = await alice.get(SYNC, params={"since": since, "filter": flt})
    tl = limited.body["rooms"]["join"][room_id]["timeline"]
    assert [e["event_id"] for e in tl["events"]] == ids[1:]
    assert tl["limited"] is True
    # prev_batch paginates back to the event that was cut off.
    older = await alice.get(f"/_matrix/client/v3/rooms/{room_id}/messages", params={"from": tl["prev_batch"], "dir": "b", "limit": "1"})
    assert older.body["chunk"][0]["event_id"] == ids[0]


async def test_long_poll_wakes_on_new_message(client):
    alice = await client.register("alice")
    bob = await client.register("bob")
    room_id = await _room(alice, preset="public_chat")
    assert (await bob.post(f"/_matrix/client/v3/join/{room_id}", {})).status == 200
    since = (await bob.get(SYNC)).body["next_batch"]

    async def send_later():
        await asyncio.sleep(0.3)
        return await _send(alice, room_id, "wake up")

    started = time.monotonic()
    sync_task = asyncio.create_task(bob.get(SYNC, params={"since": since, "timeout": "10000"}))
    event_id = await send_later()
    resp = await sync_task
    assert time.monotonic() - started < 5
    events = resp.body["rooms"]["join"][room_id]["timeline"]["events"]
    assert event_id in [e["event_id"] for e in events]


async def test_long_poll_times_out_empty(client):
    alice = await client.register("alice")
    since = (await alice.get(SYNC)).body["next_batch"]
    started = time.monotonic()
    resp = await alice.get(SYNC, params={"since": since, "timeout": "300"})
    assert time.monotonic() - started >= 0.25
    assert "rooms" not in resp.body
    assert resp.body["next_batch"] == since


async def test_sync_token_survives_restart(make_server):
    server = await make_server()
    alice = await server.client.register("alice")
    room_id = await _room(alice)
    since = (await alice.get(SYNC)).body["next_batch"]
    await _send(alice, room_id, "before restart")
    second = await make_server()  # same database, fresh process state
    alice2 = second.client.as_user(alice.token)
    resp = await alice2.get(SYNC, params={"since": since})
    bodies = [e["content"].get("body") for e in resp.body["rooms"]["join"][room_id]["timeline"]["events"]]
    assert bodies == ["before restart"]


async def test_invite_then_join_then_leave(client):
    alice = await client.register("alice")
    bob = await client.register("bob")
    room_id = await _room(alice, name="Secret")
    since = (await bob.get(SYNC)).body["next_batch"]
    assert (await alice.post(f"/_matrix/client/v3/rooms/{room_id}/invite", {"user_id": bob.user_id})).status == 200
    invited = await bob.get(SYNC, params={"since": since})
    invite_state = invited.body["rooms"]["invite"][room_id]["invite_state"]["events"]
    assert {"type": "m.room.name", "state_key": "", "content": {"name": "Secret"}, "sender": alice.user_id} in invite_state
    assert any(e["type"] == "m.room.member" and e["state_key"] == bob.user_id for e in invite_state)
    since = invited.body["next_batch"]
    assert (await bob.post(f"/_matrix/client/v3/rooms/{room_id}/join", {})).status == 200
    joined = await bob.get(SYNC, params={"since": since})
    room = joined.body["rooms"]["join"][room_id]
    everything = room["timeline"]["events"] + room["state"]["events"]
    assert any(e["type"] == "m.room.name" for e in everything)  # full state for a newly joined room
    since = joined.body["next_batch"]
    assert (await bob.post(f"/_matrix/client/v3/rooms/{room_id}/leave", {})).status == 200
    left = await bob.get(SYNC, params={"since": since})
    leave_events = left.body["rooms"]["leave"][room_id]["timeline"]["events"]
    assert leave_events[-1]["content"]["membership"] == "leave"
    # Left rooms are not in an initial sync unless include_leave is set.
    assert room_id not in (await bob.get(SYNC)).body.get("rooms", {}).get("leave", {})
    flt = json.dumps({"room": {"include_leave": True}})
    assert room_id in (await bob.get(SYNC, params={"filter": flt})).body["rooms"]["leave"]


async def test_account_data_in_sync(client):
    alice = await client.register("alice")
    room_id = await _room(alice)
    since = (await alice.get(SYNC)).body["next_batch"]
    await alice.put(f"/_matrix/client/v3/user/{alice.user_id}/account_data/org.example.x", {"a": 1})
    await alice.put(f"/_matrix/client/v3/user/{alice.user_id}/rooms/{room_id}/account_data/m.tag", {"tags": {}})
    resp = await alice.get(SYNC, params={"since": since})
    assert {"type": "org.example.x", "content": {"a": 1}} in resp.body["account_data"]["events"]
    assert resp.body["rooms"]["join"][room_id]["account_data"]["events"] == [{"type": "m.tag", "content": {"tags": {}}}]


async def test_account_data_wakes_long_poll(client):
    alice = await client.register("alice")
    since = (await alice.get(SYNC)).body["next_batch"]
    task = asyncio.create_task(alice.get(SYNC, params={"since": since, "timeout": "10000"}))
    await asyncio.sleep(0.2)
    await alice.put(f"/_matrix/client/v3/user/{alice.user_id}/account_data/org.example.y", {"b": 2})
    resp = await asyncio.wait_for(task, 5)
    assert {"type": "org.example.y", "content": {"b": 2}} in resp.body["account_data"]["events"]


async def test_lazy_loading_members(client):
    alice = await client.register("alice")
    room_id = await _room(alice, preset="public_chat")
    users = []
    for name in ("bob", "carol", "dave"):
        user = await client.register(name)
        await user.post(f"/_matrix/client/v3/join/{room_id}", {})
        users.append(user)
    for i in range(12):
        await _send(alice, room_id, f"m{i}")
    flt = json.dumps({"room": {"state": {"lazy_load_members": True}, "timeline": {"limit": 5}}})
    resp = await users[0].get(SYNC, params={"filter": flt})
    room = resp.body["rooms"]["join"][room_id]
    members = {e["state_key"] for e in room["state"]["events"] if e["type"] == "m.room.member"}
    # The timeline's sender, the user, and the summary's heroes (spec: /sync, m.heroes).
    assert members == {alice.user_id, users[0].user_id} | set(room["summary"]["m.heroes"])
    assert room["summary"]["m.joined_member_count"] == 4


async def test_use_state_after(client):
    alice = await client.register("alice")
    room_id = await _room(alice)
    since = (await alice.get(SYNC)).body["next_batch"]
    await alice.put(f"/_matrix/client/v3/rooms/{room_id}/state/m.room.topic", {"topic": "new"})
    resp = await alice.get(SYNC, params={"since": since, "use_state_after": "true"})
    room = resp.body["rooms"]["join"][room_id]
    assert "state" not in room
    assert [e["content"] for e in room["state_after"]["events"]] == [{"topic": "new"}]


async def test_bad_sync_parameters(client):
    alice = await client.register("alice")
    assert (await alice.get(SYNC, params={"since": "garbage"})).errcode == "M_INVALID_PARAM"
    assert (await alice.get(SYNC, params={"timeout": "soon"})).errcode == "M_INVALID_PARAM"
    assert (await alice.get(SYNC, params={"filter": "{bad"})).errcode == "M_NOT_JSON"
    assert (await alice.get(SYNC, params={"filter": "12345"})).errcode == "M_INVALID_PARAM"
    assert (await alice.get(SYNC, params={"set_presence": "dancing"})).errcode == "M_INVALID_PARAM"
    assert (await client.get(SYNC)).errcode == "M_MISSING_TOKEN"
