"""The ``hearth`` command: init, run, migrate and admin tasks.

Operators and scripts rely on these command and option names; keep them stable.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import secrets
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import yaml

from homeserver import __version__
from homeserver.backup.format import BackupError
from homeserver.config import Config, ConfigError, load_config
from homeserver.errors import MatrixError
from homeserver.logging import configure_logging
from homeserver.services.turn import turnserver_conf
from homeserver.signing_keys import SigningKeyError


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except (ConfigError, SigningKeyError) as e:
        print(f"hearth: config error: {e}", file=sys.stderr)
        return 2
    except BackupError as e:
        print(f"hearth: backup error: {e}", file=sys.stderr)
        return 1
    except MatrixError as e:
        print(f"hearth: {e.errcode}: {e.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hearth", description="Hearth Matrix homeserver")
    parser.add_argument("--version", action="version", version=f"hearth {__version__}")
    sub = parser.add_subparsers(metavar="COMMAND")

    init = sub.add_parser("init", help="write a new config, signing key and database")
    init.add_argument("--server-name", required=True, help="domain of user IDs, e.g. example.org")
    init.add_argument("--data-dir", required=True, type=Path, help="directory to create")
    init.add_argument("--port", type=int, default=8008, help="client API port (default 8008)")
    init.add_argument("--bind", action="append", help="address to listen on (repeatable; default 127.0.0.1)")
    init.add_argument("--federation-port", type=int, help="enable federation on this TLS port")
    init.add_argument("--database", help="sqlite:///path (default: inside the data dir) or postgresql://...")
    init.add_argument("--open-registration", action="store_true", help="anyone may register without a token")
    init.add_argument("--public-baseurl", help="URL clients use (default http://localhost:PORT/)")
    init.add_argument("--force", action="store_true", help="overwrite an existing config")
    init.set_defaults(func=_cmd_init)

    run = sub.add_parser("run", help="serve")
    run.add_argument("-c", "--config", required=True, type=Path)
    run.set_defaults(func=_cmd_run)

    mig = sub.add_parser("migrate", help="apply pending database migrations and exit")
    mig.add_argument("-c", "--config", required=True, type=Path)
    mig.set_defaults(func=_cmd_migrate)

    check = sub.add_parser("check-config", help="validate a config file and exit")
    check.add_argument("-c", "--config", required=True, type=Path)
    check.set_defaults(func=lambda a: (load_config(a.config), print("config OK"))[0] or 0)

    turn = sub.add_parser("turn-config", help="print a coturn turnserver.conf matching the turn section")
    turn.add_argument("-c", "--config", required=True, type=Path)
    turn.set_defaults(func=_cmd_turn_config)

    backup = sub.add_parser("backup", help="write an encrypted backup (database, media, signing key, config)")
    backup.add_argument("-c", "--config", required=True, type=Path)
    backup.add_argument("--to", required=True, type=Path, help="the backup file to write")
    backup.add_argument("--passphrase-file", required=True, type=Path, help="file holding the passphrase")
    backup.set_defaults(func=_cmd_backup)

    restore = sub.add_parser("restore", help="restore an encrypted backup into a new data directory")
    restore.add_argument("--from", dest="source", required=True, type=Path, help="the backup file")
    restore.add_argument("--data-dir", required=True, type=Path, help="new or empty directory to restore into")
    restore.add_argument("--passphrase-file", required=True, type=Path, help="file holding the passphrase")
    restore.add_argument("--database", help="for a PostgreSQL backup: postgresql:// URL of an empty database")
    restore.set_defaults(func=_cmd_restore)

    admin = sub.add_parser("admin", help="administration from the shell")
    admin_sub = admin.add_subparsers(metavar="TASK")

    reg = admin_sub.add_parser("register", help="create an account")
    reg.add_argument("user", help="localpart or full user ID")
    reg.add_argument("--password", required=True)
    reg.add_argument("--admin", action="store_true", help="make the account a server admin")
    reg.add_argument("-c", "--config", required=True, type=Path)
    reg.set_defaults(func=_cmd_admin_register)

    token = admin_sub.add_parser("token", help="manage registration tokens")
    token_sub = token.add_subparsers(metavar="ACTION")
    create = token_sub.add_parser("create", help="create a registration token")
    create.add_argument("--token", help="the token (default: random)")
    create.add_argument("--uses", type=int, help="how many registrations it allows (default: unlimited)")
    create.add_argument("--expires-in-days", type=float, help="expire after this many days")
    create.add_argument("-c", "--config", required=True, type=Path)
    create.set_defaults(func=_cmd_token_create)
    lst = token_sub.add_parser("list", help="list registration tokens")
    lst.add_argument("-c", "--config", required=True, type=Path)
    lst.set_defaults(func=_cmd_token_list)
    delete = token_sub.add_parser("delete", help="delete a registration token")
    delete.add_argument("token")
    delete.add_argument("-c", "--config", required=True, type=Path)
    delete.set_defaults(func=_cmd_token_delete)
    return parser


# -- init -----------------------------------------------------------------------------


def _cmd_init(args: argparse.Namespace) -> int:
    from homeserver.config import parse_config
    from homeserver.signing_keys import generate_signing_key_file

    data_dir: Path = args.data_dir.resolve()
    config_path = data_dir / "config.yaml"
    if config_path.exists() and not args.force:
        print(f"hearth: {config_path} already exists (use --force to overwrite)", file=sys.stderr)
        return 1
    data_dir.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = {
        "server_name": args.server_name,
        "public_baseurl": args.public_baseurl or f"http://localhost:{args.port}/",
        "signing_key_path": "signing.key",
        "listen": {"bind_addresses": args.bind or ["127.0.0.1"], "port": args.port},
        "database": {"url": args.database or "sqlite:///hearth.db"},
        "registration": {
            "enabled": True,
            "open": bool(args.open_registration),
            "shared_secret": secrets.token_urlsafe(32),
        },
    }
    if args.federation_port is not None:
        from federation.tls import write_self_signed_certificate

        host = args.server_name.rsplit(":", 1)[0] if not args.server_name.endswith("]") else args.server_name
        write_self_signed_certificate(host, data_dir / "tls.crt", data_dir / "tls.key")
        config["federation"] = {
            "enabled": True,
            "port": args.federation_port,
            "tls_certificate_path": "tls.crt",
            "tls_private_key_path": "tls.key",
        }
    parse_config(config, config_dir=str(data_dir))  # refuse to write a config we would not load
    header = (
        "# Hearth configuration, written by `hearth init`.\n"
        "# Every key is documented in config.sample.yaml in the Hearth source tree.\n"
    )
    config_path.write_text(header + yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    config_path.chmod(0o600)
    key_path = data_dir / "signing.key"
    if not key_path.exists():
        generate_signing_key_file(key_path)
    loaded = load_config(config_path)
    configure_logging("warning", loaded.logging.format)
    asyncio.run(_with_hearth(loaded, _noop))
    print(f"Wrote {config_path}, a signing key and an empty database.")
    print(f"Start Hearth with: hearth run -c {config_path}")
    return 0


async def _noop(hearth: Any) -> None:
    return None


# -- run / migrate ----------------------------------------------------------------------


def _cmd_run(args: argparse.Namespace) -> int:
    from homeserver.server import serve

    config = load_config(args.config)
    configure_logging(config.logging.level, config.logging.format)
    asyncio.run(serve(config, install_signal_handlers=True))
    return 0


def _cmd_turn_config(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    try:
        sys.stdout.write(turnserver_conf(config))
    except ValueError as e:
        raise ConfigError(str(e)) from None
    return 0


def _cmd_migrate(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    configure_logging(config.logging.level, config.logging.format)
    asyncio.run(_with_hearth(config, _noop))
    print("database schema is up to date")
    return 0


# -- backup / restore -------------------------------------------------------------------


def _cmd_backup(args: argparse.Namespace) -> int:
    from homeserver.backup.archive import create_backup, read_passphrase

    create_backup(args.config, args.to, read_passphrase(args.passphrase_file))
    print(f"Wrote backup {args.to}")
    return 0


def _cmd_restore(args: argparse.Namespace) -> int:
    from homeserver.backup.archive import read_passphrase, restore_backup

    config_path = restore_backup(
        args.source, args.data_dir, read_passphrase(args.passphrase_file), database_url=args.database
    )
    print(f"Restored into {args.data_dir}; start Hearth with: hearth run -c {config_path}")
    return 0


# -- admin ------------------------------------------------------------------------------


def _cmd_admin_register(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    configure_logging("warning", config.logging.format)
    localpart = args.user
    if localpart.startswith("@"):
        localpart, _, server = localpart[1:].partition(":")
        if server != config.server_name:
            print(f"hearth: {args.user} is not a user of {config.server_name}", file=sys.stderr)
            return 1

    async def register(hearth: Any) -> None:
        user_id = await hearth.accounts.create_user(localpart.lower(), args.password, is_admin=args.admin)
        print(f"Registered {user_id}{' (admin)' if args.admin else ''}")

    asyncio.run(_with_hearth(config, register))
    return 0


def _cmd_token_create(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    configure_logging("warning", config.logging.format)

    async def create(hearth: Any) -> None:
        expiry = None
        if args.expires_in_days is not None:
            expiry = hearth.clock.time_ms() + int(args.expires_in_days * 86_400_000)
        token = await hearth.registration.create_token(
            args.token, uses_allowed=args.uses, expiry_time=expiry
        )
        print(token.token)

    asyncio.run(_with_hearth(config, create))
    return 0


def _cmd_token_list(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    configure_logging("warning", config.logging.format)

    async def show(hearth: Any) -> None:
        for t in await hearth.registration.list_tokens():
            uses = "unlimited" if t.uses_allowed is None else str(t.uses_allowed)
            expiry = (
                "never"
                if t.expiry_time is None
                else datetime.datetime.fromtimestamp(t.expiry_time / 1000, datetime.timezone.utc).isoformat()
            )
            print(f"{t.token}\tuses_allowed={uses}\tcompleted={t.completed}\tpending={t.pending}\texpires={expiry}")

    asyncio.run(_with_hearth(config, show))
    return 0


def _cmd_token_delete(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    configure_logging("warning", config.logging.format)

    async def delete(hearth: Any) -> None:
        await hearth.registration.delete_token(args.token)
        print(f"Deleted {args.token}")

    asyncio.run(_with_hearth(config, delete))
    return 0


async def _with_hearth(config: Config, action: Callable[[Any], Awaitable[None]]) -> None:
    """Open the database (migrating it), run ``action`` with the built services, close."""
    from homeserver.app import build_hearth
    from storage.migrations import migrate

    hearth = build_hearth(config)
    await hearth.db.open()
    try:
        await migrate(hearth.db)
        await action(hearth)
    finally:
        await hearth.db.close()


if __name__ == "__main__":
    sys.exit(main())
