"""Saved sync filters."""

from __future__ import annotations

import pytest

U = "/_matrix/client/v3/user"


async def test_create_and_fetch(client):
    alice = await client.register("alice")
    definition = {"room": {"timeline": {"limit": 10, "types": ["m.room.message"]}, "state": {"lazy_load_members": True}}}
    created = await alice.post(f"{U}/@alice:test.local/filter", definition)
    assert created.status == 200
    filter_id = created.body["filter_id"]
    assert isinstance(filter_id, str)
    fetched = await alice.get(f"{U}/@alice:test.local/filter/{filter_id}")
    assert fetched.body == definition


async def test_filters_are_private(client):
    alice = await client.register("alice")
    bob = await client.register("bob")
    filter_id = (await bob.post(f"{U}/@bob:test.local/filter", {})).body["filter_id"]
    assert (await alice.get(f"{U}/@bob:test.local/filter/{filter_id}")).status == 403
    assert (await alice.get(f"{U}/@alice:test.local/filter/{filter_id}")).status == 404
    assert (await alice.post(f"{U}/@bob:test.local/filter", {})).status == 403


async def test_unknown_filter(client):
    alice = await client.register("alice")
    assert (await alice.get(f"{U}/@alice:test.local/filter/999999")).errcode == "M_NOT_FOUND"
    assert (await alice.get(f"{U}/@alice:test.local/filter/abc")).errcode == "M_NOT_FOUND"


@pytest.mark.parametrize(
    "definition",
    [
        {"room": {"timeline": {"limit": "ten"}}},
        {"room": {"timeline": {"types": "m.room.message"}}},
        {"event_format": "xml"},
        {"room": []},
        {"presence": {"senders": [1]}},
        {"room": {"state": {"lazy_load_members": "yes"}}},
        {"room": {"rooms": ["not-a-room-id"]}},
        {"room": {"not_rooms": ["#alias:test.local"]}},
        {"room": {"timeline": {"senders": ["bob"]}}},
        {"room": {"state": {"not_senders": ["!room:test.local"]}}},
        {"presence": {"senders": ["@"]}},
    ],
)
async def test_invalid_filters(client, definition):
    alice = await client.register("alice")
    resp = await alice.post(f"{U}/@alice:test.local/filter", definition)
    assert resp.status == 400
    assert resp.errcode == "M_BAD_JSON"


async def test_filter_parameters_naming_nothing(client):
    """A /sync or /messages filter parameter that is no filter of the user's is an
    invalid parameter; an inline filter is checked like a saved one."""
    alice = await client.register("alice")
    bob = await client.register("bob")
    bobs = (await bob.post(f"{U}/@bob:test.local/filter", {})).body["filter_id"]
    room_id = (await alice.post("/_matrix/client/v3/createRoom", {})).body["room_id"]
    for value in ("999999", "abc", bobs):
        resp = await alice.get("/_matrix/client/v3/sync", params={"filter": value})
        assert (resp.status, resp.errcode) == (400, "M_INVALID_PARAM")
        resp = await alice.get(f"/_matrix/client/v3/rooms/{room_id}/messages", params={"dir": "b", "filter": value})
        assert (resp.status, resp.errcode) == (400, "M_INVALID_PARAM")
    inline = await alice.get("/_matrix/client/v3/sync", params={"filter": '{"room": {"rooms": ["nope"]}}'})
    assert (inline.status, inline.errcode) == (400, "M_BAD_JSON")
    inline = await alice.get(
        f"/_matrix/client/v3/rooms/{room_id}/messages", params={"dir": "b", "filter": '{"senders": ["nobody"]}'}
    )
    assert (inline.status, inline.errcode) == (400, "M_BAD_JSON")
