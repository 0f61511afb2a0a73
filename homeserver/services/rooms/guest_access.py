"""Guest access to rooms (spec: Client-Server API, "Guest Access"): guests join only
rooms whose ``m.room.guest_access`` is ``can_join``, and leave those that stop
being so.

Design note: each server answers for its own guests only (whether a user is a
guest is not shared over federation). A guest's join is checked against the
room's current state here, so guests join only rooms this server is in. When the
room's ``m.room.guest_access`` changes (a local event, or one from another
server), this server's guests in the room leave it, each by their own leave
event, which the authorization rules always allow.
"""

from __future__ import annotations

import structlog

from homeserver.errors import MatrixError
from homeserver.services.rooms.sender import EventSender
from storage.events import EventStore
from storage.rooms import RoomStore
from storage.state import StateStore

logger = structlog.get_logger(__name__)


class GuestAccess:
    def __init__(self, *, sender: EventSender, rooms: RoomStore, state: StateStore, events: EventStore) -> None:
        self._sender = sender
        self._rooms = rooms
        self._state = state
        self._events = events

    async def allows_guests(self, room_id: str) -> bool:
        """Whether the room's current ``m.room.guest_access`` is ``can_join``."""
        event_id = await self._state.get_current_state_event_id(room_id, "m.room.guest_access", "")
        item = await self._events.get_event(event_id) if event_id else None
        return item is not None and item.event.content.get("guest_access") == "can_join"

    async def check_join(self, room_id: str) -> None:
        """``403 M_GUEST_ACCESS_FORBIDDEN`` unless a guest may join the room."""
        room = await self._rooms.get_room(room_id)
        if room is None or room.current_state_group is None:
            raise MatrixError("M_GUEST_ACCESS_FORBIDDEN", "Guests can only join rooms this server is in")
        if not await self.allows_guests(room_id):
            raise MatrixError("M_GUEST_ACCESS_FORBIDDEN", "This room does not allow guests to join")

    async def enforce(self, room_id: str) -> None:
        """After a change of the room's guest access: unless guests may still join, this
        server's guests in the room leave it."""
        if await self.allows_guests(room_id):
            return
        for guest in await self._rooms.local_guests(room_id):
            try:
                await self._sender.send(room_id, guest, "m.room.member", {"membership": "leave"}, state_key=guest)
            except MatrixError as e:  # left meanwhile
                logger.info("guest_leave_failed", room_id=room_id, user_id=guest, error=e.errcode)
