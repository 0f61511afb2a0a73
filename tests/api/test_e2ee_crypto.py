"""End-to-end encryption with real client crypto (vodozemac): the server only relays ciphertext."""

from __future__ import annotations

import os

import vodozemac as vz

from tests.support.olm import (
    BACKUP,
    CryptoDevice,
    key_from_recovery_key,
    recovery_key,
    ssss_decrypt,
    ssss_encrypt,
    ssss_key_description,
)

V3 = "/_matrix/client/v3"


async def _alice_and_bob(client) -> tuple[CryptoDevice, CryptoDevice, str]:
    """Two users with published keys, both joined to a new encrypted room."""
    alice = CryptoDevice(await client.register("alice"))
    bob = CryptoDevice(await client.register("bob"))
    await alice.upload_keys()
    await bob.upload_keys()
    return alice, bob, await _encrypted_room(alice, bob)


async def _encrypted_room(alice: CryptoDevice, bob: CryptoDevice) -> str:
    resp = await alice.client.post(f"{V3}/createRoom", {
        "preset": "private_chat", "invite": [bob.user_id],
        "initial_state": [{"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}],
    })
    room_id = resp.body["room_id"]
    assert (await bob.client.post(f"{V3}/join/{room_id}", {})).status == 200
    return room_id


def _timeline(body: dict, room_id: str) -> list[dict]:
    return body.get("rooms", {}).get("join", {}).get(room_id, {}).get("timeline", {}).get("events", [])


async def test_two_users_exchange_megolm_messages(client):
    alice, bob, room_id = await _alice_and_bob(client)
    await bob.sync()

    await alice.share_room_key(room_id, [alice.user_id, bob.user_id])
    await alice.send(room_id, "hello bob")
    received = await bob.sync()
    (event,) = [e for e in _timeline(received, room_id) if e["type"] == "m.room.encrypted"]
    assert "hello bob" not in str(event)  # the server only ever held ciphertext
    assert bob.decrypt(event)["content"]["body"] == "hello bob"

    await alice.sync()
    await bob.share_room_key(room_id, [alice.user_id, bob.user_id])
    await bob.send(room_id, "hello alice")
    (reply,) = [e for e in _timeline(await alice.sync(), room_id) if e["type"] == "m.room.encrypted"]
    assert alice.decrypt(reply)["content"]["body"] == "hello alice"


async def test_a_device_added_later_receives_keys_by_to_device(client):
    alice, bob, room_id = await _alice_and_bob(client)
    await alice.sync()
    await bob.sync()

    # Bob signs in on a laptop; Alice's device hears of it through device_lists.
    laptop = CryptoDevice(await client.login("bob"))
    await laptop.upload_keys()
    await laptop.sync()
    assert bob.user_id in (await alice.sync()).get("device_lists", {}).get("changed", [])
    query = await alice.client.post(f"{V3}/keys/query", {"device_keys": {bob.user_id: []}})
    assert set(query.body["device_keys"][bob.user_id]) == {bob.device_id, laptop.device_id}

    await alice.share_room_key(room_id, [alice.user_id, bob.user_id])
    await alice.send(room_id, "for both of Bob's devices")
    for device in (bob, laptop):
        (event,) = [e for e in _timeline(await device.sync(), room_id) if e["type"] == "m.room.encrypted"]
        assert device.decrypt(event)["content"]["body"] == "for both of Bob's devices"


async def test_fresh_login_restores_history_from_backup_with_the_recovery_key(client):
    alice, bob, room_id = await _alice_and_bob(client)
    await alice.share_room_key(room_id, [alice.user_id, bob.user_id])
    event_id = await alice.send(room_id, "remember me")

    # Alice sets up secret storage and key backup, the way Element does.
    storage_key = os.urandom(32)
    words = recovery_key(storage_key)
    backup_key = vz.PkDecryption()
    await alice.client.put(f"{V3}/user/{alice.user_id}/account_data/m.secret_storage.key.k1", ssss_key_description(storage_key))
    await alice.client.put(f"{V3}/user/{alice.user_id}/account_data/m.secret_storage.default_key", {"key": "k1"})
    await alice.client.put(f"{V3}/user/{alice.user_id}/account_data/{'m.megolm_backup.v1'}", {
        "encrypted": {"k1": ssss_encrypt(storage_key, "m.megolm_backup.v1", backup_key.key.to_base64())}
    })
    version = (await alice.client.post(f"{V3}/room_keys/version", {
        "algorithm": BACKUP, "auth_data": {"public_key": backup_key.public_key.to_base64()},
    })).body["version"]
    await alice.back_up_keys(backup_key, version, room_id)

    # A brand-new device of Alice's: nothing but her password and her recovery key.
    fresh = CryptoDevice(await client.login("alice"))
    await fresh.upload_keys()
    account_data = {e["type"]: e["content"] for e in (await fresh.sync()).get("account_data", {}).get("events", [])}
    key_id = account_data["m.secret_storage.default_key"]["key"]
    entered = key_from_recovery_key(words)
    description = account_data[f"m.secret_storage.key.{key_id}"]
    assert ssss_key_description(entered)["mac"] != "" and description["algorithm"] == "m.secret_storage.v1.aes-hmac-sha2"
    secret = ssss_decrypt(entered, "m.megolm_backup.v1", account_data["m.megolm_backup.v1"]["encrypted"][key_id])
    restored_key = vz.PkDecryption.from_key(vz.Curve25519SecretKey.from_base64(secret))
    assert restored_key.public_key.to_base64() == backup_key.public_key.to_base64()
    assert await fresh.restore_backup(restored_key) == 1

    history = await fresh.client.get(f"{V3}/rooms/{room_id}/messages", params={"dir": "b", "limit": "50"})
    (old,) = [e for e in history.body["chunk"] if e["event_id"] == event_id]
    assert fresh.decrypt(old)["content"]["body"] == "remember me"


async def test_wrong_recovery_key_cannot_open_secret_storage():
    storage_key = os.urandom(32)
    encrypted = ssss_encrypt(storage_key, "m.megolm_backup.v1", "secret")
    other = key_from_recovery_key(recovery_key(os.urandom(32)))
    try:
        ssss_decrypt(other, "m.megolm_backup.v1", encrypted)
    except AssertionError as e:
        assert "wrong recovery key" in str(e)
    else:
        raise AssertionError("decrypted with the wrong key")


async def test_matrix_nio_clients_talk_in_an_encrypted_room(server, tmp_path):
    """matrix-nio (on vodozemac) does its own key upload, claim and sharing against Hearth."""
    from nio import AsyncClient, AsyncClientConfig, MegolmEvent, RoomMessageText

    config = AsyncClientConfig(encryption_enabled=True)
    alice = AsyncClient(server.url, "alice", store_path=str(tmp_path), config=config)
    bob = AsyncClient(server.url, "bob", store_path=str(tmp_path), config=config)
    try:
        await alice.register("alice", "a strong password", device_name="alice-nio")
        await bob.register("bob", "a strong password", device_name="bob-nio")
        created = await alice.room_create(
            invite=[bob.user_id],
            initial_state=[{"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}],
        )
        for user in (alice, bob):
            if user.should_upload_keys:
                await user.keys_upload()
        await bob.sync(timeout=0)
        await bob.join(created.room_id)
        await bob.sync(timeout=0)
        await alice.sync(timeout=0)
        await alice.room_send(
            created.room_id, "m.room.message", {"msgtype": "m.text", "body": "secret via nio"},
            ignore_unverified_devices=True,
        )
        received = await bob.sync(timeout=5000, since=bob.next_batch)
        timeline = received.rooms.join[created.room_id].timeline.events
        assert not any(isinstance(e, MegolmEvent) for e in timeline), "bob could not decrypt"
        assert any(isinstance(e, RoomMessageText) and e.body == "secret via nio" for e in timeline)
    finally:
        await alice.close()
        await bob.close()


async def test_encrypted_attachment_uploads_downloads_and_decrypts(client):
    """An m.file in an encrypted room: the file is AES-CTR encrypted client-side (EncryptedFile v2)."""
    import base64
    import hashlib

    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    from tests.support.olm import b64

    alice, bob, room_id = await _alice_and_bob(client)
    await alice.share_room_key(room_id, [alice.user_id, bob.user_id])

    plaintext = os.urandom(100_000)
    key, iv = os.urandom(32), os.urandom(8) + b"\0" * 8
    encryptor = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    ciphertext = encryptor.update(plaintext) + encryptor.finalize()
    upload = await alice.client.post(
        "/_matrix/media/v3/upload", data=ciphertext, headers={"Content-Type": "application/octet-stream"}
    )
    file_info = {
        "v": "v2", "url": upload.body["content_uri"], "iv": b64(iv),
        "key": {"kty": "oct", "alg": "A256CTR", "ext": True, "key_ops": ["encrypt", "decrypt"],
                "k": base64.urlsafe_b64encode(key).decode().rstrip("=")},
        "hashes": {"sha256": b64(hashlib.sha256(ciphertext).digest())},
    }
    content = alice.encrypt(room_id, "m.room.message", {"msgtype": "m.file", "body": "secret.bin", "file": file_info})
    assert (await alice.client.put(f"{V3}/rooms/{room_id}/send/m.room.encrypted/file1", content)).status == 200

    (event,) = [e for e in _timeline(await bob.sync(), room_id) if e["type"] == "m.room.encrypted"]
    received = bob.decrypt(event)["content"]["file"]
    mxc = received["url"][len("mxc://"):]
    async with bob.client.session.get(
        f"{bob.client.base_url}/_matrix/client/v1/media/download/{mxc}",
        headers={"Authorization": f"Bearer {bob.client.token}"},
    ) as resp:
        assert resp.status == 200
        downloaded = await resp.read()
    assert b64(hashlib.sha256(downloaded).digest()) == received["hashes"]["sha256"]
    k = received["key"]["k"]
    file_key = base64.urlsafe_b64decode(k + "=" * (-len(k) % 4))
    file_iv = base64.b64decode(received["iv"] + "=" * (-len(received["iv"]) % 4))
    decryptor = Cipher(algorithms.AES(file_key), modes.CTR(file_iv)).decryptor()
    assert decryptor.update(downloaded) + decryptor.finalize() == plaintext
