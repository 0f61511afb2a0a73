"""Device management."""

from __future__ import annotations

from tests.api.test_account import password_auth

DEVICES = "/_matrix/client/v3/devices"


async def test_list_get_and_rename(client):
    alice = await client.register("alice", device_id="PHONE", initial_device_display_name="Phone")
    await client.login("alice", device_id="LAPTOP")
    listed = await alice.get(DEVICES)
    assert sorted(d["device_id"] for d in listed.body["devices"]) == ["LAPTOP", "PHONE"]
    phone = await alice.get(f"{DEVICES}/PHONE")
    assert phone.body["display_name"] == "Phone"
    assert "last_seen_ts" in phone.body
    assert (await alice.put(f"{DEVICES}/LAPTOP", {"display_name": "Work laptop"})).status == 200
    assert (await alice.get(f"{DEVICES}/LAPTOP")).body["display_name"] == "Work laptop"


async def test_unknown_and_foreign_devices_are_not_found(client):
    alice = await client.register("alice")
    bob = await client.register("bob", device_id="BOBDEVICE")
    assert (await alice.get(f"{DEVICES}/NOPE")).errcode == "M_NOT_FOUND"
    assert (await alice.get(f"{DEVICES}/BOBDEVICE")).errcode == "M_NOT_FOUND"
    assert (await alice.put(f"{DEVICES}/BOBDEVICE", {"display_name": "mine"})).errcode == "M_NOT_FOUND"
    assert (await bob.get(f"{DEVICES}/BOBDEVICE")).status == 200


async def test_rename_rejects_wrong_type(client):
    alice = await client.register("alice", device_id="PHONE")
    resp = await alice.put(f"{DEVICES}/PHONE", {"display_name": 3})
    assert resp.status == 400
    assert resp.errcode == "M_BAD_JSON"


async def test_delete_device_needs_uia(client):
    alice = await client.register("alice")
    laptop = await client.login("alice", device_id="LAPTOP")
    challenge = await alice.delete(f"{DEVICES}/LAPTOP", {})
    assert challenge.status == 401
    assert challenge.body["flows"] == [{"stages": ["m.login.password"]}]
    assert (await laptop.get("/_matrix/client/v3/account/whoami")).status == 200
    done = await alice.delete(f"{DEVICES}/LAPTOP", {"auth": password_auth(challenge.body["session"])})
    assert done.status == 200
    assert (await laptop.get("/_matrix/client/v3/account/whoami")).errcode == "M_UNKNOWN_TOKEN"
    assert (await alice.get(f"{DEVICES}/LAPTOP")).errcode == "M_NOT_FOUND"


async def test_delete_unknown_device(client):
    alice = await client.register("alice")
    resp = await alice.delete(f"{DEVICES}/NOPE", {})
    assert resp.status == 404


async def test_delete_devices_bulk(client):
    alice = await client.register("alice")
    a = await client.login("alice", device_id="A")
    b = await client.login("alice", device_id="B")
    challenge = await alice.post("/_matrix/client/v3/delete_devices", {"devices": ["A", "B"]})
    assert challenge.status == 401
    done = await alice.post(
        "/_matrix/client/v3/delete_devices", {"devices": ["A", "B"], "auth": password_auth(challenge.body["session"])}
    )
    assert done.status == 200
    for c in (a, b):
        assert (await c.get("/_matrix/client/v3/account/whoami")).status == 401
    listed = await alice.get(DEVICES)
    assert [d["device_id"] for d in listed.body["devices"]] == [alice.device_id]


async def test_delete_devices_validates_body(client):
    alice = await client.register("alice")
    resp = await alice.post("/_matrix/client/v3/delete_devices", {"devices": [1, 2]})
    assert resp.status == 400
    assert resp.errcode == "M_BAD_JSON"
