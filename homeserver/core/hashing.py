"""Content hashes, reference hashes and hash-derived event and room IDs
(spec: server-server API, "Signing Events"; room versions, "Event IDs")."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from homeserver.core.canonical_json import encode_canonical_json
from homeserver.core.encoding import decode_base64, encode_base64
from homeserver.core.redaction import redact
from homeserver.core.room_versions import EventIdFormat, RoomVersion


def compute_content_hash(pdu: Mapping[str, Any]) -> bytes:
    """SHA-256 of the canonical JSON of the event without ``unsigned``, ``signatures`` and ``hashes``."""
    stripped = {k: v for k, v in pdu.items() if k not in ("unsigned", "signatures", "hashes")}
    return hashlib.sha256(encode_canonical_json(stripped)).digest()


def add_content_hash(pdu: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the event with ``hashes.sha256`` set."""
    hashed = dict(pdu)
    hashed["hashes"] = {"sha256": encode_base64(compute_content_hash(pdu))}
    return hashed


def check_content_hash(pdu: Mapping[str, Any]) -> bool:
    """Whether ``hashes.sha256`` matches the event's content hash."""
    hashes = pdu.get("hashes")
    if not isinstance(hashes, Mapping) or not isinstance(hashes.get("sha256"), str):
        return False
    try:
        claimed = decode_base64(hashes["sha256"])
    except ValueError:
        return False
    return claimed == compute_content_hash(pdu)


def compute_reference_hash(pdu: Mapping[str, Any], room_version: RoomVersion) -> bytes:
    """SHA-256 of the redacted event without ``signatures``, ``unsigned`` and ``age_ts``."""
    redacted = redact(pdu, room_version)
    for key in ("signatures", "unsigned", "age_ts"):
        redacted.pop(key, None)
    return hashlib.sha256(encode_canonical_json(redacted)).digest()


def compute_event_id(pdu: Mapping[str, Any], room_version: RoomVersion) -> str:
    """``$`` + the reference hash, in the alphabet of the room version (v3+ only)."""
    fmt = room_version.event_format.event_id_format
    if fmt is EventIdFormat.SERVER_GENERATED:
        raise ValueError(f"room version {room_version.identifier} events carry their own IDs")
    urlsafe = fmt is EventIdFormat.REFERENCE_HASH_URLSAFE
    return "$" + encode_base64(compute_reference_hash(pdu, room_version), urlsafe=urlsafe)


def room_id_from_create_event_id(event_id: str) -> str:
    """Room version 12: the room ID is the create event's ID with the ``!`` sigil."""
    if not event_id.startswith("$"):
        raise ValueError(f"not an event ID: {event_id!r}")
    return "!" + event_id[1:]
