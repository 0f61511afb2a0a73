"""Lazy-loading room members in /sync: incremental syncs bring the membership events of
senders the device has not had yet, once per device (unless include_redundant_members)."""

from __future__ import annotations

import json
import time

SYNC = "/_matrix/client/v3/sync"
R = "/_matrix/client/v3/rooms"
LAZY = json.dumps({"room": {"state": {"lazy_load_members": True}, "timeline": {"limit": 3}}})
REDUNDANT = json.dumps(
    {"room": {"state": {"lazy_load_members": True, "include_redundant_members": True}, "timeline": {"limit": 3}}}
)


async def _send(user, room_id, body="hi"):
    resp = await user.put(
        f"{R}/{room_id}/send/m.room.message/t{time.monotonic_ns()}", {"msgtype": "m.text", "body": body}
    )
    assert resp.status == 200, resp.body
    return resp.body["event_id"]


async def _crowded_room(client):
    """A public room of alice, bob and six others, so that a late joiner is no hero."""
    alice = await client.register("alice")
    resp = await alice.post("/_matrix/client/v3/createRoom", {"preset": "public_chat"})
    room_id = resp.body["room_id"]
    bob = await client.register("bob")
    others = [await client.register(f"user{i}") for i in range(6)]
    for user in [bob, *others]:
        assert (await user.post(f"{R}/{room_id}/join", {})).status == 200
    for i in range(3):  # the joins fall out of a 3-event timeline
        await _send(alice, room_id, f"welcome {i}")
    return room_id, alice, bob, others


def _members(resp, room_id):
    room = resp.body["rooms"]["join"][room_id]
    return {e["state_key"] for e in room["state"]["events"] if e["type"] == "m.room.member"}


async def test_incremental_sync_brings_new_senders_once(client):
    room_id, alice, bob, others = await _crowded_room(client)
    late = others[-1]
    initial = await bob.get(SYNC, params={"filter": LAZY})
    heroes = set(initial.body["rooms"]["join"][room_id]["summary"]["m.heroes"])
    assert late.user_id not in heroes
    since = initial.body["next_batch"]
    await _send(late, room_id, "first words")
    first = await bob.get(SYNC, params={"filter": LAZY, "since": since})
    assert _members(first, room_id) == {late.user_id}
    # A retry from the same token (the client never got the answer) brings it again.
    again = await bob.get(SYNC, params={"filter": LAZY, "since": since})
    assert _members(again, room_id) == {late.user_id}
    await _send(late, room_id, "more words")
    second = await bob.get(SYNC, params={"filter": LAZY, "since": again.body["next_batch"]})
    assert _members(second, room_id) == set()
    # include_redundant_members: every sender's membership, every time.
    redundant = await bob.get(SYNC, params={"filter": REDUNDANT, "since": again.body["next_batch"]})
    assert _members(redundant, room_id) == {late.user_id}


async def test_each_device_is_sent_the_members_it_lacks(client):
    room_id, alice, bob, others = await _crowded_room(client)
    late = others[-1]
    laptop = await client.login("bob")
    since_phone = (await bob.get(SYNC, params={"filter": LAZY})).body["next_batch"]
    since_laptop = (await laptop.get(SYNC, params={"filter": LAZY})).body["next_batch"]
    await _send(late, room_id)
    phone = await bob.get(SYNC, params={"filter": LAZY, "since": since_phone})
    assert _members(phone, room_id) == {late.user_id}
    other = await laptop.get(SYNC, params={"filter": LAZY, "since": since_laptop})
    assert _members(other, room_id) == {late.user_id}


async def test_profile_change_is_sent_again(client):
    room_id, alice, bob, others = await _crowded_room(client)
    late = others[-1]
    since = (await bob.get(SYNC, params={"filter": LAZY})).body["next_batch"]
    await _send(late, room_id)
    since = (await bob.get(SYNC, params={"filter": LAZY, "since": since})).body["next_batch"]
    resp = await late.put(f"{R}/{room_id}/state/m.room.member/{late.user_id}", {"membership": "join", "displayname": "Late"})
    assert resp.status == 200
    for i in range(4):
        await _send(alice, room_id, f"filler {i}")
    await _send(late, room_id)
    # The profile change fell in the gap of a limited timeline: sent, though not redundant.
    resp = await bob.get(SYNC, params={"filter": LAZY, "since": since})
    room = resp.body["rooms"]["join"][room_id]
    assert room["timeline"]["limited"] is True
    names = {e["state_key"]: e["content"].get("displayname") for e in room["state"]["events"] if e["type"] == "m.room.member"}
    assert names.get(late.user_id) == "Late"


async def test_gap_membership_changes_are_sent(client):
    room_id, alice, bob, others = await _crowded_room(client)
    since = (await bob.get(SYNC, params={"filter": LAZY})).body["next_batch"]
    newcomer = await client.register("newcomer")
    assert (await newcomer.post(f"{R}/{room_id}/join", {})).status == 200
    for i in range(4):
        await _send(alice, room_id, f"filler {i}")
    resp = await bob.get(SYNC, params={"filter": LAZY, "since": since})
    assert resp.body["rooms"]["join"][room_id]["timeline"]["limited"] is True
    assert newcomer.user_id in _members(resp, room_id)


async def test_own_membership_on_joining(client):
    room_id, alice, bob, others = await _crowded_room(client)
    carol = await client.register("carol")
    since = (await carol.get(SYNC, params={"filter": LAZY})).body["next_batch"]
    assert (await carol.post(f"{R}/{room_id}/join", {})).status == 200
    for i in range(4):
        await _send(alice, room_id, f"filler {i}")
    resp = await carol.get(SYNC, params={"filter": LAZY, "since": since})
    assert carol.user_id in _members(resp, room_id)
    assert alice.user_id in _members(resp, room_id)
