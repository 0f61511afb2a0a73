"""The durable queue of users whose memberships await an update in every room."""

from __future__ import annotations

from dataclasses import dataclass

from storage.database import Database

PROFILE = "profile"
PART = "part"


@dataclass(frozen=True)
class MemberUpdate:
    user_id: str
    #: :data:`PROFILE` or :data:`PART`.
    kind: str
    version: int


class MemberUpdateStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def request(self, user_id: str, kind: str) -> None:
        """Ask for an update of the user's memberships; a part outranks a profile update."""
        await self.db.execute(
            "INSERT INTO member_updates (user_id, kind, version) VALUES ($1, $2, 1)"
            " ON CONFLICT (user_id) DO UPDATE SET version = member_updates.version + 1,"
            " kind = CASE WHEN member_updates.kind = $3 THEN $3 ELSE EXCLUDED.kind END",
            user_id, kind, PART,
        )

    async def get(self, user_id: str) -> MemberUpdate | None:
        row = await self.db.fetchrow("SELECT user_id, kind, version FROM member_updates WHERE user_id = $1", user_id)
        return MemberUpdate(row["user_id"], row["kind"], int(row["version"])) if row is not None else None

    async def pending(self) -> list[str]:
        rows = await self.db.fetch("SELECT user_id FROM member_updates ORDER BY user_id")
        return [r["user_id"] for r in rows]

    async def done(self, update: MemberUpdate) -> bool:
        """Remove the request unless a newer one came meanwhile; whether it was removed."""
        return await self.db.execute(
            "DELETE FROM member_updates WHERE user_id = $1 AND version = $2", update.user_id, update.version
        ) == 1
