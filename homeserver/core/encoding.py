"""Unpadded Base64 (spec: Appendices, "Unpadded Base64" and its URL-safe variant)."""

from __future__ import annotations

import base64
import binascii


def encode_base64(data: bytes, *, urlsafe: bool = False) -> str:
    """Unpadded standard (or URL-safe) Base64."""
    encoded = base64.urlsafe_b64encode(data) if urlsafe else base64.b64encode(data)
    return encoded.rstrip(b"=").decode("ascii")


def decode_base64(text: str) -> bytes:
    """Decode Base64 in either alphabet, padded or not; ``ValueError`` if invalid."""
    if not isinstance(text, str):
        raise ValueError("base64 input must be a string")
    cleaned = text.rstrip("=").replace("-", "+").replace("_", "/")
    if len(cleaned) % 4 == 1:
        raise ValueError("invalid base64 length")
    try:
        return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)
    except binascii.Error as e:
        raise ValueError(f"invalid base64: {e}") from None
