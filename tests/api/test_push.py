"""Push rules API, unread counts in /sync, notifications list and pushers."""

from __future__ import annotations

import json
import time

import pytest

SYNC = "/_matrix/client/v3/sync"
P = "/_matrix/client/v3/pushrules"


async def _setup(client):
    alice = await client.register("alice")
    bob = await client.register("bob")
    room_id = (await alice.post("/_matrix/client/v3/createRoom", {"preset": "public_chat"})).body["room_id"]
    await bob.post(f"/_matrix/client/v3/join/{room_id}", {})
    return alice, bob, room_id


async def _send(user, room_id, content):
    resp = await user.put(f"/_matrix/client/v3/rooms/{room_id}/send/m.room.message/t{time.monotonic_ns()}", content)
    assert resp.status == 200, resp.body
    return resp.body["event_id"]


def _unread(body, room_id):
    return body["rooms"]["join"][room_id]["unread_notifications"]


async def test_unread_counts_and_receipts(client):
    alice, bob, room_id = await _setup(client)
    await _send(alice, room_id, {"msgtype": "m.text", "body": "one"})
    last = await _send(alice, room_id, {"msgtype": "m.text", "body": "hey bob", "m.mentions": {"user_ids": [bob.user_id]}})
    await _send(alice, room_id, {"msgtype": "m.notice", "body": "a notice"})
    synced = await bob.get(SYNC)
    assert _unread(synced.body, room_id) == {"notification_count": 2, "highlight_count": 1}
    # Alice's own messages never notify her.
    assert _unread((await alice.get(SYNC)).body, room_id) == {"notification_count": 0, "highlight_count": 0}
    await bob.post(f"/_matrix/client/v3/rooms/{room_id}/receipt/m.read.private/{last}", {})
    after = await bob.get(SYNC, params={"since": synced.body["next_batch"]})
    assert _unread(after.body, room_id) == {"notification_count": 0, "highlight_count": 0}


async def test_thread_notification_counts(client):
    alice, bob, room_id = await _setup(client)
    root = await _send(alice, room_id, {"msgtype": "m.text", "body": "root"})
    await _send(alice, room_id, {"msgtype": "m.text", "body": "in thread", "m.relates_to": {"rel_type": "m.thread", "event_id": root}})
    flt = json.dumps({"room": {"timeline": {"unread_thread_notifications": True}}})
    body = (await bob.get(SYNC, params={"filter": flt})).body["rooms"]["join"][room_id]
    assert body["unread_notifications"]["notification_count"] == 1
    assert body["unread_thread_notifications"] == {root: {"notification_count": 1, "highlight_count": 0}}


async def test_unread_counts_follow_each_sync(client):
    """Counts kept between syncs grow with new notifications and start over when a receipt moves."""
    alice, bob, room_id = await _setup(client)
    flt = json.dumps({"room": {"timeline": {"unread_thread_notifications": True}}})

    async def counts(since):
        body = (await bob.get(SYNC, params={"filter": flt} | ({"since": since} if since else {}))).body
        room = body.get("rooms", {}).get("join", {}).get(room_id, {})
        return body["next_batch"], room.get("unread_notifications"), room.get("unread_thread_notifications")

    root = await _send(alice, room_id, {"msgtype": "m.text", "body": "root"})
    since, main, threads = await counts(None)
    assert main == {"notification_count": 1, "highlight_count": 0} and threads == {}
    await _send(alice, room_id, {"msgtype": "m.text", "body": "two"})
    reply = await _send(alice, room_id, {"msgtype": "m.text", "body": "re", "m.relates_to": {"rel_type": "m.thread", "event_id": root}})
    since, main, threads = await counts(since)
    assert main == {"notification_count": 2, "highlight_count": 0}
    assert threads == {root: {"notification_count": 1, "highlight_count": 0}}
    await _send(alice, room_id, {"msgtype": "m.text", "body": f"{bob.user_id}!", "m.mentions": {"user_ids": [bob.user_id]}})
    since, main, threads = await counts(since)
    assert main == {"notification_count": 3, "highlight_count": 1}
    # A threaded receipt reads the thread only; an unthreaded one on the root reads what came before it.
    await bob.post(f"/_matrix/client/v3/rooms/{room_id}/receipt/m.read/{reply}", {"thread_id": root})
    since, main, threads = await counts(since)
    assert main == {"notification_count": 3, "highlight_count": 1} and threads == {}
    await bob.post(f"/_matrix/client/v3/rooms/{room_id}/receipt/m.read/{root}", {"thread_id": "main"})
    since, main, threads = await counts(since)
    assert main == {"notification_count": 2, "highlight_count": 1}
    await _send(alice, room_id, {"msgtype": "m.text", "body": "more"})
    since, main, threads = await counts(since)
    assert main == {"notification_count": 3, "highlight_count": 1} and threads == {}


