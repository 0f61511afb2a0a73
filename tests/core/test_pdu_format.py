"""Structural PDU validation per room version."""

from __future__ import annotations

import pytest

from homeserver.core.hashing import add_content_hash
from homeserver.core.pdu_format import InvalidPDU, validate_pdu
from homeserver.core.room_versions import KNOWN_ROOM_VERSIONS

EID = "$" + "A" * 43


def good(version: str, **overrides):
    v = KNOWN_ROOM_VERSIONS[version]
    pdu = {
        "room_id": "!r:example.org", "sender": "@a:example.org", "type": "m.room.message",
        "content": {"body": "x"}, "origin_server_ts": 1, "depth": 2, "signatures": {"example.org": {}},
        "prev_events": [[EID, {}]] if v.event_format.reference_pairs else [EID],
        "auth_events": [[EID, {}]] if v.event_format.reference_pairs else [EID],
    }
    if v.event_format.reference_pairs:
        pdu["event_id"] = "$e:example.org"
    return add_content_hash({**pdu, **overrides})


@pytest.mark.parametrize("version", sorted(KNOWN_ROOM_VERSIONS, key=int))
def test_valid_pdus(version):
    validate_pdu(good(version), KNOWN_ROOM_VERSIONS[version])


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"type": 5}, "type"),
        ({"type": "x" * 256}, "type"),
        ({"sender": "nobody"}, "sender"),
        ({"content": []}, "content"),
        ({"depth": -1}, "depth"),
        ({"depth": 2**53}, "out of range"),
        ({"origin_server_ts": "now"}, "origin_server_ts"),
        ({"state_key": "k" * 256}, "state_key"),
        ({"room_id": "not-a-room"}, "room_id"),
        ({"prev_events": "x"}, "prev_events"),
        ({"prev_events": [EID] * 21}, "prev_events"),
        ({"auth_events": ["not-an-id"]}, "auth_events"),
        ({"content": {"n": 1.5}}, "float"),
        ({"content": {"big": "x" * 70000}}, "bytes"),
        ({"signatures": {"a": "b"}}, "signatures"),
        ({"unsigned": []}, "unsigned"),
        ({"content": {"body": "a\x00b"}}, "U\\+0000"),
        ({"content": {"a\x00": 1}}, "U\\+0000"),
        ({"state_key": "\x00"}, "U\\+0000"),
    ],
)
def test_invalid_pdus_v10(overrides, reason):
    pdu = good("10", **overrides)
    with pytest.raises(InvalidPDU, match=reason):
        validate_pdu(pdu, KNOWN_ROOM_VERSIONS["10"])


@pytest.mark.parametrize("version", ["5", "10"])
def test_nesting_depth_is_limited(version):
    from homeserver.core.canonical_json import MAX_JSON_DEPTH

    def nested(levels):
        value: dict = {}
        for _ in range(levels - 1):
            value = {"a": value}
        return value

    validate_pdu(good(version, content=nested(MAX_JSON_DEPTH - 1)), KNOWN_ROOM_VERSIONS[version])
    with pytest.raises(InvalidPDU, match="nested"):
        validate_pdu(good(version, content=nested(MAX_JSON_DEPTH)), KNOWN_ROOM_VERSIONS[version])
    with pytest.raises(InvalidPDU, match="nested"):
        validate_pdu(good(version, content=nested(300)), KNOWN_ROOM_VERSIONS[version])


def test_oversize_is_its_own_error():
    from homeserver.core.pdu_format import PDUTooLarge

    with pytest.raises(PDUTooLarge):
        validate_pdu(good("10", content={"big": "x" * 70000}), KNOWN_ROOM_VERSIONS["10"])
    with pytest.raises(InvalidPDU) as long_key:
        validate_pdu(good("10", state_key="k" * 256), KNOWN_ROOM_VERSIONS["10"])
    assert not isinstance(long_key.value, PDUTooLarge)


def test_missing_hashes():
    pdu = good("10")
    del pdu["hashes"]
    with pytest.raises(InvalidPDU, match="hashes"):
        validate_pdu(pdu, KNOWN_ROOM_VERSIONS["10"])


def test_floats_allowed_before_v6():
    validate_pdu(good("5", content={"n": 1.5}), KNOWN_ROOM_VERSIONS["5"])


def test_v1_needs_event_id_and_pairs():
    pdu = good("1")
    del pdu["event_id"]
    with pytest.raises(InvalidPDU, match="event_id"):
        validate_pdu(pdu, KNOWN_ROOM_VERSIONS["1"])
    with pytest.raises(InvalidPDU, match="pairs"):
        validate_pdu(good("1", prev_events=[EID]), KNOWN_ROOM_VERSIONS["1"])


def test_v12_create_has_no_room_id():
    v12 = KNOWN_ROOM_VERSIONS["12"]
    create = good("12", type="m.room.create", state_key="", prev_events=[], auth_events=[])
    with pytest.raises(InvalidPDU, match="room_id"):
        validate_pdu(create, v12)
    del create["room_id"]
    validate_pdu(create, v12)
    message = good("12")
    del message["room_id"]
    with pytest.raises(InvalidPDU, match="room_id"):
        validate_pdu(message, v12)
