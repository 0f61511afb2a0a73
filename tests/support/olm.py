"""A small end-to-end-encryption client for tests, on real crypto (vodozemac).

It does what a Matrix client does around the server: publishes signed device
and one-time keys, claims other devices' keys, shares Megolm room keys over
Olm-encrypted to-device messages, encrypts and decrypts room messages, backs
session keys up (``m.megolm_backup.v1.curve25519-aes-sha2``) and keeps the
backup key in secret storage (``m.secret_storage.v1.aes-hmac-sha2``). The
server under test only ever sees ciphertext.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from typing import Any

import vodozemac as vz
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from homeserver.core.canonical_json import encode_canonical_json
from tests.support.client import MatrixClient

OLM = "m.olm.v1.curve25519-aes-sha2"
MEGOLM = "m.megolm.v1.aes-sha2"
BACKUP = "m.megolm_backup.v1.curve25519-aes-sha2"
SSSS = "m.secret_storage.v1.aes-hmac-sha2"
V3 = "/_matrix/client/v3"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def sign(account: vz.Account, user_id: str, key_id: str, obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` with ``user_id``'s signature by ``account`` added under ``key_id``."""
    bare = {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}
    signature = account.sign(encode_canonical_json(bare)).to_base64()
    signed = dict(obj)
    signed["signatures"] = {**obj.get("signatures", {}), user_id: {key_id: signature}}
    return signed


class CrossSigning:
    """A user's three cross-signing keys (each an ed25519 key pair, from vodozemac)."""

    def __init__(self, user_id: str) -> None:
        self.user_id = user_id
        self.master, self.self_signing, self.user_signing = vz.Account(), vz.Account(), vz.Account()

    @staticmethod
    def public(account: vz.Account) -> str:
        return account.ed25519_key.to_base64()

    def key(self, account: vz.Account, usage: str) -> dict:
        public = self.public(account)
        key = {"user_id": self.user_id, "usage": [usage], "keys": {f"ed25519:{public}": public}}
        if usage != "master":
            key = sign(self.master, self.user_id, f"ed25519:{self.public(self.master)}", key)
        return key

    def upload_body(self) -> dict:
        return {
            "master_key": self.key(self.master, "master"),
            "self_signing_key": self.key(self.self_signing, "self_signing"),
            "user_signing_key": self.key(self.user_signing, "user_signing"),
        }


