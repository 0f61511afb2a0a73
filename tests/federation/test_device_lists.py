"""Device lists across servers: cached copies kept current by m.device_list_update and
m.signing_key_update EDUs, resynchronised on gaps, and cross-server verification."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

import pytest
import vodozemac as vz

from tests.support.olm import CrossSigning, CryptoDevice, sign

pytestmark = pytest.mark.federation

V3 = "/_matrix/client/v3"
PASSWORD = "correct horse battery"


async def _room_with_alice_keys(federation):
    hs1, hs2 = await federation("hs1.test", "hs2.test")
    laptop = CryptoDevice(await hs1.client.register("alice"))
    await laptop.upload_keys()
    alice = laptop.client
    room_id = (await alice.post(f"{V3}/createRoom", {"preset": "public_chat"})).body["room_id"]
    bob = await hs2.client.register("bob")
    assert (await bob.post(f"{V3}/join/{quote(room_id)}", {}, params={"via": "hs1.test"})).status == 200
    return hs1, hs2, laptop, bob


def _cut_off(server, other) -> None:
    """``server`` can no longer reach ``other`` (the other way round still works)."""
    server.hearth.federation_client._resolver._overrides[other.name] = "127.0.0.1:9"


async def _keys(client, user_id: str) -> dict:
    resp = await client.post(f"{V3}/keys/query", {"device_keys": {user_id: []}})
    assert resp.status == 200, resp.body
    return resp.body


async def _wait_until(client, predicate, since: str | None = None, timeout: float = 15.0) -> str:
    """Sync until ``predicate(body)`` holds; the next batch token."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        params = {"timeout": "500"} | ({"since": since} if since else {})
        body = (await client.get(f"{V3}/sync", params=params)).body
        since = body["next_batch"]
        if predicate(body):
            return since
        assert asyncio.get_running_loop().time() < deadline, "the expected change never arrived"


def _changed(user_id: str):
    return lambda body: user_id in body.get("device_lists", {}).get("changed", [])


async def _cached_stream_id(server, user_id: str) -> int | None:
    return await server.hearth.event_store.db.fetchval(
        "SELECT stream_id FROM remote_device_lists WHERE user_id = $1", user_id
    )


async def _send_edu(origin, destination, txn: str, edu_type: str, content: dict) -> None:
    body = {"origin": origin.name, "origin_server_ts": 1, "pdus": [], "edus": [{"edu_type": edu_type, "content": content}]}
    await origin.hearth.federation_client.request(destination.name, "PUT", f"/_matrix/federation/v1/send/{txn}", body=body)


def _device_keys(user_id: str, device_id: str, account: vz.Account | None = None) -> dict:
    account = account or vz.Account()
    keys = {
        "user_id": user_id, "device_id": device_id, "algorithms": ["m.olm.v1.curve25519-aes-sha2"],
        "keys": {f"ed25519:{device_id}": account.ed25519_key.to_base64(),
                 f"curve25519:{device_id}": account.curve25519_key.to_base64()},
    }
    return sign(account, user_id, f"ed25519:{device_id}", keys)


async def test_a_remote_device_list_is_cached_and_kept_current_by_updates(federation):
    hs1, hs2, laptop, bob = await _room_with_alice_keys(federation)
    alice = laptop.client
    since = (await bob.get(f"{V3}/sync")).body["next_batch"]
    assert laptop.device_id in (await _keys(bob, alice.user_id))["device_keys"][alice.user_id]
    # From now on hs2 cannot ask hs1 anything: what bob sees comes from hs1's updates alone.
    _cut_off(hs2, hs1)

    phone = CryptoDevice(await hs1.client.login("alice"))
    await phone.upload_keys()
    since = await _wait_until(bob, _changed(alice.user_id), since)
    seen = await _keys(bob, alice.user_id)
    assert seen["failures"] == {}
    assert set(seen["device_keys"][alice.user_id]) == {laptop.device_id, phone.device_id}
    assert seen["device_keys"][alice.user_id][phone.device_id]["keys"] == phone.device_keys()["keys"]

    renamed = await phone.client.put(f"{V3}/devices/{phone.device_id}", {"display_name": "Alice's phone"})
    assert renamed.status == 200
    since = await _wait_until(bob, _changed(alice.user_id), since)
    phone_keys = (await _keys(bob, alice.user_id))["device_keys"][alice.user_id][phone.device_id]
    assert phone_keys["unsigned"] == {"device_display_name": "Alice's phone"}

    challenge = await alice.delete(f"{V3}/devices/{laptop.device_id}", {})
    deleted = await alice.delete(f"{V3}/devices/{laptop.device_id}", {"auth": {
        "type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"},
        "password": PASSWORD, "session": challenge.body["session"],
    }})
    assert deleted.status == 200, deleted.body
    since = await _wait_until(bob, _changed(alice.user_id), since)
    assert set((await _keys(bob, alice.user_id))["device_keys"][alice.user_id]) == {phone.device_id}

    cross = CrossSigning(alice.user_id)
    assert (await phone.client.post(f"{V3}/keys/device_signing/upload", cross.upload_body())).status == 200
    await _wait_until(bob, _changed(alice.user_id), since)
    seen = await _keys(bob, alice.user_id)
    assert seen["master_keys"][alice.user_id]["keys"] == cross.key(cross.master, "master")["keys"]
    assert seen["self_signing_keys"][alice.user_id]["keys"] == cross.key(cross.self_signing, "self_signing")["keys"]
    assert seen["user_signing_keys"] == {}


