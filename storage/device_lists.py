"""The device_lists stream: which users' devices or keys changed, and when."""

from __future__ import annotations

from storage.database import Database
from storage.streams import next_position

DEVICE_LISTS_STREAM = "device_lists"


class DeviceListStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def record_change(self, user_id: str, device_id: str | None = None) -> int:
        """Note that ``user_id``'s device list changed (inside a transaction); its position.
        ``device_id`` names the device of a local user's device update."""
        position = await next_position(self.db, DEVICE_LISTS_STREAM)
        await self.db.execute(
            "INSERT INTO device_list_changes (stream_id, user_id, device_id) VALUES ($1, $2, $3)",
            position, user_id, device_id,
        )
        return position

    async def changed_between(self, after: int, up_to: int) -> set[str]:
        """Users whose device lists changed after ``after``, up to ``up_to``."""
        if after >= up_to:
            return set()
        rows = await self.db.fetch(
            "SELECT DISTINCT user_id FROM device_list_changes WHERE stream_id > $1 AND stream_id <= $2",
            after, up_to,
        )
        return {r["user_id"] for r in rows}

    async def latest_device_update(self, user_id: str) -> int:
        """The position of the user's latest device update (0 if none)."""
        value = await self.db.fetchval(
            "SELECT MAX(stream_id) FROM device_list_changes WHERE user_id = $1 AND device_id IS NOT NULL", user_id
        )
        return int(value or 0)
