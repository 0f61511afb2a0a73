"""Media metadata: who uploaded what, its type and name, and where its bytes are."""

from __future__ import annotations

from dataclasses import dataclass

from storage.database import Database


@dataclass(frozen=True)
class MediaRecord:
    media_id: str
    user_id: str
    content_type: str | None
    upload_name: str | None
    size: int | None
    sha256: str | None
    created_ts: int
    pending_expires_ts: int | None
    quarantined: bool

    @property
    def uploaded(self) -> bool:
        return self.sha256 is not None


@dataclass(frozen=True)
class Thumbnail:
    content_type: str
    size: int
    sha256: str


_COLUMNS = "media_id, user_id, content_type, upload_name, size, sha256, created_ts, pending_expires_ts, quarantined"


#: ``order_by`` values of the admin media lists and the columns they sort on.
#: (Quarantine is by an admin or not at all: ``quarantined_by`` sorts on whether it is;
#: nothing is ever safe from quarantine, so all media tie there: ``None``, by media ID.)
MEDIA_ORDERS: dict[str, str | None] = {
    "media_id": "media_id",
    "upload_name": "upload_name",
    "created_ts": "created_ts",
    "media_length": "size",
    "media_type": "content_type",
    "quarantined_by": "quarantined",
    "safe_from_quarantine": None,
}


def _record(row) -> MediaRecord:  # type: ignore[no-untyped-def]
    return MediaRecord(**{**dict(row), "quarantined": bool(row["quarantined"])})


class MediaStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, record: MediaRecord) -> None:
        await self.db.execute(
            f"INSERT INTO media ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            record.media_id, record.user_id, record.content_type, record.upload_name, record.size,
            record.sha256, record.created_ts, record.pending_expires_ts, record.quarantined,
        )

    async def get(self, media_id: str) -> MediaRecord | None:
        row = await self.db.fetchrow(f"SELECT {_COLUMNS} FROM media WHERE media_id = $1", media_id)
        return _record(row) if row is not None else None

    async def fill(self, media_id: str, content_type: str, upload_name: str | None, size: int, sha256: str) -> bool:
        """Give a created media ID its content; ``False`` if it already had some."""
        changed = await self.db.execute(
            "UPDATE media SET content_type = $2, upload_name = $3, size = $4, sha256 = $5, pending_expires_ts = NULL"
            " WHERE media_id = $1 AND sha256 IS NULL",
            media_id, content_type, upload_name, size, sha256,
        )
        return changed == 1

    async def create_pending(self, record: MediaRecord, max_pending: int, now_ms: int) -> bool:
        """Create a media ID whose content comes later, unless the user already has
        ``max_pending`` of them waiting. The user's usage row is held while counting,
        so concurrent creations cannot pass the limit together."""
        async with self.db.transaction("create_pending_media"):
            await self._hold_usage(record.user_id)
            pending = await self.db.fetchval(
                "SELECT COUNT(*) FROM media WHERE user_id = $1 AND sha256 IS NULL AND pending_expires_ts > $2",
                record.user_id, now_ms,
            )
            if int(pending) >= max_pending:
                return False
            await self.create(record)
        return True

    async def _hold_usage(self, user_id: str) -> None:
        """Lock the user's usage row until commit (PostgreSQL; SQLite's single writer
        already serialises write transactions)."""
        await self.db.execute(
            "INSERT INTO media_usage (user_id, bytes) VALUES ($1, 0) ON CONFLICT (user_id) DO NOTHING", user_id
        )
        if self.db.dialect == "postgres":
            await self.db.execute("SELECT 1 FROM media_usage WHERE user_id = $1 FOR UPDATE", user_id)

    async def delete_expired_pending(self, now_ms: int) -> int:
        return await self.db.execute(
            "DELETE FROM media WHERE sha256 IS NULL AND pending_expires_ts < $1", now_ms
        )

    # -- quota ------------------------------------------------------------------------------

    async def reserve(self, reservation_id: str, user_id: str, size: int, quota: int, expires_ts: int) -> bool:
        """Reserve ``size`` bytes of the user's quota for an upload; ``False`` if that would
        pass ``quota``. One conditional update, so concurrent reservations cannot both pass."""
        async with self.db.transaction("reserve_media_quota"):
            await self.db.execute(
                "INSERT INTO media_usage (user_id, bytes) VALUES ($1, 0) ON CONFLICT (user_id) DO NOTHING", user_id
            )
            if await self.db.execute(
                "UPDATE media_usage SET bytes = bytes + $2 WHERE user_id = $1 AND bytes + $2 <= $3",
                user_id, size, quota,
            ) != 1:
                return False
            await self.db.execute(
                "INSERT INTO media_reservations (reservation_id, user_id, bytes, expires_ts) VALUES ($1, $2, $3, $4)",
                reservation_id, user_id, size, expires_ts,
            )
        return True

    async def settle(self, reservation_id: str, user_id: str, size: int) -> None:
        """The upload was stored (call in its transaction): its reservation becomes the
        usage of its ``size`` bytes (all of them, if the reservation expired meanwhile)."""
        reserved = await self.db.fetchval(
            "DELETE FROM media_reservations WHERE reservation_id = $1 RETURNING bytes", reservation_id
        )
        await self.db.execute(
            "UPDATE media_usage SET bytes = bytes + $2 WHERE user_id = $1", user_id, size - int(reserved or 0)
        )

    async def release(self, reservation_id: str) -> None:
        """Give back the bytes of an upload that failed."""
        async with self.db.transaction("release_media_quota"):
            row = await self.db.fetchrow(
                "DELETE FROM media_reservations WHERE reservation_id = $1 RETURNING user_id, bytes", reservation_id
            )
            if row is not None:
                await self.db.execute(
                    "UPDATE media_usage SET bytes = bytes - $2 WHERE user_id = $1", row["user_id"], row["bytes"]
                )

    async def expired_reservations(self, now_ms: int) -> list[str]:
        rows = await self.db.fetch(
            "SELECT reservation_id FROM media_reservations WHERE expires_ts < $1 LIMIT 1000", now_ms
        )
        return [r["reservation_id"] for r in rows]


    async def of_user(self, user_id: str) -> list[MediaRecord]:
        rows = await self.db.fetch(
            f"SELECT {_COLUMNS} FROM media WHERE user_id = $1 ORDER BY created_ts, media_id", user_id
        )
        return [_record(r) for r in rows]

    async def page_of_user(
        self, user_id: str, *, order_by: str, descending: bool, offset: int, limit: int
    ) -> tuple[list[MediaRecord], int]:
        """A page of a user's media and how many they have; ``order_by`` is a key of
        :data:`MEDIA_ORDERS` (missing values sort lowest, ties by ascending media ID)."""
        column = MEDIA_ORDERS[order_by]
        direction = "DESC" if descending else "ASC"
        order = (
            f"CASE WHEN {column} IS NULL THEN 0 ELSE 1 END {direction}, {column} {direction}, media_id ASC"
            if column else "media_id ASC"
        )
        rows = await self.db.fetch(
            f"SELECT {_COLUMNS} FROM media WHERE user_id = $1 ORDER BY {order} LIMIT $2 OFFSET $3",
            user_id, limit, offset,
        )
        total = await self.db.fetchval("SELECT COUNT(*) FROM media WHERE user_id = $1", user_id)
        return [_record(r) for r in rows], int(total)

    async def thumbnail(self, media_id: str, width: int, height: int, method: str, animated: bool) -> Thumbnail | None:
        row = await self.db.fetchrow(
            "SELECT content_type, size, sha256 FROM media_thumbnails"
            " WHERE media_id = $1 AND width = $2 AND height = $3 AND method = $4 AND animated = $5",
            media_id, width, height, method, animated,
        )
        return Thumbnail(row["content_type"], int(row["size"]), row["sha256"]) if row is not None else None

    async def add_thumbnail(
        self, media_id: str, width: int, height: int, method: str, animated: bool, thumbnail: Thumbnail
    ) -> None:
        await self.db.execute(
            "INSERT INTO media_thumbnails (media_id, width, height, method, animated, content_type, size, sha256)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
            media_id, width, height, method, animated, thumbnail.content_type, thumbnail.size, thumbnail.sha256,
        )

    async def set_quarantined(self, media_ids: list[str], quarantined: bool) -> int:
        count = 0
        for media_id in media_ids:
            count += await self.db.execute(
                "UPDATE media SET quarantined = $2 WHERE media_id = $1 AND quarantined <> $2", media_id, quarantined
            )
        return count

    async def delete(self, media_ids: list[str]) -> list[str]:
        """Delete media rows and their thumbnails (inside a transaction).

        Returns the content hashes no remaining row refers to: their files can go.
        """
        hashes: set[str] = set()
        for media_id in media_ids:
            rows = await self.db.fetch(
                "SELECT sha256 FROM media WHERE media_id = $1 AND sha256 IS NOT NULL"
                " UNION SELECT sha256 FROM media_thumbnails WHERE media_id = $1",
                media_id,
            )
            hashes.update(r["sha256"] for r in rows)
            await self.db.execute("DELETE FROM media_thumbnails WHERE media_id = $1", media_id)
            deleted = await self.db.fetchrow("DELETE FROM media WHERE media_id = $1 RETURNING user_id, size", media_id)
            if deleted is not None and deleted["size"] is not None:
                await self.db.execute(
                    "UPDATE media_usage SET bytes = bytes - $2 WHERE user_id = $1", deleted["user_id"], deleted["size"]
                )
        return [sha256 for sha256 in sorted(hashes) if not await self.is_referenced(sha256)]

    async def is_referenced(self, sha256: str) -> bool:
        """Whether any media, thumbnail or cached remote media still uses the file with this hash."""
        found = await self.db.fetchval(
            "SELECT 1 FROM media WHERE sha256 = $1 UNION SELECT 1 FROM media_thumbnails WHERE sha256 = $1"
            " UNION SELECT 1 FROM remote_media WHERE sha256 = $1",
            sha256,
        )
        return found is not None

    async def get_remote(self, origin: str, media_id: str) -> MediaRecord | None:
        """Another server's media, if fetched before (as a record whose uploader is unknown)."""
        row = await self.db.fetchrow(
            "SELECT content_type, upload_name, size, sha256, fetched_ts FROM remote_media"
            " WHERE origin = $1 AND media_id = $2",
            origin, media_id,
        )
        if row is None:
            return None
        return MediaRecord(
            media_id, "", row["content_type"], row["upload_name"], int(row["size"]), row["sha256"],
            int(row["fetched_ts"]), None, False,
        )

    async def put_remote(
        self, origin: str, media_id: str, content_type: str | None, upload_name: str | None, size: int, sha256: str,
        now_ms: int,
    ) -> None:
        await self.db.execute(
            "INSERT INTO remote_media (origin, media_id, content_type, upload_name, size, sha256, fetched_ts)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (origin, media_id) DO NOTHING",
            origin, media_id, content_type, upload_name, size, sha256, now_ms,
        )
