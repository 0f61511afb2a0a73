"""Reporting events, rooms and users to the server's admins (spec: Client-Server
API, "Reporting content")."""

from __future__ import annotations

from typing import Any

from homeserver.clock import Clock
from homeserver.errors import MatrixError
from homeserver.services.auth import Requester
from homeserver.services.rooms.timeline import TimelineService
from storage.accounts import AccountStore
from storage.events import EventStore
from storage.reports import ReportStore
from storage.rooms import RoomStore

MAX_REASON = 1000


class ReportService:
    def __init__(
        self,
        *,
        reports: ReportStore,
        events: EventStore,
        rooms: RoomStore,
        accounts: AccountStore,
        timeline: TimelineService,
        clock: Clock,
        server_name: str,
    ) -> None:
        self._reports = reports
        self._events = events
        self._rooms = rooms
        self._accounts = accounts
        self._timeline = timeline
        self._clock = clock
        self._server_name = server_name

    async def report_event(
        self, requester: Requester, room_id: str, event_id: str, reason: str | None, score: int | None
    ) -> None:
        _check_reason(reason)
        if score is not None and not -100 <= score <= 0:
            raise MatrixError("M_INVALID_PARAM", "score must be between -100 and 0")
        item = await self._events.get_event(event_id)
        visible = False
        if item is not None and item.event.room_id == room_id:
            try:
                await self._timeline.access(requester.user_id, room_id)
                visible = bool(await self._timeline.filter_visible(requester.user_id, [item]))
            except MatrixError:
                visible = False
        if not visible:
            raise MatrixError("M_NOT_FOUND", "Unable to report event: it does not exist or you cannot see it")
        await self._reports.add(
            requester.user_id, "event", room_id=room_id, event_id=event_id, reason=reason, score=score,
            now_ms=self._clock.time_ms(),
        )

    async def report_room(self, requester: Requester, room_id: str, reason: str | None) -> None:
        _check_reason(reason)
        if await self._rooms.get_room(room_id) is None:
            raise MatrixError("M_NOT_FOUND", "Room not found")
        await self._reports.add(requester.user_id, "room", room_id=room_id, reason=reason, now_ms=self._clock.time_ms())

    async def report_user(self, requester: Requester, user_id: str, reason: str | None) -> None:
        _check_reason(reason)
        if user_id.endswith(":" + self._server_name) and not await self._accounts.user_exists(user_id):
            raise MatrixError("M_NOT_FOUND", "User not found")
        await self._reports.add(requester.user_id, "user", user_id=user_id, reason=reason, now_ms=self._clock.time_ms())

    async def list_reports(
        self,
        *,
        offset: int,
        limit: int,
        newest_first: bool,
        reporter: str | None,
        room_id: str | None,
        event_sender: str | None,
    ) -> tuple[list[dict[str, Any]], int]:
        """Reports for admins (Synapse's ``event_reports``): ``reporter`` and ``room_id``
        match IDs that contain them, ``event_sender`` the sender of a reported event."""
        return await self._reports.list(
            offset=offset, limit=limit, newest_first=newest_first, reporter_contains=reporter,
            room_contains=room_id, event_sender=event_sender,
        )


def _check_reason(reason: str | None) -> None:
    if reason is not None and len(reason) > MAX_REASON:
        raise MatrixError("M_INVALID_PARAM", "reason is too long")