class CryptoDevice:
    """One device of one user, with its own Olm account."""

    def __init__(self, client: MatrixClient) -> None:
        assert client.user_id and client.device_id
        self.client = client
        self.user_id = client.user_id
        self.device_id = client.device_id
        self.account = vz.Account()
        self.olm_sessions: dict[str, list[vz.Session]] = {}
        self.inbound: dict[str, vz.InboundGroupSession] = {}
        self.outbound: dict[str, vz.GroupSession] = {}
        self.since: str | None = None

    @property
    def curve25519(self) -> str:
        return self.account.curve25519_key.to_base64()

    @property
    def ed25519(self) -> str:
        return self.account.ed25519_key.to_base64()

    def device_keys(self) -> dict[str, Any]:
        keys = {
            "user_id": self.user_id,
            "device_id": self.device_id,
            "algorithms": [OLM, MEGOLM],
            "keys": {f"curve25519:{self.device_id}": self.curve25519, f"ed25519:{self.device_id}": self.ed25519},
        }
        return sign(self.account, self.user_id, f"ed25519:{self.device_id}", keys)

    def signed_one_time_keys(self, count: int) -> dict[str, Any]:
        self.account.generate_one_time_keys(count)
        keys = {
            f"signed_curve25519:{key_id}": sign(
                self.account, self.user_id, f"ed25519:{self.device_id}", {"key": key.to_base64()}
            )
            for key_id, key in self.account.one_time_keys.items()
        }
        self.account.mark_keys_as_published()
        return keys

    async def upload_keys(self, one_time: int = 5) -> dict[str, Any]:
        resp = await self.client.post(
            f"{V3}/keys/upload",
            {"device_keys": self.device_keys(), "one_time_keys": self.signed_one_time_keys(one_time)},
        )
        assert resp.status == 200, resp.body
        return resp.body

    # -- sharing a room key ------------------------------------------------------------

    async def share_room_key(self, room_id: str, user_ids: list[str]) -> None:
        """Start a Megolm session for the room and send its key to every other device of ``user_ids``."""
        session = vz.GroupSession()
        self.outbound[room_id] = session
        self.inbound[session.session_id] = vz.InboundGroupSession(vz.SessionKey(session.session_key.to_base64()))
        query = await self.client.post(f"{V3}/keys/query", {"device_keys": {u: [] for u in user_ids}})
        devices = {
            (user_id, device_id): keys
            for user_id, by_device in query.body["device_keys"].items()
            for device_id, keys in by_device.items()
            if (user_id, device_id) != (self.user_id, self.device_id)
        }
        claim = await self.client.post(
            f"{V3}/keys/claim",
            {"one_time_keys": _nested({(u, d): "signed_curve25519" for u, d in devices})},
        )
        messages: dict[str, dict[str, Any]] = {}
        for (user_id, device_id), keys in devices.items():
            claimed = claim.body["one_time_keys"].get(user_id, {}).get(device_id)
            assert claimed, f"no one-time key for {user_id} {device_id}"
            (one_time_key,) = claimed.values()
            their_ed25519 = keys["keys"][f"ed25519:{device_id}"]
            _verify(their_ed25519, user_id, f"ed25519:{device_id}", one_time_key)
            _verify(their_ed25519, user_id, f"ed25519:{device_id}", keys)
            their_curve = keys["keys"][f"curve25519:{device_id}"]
            olm = self.account.create_outbound_session(
                vz.Curve25519PublicKey.from_base64(their_curve), vz.Curve25519PublicKey.from_base64(one_time_key["key"])
            )
            payload = {
                "type": "m.room_key",
                "content": {
                    "algorithm": MEGOLM, "room_id": room_id, "session_id": session.session_id,
                    "session_key": session.session_key.to_base64(),
                },
                "sender": self.user_id, "sender_device": self.device_id, "keys": {"ed25519": self.ed25519},
                "recipient": user_id, "recipient_keys": {"ed25519": their_ed25519},
            }
            message_type, body = olm.encrypt(json.dumps(payload).encode()).to_parts()
            messages.setdefault(user_id, {})[device_id] = {
                "algorithm": OLM, "sender_key": self.curve25519,
                "ciphertext": {their_curve: {"type": message_type, "body": b64(body)}},
            }
        resp = await self.client.put(
            f"{V3}/sendToDevice/m.room.encrypted/{os.urandom(8).hex()}", {"messages": messages}
        )
        assert resp.status == 200, resp.body

    # -- messages ------------------------------------------------------------------------

    def encrypt(self, room_id: str, event_type: str, content: dict[str, Any]) -> dict[str, Any]:
        session = self.outbound[room_id]
        plaintext = json.dumps({"type": event_type, "content": content, "room_id": room_id}).encode()
        return {
            "algorithm": MEGOLM, "sender_key": self.curve25519, "device_id": self.device_id,
            "session_id": session.session_id, "ciphertext": session.encrypt(plaintext).to_base64(),
        }

    async def send(self, room_id: str, body: str) -> str:
        content = self.encrypt(room_id, "m.room.message", {"msgtype": "m.text", "body": body})
        resp = await self.client.put(f"{V3}/rooms/{room_id}/send/m.room.encrypted/{os.urandom(8).hex()}", content)
        assert resp.status == 200, resp.body
        return resp.body["event_id"]

    def decrypt(self, event: dict[str, Any]) -> dict[str, Any]:
        content = event["content"]
        assert content["algorithm"] == MEGOLM
        session = self.inbound[content["session_id"]]
        plaintext = session.decrypt(vz.MegolmMessage.from_base64(content["ciphertext"])).plaintext
        return json.loads(plaintext)

    async def sync(self, timeout: int = 0) -> dict[str, Any]:
        """One /sync; decrypts the to-device messages it brings (room keys are kept)."""
        params = {"timeout": str(timeout)}
        if self.since:
            params["since"] = self.since
        resp = await self.client.get(f"{V3}/sync", params=params)
        assert resp.status == 200, resp.body
        self.since = resp.body["next_batch"]
        for event in resp.body.get("to_device", {}).get("events", []):
            if event["type"] == "m.room.encrypted":
                self._receive_olm(event)
        return resp.body

    def _receive_olm(self, event: dict[str, Any]) -> None:
        content = event["content"]
        sender_key = content["sender_key"]
        mine = content["ciphertext"][self.curve25519]
        message = vz.AnyOlmMessage.from_parts(mine["type"], unb64(mine["body"]))
        plaintext = None
        for session in self.olm_sessions.get(sender_key, []):
            try:
                plaintext = session.decrypt(message)
                break
            except vz.OlmDecryptionException:
                continue
        if plaintext is None:
            assert mine["type"] == 0, "a normal Olm message from a device we have no session with"
            session, plaintext = self.account.create_inbound_session(
                vz.Curve25519PublicKey.from_base64(sender_key), message.to_pre_key()
            )
            self.olm_sessions.setdefault(sender_key, []).append(session)
        payload = json.loads(plaintext)
        assert payload["recipient"] == self.user_id and payload["recipient_keys"]["ed25519"] == self.ed25519
        assert payload["sender"] == event["sender"]
        if payload["type"] == "m.room_key":
            key = payload["content"]
            self.inbound[key["session_id"]] = vz.InboundGroupSession(vz.SessionKey(key["session_key"]))

    # -- key backup and secret storage -----------------------------------------------

    async def back_up_keys(self, backup_key: vz.PkDecryption, version: str, room_id: str) -> dict[str, Any]:
        """Encrypt every inbound session of the room to the backup key and upload them."""
        encryptor = vz.PkEncryption.from_key(backup_key.public_key)
        sessions = {}
        for session_id, session in self.inbound.items():
            exported = {
                "algorithm": MEGOLM, "sender_key": self.curve25519, "sender_claimed_keys": {"ed25519": self.ed25519},
                "forwarding_curve25519_key_chain": [],
                "session_key": session.export_at(session.first_known_index).to_base64(),
            }
            message = encryptor.encrypt(json.dumps(exported).encode())
            sessions[session_id] = {
                "first_message_index": session.first_known_index, "forwarded_count": 0, "is_verified": True,
                "session_data": {
                    "ciphertext": b64(message.ciphertext), "mac": b64(message.mac), "ephemeral": b64(message.ephemeral_key),
                },
            }
        resp = await self.client.put(
            f"{V3}/room_keys/keys", {"rooms": {room_id: {"sessions": sessions}}}, params={"version": version}
        )
        assert resp.status == 200, resp.body
        return resp.body

    async def restore_backup(self, backup_key: vz.PkDecryption) -> int:
        """Download the current backup and import every session it holds; their number."""
        version = (await self.client.get(f"{V3}/room_keys/version")).body["version"]
        resp = await self.client.get(f"{V3}/room_keys/keys", params={"version": version})
        count = 0
        for room in resp.body["rooms"].values():
            for session_id, data in room["sessions"].items():
                session_data = data["session_data"]
                message = vz.Message.from_base64(session_data["ciphertext"], session_data["mac"], session_data["ephemeral"])
                exported = json.loads(backup_key.decrypt(message))
                session = vz.InboundGroupSession.import_session(vz.ExportedSessionKey(exported["session_key"]))
                assert session.session_id == session_id
                self.inbound[session_id] = session
                count += 1
        return count


