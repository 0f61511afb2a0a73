"""Registration with user-interactive auth, usernames, guests and tokens."""

from __future__ import annotations

import asyncio

import pytest

REGISTER = "/_matrix/client/v3/register"
AVAILABLE = "/_matrix/client/v3/register/available"


async def test_first_request_gets_uia_challenge(client):
    resp = await client.post(REGISTER, {"username": "bob", "password": "long enough pw"})
    assert resp.status == 401
    assert resp.body["flows"] == [{"stages": ["m.login.dummy"]}]
    assert resp.body["session"]
    assert resp.body["completed"] == []
    assert "errcode" not in resp.body


async def test_dummy_flow_registers_and_logs_in(client):
    first = await client.post(REGISTER, {"username": "bob", "password": "long enough pw"})
    session = first.body["session"]
    resp = await client.post(
        REGISTER,
        {
            "username": "bob",
            "password": "long enough pw",
            "device_id": "MYPHONE",
            "initial_device_display_name": "Bob's phone",
            "auth": {"type": "m.login.dummy", "session": session},
        },
    )
    assert resp.status == 200, resp.body
    assert resp.body["user_id"] == "@bob:test.local"
    assert resp.body["device_id"] == "MYPHONE"
    bob = client.as_user(resp.body["access_token"])
    device = await bob.get("/_matrix/client/v3/devices/MYPHONE")
    assert device.body["display_name"] == "Bob's phone"
    profile = await client.get("/_matrix/client/v3/profile/@bob:test.local")
    assert profile.body["displayname"] == "bob"


async def test_a_completed_session_registers_once(client):
    """A session authorises one registration: a retry gets a fresh flow, not a login."""
    session = (await client.post(REGISTER, {"password": "long enough pw"})).body["session"]
    body = {"username": "dave", "password": "long enough pw", "auth": {"type": "m.login.dummy", "session": session}}
    one = await client.post(REGISTER, body)
    assert one.status == 200 and one.body["user_id"] == "@dave:test.local"
    again = await client.post(REGISTER, {**body, "username": "erin"})
    assert again.status == 401
    assert again.body["session"] != session and again.body["completed"] == []
    assert (await client.get(AVAILABLE, params={"username": "erin"})).status == 200


async def test_session_is_bound_to_its_operation(client):
    alice = await client.register("alice")
    session = (await alice.post("/_matrix/client/v3/account/password", {"new_password": "another long one"})).body["session"]
    resp = await client.post(
        REGISTER, {"username": "eve", "password": "long enough pw", "auth": {"type": "m.login.dummy", "session": session}}
    )
    assert resp.status == 403
    assert resp.errcode == "M_FORBIDDEN"


async def test_unknown_session_is_rejected(client):
    resp = await client.post(
        REGISTER, {"username": "eve", "password": "long enough pw", "auth": {"type": "m.login.dummy", "session": "nope"}}
    )
    assert resp.status == 400


async def test_uppercase_username_is_lowercased(client):
    resp = await client.post(REGISTER, {"username": "Frank", "password": "long enough pw", "auth": {"type": "m.login.dummy"}})
    assert resp.body["user_id"] == "@frank:test.local"


async def test_no_username_generates_one(client):
    resp = await client.post(REGISTER, {"password": "long enough pw", "auth": {"type": "m.login.dummy"}})
    assert resp.status == 200
    assert resp.body["user_id"].startswith("@") and resp.body["user_id"].endswith(":test.local")


async def test_inhibit_login(client):
    resp = await client.post(
        REGISTER, {"username": "gina", "password": "long enough pw", "inhibit_login": True, "auth": {"type": "m.login.dummy"}}
    )
    assert resp.status == 200
    assert resp.body == {"user_id": "@gina:test.local"}


async def test_password_is_required(client):
    resp = await client.post(REGISTER, {"username": "hank", "auth": {"type": "m.login.dummy"}})
    assert resp.status == 400
    assert resp.errcode == "M_MISSING_PARAM"


async def test_weak_password(client):
    resp = await client.post(REGISTER, {"username": "ivy", "password": "short"})
    assert resp.status == 400
    assert resp.errcode == "M_WEAK_PASSWORD"


