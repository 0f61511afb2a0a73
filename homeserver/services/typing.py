"""Typing notifications (spec: Client-Server API, "Typing Notifications").

Design note: typing lives only in memory: per room, who types until when. Each
change bumps an in-memory stream position and wakes the room's local members.
Expiry is handled by one sweeper task that sleeps until the next deadline.
After a restart the stream starts again from zero; a sync token from before
then has a higher typing position, which :meth:`TypingService.changes` treats
as "send the current state of every room".
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from homeserver.clock import Clock
from homeserver.core.identifiers import get_domain_from_id, is_valid_user_id
from homeserver.errors import MatrixError
from homeserver.services.auth import Requester
from homeserver.services.notifier import Notifier
from homeserver.services.ports import OutboundFederation
from homeserver.services.ratelimit import RateLimiter
from storage.rooms import RoomStore

TYPING_STREAM = "typing"
MAX_TIMEOUT_MS = 120_000
#: How long another server's "typing" lasts unless renewed (as other servers assume).
REMOTE_TIMEOUT_MS = 30_000


class TypingService:
    def __init__(
        self,
        rooms: RoomStore,
        notifier: Notifier,
        federation: OutboundFederation,
        clock: Clock,
        server_name: str,
        rate_limiter: RateLimiter,
    ) -> None:
        self._rate_limiter = rate_limiter
        self._rooms = rooms
        self._notifier = notifier
        self._federation = federation
        self._clock = clock
        self._server_name = server_name
        self._typing: dict[str, dict[str, float]] = {}
        self._changed_at: dict[str, int] = {}
        self._position = 0
        self._wake = asyncio.Event()
        self._sweeper: asyncio.Task[None] | None = None

    @property
    def position(self) -> int:
        return self._position

    async def set_typing(self, requester: Requester, room_id: str, user_id: str, typing: bool, timeout_ms: int) -> None:
        """``PUT /rooms/{roomId}/typing/{userId}``."""
        if user_id != requester.user_id:
            raise MatrixError("M_FORBIDDEN", "You can only set your own typing state")
        self._rate_limiter.check("typing", user_id)
        if await self._rooms.membership(room_id, user_id) != "join":
            raise MatrixError("M_FORBIDDEN", "You are not joined to this room")
        servers = {get_domain_from_id(m) for m in await self._rooms.members(room_id)} - {self._server_name}
        if servers:
            await self._federation.enqueue_edu(
                "m.typing", {"room_id": room_id, "user_id": user_id, "typing": typing}, servers
            )
            self._federation.wake()
        await self._set(room_id, user_id, typing, timeout_ms)

    async def receive_remote(self, origin: str, content: Any) -> None:
        """An ``m.typing`` EDU: a user of ``origin`` started or stopped typing."""
        if not isinstance(content, dict):
            return
        room_id, user_id, typing = content.get("room_id"), content.get("user_id"), content.get("typing")
        if not isinstance(room_id, str) or not isinstance(user_id, str) or not isinstance(typing, bool):
            return
        if not is_valid_user_id(user_id) or get_domain_from_id(user_id) != origin:
            return
        if await self._rooms.membership(room_id, user_id) != "join":
            return  # a server speaks for its own users, in rooms they are in
        await self._set(room_id, user_id, typing, REMOTE_TIMEOUT_MS)

    async def _set(self, room_id: str, user_id: str, typing: bool, timeout_ms: int) -> None:
        room = self._typing.setdefault(room_id, {})
        if typing:
            was_typing = user_id in room
            room[user_id] = self._clock.monotonic() + min(max(timeout_ms, 0), MAX_TIMEOUT_MS) / 1000
            self._wake.set()
            if was_typing:
                return  # only the deadline moved; nothing visible changed
        elif room.pop(user_id, None) is None:
            return
        await self._changed(room_id)

    def typing_users(self, room_id: str) -> list[str]:
        now = self._clock.monotonic()
        return sorted(u for u, deadline in self._typing.get(room_id, {}).items() if deadline > now)

    def changes(self, room_ids: list[str], since: int) -> dict[str, dict[str, Any]]:
        """The ``m.typing`` event of each room whose typing changed after ``since``."""
        reset = since > self._position
        return {
            room_id: {"type": "m.typing", "content": {"user_ids": self.typing_users(room_id)}}
            for room_id in room_ids
            if reset or self._changed_at.get(room_id, 0) > since or (since == 0 and self.typing_users(room_id))
        }

    async def _changed(self, room_id: str) -> None:
        self._position += 1
        self._changed_at[room_id] = self._position
        members = await self._rooms.members(room_id)
        local = [m for m in members if get_domain_from_id(m) == self._server_name]
        self._notifier.notify(TYPING_STREAM, self._position, local)

    # -- expiry ------------------------------------------------------------------------

    def start(self) -> None:
        self._sweeper = asyncio.create_task(self._sweep(), name="typing-expiry")

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper

    async def _sweep(self) -> None:
        while True:
            deadlines = [d for room in self._typing.values() for d in room.values()]
            self._wake.clear()
            if deadlines:
                delay = max(0.0, min(deadlines) - self._clock.monotonic())
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay + 0.01)
            else:
                await self._wake.wait()
            now = self._clock.monotonic()
            for room_id, users in list(self._typing.items()):
                expired = [u for u, deadline in users.items() if deadline <= now]
                for user_id in expired:
                    del users[user_id]
                if expired:
                    await self._changed(room_id)
