"""Reading and writing the server's ed25519 signing key file (Synapse's format:
one line ``ed25519 <version> <unpadded base64 seed>``)."""

from __future__ import annotations

import os
import secrets
import string
from pathlib import Path

from homeserver.core.encoding import decode_base64, encode_base64
from homeserver.core.signing import ServerSigningKey, signing_key_from_seed


class SigningKeyError(Exception):
    """The key file is missing or unreadable; the message says which and why."""


def generate_signing_key_file(path: Path) -> ServerSigningKey:
    """Write a fresh key with a random version, readable only by its owner."""
    version = "a_" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(4))
    seed = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(f"ed25519 {version} {encode_base64(seed)}\n")
    return signing_key_from_seed(seed, version)


def load_signing_key(path: Path) -> ServerSigningKey:
    """The first ed25519 key in the file."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise SigningKeyError(f"signing_key_path: cannot read {path}: {e.strerror}") from None
    for line in lines:
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 3 or parts[0] != "ed25519":
            break
        try:
            seed = decode_base64(parts[2])
        except ValueError:
            break
        if len(seed) != 32:
            break
        return signing_key_from_seed(seed, parts[1])
    raise SigningKeyError(f"signing_key_path: {path} is not a valid ed25519 signing key file")
