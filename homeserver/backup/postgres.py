"""PostgreSQL dumps for backups: ``pg_dump`` (one consistent snapshot, the server may keep writing)
and ``pg_restore`` into an empty database, in one transaction so a failed restore leaves it empty.

The password travels in ``PGPASSWORD``, never on a command line other local users can read.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from homeserver.backup.format import BackupError


def dump(url: str, target: Path) -> None:
    _run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--file={target}"], url, "pg_dump")


def restore(source: Path, url: str) -> None:
    _run(
        ["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction", str(source)],
        url,
        "pg_restore",
    )


def _run(command: list[str], url: str, tool: str) -> None:
    dbname, password = _split_password(url)
    env = dict(os.environ)
    if password is not None:
        env["PGPASSWORD"] = password
    try:
        result = subprocess.run(
            [*command, f"--dbname={dbname}"], env=env, capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        raise BackupError(f"{tool} is not installed (install the PostgreSQL client tools)") from None
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        raise BackupError(f"{tool} failed: {lines[0] if lines else f'exit code {result.returncode}'}")


def _split_password(url: str) -> tuple[str, str | None]:
    """``url`` without its password, and the password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url, None
    host = parts.netloc.rpartition("@")[2]
    user = parts.netloc.rpartition("@")[0].partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}@{host}")), unquote(parts.password)
