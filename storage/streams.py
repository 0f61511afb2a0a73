"""Stream positions: the monotonically increasing counters behind sync tokens.

:func:`next_position` must be called inside a write transaction; it increments
the stream's row, whose lock is held until commit, so positions are handed out
and become visible in order.
"""

from __future__ import annotations

from storage.database import Database


async def next_position(db: Database, stream: str) -> int:
    """Allocate the next position of ``stream`` (inside the caller's transaction)."""
    assert db.in_transaction, "stream positions are allocated inside a transaction"
    position = await db.fetchval(
        "UPDATE stream_positions SET position = position + 1 WHERE stream = $1 RETURNING position",
        stream,
    )
    if position is None:
        await db.execute(
            "INSERT INTO stream_positions (stream, position) VALUES ($1, 1)"
            " ON CONFLICT (stream) DO UPDATE SET position = stream_positions.position + 1",
            stream,
        )
        position = await db.fetchval(
            "SELECT position FROM stream_positions WHERE stream = $1", stream
        )
    return int(position)


async def current_position(db: Database, stream: str) -> int:
    """The newest position handed out on ``stream`` (0 when none yet)."""
    position = await db.fetchval("SELECT position FROM stream_positions WHERE stream = $1", stream)
    return int(position or 0)
