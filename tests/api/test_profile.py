"""Profiles: display name, avatar, extended fields, and who may change them."""

from __future__ import annotations

import pytest

P = "/_matrix/client/v3/profile"


async def test_set_and_get_displayname_and_avatar(client):
    alice = await client.register("alice")
    assert (await alice.put(f"{P}/@alice:test.local/displayname", {"displayname": "Alice A."})).status == 200
    assert (await alice.put(f"{P}/@alice:test.local/avatar_url", {"avatar_url": "mxc://test.local/abc123"})).status == 200
    profile = await client.get(f"{P}/@alice:test.local")
    assert profile.body == {"displayname": "Alice A.", "avatar_url": "mxc://test.local/abc123"}
    field = await client.get(f"{P}/@alice:test.local/displayname")
    assert field.body == {"displayname": "Alice A."}


async def test_custom_fields_and_delete(client):
    alice = await client.register("alice")
    assert (await alice.put(f"{P}/@alice:test.local/m.tz", {"m.tz": "Europe/Paris"})).status == 200
    assert (await alice.put(f"{P}/@alice:test.local/org.example.pronouns", {"org.example.pronouns": ["she", "her"]})).status == 200
    assert (await client.get(f"{P}/@alice:test.local/org.example.pronouns")).body == {"org.example.pronouns": ["she", "her"]}
    assert (await alice.delete(f"{P}/@alice:test.local/m.tz")).status == 200
    missing = await client.get(f"{P}/@alice:test.local/m.tz")
    assert missing.status == 404
    assert missing.errcode == "M_NOT_FOUND"


async def test_cannot_change_someone_elses_profile(client):
    alice = await client.register("alice")
    await client.register("bob")
    resp = await alice.put(f"{P}/@bob:test.local/displayname", {"displayname": "Hacked"})
    assert resp.status == 403
    assert resp.errcode == "M_FORBIDDEN"
    assert (await alice.delete(f"{P}/@bob:test.local/displayname")).status == 403
    assert (await client.get(f"{P}/@bob:test.local/displayname")).body == {"displayname": "bob"}


async def test_unknown_users(client):
    assert (await client.get(f"{P}/@ghost:test.local")).errcode == "M_NOT_FOUND"
    assert (await client.get(f"{P}/@someone:elsewhere.org")).errcode == "M_NOT_FOUND"


@pytest.mark.parametrize(
    ("key", "body", "errcode"),
    [
        ("displayname", {"displayname": 42}, "M_BAD_JSON"),
        ("avatar_url", {"avatar_url": "https://evil.example/x.png"}, "M_BAD_JSON"),
        ("displayname", {"wrong": "key"}, "M_MISSING_PARAM"),
        ("Not-A-Key", {"Not-A-Key": 1}, "M_INVALID_PARAM"),
        ("a." + "b" * 300, {"a." + "b" * 300: 1}, "M_KEY_TOO_LARGE"),
        ("org.example.big", {"org.example.big": "x" * 70000}, "M_PROFILE_TOO_LARGE"),
    ],
)
async def test_invalid_profile_updates(make_server, key, body, errcode):
    server = await make_server(listen={"max_request_size": 200_000})
    alice = await server.client.register("alice")
    resp = await alice.put(f"{P}/@alice:test.local/{key}", body)
    assert resp.status == 400
    assert resp.errcode == errcode


async def test_profile_update_needs_token(client):
    await client.register("alice")
    resp = await client.put(f"{P}/@alice:test.local/displayname", {"displayname": "x"})
    assert resp.status == 401
    assert resp.errcode == "M_MISSING_TOKEN"


async def test_invalid_json(client):
    alice = await client.register("alice")
    resp = await alice.put(f"{P}/@alice:test.local/displayname", data=b"{oops")
    assert resp.errcode == "M_NOT_JSON"
