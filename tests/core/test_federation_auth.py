"""Signing and verifying federation requests."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from homeserver.core.federation_auth import (
    InvalidAuthorization,
    XMatrix,
    authorization_header,
    parse_authorization,
    verify_request,
)
from homeserver.core.signing import SignatureError, signing_key_from_seed

KEY = signing_key_from_seed(b"\x07" * 32, "k1")
OTHER = signing_key_from_seed(b"\x08" * 32, "k1")


def test_round_trip_and_what_the_signature_covers():
    body = {"pdus": [], "edus": [{"edu_type": "m.typing"}]}
    header = authorization_header("PUT", "/_matrix/federation/v1/send/1?x=1", "a.example", "b.example", body, KEY)
    assert header.startswith('X-Matrix origin="a.example",destination="b.example",key="ed25519:k1",sig="')
    auth = parse_authorization(header)
    verify_request("PUT", "/_matrix/federation/v1/send/1?x=1", auth, "b.example", body, KEY.verify_key)
    for method, uri, destination, content, key in (
        ("POST", "/_matrix/federation/v1/send/1?x=1", "b.example", body, KEY.verify_key),
        ("PUT", "/_matrix/federation/v1/send/2?x=1", "b.example", body, KEY.verify_key),
        ("PUT", "/_matrix/federation/v1/send/1?x=1", "c.example", body, KEY.verify_key),
        ("PUT", "/_matrix/federation/v1/send/1?x=1", "b.example", {"pdus": []}, KEY.verify_key),
        ("PUT", "/_matrix/federation/v1/send/1?x=1", "b.example", body, OTHER.verify_key),
    ):
        with pytest.raises(SignatureError):
            verify_request(method, uri, auth, destination, content, key)


def test_a_request_without_body_is_signed_without_content():
    header = authorization_header("GET", "/_matrix/federation/v1/version", "a.example", "b.example", None, KEY)
    auth = parse_authorization(header)
    verify_request("GET", "/_matrix/federation/v1/version", auth, "b.example", None, KEY.verify_key)
    with pytest.raises(SignatureError):
        verify_request("GET", "/_matrix/federation/v1/version", auth, "b.example", {}, KEY.verify_key)


def test_header_parsing_follows_rfc_9110():
    parsed = parse_authorization('X-Matrix  Origin=a.example:8448 , key="ed25519:k1",sig="c2ln" ,destination="b.ex\\"x",extra=1')
    assert parsed == XMatrix("a.example:8448", 'b.ex"x', "ed25519:k1", "c2ln")
    assert parse_authorization('x-matrix origin="a",key="ed25519:k",sig="s"').destination is None
    for bad in ("Bearer abc", 'X-Matrix origin="a",key="k"', "X-Matrix", 'X-Matrix origin="a,key="k",sig="s"', 'X-Matrix origin=="a"'):
        with pytest.raises(InvalidAuthorization):
            parse_authorization(bad)


@given(st.dictionaries(st.text(max_size=5), st.integers(-1000, 1000), max_size=4), st.text(alphabet="abc/?=&", max_size=20))
def test_sign_then_verify_round_trips(content, suffix):
    uri = "/_matrix/federation/v1/" + suffix
    auth = parse_authorization(authorization_header("POST", uri, "a.example", "b.example", content, KEY))
    verify_request("POST", uri, auth, "b.example", content, KEY.verify_key)
