"""Room aliases and the published room directory."""

from __future__ import annotations

D = "/_matrix/client/v3/directory"


async def _room(user, **body):
    return (await user.post("/_matrix/client/v3/createRoom", body)).body["room_id"]


async def test_alias_lifecycle(client):
    alice = await client.register("alice")
    room_id = await _room(alice)
    assert (await alice.put(f"{D}/room/%23den:test.local", {"room_id": room_id})).status == 200
    resolved = await client.get(f"{D}/room/%23den:test.local")
    assert resolved.body == {"room_id": room_id, "servers": ["test.local"]}
    dup = await alice.put(f"{D}/room/%23den:test.local", {"room_id": room_id})
    assert (dup.status, dup.errcode) == (409, "M_UNKNOWN")
    aliases = await alice.get(f"/_matrix/client/v3/rooms/{room_id}/aliases")
    assert aliases.body == {"aliases": ["#den:test.local"]}
    # Now the canonical alias may point at it.
    assert (await alice.put(f"/_matrix/client/v3/rooms/{room_id}/state/m.room.canonical_alias", {"alias": "#den:test.local"})).status == 200
    assert (await alice.delete(f"{D}/room/%23den:test.local")).status == 200
    assert (await client.get(f"{D}/room/%23den:test.local")).errcode == "M_NOT_FOUND"


async def test_alias_permissions_and_validation(client):
    alice = await client.register("alice")
    bob = await client.register("bob")
    room_id = await _room(alice, preset="public_chat", room_alias_name="hall")
    await bob.post(f"/_matrix/client/v3/join/{room_id}", {})
    assert (await bob.delete(f"{D}/room/%23hall:test.local")).status == 403
    carol = await client.register("carol")
    assert (await carol.put(f"{D}/room/%23mine:test.local", {"room_id": room_id})).status == 403
    assert (await alice.put(f"{D}/room/%23x:elsewhere.org", {"room_id": room_id})).errcode == "M_INVALID_PARAM"
    assert (await alice.put(f"{D}/room/notanalias", {"room_id": room_id})).errcode == "M_INVALID_PARAM"
    assert (await alice.put(f"{D}/room/%23y:test.local", {"room_id": "!nope:test.local"})).errcode == "M_NOT_FOUND"
    assert (await client.get(f"{D}/room/garbage")).errcode == "M_INVALID_PARAM"
    assert (await carol.get(f"/_matrix/client/v3/rooms/{room_id}/aliases")).status == 403


async def test_public_room_directory(client):
    alice = await client.register("alice")
    bob = await client.register("bob")
    public = await _room(alice, visibility="public", preset="public_chat", name="Gardening", topic="plants")
    second = await _room(bob, visibility="public", preset="public_chat", name="Cooking")
    await _room(alice, name="Hidden")
    await bob.post(f"/_matrix/client/v3/join/{public}", {})
    listed = await client.get("/_matrix/client/v3/publicRooms")
    assert [c["room_id"] for c in listed.body["chunk"]] == [public, second]  # most members first
    garden = listed.body["chunk"][0]
    assert garden["name"] == "Gardening" and garden["topic"] == "plants"
    assert garden["num_joined_members"] == 2 and garden["join_rule"] == "public"
    assert listed.body["total_room_count_estimate"] == 2
    searched = await alice.post("/_matrix/client/v3/publicRooms", {"filter": {"generic_search_term": "cook"}})
    assert [c["room_id"] for c in searched.body["chunk"]] == [second]
    paged = await client.get("/_matrix/client/v3/publicRooms", params={"limit": "1"})
    assert len(paged.body["chunk"]) == 1
    rest = await client.get("/_matrix/client/v3/publicRooms", params={"limit": "1", "since": paged.body["next_batch"]})
    assert [c["room_id"] for c in rest.body["chunk"]] == [second]
    assert (await client.get("/_matrix/client/v3/publicRooms", params={"since": "zzz"})).errcode == "M_INVALID_PARAM"
    assert (await client.get("/_matrix/client/v3/publicRooms", params={"server": "elsewhere.org"})).status == 404


async def test_directory_visibility(client):
    alice = await client.register("alice")
    bob = await client.register("bob")
    room_id = await _room(alice, preset="public_chat")
    await bob.post(f"/_matrix/client/v3/join/{room_id}", {})
    assert (await client.get(f"{D}/list/room/{room_id}")).body == {"visibility": "private"}
    assert (await bob.put(f"{D}/list/room/{room_id}", {"visibility": "public"})).status == 403
    assert (await alice.put(f"{D}/list/room/{room_id}", {"visibility": "public"})).status == 200
    assert (await client.get(f"{D}/list/room/{room_id}")).body == {"visibility": "public"}
    assert (await alice.put(f"{D}/list/room/{room_id}", {"visibility": "maybe"})).errcode == "M_INVALID_PARAM"
    assert (await client.get(f"{D}/list/room/!nope:test.local")).status == 404
