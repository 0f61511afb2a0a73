"""Spaces across servers: the client ``/hierarchy`` follows children that live
on other servers through the federation ``/hierarchy``."""

from __future__ import annotations

from urllib.parse import quote

import pytest

pytestmark = pytest.mark.federation

V1 = "/_matrix/client/v1"
V3 = "/_matrix/client/v3"
SPACE = {"type": "m.space"}


async def _room(user, **body) -> str:
    resp = await user.post(f"{V3}/createRoom", body)
    assert resp.status == 200, resp.body
    return resp.body["room_id"]


async def _space(user, name: str, **body) -> str:
    return await _room(user, preset="public_chat", name=name, creation_content=SPACE, **body)


async def _add(user, space: str, child: str, via: list[str], **content) -> None:
    resp = await user.put(f"{V3}/rooms/{quote(space)}/state/m.space.child/{quote(child)}", {"via": via} | content)
    assert resp.status == 200, resp.body


async def _hierarchy(user, room_id: str, **params) -> dict:
    resp = await user.get(f"{V1}/rooms/{quote(room_id)}/hierarchy", params=params or None)
    assert resp.status == 200, resp.body
    return resp.body


def _ids(body: dict) -> list[str]:
    return [room["room_id"] for room in body["rooms"]]


async def test_a_local_space_shows_a_public_child_on_another_server(federation):
    hs1, hs2 = await federation("hs1.test", "hs2.test")
    alice = await hs1.client.register("alice")
    bob = await hs2.client.register("bob")
    space = await _space(alice, "Home")
    remote = await _room(bob, preset="public_chat", name="Far room", topic="Far away")
    await _add(alice, space, remote, ["hs2.test"])
    body = await _hierarchy(alice, space)
    assert _ids(body) == [space, remote]
    far = body["rooms"][1]
    assert far["name"] == "Far room" and far["topic"] == "Far away"
    assert far["num_joined_members"] == 1 and far["join_rule"] == "public"
    assert far["world_readable"] is False and far["guest_can_join"] is False
    assert far["children_state"] == [] and "room_type" not in far
    # The answer is cached: paging on while hs2 is gone still shows the room.
    hs1.hearth.federation_client._resolver._overrides["hs2.test"] = "127.0.0.1:9"
    assert _ids(await _hierarchy(alice, space)) == [space, remote]


async def test_a_remote_subspace_is_walked_with_its_children(federation):
    hs1, hs2 = await federation("hs1.test", "hs2.test")
    alice = await hs1.client.register("alice")
    bob = await hs2.client.register("bob")
    space = await _space(alice, "Home")
    sub = await _space(bob, "Sub")
    deep = await _room(bob, preset="public_chat", name="Deep")
    other = await _room(bob, preset="public_chat", name="Other")
    await _add(bob, sub, deep, ["hs2.test"], suggested=True)
    await _add(bob, sub, other, ["hs2.test"])
    await _add(alice, space, sub, ["hs2.test"], suggested=True)
    body = await _hierarchy(alice, space)
    assert _ids(body) == [space, sub, deep, other]
    assert body["rooms"][1]["room_type"] == "m.space" and body["rooms"][1]["name"] == "Sub"
    assert {e["state_key"] for e in body["rooms"][1]["children_state"]} == {deep, other}
    assert _ids(await _hierarchy(alice, space, max_depth="1")) == [space, sub]
    assert _ids(await _hierarchy(alice, space, suggested_only="true")) == [space, sub, deep]
    # Paging one room at a time walks local and remote rooms alike.
    pages, token = [], None
    while True:
        page = await _hierarchy(alice, space, limit="1", **({"from": token} if token else {}))
        pages += _ids(page)
        token = page.get("next_batch")
        if token is None:
            break
    assert pages == [space, sub, deep, other]
    # Opening the subspace itself (a room this server is not in) asks the server it was reached through.
    assert _ids(await _hierarchy(alice, sub)) == [sub, deep, other]


async def test_a_restricted_remote_child_shows_to_members_of_an_allowed_room(federation):
    hs1, hs2 = await federation("hs1.test", "hs2.test")
    alice = await hs1.client.register("alice")
    bob = await hs2.client.register("bob")
    space = await _space(alice, "Home")
    allowed = await _room(bob, preset="public_chat", name="Allowed")
    restricted = await _room(bob, preset="private_chat", name="Members only", initial_state=[{
        "type": "m.room.join_rules", "state_key": "",
        "content": {"join_rule": "restricted", "allow": [{"type": "m.room_membership", "room_id": allowed}]},
    }])
    await _add(alice, space, restricted, ["hs2.test"])
    assert _ids(await _hierarchy(alice, space)) == [space]
    joined = await alice.post(f"{V3}/join/{quote(allowed)}", {}, params={"via": "hs2.test"})
    assert joined.status == 200, joined.body
    body = await _hierarchy(alice, space)
    assert _ids(body) == [space, restricted]
    assert body["rooms"][1]["join_rule"] == "restricted" and body["rooms"][1]["allowed_room_ids"] == [allowed]
    carol = await hs1.client.register("carol")  # not in the allowed room
    assert _ids(await _hierarchy(carol, space)) == [space]


