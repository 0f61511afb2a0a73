"""Room membership, state, redaction, and reading history, with bad input."""

from __future__ import annotations

import time

import pytest

R = "/_matrix/client/v3/rooms"


async def _room(user, **body):
    resp = await user.post("/_matrix/client/v3/createRoom", body)
    assert resp.status == 200, resp.body
    return resp.body["room_id"]


async def _send(user, room_id, body="hi"):
    resp = await user.put(f"{R}/{room_id}/send/m.room.message/t{time.monotonic_ns()}", {"msgtype": "m.text", "body": body})
    assert resp.status == 200, resp.body
    return resp.body["event_id"]


async def _membership(user, room_id, target):
    resp = await user.get(f"{R}/{room_id}/state/m.room.member/{target}")
    return resp.body.get("membership") if resp.status == 200 else None


@pytest.mark.parametrize("version", ["1", "6", "10", "11", "12"])
async def test_create_room_in_each_version(client, version):
    alice = await client.register("alice")
    room_id = await _room(alice, room_version=version, name="v")
    create = await alice.get(f"{R}/{room_id}/state/m.room.create")
    assert create.body["room_version"] == version
    if version == "12":
        assert ":" not in room_id
    await _send(alice, room_id)


async def test_create_room_presets_and_power_levels(client):
    alice = await client.register("alice")
    room_id = await _room(alice, preset="public_chat")
    assert (await alice.get(f"{R}/{room_id}/state/m.room.join_rules")).body == {"join_rule": "public"}
    assert (await alice.get(f"{R}/{room_id}/state/m.room.guest_access")).body == {"guest_access": "forbidden"}
    assert (await alice.get(f"{R}/{room_id}/state/m.room.history_visibility")).body == {"history_visibility": "shared"}
    pl = (await alice.get(f"{R}/{room_id}/state/m.room.power_levels")).body
    assert pl["events"]["m.room.tombstone"] == 150  # v12: above state_default
    assert alice.user_id not in pl["users"]  # v12 creators are implicit
    private = await _room(alice)
    assert (await alice.get(f"{R}/{private}/state/m.room.join_rules")).body == {"join_rule": "invite"}


async def test_power_level_override_and_initial_state(client):
    alice = await client.register("alice")
    room_id = await _room(
        alice,
        room_version="10",
        power_level_content_override={"events_default": 50},
        initial_state=[{"type": "m.room.encryption", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}],
    )
    pl = (await alice.get(f"{R}/{room_id}/state/m.room.power_levels")).body
    assert pl["events_default"] == 50 and pl["users"][alice.user_id] == 100
    enc = await alice.get(f"{R}/{room_id}/state/m.room.encryption")
    assert enc.body == {"algorithm": "m.megolm.v1.aes-sha2"}


async def test_trusted_private_chat_invitees(client):
    alice = await client.register("alice")
    bob = await client.register("bob")
    room_id = await _room(alice, preset="trusted_private_chat", invite=[bob.user_id], is_direct=True)
    create = (await alice.get(f"{R}/{room_id}/state/m.room.create")).body
    assert create["additional_creators"] == [bob.user_id]
    member = (await alice.get(f"{R}/{room_id}/state/m.room.member/{bob.user_id}")).body
    assert member["membership"] == "invite" and member["is_direct"] is True


@pytest.mark.parametrize(
    ("body", "status", "errcode"),
    [
        ({"room_version": "99"}, 400, "M_UNSUPPORTED_ROOM_VERSION"),
        ({"preset": "party"}, 400, "M_INVALID_PARAM"),
        ({"visibility": "secret"}, 400, "M_INVALID_PARAM"),
        ({"invite": ["not a user"]}, 400, "M_INVALID_PARAM"),
        ({"invite": "@bob:test.local"}, 400, "M_BAD_JSON"),
        ({"initial_state": [{"content": {}}]}, 400, "M_INVALID_ROOM_STATE"),
        ({"initial_state": [{"type": "m.room.create", "content": {}}]}, 400, "M_INVALID_ROOM_STATE"),
        ({"room_alias_name": "bad alias"}, 400, "M_INVALID_PARAM"),
        ({"name": 5}, 400, "M_BAD_JSON"),
    ],
)
async def test_create_room_bad_input(client, body, status, errcode):
    alice = await client.register("alice")
    resp = await alice.post("/_matrix/client/v3/createRoom", body)
    assert (resp.status, resp.errcode) == (status, errcode)
    assert (await alice.get("/_matrix/client/v3/joined_rooms")).body == {"joined_rooms": []}


