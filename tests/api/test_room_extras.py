"""Spaces, room summaries, mutual rooms, tags, ignored users, reports, upgrades
and timestamp lookups."""

from __future__ import annotations

import asyncio
import time

R = "/_matrix/client/v3/rooms"
V1 = "/_matrix/client/v1"


async def _room(user, **body):
    resp = await user.post("/_matrix/client/v3/createRoom", body)
    assert resp.status == 200, resp.body
    return resp.body["room_id"]


async def _send(user, room_id, text="hi"):
    return (await user.put(f"{R}/{room_id}/send/m.room.message/t{time.monotonic_ns()}", {"msgtype": "m.text", "body": text})).body["event_id"]


async def test_space_hierarchy(client):
    alice = await client.register("alice")
    bob = await client.register("bob")
    space = await _room(alice, preset="public_chat", name="Space", creation_content={"type": "m.space"})
    public = await _room(alice, preset="public_chat", name="Public child")
    private = await _room(alice, name="Private child")
    for child, suggested in ((public, True), (private, False)):
        await alice.put(f"{R}/{space}/state/m.space.child/{child}", {"via": ["test.local"], "suggested": suggested})
    tree = await alice.get(f"{V1}/rooms/{space}/hierarchy")
    ids = [r["room_id"] for r in tree.body["rooms"]]
    assert ids[0] == space and set(ids[1:]) == {public, private}
    assert tree.body["rooms"][0]["room_type"] == "m.space"
    assert len(tree.body["rooms"][0]["children_state"]) == 2
    # Bob cannot preview the private child.
    seen_by_bob = [r["room_id"] for r in (await bob.get(f"{V1}/rooms/{space}/hierarchy")).body["rooms"]]
    assert private not in seen_by_bob and public in seen_by_bob
    suggested = await alice.get(f"{V1}/rooms/{space}/hierarchy", params={"suggested_only": "true"})
    assert [r["room_id"] for r in suggested.body["rooms"]] == [space, public]
    shallow = await alice.get(f"{V1}/rooms/{space}/hierarchy", params={"max_depth": "0"})
    assert [r["room_id"] for r in shallow.body["rooms"]] == [space]
    paged = await alice.get(f"{V1}/rooms/{space}/hierarchy", params={"limit": "1"})
    rest = await alice.get(f"{V1}/rooms/{space}/hierarchy", params={"limit": "5", "from": paged.body["next_batch"]})
    assert len(rest.body["rooms"]) == 2
    assert (await bob.get(f"{V1}/rooms/{private}/hierarchy")).status == 403


async def test_room_summary(client):
    alice = await client.register("alice")
    bob = await client.register("bob")
    public = await _room(alice, preset="public_chat", name="Open", room_alias_name="open")
    private = await _room(alice, name="Closed")
    summary = await client.get(f"{V1}/room_summary/%23open:test.local")
    assert summary.body["room_id"] == public and summary.body["name"] == "Open"
    assert "membership" not in summary.body
    mine = await alice.get(f"{V1}/room_summary/{public}")
    assert mine.body["membership"] == "join"
    assert (await bob.get(f"{V1}/room_summary/{private}")).status == 404
    assert (await client.get(f"{V1}/room_summary/!nope:test.local")).status == 404


async def test_mutual_rooms(client):
    alice = await client.register("alice")
    bob = await client.register("bob")
    shared = await _room(alice, preset="public_chat")
    await _room(alice)
    await bob.post(f"{R}/{shared}/join", {})
    resp = await alice.get(f"{V1}/mutual_rooms", params={"user_id": bob.user_id})
    assert resp.body == {"joined": [shared]}
    assert (await alice.get(f"{V1}/mutual_rooms")).errcode == "M_MISSING_PARAM"


async def test_tags(client):
    alice = await client.register("alice")
    room_id = await _room(alice)
    base = f"/_matrix/client/v3/user/{alice.user_id}/rooms/{room_id}/tags"
    assert (await alice.put(f"{base}/m.favourite", {"order": 0.5})).status == 200
    assert (await alice.put(f"{base}/u.work", {})).status == 200
    assert (await alice.get(base)).body == {"tags": {"m.favourite": {"order": 0.5}, "u.work": {}}}
    assert (await alice.delete(f"{base}/u.work")).status == 200
    assert (await alice.get(base)).body == {"tags": {"m.favourite": {"order": 0.5}}}
    synced = await alice.get("/_matrix/client/v3/sync")
    room_data = synced.body["rooms"]["join"][room_id]["account_data"]["events"]
    assert {"type": "m.tag", "content": {"tags": {"m.favourite": {"order": 0.5}}}} in room_data
    assert (await alice.put(f"{base}/x", {"order": "first"})).errcode == "M_BAD_JSON"
    bob = await client.register("bob")
    assert (await bob.get(base)).status == 403


