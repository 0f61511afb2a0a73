"""Which room is each user's server notices room."""

from __future__ import annotations

from storage.database import Database


class ServerNoticeStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def room_of(self, user_id: str) -> str | None:
        return await self.db.fetchval("SELECT room_id FROM server_notice_rooms WHERE user_id = $1", user_id)

    async def remember(self, user_id: str, room_id: str) -> None:
        await self.db.execute(
            "INSERT INTO server_notice_rooms (user_id, room_id) VALUES ($1, $2) ON CONFLICT (user_id) DO NOTHING",
            user_id, room_id,
        )
