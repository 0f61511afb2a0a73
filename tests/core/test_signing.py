"""Signing and verification, reproducing the spec's test vectors byte for byte."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from homeserver.core.encoding import decode_base64
from homeserver.core.events import Event
from homeserver.core.room_versions import KNOWN_ROOM_VERSIONS, V1, V10
from homeserver.core.signing import (
    KnownVerifyKey,
    SignatureError,
    hash_and_sign_event,
    servers_required_to_sign,
    sign_json,
    signing_key_from_seed,
    verify_event_signatures,
    verify_json,
)

# spec: Appendices, "Signing Key"
SEED = decode_base64("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1")
KEY = signing_key_from_seed(SEED, "1")


def test_sign_empty_object():
    assert sign_json({}, "domain", KEY) == {
        "signatures": {
            "domain": {
                "ed25519:1": "K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ"
            }
        }
    }


def test_sign_object_with_data():
    assert sign_json({"one": 1, "two": "Two"}, "domain", KEY) == {
        "one": 1,
        "signatures": {
            "domain": {
                "ed25519:1": "KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw"
            }
        },
        "two": "Two",
    }


def test_sign_minimal_event():
    event = {
        "room_id": "!x:domain",
        "sender": "@a:domain",
        "origin": "domain",
        "origin_server_ts": 1000000,
        "signatures": {},
        "hashes": {},
        "type": "X",
        "content": {},
        "prev_events": [],
        "auth_events": [],
        "depth": 3,
        "unsigned": {"age_ts": 1000000},
    }
    signed = hash_and_sign_event(event, "domain", KEY, V1)
    assert signed["hashes"] == {"sha256": "5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos"}
    assert signed["signatures"] == {
        "domain": {
            "ed25519:1": "KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg"
        }
    }
    assert signed["unsigned"] == {"age_ts": 1000000}


def test_sign_event_with_redactable_content():
    event = {
        "content": {"body": "Here is the message content"},
        "event_id": "$0:domain",
        "origin": "domain",
        "origin_server_ts": 1000000,
        "type": "m.room.message",
        "room_id": "!r:domain",
        "sender": "@u:domain",
        "signatures": {},
        "unsigned": {"age_ts": 1000000},
    }
    signed = hash_and_sign_event(event, "domain", KEY, V1)
    assert signed["hashes"] == {"sha256": "onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g"}
    assert signed["signatures"]["domain"]["ed25519:1"] == (
        "Wm+VzmOUOz08Ds+0NTWb1d4CZrVsJSikkeRxh6aCcUwu6pNC78FunoD7KNWzqFn241eYHYMGCA5McEiVPdhzBA"
    )


def test_verify_rejects_tampering_and_wrong_keys():
    signed = sign_json({"one": 1}, "domain", KEY)
    verify_json(signed, "domain", "ed25519:1", KEY.verify_key)
    with pytest.raises(SignatureError):
        verify_json({**signed, "one": 2}, "domain", "ed25519:1", KEY.verify_key)
    with pytest.raises(SignatureError):
        verify_json(signed, "other", "ed25519:1", KEY.verify_key)
    other = signing_key_from_seed(b"\x01" * 32, "1")
    with pytest.raises(SignatureError):
        verify_json(signed, "domain", "ed25519:1", other.verify_key)
    bad = {**signed, "signatures": {"domain": {"ed25519:1": "!!!"}}}
    with pytest.raises(SignatureError):
        verify_json(bad, "domain", "ed25519:1", KEY.verify_key)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.text(max_size=8).filter(lambda k: k not in ("signatures", "unsigned")), json_values, max_size=6))
def test_sign_then_verify_round_trips(obj):
    signed = sign_json(obj, "example.org", KEY)
    verify_json(signed, "example.org", "ed25519:1", KEY.verify_key)
    # Unsigned data may change without breaking the signature.
    verify_json({**signed, "unsigned": {"age": 5}}, "example.org", "ed25519:1", KEY.verify_key)
    tampered = dict(signed)
    tampered["__extra__"] = 1
    with pytest.raises(SignatureError):
        verify_json(tampered, "example.org", "ed25519:1", KEY.verify_key)


def _signed_event(version, **overrides):
    pdu = {
        "room_id": "!r:a.example",
        "sender": "@u:a.example",
        "type": "m.room.message",
        "content": {"body": "hi"},
        "origin_server_ts": 1000,
        "depth": 2,
        "prev_events": [],
        "auth_events": [],
        **overrides,
    }
    return Event(hash_and_sign_event(pdu, "a.example", KEY, version), version)


@pytest.mark.parametrize("identifier", ["3", "10", "11", "12"])
def test_event_signature_verification(identifier):
    version = KNOWN_ROOM_VERSIONS[identifier]
    event = _signed_event(version)
    keys = {("a.example", "ed25519:1"): KnownVerifyKey(KEY.verify_key, 10**13)}
    verify_event_signatures(event, keys)
    with pytest.raises(SignatureError):
        verify_event_signatures(event, {})


def test_expired_keys_are_ignored_from_v5():
    event = _signed_event(V10)
    expired = {("a.example", "ed25519:1"): KnownVerifyKey(KEY.verify_key, 999)}
    with pytest.raises(SignatureError):
        verify_event_signatures(event, expired)


def test_redacted_copy_still_verifies():
    from homeserver.core.redaction import redact

    event = _signed_event(V10)
    redacted = Event(redact(event.pdu(), V10), V10)
    keys = {("a.example", "ed25519:1"): KnownVerifyKey(KEY.verify_key, 10**13)}
    verify_event_signatures(redacted, keys)


def test_required_signers():
    v1_event = Event({"event_id": "$1:b.example", "sender": "@u:a.example", "type": "m.room.message", "content": {}}, V1)
    assert servers_required_to_sign(v1_event) == {"a.example", "b.example"}
    join = _signed_event(
        V10,
        type="m.room.member",
        state_key="@u:a.example",
        content={"membership": "join", "join_authorised_via_users_server": "@mod:c.example"},
    )
    assert servers_required_to_sign(join) == {"a.example", "c.example"}
