"""Filtered timelines in /sync, /messages and /context: the filter comes before the
limit, and state set by events a timeline leaves out still reaches the client."""

from __future__ import annotations

import json
import time

import homeserver.services.rooms.scan as scan

SYNC = "/_matrix/client/v3/sync"
R = "/_matrix/client/v3/rooms"
MESSAGES_ONLY = {"types": ["m.room.message"]}


async def _room(user, **body):
    resp = await user.post("/_matrix/client/v3/createRoom", body)
    assert resp.status == 200, resp.body
    return resp.body["room_id"]


async def _send(user, room_id, event_type="m.room.message", content=None):
    content = content if content is not None else {"msgtype": "m.text", "body": "hi"}
    resp = await user.put(f"{R}/{room_id}/send/{event_type}/t{time.monotonic_ns()}", content)
    assert resp.status == 200, resp.body
    return resp.body["event_id"]


async def _noise(user, room_id, count=12):
    for i in range(count):
        await _send(user, room_id, "org.example.noise", {"n": i})


def _sync_filter(**timeline):
    return json.dumps({"room": {"timeline": timeline}})


def _timeline(resp, room_id):
    return [e["event_id"] for e in resp.body["rooms"]["join"][room_id]["timeline"]["events"]]


async def test_type_filter_comes_before_the_limit(client):
    alice = await client.register("alice")
    room_id = await _room(alice)
    since = (await alice.get(SYNC)).body["next_batch"]
    message = await _send(alice, room_id)
    await _noise(alice, room_id)
    for flt in (_sync_filter(limit=1, **MESSAGES_ONLY), _sync_filter(limit=1, types=["m.room.mess*"])):
        initial = await alice.get(SYNC, params={"filter": flt})
        assert _timeline(initial, room_id) == [message]
        assert initial.body["rooms"]["join"][room_id]["timeline"]["limited"] is False
        incremental = await alice.get(SYNC, params={"filter": flt, "since": since})
        assert _timeline(incremental, room_id) == [message]
        assert incremental.body["rooms"]["join"][room_id]["timeline"]["limited"] is False


async def test_sender_and_not_types_filters_in_sync(client):
    alice = await client.register("alice")
    bob = await client.register("bob")
    room_id = await _room(alice, preset="public_chat")
    assert (await bob.post(f"{R}/{room_id}/join", {})).status == 200
    bobs = await _send(bob, room_id)
    await _noise(alice, room_id)
    await _send(alice, room_id)
    resp = await alice.get(SYNC, params={"filter": _sync_filter(limit=1, senders=[bob.user_id])})
    assert _timeline(resp, room_id) == [bobs]
    resp = await alice.get(SYNC, params={"filter": _sync_filter(limit=1, not_types=["org.example.*", "m.room.message"])})
    assert [e["type"] for e in resp.body["rooms"]["join"][room_id]["timeline"]["events"]] == ["m.room.member"]


async def test_limited_filtered_timeline_paginates_from_prev_batch(client):
    alice = await client.register("alice")
    room_id = await _room(alice)
    first = await _send(alice, room_id)
    await _noise(alice, room_id, 3)
    second = await _send(alice, room_id)
    await _noise(alice, room_id, 3)
    resp = await alice.get(SYNC, params={"filter": _sync_filter(limit=1, **MESSAGES_ONLY)})
    timeline = resp.body["rooms"]["join"][room_id]["timeline"]
    assert [e["event_id"] for e in timeline["events"]] == [second]
    assert timeline["limited"] is True
    older = await alice.get(
        f"{R}/{room_id}/messages",
        params={"from": timeline["prev_batch"], "dir": "b", "limit": "1", "filter": json.dumps(MESSAGES_ONLY)},
    )
    assert [e["event_id"] for e in older.body["chunk"]] == [first]


async def test_messages_and_context_filter_before_the_limit(client):
    alice = await client.register("alice")
    room_id = await _room(alice)
    before = await _send(alice, room_id)
    await _noise(alice, room_id)
    target = await _send(alice, room_id)
    await _noise(alice, room_id)
    after = await _send(alice, room_id)
    await _noise(alice, room_id)
    flt = json.dumps(MESSAGES_ONLY)
    page = await alice.get(f"{R}/{room_id}/messages", params={"dir": "b", "limit": "2", "filter": flt})
    assert [e["event_id"] for e in page.body["chunk"]] == [after, target]
    context = await alice.get(f"{R}/{room_id}/context/{target}", params={"limit": "2", "filter": flt})
    assert [e["event_id"] for e in context.body["events_before"]] == [before]
    assert [e["event_id"] for e in context.body["events_after"]] == [after]


