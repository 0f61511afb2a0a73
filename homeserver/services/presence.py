"""Presence (spec: Client-Server API, "Presence").

Design note: each user's last set state, status message and last activity are
stored; what others see is derived when read: an ``online`` user idle for more
than :data:`IDLE_AFTER_MS` shows as ``unavailable``, ``currently_active`` means
active in the last minute. Updates are visible to users who share a room and
wake their long-polls; a local user's changes go to the servers of the users
who share a room with them (``m.presence``), and theirs come back the same way. Activity (syncing, sending) refreshes ``last_active``
at most every :data:`ACTIVITY_WRITE_MS` to keep writes cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from homeserver.clock import Clock
from homeserver.core.identifiers import get_domain_from_id, is_valid_user_id
from homeserver.errors import MatrixError
from homeserver.services.auth import Requester
from homeserver.services.notifier import Notifier
from homeserver.services.ports import OutboundFederation
from storage.accounts import AccountStore
from storage.receipts import PRESENCE_STREAM, PresenceRecord, PresenceStore
from storage.rooms import RoomStore

STATES = ("online", "unavailable", "offline")
IDLE_AFTER_MS = 5 * 60 * 1000
CURRENTLY_ACTIVE_MS = 60 * 1000
ACTIVITY_WRITE_MS = 60 * 1000
MAX_STATUS_LENGTH = 512


class PresenceService:
    def __init__(
        self,
        *,
        presence: PresenceStore,
        rooms: RoomStore,
        accounts: AccountStore,
        notifier: Notifier,
        federation: OutboundFederation,
        clock: Clock,
        server_name: str,
    ) -> None:
        self._federation = federation
        self._presence = presence
        self._rooms = rooms
        self._accounts = accounts
        self._notifier = notifier
        self._clock = clock
        self._server_name = server_name
        #: user -> (set_presence, when presence was last written for them), to skip reads
        self._recent: dict[str, tuple[str | None, int]] = {}

    async def set_status(self, requester: Requester, user_id: str, state: str, status_msg: str | None) -> None:
        """``PUT /presence/{userId}/status``."""
        if user_id != requester.user_id:
            raise MatrixError("M_FORBIDDEN", "You can only set your own presence")
        if state not in STATES:
            raise MatrixError("M_INVALID_PARAM", "presence must be online, unavailable or offline")
        if status_msg is not None and len(status_msg) > MAX_STATUS_LENGTH:
            raise MatrixError("M_INVALID_PARAM", "status_msg is too long")
        await self._store(user_id, state, status_msg, self._clock.time_ms())
        self._recent.pop(user_id, None)

    async def get_status(self, requester: Requester, user_id: str) -> dict[str, Any]:
        """``GET /presence/{userId}/status``: for yourself and users you share a room with."""
        if user_id != requester.user_id:
            if not is_valid_user_id(user_id):
                raise MatrixError("M_INVALID_PARAM", "Not a user ID")
            if get_domain_from_id(user_id) == self._server_name and not await self._accounts.user_exists(user_id):
                raise MatrixError("M_NOT_FOUND", "Unknown user")
            if user_id not in await self._rooms.users_sharing_rooms(requester.user_id):
                raise MatrixError("M_FORBIDDEN", "You do not share a room with this user")
        record = await self._presence.get(user_id)
        if record is None:
            return {"presence": "offline"}
        return self._view(record)

    async def on_activity(self, user_id: str, set_presence: str | None) -> None:
        """A sync (with ``set_presence``) or another action by the user."""
        now = self._clock.time_ms()
        recent = self._recent.get(user_id)
        if recent is not None and recent[0] == set_presence and now - recent[1] < ACTIVITY_WRITE_MS:
            return  # written a moment ago: nothing to add
        record = await self._presence.get(user_id)
        state = set_presence or (record.state if record else "online")
        if record is not None and record.state == state and now - record.last_active_ts < ACTIVITY_WRITE_MS:
            self._remember(user_id, set_presence, record.last_active_ts)
            return
        await self._store(user_id, state, record.status_msg if record else None, now)
        self._remember(user_id, set_presence, now)

    def _remember(self, user_id: str, set_presence: str | None, written_at: int) -> None:
        if len(self._recent) > 100_000:
            self._recent.clear()
        self._recent[user_id] = (set_presence, written_at)

    async def for_sync(
        self, user_id: str, since: int, up_to: int, *, newcomers: Sequence[str] = ()
    ) -> list[dict[str, Any]]:
        """Presence changes after ``since`` of users sharing a room with ``user_id``, and
        the presence of ``newcomers`` (who newly share one) whenever it was set."""
        sharing = await self._rooms.users_sharing_rooms(user_id)
        records = await self._presence.changed_since(sorted(sharing), since, up_to)
        seen = {r.user_id for r in records}
        fresh = [u for u in newcomers if u in sharing and u not in seen]
        records += await self._presence.changed_since(fresh, 0, up_to)
        return [
            {"type": "m.presence", "sender": r.user_id, "content": self._view(r)}
            for r in sorted(records, key=lambda r: r.stream_id)
        ]

    def _view(self, record: PresenceRecord) -> dict[str, Any]:
        now = self._clock.time_ms()
        idle = max(0, now - record.last_active_ts)
        state = record.state
        if state == "online" and idle > IDLE_AFTER_MS:
            state = "unavailable"
        view: dict[str, Any] = {"presence": state, "last_active_ago": idle}
        if state != "offline":
            view["currently_active"] = idle < CURRENTLY_ACTIVE_MS
        if record.status_msg is not None:
            view["status_msg"] = record.status_msg
        return view

    async def receive_remote(self, origin: str, content: Any) -> None:
        """An ``m.presence`` EDU: presence of users of ``origin``."""
        pushes = content.get("push") if isinstance(content, dict) else None
        for push in pushes if isinstance(pushes, list) else []:
            if not isinstance(push, dict):
                continue
            user_id, state = push.get("user_id"), push.get("presence")
            valid = isinstance(user_id, str) and is_valid_user_id(user_id)
            if not valid or get_domain_from_id(user_id) != origin or state not in STATES:
                continue
            ago = push.get("last_active_ago")
            status_msg = push.get("status_msg")
            now = self._clock.time_ms()
            last_active = now - ago if isinstance(ago, int) and 0 <= ago <= now else now
            await self._store(user_id, state, status_msg if isinstance(status_msg, str) else None, last_active)

    async def _store(self, user_id: str, state: str, status_msg: str | None, now: int) -> None:
        position = await self._presence.put(user_id, state, status_msg, now)
        sharing = await self._rooms.users_sharing_rooms(user_id)
        audience = [u for u in sharing if get_domain_from_id(u) == self._server_name]
        self._notifier.notify(PRESENCE_STREAM, position, audience)
        servers = {get_domain_from_id(u) for u in sharing} - {self._server_name}
        if get_domain_from_id(user_id) == self._server_name and servers:
            push: dict[str, Any] = {
                "user_id": user_id, "presence": state, "last_active_ago": max(0, self._clock.time_ms() - now),
                "currently_active": state == "online",
            }
            if status_msg is not None:
                push["status_msg"] = status_msg
            await self._federation.enqueue_edu("m.presence", {"push": [push]}, servers)
            self._federation.wake()