async def test_alias_in_use(client):
    alice = await client.register("alice")
    await _room(alice, room_alias_name="lobby")
    resp = await alice.post("/_matrix/client/v3/createRoom", {"room_alias_name": "lobby"})
    assert resp.errcode == "M_ROOM_IN_USE"
    assert len((await alice.get("/_matrix/client/v3/joined_rooms")).body["joined_rooms"]) == 1


async def test_join_by_alias_and_joined_rooms(client):
    alice = await client.register("alice")
    bob = await client.register("bob")
    room_id = await _room(alice, preset="public_chat", room_alias_name="square")
    resp = await bob.post("/_matrix/client/v3/join/%23square:test.local", {})
    assert resp.body == {"room_id": room_id}
    assert (await bob.get("/_matrix/client/v3/joined_rooms")).body == {"joined_rooms": [room_id]}
    joined = await bob.get(f"{R}/{room_id}/joined_members")
    assert set(joined.body["joined"]) == {alice.user_id, bob.user_id}
    assert joined.body["joined"][bob.user_id]["display_name"] == "bob"


async def test_private_room_needs_invite(client):
    alice = await client.register("alice")
    bob = await client.register("bob")
    room_id = await _room(alice)
    denied = await bob.post(f"{R}/{room_id}/join", {})
    assert denied.status == 403 and denied.errcode == "M_FORBIDDEN"
    await alice.post(f"{R}/{room_id}/invite", {"user_id": bob.user_id})
    assert (await bob.post(f"{R}/{room_id}/join", {})).status == 200


async def test_reject_invite(client):
    alice = await client.register("alice")
    bob = await client.register("bob")
    room_id = await _room(alice)
    await alice.post(f"{R}/{room_id}/invite", {"user_id": bob.user_id})
    assert (await bob.post(f"{R}/{room_id}/leave", {})).status == 200
    assert await _membership(alice, room_id, bob.user_id) == "leave"


async def test_kick_ban_unban(client):
    alice = await client.register("alice")
    bob = await client.register("bob")
    room_id = await _room(alice, preset="public_chat")
    await bob.post(f"{R}/{room_id}/join", {})
    # Bob (level 0) cannot kick Alice.
    assert (await bob.post(f"{R}/{room_id}/kick", {"user_id": alice.user_id})).status == 403
    assert (await alice.post(f"{R}/{room_id}/kick", {"user_id": bob.user_id, "reason": "spam"})).status == 200
    kicked = (await alice.get(f"{R}/{room_id}/state/m.room.member/{bob.user_id}")).body
    assert kicked == {"membership": "leave", "reason": "spam"}
    assert (await bob.post(f"{R}/{room_id}/join", {})).status == 200
    assert (await alice.post(f"{R}/{room_id}/ban", {"user_id": bob.user_id})).status == 200
    assert (await bob.post(f"{R}/{room_id}/join", {})).status == 403
    assert (await alice.post(f"{R}/{room_id}/unban", {"user_id": bob.user_id})).status == 200
    assert (await alice.post(f"{R}/{room_id}/unban", {"user_id": bob.user_id})).errcode == "M_BAD_STATE"
    assert (await bob.post(f"{R}/{room_id}/join", {})).status == 200


async def test_forget(client):
    alice = await client.register("alice")
    room_id = await _room(alice)
    still_in = await alice.post(f"{R}/{room_id}/forget", {})
    assert (still_in.status, still_in.errcode) == (400, "M_UNKNOWN")
    await alice.post(f"{R}/{room_id}/leave", {})
    assert (await alice.post(f"{R}/{room_id}/forget", {})).status == 200
    import json as _json

    synced = await alice.get("/_matrix/client/v3/sync", params={"filter": _json.dumps({"room": {"include_leave": True}})})
    assert room_id not in synced.body.get("rooms", {}).get("leave", {})