async def test_a_gap_in_the_updates_refetches_the_list(federation):
    hs1, hs2, laptop, bob = await _room_with_alice_keys(federation)
    alice = laptop.client
    await _keys(bob, alice.user_id)
    stream_id = (await hs1.hearth.keys.user_devices(alice.user_id))["stream_id"]
    assert await _cached_stream_id(hs2, alice.user_id) == stream_id

    # The next update in the sequence is applied as it stands (hs1 itself knows no such device).
    await _send_edu(hs1, hs2, "next", "m.device_list_update", {
        "user_id": alice.user_id, "device_id": "SPARE", "stream_id": stream_id + 100, "prev_id": [stream_id],
        "keys": _device_keys(alice.user_id, "SPARE"), "device_display_name": "spare",
    })
    assert "SPARE" in (await _keys(bob, alice.user_id))["device_keys"][alice.user_id]
    assert await _cached_stream_id(hs2, alice.user_id) == stream_id + 100
    # A repeat of an update already applied changes nothing.
    await _send_edu(hs1, hs2, "again", "m.device_list_update", {
        "user_id": alice.user_id, "device_id": "SPARE", "stream_id": stream_id + 100, "prev_id": [stream_id],
        "deleted": True,
    })
    assert "SPARE" in (await _keys(bob, alice.user_id))["device_keys"][alice.user_id]

    # An update after one that never arrived: the copy is dropped and fetched again from hs1.
    await _send_edu(hs1, hs2, "gap", "m.device_list_update", {
        "user_id": alice.user_id, "device_id": "LATER", "stream_id": stream_id + 300, "prev_id": [stream_id + 200],
        "keys": _device_keys(alice.user_id, "LATER"),
    })
    assert await _cached_stream_id(hs2, alice.user_id) is None
    devices = (await _keys(bob, alice.user_id))["device_keys"][alice.user_id]
    assert set(devices) == {laptop.device_id}
    assert await _cached_stream_id(hs2, alice.user_id) == stream_id

    # Keys that their device did not sign are never taken.
    forged = {**_device_keys(alice.user_id, "FORGED"), "algorithms": ["tampered"]}
    await _send_edu(hs1, hs2, "forged", "m.device_list_update", {
        "user_id": alice.user_id, "device_id": "FORGED", "stream_id": stream_id + 400, "prev_id": [stream_id], "keys": forged,
    })
    assert await _cached_stream_id(hs2, alice.user_id) is None
    assert "FORGED" not in (await _keys(bob, alice.user_id))["device_keys"][alice.user_id]

    # A server speaks only for its own users.
    await _send_edu(hs1, hs2, "foreign", "m.device_list_update", {
        "user_id": bob.user_id, "device_id": "EVIL", "stream_id": 10**6, "prev_id": [],
        "keys": _device_keys(bob.user_id, "EVIL"),
    })
    assert "EVIL" not in (await _keys(bob, bob.user_id))["device_keys"][bob.user_id]


async def test_verifying_a_user_of_another_server(federation):
    hs1, hs2, laptop, bob_client = await _room_with_alice_keys(federation)
    alice = laptop.client
    alice_cross = CrossSigning(alice.user_id)
    assert (await alice.post(f"{V3}/keys/device_signing/upload", alice_cross.upload_body())).status == 200
    bob = CryptoDevice(bob_client)
    await bob.upload_keys()
    bob_cross = CrossSigning(bob.user_id)
    assert (await bob.client.post(f"{V3}/keys/device_signing/upload", bob_cross.upload_body())).status == 200
    since = (await bob.client.get(f"{V3}/sync")).body["next_batch"]
    # Alice's laptop signs her master key; hs2 learns it from an m.signing_key_update.
    master = alice_cross.key(alice_cross.master, "master")
    by_laptop = sign(laptop.account, alice.user_id, f"ed25519:{laptop.device_id}", master)
    resp = await alice.post(f"{V3}/keys/signatures/upload", {alice.user_id: {alice_cross.public(alice_cross.master): by_laptop}})
    assert resp.body == {"failures": {}}
    await _wait_until(bob.client, _changed(alice.user_id), since)
    assert (await _keys(bob.client, alice.user_id))["master_keys"][alice.user_id]["signatures"] == by_laptop["signatures"]

    # Bob verifies Alice: his user-signing key signs her master key.
    usk_id = f"ed25519:{bob_cross.public(bob_cross.user_signing)}"
    signed = sign(bob_cross.user_signing, bob.user_id, usk_id, master)
    resp = await bob.client.post(f"{V3}/keys/signatures/upload", {alice.user_id: {alice_cross.public(alice_cross.master): signed}})
    assert resp.body == {"failures": {}}
    seen_by_bob = await _keys(bob.client, alice.user_id)
    assert seen_by_bob["master_keys"][alice.user_id]["signatures"][bob.user_id] == {usk_id: signed["signatures"][bob.user_id][usk_id]}
    # Alice's own signature stays, and only Bob sees his.
    assert seen_by_bob["master_keys"][alice.user_id]["signatures"][alice.user_id] == by_laptop["signatures"][alice.user_id]
    carol = await hs2.client.register("carol")
    seen_by_carol = await _keys(carol, alice.user_id)
    assert bob.user_id not in seen_by_carol["master_keys"][alice.user_id].get("signatures", {})

    # A signature that does not verify is refused.
    forged = sign(vz.Account(), bob.user_id, usk_id, master)
    resp = await bob.client.post(f"{V3}/keys/signatures/upload", {alice.user_id: {alice_cross.public(alice_cross.master): forged}})
    assert resp.body["failures"][alice.user_id][alice_cross.public(alice_cross.master)]["errcode"] == "M_INVALID_SIGNATURE"
