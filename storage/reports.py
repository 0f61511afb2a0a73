"""Content reports for the server's admins."""

from __future__ import annotations

from typing import Any

from storage.database import Database


class ReportStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(
        self,
        reporter: str,
        target_kind: str,
        *,
        room_id: str | None = None,
        event_id: str | None = None,
        user_id: str | None = None,
        reason: str | None,
        score: int | None = None,
        now_ms: int,
    ) -> int:
        return int(
            await self.db.fetchval(
                "INSERT INTO reports (reporter, target_kind, room_id, event_id, user_id, reason, score, received_ts)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                reporter, target_kind, room_id, event_id, user_id, reason, score, now_ms,
            )
        )

    async def list(self, *, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        total = await self.db.fetchval("SELECT COUNT(*) AS n FROM reports")
        rows = await self.db.fetch(
            "SELECT id, reporter, target_kind, room_id, event_id, user_id, reason, score, received_ts"
            " FROM reports ORDER BY id DESC LIMIT $1 OFFSET $2",
            limit,
            offset,
        )
        return [dict(r) for r in rows], int(total)