async def test_knock(client):
    alice = await client.register("alice")
    bob = await client.register("bob")
    room_id = await _room(alice, initial_state=[{"type": "m.room.join_rules", "content": {"join_rule": "knock"}}])
    resp = await bob.post(f"/_matrix/client/v3/knock/{room_id}", {"reason": "let me in"})
    assert resp.status == 200
    assert await _membership(alice, room_id, bob.user_id) == "knock"
    await alice.post(f"{R}/{room_id}/invite", {"user_id": bob.user_id})
    assert (await bob.post(f"{R}/{room_id}/join", {})).status == 200


async def test_restricted_join(client):
    alice = await client.register("alice")
    bob = await client.register("bob")
    space = await _room(alice, preset="public_chat")
    room_id = await _room(alice, initial_state=[{
        "type": "m.room.join_rules",
        "content": {"join_rule": "restricted", "allow": [{"type": "m.room_membership", "room_id": space}]},
    }])
    assert (await bob.post(f"{R}/{room_id}/join", {})).status == 403
    await bob.post(f"{R}/{space}/join", {})
    assert (await bob.post(f"{R}/{room_id}/join", {})).status == 200
    member = (await bob.get(f"{R}/{room_id}/state/m.room.member/{bob.user_id}")).body
    assert member["join_authorised_via_users_server"] == alice.user_id


async def test_state_events(client):
    alice = await client.register("alice")
    bob = await client.register("bob")
    room_id = await _room(alice, preset="public_chat")
    await bob.post(f"{R}/{room_id}/join", {})
    first = await alice.put(f"{R}/{room_id}/state/m.room.topic", {"topic": "one"})
    same = await alice.put(f"{R}/{room_id}/state/m.room.topic", {"topic": "one"})
    assert first.body["event_id"] == same.body["event_id"]
    assert (await bob.put(f"{R}/{room_id}/state/m.room.topic", {"topic": "nope"})).status == 403
    assert (await bob.put(f"{R}/{room_id}/state/org.example.mine/{bob.user_id}", {"x": 1})).status == 403  # state_default 50
    full = await alice.get(f"{R}/{room_id}/state/m.room.topic", params={"format": "event"})
    assert full.body["event_id"] == first.body["event_id"]
    assert (await alice.get(f"{R}/{room_id}/state/m.room.avatar")).errcode == "M_NOT_FOUND"
    # Outsiders cannot read the state of a room they were never in.
    carol = await client.register("carol")
    assert (await carol.get(f"{R}/{room_id}/state")).status == 403


async def test_canonical_alias_must_point_here(client):
    alice = await client.register("alice")
    room_id = await _room(alice)
    resp = await alice.put(f"{R}/{room_id}/state/m.room.canonical_alias", {"alias": "#nowhere:test.local"})
    assert resp.errcode == "M_BAD_ALIAS"
    # Malformed aliases are an invalid parameter, not a bad alias (spec: PUT /state).
    for bad in ({"alias": "#no-server"}, {"alt_aliases": ["den:test.local"]}):
        resp = await alice.put(f"{R}/{room_id}/state/m.room.canonical_alias", bad)
        assert (resp.status, resp.errcode) == (400, "M_INVALID_PARAM")
    # Aliases already in the event are not checked again.
    assert (await alice.put(f"/_matrix/client/v3/directory/room/%23den:test.local", {"room_id": room_id})).status == 200
    assert (await alice.put(f"{R}/{room_id}/state/m.room.canonical_alias", {"alias": "#den:test.local"})).status == 200
    assert (await alice.delete("/_matrix/client/v3/directory/room/%23den:test.local")).status == 200
    resp = await alice.put(f"{R}/{room_id}/state/m.room.canonical_alias", {"alias": "#den:test.local", "alt_aliases": []})
    assert resp.status == 200, resp.body


