"""Server key responses: publishing, parsing and notary co-signatures."""

from __future__ import annotations

import pytest

from homeserver.core.server_keys import (
    InvalidKeyResponse,
    check_notary_signature,
    own_key_response,
    parse_key_response,
)
from homeserver.core.signing import sign_json, signing_key_from_seed

KEY = signing_key_from_seed(b"\x01" * 32, "a1")
NOTARY = signing_key_from_seed(b"\x02" * 32, "n1")


def test_own_response_parses_back():
    response = own_key_response("a.example", KEY, 5000)
    (key,) = parse_key_response(response, "a.example")
    assert (key.key_id, key.key, key.valid_until_ts, key.old) == ("ed25519:a1", KEY.public_key_base64, 5000, False)


def test_old_keys_carry_their_expiry():
    response = dict(own_key_response("a.example", KEY, 5000))
    response["old_verify_keys"] = {"ed25519:old": {"key": NOTARY.public_key_base64, "expired_ts": 1000}}
    response = sign_json({k: v for k, v in response.items() if k != "signatures"}, "a.example", KEY)
    keys = {k.key_id: k for k in parse_key_response(response, "a.example")}
    assert keys["ed25519:old"].old and keys["ed25519:old"].valid_until_ts == 1000


@pytest.mark.parametrize("change", [
    lambda r: {**r, "server_name": "b.example"},
    lambda r: {**r, "valid_until_ts": 6000},  # no longer what was signed
    lambda r: {k: v for k, v in r.items() if k != "signatures"},
    lambda r: {**r, "verify_keys": {}},
    lambda r: {**r, "verify_keys": {"ed25519:a1": {"key": "short"}}},
    lambda r: {**r, "old_verify_keys": {"ed25519:x": {"key": KEY.public_key_base64}}},
    lambda r: "not an object",
])
def test_bad_responses_are_refused(change):
    with pytest.raises(InvalidKeyResponse):
        parse_key_response(change(own_key_response("a.example", KEY, 5000)), "a.example")


def test_notary_signature():
    response = own_key_response("a.example", KEY, 5000)
    cosigned = sign_json(response, "notary.example", NOTARY)
    check_notary_signature(cosigned, "notary.example", NOTARY.key_id, NOTARY.public_key_base64)
    with pytest.raises(InvalidKeyResponse):
        check_notary_signature(response, "notary.example", NOTARY.key_id, NOTARY.public_key_base64)
