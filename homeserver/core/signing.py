"""Signing and verifying JSON and events with ed25519 server keys
(spec: Appendices, "Signing JSON"; server-server API, "Signing Events")."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from homeserver.core.canonical_json import encode_canonical_json
from homeserver.core.encoding import decode_base64, encode_base64
from homeserver.core.events import Event
from homeserver.core.hashing import add_content_hash
from homeserver.core.identifiers import get_domain_from_id
from homeserver.core.redaction import redact
from homeserver.core.room_versions import RoomVersion


class SignatureError(Exception):
    """A signature is missing, malformed or does not verify."""


@dataclass(frozen=True)
class ServerSigningKey:
    """This server's private key and its key ID (``ed25519:<version>``)."""

    key: SigningKey
    key_id: str

    @property
    def verify_key(self) -> VerifyKey:
        return self.key.verify_key

    @property
    def public_key_base64(self) -> str:
        return encode_base64(bytes(self.key.verify_key))


@dataclass(frozen=True)
class KnownVerifyKey:
    """A remote server's public key and the time (ms) up to which it may be trusted."""

    key: VerifyKey
    valid_until_ts: int


def signing_key_from_seed(seed: bytes, version: str) -> ServerSigningKey:
    return ServerSigningKey(SigningKey(seed), f"ed25519:{version}")


def decode_verify_key(key_base64: str) -> VerifyKey:
    """A public key from unpadded Base64; ``ValueError`` if it is not 32 bytes."""
    raw = decode_base64(key_base64)
    if len(raw) != 32:
        raise ValueError("an ed25519 public key has 32 bytes")
    return VerifyKey(raw)


def sign_json(obj: Mapping[str, Any], server_name: str, signing_key: ServerSigningKey) -> dict[str, Any]:
    """A copy of ``obj`` with this server's signature added (``unsigned`` untouched)."""
    to_sign = {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}
    signature = signing_key.key.sign(encode_canonical_json(to_sign)).signature
    signed = dict(obj)
    signatures = {name: dict(sigs) for name, sigs in dict(obj.get("signatures", {})).items()}
    signatures.setdefault(server_name, {})[signing_key.key_id] = encode_base64(signature)
    signed["signatures"] = signatures
    return signed


def verify_json(obj: Mapping[str, Any], server_name: str, key_id: str, verify_key: VerifyKey) -> None:
    """Raise :class:`SignatureError` unless ``server_name`` signed ``obj`` with ``key_id``."""
    signatures = obj.get("signatures")
    if not isinstance(signatures, Mapping) or not isinstance(signatures.get(server_name), Mapping):
        raise SignatureError(f"no signatures from {server_name}")
    encoded = signatures[server_name].get(key_id)
    if not isinstance(encoded, str):
        raise SignatureError(f"no signature from {server_name} with key {key_id}")
    try:
        signature = decode_base64(encoded)
    except ValueError:
        raise SignatureError(f"malformed signature from {server_name}") from None
    message = encode_canonical_json({k: v for k, v in obj.items() if k not in ("signatures", "unsigned")})
    try:
        verify_key.verify(message, signature)
    except (BadSignatureError, ValueError):
        raise SignatureError(f"bad signature from {server_name} with key {key_id}") from None


def hash_and_sign_event(
    pdu: Mapping[str, Any], server_name: str, signing_key: ServerSigningKey, room_version: RoomVersion
) -> dict[str, Any]:
    """Add the content hash, then sign the redacted event and copy the signature back."""
    hashed = add_content_hash(pdu)
    signed_redacted = sign_json(redact(hashed, room_version), server_name, signing_key)
    hashed["signatures"] = signed_redacted["signatures"]
    return hashed


def servers_required_to_sign(event: Event) -> set[str]:
    """The servers whose signatures an event must carry.

    Always the sender's server; in room versions 1 and 2 also the server named
    in a server-generated event ID; in v8+ a join authorised through
    ``join_authorised_via_users_server`` also needs that user's server.
    (Third-party invites are signed by the inviting server, which is the
    sender's server too.)
    """
    version = event.room_version
    servers = {get_domain_from_id(event.sender)}
    if version.signatures.check_event_id_server:
        servers.add(get_domain_from_id(event.event_id))
    if (
        version.signatures.check_join_authorised_via_users_server
        and event.type == "m.room.member"
        and event.membership == "join"
    ):
        authoriser = event.content.get("join_authorised_via_users_server")
        if isinstance(authoriser, str):
            servers.add(get_domain_from_id(authoriser))
    return servers


def verify_event_signatures(
    event: Event, known_keys: Mapping[tuple[str, str], KnownVerifyKey]
) -> None:
    """Check the signatures an event needs against keys fetched beforehand.

    ``known_keys`` maps ``(server_name, key_id)`` to the key and how long it is
    valid. Unknown keys are skipped; in room versions 5+ so are keys that had
    expired before the event's ``origin_server_ts``. Each required server must
    have at least one valid signature from a usable key, and every usable
    signature must verify.
    """
    redacted = redact(event.pdu(), event.room_version)
    enforce_validity = event.room_version.enforce_key_validity
    signatures = event.signatures if isinstance(event.signatures, Mapping) else {}
    for server in sorted(servers_required_to_sign(event)):
        server_sigs = signatures.get(server)
        if not isinstance(server_sigs, Mapping):
            raise SignatureError(f"event is not signed by {server}")
        verified = False
        for key_id in server_sigs:
            if not isinstance(key_id, str) or not key_id.startswith("ed25519:"):
                continue
            known = known_keys.get((server, key_id))
            if known is None:
                continue
            if enforce_validity and known.valid_until_ts < event.origin_server_ts:
                continue
            verify_json(redacted, server, key_id, known.key)
            verified = True
        if not verified:
            raise SignatureError(f"no signature from a known, valid key of {server}")
