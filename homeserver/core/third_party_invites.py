"""Checking the signature on a third-party invite against the public keys in the
room's ``m.room.third_party_invite`` event (spec: auth rules for ``invite``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeserver.core.signing import SignatureError, decode_verify_key, verify_json


def third_party_invite_signed_by_room_key(signed: Mapping[str, Any], invite_content: Mapping[str, Any]) -> bool:
    """Whether any signature in ``signed`` verifies with any key of the invite event.

    Keys are ``public_key`` and the ``public_key`` of each entry of ``public_keys``.
    """
    keys: list[str] = []
    if isinstance(invite_content.get("public_key"), str):
        keys.append(invite_content["public_key"])
    for entry in invite_content.get("public_keys") or []:
        if isinstance(entry, Mapping) and isinstance(entry.get("public_key"), str):
            keys.append(entry["public_key"])
    signatures = signed.get("signatures")
    if not isinstance(signatures, Mapping):
        return False
    for server, by_key in signatures.items():
        if not isinstance(by_key, Mapping):
            continue
        for key_id in by_key:
            for encoded in keys:
                try:
                    verify_json(signed, server, key_id, decode_verify_key(encoded))
                except (SignatureError, ValueError):
                    continue
                return True
    return False
