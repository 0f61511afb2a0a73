"""What goes into a backup and how it comes back: ``hearth backup`` and ``hearth restore``.

A backup is a tar stream (see :mod:`homeserver.backup.format` for its encryption) of

- ``config.yaml``: the config file as the operator wrote it,
- ``hearth.db``: a consistent snapshot of the SQLite database, taken with SQLite's online backup API
  so Hearth may keep running and writing meanwhile, or ``hearth.pgdump``: ``pg_dump`` of PostgreSQL,
- ``signing.key``: the server's signing key,
- ``media/``: the media store, copied after the database snapshot so every file the snapshot refers
  to is there (files uploaded later are harmless extras).

Restore decrypts and verifies the whole archive into a temporary directory beside the target and
renames it into place only when every chunk authenticated and the archive ended where it should.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import yaml

from homeserver.backup import postgres
from homeserver.backup.format import DEFAULT_SCRYPT_LOG2_N, BackupError, DecryptingReader, EncryptingWriter
from homeserver.config import ConfigError, load_config, parse_config

CONFIG_NAME = "config.yaml"
DATABASE_NAME = "hearth.db"
PG_DUMP_NAME = "hearth.pgdump"
SIGNING_KEY_NAME = "signing.key"
MEDIA_NAME = "media"
_REQUIRED = (CONFIG_NAME, SIGNING_KEY_NAME)
_ENTRIES = (*_REQUIRED, DATABASE_NAME, PG_DUMP_NAME, MEDIA_NAME)


def read_passphrase(path: Path) -> bytes:
    """The passphrase in ``path``, without its trailing newline."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise BackupError(f"{path}: cannot read passphrase file: {e.strerror or e}") from None
    passphrase = data.rstrip(b"\r\n")
    if not passphrase:
        raise BackupError(f"{path}: the passphrase file is empty")
    return passphrase


def create_backup(
    config_path: Path, destination: Path, passphrase: bytes, *, scrypt_log2_n: int = DEFAULT_SCRYPT_LOG2_N
) -> None:
    """Write an encrypted backup of the server configured by ``config_path`` to ``destination``."""
    config = load_config(config_path)
    url = config.database.url
    key_path = config.path(config.signing_key_path)
    media_path = config.path(config.media.store_path)
    destination = destination.resolve()
    partial = destination.with_name(f".{destination.name}.partial")
    with tempfile.TemporaryDirectory(prefix="hearth-backup-") as scratch:
        if url.startswith("sqlite:///"):
            snapshot = Path(scratch) / DATABASE_NAME
            _snapshot_sqlite(config.path(url[len("sqlite:///"):]), snapshot)
        else:
            snapshot = Path(scratch) / PG_DUMP_NAME
            postgres.dump(url, snapshot)
        try:
            with open(partial, "wb") as out:
                os.chmod(partial, 0o600)
                writer = EncryptingWriter(out, passphrase, scrypt_log2_n=scrypt_log2_n)
                with tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                    tar.add(config_path, arcname=CONFIG_NAME, recursive=False)
                    tar.add(snapshot, arcname=snapshot.name, recursive=False)
                    tar.add(key_path, arcname=SIGNING_KEY_NAME, recursive=False)
                    if media_path.is_dir():
                        tar.add(media_path, arcname=MEDIA_NAME, filter=_regular_files_only)
                writer.close()
                out.flush()
                os.fsync(out.fileno())
            os.replace(partial, destination)
        except OSError as e:
            raise BackupError(f"cannot write the backup: {e.filename or destination}: {e.strerror or e}") from None
        finally:
            with contextlib.suppress(FileNotFoundError):
                partial.unlink()


