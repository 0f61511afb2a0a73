"""The shapes of end-to-end encryption keys and the checks a server makes on them.

Spec: Client-Server API, "End-to-End Encryption" (device keys, one-time and
fallback keys, cross-signing, server-side key backups). The server never holds
a private key: it checks that what clients upload is well formed and signed by
the key that must have signed it, so one device cannot publish keys in
another's name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from homeserver.core.signing import SignatureError, decode_verify_key, verify_json

#: The cross-signing key types and the ``usage`` each must declare.
CROSS_SIGNING_USAGES = ("master", "self_signing", "user_signing")


class InvalidKey(ValueError):
    """An uploaded key object is malformed or badly signed (the message says which)."""


def check_device_keys(keys: Any, user_id: str, device_id: str) -> None:
    """Check a device-keys object uploaded by ``device_id`` of ``user_id``.

    It must name that user and device, list its algorithms, carry the
    device's ``ed25519:<device_id>`` key and be signed with it.
    """
    if not isinstance(keys, Mapping):
        raise InvalidKey("device_keys must be an object")
    if keys.get("user_id") != user_id or keys.get("device_id") != device_id:
        raise InvalidKey("device_keys must name the uploading user and device")
    algorithms = keys.get("algorithms")
    if not isinstance(algorithms, list) or not all(isinstance(a, str) for a in algorithms):
        raise InvalidKey("device_keys.algorithms must be an array of strings")
    public_keys = _string_map(keys.get("keys"), "device_keys.keys")
    ed25519 = public_keys.get(f"ed25519:{device_id}")
    if ed25519 is None:
        raise InvalidKey(f"device_keys.keys must contain ed25519:{device_id}")
    verify_signed_by(keys, user_id, f"ed25519:{device_id}", ed25519)


def parse_key_id(full_id: Any) -> tuple[str, str]:
    """``"<algorithm>:<key_id>"`` split in two; :class:`InvalidKey` if it is not of that form."""
    if not isinstance(full_id, str) or full_id.count(":") < 1:
        raise InvalidKey(f"key IDs have the form <algorithm>:<key_id>, not {full_id!r}")
    algorithm, key_id = full_id.split(":", 1)
    if not algorithm or not key_id:
        raise InvalidKey(f"key IDs have the form <algorithm>:<key_id>, not {full_id!r}")
    return algorithm, key_id


def check_one_time_keys(keys: Any, name: str) -> dict[tuple[str, str], Any]:
    """One-time or fallback keys by ``(algorithm, key_id)``.

    A key is a string (unsigned ``curve25519``) or an object with a ``key``.
    """
    if not isinstance(keys, Mapping):
        raise InvalidKey(f"{name} must be an object")
    parsed: dict[tuple[str, str], Any] = {}
    for full_id, value in keys.items():
        algorithm, key_id = parse_key_id(full_id)
        if isinstance(value, Mapping):
            if not isinstance(value.get("key"), str):
                raise InvalidKey(f"{name}.{full_id} must have a string key")
        elif not isinstance(value, str):
            raise InvalidKey(f"{name}.{full_id} must be a string or an object")
        parsed[(algorithm, key_id)] = value
    return parsed


def cross_signing_public_key(key: Any, user_id: str, usage: str) -> str:
    """Check a cross-signing key object of ``user_id`` for ``usage``; return its public key.

    It must name the user, declare the usage and hold exactly one ed25519 key,
    whose ID is ``ed25519:<the public key>``.
    """
    if not isinstance(key, Mapping):
        raise InvalidKey(f"the {usage} key must be an object")
    if key.get("user_id") != user_id:
        raise InvalidKey(f"the {usage} key must belong to {user_id}")
    usages = key.get("usage")
    if not isinstance(usages, list) or usage not in usages:
        raise InvalidKey(f"the {usage} key must have usage {usage!r}")
    public_keys = _string_map(key.get("keys"), f"the {usage} key's keys")
    if len(public_keys) != 1:
        raise InvalidKey(f"the {usage} key must hold exactly one key")
    ((key_id, public_key),) = public_keys.items()
    if key_id != f"ed25519:{public_key}":
        raise InvalidKey(f"the {usage} key's ID must be ed25519:<public key>")
    try:
        decode_verify_key(public_key)
    except ValueError:
        raise InvalidKey(f"the {usage} key is not an ed25519 public key") from None
    return public_key


def public_key_of(key: Mapping[str, Any]) -> str:
    """The public key of a cross-signing key already checked by :func:`cross_signing_public_key`."""
    return next(iter(key["keys"].values()))


def verify_signed_by(obj: Mapping[str, Any], signer: str, key_id: str, public_key: str) -> None:
    """Raise :class:`InvalidKey` unless ``signer`` signed ``obj`` with ``key_id`` (= ``public_key``)."""
    try:
        verify_json(obj, signer, key_id, decode_verify_key(public_key))
    except (SignatureError, ValueError) as e:
        raise InvalidKey(f"invalid signature: {e}") from None


def signatures_of(obj: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """The well-formed part of ``obj["signatures"]``: signer -> key ID -> signature."""
    raw = obj.get("signatures")
    if not isinstance(raw, Mapping):
        return {}
    return {
        signer: {k: v for k, v in sigs.items() if isinstance(k, str) and isinstance(v, str)}
        for signer, sigs in raw.items()
        if isinstance(signer, str) and isinstance(sigs, Mapping)
    }


def same_key(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two key objects are the same key (signatures and ``unsigned`` aside)."""

    def bare(obj: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}

    return bare(a) == bare(b)


def place_device_list_update(cached_stream_id: int, stream_id: int, prev_ids: Sequence[int]) -> str:
    """Where an ``m.device_list_update`` falls against a cached copy of the user's device
    list that is at ``cached_stream_id`` (spec: Server-Server API, "Device Management").

    ``"old"``: the copy already includes it; ``"next"``: apply it; ``"gap"``: it follows
    an update this server never received (a ``prev_id`` past the copy), so the copy must
    be fetched again. A snapshot at ``cached_stream_id`` includes every earlier update.
    """
    if stream_id <= cached_stream_id:
        return "old"
    if any(p > cached_stream_id for p in prev_ids):
        return "gap"
    return "next"


def better_backup_session(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether a backed-up session key ``new`` replaces the stored ``old``.

    The spec's order: a verified key beats an unverified one; then the lower
    ``first_message_index`` wins (it decrypts more); then the lower
    ``forwarded_count``. A tie keeps the stored key.
    """
    if bool(old["is_verified"]) != bool(new["is_verified"]):
        return bool(new["is_verified"])
    if old["first_message_index"] != new["first_message_index"]:
        return new["first_message_index"] < old["first_message_index"]
    return new["forwarded_count"] < old["forwarded_count"]


def _string_map(value: Any, name: str) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise InvalidKey(f"{name} must be an object of strings")
    return dict(value)
