"""Global and per-room account data."""

from __future__ import annotations

U = "/_matrix/client/v3/user"
ROOM = "!room:test.local"


async def test_global_roundtrip(client):
    alice = await client.register("alice")
    assert (await alice.put(f"{U}/@alice:test.local/account_data/org.example.settings", {"theme": "dark"})).status == 200
    got = await alice.get(f"{U}/@alice:test.local/account_data/org.example.settings")
    assert got.body == {"theme": "dark"}
    await alice.put(f"{U}/@alice:test.local/account_data/org.example.settings", {"theme": "light"})
    assert (await alice.get(f"{U}/@alice:test.local/account_data/org.example.settings")).body == {"theme": "light"}


async def test_room_roundtrip_is_separate_from_global(client):
    alice = await client.register("alice")
    await alice.put(f"{U}/@alice:test.local/rooms/{ROOM}/account_data/m.tag", {"tags": {"u.work": {}}})
    assert (await alice.get(f"{U}/@alice:test.local/rooms/{ROOM}/account_data/m.tag")).body == {"tags": {"u.work": {}}}
    assert (await alice.get(f"{U}/@alice:test.local/account_data/m.tag")).errcode == "M_NOT_FOUND"


async def test_missing_is_not_found(client):
    alice = await client.register("alice")
    resp = await alice.get(f"{U}/@alice:test.local/account_data/org.example.none")
    assert resp.status == 404
    assert resp.errcode == "M_NOT_FOUND"


async def test_other_users_data_is_forbidden(client):
    alice = await client.register("alice")
    bob = await client.register("bob")
    await bob.put(f"{U}/@bob:test.local/account_data/org.example.secret", {"x": 1})
    assert (await alice.get(f"{U}/@bob:test.local/account_data/org.example.secret")).status == 403
    assert (await alice.put(f"{U}/@bob:test.local/account_data/org.example.secret", {"x": 2})).status == 403
    assert (await alice.get(f"{U}/@bob:test.local/rooms/{ROOM}/account_data/m.tag")).status == 403


async def test_server_managed_types_are_refused(client):
    alice = await client.register("alice")
    for path in (
        f"{U}/@alice:test.local/account_data/m.push_rules",
        f"{U}/@alice:test.local/account_data/m.fully_read",
        f"{U}/@alice:test.local/rooms/{ROOM}/account_data/m.fully_read",
    ):
        resp = await alice.put(path, {"event_id": "$x"})
        assert resp.status == 405
        assert resp.errcode == "M_BAD_JSON"


async def test_invalid_room_id(client):
    alice = await client.register("alice")
    resp = await alice.put(f"{U}/@alice:test.local/rooms/not-a-room/account_data/m.tag", {})
    assert resp.status == 400
    assert resp.errcode == "M_INVALID_PARAM"


async def test_body_must_be_an_object(client):
    alice = await client.register("alice")
    assert (await alice.put(f"{U}/@alice:test.local/account_data/x.y", data=b"[1]")).errcode == "M_BAD_JSON"
    assert (await alice.put(f"{U}/@alice:test.local/account_data/x.y", data=b"nope")).errcode == "M_NOT_JSON"
    assert (await client.get(f"{U}/@alice:test.local/account_data/x.y")).errcode == "M_MISSING_TOKEN"