async def test_ignored_users(client):
    alice = await client.register("alice")
    bob = await client.register("bob")
    room_id = await _room(alice, preset="public_chat")
    await bob.post(f"{R}/{room_id}/join", {})
    await alice.put(f"/_matrix/client/v3/user/{alice.user_id}/account_data/m.ignored_user_list", {"ignored_users": {bob.user_id: {}}})
    spam = await _send(bob, room_id, "spam")
    messages = await alice.get(f"{R}/{room_id}/messages", params={"dir": "b", "limit": "20"})
    ids = [e["event_id"] for e in messages.body["chunk"]]
    assert spam not in ids
    assert any(e["type"] == "m.room.member" and e["state_key"] == bob.user_id for e in messages.body["chunk"])
    other = await _room(bob)
    await bob.post(f"{R}/{other}/invite", {"user_id": alice.user_id})
    synced = await alice.get("/_matrix/client/v3/sync")
    assert other not in synced.body.get("rooms", {}).get("invite", {})


async def test_reports(client):
    alice = await client.register("alice")
    bob = await client.register("bob")
    room_id = await _room(alice, preset="public_chat")
    await bob.post(f"{R}/{room_id}/join", {})
    event_id = await _send(alice, room_id, "rude")
    assert (await bob.post(f"{R}/{room_id}/report/{event_id}", {"reason": "rude", "score": -50})).status == 200
    assert (await bob.post(f"{R}/{room_id}/report", {"reason": "bad room"})).status == 200
    assert (await bob.post(f"/_matrix/client/v3/users/{alice.user_id}/report", {"reason": "bad user"})).status == 200
    assert (await bob.post(f"{R}/{room_id}/report/$nope", {"reason": "x"})).status == 404
    assert (await bob.post(f"{R}/{room_id}/report/{event_id}", {"score": 10})).errcode == "M_INVALID_PARAM"
    carol = await client.register("carol")
    private = await _room(alice)
    secret = await _send(alice, private, "s")
    assert (await carol.post(f"{R}/{private}/report/{secret}", {})).status == 404
    assert (await bob.get("/_synapse/admin/v1/event_reports")).status == 403


async def test_room_upgrade(client):
    alice = await client.register("alice")
    bob = await client.register("bob")
    old = await _room(alice, room_version="10", preset="public_chat", name="Old name", room_alias_name="upgrade-me")
    await bob.post(f"{R}/{old}/join", {})
    assert (await bob.post(f"{R}/{old}/upgrade", {"new_version": "12"})).status == 403
    resp = await alice.post(f"{R}/{old}/upgrade", {"new_version": "12"})
    assert resp.status == 200, resp.body
    new = resp.body["replacement_room"]
    tombstone = await alice.get(f"{R}/{old}/state/m.room.tombstone")
    assert tombstone.body["replacement_room"] == new
    create = (await alice.get(f"{R}/{new}/state/m.room.create")).body
    assert create["room_version"] == "12" and create["predecessor"]["room_id"] == old
    assert (await alice.get(f"{R}/{new}/state/m.room.name")).body == {"name": "Old name"}
    assert (await client.get("/_matrix/client/v3/directory/room/%23upgrade-me:test.local")).body["room_id"] == new
    assert (await bob.put(f"{R}/{old}/send/m.room.message/late", {"body": "hello?"})).status == 403
    assert (await alice.post(f"{R}/{old}/upgrade", {"new_version": "99"})).errcode == "M_UNSUPPORTED_ROOM_VERSION"


async def test_timestamp_to_event(client):
    alice = await client.register("alice")
    room_id = await _room(alice)
    before = int(time.time() * 1000) + 1  # after every event of the room's creation
    await asyncio.sleep(0.005)
    first = await _send(alice, room_id, "first")
    forward = await alice.get(f"{V1}/rooms/{room_id}/timestamp_to_event", params={"ts": str(before), "dir": "f"})
    assert forward.body["event_id"] == first
    backward = await alice.get(f"{V1}/rooms/{room_id}/timestamp_to_event", params={"ts": str(before + 10**7), "dir": "b"})
    assert backward.body["event_id"] == first
    none = await alice.get(f"{V1}/rooms/{room_id}/timestamp_to_event", params={"ts": str(before + 10**7), "dir": "f"})
    assert none.status == 404
    assert (await alice.get(f"{V1}/rooms/{room_id}/timestamp_to_event", params={"dir": "f"})).errcode == "M_MISSING_PARAM"
    assert (await alice.get(f"{V1}/rooms/{room_id}/timestamp_to_event", params={"ts": "1", "dir": "up"})).errcode == "M_INVALID_PARAM"
