"""Push rules and pushers (notification actions: :mod:`storage.push_actions`)."""

from __future__ import annotations

import json
from typing import Any

from storage.database import Database


class PushStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- rules --------------------------------------------------------------------------

    async def get_custom_rules(self, user_id: str) -> dict[str, Any]:
        raw = await self.db.fetchval("SELECT rules FROM push_rules WHERE user_id = $1", user_id)
        return json.loads(raw) if raw else {}

    async def set_custom_rules(self, user_id: str, rules: dict[str, Any]) -> None:
        await self.db.execute(
            "INSERT INTO push_rules (user_id, rules) VALUES ($1, $2)"
            " ON CONFLICT (user_id) DO UPDATE SET rules = EXCLUDED.rules",
            user_id,
            json.dumps(rules),
        )

    # -- pushers ---------------------------------------------------------------------------

    async def set_pusher(
        self, user_id: str, app_id: str, pushkey: str, kind: str, data: dict[str, Any], device_id: str, now_ms: int,
        *, append: bool,
    ) -> None:
        async with self.db.transaction("set_pusher"):
            if not append:
                # Without append, a pushkey belongs to one user only.
                await self.db.execute(
                    "DELETE FROM pushers WHERE app_id = $1 AND pushkey = $2 AND user_id != $3",
                    app_id, pushkey, user_id,
                )
            await self.db.execute(
                "INSERT INTO pushers (user_id, app_id, pushkey, kind, data, device_id, created_ts)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (app_id, pushkey, user_id)"
                " DO UPDATE SET kind = EXCLUDED.kind, data = EXCLUDED.data, device_id = EXCLUDED.device_id",
                user_id, app_id, pushkey, kind, json.dumps(data), device_id, now_ms,
            )

    async def delete_pusher(self, user_id: str, app_id: str, pushkey: str) -> None:
        await self.db.execute(
            "DELETE FROM pushers WHERE user_id = $1 AND app_id = $2 AND pushkey = $3", user_id, app_id, pushkey
        )

    async def delete_pushers_of(self, user_id: str) -> None:
        await self.db.execute("DELETE FROM pushers WHERE user_id = $1", user_id)

    async def pushers(self, user_id: str) -> list[dict[str, Any]]:
        rows = await self.db.fetch(
            "SELECT app_id, pushkey, kind, data, device_id FROM pushers WHERE user_id = $1 ORDER BY created_ts", user_id
        )
        return [{**json.loads(r["data"]), "app_id": r["app_id"], "pushkey": r["pushkey"], "kind": r["kind"]} for r in rows]
