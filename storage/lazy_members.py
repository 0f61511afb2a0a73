"""The membership events each device was sent by lazy-loading syncs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from storage.database import Database, IntegrityError


class LazyMemberStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def known(
        self, user_id: str, device_id: str, room_id: str, member_ids: Sequence[str], as_of: int
    ) -> dict[str, str]:
        """``member -> event_id`` of the membership events among ``member_ids`` that the
        device was sent in responses up to the events position ``as_of``."""
        known: dict[str, str] = {}
        for start in range(0, len(member_ids), 500):
            chunk = member_ids[start : start + 500]
            placeholders = ", ".join(f"${i + 5}" for i in range(len(chunk)))
            rows = await self.db.fetch(
                "SELECT member_id, event_id FROM lazy_members_sent"
                " WHERE user_id = $1 AND device_id = $2 AND room_id = $3 AND sent_at <= $4"
                f" AND member_id IN ({placeholders})",
                user_id, device_id, room_id, as_of, *chunk,
            )
            known.update((r["member_id"], r["event_id"]) for r in rows)
        return known

    async def save(
        self,
        user_id: str,
        device_id: str,
        *,
        forget_rooms: Sequence[str] | None,
        sent: Mapping[str, Mapping[str, str]],
        position: int,
    ) -> None:
        """Forget what the device was sent in ``forget_rooms`` (every room when ``None``),
        then record ``sent`` (room -> member -> event_id) at ``position``. A device
        deleted meanwhile records nothing."""
        rows = [
            (user_id, device_id, room_id, member_id, event_id, position)
            for room_id, members in sent.items() for member_id, event_id in members.items()
        ]
        if not rows and forget_rooms is not None and not forget_rooms:
            return
        try:
            async with self.db.transaction("save_lazy_members"):
                if forget_rooms is None:
                    await self.db.execute(
                        "DELETE FROM lazy_members_sent WHERE user_id = $1 AND device_id = $2", user_id, device_id
                    )
                else:
                    await self.db.executemany(
                        "DELETE FROM lazy_members_sent WHERE user_id = $1 AND device_id = $2 AND room_id = $3",
                        [(user_id, device_id, room_id) for room_id in forget_rooms],
                    )
                if rows:
                    await self.db.executemany(
                        "INSERT INTO lazy_members_sent (user_id, device_id, room_id, member_id, event_id, sent_at)"
                        " VALUES ($1, $2, $3, $4, $5, $6)"
                        " ON CONFLICT (user_id, device_id, room_id, member_id)"
                        " DO UPDATE SET event_id = EXCLUDED.event_id, sent_at = EXCLUDED.sent_at",
                        rows,
                    )
        except IntegrityError:
            return  # the device was deleted while its sync ran
