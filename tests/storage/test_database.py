"""The database layer on both backends: transactions, batching, hooks, errors."""

from __future__ import annotations

import pytest

from storage.database import IntegrityError


async def _table(db):
    await db.execute("CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)")


async def test_transaction_commits_and_rolls_back(database):
    await _table(database)
    async with database.transaction("ok"):
        await database.execute("INSERT INTO t (k, v) VALUES ($1, $2)", "a", 1)
    with pytest.raises(RuntimeError):
        async with database.transaction("fail"):
            await database.execute("INSERT INTO t (k, v) VALUES ($1, $2)", "b", 2)
            raise RuntimeError("boom")
    rows = await database.fetch("SELECT k, v FROM t ORDER BY k")
    assert [(r["k"], r["v"]) for r in rows] == [("a", 1)]


async def test_batched_writes_are_visible_to_later_reads_and_atomic(database):
    await _table(database)
    async with database.transaction("batch"):
        async with database.batched():
            assert await database.execute("INSERT INTO t (k, v) VALUES ($1, $2)", "x", 1) == -1
            await database.executemany("INSERT INTO t (k, v) VALUES ($1, $2)", [("y", 2), ("z", 3)])
        # A read inside the transaction sees the queued writes.
        assert await database.fetchval("SELECT COUNT(*) AS n FROM t") == 3
    with pytest.raises(IntegrityError):
        async with database.transaction("dup"):
            async with database.batched():
                await database.execute("INSERT INTO t (k, v) VALUES ($1, $2)", "w", 4)
                await database.execute("INSERT INTO t (k, v) VALUES ($1, $2)", "x", 5)  # duplicate key
    assert await database.fetchval("SELECT COUNT(*) AS n FROM t") == 3  # 'w' rolled back too


async def test_after_commit_hooks(database):
    await _table(database)
    seen = []
    async with database.transaction("hooks"):
        await database.execute("INSERT INTO t (k, v) VALUES ($1, $2)", "h", 1)
        database.after_commit(lambda: seen.append("committed"))
        assert seen == []
    assert seen == ["committed"]
    with pytest.raises(RuntimeError):
        async with database.transaction("hooks2"):
            database.after_commit(lambda: seen.append("never"))
            raise RuntimeError
    assert seen == ["committed"]
    database.after_commit(lambda: seen.append("now"))
    assert seen == ["committed", "now"]


async def test_nested_transactions_join(database):
    await _table(database)
    with pytest.raises(RuntimeError):
        async with database.transaction("outer"):
            async with database.transaction("inner"):
                await database.execute("INSERT INTO t (k, v) VALUES ($1, $2)", "n", 1)
            raise RuntimeError
    assert await database.fetchval("SELECT COUNT(*) AS n FROM t") == 0


async def test_integrity_errors_are_translated(database):
    await _table(database)
    await database.execute("INSERT INTO t (k, v) VALUES ($1, $2)", "i", 1)
    with pytest.raises(IntegrityError):
        await database.execute("INSERT INTO t (k, v) VALUES ($1, $2)", "i", 2)
    assert await database.fetchval("SELECT v FROM t WHERE k = $1", "i") == 1


async def test_long_reads_leave_the_event_loop_thread(database):
    """On SQLite a quick read runs on the loop's thread; one over budget is moved to a
    reader thread and still returns the right answer (both backends answer alike)."""
    big = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000) SELECT COUNT(*) AS c FROM n"
    assert await database.fetchval(big) == 200000
    assert await database.fetchval("SELECT 1 + 1 AS two") == 2
    if database.dialect == "sqlite":
        assert database._fetch_inline("SELECT 1 + 1 AS two", ()) == [{"two": 2}]
        assert database._fetch_inline(big, ()) is None


async def test_wal_is_checkpointed_in_the_background(database):
    if database.dialect != "sqlite":
        pytest.skip("SQLite's write-ahead log")
    import asyncio

    await database.execute("CREATE TABLE filler (x TEXT)")
    await database.executemany("INSERT INTO filler (x) VALUES ($1)", [("y" * 1000,) for _ in range(2000)])
    # Committed, but only in the log: writes never wait for a checkpoint...
    assert database.path.stat().st_size < 1_000_000
    for _ in range(30):
        await asyncio.sleep(0.1)
        if database.path.stat().st_size > 2_000_000:
            break
    # ...which the background checkpointer does, copying the log into the database file.
    assert database.path.stat().st_size > 2_000_000
    assert await database.fetchval("SELECT COUNT(*) AS c FROM filler") == 2000


