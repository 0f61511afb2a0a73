"""Numbered schema migrations, applied at startup and by ``hearth migrate``.

Migrations are ``storage/migrations/NNNN_description.sql`` files written in the
PostgreSQL dialect; for SQLite a few type names are rewritten (see
:data:`_SQLITE_TYPES`). A file may be split for one backend only with a
``-- dialect: sqlite`` / ``-- dialect: postgres`` line; the section runs until the
next such line or ``-- dialect: all``. All pending migrations and the bump of
``schema_version`` run in one transaction (under an advisory lock on
PostgreSQL, so two processes starting together cannot both migrate). A
database whose version is newer than this code knows is refused, not touched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import structlog

from storage.database import Database

logger = structlog.get_logger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

_SQLITE_TYPES = [
    (re.compile(r"\bBIGSERIAL PRIMARY KEY\b", re.I), "INTEGER PRIMARY KEY AUTOINCREMENT"),
    (re.compile(r"\bBYTEA\b", re.I), "BLOB"),
    (re.compile(r"\bJSONB\b", re.I), "TEXT"),
]


class SchemaTooNew(Exception):
    """The database was migrated by a newer Hearth than this one."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    def for_dialect(self, dialect: str) -> str:
        parts: list[str] = []
        current = "all"
        for line in self.sql.splitlines():
            marker = re.match(r"\s*--\s*dialect:\s*(\w+)\s*$", line)
            if marker:
                current = marker.group(1)
                continue
            if current in ("all", dialect):
                parts.append(line)
        sql = "\n".join(parts)
        if dialect == "sqlite":
            for pattern, replacement in _SQLITE_TYPES:
                sql = pattern.sub(replacement, sql)
        return sql


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """All migrations in order; numbering must be 1, 2, 3... without gaps."""
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        m = re.fullmatch(r"(\d{4})_(\w+)\.sql", path.name)
        if not m:
            raise ValueError(f"badly named migration file {path.name}")
        migrations.append(Migration(int(m.group(1)), m.group(2), path.read_text("utf-8")))
    for expected, migration in enumerate(migrations, start=1):
        if migration.version != expected:
            raise ValueError(f"migration {expected:04d} is missing")
    return migrations


def _statements(sql: str) -> list[str]:
    """Split a script on semicolons at line ends (migrations keep one statement per ``;``)."""
    return [s.strip() for s in re.split(r";\s*(?:\n|$)", sql) if s.strip() and not _only_comments(s)]


def _only_comments(s: str) -> bool:
    return all(not line.strip() or line.strip().startswith("--") for line in s.splitlines())


async def current_version(db: Database) -> int:
    await db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    version = await db.fetchval("SELECT MAX(version) AS v FROM schema_version")
    return int(version or 0)


async def migrate(db: Database, migrations: list[Migration] | None = None) -> int:
    """Bring the schema up to date; return the number of migrations applied."""
    migrations = load_migrations() if migrations is None else migrations
    latest = migrations[-1].version if migrations else 0
    applied = 0
    async with db.transaction("migrate_lock"):
        if db.dialect == "postgres":
            # Two processes starting at once must not both migrate.
            await db.execute("SELECT pg_advisory_xact_lock(7478827)")
        version = await current_version(db)
        if version > latest:
            raise SchemaTooNew(
                f"the database schema is version {version}, newer than this Hearth "
                f"understands ({latest}); upgrade Hearth"
            )
        for migration in migrations:
            if migration.version <= version:
                continue
            for statement in _statements(migration.for_dialect(db.dialect)):
                await db.execute(statement)
            await db.execute("DELETE FROM schema_version")
            await db.execute("INSERT INTO schema_version (version) VALUES ($1)", migration.version)
            logger.info("migration_applied", version=migration.version, name=migration.name)
            applied += 1
    return applied
