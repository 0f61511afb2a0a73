"""Updating one user's memberships in every room: joins that carry a changed
display name or avatar (spec: Client-Server API, "Events on change of profile
information") and the leaves, invite rejections and knock retractions of a
deactivated account (spec: "Account deactivation").

Design note: a user may be in thousands of rooms, so the request that causes
the work only records it (a row per user in ``member_updates``, written in the
request's own transaction) and wakes one worker task. The worker takes the
users one at a time and sends one event per room, each in its own transaction,
yielding between rooms, so a large job holds no lock for long and other
requests interleave with it; the events then go to other servers like any
other. Each step compares the room with what it should hold, so repeating one
is harmless: a restart resumes the rows left behind, and a newer request for
the same user (a second profile change) sends the worker round again (the
row's ``version``). A room whose update fails (the user was banned meanwhile,
the server an invite came from cannot be reached) is logged and skipped. How
often a user can cause profile work is bounded by ``rate_limits.profile``.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from homeserver.services.rooms.membership import MembershipService
from storage.database import Database
from storage.member_updates import PART, PROFILE, MemberUpdateStore
from storage.rooms import RoomStore

logger = structlog.get_logger(__name__)


class MemberUpdates:
    def __init__(self, *, db: Database, store: MemberUpdateStore, rooms: RoomStore, membership: MembershipService) -> None:
        self._db = db
        self._store = store
        self._rooms = rooms
        self._membership = membership
        self._queue: dict[str, None] = {}
        self._wake = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None

    async def profile_changed(self, user_id: str) -> None:
        """Send the user's new profile to every room they are joined to."""
        await self._request(user_id, PROFILE)

    async def part(self, user_id: str) -> None:
        """Take the user out of every room (joined, invited or knocking)."""
        await self._request(user_id, PART)

    async def _request(self, user_id: str, kind: str) -> None:
        await self._store.request(user_id, kind)
        self._db.after_commit(lambda: self._enqueue(user_id))

    def _enqueue(self, user_id: str) -> None:
        self._queue[user_id] = None
        self._wake.set()

    def start(self) -> None:
        self._worker = asyncio.create_task(self._run(), name="member-updates")

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker

    async def _run(self) -> None:
        try:
            for user_id in await self._store.pending():  # left by the last run
                self._enqueue(user_id)
        except Exception:
            logger.exception("member_updates_resume_failed")
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                user_id = next(iter(self._queue))
                del self._queue[user_id]
                try:
                    await self._update(user_id)
                except Exception:
                    logger.exception("member_updates_failed", user_id=user_id)

    async def _update(self, user_id: str) -> None:
        while (update := await self._store.get(user_id)) is not None:
            wanted = ("join",) if update.kind == PROFILE else ("join", "invite", "knock")
            memberships = await self._rooms.current_memberships_of_user(user_id)
            for room_id in sorted(r for r, (m, _, _) in memberships.items() if m in wanted):
                try:
                    if update.kind == PROFILE:
                        await self._membership.refresh_profile(user_id, room_id)
                    else:
                        await self._membership.part(user_id, room_id)
                except Exception as e:
                    logger.warning("member_update_skipped", user_id=user_id, room_id=room_id, kind=update.kind, error=str(e))
                await asyncio.sleep(0)
            if await self._store.done(update):
                return
