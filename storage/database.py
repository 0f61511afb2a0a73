"""One SQL dialect over SQLite (aiosqlite) and PostgreSQL (asyncpg).

Design note
-----------
Stores write PostgreSQL-flavoured SQL with ``$1`` placeholders; on SQLite the
placeholders become ``?1`` (SQLite's numbered parameters), nothing else is
rewritten. Rows are read by column name only (``row["user_id"]``).

Transactions: ``async with db.transaction("name"):`` opens one; every
``db.execute``/``db.fetch*`` inside it (in the same task) runs on the
transaction's connection, found through a :class:`~contextvars.ContextVar`, so
a store method can be called both alone and as part of a larger unit of work.
A nested ``transaction()`` joins the outer one. Tasks spawned inside a
transaction must not touch the database: they would share its connection.
``after_commit`` callbacks run once the outermost transaction has committed.

SQLite has one writer: a single writer connection serialises transactions
behind an :class:`asyncio.Lock` (``BEGIN IMMEDIATE``), while reads outside
transactions go to a small pool of reader connections, which WAL mode lets run
alongside the writer. WAL checkpoints run in the background on a connection of
their own (``PASSIVE``: they never wait for, or block, readers and the writer),
so no write pays for copying the log back into the database file.

A trip to a reader thread costs tens of microseconds of thread hand-off, far
more than a typical indexed read itself (a few microseconds). So a read first
runs on the event loop's own thread, on a connection of its own, with a small
budget of SQLite VM steps; a read that outgrows the budget is interrupted and
rerun on a reader thread, so the loop is never held for long.
PostgreSQL uses an asyncpg pool.

Write batching: inside ``async with db.batched():`` (within a transaction),
``execute``/``executemany`` are queued instead of run. The queue runs before
the transaction's next read and at its commit. On SQLite every trip to the
connection's thread carries whatever is pending (``BEGIN``, queued writes, the
statement itself, ``COMMIT``), through aiosqlite's ``_execute`` (the primitive
all of its public methods use), so a message's whole write transaction costs
one trip. Queued statements return ``-1`` as their row count: code that needs
counts or ``RETURNING`` values must not run batched.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import re
import sqlite3
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiosqlite
import asyncpg
import structlog

logger = structlog.get_logger(__name__)

Row = Mapping[str, Any]
Statement = tuple[bool, str, Any]  # (executemany?, sql, args)


_IN_ORDER = 1
_REORDER = 2
#: Seconds between background WAL checkpoints (SQLite).
_CHECKPOINT_INTERVAL = 1.0
#: SQLite VM steps a read may take on the event loop's thread (in units of
#: _INLINE_STEP) before it moves to a reader thread: well under a millisecond.
_INLINE_STEP = 1000
_INLINE_BUDGET = 20


class IntegrityError(Exception):
    """A uniqueness or foreign-key constraint was violated (both backends)."""


@dataclass
class _Txn:
    """The state of the transaction a task is in."""

    conn: Any
    queue: list[Statement] = field(default_factory=list)
    #: Queued executemany groups by SQL (reordered batches), until the queue runs.
    groups: dict[str, Statement] = field(default_factory=dict)
    hooks: list[Callable[[], None]] = field(default_factory=list)
    begun: bool = False
    #: Whether the queue holds statements whose order matters (``batched()`` without reorder).
    ordered: bool = False


class Database(ABC):
    """The async database interface that stores use."""

    #: ``"sqlite"`` or ``"postgres"``, for the rare store that must differ.
    dialect: str

    def __init__(self) -> None:
        self._txn: contextvars.ContextVar[_Txn | None] = contextvars.ContextVar(f"db_txn_{id(self)}", default=None)
        self._batching: contextvars.ContextVar[int] = contextvars.ContextVar(f"db_batch_{id(self)}", default=0)

    @abstractmethod
    async def open(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    def connection_counts(self) -> tuple[int, int]:
        """(open, in use) connections, for the metrics."""

    @abstractmethod
    def transaction(self, name: str) -> Any:
        """An async context manager for one transaction; nested calls join the outer one."""

    @abstractmethod
    async def execute(self, sql: str, *args: Any) -> int:
        """Run a statement; return the number of rows it changed."""

    @abstractmethod
    async def executemany(self, sql: str, args: Iterable[Sequence[Any]]) -> None: ...

    @abstractmethod
    async def fetch(self, sql: str, *args: Any) -> list[Row]: ...

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        rows = await self.fetch(sql, *args)
        return rows[0] if rows else None

    async def fetchval(self, sql: str, *args: Any) -> Any:
        row = await self.fetchrow(sql, *args)
        if row is None:
            return None
        return next(iter(row.values()))

    @property
    def in_transaction(self) -> bool:
        return self._txn.get() is not None

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the outermost transaction commits (now, if none is open).

        Callbacks of a transaction that rolls back are dropped: nobody hears about
        changes that never happened.
        """
        txn = self._txn.get()
        if txn is None:
            callback()
        else:
            txn.hooks.append(callback)

    @asynccontextmanager
    async def batched(self, *, reorder: bool = False) -> AsyncIterator[None]:
        """Queue writes until the transaction's next read or its commit.

        With ``reorder``, queued statements with the same SQL are sent together
        (as one ``executemany``, in their order), which saves round trips; only
        use it where statements of different kinds are independent of each other.
        """
        assert self.in_transaction, "batched writes need a transaction"
        token = self._batching.set(_REORDER if reorder else _IN_ORDER)
        try:
            yield
        finally:
            self._batching.reset(token)

    def _enqueue(self, many: bool, sql: str, args: Any) -> bool:
        txn = self._txn.get()
        mode = self._batching.get()
        if txn is None or not mode:
            return False
        rows = args if many else [args]
        if mode == _REORDER:
            group = txn.groups.get(sql)
            if group is None:
                group = txn.groups[sql] = (True, sql, [])
                txn.queue.append(group)
            group[2].extend(rows)
        else:
            txn.queue.append((many, sql, args))
            txn.ordered = True
        return True

    @staticmethod
    def _run_hooks(txn: _Txn) -> None:
        for callback in txn.hooks:
            try:
                callback()
            except Exception:
                logger.exception("after_commit_failed")


