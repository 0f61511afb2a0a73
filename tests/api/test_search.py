"""Server-side search and the user directory."""

from __future__ import annotations

import time

R = "/_matrix/client/v3/rooms"


async def _room(user, **body):
    return (await user.post("/_matrix/client/v3/createRoom", body)).body["room_id"]


async def _send(user, room_id, text):
    resp = await user.put(f"{R}/{room_id}/send/m.room.message/t{time.monotonic_ns()}", {"msgtype": "m.text", "body": text})
    return resp.body["event_id"]


def _query(term, **extra):
    return {"search_categories": {"room_events": {"search_term": term, **extra}}}


async def test_search_messages(client):
    alice = await client.register("alice")
    room_id = await _room(alice, name="Kitchen")
    hit = await _send(alice, room_id, "The quick brown fox jumps")
    await _send(alice, room_id, "Nothing to see here")
    other = await _send(alice, room_id, "Foxes are quick")
    resp = await alice.post("/_matrix/client/v3/search", _query("quick fox", order_by="recent"))
    events = resp.body["search_categories"]["room_events"]
    assert [r["result"]["event_id"] for r in events["results"]] == [other, hit]  # prefix match on the last word
    assert events["count"] == 2
    assert events["highlights"] == ["quick", "fox"]
    names = await alice.post("/_matrix/client/v3/search", _query("kitchen"))
    assert names.body["search_categories"]["room_events"]["results"][0]["result"]["type"] == "m.room.name"


async def test_search_respects_membership_and_redaction(client):
    alice = await client.register("alice")
    bob = await client.register("bob")
    room_id = await _room(alice)
    secret = await _send(alice, room_id, "launch codes")
    resp = await bob.post("/_matrix/client/v3/search", _query("launch"))
    assert resp.body["search_categories"]["room_events"]["results"] == []
    await alice.put(f"{R}/{room_id}/redact/{secret}/r1", {})
    gone = await alice.post("/_matrix/client/v3/search", _query("launch"))
    assert gone.body["search_categories"]["room_events"]["results"] == []


async def test_search_context_pagination_and_groups(client):
    alice = await client.register("alice")
    room_id = await _room(alice)
    ids = [await _send(alice, room_id, f"apple number {i}") for i in range(4)]
    first = await alice.post(
        "/_matrix/client/v3/search",
        _query("apple", order_by="recent", filter={"limit": 2}, event_context={"before_limit": 1, "after_limit": 1, "include_profile": True},
               groupings={"group_by": [{"key": "room_id"}]}),
    )
    events = first.body["search_categories"]["room_events"]
    assert [r["result"]["event_id"] for r in events["results"]] == [ids[3], ids[2]]
    context = events["results"][1]["context"]
    assert [e["event_id"] for e in context["events_before"]] == [ids[1]]
    assert events["groups"]["room_id"][room_id]["results"] == [ids[3], ids[2]]
    rest = await alice.post(f"/_matrix/client/v3/search?next_batch={events['next_batch']}", _query("apple", order_by="recent", filter={"limit": 2}))
    assert [r["result"]["event_id"] for r in rest.body["search_categories"]["room_events"]["results"]] == [ids[1], ids[0]]


async def test_search_bad_input(client):
    alice = await client.register("alice")
    assert (await alice.post("/_matrix/client/v3/search", {})).errcode == "M_BAD_JSON"
    assert (await alice.post("/_matrix/client/v3/search", _query(5))).errcode == "M_BAD_JSON"
    assert (await alice.post("/_matrix/client/v3/search", _query("x", keys=["content.secret"]))).errcode == "M_BAD_JSON"
    assert (await alice.post("/_matrix/client/v3/search", _query("x", order_by="magic"))).errcode == "M_BAD_JSON"
    assert (await alice.post("/_matrix/client/v3/search?next_batch=zz", _query("x"))).errcode == "M_INVALID_PARAM"
    # Search operators are just words: nothing breaks the full-text query syntax.
    ok = await alice.post("/_matrix/client/v3/search", _query('"unbalanced AND (NOT * OR'))
    assert ok.status == 200


async def test_user_directory(client):
    alice = await client.register("alice")
    bob = await client.register("bob")
    carol = await client.register("carol")
    dave = await client.register("dave")
    await bob.put(f"/_matrix/client/v3/profile/{bob.user_id}/displayname", {"displayname": "Bobby Tables"})
    shared = await _room(alice)
    await alice.post(f"{R}/{shared}/invite", {"user_id": bob.user_id})
    await bob.post(f"{R}/{shared}/join", {})
    public = await _room(carol, preset="public_chat")
    assert public
    found = await alice.post("/_matrix/client/v3/user_directory/search", {"search_term": "tables"})
    assert [r["user_id"] for r in found.body["results"]] == [bob.user_id]
    assert found.body["results"][0]["display_name"] == "Bobby Tables"
    assert [r["user_id"] for r in (await alice.post("/_matrix/client/v3/user_directory/search", {"search_term": "carol"})).body["results"]] == [carol.user_id]
    # Dave shares no room and sits in no public room.
    assert (await alice.post("/_matrix/client/v3/user_directory/search", {"search_term": "dave"})).body["results"] == []
    assert dave.user_id
    assert (await alice.post("/_matrix/client/v3/user_directory/search", {})).errcode == "M_MISSING_PARAM"


async def test_search_filter_comes_before_the_limit(client):
    """A senders filter picks the matches before the page is cut: bob's one match is found
    behind alice's many."""
    alice = await client.register("alice")
    bob = await client.register("bob")
    room_id = await _room(alice, preset="public_chat")
    assert (await bob.post(f"{R}/{room_id}/join", {})).status == 200
    bobs = await _send(bob, room_id, "lunch plans")
    for i in range(5):
        await _send(alice, room_id, f"lunch plans {i}")
    query = _query("lunch", order_by="recent", filter={"senders": [bob.user_id], "limit": 2})
    resp = await alice.post("/_matrix/client/v3/search", query)
    events = resp.body["search_categories"]["room_events"]
    assert [r["result"]["event_id"] for r in events["results"]] == [bobs]
    assert events["count"] == 1
    query = _query("lunch", order_by="rank", filter={"types": ["m.room.mess*"], "not_senders": [alice.user_id]})
    resp = await alice.post("/_matrix/client/v3/search", query)
    assert [r["result"]["event_id"] for r in resp.body["search_categories"]["room_events"]["results"]] == [bobs]
