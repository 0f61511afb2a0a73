"""Content hashes, reference hashes and event IDs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from homeserver.core.encoding import decode_base64, encode_base64
from homeserver.core.hashing import (
    add_content_hash,
    check_content_hash,
    compute_event_id,
    compute_reference_hash,
    room_id_from_create_event_id,
)
from homeserver.core.redaction import redact
from homeserver.core.room_versions import KNOWN_ROOM_VERSIONS, V1, V3, V4, V11

BASE = {
    "room_id": "!r:example.org",
    "sender": "@alice:example.org",
    "type": "m.room.message",
    "content": {"body": "hello", "msgtype": "m.text"},
    "origin_server_ts": 1_700_000_000_000,
    "depth": 5,
    "prev_events": ["$prev"],
    "auth_events": ["$auth"],
}


def test_content_hash_round_trip_and_tamper():
    hashed = add_content_hash(BASE)
    assert check_content_hash(hashed)
    assert not check_content_hash({**hashed, "content": {"body": "changed"}})
    assert not check_content_hash(BASE)
    assert not check_content_hash({**hashed, "hashes": {"sha256": "***"}})


def test_content_hash_ignores_unsigned_and_signatures():
    hashed = add_content_hash(BASE)
    assert check_content_hash({**hashed, "unsigned": {"age": 1}, "signatures": {"x": {}}})


def test_event_ids_v3_and_v4_differ_only_in_alphabet():
    pdu = add_content_hash(BASE)
    v3 = compute_event_id(pdu, V3)
    v4 = compute_event_id(pdu, V4)
    assert v3.startswith("$") and v4.startswith("$")
    assert len(v3) == len(v4) == 44
    assert v3.replace("+", "-").replace("/", "_") == v4
    assert decode_base64(v3[1:]) == decode_base64(v4[1:]) == compute_reference_hash(pdu, V4)


def test_event_id_needs_hash_version():
    with pytest.raises(ValueError):
        compute_event_id(BASE, V1)


def test_event_id_ignores_signatures_and_unsigned_but_not_content_hash():
    pdu = add_content_hash(BASE)
    base_id = compute_event_id(pdu, V11)
    assert compute_event_id({**pdu, "signatures": {"a": {"b": "c"}}, "unsigned": {"age": 3}}, V11) == base_id
    assert compute_event_id(add_content_hash({**BASE, "content": {"body": "other"}}), V11) != base_id


def test_room_id_from_create_event():
    assert room_id_from_create_event_id("$abc") == "!abc"
    with pytest.raises(ValueError):
        room_id_from_create_event_id("!abc")


@given(st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=16), max_size=6), st.sampled_from(sorted(KNOWN_ROOM_VERSIONS)))
def test_redaction_never_changes_reference_hash(content, identifier):
    version = KNOWN_ROOM_VERSIONS[identifier]
    pdu = add_content_hash({**BASE, "content": content})
    once = redact(pdu, version)
    assert redact(once, version) == once
    assert compute_reference_hash(once, version) == compute_reference_hash(pdu, version)


@given(st.binary(max_size=64))
def test_base64_round_trip(data):
    assert decode_base64(encode_base64(data)) == data
    assert decode_base64(encode_base64(data, urlsafe=True)) == data
    assert "=" not in encode_base64(data)