def connect(url: str, *, base_dir: Path, pool_size: int = 8) -> Database:
    """Build (not open) the database for a ``sqlite:///`` or ``postgresql://`` URL."""
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///"):])
        if not path.is_absolute():
            path = base_dir / path
        return SqliteDatabase(path, readers=pool_size)
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresDatabase(url, pool_size=pool_size)
    raise ValueError(f"unsupported database URL scheme: {url.split(':', 1)[0]}")


# -- SQLite -------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\$(\d+)")


@functools.lru_cache(maxsize=4096)
def _sqlite_sql(sql: str) -> str:
    return _PLACEHOLDER.sub(r"?\1", sql)


def _dict_row(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> dict[str, Any]:
    return {d[0]: v for d, v in zip(cursor.description, row)}


def _rollback(raw: sqlite3.Connection) -> None:
    if raw.in_transaction:  # a failed COMMIT may already have ended it
        raw.execute("ROLLBACK")


def _run_statements(raw: sqlite3.Connection, statements: list[Statement]) -> None:
    for many, sql, args in statements:
        if many:
            raw.executemany(_sqlite_sql(sql), args)
        else:
            raw.execute(_sqlite_sql(sql), args)


class SqliteDatabase(Database):
    dialect = "sqlite"

    def __init__(self, path: Path, *, readers: int = 4) -> None:
        super().__init__()
        self.path = path
        self._reader_count = max(1, readers)
        self._writer: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()
        self._readers: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        self._all_readers: list[aiosqlite.Connection] = []
        self._checkpointer: asyncio.Task[None] | None = None
        self._inline: sqlite3.Connection | None = None
        self._inline_steps = 0

    def connection_counts(self) -> tuple[int, int]:
        readers = len(self._all_readers)
        writer = 1 if self._writer is not None else 0
        in_use = readers - self._readers.qsize() + (1 if self._write_lock.locked() else 0)
        return readers + writer, in_use

    async def _connect(self) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        conn.row_factory = _dict_row
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=NORMAL")
        await conn.execute("PRAGMA foreign_keys=ON")
        await conn.execute("PRAGMA busy_timeout=10000")
        return conn

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = await self._connect()
        await self._writer.execute("PRAGMA wal_autocheckpoint=0")  # see _checkpoint_loop
        for _ in range(self._reader_count):
            conn = await self._connect()
            self._all_readers.append(conn)
            self._readers.put_nowait(conn)
        self._checkpointer = asyncio.create_task(self._checkpoint_loop(await self._connect()), name="wal_checkpoint")
        self._inline = sqlite3.connect(self.path, isolation_level=None)
        self._inline.row_factory = _dict_row
        self._inline.execute("PRAGMA query_only=ON")
        self._inline.set_progress_handler(self._over_budget, _INLINE_STEP)

    def _over_budget(self) -> bool:
        self._inline_steps += 1
        return self._inline_steps > _INLINE_BUDGET

    def _fetch_inline(self, sql: str, args: Sequence[Any]) -> list[Row] | None:
        """Run a read on this thread if it is quick; ``None`` if it must go to a reader."""
        if self._inline is None:
            return None
        self._inline_steps = 0
        try:
            return self._inline.execute(_sqlite_sql(sql), args).fetchall()
        except sqlite3.OperationalError:  # over budget (interrupted), or busy: a reader will do it
            return None

    async def _checkpoint_loop(self, conn: aiosqlite.Connection) -> None:
        """Copy the write-ahead log back into the database file every second."""
        try:
            while True:
                await asyncio.sleep(_CHECKPOINT_INTERVAL)
                try:
                    await conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error:
                    logger.exception("wal_checkpoint_failed")
        finally:
            await conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            await conn.close()

    async def close(self) -> None:
        if self._inline is not None:
            self._inline.close()
            self._inline = None
        if self._checkpointer is not None:
            self._checkpointer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checkpointer
            self._checkpointer = None
        async with self._write_lock:
            for conn in [self._writer, *self._all_readers]:
                if conn is not None:
                    await conn.close()
            self._writer = None
            self._all_readers.clear()

    @asynccontextmanager
    async def transaction(self, name: str) -> AsyncIterator[None]:
        if self._txn.get() is not None:
            yield
            return
        assert self._writer is not None, "database is not open"
        async with self._write_lock:
            txn = _Txn(self._writer)
            token = self._txn.set(txn)
            started = time.monotonic()
            try:
                yield
                if txn.begun or txn.queue:
                    await self._call(txn, lambda raw: raw.execute("COMMIT"))
            except BaseException:
                if txn.begun:
                    await txn.conn._execute(lambda: _rollback(txn.conn._conn))
                raise
            finally:
                self._txn.reset(token)
                _log_slow(name, started)
        self._run_hooks(txn)

    async def _call(self, txn: _Txn, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        """One trip to the writer's thread: BEGIN if needed, queued writes, then ``fn``."""
        pending, txn.queue = txn.queue, []
        txn.groups.clear()
        begin = not txn.begun
        txn.begun = True
        conn = txn.conn

        def run() -> Any:
            raw = conn._conn
            if begin:
                raw.execute("BEGIN IMMEDIATE")
            _run_statements(raw, pending)
            return fn(raw)

        try:
            return await conn._execute(run)
        except sqlite3.IntegrityError as e:
            raise IntegrityError(str(e)) from e

    @asynccontextmanager
    async def _reader(self) -> AsyncIterator[aiosqlite.Connection]:
        conn = await self._readers.get()
        try:
            yield conn
        finally:
            self._readers.put_nowait(conn)

    async def execute(self, sql: str, *args: Any) -> int:
        if self._enqueue(False, sql, args):
            return -1
        txn = self._txn.get()
        if txn is None:
            async with self.transaction("execute"):
                return await self.execute(sql, *args)
        return await self._call(txn, lambda raw: raw.execute(_sqlite_sql(sql), args).rowcount)

    async def executemany(self, sql: str, args: Iterable[Sequence[Any]]) -> None:
        rows = list(args)
        if self._enqueue(True, sql, rows):
            return
        txn = self._txn.get()
        if txn is None:
            async with self.transaction("executemany"):
                await self.executemany(sql, rows)
            return
        await self._call(txn, lambda raw: raw.executemany(_sqlite_sql(sql), rows))

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        txn = self._txn.get()
        if txn is not None:
            return await self._call(txn, lambda raw: raw.execute(_sqlite_sql(sql), args).fetchall())
        if _is_write(sql):
            async with self.transaction("fetch"):
                return await self.fetch(sql, *args)
        rows = self._fetch_inline(sql, args)
        if rows is not None:
            return rows
        async with self._reader() as reader:
            return list(await reader.execute_fetchall(_sqlite_sql(sql), args))


def _is_write(sql: str) -> bool:
    head = sql.lstrip().split(None, 1)[0].upper()
    return head in {"INSERT", "UPDATE", "DELETE", "REPLACE", "WITH"} and (
        head != "WITH" or re.search(r"\b(INSERT|UPDATE|DELETE)\b", sql, re.I) is not None
    )


# -- PostgreSQL ---------------------------------------------------------------------


class PostgresDatabase(Database):
    dialect = "postgres"

    def __init__(self, dsn: str, *, pool_size: int = 8) -> None:
        super().__init__()
        self.dsn = dsn
        self.pool_size = max(2, pool_size)
        self._pool: asyncpg.Pool | None = None
        #: insert SQL -> the same insert over unnested arrays (see _insert_unnested)
        self._unnested: dict[str, str] = {}

    def connection_counts(self) -> tuple[int, int]:
        if self._pool is None:
            return 0, 0
        size = self._pool.get_size()
        return size, size - self._pool.get_idle_size()

    async def open(self) -> None:
        self._pool = await asyncpg.create_pool(
            self.dsn, min_size=1, max_size=self.pool_size, command_timeout=60, reset=_keep_session
        )

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @asynccontextmanager
    async def transaction(self, name: str) -> AsyncIterator[None]:
        if self._txn.get() is not None:
            yield
            return
        assert self._pool is not None, "database is not open"
        started = time.monotonic()
        async with self._pool.acquire() as conn:
            txn = _Txn(conn, begun=True)
            token = self._txn.set(txn)
            try:
                async with conn.transaction():
                    yield
                    await self._flush(txn)
            finally:
                self._txn.reset(token)
                _log_slow(name, started)
        self._run_hooks(txn)

    async def _flush(self, txn: _Txn) -> None:
        pending, txn.queue = txn.queue, []
        txn.groups.clear()
        ordered, txn.ordered = txn.ordered, False
        combined, separate = (None, pending) if ordered else _combine(pending)
        try:
            if combined is not None:
                await txn.conn.execute(*combined)
            for many, sql, args in separate:
                if many and len(args) >= _UNNEST_ROWS and _insert_shape(sql) is not None:
                    await self._insert_unnested(txn.conn, sql, args)
                elif many:
                    await txn.conn.executemany(sql, args)
                else:
                    await txn.conn.execute(sql, *args)
        except asyncpg.IntegrityConstraintViolationError as e:
            raise IntegrityError(str(e)) from e

    async def _insert_unnested(self, conn: asyncpg.Connection, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Many rows of one insert as a single statement over ``unnest`` of one array per
        parameter (a large batch's rows in one message instead of one each)."""
        unnested = self._unnested.get(sql)
        if unnested is None:
            types = [
                t.name if t.schema == "pg_catalog" else f'"{t.schema}"."{t.name}"'
                for t in (await conn.prepare(sql)).get_parameters()
            ]
            unnested = self._unnested[sql] = _unnest_sql(sql, types)
        await conn.execute(unnested, *(list(column) for column in zip(*rows)))

    @asynccontextmanager
    async def _conn(self) -> AsyncIterator[asyncpg.Connection]:
        txn = self._txn.get()
        if txn is not None:
            await self._flush(txn)
            yield txn.conn
            return
        assert self._pool is not None, "database is not open"
        async with self._pool.acquire() as conn:
            yield conn

    async def execute(self, sql: str, *args: Any) -> int:
        if self._enqueue(False, sql, args):
            return -1
        async with self._conn() as conn:
            try:
                status = await conn.execute(sql, *args)
            except asyncpg.IntegrityConstraintViolationError as e:
                raise IntegrityError(str(e)) from e
        tail = status.rsplit(" ", 1)[-1]
        return int(tail) if tail.isdigit() else 0

    async def executemany(self, sql: str, args: Iterable[Sequence[Any]]) -> None:
        rows = list(args)
        if self._enqueue(True, sql, rows):
            return
        async with self._conn() as conn:
            try:
                await conn.executemany(sql, rows)
            except asyncpg.IntegrityConstraintViolationError as e:
                raise IntegrityError(str(e)) from e

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        async with self._conn() as conn:
            try:
                return await conn.fetch(sql, *args)
            except asyncpg.IntegrityConstraintViolationError as e:
                raise IntegrityError(str(e)) from e


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Pool connections go back as they are: Hearth takes no advisory locks, opens no
    cursors, LISTENs on no pooled connection and SETs nothing, so asyncpg's default
    reset (a round trip on every release) has nothing to undo."""


def _combine(statements: list[Statement]) -> tuple[tuple[Any, ...] | None, list[Statement]]:
    """Small batches of queued writes as one statement of data-modifying CTEs (one round trip).

    Only for reordered batches, whose statement kinds are independent by
    contract (they touch different rows: the sender's delete of old forward
    extremities never meets its insert of the new one). What combines: inserts
    (plain, or ``ON CONFLICT ... DO NOTHING``) with one ``VALUES`` tuple of
    parameters and expressions of them, each kind as one multi-row ``VALUES``
    CTE; and deletes by equality on columns, each kind as one CTE whose
    ``WHERE`` ORs the rows' conditions. An insert never changes an existing row
    and a delete only removes rows, so running the kinds side by side in one
    statement (all see the rows as they were before it) equals running them in
    turn, while two updates or upserts of one row inside one statement would not
    both take effect: those stay separate calls. Big batches (throughput, not
    latency, matters there) are left alone: their many rows would make large
    statements of ever-new shapes. Returns ``(sql, *args)`` of the combined
    statement (``None`` when fewer than two kinds combine) and the statements
    left to run on their own.
    """
    if sum(len(rows) if many else 1 for many, _, rows in statements) > _MAX_COMBINED_ROWS:
        return None, statements
    parts: list[str] = []
    args: list[Any] = []
    separate: list[Statement] = []
    for many, sql, raw_rows in statements:
        rows = list(raw_rows) if many else [raw_rows]
        insert = _insert_shape(sql)
        delete = _DELETE_WHERE.fullmatch(sql.strip())
        if insert is not None:
            tuples = [_renumbered(insert.group(2), args, row) for row in rows]
            parts.append(f"q{len(parts)} AS ({insert.group(1)}{', '.join(tuples)}{insert.group(3)})")
        elif delete is not None:
            conditions = [_renumbered(delete.group(2), args, row) for row in rows]
            parts.append(f"q{len(parts)} AS ({delete.group(1)}{' OR '.join(f'({c})' for c in conditions)})")
        else:
            separate.append((many, sql, raw_rows))
    if len(parts) < 2:
        return None, statements
    return ("WITH " + ", ".join(parts) + " SELECT 1", *args), separate


def _insert_shape(sql: str) -> re.Match[str] | None:
    """An insert of one ``VALUES`` tuple whose rows may go side by side in one statement
    (plain, or ``ON CONFLICT ... DO NOTHING``: an upsert must not meet its key twice)."""
    shape = _INSERT_VALUES.fullmatch(sql.strip())
    if shape is None:
        return None
    tail = shape.group(3).upper()
    return shape if "ON CONFLICT" not in tail or tail.rstrip().endswith("DO NOTHING") else None


def _unnest_sql(sql: str, types: list[str]) -> str:
    """``INSERT ... VALUES (<exprs of $1..$n>) <tail>`` as ``INSERT ... SELECT <exprs of
    u.c1..u.cn> FROM unnest($1::type1[], ...) AS u(c1, ..., cn) <tail>``."""
    shape = _insert_shape(sql)
    assert shape is not None
    head = shape.group(1)[: shape.group(1).upper().rindex("VALUES")]
    values = _PLACEHOLDER.sub(lambda m: f"u.c{m.group(1)}", shape.group(2).strip()[1:-1])
    arrays = ", ".join(f"${i + 1}::{t}[]" for i, t in enumerate(types))
    columns = ", ".join(f"c{i + 1}" for i in range(len(types)))
    return f"{head}SELECT {values} FROM unnest({arrays}) AS u({columns}){shape.group(3)}"


def _renumbered(template: str, args: list[Any], row: Sequence[Any]) -> str:
    """``template`` (using ``$1``...) for ``row``, its parameters renumbered after ``args``,
    which ``row`` is appended to."""
    offset = len(args)
    args.extend(row)
    return _PLACEHOLDER.sub(lambda m: f"${offset + int(m.group(1))}", template)


#: ``INSERT ... VALUES (<parameters, and expressions of them>) <tail>``: the inserts
#: :func:`_combine` can merge.
_INSERT_VALUES = re.compile(r"(INSERT\s.*?\bVALUES\s*)(\((?:[^()]|\([^()]*\))*\))(.*)", re.I | re.S)
#: ``DELETE FROM <table> WHERE <column> = $n AND ...``: the deletes :func:`_combine` can merge.
_DELETE_WHERE = re.compile(r"(DELETE\s+FROM\s+\w+\s+WHERE\s+)(\w+\s*=\s*\$\d+(?:\s+AND\s+\w+\s*=\s*\$\d+)*)", re.I)
#: Rows beyond which a batch is not combined.
_MAX_COMBINED_ROWS = 64
#: Rows from which one insert goes as a single statement over unnested arrays.
_UNNEST_ROWS = 16


def _log_slow(name: str, started: float) -> None:
    elapsed = time.monotonic() - started
    if elapsed > 1.0:
        logger.warning("slow_transaction", transaction=name, seconds=round(elapsed, 3))
