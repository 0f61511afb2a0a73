"""The pure key checks: device keys, one-time keys, cross-signing keys, backup ordering."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nacl.signing import SigningKey

from homeserver.core.e2e_keys import (
    InvalidKey,
    better_backup_session,
    check_device_keys,
    check_one_time_keys,
    cross_signing_public_key,
    same_key,
)
from homeserver.core.encoding import encode_base64
from homeserver.core.signing import ServerSigningKey, sign_json

USER = "@alice:example.org"


def _signed_device(seed: bytes = b"\1" * 32, device_id: str = "DEV") -> dict:
    key = SigningKey(seed)
    public = encode_base64(bytes(key.verify_key))
    keys = {"user_id": USER, "device_id": device_id, "algorithms": ["m.olm.v1.curve25519-aes-sha2"],
            "keys": {f"ed25519:{device_id}": public, f"curve25519:{device_id}": "Y3VydmU"}}
    return sign_json(keys, USER, ServerSigningKey(key, f"ed25519:{device_id}"))


def test_device_keys_must_be_self_signed_and_match_the_uploader():
    keys = _signed_device()
    check_device_keys(keys, USER, "DEV")
    with pytest.raises(InvalidKey):
        check_device_keys(keys, USER, "OTHER")
    with pytest.raises(InvalidKey):
        check_device_keys(keys, "@bob:example.org", "DEV")
    with pytest.raises(InvalidKey, match="signature"):
        check_device_keys({**keys, "algorithms": []}, USER, "DEV")
    with pytest.raises(InvalidKey):
        check_device_keys({k: v for k, v in keys.items() if k != "keys"}, USER, "DEV")
    # Signed by another key under the device's key ID.
    forged = _signed_device(seed=b"\2" * 32)
    forged["keys"] = keys["keys"]
    with pytest.raises(InvalidKey):
        check_device_keys(forged, USER, "DEV")


def test_one_time_key_shapes():
    parsed = check_one_time_keys({"curve25519:A": "a2V5", "signed_curve25519:B": {"key": "a2V5"}}, "otk")
    assert set(parsed) == {("curve25519", "A"), ("signed_curve25519", "B")}
    for bad in ({"nocolon": "x"}, {":A": "x"}, {"alg:": "x"}, {"alg:A": 1}, {"alg:A": {"nokey": 1}}):
        with pytest.raises(InvalidKey):
            check_one_time_keys(bad, "otk")


def test_cross_signing_key_shape():
    public = encode_base64(bytes(SigningKey(b"\3" * 32).verify_key))
    key = {"user_id": USER, "usage": ["master"], "keys": {f"ed25519:{public}": public}}
    assert cross_signing_public_key(key, USER, "master") == public
    for bad in (
        {**key, "usage": ["self_signing"]},
        {**key, "user_id": "@bob:example.org"},
        {**key, "keys": {}},
        {**key, "keys": {"ed25519:other": public}},
        {**key, "keys": {"ed25519:c2hvcnQ": "c2hvcnQ"}},
    ):
        with pytest.raises(InvalidKey):
            cross_signing_public_key(bad, USER, "master")


def test_same_key_ignores_signatures_and_unsigned():
    keys = _signed_device()
    assert same_key(keys, {**keys, "signatures": {}, "unsigned": {"x": 1}})
    assert not same_key(keys, {**keys, "algorithms": ["other"]})


_sessions = st.fixed_dictionaries({
    "is_verified": st.booleans(),
    "first_message_index": st.integers(0, 5),
    "forwarded_count": st.integers(0, 5),
})


@given(_sessions, _sessions)
def test_backup_replacement_is_a_strict_order(a, b):
    """Never both replace each other; a verified key is never replaced by an unverified one."""
    assert not (better_backup_session(a, b) and better_backup_session(b, a))
    assert not better_backup_session(a, a)
    if a["is_verified"] and not b["is_verified"]:
        assert not better_backup_session(a, b)
    if a["is_verified"] == b["is_verified"] and b["first_message_index"] < a["first_message_index"]:
        assert better_backup_session(a, b)
