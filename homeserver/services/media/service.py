"""The media repository (spec: Client-Server API, "Content repository").

Design note: bytes go to :class:`~storage.media_files.MediaFiles` (one file
per content hash), metadata to :class:`~storage.media.MediaStore`. A media ID
is 24 random URL-safe characters; a media ID from ``/create`` is a row
without content until its ``PUT`` arrives, and a download of it waits (up to
the client's ``timeout_ms``) for that. Every download needs an access token
(the legacy unauthenticated endpoints are a config switch); any local user may
fetch any media ID, as in every Matrix server: an ``mxc://`` URI is the
capability. Media of other servers is fetched from them over federation the
first time a local user asks, and kept.

Image work (decoding, scaling, hashing files) runs in the media worker pool
the app gives this service, bounded and apart from the pool that hashes
passwords, so a flood of thumbnail requests queues here and never delays a
login; identical thumbnail requests in flight share one piece of work.
"""

from __future__ import annotations

import asyncio
import fnmatch
import secrets
import string
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from concurrent.futures import Executor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import structlog

from homeserver.clock import Clock
from homeserver.config import MediaConfig
from homeserver.core.identifiers import is_valid_server_name
from homeserver.errors import MatrixError
from homeserver.services.auth import Requester
from homeserver.services.media.thumbnails import (
    ANIMATABLE,
    THUMBNAILABLE,
    NotAnImage,
    SourceTooLarge,
    choose_size,
    make_thumbnail,
)
from homeserver.services.ports import FederationQueries, RemoteUnavailable
from homeserver.services.ratelimit import RateLimiter
from storage.database import Database
from storage.media import MEDIA_ORDERS, MediaRecord, MediaStore, Thumbnail
from storage.media_files import MediaFiles, TooLarge

logger = structlog.get_logger(__name__)

_MEDIA_ID_ALPHABET = string.ascii_letters + string.digits
_MEDIA_ID_CHARS = frozenset(_MEDIA_ID_ALPHABET + "_-")
#: How long an upload's reservation of quota lasts if the upload never finishes.
RESERVATION_LIFETIME_MS = 6 * 60 * 60 * 1000
#: The longest a download waits for a pending upload, whatever the client asks.
MAX_WAIT_MS = 60_000
_POLL_S = 0.2


@dataclass(frozen=True)
class Content:
    """What a download or thumbnail request serves."""

    path: Path
    content_type: str
    size: int
    upload_name: str | None


