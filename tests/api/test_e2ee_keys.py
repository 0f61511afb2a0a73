"""The key directory over raw HTTP: upload, query, claim, changes, and bad input."""

from __future__ import annotations

import asyncio

import vodozemac as vz

from tests.support.olm import CryptoDevice, sign

V3 = "/_matrix/client/v3"
SYNC = f"{V3}/sync"


async def _device(client, name: str) -> CryptoDevice:
    return CryptoDevice(await client.register(name))


async def test_upload_query_and_counts(client):
    alice = await _device(client, "alice")
    body = await alice.upload_keys(one_time=3)
    assert body == {"one_time_key_counts": {"signed_curve25519": 3}}
    bob = await client.register("bob")
    query = await bob.post(f"{V3}/keys/query", {"device_keys": {alice.user_id: []}})
    assert query.status == 200
    device = query.body["device_keys"][alice.user_id][alice.device_id]
    assert device["keys"][f"ed25519:{alice.device_id}"] == alice.ed25519
    assert device["signatures"] == alice.device_keys()["signatures"]
    # Asking for one device by ID, or for a device that does not exist.
    only = await bob.post(f"{V3}/keys/query", {"device_keys": {alice.user_id: ["NOPE"]}})
    assert only.body["device_keys"] == {alice.user_id: {}}
    # The count reaches the device's sync, with the (still empty) fallback key types.
    synced = await alice.client.get(SYNC)
    assert synced.body["device_one_time_keys_count"] == {"signed_curve25519": 3}
    assert synced.body["device_unused_fallback_key_types"] == []


async def test_device_display_name_is_shown_as_unsigned(client):
    alice = await _device(client, "alice")
    await alice.upload_keys()
    await alice.client.put(f"{V3}/devices/{alice.device_id}", {"display_name": "Alice's phone"})
    query = await alice.client.post(f"{V3}/keys/query", {"device_keys": {alice.user_id: []}})
    device = query.body["device_keys"][alice.user_id][alice.device_id]
    assert device["unsigned"] == {"device_display_name": "Alice's phone"}


async def test_upload_rejects_bad_keys(client):
    alice = await _device(client, "alice")
    keys = alice.device_keys()
    unsigned = {k: v for k, v in keys.items() if k != "signatures"}
    resp = await alice.client.post(f"{V3}/keys/upload", {"device_keys": unsigned})
    assert (resp.status, resp.errcode) == (400, "M_INVALID_PARAM")
    forged = dict(keys, keys={**keys["keys"], f"curve25519:{alice.device_id}": "c29tZXRoaW5nIGVsc2U"})
    resp = await alice.client.post(f"{V3}/keys/upload", {"device_keys": forged})
    assert resp.errcode == "M_INVALID_PARAM"  # the signature no longer matches
    other_device = dict(keys, device_id="OTHER")
    assert (await alice.client.post(f"{V3}/keys/upload", {"device_keys": other_device})).errcode == "M_INVALID_PARAM"
    other_user = dict(keys, user_id="@mallory:test.local")
    assert (await alice.client.post(f"{V3}/keys/upload", {"device_keys": other_user})).errcode == "M_INVALID_PARAM"
    resp = await alice.client.post(f"{V3}/keys/upload", {"one_time_keys": {"no_colon": "x"}})
    assert resp.errcode == "M_INVALID_PARAM"
    resp = await alice.client.post(f"{V3}/keys/upload", {"one_time_keys": {"signed_curve25519:A": 5}})
    assert resp.errcode == "M_INVALID_PARAM"
    resp = await alice.client.post(f"{V3}/keys/upload", {"one_time_keys": []})
    assert resp.errcode == "M_INVALID_PARAM"
    assert (await alice.client.post(f"{V3}/keys/upload", data=b"{not json")).errcode == "M_NOT_JSON"
    # Nothing of the above was stored.
    query = await alice.client.post(f"{V3}/keys/query", {"device_keys": {alice.user_id: []}})
    assert query.body["device_keys"][alice.user_id] == {}
    assert (await alice.client.get(SYNC)).body["device_one_time_keys_count"] == {}


