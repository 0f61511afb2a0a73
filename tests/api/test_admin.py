"""The Synapse-compatible admin API: shared-secret registration, registration
tokens and users."""

from __future__ import annotations

import time

import pytest

from homeserver.services.shared_secret import registration_mac

REG = "/_synapse/admin/v1/register"
TOKENS = "/_synapse/admin/v1/registration_tokens"
SECRET = "test shared secret"


async def _shared_secret_register(client, username, password="long enough pw", admin=False, secret=SECRET):
    nonce = (await client.get(REG)).body["nonce"]
    mac = registration_mac(secret, nonce, username, password, admin)
    return await client.post(REG, {"nonce": nonce, "username": username, "password": password, "admin": admin, "mac": mac})


async def _admin(client):
    resp = await _shared_secret_register(client, "root", admin=True)
    assert resp.status == 200, resp.body
    return client.as_user(resp.body["access_token"])


# -- shared-secret registration ---------------------------------------------------


def test_mac_matches_synapse_reference_vector():
    # HMAC-SHA1 over "abcd\0alice\0pw\0notadmin" keyed with "secret", computed independently.
    import hashlib
    import hmac

    expected = hmac.new(b"secret", b"abcd\x00alice\x00pw\x00notadmin", hashlib.sha1).hexdigest()
    assert registration_mac("secret", "abcd", "alice", "pw", False) == expected
    assert registration_mac("secret", "abcd", "alice", "pw", True) != expected


async def test_shared_secret_registration(client):
    resp = await _shared_secret_register(client, "alice")
    assert resp.status == 200, resp.body
    assert resp.body["user_id"] == "@alice:test.local"
    who = await client.as_user(resp.body["access_token"]).get("/_matrix/client/v3/account/whoami")
    assert who.body["device_id"] == resp.body["device_id"]
    await client.login("alice", "long enough pw")


async def test_admin_flag(client):
    admin = await _admin(client)
    ok = await admin.get(f"{TOKENS}")
    assert ok.status == 200
    plain = client.as_user((await _shared_secret_register(client, "bob")).body["access_token"])
    assert (await plain.get(TOKENS)).status == 403


async def test_nonce_is_single_use(client):
    nonce = (await client.get(REG)).body["nonce"]
    mac = registration_mac(SECRET, nonce, "alice", "long enough pw", False)
    body = {"nonce": nonce, "username": "alice", "password": "long enough pw", "admin": False, "mac": mac}
    assert (await client.post(REG, body)).status == 200
    body["username"] = "alice2"
    body["mac"] = registration_mac(SECRET, nonce, "alice2", "long enough pw", False)
    again = await client.post(REG, body)
    assert again.status == 400


async def test_bad_mac(client):
    resp = await _shared_secret_register(client, "alice", secret="wrong secret")
    assert resp.status == 403
    assert resp.errcode == "M_FORBIDDEN"
    assert (await client.get("/_matrix/client/v3/register/available", params={"username": "alice"})).status == 200


async def test_admin_flag_is_covered_by_mac(client):
    nonce = (await client.get(REG)).body["nonce"]
    mac = registration_mac(SECRET, nonce, "alice", "long enough pw", False)
    resp = await client.post(REG, {"nonce": nonce, "username": "alice", "password": "long enough pw", "admin": True, "mac": mac})
    assert resp.status == 403


async def test_disabled_without_secret(make_server):
    server = await make_server(registration={"shared_secret": None})
    assert (await server.client.get(REG)).status == 400
    resp = await server.client.post(REG, {"nonce": "x", "username": "a", "password": "long enough pw", "mac": "00"})
    assert resp.status == 400


async def test_shared_secret_username_errors(client):
    await _shared_secret_register(client, "alice")
    taken = await _shared_secret_register(client, "alice")
    assert taken.errcode == "M_USER_IN_USE"
    invalid = await _shared_secret_register(client, "bad name")
    assert invalid.errcode == "M_INVALID_USERNAME"


async def test_shared_secret_missing_fields(client):
    resp = await client.post(REG, {"username": "x"})
    assert resp.status == 400
    assert resp.errcode == "M_MISSING_PARAM"


# -- registration tokens -------------------------------------------------------------


async def test_token_crud(client):
    admin = await _admin(client)
    created = await admin.post(f"{TOKENS}/new", {"token": "abcd", "uses_allowed": 2})
    assert created.body == {"token": "abcd", "uses_allowed": 2, "pending": 0, "completed": 0, "expiry_time": None}
    random = await admin.post(f"{TOKENS}/new", {"length": 20})
    assert len(random.body["token"]) == 20
    listed = await admin.get(TOKENS)
    assert {t["token"] for t in listed.body["registration_tokens"]} == {"abcd", random.body["token"]}
    updated = await admin.put(f"{TOKENS}/abcd", {"uses_allowed": 5})
    assert updated.body["uses_allowed"] == 5
    assert (await admin.get(f"{TOKENS}/abcd")).body["uses_allowed"] == 5
    assert (await admin.delete(f"{TOKENS}/abcd")).status == 200
    assert (await admin.get(f"{TOKENS}/abcd")).status == 404
    assert (await admin.delete(f"{TOKENS}/abcd")).status == 404


