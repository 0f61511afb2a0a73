"""Password login, logout, whoami and access-token handling."""

from __future__ import annotations

import pytest

LOGIN = "/_matrix/client/v3/login"
WHOAMI = "/_matrix/client/v3/account/whoami"


async def test_login_flows(client):
    resp = await client.get(LOGIN)
    assert resp.status == 200
    assert {"type": "m.login.password"} in resp.body["flows"]


@pytest.mark.parametrize("user", ["alice", "@alice:test.local", "ALICE"])
async def test_login_by_localpart_or_user_id(client, user):
    await client.register("alice")
    alice = await client.login(user)
    assert alice.user_id == "@alice:test.local"
    who = await alice.get(WHOAMI)
    assert who.body == {"user_id": "@alice:test.local", "device_id": alice.device_id, "is_guest": False}


async def test_legacy_user_field(client):
    await client.register("alice")
    resp = await client.post(LOGIN, {"type": "m.login.password", "user": "alice", "password": "correct horse battery"})
    assert resp.status == 200
    assert resp.body["user_id"] == "@alice:test.local"


async def test_login_keeps_given_device_id(client):
    await client.register("alice")
    alice = await client.login("alice", device_id="LAPTOP", initial_device_display_name="Laptop")
    assert alice.device_id == "LAPTOP"
    device = await alice.get("/_matrix/client/v3/devices/LAPTOP")
    assert device.body["display_name"] == "Laptop"


async def test_wrong_password_and_unknown_user_look_alike(client):
    await client.register("alice")
    wrong = await client.post(LOGIN, {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"}, "password": "nope nope"})
    unknown = await client.post(LOGIN, {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "nobody"}, "password": "nope nope"})
    assert wrong.status == unknown.status == 403
    assert wrong.errcode == unknown.errcode == "M_FORBIDDEN"
    assert wrong.body["error"] == unknown.body["error"]


async def test_unsupported_login_type(client):
    resp = await client.post(LOGIN, {"type": "m.login.magic"})
    assert resp.status == 400
    assert resp.errcode == "M_UNKNOWN"


async def test_unsupported_identifier_type(client):
    resp = await client.post(
        LOGIN, {"type": "m.login.password", "identifier": {"type": "m.id.phone", "country": "GB", "phone": "1"}, "password": "x"}
    )
    assert resp.status == 400


async def test_deactivated_user_cannot_log_in(client):
    alice = await client.register("alice")
    session = (await alice.post("/_matrix/client/v3/account/deactivate", {})).body["session"]
    resp = await alice.post(
        "/_matrix/client/v3/account/deactivate",
        {"auth": {"type": "m.login.password", "session": session, "identifier": {"type": "m.id.user", "user": "alice"}, "password": "correct horse battery"}},
    )
    assert resp.status == 200, resp.body
    login = await client.post(LOGIN, {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"}, "password": "correct horse battery"})
    assert login.status == 403
    assert login.errcode == "M_USER_DEACTIVATED"


async def test_logout_kills_token_and_device(client):
    await client.register("alice")
    phone = await client.login("alice")
    laptop = await client.login("alice")
    assert (await phone.post("/_matrix/client/v3/logout", {})).status == 200
    dead = await phone.get(WHOAMI)
    assert dead.status == 401
    assert dead.errcode == "M_UNKNOWN_TOKEN"
    assert dead.body["soft_logout"] is False
    devices = await laptop.get("/_matrix/client/v3/devices")
    assert phone.device_id not in [d["device_id"] for d in devices.body["devices"]]
    assert (await laptop.get(WHOAMI)).status == 200


async def test_logout_all(client):
    first = await client.register("alice")
    second = await client.login("alice")
    assert (await second.post("/_matrix/client/v3/logout/all")).status == 200
    for c in (first, second):
        assert (await c.get(WHOAMI)).errcode == "M_UNKNOWN_TOKEN"
    again = await client.login("alice")
    devices = await again.get("/_matrix/client/v3/devices")
    assert [d["device_id"] for d in devices.body["devices"]] == [again.device_id]


async def test_missing_token(client):
    resp = await client.get(WHOAMI)
    assert resp.status == 401
    assert resp.errcode == "M_MISSING_TOKEN"


async def test_unknown_token(client):
    resp = await client.get(WHOAMI, token="hth_nonsense")
    assert resp.status == 401
    assert resp.errcode == "M_UNKNOWN_TOKEN"
    assert resp.body["soft_logout"] is False


async def test_malformed_authorization_header(client):
    resp = await client.get(WHOAMI, headers={"Authorization": "Basic abc"}, token=None)
    assert resp.status == 401
    assert resp.errcode == "M_MISSING_TOKEN"


async def test_query_parameter_token(client):
    alice = await client.register("alice")
    resp = await client.get(WHOAMI, params={"access_token": alice.token}, token=None)
    assert resp.status == 200
    assert resp.body["user_id"] == "@alice:test.local"
