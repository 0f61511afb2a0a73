"""Building a complete, hashed, signed and authorised event for any room version."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from homeserver.core.auth_rules import AuthError, auth_types_for_event, check_auth_rules
from homeserver.core.events import Event
from homeserver.core.hashing import compute_event_id, room_id_from_create_event_id
from homeserver.core.room_versions import EventIdFormat, RoomVersion
from homeserver.core.signing import ServerSigningKey, hash_and_sign_event

StateKey = tuple[str, str]


def _random_local_id() -> str:
    return secrets.token_urlsafe(18)


def build_event(
    *,
    room_version: RoomVersion,
    room_id: str | None,
    sender: str,
    event_type: str,
    content: Mapping[str, Any],
    prev_event_ids: Sequence[str],
    depth: int,
    auth_state: Mapping[StateKey, Event],
    origin_server_ts: int,
    server_name: str,
    signing_key: ServerSigningKey,
    state_key: str | None = None,
    redacts: str | None = None,
    prev_hashes: Mapping[str, Mapping[str, Any]] | None = None,
    random_id: Callable[[], str] = _random_local_id,
) -> Event:
    """A new event from this server, checked against ``auth_state``.

    ``auth_state`` is the current state relevant to the event (at least what
    :func:`auth_types_for_event` selects, plus the create event). The event's
    ``auth_events`` are chosen from it; the result is hashed, signed, given its
    ID (server-generated in v1/v2, the reference hash from v3) and authorised
    with :func:`check_auth_rules`, whose :class:`AuthError` propagates.
    ``room_id`` is ``None`` only for a v12 create event, whose ID names the room.
    ``prev_hashes`` holds the content hashes of the prev events, which room
    versions 1 and 2 write next to their IDs.
    """
    fmt = room_version.event_format
    pdu: dict[str, Any] = {
        "type": event_type,
        "sender": sender,
        "content": dict(content),
        "origin_server_ts": origin_server_ts,
        "depth": depth,
    }
    if room_id is not None:
        pdu["room_id"] = room_id
    elif not (event_type == "m.room.create" and room_version.auth.room_create_event_id_as_room_id):
        raise ValueError("room_id is required except for a room version 12 create event")
    if state_key is not None:
        pdu["state_key"] = state_key
    if redacts is not None:
        if fmt.redacts_in_content:
            pdu["content"]["redacts"] = redacts
        pdu["redacts"] = redacts  # older servers look at the top level; v11+ keep it for compatibility
    if room_version.redaction.keep_origin_membership_prev_state:
        pdu["origin"] = server_name

    wanted = auth_types_for_event(room_version, event_type, sender, state_key, content)
    auth_ids = sorted(
        auth_state[key].event_id for key in wanted if key in auth_state
    )
    hashes = {**(prev_hashes or {}), **{e.event_id: e.hashes for e in auth_state.values()}}
    pdu["auth_events"] = references(auth_ids, room_version, hashes)
    pdu["prev_events"] = references(prev_event_ids, room_version, hashes)

    if fmt.event_id_format is EventIdFormat.SERVER_GENERATED:
        pdu["event_id"] = server_event_id(server_name, random_id)
    signed = hash_and_sign_event(pdu, server_name, signing_key, room_version)
    event_id = (
        signed["event_id"]
        if fmt.event_id_format is EventIdFormat.SERVER_GENERATED
        else compute_event_id(signed, room_version)
    )
    event = Event(signed, room_version, event_id=event_id)
    if room_id is None:
        # v12 create: its room_id is derived from its own ID.
        assert event.room_id == room_id_from_create_event_id(event_id)
    check_auth_rules(event, auth_state)
    return event


def references(event_ids: Sequence[str], room_version: RoomVersion, hashes: Mapping[str, Mapping[str, Any]]) -> list[Any]:
    """``prev_events``/``auth_events`` as the room version writes them: event IDs, or
    (room versions 1 and 2) ``[event_id, {"sha256": hash}]`` pairs, with the hashes
    of ``hashes`` that are known."""
    if not room_version.event_format.reference_pairs:
        return list(event_ids)
    return [[eid, {k: v for k, v in hashes.get(eid, {}).items() if k == "sha256"}] for eid in event_ids]


def server_event_id(server_name: str, random_id: Callable[[], str] = _random_local_id) -> str:
    """A new event ID chosen by this server (room versions 1 and 2)."""
    return f"${random_id()}:{server_name}"


__all__ = ["AuthError", "build_event", "references", "server_event_id"]
