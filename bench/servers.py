"""Homeservers for the client benchmark: Hearth, and Synapse in its own venv.

Each server runs as a subprocess on a free loopback port with rate limits off,
a registration shared secret, and SQLite or a throwaway PostgreSQL database.
Synapse is installed from PyPI into ``.bench/synapse-venv`` the first time it
is needed (nothing of it is kept in the repository).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import asyncpg
import yaml

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".bench"
SHARED_SECRET = "bench-shared-secret"
PG_ADMIN_URL = os.environ.get("HEARTH_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RunningServer:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    cleanup: list = field(default_factory=list)

    def rss_bytes(self) -> int:
        """Resident memory of the server process and its children."""
        pids = [self.process.pid] + _children(self.process.pid)
        total = 0
        for pid in pids:
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            except OSError:
                pass
        return total

    async def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(self.process.wait, 30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        for action in reversed(self.cleanup):
            await action()


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    kids = [int(p) for p in text.split()]
    return kids + [g for k in kids for g in _children(k)]


async def _pg_database() -> tuple[str, callable]:
    name = f"bench_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0")
    finally:
        await conn.close()

    async def drop() -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    return name, drop


async def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"server exited early; see {log}")
            try:
                async with session.get(url + "/_matrix/client/versions") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"server did not start; see {log}")


async def start_hearth(workdir: Path, backend: str) -> RunningServer:
    port = free_port()
    data = workdir / f"hearth-{backend}"
    cleanup = []
    args = [sys.executable, "-m", "homeserver", "init", "--server-name", "bench.local", "--data-dir", str(data),
            "--port", str(port)]
    if backend == "postgres":
        name, drop = await _pg_database()
        cleanup.append(drop)
        base = PG_ADMIN_URL.rsplit("/", 1)[0]
        args += ["--database", f"{base}/{name}"]
    subprocess.run(args, check=True, capture_output=True, cwd=ROOT)
    config_path = data / "config.yaml"
    config = yaml.safe_load(config_path.read_text())
    config["registration"]["shared_secret"] = SHARED_SECRET
    config["rate_limits"] = {"enabled": False}
    # Every benchmark client connects from loopback, up to 200 connections at once.
    config.setdefault("listen", {})["max_connections_per_address"] = 1024
    config["logging"] = {"level": "warning"}
    config_path.write_text(yaml.safe_dump(config))
    log = workdir / f"hearth-{backend}.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "homeserver", "run", "-c", str(config_path)],
        stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    await _wait_ready(url, process, log)
    return RunningServer(f"hearth-{backend}", url, process, cleanup)


def synapse_python() -> Path:
    venv = CACHE / "synapse-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        CACHE.mkdir(exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "matrix-synapse[postgres]"], check=True)
    return python


def synapse_config(data: Path, server_name: str) -> dict:
    """What every Synapse these tools start shares: no rate limits, no stats, files under ``data``.
    Callers add ``listeners`` and ``database``."""
    unlimited = {"per_second": 100000, "burst_count": 100000}
    return {
        "server_name": server_name,
        "pid_file": str(data / "homeserver.pid"),
        "media_store_path": str(data / "media"),
        "registration_shared_secret": SHARED_SECRET,
        "report_stats": False,
        "signing_key_path": str(data / "signing.key"),
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "log_config": str(data / "log.yaml"),
        "rc_message": unlimited,
        "rc_registration": unlimited,
        "rc_login": {"address": unlimited, "account": unlimited, "failed_attempts": unlimited},
        "rc_joins": {"local": unlimited, "remote": unlimited},
        "rc_joins_per_room": unlimited,
        "rc_invites": {"per_room": unlimited, "per_user": unlimited, "per_issuer": unlimited},
        "rc_presence": {"per_user": unlimited},
        "rc_room_creation": unlimited,
        "presence": {"enabled": True},
        "enable_metrics": False,
    }


def write_synapse_config(python: Path, data: Path, config: dict) -> Path:
    """Write Synapse's config and log config into ``data`` and generate its keys."""
    (data / "log.yaml").write_text(yaml.safe_dump({
        "version": 1,
        "formatters": {"p": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
        "handlers": {"f": {"class": "logging.FileHandler", "filename": str(data / "synapse.log"), "formatter": "p"}},
        "root": {"level": "WARNING", "handlers": ["f"]},
        "disable_existing_loggers": False,
    }))
    config_path = data / "homeserver.yaml"
    config_path.write_text(yaml.safe_dump(config))
    subprocess.run([str(python), "-m", "synapse.app.homeserver", "-c", str(config_path), "--generate-keys"],
                   check=True, capture_output=True)
    return config_path


async def start_synapse(workdir: Path, backend: str) -> RunningServer:
    python = synapse_python()
    port = free_port()
    data = workdir / f"synapse-{backend}"
    if data.exists():
        shutil.rmtree(data)
    data.mkdir(parents=True)
    cleanup = []
    if backend == "postgres":
        name, drop = await _pg_database()
        cleanup.append(drop)
        database = {"name": "psycopg2", "args": {"user": "postgres", "host": "127.0.0.1", "port": 5432,
                                                  "database": name, "cp_min": 5, "cp_max": 10}}
    else:
        database = {"name": "sqlite3", "args": {"database": str(data / "homeserver.db")}}
    config = synapse_config(data, "bench.local")
    config["listeners"] = [{"port": port, "bind_addresses": ["127.0.0.1"], "type": "http", "tls": False,
                            "x_forwarded": False, "resources": [{"names": ["client"], "compress": False}]}]
    config["database"] = database
    config_path = write_synapse_config(python, data, config)
    log = workdir / f"synapse-{backend}.log"
    process = subprocess.Popen(
        [str(python), "-m", "synapse.app.homeserver", "-c", str(config_path)],
        stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    await _wait_ready(url, process, log)
    return RunningServer(f"synapse-{backend}", url, process, cleanup)
