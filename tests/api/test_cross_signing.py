"""Cross-signing keys and signatures, with real ed25519 keys (vodozemac)."""

from __future__ import annotations

import vodozemac as vz

from tests.support.olm import CrossSigning, CryptoDevice, sign

V3 = "/_matrix/client/v3"
PASSWORD_AUTH = {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"},
                 "password": "correct horse battery"}


async def _setup(client):
    alice = CryptoDevice(await client.register("alice"))
    await alice.upload_keys()
    keys = CrossSigning(alice.user_id)
    resp = await alice.client.post(f"{V3}/keys/device_signing/upload", keys.upload_body())
    assert resp.status == 200, resp.body  # the first upload needs no user-interactive auth
    return alice, keys


async def test_upload_query_and_visibility(client):
    alice, keys = await _setup(client)
    own = await alice.client.post(f"{V3}/keys/query", {"device_keys": {alice.user_id: []}})
    assert own.body["master_keys"][alice.user_id]["keys"] == keys.key(keys.master, "master")["keys"]
    assert alice.user_id in own.body["self_signing_keys"]
    assert alice.user_id in own.body["user_signing_keys"]
    bob = await client.register("bob")
    theirs = await bob.post(f"{V3}/keys/query", {"device_keys": {alice.user_id: []}})
    assert alice.user_id in theirs.body["master_keys"] and alice.user_id in theirs.body["self_signing_keys"]
    assert theirs.body["user_signing_keys"] == {}  # only Alice sees her user-signing key


async def test_replacing_keys_needs_auth_but_a_retry_does_not(client):
    alice, keys = await _setup(client)
    assert (await alice.client.post(f"{V3}/keys/device_signing/upload", keys.upload_body())).status == 200
    new = CrossSigning(alice.user_id)
    challenge = await alice.client.post(f"{V3}/keys/device_signing/upload", new.upload_body())
    assert challenge.status == 401 and "flows" in challenge.body
    done = await alice.client.post(
        f"{V3}/keys/device_signing/upload", {**new.upload_body(), "auth": {**PASSWORD_AUTH, "session": challenge.body["session"]}}
    )
    assert done.status == 200, done.body
    query = await alice.client.post(f"{V3}/keys/query", {"device_keys": {alice.user_id: []}})
    assert query.body["master_keys"][alice.user_id]["keys"] == new.key(new.master, "master")["keys"]


async def test_bad_cross_signing_uploads(client):
    alice = CryptoDevice(await client.register("alice"))
    keys = CrossSigning(alice.user_id)
    body = keys.upload_body()
    missing = await alice.client.post(f"{V3}/keys/device_signing/upload", {"self_signing_key": body["self_signing_key"]})
    assert (missing.status, missing.errcode) == (400, "M_MISSING_PARAM")
    unsigned = dict(body, self_signing_key={k: v for k, v in body["self_signing_key"].items() if k != "signatures"})
    resp = await alice.client.post(f"{V3}/keys/device_signing/upload", unsigned)
    assert (resp.status, resp.errcode) == (400, "M_INVALID_SIGNATURE")
    wrong_usage = dict(body, master_key={**body["master_key"], "usage": ["self_signing"]})
    assert (await alice.client.post(f"{V3}/keys/device_signing/upload", wrong_usage)).errcode == "M_INVALID_PARAM"
    someone_else = dict(body, master_key={**body["master_key"], "user_id": "@bob:test.local"})
    assert (await alice.client.post(f"{V3}/keys/device_signing/upload", someone_else)).errcode == "M_INVALID_PARAM"
    query = await alice.client.post(f"{V3}/keys/query", {"device_keys": {alice.user_id: []}})
    assert query.body["master_keys"] == {}


async def test_signatures_upload(client):
    alice, keys = await _setup(client)
    # Alice's self-signing key signs her device.
    device = sign(keys.self_signing, alice.user_id, f"ed25519:{keys.public(keys.self_signing)}", alice.device_keys())
    resp = await alice.client.post(f"{V3}/keys/signatures/upload", {alice.user_id: {alice.device_id: device}})
    assert resp.body == {"failures": {}}
    bob = CryptoDevice(await client.register("bob"))
    await bob.upload_keys()
    query = await bob.client.post(f"{V3}/keys/query", {"device_keys": {alice.user_id: []}})
    signatures = query.body["device_keys"][alice.user_id][alice.device_id]["signatures"][alice.user_id]
    assert f"ed25519:{keys.public(keys.self_signing)}" in signatures

    # Bob's user-signing key signs Alice's master key: only Bob sees that signature.
    bob_keys = CrossSigning(bob.user_id)
    await bob.client.post(f"{V3}/keys/device_signing/upload", bob_keys.upload_body())
    alice_master = keys.key(keys.master, "master")
    signed_master = sign(bob_keys.user_signing, bob.user_id, f"ed25519:{bob_keys.public(bob_keys.user_signing)}", alice_master)
    resp = await bob.client.post(f"{V3}/keys/signatures/upload", {alice.user_id: {keys.public(keys.master): signed_master}})
    assert resp.body == {"failures": {}}
    seen_by_bob = await bob.client.post(f"{V3}/keys/query", {"device_keys": {alice.user_id: []}})
    assert bob.user_id in seen_by_bob.body["master_keys"][alice.user_id]["signatures"]
    seen_by_alice = await alice.client.post(f"{V3}/keys/query", {"device_keys": {alice.user_id: []}})
    assert bob.user_id not in seen_by_alice.body["master_keys"][alice.user_id].get("signatures", {})

    # Failures are reported per key; good signatures in the same request still land.
    forged = sign(vz.Account(), alice.user_id, f"ed25519:{keys.public(keys.self_signing)}", alice.device_keys())
    altered = dict(device, algorithms=["something.else"])
    resp = await alice.client.post(f"{V3}/keys/signatures/upload", {
        alice.user_id: {alice.device_id: forged, "UNKNOWN": device},
        bob.user_id: {bob.device_id: bob.device_keys()},
    })
    failures = resp.body["failures"]
    assert failures[alice.user_id][alice.device_id]["errcode"] == "M_INVALID_SIGNATURE"
    assert failures[alice.user_id]["UNKNOWN"]["errcode"] == "M_NOT_FOUND"
    assert failures[bob.user_id][bob.device_id]["errcode"] == "M_NOT_FOUND"
    resp = await alice.client.post(f"{V3}/keys/signatures/upload", {alice.user_id: {alice.device_id: altered}})
    assert resp.body["failures"][alice.user_id][alice.device_id]["errcode"] == "M_INVALID_PARAM"
    assert (await alice.client.post(f"{V3}/keys/signatures/upload", {"nope": {}})).errcode == "M_INVALID_PARAM"