def _snapshot_sqlite(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` consistently while other connections may write to it."""
    if not source.is_file():
        raise BackupError(f"{source}: the database file does not exist")
    try:
        src = sqlite3.connect(source)
        try:
            dst = sqlite3.connect(target)
            try:
                src.backup(dst)  # all pages in one step: one consistent read transaction
            finally:
                dst.close()
        finally:
            src.close()
    except sqlite3.Error as e:
        raise BackupError(f"{source}: cannot snapshot the database: {e}") from None


def _regular_files_only(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    return info if info.isfile() or info.isdir() else None


def restore_backup(archive: Path, data_dir: Path, passphrase: bytes, *, database_url: str | None = None) -> Path:
    """Restore ``archive`` into the new or empty ``data_dir``; returns the path of the rewritten config.

    Nothing appears in ``data_dir`` unless the whole archive decrypted and verified. A PostgreSQL
    backup needs ``database_url``, an empty database it is restored into (in one transaction).
    """
    if database_url is not None and not database_url.startswith(("postgresql://", "postgres://")):
        raise BackupError("--database must be a postgresql:// URL (SQLite backups restore inside the data directory)")
    data_dir = data_dir.resolve()
    if data_dir.exists() and (not data_dir.is_dir() or any(data_dir.iterdir())):
        raise BackupError(f"{data_dir}: the data directory must be new or empty")
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{data_dir.name}.restore-", dir=data_dir.parent))
    try:
        _extract_verified(archive, staging, passphrase)
        missing = [name for name in _REQUIRED if not (staging / name).is_file()]
        if missing:
            raise BackupError(f"the backup lacks {', '.join(missing)}")
        dump = staging / PG_DUMP_NAME
        if dump.is_file() == (database_url is None):
            raise BackupError(
                "this backup is of a PostgreSQL database: name an empty one to restore into with --database"
                if database_url is None
                else "this backup is of an SQLite database: it restores inside the data directory, without --database"
            )
        if not dump.is_file() and not (staging / DATABASE_NAME).is_file():
            raise BackupError(f"the backup lacks {DATABASE_NAME}")
        _rewrite_config(staging / CONFIG_NAME, data_dir, database_url or f"sqlite:///{DATABASE_NAME}")
        (staging / MEDIA_NAME).mkdir(exist_ok=True)
        for name in (CONFIG_NAME, SIGNING_KEY_NAME):
            (staging / name).chmod(0o600)
        if database_url is not None:
            postgres.restore(dump, database_url)
            dump.unlink()
        else:
            (staging / DATABASE_NAME).chmod(0o600)
        staging.chmod(0o700)
        staging.rename(data_dir)  # replaces an empty data_dir atomically
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return data_dir / CONFIG_NAME


def _extract_verified(archive: Path, staging: Path, passphrase: bytes) -> None:
    try:
        source = open(archive, "rb")
    except OSError as e:
        raise BackupError(f"{archive}: cannot read the backup: {e.strerror or e}") from None
    with source:
        reader = DecryptingReader(source, passphrase)
        try:
            with tarfile.open(fileobj=reader, mode="r|") as tar:
                for member in tar:
                    top = member.name.split("/", 1)[0]
                    if top not in _ENTRIES or not (member.isfile() or member.isdir()):
                        raise BackupError(f"the backup holds an unexpected entry {member.name!r}")
                    tar.extract(member, staging, filter="data")
        except tarfile.TarError as e:
            raise BackupError(f"the backup's content is not a valid archive: {e}") from None
        while reader.read(64 * 1024):  # the rest (tar padding) must authenticate and end properly
            pass


def _rewrite_config(config_file: Path, data_dir: Path, database_url: str) -> None:
    """Point the restored config's database, media store and signing key inside ``data_dir``."""
    try:
        data: Any = yaml.safe_load(config_file.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as e:
        raise BackupError(f"the backup's config cannot be read: {e}") from None
    if not isinstance(data, dict):
        raise BackupError("the backup's config is not a mapping")
    data["signing_key_path"] = SIGNING_KEY_NAME
    database = data.get("database")
    data["database"] = {**(database if isinstance(database, dict) else {}), "url": database_url}
    media = data.get("media")
    data["media"] = {**(media if isinstance(media, dict) else {}), "store_path": MEDIA_NAME}
    try:
        parse_config(data, config_dir=str(data_dir))
    except ConfigError as e:
        raise BackupError(f"the restored config is not valid: {e}") from None
    header = "# Restored by `hearth restore`: database, media and signing key paths point into this directory.\n"
    config_file.write_text(header + yaml.safe_dump(data, sort_keys=False), encoding="utf-8")