def test_combining_queued_writes():
    """PostgreSQL sends a small reordered batch of inserts and keyed deletes as one
    statement; upserts and other shapes stay apart."""
    from storage.database import _combine

    statements = [
        (True, "INSERT INTO a (x, y) VALUES ($1, $2)", [(1, 2), (3, 4)]),
        (False, "INSERT INTO b (x) VALUES ($1) ON CONFLICT DO NOTHING", (5,)),
        (True, "INSERT INTO c (x) VALUES ($1) ON CONFLICT (x) DO UPDATE SET x = EXCLUDED.x", [(6,)]),
        (True, "DELETE FROM d WHERE x = $1 AND y = $2", [(7, 8), (9, 10)]),
        (True, "INSERT INTO e (x, v) VALUES ($1, to_tsvector('simple', $1))", [("t",)]),
        (False, "DELETE FROM f WHERE x < $1", (11,)),
        (False, "UPDATE g SET x = $1", (12,)),
    ]
    combined, separate = _combine(statements)
    assert combined == (
        "WITH q0 AS (INSERT INTO a (x, y) VALUES ($1, $2), ($3, $4)),"
        " q1 AS (INSERT INTO b (x) VALUES ($5) ON CONFLICT DO NOTHING),"
        " q2 AS (DELETE FROM d WHERE (x = $6 AND y = $7) OR (x = $8 AND y = $9)),"
        " q3 AS (INSERT INTO e (x, v) VALUES ($10, to_tsvector('simple', $10))) SELECT 1",
        1, 2, 3, 4, 5, 7, 8, 9, 10, "t",
    )
    assert [statement for statement in separate] == [statements[2], statements[5], statements[6]]
    big = [(True, "INSERT INTO a (x) VALUES ($1)", [(i,) for i in range(100)]), (False, "INSERT INTO b (x) VALUES ($1)", (1,))]
    assert _combine(big) == (None, big)


def test_big_inserts_become_one_statement_over_arrays():
    from storage.database import _unnest_sql

    sql = "INSERT INTO e (x, v, n) VALUES ($1, lower($1), $2) ON CONFLICT DO NOTHING"
    assert _unnest_sql(sql, ["text", "int8"]) == (
        "INSERT INTO e (x, v, n) SELECT u.c1, lower(u.c1), u.c2 FROM unnest($1::text[], $2::int8[]) AS u(c1, c2)"
        " ON CONFLICT DO NOTHING"
    )


async def test_big_batches_write_every_row(database):
    """Large batches (one statement over arrays on PostgreSQL) keep the insert's meaning:
    expressions, NULLs, and ON CONFLICT DO NOTHING for repeated keys."""
    await database.execute("CREATE TABLE big (x INTEGER PRIMARY KEY, y TEXT, z TEXT, f BOOLEAN)")
    rows = [(i, None if i % 3 == 0 else f"v{i}", i % 2 == 0) for i in range(40)]
    async with database.transaction("t"):
        async with database.batched(reorder=True):
            await database.executemany(
                "INSERT INTO big (x, y, z, f) VALUES ($1, $2, upper($2), $3) ON CONFLICT DO NOTHING",
                rows + [(5, "again", True)] * 20,
            )
    stored = await database.fetch("SELECT x, y, z, f FROM big ORDER BY x")
    assert [(r["x"], r["y"], r["z"], bool(r["f"])) for r in stored] == [
        (x, y, y.upper() if y else None, f) for x, y, f in rows
    ]
    with pytest.raises(IntegrityError):
        async with database.transaction("t"):
            async with database.batched(reorder=True):
                await database.executemany("INSERT INTO big (x, y, z, f) VALUES ($1, $2, $2, $3)", [(100 + i, "n", True) for i in range(20)] + [(1, "dup", False)])
    assert await database.fetchval("SELECT COUNT(*) FROM big") == 40


async def test_reordered_batches_write_everything(database):
    await database.execute("CREATE TABLE one (x INTEGER PRIMARY KEY)")
    await database.execute("CREATE TABLE two (x INTEGER PRIMARY KEY, y TEXT)")
    async with database.transaction("t"):
        async with database.batched(reorder=True):
            await database.executemany("INSERT INTO one (x) VALUES ($1)", [(1,), (2,)])
            await database.execute("INSERT INTO two (x, y) VALUES ($1, $2) ON CONFLICT DO NOTHING", 1, "a")
            await database.execute("INSERT INTO two (x, y) VALUES ($1, $2) ON CONFLICT DO NOTHING", 1, "b")
            await database.execute("INSERT INTO one (x) VALUES ($1)", 3)
    assert [r["x"] for r in await database.fetch("SELECT x FROM one ORDER BY x")] == [1, 2, 3]
    assert [dict(r) for r in await database.fetch("SELECT x, y FROM two")] == [{"x": 1, "y": "a"}]
    with pytest.raises(IntegrityError):
        async with database.transaction("t"):
            async with database.batched(reorder=True):
                await database.execute("INSERT INTO one (x) VALUES ($1)", 9)
                await database.execute("INSERT INTO two (x, y) VALUES ($1, $2)", 1, "again")
    assert await database.fetchval("SELECT COUNT(*) AS n FROM one WHERE x = 9") == 0