@pytest.mark.parametrize(
    ("username", "errcode"),
    [
        ("bad name", "M_INVALID_USERNAME"),
        ("émile", "M_INVALID_USERNAME"),
        ("12345", "M_INVALID_USERNAME"),
        ("x" * 300, "M_INVALID_USERNAME"),
        ("a:b", "M_INVALID_USERNAME"),
    ],
)
async def test_invalid_usernames(client, username, errcode):
    resp = await client.post(REGISTER, {"username": username, "password": "long enough pw", "auth": {"type": "m.login.dummy"}})
    assert resp.status == 400
    assert resp.errcode == errcode
    avail = await client.get(AVAILABLE, params={"username": username})
    assert avail.status == 400
    assert avail.errcode == errcode


async def test_username_availability(client):
    assert (await client.get(AVAILABLE, params={"username": "jill"})).body == {"available": True}
    await client.register("jill")
    taken = await client.get(AVAILABLE, params={"username": "jill"})
    assert taken.status == 400
    assert taken.errcode == "M_USER_IN_USE"
    missing = await client.get(AVAILABLE)
    assert missing.errcode == "M_MISSING_PARAM"


async def test_registering_a_taken_name(client):
    await client.register("kate")
    resp = await client.post(REGISTER, {"username": "kate", "password": "long enough pw", "auth": {"type": "m.login.dummy"}})
    assert resp.status == 400
    assert resp.errcode == "M_USER_IN_USE"


async def test_reserved_localparts(make_server):
    server = await make_server(registration={"reserved_localparts": ["admin"]})
    resp = await server.client.get(AVAILABLE, params={"username": "admin"})
    assert resp.status == 400
    assert resp.errcode == "M_EXCLUSIVE"


async def test_concurrent_registration_of_one_name(client):
    body = {"username": "racer", "password": "long enough pw", "auth": {"type": "m.login.dummy"}}
    results = await asyncio.gather(*(client.post(REGISTER, body) for _ in range(10)))
    statuses = sorted(r.status for r in results)
    assert statuses.count(200) == 1, [r.body for r in results]
    assert all(r.status == 400 and r.errcode == "M_USER_IN_USE" for r in results if r.status != 200)


async def test_closed_registration_offers_only_tokens(make_server):
    server = await make_server(registration={"open": False})
    resp = await server.client.post(REGISTER, {"username": "leo", "password": "long enough pw"})
    assert resp.status == 401
    assert resp.body["flows"] == [{"stages": ["m.login.registration_token"]}]
    dummy = await server.client.post(
        REGISTER, {"username": "leo", "password": "long enough pw", "auth": {"type": "m.login.dummy", "session": resp.body["session"]}}
    )
    assert dummy.status == 401
    assert dummy.errcode == "M_UNRECOGNIZED"


async def test_registration_disabled(make_server):
    server = await make_server(registration={"enabled": False})
    resp = await server.client.post(REGISTER, {"username": "mia", "password": "long enough pw"})
    assert resp.status == 403
    assert resp.errcode == "M_FORBIDDEN"


async def test_guests_forbidden_by_default(client):
    resp = await client.post(REGISTER + "?kind=guest", {})
    assert resp.status == 403
    assert resp.errcode == "M_GUEST_ACCESS_FORBIDDEN"


async def test_unknown_kind(client):
    resp = await client.post(REGISTER + "?kind=robot", {})
    assert resp.status == 400
    assert resp.errcode == "M_INVALID_PARAM"


async def test_guest_registration_when_allowed(make_server):
    server = await make_server(registration={"allow_guests": True})
    resp = await server.client.post(REGISTER + "?kind=guest", {"username": "ignored", "initial_device_display_name": "kiosk"})
    assert resp.status == 200, resp.body
    assert resp.body["user_id"].split(":")[0][1:].isdigit()
    guest = server.client.as_user(resp.body["access_token"])
    who = await guest.get("/_matrix/client/v3/account/whoami")
    assert who.body["is_guest"] is True
    forbidden = await guest.post("/_matrix/client/v3/account/password", {"new_password": "long enough pw"})
    assert forbidden.status == 403
    assert forbidden.errcode == "M_GUEST_ACCESS_FORBIDDEN"


@pytest.mark.parametrize(
    "body",
    [
        {"username": 5, "password": "long enough pw"},
        {"username": "x", "password": ["no"]},
        {"username": "x", "password": "long enough pw", "inhibit_login": "yes"},
        {"username": "x", "password": "long enough pw", "auth": "dummy"},
    ],
)
async def test_wrong_types_are_bad_json(client, body):
    resp = await client.post(REGISTER, body)
    assert resp.status == 400
    assert resp.errcode == "M_BAD_JSON"