async def test_unreadable_events_are_not_found(client):
    """GET /event and /relations answer 404 alike for unknown events and for events
    in rooms the user may not read (spec: "not found or no permission")."""
    alice = await client.register("alice")
    carol = await client.register("carol")
    room_id = await _room(alice)
    event_id = await _send(alice, room_id, "private")
    for path in (f"{R}/{room_id}/event/{event_id}", f"/_matrix/client/v1/rooms/{room_id}/relations/{event_id}"):
        assert (await alice.get(path)).status == 200
        resp = await carol.get(path)
        assert (resp.status, resp.errcode) == (404, "M_NOT_FOUND")
    resp = await carol.get(f"{R}/!unknown:test.local/event/{event_id}")
    assert (resp.status, resp.errcode) == (404, "M_NOT_FOUND")
    resp = await alice.get(f"{R}/not-a-room/aliases")
    assert (resp.status, resp.errcode) == (400, "M_INVALID_PARAM")


async def test_redaction(client):
    alice = await client.register("alice")
    bob = await client.register("bob")
    room_id = await _room(alice, preset="public_chat")
    await bob.post(f"{R}/{room_id}/join", {})
    alice_msg = await _send(alice, room_id, "secret")
    bob_msg = await _send(bob, room_id, "oops")
    # Bob may redact his own event but not Alice's.
    assert (await bob.put(f"{R}/{room_id}/redact/{alice_msg}/r1", {})).status == 403
    red = await bob.put(f"{R}/{room_id}/redact/{bob_msg}/r2", {"reason": "typo"})
    assert red.status == 200
    again = await bob.put(f"{R}/{room_id}/redact/{bob_msg}/r2", {"reason": "typo"})
    assert again.body["event_id"] == red.body["event_id"]
    redacted = await alice.get(f"{R}/{room_id}/event/{bob_msg}")
    assert redacted.body["content"] == {}
    assert redacted.body["unsigned"]["redacted_because"]["event_id"] == red.body["event_id"]
    # Alice (admin) may redact Bob's messages.
    other = await _send(bob, room_id, "spam")
    assert (await alice.put(f"{R}/{room_id}/redact/{other}/r3", {})).status == 200
    assert (await alice.put(f"{R}/{room_id}/redact/$unknown/r4", {})).status == 404


async def test_messages_pagination_and_filter(client):
    alice = await client.register("alice")
    room_id = await _room(alice)
    ids = [await _send(alice, room_id, f"m{i}") for i in range(5)]
    page1 = await alice.get(f"{R}/{room_id}/messages", params={"dir": "b", "limit": "2"})
    assert [e["event_id"] for e in page1.body["chunk"]] == [ids[4], ids[3]]
    page2 = await alice.get(f"{R}/{room_id}/messages", params={"dir": "b", "limit": "2", "from": page1.body["end"]})
    assert [e["event_id"] for e in page2.body["chunk"]] == [ids[2], ids[1]]
    # Paginating forwards from where page 2 ended starts again at ids[1].
    forward = await alice.get(f"{R}/{room_id}/messages", params={"dir": "f", "limit": "3", "from": page2.body["end"]})
    assert [e["event_id"] for e in forward.body["chunk"]] == ids[1:4]
    only_messages = await alice.get(f"{R}/{room_id}/messages", params={"dir": "b", "limit": "50", "filter": '{"types": ["m.room.message"]}'})
    assert [e["event_id"] for e in only_messages.body["chunk"]] == ids[::-1]
    everything = await alice.get(f"{R}/{room_id}/messages", params={"dir": "b", "limit": "100"})
    assert "end" not in everything.body
    assert (await alice.get(f"{R}/{room_id}/messages", params={"dir": "x"})).errcode == "M_INVALID_PARAM"
    assert (await alice.get(f"{R}/{room_id}/messages")).errcode == "M_MISSING_PARAM"
    assert (await alice.get(f"{R}/{room_id}/messages", params={"dir": "b", "from": "zzz"})).errcode == "M_INVALID_PARAM"


