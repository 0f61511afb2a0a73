"""Media bytes on disk, stored once per content: ``<root>/<sha[:2]>/<sha[2:4]>/<sha>``.

A new file is written under ``<root>/incoming`` while its hash is computed and
then renamed into place, so a reader never sees half a file and two identical
uploads share one file. Files are removed only when no media row refers to
their hash any more (the caller decides).
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path


class TooLarge(Exception):
    """The content is bigger than allowed."""


class MediaFiles:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / sha256

    async def write_stream(self, chunks: AsyncIterator[bytes], max_size: int) -> tuple[str, int]:
        """Store a stream; return its ``(sha256, size)``. :class:`TooLarge` beyond ``max_size`` bytes."""
        incoming = self.root / "incoming"
        incoming.mkdir(parents=True, exist_ok=True)
        temp = incoming / uuid.uuid4().hex
        digest = hashlib.sha256()
        size = 0
        try:
            with open(temp, "wb") as out:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > max_size:
                        raise TooLarge()
                    digest.update(chunk)
                    out.write(chunk)
            sha256 = digest.hexdigest()
            self._move_into_place(temp, sha256)
        finally:
            temp.unlink(missing_ok=True)
        return sha256, size

    def write_bytes(self, data: bytes) -> tuple[str, int]:
        """Store bytes already in memory (thumbnails); return ``(sha256, size)``."""
        sha256 = hashlib.sha256(data).hexdigest()
        if not self.path(sha256).exists():
            incoming = self.root / "incoming"
            incoming.mkdir(parents=True, exist_ok=True)
            temp = incoming / uuid.uuid4().hex
            try:
                temp.write_bytes(data)
                self._move_into_place(temp, sha256)
            finally:
                temp.unlink(missing_ok=True)
        return sha256, len(data)

    def _move_into_place(self, temp: Path, sha256: str) -> None:
        final = self.path(sha256)
        if final.exists():
            return  # the same content is already stored
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(temp, final)

    def delete(self, sha256: str) -> None:
        self.path(sha256).unlink(missing_ok=True)