@pytest.mark.parametrize(
    "body",
    [
        {"token": "has space"},
        {"token": "x" * 65},
        {"uses_allowed": -1},
        {"uses_allowed": "many"},
        {"expiry_time": 1000},
        {"length": 0},
        {"length": 65},
    ],
)
async def test_token_validation(client, body):
    admin = await _admin(client)
    resp = await admin.post(f"{TOKENS}/new", body)
    assert resp.status == 400
    assert resp.errcode == "M_INVALID_PARAM"


async def test_duplicate_token(client):
    admin = await _admin(client)
    await admin.post(f"{TOKENS}/new", {"token": "dup"})
    assert (await admin.post(f"{TOKENS}/new", {"token": "dup"})).errcode == "M_INVALID_PARAM"


async def test_token_endpoints_need_admin(client):
    assert (await client.get(TOKENS)).status == 401
    alice = await client.register("alice")
    assert (await alice.post(f"{TOKENS}/new", {})).status == 403


async def _register_with_token(client, username, token):
    first = await client.post("/_matrix/client/v3/register", {"username": username, "password": "long enough pw"})
    assert first.status == 401
    return await client.post(
        "/_matrix/client/v3/register",
        {"username": username, "password": "long enough pw",
         "auth": {"type": "m.login.registration_token", "token": token, "session": first.body["session"]}},
    )


async def test_registration_with_tokens(make_server):
    server = await make_server(registration={"open": False})
    admin = await _admin(server.client)
    await admin.post(f"{TOKENS}/new", {"token": "once", "uses_allowed": 1})
    validity = "/_matrix/client/v1/register/m.login.registration_token/validity"
    assert (await server.client.get(validity, params={"token": "once"})).body == {"valid": True}
    assert (await server.client.get(validity, params={"token": "nope"})).body == {"valid": False}
    ok = await _register_with_token(server.client, "alice", "once")
    assert ok.status == 200, ok.body
    token = (await admin.get(f"{TOKENS}/once")).body
    assert token["completed"] == 1 and token["pending"] == 0
    assert (await server.client.get(validity, params={"token": "once"})).body == {"valid": False}
    exhausted = await _register_with_token(server.client, "bob", "once")
    assert exhausted.status == 401
    assert exhausted.errcode == "M_UNAUTHORIZED"
    assert exhausted.body["flows"] == [{"stages": ["m.login.registration_token"]}]


async def test_expired_token_refused(make_server):
    server = await make_server(registration={"open": False})
    admin = await _admin(server.client)
    expiry = int(time.time() * 1000) + 200
    await admin.post(f"{TOKENS}/new", {"token": "soon", "expiry_time": expiry})
    time.sleep(0.3)
    listed = await admin.get(TOKENS, params={"valid": "false"})
    assert [t["token"] for t in listed.body["registration_tokens"]] == ["soon"]
    resp = await _register_with_token(server.client, "carl", "soon")
    assert resp.status == 401
    assert resp.errcode == "M_UNAUTHORIZED"


# -- users ------------------------------------------------------------------------------


async def test_user_admin(client):
    admin = await _admin(client)
    await client.register("alice")
    info = await admin.get("/_synapse/admin/v2/users/@alice:test.local")
    assert info.body["name"] == "@alice:test.local"
    assert info.body["admin"] is False
    assert info.body["deactivated"] is False
    listed = await admin.get("/_synapse/admin/v2/users", params={"name": "ali"})
    assert [u["name"] for u in listed.body["users"]] == ["@alice:test.local"]
    assert listed.body["total"] == 1
    assert (await admin.get("/_synapse/admin/v2/users/@ghost:test.local")).status == 404


async def test_admin_creates_and_modifies_users(client):
    admin = await _admin(client)
    created = await admin.put("/_synapse/admin/v2/users/@bob:test.local", {"password": "bobs password", "displayname": "Bob"})
    assert created.status == 201
    assert created.body["displayname"] == "Bob"
    await client.login("bob", "bobs password")
    modified = await admin.put("/_synapse/admin/v2/users/@bob:test.local", {"admin": True})
    assert modified.status == 200
    assert modified.body["admin"] is True


async def test_admin_reset_password_and_deactivate(client):
    admin = await _admin(client)
    alice = await client.register("alice")
    resp = await admin.post("/_synapse/admin/v1/reset_password/@alice:test.local", {"new_password": "reset by admin"})
    assert resp.status == 200
    assert (await alice.get("/_matrix/client/v3/account/whoami")).status == 401
    await client.login("alice", "reset by admin")
    assert (await admin.post("/_synapse/admin/v1/deactivate/@alice:test.local", {})).status == 200
    assert (await admin.get("/_synapse/admin/v2/users/@alice:test.local")).body["deactivated"] is True


async def test_user_admin_needs_admin(client):
    alice = await client.register("alice")
    assert (await alice.get("/_synapse/admin/v2/users/@alice:test.local")).status == 403
    assert (await alice.post("/_synapse/admin/v1/deactivate/@alice:test.local", {})).status == 403


async def test_server_version(client):
    resp = await client.get("/_synapse/admin/v1/server_version")
    assert resp.body["server_version"].startswith("Hearth")
