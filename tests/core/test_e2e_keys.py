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
    place_device_list_update,
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


@pytest.mark.parametrize(("cached", "stream_id", "prev_ids", "expected"), [
    (10, 11, [10], "next"),          # the update right after the copy
    (10, 14, [10], "next"),          # stream IDs need not be consecutive
    (10, 12, [], "next"),            # the first of a sequence names nothing before it
    (10, 12, [8, 10], "next"),       # several earlier updates, all in the copy
    (10, 12, [11], "gap"),           # follows an update this server never got
    (10, 13, [10, 11], "gap"),
    (10, 10, [9], "old"),            # already in the copy
    (10, 7, [20], "old"),
])
def test_device_list_updates_are_placed_against_the_cached_copy(cached, stream_id, prev_ids, expected):
    assert place_device_list_update(cached, stream_id, prev_ids) == expected


@given(st.integers(0, 10**6), st.lists(st.integers(0, 10**6), max_size=5), st.integers(1, 1000))
def test_applying_updates_in_order_never_sees_a_gap(start, gaps, step):
    """A copy that applies every update of a serial sequence in turn never needs a refetch."""
    cached = start
    for extra in gaps:
        update = cached + step + extra
        assert place_device_list_update(cached, update, [cached]) == "next"
        cached = update