async def test_push_rules_crud(client):
    alice, bob, room_id = await _setup(client)
    rules = (await bob.get(f"{P}/")).body["global"]
    assert rules["override"][0]["rule_id"] == ".m.rule.master"
    assert any(r["rule_id"] == ".m.rule.message" for r in rules["underride"])
    assert (await bob.put(f"{P}/global/room/{room_id}", {"actions": []})).status == 200
    assert (await bob.get(f"{P}/global/room/{room_id}")).body["actions"] == []
    await _send(alice, room_id, {"msgtype": "m.text", "body": "muted"})
    assert _unread((await bob.get(SYNC)).body, room_id)["notification_count"] == 0
    assert (await bob.put(f"{P}/global/room/{room_id}/enabled", {"enabled": False})).status == 200
    assert (await bob.get(f"{P}/global/room/{room_id}/enabled")).body == {"enabled": False}
    await _send(alice, room_id, {"msgtype": "m.text", "body": "audible"})
    assert _unread((await bob.get(SYNC)).body, room_id)["notification_count"] == 1
    assert (await bob.delete(f"{P}/global/room/{room_id}")).status == 200
    assert (await bob.get(f"{P}/global/room/{room_id}")).errcode == "M_NOT_FOUND"


async def test_push_rule_ordering_and_defaults(client):
    alice = await client.register("alice")
    for rule_id in ("a", "b"):
        await alice.put(f"{P}/global/override/{rule_id}", {"actions": ["notify"], "conditions": [{"kind": "event_match", "key": "type", "pattern": rule_id}]})
    await alice.put(f"{P}/global/override/c", {"actions": ["notify"], "conditions": []}, params={"after": "b"})
    overrides = [r["rule_id"] for r in (await alice.get(f"{P}/global/")).body["override"]]
    assert overrides[:4] == [".m.rule.master", "b", "c", "a"]
    assert (await alice.put(f"{P}/global/override/.m.rule.master/enabled", {"enabled": True})).status == 200
    master = (await alice.get(f"{P}/global/override/.m.rule.master")).body
    assert master["enabled"] is True and master["default"] is True
    synced = await alice.get(SYNC)
    push_data = [e for e in synced.body["account_data"]["events"] if e["type"] == "m.push_rules"]
    assert push_data and push_data[0]["content"]["global"]["override"][0]["enabled"] is True


async def test_push_rule_errors(client):
    alice = await client.register("alice")
    assert (await alice.put(f"{P}/global/override/.mine", {"actions": []})).errcode == "M_INVALID_PARAM"
    assert (await alice.put(f"{P}/global/weird/x", {"actions": []})).errcode == "M_INVALID_PARAM"
    assert (await alice.put(f"{P}/global/override/x", {"conditions": []})).errcode == "M_BAD_JSON"
    assert (await alice.put(f"{P}/global/content/x", {"actions": []})).errcode == "M_MISSING_PARAM"
    assert (await alice.put(f"{P}/global/override/x", {"actions": ["explode"]})).errcode == "M_INVALID_PARAM"
    resp = await alice.put(f"{P}/global/override/x", {"actions": []}, params={"before": "nope"})
    assert (resp.status, resp.errcode) == (400, "M_UNKNOWN")
    assert (await alice.get(f"{P}/global/override/nope")).errcode == "M_NOT_FOUND"
    assert (await alice.delete(f"{P}/global/override/.m.rule.master")).errcode == "M_NOT_FOUND"
    assert (await alice.put(f"{P}/global/override/.m.rule.master/enabled", {"enabled": "yes"})).errcode == "M_BAD_JSON"
    assert (await client.get(f"{P}/")).errcode == "M_MISSING_TOKEN"


async def test_notifications_list(client):
    alice, bob, room_id = await _setup(client)
    first = await _send(alice, room_id, {"msgtype": "m.text", "body": "one"})
    second = await _send(alice, room_id, {"msgtype": "m.text", "body": "two", "m.mentions": {"user_ids": [bob.user_id]}})
    listed = await bob.get("/_matrix/client/v3/notifications")
    assert [n["event"]["event_id"] for n in listed.body["notifications"]] == [second, first]
    assert listed.body["notifications"][0]["read"] is False
    highlights = await bob.get("/_matrix/client/v3/notifications", params={"only": "highlight"})
    assert [n["event"]["event_id"] for n in highlights.body["notifications"]] == [second]
    page = await bob.get("/_matrix/client/v3/notifications", params={"limit": "1"})
    rest = await bob.get("/_matrix/client/v3/notifications", params={"from": page.body["next_token"]})
    assert [n["event"]["event_id"] for n in rest.body["notifications"]] == [first]


