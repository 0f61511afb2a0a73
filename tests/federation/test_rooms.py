"""Rooms across servers: a user of another server joins, and messages flow both ways."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

import pytest

pytestmark = pytest.mark.federation

V3 = "/_matrix/client/v3"


async def _wait_for_event(user, room_id: str, predicate, timeout: float = 15.0) -> dict:
    deadline = asyncio.get_running_loop().time() + timeout
    since = None
    while True:
        params = {"timeout": "1000"} | ({"since": since} if since else {})
        body = (await user.get(f"{V3}/sync", params=params)).body
        since = body["next_batch"]
        room = body.get("rooms", {}).get("join", {}).get(room_id, {})
        for event in room.get("timeline", {}).get("events", []) + room.get("state", {}).get("events", []):
            if predicate(event):
                return event
        assert asyncio.get_running_loop().time() < deadline, "the event did not arrive"


async def test_a_remote_user_joins_and_messages_flow_both_ways(federation):
    hs1, hs2 = await federation("hs1.test", "hs2.test")
    alice = await hs1.client.register("alice")
    room_id = (await alice.post(f"{V3}/createRoom", {"preset": "public_chat", "name": "Across"})).body["room_id"]
    bob = await hs2.client.register("bob")
    joined = await bob.post(f"{V3}/join/{quote(room_id)}", {}, params={"via": "hs1.test"})
    assert joined.status == 200, joined.body
    # Bob's server now holds the room, with its name and both members.
    members = await bob.get(f"{V3}/rooms/{quote(room_id)}/joined_members")
    assert set(members.body["joined"]) == {alice.user_id, bob.user_id}
    name = await bob.get(f"{V3}/rooms/{quote(room_id)}/state/m.room.name")
    assert name.body == {"name": "Across"}
    # Alice's server saw the join.
    await _wait_for_event(alice, room_id, lambda e: e["type"] == "m.room.member" and e["state_key"] == bob.user_id)
    # Messages go both ways.
    await alice.put(f"{V3}/rooms/{quote(room_id)}/send/m.room.message/a1", {"msgtype": "m.text", "body": "hi bob"})
    got = await _wait_for_event(bob, room_id, lambda e: e.get("content", {}).get("body") == "hi bob")
    assert got["sender"] == alice.user_id
    await bob.put(f"{V3}/rooms/{quote(room_id)}/send/m.room.message/b1", {"msgtype": "m.text", "body": "hi alice"})
    got = await _wait_for_event(alice, room_id, lambda e: e.get("content", {}).get("body") == "hi alice")
    assert got["sender"] == bob.user_id
