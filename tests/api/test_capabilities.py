"""Capabilities negotiation."""

from __future__ import annotations


async def test_capabilities(client):
    alice = await client.register("alice")
    resp = await alice.get("/_matrix/client/v3/capabilities")
    caps = resp.body["capabilities"]
    assert caps["m.change_password"] == {"enabled": True}
    assert caps["m.room_versions"]["default"] == "12"
    assert set(caps["m.room_versions"]["available"]) == {str(v) for v in range(1, 13)}
    assert set(caps["m.room_versions"]["available"].values()) == {"stable"}
    assert caps["m.3pid_changes"] == {"enabled": False}
    assert caps["m.profile_fields"]["enabled"] is True


async def test_default_room_version_follows_config(make_server):
    server = await make_server(rooms={"default_version": "10"})
    alice = await server.client.register("alice")
    resp = await alice.get("/_matrix/client/v3/capabilities")
    assert resp.body["capabilities"]["m.room_versions"]["default"] == "10"


async def test_capabilities_need_auth(client):
    resp = await client.get("/_matrix/client/v3/capabilities")
    assert resp.errcode == "M_MISSING_TOKEN"