def _nested(flat: dict[tuple[str, str], str]) -> dict[str, dict[str, str]]:
    nested: dict[str, dict[str, str]] = {}
    for (user_id, device_id), value in flat.items():
        nested.setdefault(user_id, {})[device_id] = value
    return nested


def _verify(public_key: str, user_id: str, key_id: str, obj: dict[str, Any]) -> None:
    bare = {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}
    vz.Ed25519PublicKey.from_base64(public_key).verify_signature(
        encode_canonical_json(bare), vz.Ed25519Signature.from_base64(obj["signatures"][user_id][key_id])
    )


# -- secret storage (the client side of m.secret_storage.v1.aes-hmac-sha2) ------------


def _ssss_keys(key: bytes, name: str) -> tuple[bytes, bytes]:
    derived = HKDF(algorithm=hashes.SHA256(), length=64, salt=b"\0" * 32, info=name.encode()).derive(key)
    return derived[:32], derived[32:]


def ssss_encrypt(key: bytes, name: str, secret: str) -> dict[str, str]:
    aes_key, mac_key = _ssss_keys(key, name)
    iv = bytearray(os.urandom(16))
    iv[8] &= 0x7F
    encryptor = Cipher(algorithms.AES(aes_key), modes.CTR(bytes(iv))).encryptor()
    ciphertext = encryptor.update(secret.encode()) + encryptor.finalize()
    mac = hmac.new(mac_key, ciphertext, hashlib.sha256).digest()
    return {"iv": base64.b64encode(bytes(iv)).decode(), "ciphertext": base64.b64encode(ciphertext).decode(),
            "mac": base64.b64encode(mac).decode()}


def ssss_decrypt(key: bytes, name: str, encrypted: dict[str, str]) -> str:
    aes_key, mac_key = _ssss_keys(key, name)
    ciphertext = base64.b64decode(encrypted["ciphertext"])
    expected = hmac.new(mac_key, ciphertext, hashlib.sha256).digest()
    assert hmac.compare_digest(expected, base64.b64decode(encrypted["mac"])), "wrong recovery key"
    decryptor = Cipher(algorithms.AES(aes_key), modes.CTR(base64.b64decode(encrypted["iv"]))).decryptor()
    return (decryptor.update(ciphertext) + decryptor.finalize()).decode()


def ssss_key_description(key: bytes) -> dict[str, str]:
    """The ``m.secret_storage.key.*`` account data: the MAC of zeros proves a key is the right one."""
    check = ssss_encrypt(key, "", "\0" * 32)
    return {"algorithm": SSSS, "iv": check["iv"], "mac": check["mac"]}


_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def recovery_key(key: bytes) -> str:
    """The human recovery key for a 32-byte secret-storage key (spec: "Key representation")."""
    data = bytes([0x8B, 0x01]) + key
    parity = 0
    for byte in data:
        parity ^= byte
    number = int.from_bytes(data + bytes([parity]), "big")
    encoded = ""
    while number:
        number, digit = divmod(number, 58)
        encoded = _BASE58[digit] + encoded
    return " ".join(encoded[i:i + 4] for i in range(0, len(encoded), 4))


def key_from_recovery_key(text: str) -> bytes:
    number = 0
    for char in text.replace(" ", ""):
        number = number * 58 + _BASE58.index(char)
    data = number.to_bytes(35, "big")
    parity = 0
    for byte in data:
        parity ^= byte
    assert data[:2] == bytes([0x8B, 0x01]) and parity == 0, "not a recovery key"
    return data[2:34]