async def test_one_time_key_ids_cannot_change_content(client):
    alice = await _device(client, "alice")
    first = {"signed_curve25519:AAAA": sign(alice.account, alice.user_id, f"ed25519:{alice.device_id}", {"key": "a2V5"})}
    assert (await alice.client.post(f"{V3}/keys/upload", {"one_time_keys": first})).status == 200
    # The same key again is fine (a retried request) and not counted twice.
    again = await alice.client.post(f"{V3}/keys/upload", {"one_time_keys": first})
    assert again.body["one_time_key_counts"] == {"signed_curve25519": 1}
    changed = {"signed_curve25519:AAAA": {"key": "b3RoZXI"}}
    resp = await alice.client.post(f"{V3}/keys/upload", {"one_time_keys": changed})
    assert (resp.status, resp.errcode) == (400, "M_INVALID_PARAM")


async def test_claim_hands_out_each_key_once_then_the_fallback(client):
    alice = await _device(client, "alice")
    await alice.upload_keys(one_time=2)
    fallback = {"signed_curve25519:FALLBACK": sign(
        alice.account, alice.user_id, f"ed25519:{alice.device_id}", {"key": "ZmFsbGJhY2s", "fallback": True}
    )}
    await alice.client.post(f"{V3}/keys/upload", {"fallback_keys": fallback})
    assert (await alice.client.get(SYNC)).body["device_unused_fallback_key_types"] == ["signed_curve25519"]
    bob = await client.register("bob")
    request = {"one_time_keys": {alice.user_id: {alice.device_id: "signed_curve25519"}}}
    claimed = []
    for _ in range(3):
        resp = await bob.post(f"{V3}/keys/claim", request)
        assert resp.status == 200
        claimed.append(next(iter(resp.body["one_time_keys"][alice.user_id][alice.device_id])))
    assert len(set(claimed[:2])) == 2 and "signed_curve25519:FALLBACK" not in claimed[:2]
    assert claimed[2] == "signed_curve25519:FALLBACK"
    # The fallback key stays, marked used.
    synced = await alice.client.get(SYNC)
    assert synced.body["device_one_time_keys_count"] == {}
    assert synced.body["device_unused_fallback_key_types"] == []
    again = await bob.post(f"{V3}/keys/claim", request)
    assert list(again.body["one_time_keys"][alice.user_id][alice.device_id]) == ["signed_curve25519:FALLBACK"]


async def test_claim_of_unknown_users_devices_and_servers(client):
    bob = await client.register("bob")
    resp = await bob.post(f"{V3}/keys/claim", {"one_time_keys": {
        "@nobody:test.local": {"DEV": "signed_curve25519"},
        "@someone:elsewhere.example": {"DEV": "signed_curve25519"},
    }})
    assert resp.status == 200
    assert resp.body["one_time_keys"] == {}
    assert "elsewhere.example" in resp.body["failures"]
    assert (await bob.post(f"{V3}/keys/claim", {"one_time_keys": {"not-a-user": {}}})).errcode == "M_INVALID_PARAM"
    assert (await bob.post(f"{V3}/keys/claim", {"one_time_keys": {"@a:test.local": {"D": 1}}})).errcode == "M_BAD_JSON"
    assert (await bob.post(f"{V3}/keys/claim", {})).errcode == "M_MISSING_PARAM"
    assert (await bob.post(f"{V3}/keys/query", {"device_keys": {"@a:test.local": "all"}})).errcode == "M_BAD_JSON"
    assert (await client.post(f"{V3}/keys/query", {"device_keys": {}})).status == 401


async def test_concurrent_claims_never_share_a_key(client):
    alice = await _device(client, "alice")
    await alice.upload_keys(one_time=20)
    claimers = [await client.register(f"claimer{i}") for i in range(5)]
    request = {"one_time_keys": {alice.user_id: {alice.device_id: "signed_curve25519"}}}

    async def claim_four(user):
        got = []
        for _ in range(4):
            resp = await user.post(f"{V3}/keys/claim", request)
            got.extend(resp.body["one_time_keys"].get(alice.user_id, {}).get(alice.device_id, {}))
        return got

    results = await asyncio.gather(*(claim_four(c) for c in claimers))
    claimed = [key for got in results for key in got]
    assert len(claimed) == 20
    assert len(set(claimed)) == 20
    assert (await alice.client.get(SYNC)).body["device_one_time_keys_count"] == {}