class MediaService:
    def __init__(
        self,
        *,
        db: Database,
        store: MediaStore,
        files: MediaFiles,
        rate_limiter: RateLimiter,
        config: MediaConfig,
        clock: Clock,
        federation: FederationQueries,
        server_name: str,
        pool: Executor,
    ) -> None:
        self._pool = pool
        self._making: dict[tuple[Any, ...], asyncio.Future[Thumbnail | None]] = {}
        self._federation = federation
        self._db = db
        self._store = store
        self._files = files
        self._rate_limiter = rate_limiter
        self._config = config
        self._clock = clock
        self._server_name = server_name

    def limits(self) -> dict[str, Any]:
        """``/media/config``."""
        return {"m.upload.size": self._config.max_upload_size}

    def _mxc(self, media_id: str) -> str:
        return f"mxc://{self._server_name}/{media_id}"

    # -- uploads -----------------------------------------------------------------------

    async def upload(
        self, requester: Requester, content_type: str, upload_name: str | None, body: AsyncIterator[bytes], length: int | None
    ) -> str:
        """``POST /upload``: store new content; its ``mxc://`` URI."""
        self._rate_limiter.check("media_upload", requester.user_id)
        self._check_type(content_type)
        media_id = _new_media_id()
        async with self._received(requester, body, length) as (sha256, size):
            await self._store.create(MediaRecord(
                media_id, requester.user_id, content_type, upload_name, size, sha256, self._clock.time_ms(), None, False,
            ))
        logger.info("media_uploaded", media_id=media_id, user_id=requester.user_id, size=size)
        return self._mxc(media_id)

    async def create(self, requester: Requester) -> tuple[str, int]:
        """``POST /create``: a media ID whose content comes later; the URI and its deadline."""
        self._rate_limiter.check("media_upload", requester.user_id)
        now = self._clock.time_ms()
        media_id = _new_media_id()
        expires = now + self._config.pending_upload_lifetime_s * 1000
        record = MediaRecord(media_id, requester.user_id, None, None, None, None, now, expires, False)
        if not await self._store.create_pending(record, self._config.max_pending_uploads, now):
            raise MatrixError("M_LIMIT_EXCEEDED", "Too many media uploads are pending", status=429)
        return self._mxc(media_id), expires

    async def upload_to(
        self,
        requester: Requester,
        server_name: str,
        media_id: str,
        content_type: str,
        upload_name: str | None,
        body: AsyncIterator[bytes],
        length: int | None,
    ) -> None:
        """``PUT /upload/{serverName}/{mediaId}``: the content of a created media ID."""
        record = await self._local_record(server_name, media_id)
        if record.user_id != requester.user_id:
            raise MatrixError("M_FORBIDDEN", "This media ID was created by another user", status=403)
        if record.uploaded:
            raise MatrixError("M_CANNOT_OVERWRITE_MEDIA", "This media already has content", status=409)
        if record.pending_expires_ts is not None and record.pending_expires_ts < self._clock.time_ms():
            raise MatrixError("M_NOT_FOUND", "This media ID has expired", status=404)
        self._check_type(content_type)
        async with self._received(requester, body, length) as (sha256, size):
            if not await self._store.fill(media_id, content_type, upload_name, size, sha256):
                raise MatrixError("M_CANNOT_OVERWRITE_MEDIA", "This media already has content", status=409)

    def _check_type(self, content_type: str) -> None:
        allowed = self._config.allowed_content_types
        if not any(fnmatch.fnmatchcase(content_type.lower(), pattern.lower()) for pattern in allowed):
            raise MatrixError("M_FORBIDDEN", f"Uploads of type {content_type} are not allowed", status=403)

    @asynccontextmanager
    async def _received(
        self, requester: Requester, body: AsyncIterator[bytes], length: int | None
    ) -> AsyncIterator[tuple[str, int]]:
        """Write an upload to disk and yield its ``(sha256, size)`` inside the transaction
        that records it. The quota is reserved before anything is written (the declared
        length, else the size once it has arrived), turned into usage when the record
        commits and given back when anything fails."""
        limit = self._config.max_upload_size
        if length is not None and length > limit:
            raise MatrixError("M_TOO_LARGE", f"Uploads are limited to {limit} bytes", status=413)
        user_id = requester.user_id
        reservation = await self._reserve(user_id, length) if length is not None else None
        try:
            try:
                sha256, size = await self._files.write_stream(body, limit)
            except TooLarge:
                raise MatrixError("M_TOO_LARGE", f"Uploads are limited to {limit} bytes", status=413) from None
            if length is None:
                try:
                    reservation = await self._reserve(user_id, size)
                except MatrixError:
                    await self._drop_if_unreferenced(sha256)
                    raise
            async with self._db.transaction("store_media"):
                yield sha256, size
                if reservation is not None:
                    await self._store.settle(reservation, user_id, size)
        except BaseException:
            if reservation is not None:
                await asyncio.shield(self._store.release(reservation))
            raise

    async def _reserve(self, user_id: str, size: int) -> str | None:
        """Reserve ``size`` bytes of the user's quota (``None``: no quota) or refuse."""
        quota = self._config.user_quota
        if quota is None:
            return None
        reservation = secrets.token_hex(16)
        expires = self._clock.time_ms() + RESERVATION_LIFETIME_MS
        if not await self._store.reserve(reservation, user_id, size, quota, expires):
            raise _over_quota()
        return reservation

    async def release_expired_reservations(self) -> None:
        """Housekeeping: give back the quota of uploads a stopped server never finished."""
        for reservation in await self._store.expired_reservations(self._clock.time_ms()):
            await self._store.release(reservation)

    async def _drop_if_unreferenced(self, sha256: str) -> None:
        if not await self._store.is_referenced(sha256):
            self._files.delete(sha256)

    # -- downloads -----------------------------------------------------------------------

    async def download(self, server_name: str, media_id: str, timeout_ms: int) -> Content:
        record = await self._uploaded(server_name, media_id, timeout_ms)
        assert record.sha256 is not None and record.size is not None
        return Content(
            self._files.path(record.sha256), record.content_type or "application/octet-stream",
            record.size, record.upload_name,
        )

    async def thumbnail(
        self, server_name: str, media_id: str, width: int, height: int, method: str, animated: bool, timeout_ms: int
    ) -> Content:
        record = await self._uploaded(server_name, media_id, timeout_ms)
        assert record.sha256 is not None and record.size is not None
        content_type = (record.content_type or "").lower()
        if content_type not in THUMBNAILABLE:
            raise MatrixError("M_UNKNOWN", "Cannot generate thumbnails for this content", status=400)
        animated = animated and content_type in ANIMATABLE
        size = choose_size(width, height, method)
        if size is not None:
            local = server_name == self._server_name  # thumbnails of remote media are made afresh each time
            key = (server_name, media_id, *size, method, animated)
            made = self._making.get(key)
            if made is None:
                # Identical requests at the same time share one piece of work.
                made = asyncio.ensure_future(self._cached_or_new(record, *size, method, animated, keep=local))
                self._making[key] = made
                made.add_done_callback(partial(self._made, key))
            thumbnail = await asyncio.shield(made)
            if thumbnail is not None:
                return Content(self._files.path(thumbnail.sha256), thumbnail.content_type, thumbnail.size, None)
        # The original is small enough, or the request is bigger than any thumbnail.
        return Content(self._files.path(record.sha256), content_type, record.size, None)

    def _made(self, key: tuple[Any, ...], made: asyncio.Future[Thumbnail | None]) -> None:
        self._making.pop(key, None)
        if not made.cancelled():
            made.exception()  # retrieved here too, in case every requester went away

    async def _cached_or_new(
        self, record: MediaRecord, width: int, height: int, method: str, animated: bool, *, keep: bool
    ) -> Thumbnail | None:
        if keep:
            cached = await self._store.thumbnail(record.media_id, width, height, method, animated)
            if cached is not None:
                return cached
        assert record.sha256 is not None
        path = self._files.path(record.sha256)
        loop = asyncio.get_running_loop()
        try:
            image = await loop.run_in_executor(
                self._pool,
                partial(
                    make_thumbnail, path, width, height, method, animated=animated,
                    max_pixels=self._config.max_thumbnail_source_pixels,
                ),
            )
        except SourceTooLarge:
            raise MatrixError("M_TOO_LARGE", "The image is too large to thumbnail", status=413) from None
        except NotAnImage:
            raise MatrixError("M_UNKNOWN", "Cannot generate thumbnails for this content", status=400) from None
        if image is None:
            return None
        sha256, size = await loop.run_in_executor(self._pool, self._files.write_bytes, image.data)
        thumbnail = Thumbnail(image.content_type, size, sha256)
        if keep:
            await self._store.add_thumbnail(record.media_id, width, height, method, animated, thumbnail)
        return thumbnail

    async def _uploaded(self, server_name: str, media_id: str, timeout_ms: int) -> MediaRecord:
        """The media's record once it has content, waiting up to ``timeout_ms`` for that;
        another server's media is fetched from it once and kept."""
        if is_valid_server_name(server_name) and server_name != self._server_name and set(media_id) <= _MEDIA_ID_CHARS:
            return await self._remote_record(server_name, media_id)
        record = await self._local_record(server_name, media_id)
        deadline = self._clock.monotonic() + min(max(timeout_ms, 0), MAX_WAIT_MS) / 1000
        while not record.uploaded:
            if self._clock.monotonic() >= deadline:
                raise MatrixError("M_NOT_YET_UPLOADED", "The content has not been uploaded yet", status=504)
            await asyncio.sleep(_POLL_S)
            record = await self._local_record(server_name, media_id)
        return record

    async def _remote_record(self, server_name: str, media_id: str) -> MediaRecord:
        cached = await self._store.get_remote(server_name, media_id)
        if cached is not None:
            return cached
        try:
            media = await self._federation.download_media(server_name, media_id, self._config.max_upload_size)
        except RemoteUnavailable as e:
            raise MatrixError("M_NOT_FOUND", f"The media could not be fetched from {server_name}: {e}", status=404) from None
        sha256, size = await asyncio.get_running_loop().run_in_executor(self._pool, self._files.write_bytes, media.data)
        await self._store.put_remote(
            server_name, media_id, media.content_type, media.upload_name, size, sha256, self._clock.time_ms()
        )
        record = await self._store.get_remote(server_name, media_id)
        assert record is not None
        return record

    async def _local_record(self, server_name: str, media_id: str) -> MediaRecord:
        if not is_valid_server_name(server_name) or not media_id or not set(media_id) <= _MEDIA_ID_CHARS:
            raise MatrixError("M_NOT_FOUND", "Not found", status=404)
        if server_name != self._server_name:
            raise MatrixError("M_NOT_FOUND", "Not found", status=404)
        record = await self._store.get(media_id)
        if record is None or record.quarantined:
            raise MatrixError("M_NOT_FOUND", "Not found", status=404)
        return record

    async def expire_pending(self) -> None:
        """Housekeeping: forget created media IDs whose upload never came."""
        await self._store.delete_expired_pending(self._clock.time_ms())

    # -- moderation (admin API) --------------------------------------------------------

    async def media_of(self, user_id: str) -> list[MediaRecord]:
        return await self._store.of_user(user_id)

    async def page_of_user(
        self, user_id: str, *, order_by: str | None, backwards: bool | None, offset: int, limit: int
    ) -> tuple[list[MediaRecord], int]:
        """Synapse's admin list of a user's media: newest first unless ``order_by`` or
        ``backwards`` (``dir``) say otherwise; the page and the user's total."""
        if order_by is None and backwards is None:
            order_by, backwards = "created_ts", True
        order_by = order_by or "created_ts"
        if order_by not in MEDIA_ORDERS:
            raise MatrixError(
                "M_INVALID_PARAM", f"order_by {order_by!r} is not supported (one of: {', '.join(MEDIA_ORDERS)})"
            )
        return await self._store.page_of_user(
            user_id, order_by=order_by, descending=bool(backwards), offset=offset, limit=limit
        )

    async def quarantine(self, media_ids: list[str], quarantined: bool = True) -> int:
        return await self._store.set_quarantined(media_ids, quarantined)

    async def delete(self, media_ids: list[str]) -> list[str]:
        """Delete media and the files nothing else uses; the IDs that existed."""
        existing = [m for m in media_ids if await self._store.get(m) is not None]
        async with self._db.transaction("delete_media"):
            orphans = await self._store.delete(existing)
        for sha256 in orphans:
            self._files.delete(sha256)
        logger.info("media_deleted", count=len(existing))
        return existing


def _new_media_id() -> str:
    return "".join(secrets.choice(_MEDIA_ID_ALPHABET) for _ in range(24))


def _over_quota() -> MatrixError:
    return MatrixError("M_FORBIDDEN", "You have used up your media storage quota", status=403)
