"""Structural validation of PDUs per room version (spec: server-server API,
PDU definitions; client-server API, "Size limits")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeserver.core.canonical_json import (
    MAX_PDU_BYTES,
    MAX_SAFE_INTEGER,
    InvalidJSON,
    check_json_value,
    encode_canonical_json,
)
from homeserver.core.identifiers import is_valid_event_id, is_valid_room_id, is_valid_user_id
from homeserver.core.room_versions import EventIdFormat, RoomVersion

MAX_KEY_BYTES = 255
MAX_DEPTH_V1 = 2**63 - 1
#: Bounds on references that keep a single event's processing cheap.
MAX_PREV_EVENTS = 20
MAX_AUTH_EVENTS = 10


class InvalidPDU(ValueError):
    """The PDU does not have the shape its room version requires."""


class PDUTooLarge(InvalidPDU):
    """The PDU's canonical JSON is over :data:`MAX_PDU_BYTES`."""


def validate_pdu(pdu: Any, room_version: RoomVersion) -> None:
    """Raise :class:`InvalidPDU` (with the reason) unless ``pdu`` is well formed.

    Besides the shape, the values must follow Hearth's JSON policy (nesting depth,
    no U+0000, the room version's number rules; see
    :mod:`homeserver.core.canonical_json`): local and remote events alike.
    """
    if not isinstance(pdu, Mapping):
        raise InvalidPDU("a PDU must be a JSON object")
    fmt = room_version.event_format
    try:
        check_json_value(pdu, safe_integers=fmt.strict_canonical_json, floats=not fmt.strict_canonical_json)
        size = len(encode_canonical_json(pdu))
    except InvalidJSON as e:
        raise InvalidPDU(str(e)) from None
    if size > MAX_PDU_BYTES:
        raise PDUTooLarge(f"PDU is {size} bytes; the limit is {MAX_PDU_BYTES}")

    event_type = _string(pdu, "type")
    sender = _string(pdu, "sender")
    if not is_valid_user_id(sender):
        raise InvalidPDU("sender is not a user ID")
    _integer(pdu, "origin_server_ts")
    depth = _integer(pdu, "depth")
    max_depth = MAX_SAFE_INTEGER if fmt.strict_canonical_json else MAX_DEPTH_V1
    if not 0 <= depth <= max_depth:
        raise InvalidPDU("depth is out of range")
    if not isinstance(pdu.get("content"), Mapping):
        raise InvalidPDU("content must be an object")
    if "state_key" in pdu:
        _string(pdu, "state_key", allow_empty=True)
    hashes = pdu.get("hashes")
    if not isinstance(hashes, Mapping) or not isinstance(hashes.get("sha256"), str):
        raise InvalidPDU("hashes.sha256 must be a string")
    signatures = pdu.get("signatures")
    if not isinstance(signatures, Mapping) or not all(isinstance(v, Mapping) for v in signatures.values()):
        raise InvalidPDU("signatures must be an object of objects")
    if "unsigned" in pdu and not isinstance(pdu["unsigned"], Mapping):
        raise InvalidPDU("unsigned must be an object")

    is_v12_create = event_type == "m.room.create" and room_version.auth.room_create_event_id_as_room_id
    if is_v12_create:
        if "room_id" in pdu:
            raise InvalidPDU("a create event has no room_id in this room version")
    elif not is_valid_room_id(_string(pdu, "room_id")):
        raise InvalidPDU("room_id is not a room ID")
    if fmt.event_id_format is EventIdFormat.SERVER_GENERATED:
        if not is_valid_event_id(_string(pdu, "event_id")):
            raise InvalidPDU("event_id is not an event ID")

    _references(pdu, "prev_events", MAX_PREV_EVENTS, pairs=fmt.reference_pairs)
    _references(pdu, "auth_events", MAX_AUTH_EVENTS, pairs=fmt.reference_pairs)


def _string(pdu: Mapping[str, Any], key: str, *, allow_empty: bool = False) -> str:
    value = pdu.get(key)
    if not isinstance(value, str) or (not value and not allow_empty):
        raise InvalidPDU(f"{key} must be a string")
    if len(value.encode("utf-8")) > MAX_KEY_BYTES:
        raise InvalidPDU(f"{key} is longer than {MAX_KEY_BYTES} bytes")
    return value


def _integer(pdu: Mapping[str, Any], key: str) -> int:
    value = pdu.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidPDU(f"{key} must be an integer")
    return value


def _references(pdu: Mapping[str, Any], key: str, limit: int, *, pairs: bool) -> None:
    refs = pdu.get(key)
    if not isinstance(refs, list):
        raise InvalidPDU(f"{key} must be an array")
    if len(refs) > limit:
        raise InvalidPDU(f"{key} has more than {limit} entries")
    for ref in refs:
        if pairs:
            if not (isinstance(ref, list) and len(ref) == 2 and isinstance(ref[0], str) and isinstance(ref[1], Mapping)):
                raise InvalidPDU(f"{key} entries must be [event_id, hashes] pairs")
            ref = ref[0]
        if not isinstance(ref, str) or not is_valid_event_id(ref):
            raise InvalidPDU(f"{key} holds something that is not an event ID")
