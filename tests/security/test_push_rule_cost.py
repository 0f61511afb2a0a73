"""Issue 12, point 1: one user's push rules cannot stall the server or break other
users' sends (both databases, a real server)."""

from __future__ import annotations

import time

P = "/_matrix/client/v3/pushrules/global"
SYNC = "/_matrix/client/v3/sync"


async def _room_of_two(client):
    alice = await client.register("alice")
    bob = await client.register("bob")
    room_id = (await alice.post("/_matrix/client/v3/createRoom", {"preset": "public_chat"})).body["room_id"]
    assert (await bob.post(f"/_matrix/client/v3/join/{room_id}", {})).status == 200
    return alice, bob, room_id


async def _send(user, room_id, body):
    resp = await user.put(
        f"/_matrix/client/v3/rooms/{room_id}/send/m.room.message/t{time.monotonic_ns()}",
        {"msgtype": "m.text", "body": body},
    )
    assert resp.status == 200, resp.body
    return resp.body["event_id"]


async def _unread(user, room_id):
    return (await user.get(SYNC)).body["rooms"]["join"][room_id]["unread_notifications"]


async def test_a_backtracking_pattern_on_a_long_body_is_matched_in_one_pass(client):
    """``*a*a*...*b`` against thousands of ``a``: a backtracking regex never finishes
    (the send, and every other request, would wait); the linear matcher answers, and
    correctly."""
    alice, bob, room_id = await _room_of_two(client)
    rule = {"pattern": "*a" * 12 + "*b", "actions": ["notify", {"set_tweak": "highlight"}]}
    assert (await bob.put(f"{P}/content/stall", rule)).status == 200
    await _send(alice, room_id, "a" * 15_000)          # no b: the keyword does not match
    await _send(alice, room_id, "a" * 15_000 + "b")    # it matches, up to the end of the body
    assert await _unread(bob, room_id) == {"notification_count": 2, "highlight_count": 1}
    assert (await client.get("/_matrix/client/versions")).status == 200


async def test_over_long_patterns_and_keys_are_refused(client):
    bob = await client.register("bob")
    long = "x" * 256
    resp = await bob.put(f"{P}/content/long", {"pattern": long, "actions": ["notify"]})
    assert (resp.status, resp.errcode) == (400, "M_INVALID_PARAM")
    for condition in ({"kind": "event_match", "key": "content.body", "pattern": long},
                      {"kind": "event_property_is", "key": long, "value": True}):
        resp = await bob.put(f"{P}/override/long", {"conditions": [condition], "actions": ["notify"]})
        assert (resp.status, resp.errcode) == (400, "M_INVALID_PARAM")
    # The limit itself is fine.
    assert (await bob.put(f"{P}/content/ok", {"pattern": "x" * 255, "actions": ["notify"]})).status == 200
    assert (await bob.get(f"{P}/content/long")).errcode == "M_NOT_FOUND"


async def test_malformed_conditions_break_nobody_elses_sends(client):
    """Conditions the server cannot use never match; they do not fail the sender's request."""
    alice, bob, room_id = await _room_of_two(client)
    for rule_id, condition in [
        ("key_not_a_string", {"kind": "event_property_is", "key": 5, "value": True}),
        ("key_a_list", {"kind": "event_property_contains", "key": ["content"], "value": "x"}),
        ("match_key_a_list", {"kind": "event_match", "key": ["content", "body"], "pattern": "x"}),
        ("huge_count", {"kind": "room_member_count", "is": "9" * 5000}),
    ]:
        resp = await bob.put(f"{P}/override/{rule_id}", {"conditions": [condition], "actions": ["notify"]})
        assert resp.status == 200, resp.body
    await _send(alice, room_id, "still delivered")
    assert await _unread(bob, room_id) == {"notification_count": 1, "highlight_count": 0}
