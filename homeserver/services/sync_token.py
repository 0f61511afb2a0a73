"""Sync tokens: one position per stream, encoded as a compact opaque string.

A token stays valid across restarts because every position is a durable
stream position in the database (typing, the one in-memory stream, restarts
from zero and a token from before a restart simply sees no typing changes).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from homeserver.errors import MatrixError
from homeserver.parsing import parse_int


@dataclass(frozen=True)
class SyncToken:
    events: int = 0
    account_data: int = 0
    to_device: int = 0
    receipts: int = 0
    typing: int = 0
    presence: int = 0
    device_lists: int = 0

    def encode(self) -> str:
        return "s" + "_".join(str(getattr(self, f.name)) for f in fields(self))

    @classmethod
    def decode(cls, raw: str) -> "SyncToken":
        """Parse a token; older tokens with fewer positions are padded with zeros."""
        names = [f.name for f in fields(cls)]
        parts = raw[1:].split("_", len(names))
        if not raw.startswith("s") or len(parts) > len(names):
            raise MatrixError("M_INVALID_PARAM", "Invalid sync token")
        values = [parse_int(p, "A sync token position", minimum=0) for p in parts]
        return cls(**dict(zip(names, values)))

    def advance(self, **positions: int) -> "SyncToken":
        return replace(self, **positions)
