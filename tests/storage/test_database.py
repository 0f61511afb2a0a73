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
