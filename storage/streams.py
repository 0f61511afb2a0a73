"""Stream positions: the monotonically increasing counters behind sync tokens.

:func:`next_position` must be called inside a write transaction. On
PostgreSQL it increments the stream's row, whose lock is held until commit, so
positions are handed out and become visible in order. On SQLite, where one
writer connection already serialises every write transaction, positions are
counted in memory (seeded from the table) and written back in the same
transaction, which saves a round trip per event.
"""

from __future__ import annotations

import weakref

from storage.database import Database

_counters: "weakref.WeakKeyDictionary[Database, dict[str, int]]" = weakref.WeakKeyDictionary()


async def next_position(db: Database, stream: str) -> int:
    """Allocate the next position of ``stream`` (inside the caller's transaction)."""
    return (await next_positions(db, stream, 1))[0]


async def next_positions(db: Database, stream: str, count: int) -> list[int]:
    """Allocate ``count`` consecutive positions of ``stream`` (inside a transaction)."""
    assert db.in_transaction, "stream positions are allocated inside a transaction"
    if db.dialect == "sqlite":
        counters = _counters.setdefault(db, {})
        if stream not in counters:
            counters[stream] = await current_position(db, stream)
        first = counters[stream] + 1
        counters[stream] += count
        await db.execute(
            "INSERT INTO stream_positions (stream, position) VALUES ($1, $2)"
            " ON CONFLICT (stream) DO UPDATE SET position = EXCLUDED.position",
            stream,
            counters[stream],
        )
        return list(range(first, counters[stream] + 1))
    last = await db.fetchval(
        "INSERT INTO stream_positions (stream, position) VALUES ($1, $2)"
        " ON CONFLICT (stream) DO UPDATE SET position = stream_positions.position + $2 RETURNING position",
        stream,
        count,
    )
    return list(range(int(last) - count + 1, int(last) + 1))


async def current_position(db: Database, stream: str) -> int:
    """The newest position handed out on ``stream`` (0 when none yet)."""
    position = await db.fetchval("SELECT position FROM stream_positions WHERE stream = $1", stream)
    return int(position or 0)