async def test_messages_scan_is_bounded(client, monkeypatch):
    """A filter the database cannot apply (contains_url) is checked per event: a page
    reads a bounded number of events and hands back a token to continue from."""
    monkeypatch.setattr(scan, "MAX_SCANNED", 4)
    alice = await client.register("alice")
    room_id = await _room(alice)
    with_url = await _send(alice, room_id, content={"msgtype": "m.file", "body": "f", "url": "mxc://test.local/x"})
    await _noise(alice, room_id)
    flt = json.dumps({"contains_url": True})
    params = {"dir": "b", "limit": "1", "filter": flt}
    found, pages = [], 0
    while not found:
        page = await alice.get(f"{R}/{room_id}/messages", params=params)
        assert page.status == 200
        pages += 1
        found = [e["event_id"] for e in page.body["chunk"]]
        assert "end" in page.body or found
        params["from"] = page.body.get("end", "")
    assert found == [with_url]
    assert pages > 1


async def test_state_left_out_of_a_filtered_timeline_is_in_state(client):
    """An invitee joins while the syncer's timeline shows only messages: the join is
    in neither the timeline nor (before the fix) the state."""
    alice = await client.register("alice")
    bob = await client.register("bob")
    room_id = await _room(alice)
    flt = _sync_filter(limit=5, **MESSAGES_ONLY)
    since = (await alice.get(SYNC, params={"filter": flt})).body["next_batch"]
    assert (await alice.post(f"{R}/{room_id}/invite", {"user_id": bob.user_id})).status == 200
    await _send(alice, room_id)
    assert (await bob.post(f"{R}/{room_id}/join", {})).status == 200
    message = await _send(alice, room_id)
    resp = await alice.get(SYNC, params={"filter": flt, "since": since})
    room = resp.body["rooms"]["join"][room_id]
    assert message in _timeline(resp, room_id)
    members = {e["state_key"]: e["content"]["membership"] for e in room["state"]["events"] if e["type"] == "m.room.member"}
    assert members == {bob.user_id: "join"}
    assert room["summary"]["m.joined_member_count"] == 2


async def test_state_hidden_by_history_visibility_is_in_state(client):
    """The syncer leaves and comes back to a room whose history is for joined members:
    a join made while they were away is hidden from their timeline, but not lost."""
    alice = await client.register("alice")
    bob = await client.register("bob")
    carol = await client.register("carol")
    room_id = await _room(alice, preset="public_chat")
    assert (await alice.put(f"{R}/{room_id}/state/m.room.history_visibility", {"history_visibility": "joined"})).status == 200
    assert (await bob.post(f"{R}/{room_id}/join", {})).status == 200
    since = (await bob.get(SYNC)).body["next_batch"]
    assert (await bob.post(f"{R}/{room_id}/leave", {})).status == 200
    carols_join = (await carol.post(f"{R}/{room_id}/join", {})).status
    assert carols_join == 200
    assert (await bob.post(f"{R}/{room_id}/join", {})).status == 200
    resp = await bob.get(SYNC, params={"since": since})
    room = resp.body["rooms"]["join"][room_id]
    everything = room["timeline"]["events"] + room["state"]["events"]
    assert any(e["type"] == "m.room.member" and e["state_key"] == carol.user_id for e in everything)
    assert room["summary"]["m.joined_member_count"] == 3


async def test_account_data_filters_apply_to_push_rules_and_rooms(client):
    alice = await client.register("alice")
    room_id = await _room(alice)
    U = f"/_matrix/client/v3/user/{alice.user_id}"
    await alice.put(f"{U}/account_data/org.example.a", {"a": 1})
    await alice.put(f"{U}/rooms/{room_id}/account_data/m.tag", {"tags": {}})
    await alice.put(f"{U}/rooms/{room_id}/account_data/org.example.b", {"b": 1})
    flt = json.dumps({"account_data": {"types": ["org.example.*"]}, "room": {"account_data": {"types": ["m.tag"]}}})
    resp = await alice.get(SYNC, params={"filter": flt})
    assert [e["type"] for e in resp.body["account_data"]["events"]] == ["org.example.a"]
    assert [e["type"] for e in resp.body["rooms"]["join"][room_id]["account_data"]["events"]] == ["m.tag"]
    none = await alice.get(SYNC, params={"filter": json.dumps({"account_data": {"not_types": ["m.push_rules"]}})})
    assert "m.push_rules" not in [e["type"] for e in none.body["account_data"]["events"]]
    unfiltered = await alice.get(SYNC)
    assert "m.push_rules" in [e["type"] for e in unfiltered.body["account_data"]["events"]]


async def test_federation_event_format(client):
    alice = await client.register("alice")
    room_id = await _room(alice)
    message = await _send(alice, room_id)
    resp = await alice.get(SYNC, params={"filter": json.dumps({"event_format": "federation"})})
    room = resp.body["rooms"]["join"][room_id]
    last = room["timeline"]["events"][-1]
    assert last["event_id"] == message
    assert {"auth_events", "prev_events", "depth", "hashes", "signatures", "room_id", "origin_server_ts"} <= set(last)
    assert "age" in last["unsigned"]
    client_format = await alice.get(SYNC)
    assert "auth_events" not in client_format.body["rooms"]["join"][room_id]["timeline"]["events"][-1]
