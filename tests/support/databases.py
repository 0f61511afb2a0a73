"""Throwaway databases for tests: a SQLite file or a PostgreSQL database cloned
from a migrated template (cloning is much faster than migrating each time)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import secrets
from pathlib import Path

import asyncpg

from storage.database import Database, PostgresDatabase, SqliteDatabase
from storage.migrations import migrate

PG_ADMIN_URL = os.environ.get("HEARTH_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


def _pg_url(name: str) -> str:
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    return f"{base}/{name}"


async def _admin_execute(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _run_sync(coro_fn) -> None:  # type: ignore[no-untyped-def]
    """Run a coroutine to completion from sync code, even inside a running loop."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(lambda: asyncio.run(coro_fn())).result()


def create_empty_pg_database() -> str:
    """A new, empty database (for tests of migrating from nothing); drop it afterwards."""
    name = f"hearth_e_{secrets.token_hex(5)}"
    _run_sync(lambda: _admin_execute(f'CREATE DATABASE "{name}"'))
    return name


def create_pg_template() -> str:
    """Create and migrate a template database; return its name."""
    name = f"hearth_tpl_{os.getpid()}_{secrets.token_hex(3)}"

    async def run() -> None:
        await _admin_execute(f'CREATE DATABASE "{name}"')
        db = PostgresDatabase(_pg_url(name), pool_size=2)
        await db.open()
        try:
            await migrate(db)
        finally:
            await db.close()

    _run_sync(run)
    return name


def drop_pg_database(name: str) -> None:
    _run_sync(lambda: _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def clone_pg_database(template: str) -> str:
    name = f"hearth_t_{secrets.token_hex(5)}"
    await _admin_execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return name


async def drop_pg_database_async(name: str) -> None:
    await _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def sqlite_database(path: Path) -> Database:
    return SqliteDatabase(path, readers=2)


def postgres_database(name: str) -> Database:
    return PostgresDatabase(_pg_url(name), pool_size=4)


def postgres_url(name: str) -> str:
    return _pg_url(name)
