"""The encrypted, streamed backup archive format.

Layout (all integers big-endian)::

    header   = MAGIC (8) | version (1) | scrypt log2(n) (1) | r (4) | p (4) | salt (16) | chunk size (4)
    verifier = AES-GCM(key, nonce=VERIFIER_NONCE, plaintext="", aad=header)          (16 bytes)
    chunk*   = length (4) | AES-GCM(key, nonce=0000 | counter (8), chunk, aad=header | final flag (1))

The key is scrypt(passphrase, salt). The verifier tells a wrong passphrase (or a damaged header) from a
damaged body. Each chunk's nonce is its position, so reordered or dropped chunks fail to decrypt; the
final flag in the associated data marks the last chunk, so a file cut at a chunk boundary is refused
too, as are bytes after the final chunk. The plaintext is a tar stream; nothing holds the whole archive.
"""

from __future__ import annotations

import io
import os
import struct
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

MAGIC = b"HEARTHBK"
VERSION = 1
_HEADER = struct.Struct(">8sBBII16sI")
_LENGTH = struct.Struct(">I")
_TAG = 16
_VERIFIER_NONCE = b"\xff" * 12
#: The counter never reaches the verifier's nonce: at most 2**32 chunks.
_MAX_CHUNKS = 2**32

DEFAULT_CHUNK_SIZE = 1024 * 1024
DEFAULT_SCRYPT_LOG2_N = 17
DEFAULT_SCRYPT_R = 8
DEFAULT_SCRYPT_P = 1
#: Bounds on parameters read from a file, so a crafted header cannot demand absurd work or memory.
_MAX_SCRYPT_LOG2_N = 22
_MAX_SCRYPT_R = 32
_MAX_SCRYPT_P = 16
_MAX_CHUNK_SIZE = 64 * 1024 * 1024


class BackupError(Exception):
    """A backup cannot be written, read or trusted; the message is one line for the operator."""


