"""The signing key file: Synapse's format, private permissions, clear errors."""

from __future__ import annotations

import stat

import pytest

from homeserver.core.signing import sign_json, verify_json
from homeserver.signing_keys import SigningKeyError, generate_signing_key_file, load_signing_key


def test_generate_and_load(tmp_path):
    path = tmp_path / "signing.key"
    written = generate_signing_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = load_signing_key(path)
    assert loaded.key_id == written.key_id
    assert loaded.key_id.startswith("ed25519:a_")
    signed = sign_json({"x": 1}, "example.org", loaded)
    verify_json(signed, "example.org", loaded.key_id, written.verify_key)


def test_reads_synapse_key_files(tmp_path):
    path = tmp_path / "synapse.signing.key"
    path.write_text("ed25519 a_abcd YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1\n")
    assert load_signing_key(path).key_id == "ed25519:a_abcd"


@pytest.mark.parametrize("content", ["", "rsa 1 abc\n", "ed25519 1 !!!\n", "ed25519 1 AAAA\n"])
def test_bad_key_files(tmp_path, content):
    path = tmp_path / "bad.key"
    path.write_text(content)
    with pytest.raises(SigningKeyError, match="signing_key_path"):
        load_signing_key(path)


def test_missing_key_file(tmp_path):
    with pytest.raises(SigningKeyError, match="cannot read"):
        load_signing_key(tmp_path / "nope.key")
