"""Server key responses (spec: Server-Server API, "Retrieving server keys").

A server publishes ``{server_name, verify_keys, old_verify_keys,
valid_until_ts}`` signed with every one of its current keys; a notary passes
such responses on with its own signature added. These functions check a
response and pull the keys out; fetching and caching them is federation's job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from homeserver.core.signing import ServerSigningKey, SignatureError, decode_verify_key, sign_json, verify_json


class InvalidKeyResponse(ValueError):
    """A key response is malformed or not signed as it must be."""


@dataclass(frozen=True)
class PublishedKey:
    key_id: str
    key: str  # unpadded base64
    #: Until when the key may be trusted: the response's ``valid_until_ts`` for a
    #: current key, its ``expired_ts`` for an old one.
    valid_until_ts: int
    old: bool


def own_key_response(server_name: str, key: ServerSigningKey, valid_until_ts: int) -> dict[str, Any]:
    """This server's ``/_matrix/key/v2/server`` response, signed."""
    response = {
        "server_name": server_name,
        "verify_keys": {key.key_id: {"key": key.public_key_base64}},
        "old_verify_keys": {},
        "valid_until_ts": valid_until_ts,
    }
    return sign_json(response, server_name, key)


def parse_key_response(response: Any, server_name: str) -> list[PublishedKey]:
    """The keys in ``server_name``'s key response, after checking it is well formed
    and signed by every one of its current keys."""
    if not isinstance(response, Mapping) or response.get("server_name") != server_name:
        raise InvalidKeyResponse(f"not a key response of {server_name}")
    valid_until = response.get("valid_until_ts")
    verify_keys = response.get("verify_keys")
    old_keys = response.get("old_verify_keys", {})
    if not _is_int(valid_until) or not isinstance(verify_keys, Mapping) or not verify_keys:
        raise InvalidKeyResponse("a key response needs valid_until_ts and verify_keys")
    if not isinstance(old_keys, Mapping):
        raise InvalidKeyResponse("old_verify_keys must be an object")
    keys: list[PublishedKey] = []
    for key_id, entry in verify_keys.items():
        key = _key_of(key_id, entry)
        try:
            verify_json(response, server_name, key_id, decode_verify_key(key))
        except (SignatureError, ValueError) as e:
            raise InvalidKeyResponse(f"{key_id} did not sign the response: {e}") from None
        keys.append(PublishedKey(key_id, key, valid_until, old=False))
    for key_id, entry in old_keys.items():
        expired = entry.get("expired_ts") if isinstance(entry, Mapping) else None
        if not _is_int(expired):
            raise InvalidKeyResponse(f"old key {key_id} needs expired_ts")
        keys.append(PublishedKey(key_id, _key_of(key_id, entry), expired, old=True))
    return keys


def check_notary_signature(response: Mapping[str, Any], notary: str, key_id: str, key: str) -> None:
    """Raise :class:`InvalidKeyResponse` unless ``notary`` co-signed ``response`` with ``key_id``."""
    try:
        verify_json(response, notary, key_id, decode_verify_key(key))
    except (SignatureError, ValueError) as e:
        raise InvalidKeyResponse(f"not signed by notary {notary}: {e}") from None


def _key_of(key_id: Any, entry: Any) -> str:
    if not isinstance(key_id, str) or not key_id.startswith("ed25519:"):
        raise InvalidKeyResponse(f"unsupported key {key_id!r}")
    key = entry.get("key") if isinstance(entry, Mapping) else None
    if not isinstance(key, str):
        raise InvalidKeyResponse(f"key {key_id} has no key")
    try:
        decode_verify_key(key)
    except ValueError:
        raise InvalidKeyResponse(f"key {key_id} is not an ed25519 public key") from None
    return key


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
