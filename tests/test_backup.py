"""``hearth backup`` / ``hearth restore`` on SQLite: a busy server's backup restores into a server that
serves its users and messages, every table and media file comes back identical, and damaged backups or
wrong passphrases are refused without writing anything."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
import yaml
from aiohttp.test_utils import TestServer

from homeserver.app import create_app
from homeserver.backup.archive import create_backup, restore_backup
from homeserver.backup.format import BackupError
from homeserver.cli import main
from homeserver.config import load_config
from tests.conftest import BASE_CONFIG, ServerFactory, _merge
from tests.support import databases
from tests.support.client import MatrixClient

sqlite_only = pytest.mark.parametrize("backend", ["sqlite"])

PASSPHRASE = b"a long operator passphrase"
FAST_SCRYPT = 4


def write_config(database_url: str, tmp_path: Path) -> Path:
    """The config file matching what ``make_server`` runs with."""
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(_merge(BASE_CONFIG, {"database": {"url": database_url, "pool_size": 4}})))
    return path


def table_rows(database: Path) -> dict[str, list[tuple[Any, ...]]]:
    conn = sqlite3.connect(database)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {name: sorted(conn.execute(f'SELECT * FROM "{name}"').fetchall(), key=repr) for name in names}
    finally:
        conn.close()


def media_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


async def start_restored(config_path: Path, session: aiohttp.ClientSession) -> tuple[TestServer, MatrixClient]:
    server = TestServer(create_app(load_config(config_path)), host="127.0.0.1")
    await server.start_server()
    return server, MatrixClient(str(server.make_url("")).rstrip("/"), session)


async def room_bodies(client: MatrixClient, room_id: str) -> list[str]:
    resp = await client.get(f"/_matrix/client/v3/rooms/{room_id}/messages", params={"dir": "f", "limit": "1000"})
    assert resp.status == 200, resp.body
    return [e["content"]["body"] for e in resp.body["chunk"] if e["type"] == "m.room.message"]


@sqlite_only
async def test_backup_of_a_busy_server_restores_a_working_server(
    make_server: ServerFactory, database_url: str, tmp_path: Path
) -> None:
    live = await make_server()
    config_path = write_config(database_url, tmp_path)
    alice = await live.client.register("alice")
    room_id = (await alice.post("/_matrix/client/v3/createRoom", {})).body["room_id"]
    upload = await alice.post(
        "/_matrix/media/v3/upload", data=b"\x89PNG not really", headers={"Content-Type": "image/png"}
    )
    assert upload.status == 200, upload.body

    sent: list[str] = []
    stop = asyncio.Event()

    async def keep_sending() -> None:
        while not stop.is_set():
            body = f"message {len(sent)}"
            resp = await alice.put(
                f"/_matrix/client/v3/rooms/{room_id}/send/m.room.message/t{len(sent)}",
                {"msgtype": "m.text", "body": body},
            )
            assert resp.status == 200, resp.body
            sent.append(body)

    sender = asyncio.create_task(keep_sending())
    while len(sent) < 20:
        await asyncio.sleep(0.01)
    busy_backup = tmp_path / "busy.hearth-backup"
    await asyncio.to_thread(create_backup, config_path, busy_backup, PASSPHRASE, scrypt_log2_n=FAST_SCRYPT)
    sent_during = len(sent)
    while len(sent) < sent_during + 20:
        await asyncio.sleep(0.01)
    stop.set()
    await sender

    # The busy snapshot is consistent: a prefix of the messages, no gaps, and a server that runs on it.
    restored_dir = tmp_path / "restored"
    restored_config = await asyncio.to_thread(restore_backup, busy_backup, restored_dir, PASSPHRASE)
    conn = sqlite3.connect(restored_dir / "hearth.db")
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()
    async with aiohttp.ClientSession() as session:
        server, client = await start_restored(restored_config, session)
        try:
            old_alice = await client.login("alice")
            bodies = await room_bodies(old_alice, room_id)
            assert 20 <= len(bodies) <= sent_during + 1  # one send may commit before its response
            assert bodies == sent[: len(bodies)]
            download = await old_alice.get(
                f"/_matrix/client/v1/media/download/{upload.body['content_uri'].removeprefix('mxc://')}"
            )
            assert (download.status, download.headers["Content-Type"]) == (200, "image/png")
        finally:
            await server.close()

    # A backup of the quiet server restores every table row by row and every media file byte by byte.
    quiet_backup = tmp_path / "quiet.hearth-backup"
    await asyncio.to_thread(create_backup, config_path, quiet_backup, PASSPHRASE, scrypt_log2_n=FAST_SCRYPT)
    quiet_dir = tmp_path / "quiet"
    quiet_config = await asyncio.to_thread(restore_backup, quiet_backup, quiet_dir, PASSPHRASE)
    live_rows = table_rows(live.hearth.config.path(database_url.removeprefix("sqlite:///")))
    assert table_rows(quiet_dir / "hearth.db") == live_rows
    assert live_rows["events"]
    assert media_files(quiet_dir / "media") == media_files(tmp_path / "media") != {}
    assert (quiet_dir / "signing.key").read_bytes() == (tmp_path / "signing.key").read_bytes()
    restored = load_config(quiet_config)
    assert restored.database.url == "sqlite:///hearth.db"
    assert restored.path(restored.media.store_path) == quiet_dir / "media"
    assert restored.server_name == live.hearth.config.server_name


@pytest.fixture
def cli_config(database_url: str, tmp_path: Path) -> Path:
    """The config file of ``make_server``'s server, and a passphrase file beside it."""
    config_path = write_config(database_url, tmp_path)
    passphrase_file = tmp_path / "passphrase"
    passphrase_file.write_bytes(PASSPHRASE + b"\n")
    return config_path


