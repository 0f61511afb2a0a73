"""The server answers, and errors are Matrix JSON."""


async def test_versions(client):
    resp = await client.get("/_matrix/client/versions")
    assert resp.status == 200
    assert "v1.1" in resp.body["versions"]


async def test_register_login_whoami(client):
    alice = await client.register("alice")
    resp = await alice.get("/_matrix/client/v3/account/whoami")
    assert resp.status == 200
    assert resp.body == {"user_id": "@alice:test.local", "device_id": alice.device_id, "is_guest": False}
