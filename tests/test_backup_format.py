"""The encrypted backup format: round trip, and refusal of every kind of damage."""

from __future__ import annotations

import io
import os
import struct

import pytest

from homeserver.backup.format import BackupError, DecryptingReader, EncryptingWriter

PASSPHRASE = b"correct horse battery staple"
HEADER_AND_VERIFIER = 38 + 16
CHUNK = 64


def seal(plain: bytes, *, chunk_size: int = CHUNK) -> bytes:
    out = io.BytesIO()
    writer = EncryptingWriter(out, PASSPHRASE, chunk_size=chunk_size, scrypt_log2_n=4)
    for i in range(0, len(plain), 37):  # writes that straddle chunk boundaries
        writer.write(plain[i : i + 37])
    writer.close()
    return out.getvalue()


def unseal(sealed: bytes, passphrase: bytes = PASSPHRASE) -> bytes:
    reader = DecryptingReader(io.BytesIO(sealed), passphrase)
    parts = []
    while part := reader.read(50):
        parts.append(part)
    return b"".join(parts)


def chunk_offsets(sealed: bytes) -> list[int]:
    """Where each chunk's length prefix starts."""
    offsets, pos = [], HEADER_AND_VERIFIER
    while pos < len(sealed):
        offsets.append(pos)
        (length,) = struct.unpack(">I", sealed[pos : pos + 4])
        pos += 4 + length
    return offsets


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 5 * CHUNK, 1000])
def test_round_trip(size: int) -> None:
    plain = os.urandom(size)
    sealed = seal(plain)
    assert plain not in sealed or size < 16
    assert unseal(sealed) == plain


def test_every_tampered_byte_is_refused() -> None:
    sealed = seal(os.urandom(3 * CHUNK + 5))
    for i in range(len(sealed)):
        damaged = bytearray(sealed)
        damaged[i] ^= 0x01
        with pytest.raises(BackupError):
            unseal(bytes(damaged))


def test_tampered_chunk_names_authentication() -> None:
    sealed = bytearray(seal(os.urandom(3 * CHUNK)))
    sealed[chunk_offsets(bytes(sealed))[1] + 10] ^= 0xFF
    with pytest.raises(BackupError, match="chunk 1 fails authentication"):
        unseal(bytes(sealed))


def test_reordered_chunks_are_refused() -> None:
    sealed = seal(os.urandom(3 * CHUNK + 5))
    a, b, c = chunk_offsets(sealed)[:3]
    swapped = sealed[:a] + sealed[b:c] + sealed[a:b] + sealed[c:]
    with pytest.raises(BackupError, match="chunk 0 fails authentication"):
        unseal(swapped)


@pytest.mark.parametrize("cut", [1, 17, 100])
def test_truncation_inside_a_chunk_is_refused(cut: int) -> None:
    sealed = seal(os.urandom(3 * CHUNK + 5))
    with pytest.raises(BackupError, match="truncated|damaged"):
        unseal(sealed[:-cut])


def test_truncation_at_a_chunk_boundary_is_refused() -> None:
    sealed = seal(os.urandom(3 * CHUNK + 5))
    for boundary in chunk_offsets(sealed):
        with pytest.raises(BackupError, match="final chunk is missing"):
            unseal(sealed[:boundary])


def test_data_after_the_final_chunk_is_refused() -> None:
    sealed = seal(os.urandom(CHUNK))
    with pytest.raises(BackupError, match="after its final chunk"):
        unseal(sealed + sealed[chunk_offsets(sealed)[0] :])


def test_wrong_passphrase_is_reported_as_such() -> None:
    sealed = seal(b"secret")
    with pytest.raises(BackupError, match="^wrong passphrase"):
        unseal(sealed, b"not the passphrase")


@pytest.mark.parametrize("start", [b"", b"HEARTH", b"PK\x03\x04 a zip file, not a backup" * 3])
def test_bad_magic_is_refused(start: bytes) -> None:
    with pytest.raises(BackupError, match="bad magic bytes"):
        DecryptingReader(io.BytesIO(start), PASSPHRASE)


def test_unknown_version_is_refused() -> None:
    sealed = bytearray(seal(b"x"))
    sealed[8] = 2
    with pytest.raises(BackupError, match="unsupported backup format version 2"):
        unseal(bytes(sealed))