async def backup_with_cli(tmp_path: Path, config_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    target = tmp_path / "cli.hearth-backup"
    code = await asyncio.to_thread(
        main, ["backup", "-c", str(config_path), "--to", str(target), "--passphrase-file", str(tmp_path / "passphrase")]
    )
    assert code == 0, capsys.readouterr().err
    capsys.readouterr()
    return target


def restore_with_cli(source: Path, data_dir: Path, passphrase_file: Path) -> int:
    return main(["restore", "--from", str(source), "--data-dir", str(data_dir), "--passphrase-file", str(passphrase_file)])


def assert_refused(code: int, capsys: pytest.CaptureFixture[str], data_dir: Path, message: str) -> None:
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("hearth: backup error: ") and message in err, err
    assert not data_dir.exists() or not any(data_dir.iterdir())
    assert not [p for p in data_dir.parent.iterdir() if ".restore-" in p.name]


@sqlite_only
async def test_cli_round_trip(
    make_server: ServerFactory, cli_config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    live = await make_server()
    await live.client.register("bob")
    target = await backup_with_cli(tmp_path, cli_config, capsys)
    data_dir = tmp_path / "new"
    data_dir.mkdir()  # an empty directory is fine
    assert await asyncio.to_thread(restore_with_cli, target, data_dir, tmp_path / "passphrase") == 0
    assert "hearth run -c" in capsys.readouterr().out
    assert load_config(data_dir / "config.yaml").path("signing.key") == data_dir / "signing.key"


@sqlite_only
async def test_cli_refuses_wrong_passphrase_and_tampering(
    make_server: ServerFactory, cli_config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await make_server()
    target = await backup_with_cli(tmp_path, cli_config, capsys)
    data_dir = tmp_path / "out" / "new"

    wrong = tmp_path / "wrong"
    wrong.write_text("not it\n")
    assert_refused(await asyncio.to_thread(restore_with_cli, target, data_dir, wrong), capsys, data_dir,
                   "wrong passphrase")

    damaged = bytearray(target.read_bytes())
    damaged[len(damaged) // 2] ^= 0x40
    tampered = tmp_path / "tampered.hearth-backup"
    tampered.write_bytes(bytes(damaged))
    assert_refused(await asyncio.to_thread(restore_with_cli, tampered, data_dir, tmp_path / "passphrase"),
                   capsys, data_dir, "fails authentication")

    truncated = tmp_path / "truncated.hearth-backup"
    truncated.write_bytes(target.read_bytes()[:-10])
    assert_refused(await asyncio.to_thread(restore_with_cli, truncated, data_dir, tmp_path / "passphrase"),
                   capsys, data_dir, "truncated")

    data_dir.mkdir()
    (data_dir / "something").write_text("keep me")
    code = await asyncio.to_thread(restore_with_cli, target, data_dir, tmp_path / "passphrase")
    err = capsys.readouterr().err
    assert code == 1 and "must be new or empty" in err
    assert [p.name for p in data_dir.iterdir()] == ["something"]

    elsewhere = tmp_path / "elsewhere"
    code = await asyncio.to_thread(
        main, ["restore", "--from", str(target), "--data-dir", str(elsewhere), "--passphrase-file",
               str(tmp_path / "passphrase"), "--database", "postgresql://postgres@127.0.0.1/x"]
    )
    assert_refused(code, capsys, elsewhere, "restores inside the data directory, without --database")


async def pg_table_rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    conn = await asyncpg.connect(url)
    try:
        names = [r["tablename"] for r in await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )]
        return {n: sorted((tuple(r) for r in await conn.fetch(f'SELECT * FROM "{n}"')), key=repr) for n in names}
    finally:
        await conn.close()


@pytest.mark.parametrize("backend", ["postgres"])
async def test_postgresql_backup_of_a_busy_server_restores_into_an_empty_database(
    make_server: ServerFactory, database_url: str, tmp_path: Path
) -> None:
    live = await make_server()
    config_path = write_config(database_url, tmp_path)
    alice = await live.client.register("alice")
    room_id = (await alice.post("/_matrix/client/v3/createRoom", {})).body["room_id"]
    sent: list[str] = []
    stop = asyncio.Event()

    async def keep_sending() -> None:
        while not stop.is_set():
            body = f"message {len(sent)}"
            resp = await alice.put(
                f"/_matrix/client/v3/rooms/{room_id}/send/m.room.message/t{len(sent)}",
                {"msgtype": "m.text", "body": body},
            )
            assert resp.status == 200, resp.body
            sent.append(body)

    sender = asyncio.create_task(keep_sending())
    while len(sent) < 10:
        await asyncio.sleep(0.01)
    busy = tmp_path / "busy.hearth-backup"
    await asyncio.to_thread(create_backup, config_path, busy, PASSPHRASE, scrypt_log2_n=FAST_SCRYPT)
    sent_during = len(sent)
    stop.set()
    await sender
    quiet = tmp_path / "quiet.hearth-backup"
    await asyncio.to_thread(create_backup, config_path, quiet, PASSPHRASE, scrypt_log2_n=FAST_SCRYPT)

    targets = [await asyncio.to_thread(databases.create_empty_pg_database) for _ in range(2)]
    try:
        busy_url, quiet_url = (databases.postgres_url(name) for name in targets)
        with pytest.raises(BackupError, match="name an empty one"):
            restore_backup(busy, tmp_path / "no-db", PASSPHRASE)
        assert not (tmp_path / "no-db").exists()
        busy_config = await asyncio.to_thread(
            restore_backup, busy, tmp_path / "busy", PASSPHRASE, database_url=busy_url
        )
        async with aiohttp.ClientSession() as session:
            server, client = await start_restored(busy_config, session)
            try:
                bodies = await room_bodies(await client.login("alice"), room_id)
                assert 10 <= len(bodies) <= sent_during + 1
                assert bodies == sent[: len(bodies)]
            finally:
                await server.close()
        await asyncio.to_thread(restore_backup, quiet, tmp_path / "quiet", PASSPHRASE, database_url=quiet_url)
        assert await pg_table_rows(quiet_url) == await pg_table_rows(database_url)
        with pytest.raises(BackupError, match="pg_restore failed"):  # not empty any more
            restore_backup(quiet, tmp_path / "again", PASSPHRASE, database_url=quiet_url)
        assert not (tmp_path / "again").exists()
    finally:
        for name in targets:
            await databases.drop_pg_database_async(name)


def test_postgresql_password_goes_to_the_environment_not_the_command_line() -> None:
    from homeserver.backup.postgres import _split_password

    assert _split_password("postgresql://hearth:p%40ss@db.internal:5433/hearth?sslmode=require") == (
        "postgresql://hearth@db.internal:5433/hearth?sslmode=require",
        "p@ss",
    )
    assert _split_password("postgresql://postgres@127.0.0.1/hearth") == ("postgresql://postgres@127.0.0.1/hearth", None)
