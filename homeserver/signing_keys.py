"""Reading and writing the server's ed25519 signing key file (Synapse's format:
one line ``ed25519 <version> <unpadded base64 seed>``)."""

from __future__ import annotations

import os
import secrets
import string
from pathlib import Path

from signedjson.key import generate_signing_key, read_signing_keys, write_signing_keys
from nacl.signing import SigningKey


class SigningKeyError(Exception):
    """The key file is missing or unreadable; the message says which and why."""


def generate_signing_key_file(path: Path) -> None:
    """Write a fresh key with a random version, readable only by its owner."""
    version = "a_" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(4))
    key = generate_signing_key(version)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        write_signing_keys(f, [key])


def load_signing_key(path: Path) -> SigningKey:
    """The first key in the file (it carries ``.alg`` and ``.version`` attributes)."""
    try:
        with open(path, encoding="utf-8") as f:
            keys = read_signing_keys(f)
    except OSError as e:
        raise SigningKeyError(f"signing_key_path: cannot read {path}: {e.strerror}") from None
    except Exception:
        raise SigningKeyError(f"signing_key_path: {path} is not a valid signing key file") from None
    if not keys:
        raise SigningKeyError(f"signing_key_path: {path} holds no key")
    return keys[0]