async def test_a_private_remote_child_is_left_out(federation):
    hs1, hs2 = await federation("hs1.test", "hs2.test")
    alice = await hs1.client.register("alice")
    bob = await hs2.client.register("bob")
    space = await _space(alice, "Home")
    sub = await _space(bob, "Sub")
    private = await _room(bob, preset="private_chat", name="Secret")
    await _add(bob, sub, private, ["hs2.test"])
    await _add(alice, space, private, ["hs2.test"])
    await _add(alice, space, sub, ["hs2.test"])
    body = await _hierarchy(alice, space)
    assert set(_ids(body)) == {space, sub}
    listed = next(room for room in body["rooms"] if room["room_id"] == sub)
    assert [e["state_key"] for e in listed["children_state"]] == [private]
    assert "Secret" not in str(body)


async def test_an_unreachable_via_server_is_skipped(federation):
    hs1, hs2 = await federation("hs1.test", "hs2.test", addresses={"dead.test": "127.0.0.1:9"})
    alice = await hs1.client.register("alice")
    bob = await hs2.client.register("bob")
    space = await _space(alice, "Home")
    remote = await _room(bob, preset="public_chat", name="Far room")
    await _add(alice, space, remote, ["dead.test", "hs2.test"])
    await _add(alice, space, "!gone:dead.test", ["dead.test"])
    await _add(alice, space, "!missing:hs2.test", ["hs2.test"])  # hs2 answers 404
    await _add(alice, space, "!odd:hs2.test", ["not a server name", "hs1.test"])
    assert _ids(await _hierarchy(alice, space)) == [space, remote]


async def test_a_remote_root_space(federation):
    hs1, hs2 = await federation("hs1.test", "hs2.test")
    alice = await hs1.client.register("alice")
    bob = await hs2.client.register("bob")
    # Room IDs before version 12 name their server, which is asked.
    root = await _space(bob, "Far space", room_version="10")
    child = await _room(bob, preset="public_chat", name="Far child", room_version="10")
    await _add(bob, root, child, ["hs2.test"])
    body = await _hierarchy(alice, root)
    assert _ids(body) == [root, child] and body["rooms"][0]["name"] == "Far space"
    private = await _room(bob, preset="private_chat", name="Closed", room_version="10")
    assert (await alice.get(f"{V1}/rooms/{quote(private)}/hierarchy")).status == 403
    # A version-12 room ID names no server: one never seen cannot be found.
    unseen = await _space(bob, "Unseen")
    assert (await alice.get(f"{V1}/rooms/{quote(unseen)}/hierarchy")).status == 403


async def test_bad_answers_from_another_server_are_ignored(federation, monkeypatch):
    hs1, hs2 = await federation("hs1.test", "hs2.test")
    alice = await hs1.client.register("alice")
    space = await _space(alice, "Home")
    good = {"num_joined_members": 2, "world_readable": False, "guest_can_join": False, "join_rule": "public"}
    answers = {
        "!list:hs2.test": ["not", "an", "object"],
        "!liar:hs2.test": {"room": {"room_id": "!someone-else:hs2.test", **good}, "children": [],
                           "inaccessible_children": []},
        "!types:hs2.test": {"room": {"room_id": "!types:hs2.test", **good, "num_joined_members": "many"}},
        "!fine:hs2.test": {"room": {"room_id": "!fine:hs2.test", **good, "name": 42, "topic": "Fine",
                                    "extra": "dropped", "children_state": "nope"},
                           "children": "nope", "inaccessible_children": None},
    }

    async def hierarchy_for_server(room_id, *, suggested_only):
        return answers[room_id]

    monkeypatch.setattr(hs2.hearth.spaces, "hierarchy_for_server", hierarchy_for_server)
    for room_id in answers:
        await _add(alice, space, room_id, ["hs2.test"])
    body = await _hierarchy(alice, space)
    assert _ids(body) == [space, "!fine:hs2.test"]
    assert body["rooms"][1] == {"room_id": "!fine:hs2.test", **good, "topic": "Fine", "children_state": []}


async def test_remote_answers_are_cached_briefly_and_boundedly(monkeypatch):
    from homeserver.clock import FakeClock
    from homeserver.services import remote_spaces
    from homeserver.services.ports import RemoteUnavailable

    asked: list[tuple[str, str]] = []

    class Federation:
        async def hierarchy(self, destination, room_id, suggested_only):
            asked.append((destination, room_id))
            if destination == "down.test":
                raise RemoteUnavailable("down")
            return {"room": {"room_id": room_id, "num_joined_members": 1, "world_readable": True,
                             "guest_can_join": False}, "children": [], "inaccessible_children": []}

    clock = FakeClock()
    monkeypatch.setattr(remote_spaces, "CACHE_SIZE", 2)
    remote = remote_spaces.RemoteSpaces(Federation(), clock, "here.test")
    via = ["here.test", "down.test", "up.test"]
    assert (await remote.room("!a:x.test", via, suggested_only=False)).room["room_id"] == "!a:x.test"
    assert asked == [("down.test", "!a:x.test"), ("up.test", "!a:x.test")]  # never this server itself
    await remote.room("!a:x.test", via, suggested_only=False)
    assert len(asked) == 2  # cached
    clock.advance(remote_spaces.CACHE_TTL_S + 1)
    await remote.room("!a:x.test", ["up.test"], suggested_only=False)
    assert len(asked) == 3  # expired
    for room_id in ("!b:x.test", "!c:x.test"):
        await remote.room(room_id, ["up.test"], suggested_only=False)
    await remote.room("!a:x.test", ["up.test"], suggested_only=False)
    assert len(asked) == 6  # pushed out by newer answers