async def test_counts_in_a_bigger_room_follow_each_members_rules_and_membership(client):
    """Members who kept the predefined rules share one stored decision; a muted member, a
    mentioned one and members who come and go are each counted for what they saw."""
    alice, bob, room_id = await _setup(client)
    carol, dave = await client.register("carol"), await client.register("dave")
    for user in (carol, dave):
        assert (await user.post(f"/_matrix/client/v3/join/{room_id}", {})).status == 200
    # Dave mutes the room.
    assert (await dave.put(f"{P}/global/room/{room_id}", {"actions": []})).status == 200
    await _send(alice, room_id, {"msgtype": "m.text", "body": "to everyone"})
    await _send(alice, room_id, {"msgtype": "m.text", "body": "carol!", "m.mentions": {"user_ids": [carol.user_id]}})
    assert (await bob.post(f"/_matrix/client/v3/rooms/{room_id}/leave", {})).status == 200
    await _send(alice, room_id, {"msgtype": "m.text", "body": "bob is away"})
    assert (await bob.post(f"/_matrix/client/v3/join/{room_id}", {})).status == 200
    await _send(carol, room_id, {"msgtype": "m.text", "body": "welcome back"})
    eve = await client.register("eve")
    assert (await eve.post(f"/_matrix/client/v3/join/{room_id}", {})).status == 200
    last = await _send(alice, room_id, {"msgtype": "m.text", "body": "hi eve"})

    async def unread(user):
        return _unread((await user.get(SYNC)).body, room_id)

    assert await unread(alice) == {"notification_count": 1, "highlight_count": 0}  # carol's message only
    assert await unread(bob) == {"notification_count": 4, "highlight_count": 0}    # not while away
    assert await unread(carol) == {"notification_count": 4, "highlight_count": 1}  # not her own
    assert await unread(dave) == {"notification_count": 0, "highlight_count": 0}
    assert await unread(eve) == {"notification_count": 1, "highlight_count": 0}    # joined at the end
    listed = (await bob.get("/_matrix/client/v3/notifications")).body["notifications"]
    assert [n["event"]["content"]["body"] for n in listed] == ["hi eve", "welcome back", "carol!", "to everyone"]
    assert (await dave.get("/_matrix/client/v3/notifications")).body["notifications"] == []
    await carol.post(f"/_matrix/client/v3/rooms/{room_id}/receipt/m.read/{last}", {})
    assert await unread(carol) == {"notification_count": 0, "highlight_count": 0}


async def test_pushers(client):
    alice = await client.register("alice")
    pusher = {
        "pushkey": "abc", "kind": "http", "app_id": "org.example.app", "app_display_name": "App",
        "device_display_name": "Phone", "lang": "en", "data": {"url": "https://push.example.org/_matrix/push/v1/notify"},
    }
    assert (await alice.post("/_matrix/client/v3/pushers/set", pusher)).status == 200
    listed = (await alice.get("/_matrix/client/v3/pushers")).body["pushers"]
    assert listed[0]["pushkey"] == "abc" and listed[0]["data"]["url"].endswith("/notify")
    assert (await alice.post("/_matrix/client/v3/pushers/set", {**pusher, "kind": None})).status == 200
    assert (await alice.get("/_matrix/client/v3/pushers")).body["pushers"] == []
    bad = await alice.post("/_matrix/client/v3/pushers/set", {**pusher, "data": {}})
    assert bad.errcode == "M_MISSING_PARAM"


@pytest.mark.parametrize(
    "url",
    [
        "https://push.example.org/",
        "https://push.example.org/_matrix/push/v1/notify/extra",
        "https://push.example.org/_matrix/push/v1/notif",
        "ftp://push.example.org/_matrix/push/v1/notify",
        "file:///_matrix/push/v1/notify",
        "https:///_matrix/push/v1/notify",
        "https://user:secret@push.example.org/_matrix/push/v1/notify",
        "https://push.example.org:port/_matrix/push/v1/notify",
        "/_matrix/push/v1/notify",
        "not a url",
    ],
)
async def test_http_pushers_need_a_push_gateway_url(client, url):
    alice = await client.register("alice")
    pusher = {
        "pushkey": "abc", "kind": "http", "app_id": "org.example.app", "app_display_name": "App",
        "device_display_name": "Phone", "lang": "en", "data": {"url": url},
    }
    bad = await alice.post("/_matrix/client/v3/pushers/set", pusher)
    assert (bad.status, bad.errcode) == (400, "M_INVALID_PARAM"), bad.body
    assert (await alice.get("/_matrix/client/v3/pushers")).body["pushers"] == []


async def test_pusher_field_limits_and_accepted_urls(client):
    alice = await client.register("alice")
    pusher = {
        "pushkey": "abc", "kind": "http", "app_id": "org.example.app", "app_display_name": "App",
        "device_display_name": "Phone", "lang": "en", "data": {"url": "http://gateway.local:5000/_matrix/push/v1/notify"},
    }
    assert (await alice.post("/_matrix/client/v3/pushers/set", pusher)).status == 200
    for too_long in ({"pushkey": "k" * 513}, {"app_id": "a" * 65}):
        bad = await alice.post("/_matrix/client/v3/pushers/set", {**pusher, **too_long})
        assert (bad.status, bad.errcode) == (400, "M_INVALID_PARAM")