async def test_device_list_changes_reach_room_members(client):
    alice = await _device(client, "alice")
    bob = await client.register("bob")
    room_id = (await alice.client.post(f"{V3}/createRoom", {"preset": "public_chat"})).body["room_id"]
    since = (await bob.get(SYNC)).body["next_batch"]
    # Bob joins: Alice now shares a room with him.
    await bob.post(f"{V3}/join/{room_id}", {})
    joined = await bob.get(SYNC, params={"since": since})
    assert alice.user_id in joined.body["device_lists"]["changed"]
    since = joined.body["next_batch"]
    # Alice uploads keys: Bob's long-poll wakes with her in `changed`.
    waiting = asyncio.create_task(bob.get(SYNC, params={"since": since, "timeout": "10000"}))
    await asyncio.sleep(0.1)
    await alice.upload_keys()
    woken = await asyncio.wait_for(waiting, 5)
    assert woken.body["device_lists"]["changed"] == [alice.user_id]
    changes = await bob.get(f"{V3}/keys/changes", params={"from": since, "to": woken.body["next_batch"]})
    assert changes.body == {"changed": [alice.user_id], "left": []}
    # A stranger hears nothing of Alice's devices.
    carol = await client.register("carol")
    carol_since = (await carol.get(SYNC)).body["next_batch"]
    await alice.upload_keys()
    assert "device_lists" not in (await carol.get(SYNC, params={"since": carol_since})).body
    # Alice leaves: Bob no longer shares a room with her.
    since = woken.body["next_batch"]
    await alice.client.post(f"{V3}/rooms/{room_id}/leave", {})
    left = await bob.get(SYNC, params={"since": since})
    assert left.body["device_lists"]["left"] == [alice.user_id]
    assert (await bob.get(f"{V3}/keys/changes", params={"from": since})).errcode == "M_MISSING_PARAM"
    assert (await bob.get(f"{V3}/keys/changes", params={"from": "bad", "to": since})).errcode == "M_INVALID_PARAM"


async def test_deleting_a_device_removes_its_keys_and_tells_others(client):
    alice = await _device(client, "alice")
    await alice.upload_keys()
    bob = await client.register("bob")
    room_id = (await alice.client.post(f"{V3}/createRoom", {"preset": "public_chat"})).body["room_id"]
    await bob.post(f"{V3}/join/{room_id}", {})
    phone = CryptoDevice(await client.login("alice"))
    await phone.upload_keys(one_time=2)
    since = (await bob.get(SYNC)).body["next_batch"]
    resp = await alice.client.post(f"{V3}/delete_devices", {
        "devices": [phone.device_id],
        "auth": {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"},
                 "password": "correct horse battery"},
    })
    assert resp.status == 200, resp.body
    synced = await bob.get(SYNC, params={"since": since})
    assert synced.body["device_lists"]["changed"] == [alice.user_id]
    query = await bob.post(f"{V3}/keys/query", {"device_keys": {alice.user_id: []}})
    assert list(query.body["device_keys"][alice.user_id]) == [alice.device_id]
    claim = await bob.post(f"{V3}/keys/claim", {"one_time_keys": {alice.user_id: {phone.device_id: "signed_curve25519"}}})
    assert claim.body["one_time_keys"] == {}


async def test_signed_one_time_keys_verify_with_real_crypto(client):
    alice = await _device(client, "alice")
    await alice.upload_keys(one_time=1)
    bob = await client.register("bob")
    claim = await bob.post(f"{V3}/keys/claim", {"one_time_keys": {alice.user_id: {alice.device_id: "signed_curve25519"}}})
    (key,) = claim.body["one_time_keys"][alice.user_id][alice.device_id].values()
    bare = {"key": key["key"]}
    from homeserver.core.canonical_json import encode_canonical_json

    vz.Ed25519PublicKey.from_base64(alice.ed25519).verify_signature(
        encode_canonical_json(bare),
        vz.Ed25519Signature.from_base64(key["signatures"][alice.user_id][f"ed25519:{alice.device_id}"]),
    )