def _derive_key(passphrase: bytes, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    if not passphrase:
        raise BackupError("the passphrase is empty")
    return Scrypt(salt=salt, length=32, n=2**log2_n, r=r, p=p).derive(passphrase)


def _nonce(counter: int) -> bytes:
    return b"\x00\x00\x00\x00" + counter.to_bytes(8, "big")


class EncryptingWriter(io.RawIOBase):
    """A write-only file: what is written is encrypted in chunks onto ``out``; ``close`` writes the final chunk."""

    def __init__(
        self,
        out: BinaryIO,
        passphrase: bytes,
        *,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        scrypt_log2_n: int = DEFAULT_SCRYPT_LOG2_N,
        scrypt_r: int = DEFAULT_SCRYPT_R,
        scrypt_p: int = DEFAULT_SCRYPT_P,
    ) -> None:
        super().__init__()
        salt = os.urandom(16)
        self._out = out
        self._chunk_size = chunk_size
        self._header = _HEADER.pack(MAGIC, VERSION, scrypt_log2_n, scrypt_r, scrypt_p, salt, chunk_size)
        self._aead = AESGCM(_derive_key(passphrase, salt, scrypt_log2_n, scrypt_r, scrypt_p))
        self._buffer = bytearray()
        self._counter = 0
        out.write(self._header)
        out.write(self._aead.encrypt(_VERIFIER_NONCE, b"", self._header))

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        if self.closed:
            raise ValueError("write to a closed backup")
        self._buffer += data
        # Keep at least one byte back: only close() knows which chunk is the final one.
        while len(self._buffer) > self._chunk_size:
            self._emit(bytes(self._buffer[: self._chunk_size]), final=False)
            del self._buffer[: self._chunk_size]
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._emit(bytes(self._buffer), final=True)
            self._buffer.clear()
            self._out.flush()
        super().close()

    def _emit(self, chunk: bytes, *, final: bool) -> None:
        if self._counter >= _MAX_CHUNKS:
            raise BackupError("the backup is too large for its chunk size")
        sealed = self._aead.encrypt(_nonce(self._counter), chunk, self._header + (b"\x01" if final else b"\x00"))
        self._out.write(_LENGTH.pack(len(sealed)))
        self._out.write(sealed)
        self._counter += 1


class DecryptingReader(io.RawIOBase):
    """A read-only file of the plaintext of ``source``; every chunk is authenticated before it is returned.

    Reading to the end (``read()`` returning ``b""``) proves the archive complete; anything else raises
    :class:`BackupError`.
    """

    def __init__(self, source: BinaryIO, passphrase: bytes) -> None:
        super().__init__()
        self._source = source
        header = _read_exact(source, _HEADER.size)
        if len(header) < len(MAGIC) or header[: len(MAGIC)] != MAGIC:
            raise BackupError("not a Hearth backup (bad magic bytes)")
        if len(header) < _HEADER.size:
            raise BackupError("the backup is truncated (incomplete header)")
        _, version, log2_n, r, p, salt, chunk_size = _HEADER.unpack(header)
        if version != VERSION:
            raise BackupError(f"unsupported backup format version {version} (this Hearth reads {VERSION})")
        if not (1 <= log2_n <= _MAX_SCRYPT_LOG2_N and 1 <= r <= _MAX_SCRYPT_R and 1 <= p <= _MAX_SCRYPT_P):
            raise BackupError("the backup header has out-of-range scrypt parameters")
        if not 1 <= chunk_size <= _MAX_CHUNK_SIZE:
            raise BackupError("the backup header has an out-of-range chunk size")
        self._header = header
        self._max_sealed = chunk_size + _TAG
        self._aead = AESGCM(_derive_key(passphrase, salt, log2_n, r, p))
        verifier = _read_exact(source, _TAG)
        if len(verifier) < _TAG:
            raise BackupError("the backup is truncated (incomplete header)")
        try:
            self._aead.decrypt(_VERIFIER_NONCE, verifier, header)
        except InvalidTag:
            raise BackupError("wrong passphrase (or a damaged backup header)") from None
        self._counter = 0
        self._pending = memoryview(b"")
        self._offset = 0
        self._finished = False

    def readable(self) -> bool:
        return True

    def readinto(self, target: bytearray | memoryview) -> int:  # type: ignore[override]
        while self._offset == len(self._pending) and not self._finished:
            self._next_chunk()
        n = min(len(target), len(self._pending) - self._offset)
        target[:n] = self._pending[self._offset : self._offset + n]
        self._offset += n
        return n

    def _next_chunk(self) -> None:
        raw_length = _read_exact(self._source, _LENGTH.size)
        if not raw_length:
            raise BackupError("the backup is truncated (its final chunk is missing)")
        if len(raw_length) < _LENGTH.size:
            raise BackupError("the backup is truncated (inside a chunk)")
        (length,) = _LENGTH.unpack(raw_length)
        if not _TAG <= length <= self._max_sealed:
            raise BackupError(f"the backup is damaged (chunk {self._counter} has an impossible length)")
        sealed = _read_exact(self._source, length)
        if len(sealed) < length:
            raise BackupError("the backup is truncated (inside a chunk)")
        nonce = _nonce(self._counter)
        for final in (False, True):
            try:
                plain = self._aead.decrypt(nonce, sealed, self._header + (b"\x01" if final else b"\x00"))
            except InvalidTag:
                continue
            break
        else:
            raise BackupError(f"the backup is damaged or tampered with (chunk {self._counter} fails authentication)")
        self._counter += 1
        self._pending = memoryview(plain)
        self._offset = 0
        if final:
            if self._source.read(1):
                raise BackupError("the backup has unexpected data after its final chunk")
            self._finished = True


def _read_exact(source: BinaryIO, n: int) -> bytes:
    parts = []
    remaining = n
    while remaining:
        part = source.read(remaining)
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)
