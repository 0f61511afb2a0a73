"""Content reports for the server's admins."""

from __future__ import annotations

from typing import Any

from storage import like
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

    async def list(
        self,
        *,
        offset: int,
        limit: int,
        newest_first: bool = True,
        reporter_contains: str | None = None,
        room_contains: str | None = None,
        event_sender: str | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """A page of reports and the total matching (Synapse's ``event_reports`` filters:
        the reporter's and the room's IDs contain the given text, ignoring ASCII case;
        the reported event was sent by ``event_sender``)."""
        conditions, args = [], []
        if reporter_contains:
            args.append(like.contains(reporter_contains.lower()))
            conditions.append(f"LOWER(reporter) LIKE ${len(args)} ESCAPE '\\'")
        if room_contains:
            args.append(like.contains(room_contains.lower()))
            conditions.append(f"LOWER(room_id) LIKE ${len(args)} ESCAPE '\\'")
        if event_sender is not None:
            args.append(event_sender)
            conditions.append(
                f"EXISTS (SELECT 1 FROM events e WHERE e.event_id = reports.event_id AND e.sender = ${len(args)})"
            )
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        total = await self.db.fetchval(f"SELECT COUNT(*) AS n FROM reports{where}", *args)
        rows = await self.db.fetch(
            "SELECT id, reporter, target_kind, room_id, event_id, user_id, reason, score, received_ts"
            f" FROM reports{where} ORDER BY id {'DESC' if newest_first else 'ASC'}"
            f" LIMIT ${len(args) + 1} OFFSET ${len(args) + 2}",
            *args,
            limit,
            offset,
        )
        return [dict(r) for r in rows], int(total)