async def test_history_visibility_joined(client):
    alice = await client.register("alice")
    bob = await client.register("bob")
    room_id = await _room(alice, preset="public_chat",
                          initial_state=[{"type": "m.room.history_visibility", "content": {"history_visibility": "joined"}}])
    before = await _send(alice, room_id, "before bob")
    await bob.post(f"{R}/{room_id}/join", {})
    after = await _send(alice, room_id, "after bob")
    msgs = await bob.get(f"{R}/{room_id}/messages", params={"dir": "b", "limit": "50"})
    ids = [e["event_id"] for e in msgs.body["chunk"]]
    assert after in ids and before not in ids
    assert (await bob.get(f"{R}/{room_id}/event/{before}")).status == 404
    # After leaving, Bob keeps what he saw but sees nothing new.
    await bob.post(f"{R}/{room_id}/leave", {})
    later = await _send(alice, room_id, "after bob left")
    msgs = await bob.get(f"{R}/{room_id}/messages", params={"dir": "b", "limit": "50"})
    ids = [e["event_id"] for e in msgs.body["chunk"]]
    assert after in ids and later not in ids


async def test_context(client):
    alice = await client.register("alice")
    room_id = await _room(alice)
    ids = [await _send(alice, room_id, f"m{i}") for i in range(5)]
    ctx = await alice.get(f"{R}/{room_id}/context/{ids[2]}", params={"limit": "2"})
    assert ctx.body["event"]["event_id"] == ids[2]
    assert [e["event_id"] for e in ctx.body["events_before"]] == [ids[1]]
    assert [e["event_id"] for e in ctx.body["events_after"]] == [ids[3]]
    assert any(e["type"] == "m.room.create" for e in ctx.body["state"])
    assert (await alice.get(f"{R}/{room_id}/context/$nope")).status == 404


async def test_members(client):
    alice = await client.register("alice")
    bob = await client.register("bob")
    room_id = await _room(alice, preset="public_chat")
    await bob.post(f"{R}/{room_id}/join", {})
    await bob.post(f"{R}/{room_id}/leave", {})
    everyone = await alice.get(f"{R}/{room_id}/members")
    assert {e["state_key"] for e in everyone.body["chunk"]} == {alice.user_id, bob.user_id}
    joined = await alice.get(f"{R}/{room_id}/members", params={"membership": "join"})
    assert [e["state_key"] for e in joined.body["chunk"]] == [alice.user_id]
    not_joined = await alice.get(f"{R}/{room_id}/members", params={"not_membership": "join"})
    assert [e["state_key"] for e in not_joined.body["chunk"]] == [bob.user_id]
    assert (await bob.get(f"{R}/{room_id}/joined_members")).status == 403


async def test_send_bad_input(client):
    alice = await client.register("alice")
    bob = await client.register("bob")
    room_id = await _room(alice)
    assert (await bob.put(f"{R}/{room_id}/send/m.room.message/x", {"body": "hi"})).status == 403
    assert (await alice.put(f"{R}/{room_id}/send/m.room.message/x", data=b"[]")).errcode == "M_BAD_JSON"
    assert (await alice.put(f"{R}/{room_id}/send/m.room.message/x", data=b"{bad")).errcode == "M_NOT_JSON"
    assert (await alice.put(f"{R}/!nope:test.local/send/m.room.message/x", {"body": "x"})).status == 404
    assert (await alice.put(f"{R}/{room_id}/send/m.room.message/y", {"n": 1.5})).errcode == "M_BAD_JSON"
    assert (await alice.put(f"{R}/{room_id}/send/{'x' * 300}/z", {"b": 1})).errcode == "M_INVALID_PARAM"
    big = await alice.put(f"{R}/{room_id}/send/m.room.message/big", {"body": "x" * 70000})
    assert big.status == 413 and big.errcode == "M_TOO_LARGE"
    assert (await client.put(f"{R}/{room_id}/send/m.room.message/n", {"b": 1})).errcode == "M_MISSING_TOKEN"
