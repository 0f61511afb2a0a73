"""Password changes and deactivation, behind user-interactive auth."""

from __future__ import annotations

PASSWORD = "/_matrix/client/v3/account/password"
DEACTIVATE = "/_matrix/client/v3/account/deactivate"
WHOAMI = "/_matrix/client/v3/account/whoami"


def password_auth(session: str, password: str = "correct horse battery", user: str = "alice") -> dict:
    return {
        "type": "m.login.password",
        "session": session,
        "identifier": {"type": "m.id.user", "user": user},
        "password": password,
    }


async def _change(alice, body):
    challenge = await alice.post(PASSWORD, body)
    assert challenge.status == 401
    assert challenge.body["flows"] == [{"stages": ["m.login.password"]}]
    return challenge.body["session"]


async def test_change_password(client):
    alice = await client.register("alice")
    other = await client.login("alice")
    session = await _change(alice, {"new_password": "a brand new secret"})
    resp = await alice.post(PASSWORD, {"new_password": "a brand new secret", "auth": password_auth(session)})
    assert resp.status == 200, resp.body
    await client.login("alice", "a brand new secret")
    old = await client.post(
        "/_matrix/client/v3/login",
        {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"}, "password": "correct horse battery"},
    )
    assert old.status == 403
    # logout_devices defaults to true: other devices are gone, this one stays.
    assert (await other.get(WHOAMI)).status == 401
    assert (await alice.get(WHOAMI)).status == 200


async def test_change_password_keeping_devices(client):
    alice = await client.register("alice")
    other = await client.login("alice")
    body = {"new_password": "a brand new secret", "logout_devices": False}
    session = await _change(alice, body)
    resp = await alice.post(PASSWORD, {**body, "auth": password_auth(session)})
    assert resp.status == 200
    assert (await other.get(WHOAMI)).status == 200


async def test_wrong_password_in_uia(client):
    alice = await client.register("alice")
    session = await _change(alice, {"new_password": "a brand new secret"})
    resp = await alice.post(PASSWORD, {"new_password": "a brand new secret", "auth": password_auth(session, "wrong password")})
    assert resp.status == 401
    assert resp.errcode == "M_FORBIDDEN"
    assert resp.body["flows"] == [{"stages": ["m.login.password"]}]
    assert resp.body["session"] == session
    assert resp.body["completed"] == []


async def test_cannot_authenticate_as_someone_else(client):
    await client.register("bob")
    alice = await client.register("alice")
    session = await _change(alice, {"new_password": "a brand new secret"})
    resp = await alice.post(PASSWORD, {"new_password": "a brand new secret", "auth": password_auth(session, user="bob")})
    assert resp.status == 401
    assert resp.errcode == "M_FORBIDDEN"


async def test_weak_new_password(client):
    alice = await client.register("alice")
    resp = await alice.post(PASSWORD, {"new_password": "short"})
    assert resp.status == 400
    assert resp.errcode == "M_WEAK_PASSWORD"


async def test_password_change_needs_token(client):
    resp = await client.post(PASSWORD, {"new_password": "a brand new secret"})
    assert resp.status == 401
    assert resp.errcode == "M_MISSING_TOKEN"


async def test_deactivate(client):
    alice = await client.register("alice")
    other = await client.login("alice")
    await alice.put("/_matrix/client/v3/profile/@alice:test.local/displayname", {"displayname": "Alice"})
    challenge = await alice.post(DEACTIVATE, {})
    assert challenge.status == 401
    resp = await alice.post(DEACTIVATE, {"auth": password_auth(challenge.body["session"])})
    assert resp.status == 200
    assert (await alice.get(WHOAMI)).errcode == "M_UNKNOWN_TOKEN"
    assert (await other.get(WHOAMI)).errcode == "M_UNKNOWN_TOKEN"
    login = await client.post(
        "/_matrix/client/v3/login",
        {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"}, "password": "correct horse battery"},
    )
    assert login.status == 403
    assert login.errcode == "M_USER_DEACTIVATED"
    taken = await client.get("/_matrix/client/v3/register/available", params={"username": "alice"})
    assert taken.errcode == "M_USER_IN_USE"
    profile = await client.get("/_matrix/client/v3/profile/@alice:test.local")
    assert "displayname" not in profile.body
