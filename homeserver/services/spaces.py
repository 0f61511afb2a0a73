"""Spaces and room previews: ``/hierarchy``, ``/room_summary`` and
``/mutual_rooms`` (spec: Client-Server API, "Spaces", "Room summary",
"Mutual rooms")."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from homeserver.core.spaces import RemoteSpace, SpaceChild, space_children
from homeserver.errors import MatrixError
from homeserver.parsing import parse_token
from homeserver.services.auth import Requester
from homeserver.services.remote_spaces import RemoteSpaces
from homeserver.services.rooms.membership import MembershipService
from homeserver.services.rooms.summary import RoomSummaries
from storage.events import EventStore
from storage.rooms import RoomStore
from storage.state import StateStore

PEEKABLE_JOIN_RULES = ("public", "knock", "knock_restricted")
MAX_ROOMS = 50


@dataclass(frozen=True)
class _Visited:
    """A room of the walk the user may see: its chunk, its children, and (for a
    room on another server) the answer that may describe those children."""

    chunk: dict[str, Any]
    children: list[SpaceChild]
    remote: RemoteSpace | None


class SpaceService:
    def __init__(
        self,
        *,
        rooms: RoomStore,
        state: StateStore,
        events: EventStore,
        summaries: RoomSummaries,
        membership: MembershipService,
        remote: RemoteSpaces,
    ) -> None:
        self._rooms = rooms
        self._state = state
        self._events = events
        self._summaries = summaries
        self._membership = membership
        self._remote = remote

    async def can_preview(
        self, user_id: str | None, room_id: str, chunk: dict[str, Any], *, allowed_rooms: list[str] | None = None
    ) -> bool:
        """Joined, invited or knocking members, and anyone for public/knockable/world-readable
        rooms or restricted rooms whose allowed rooms they are in, may preview a room
        (spec: ``GET /hierarchy``; a former member sees nothing newer than their leave).

        ``allowed_rooms`` are a remote room's (a local room's are read from its join rules).
        """
        if chunk["join_rule"] in PEEKABLE_JOIN_RULES or chunk["world_readable"]:
            return True
        if user_id is None:
            return False
        if await self._rooms.membership(room_id, user_id) in ("join", "invite", "knock"):
            return True
        if chunk["join_rule"] in ("restricted", "knock_restricted"):
            for allowed in allowed_rooms if allowed_rooms is not None else await self._allowed_rooms(room_id):
                if await self._rooms.membership(allowed, user_id) == "join":
                    return True
        return False

    async def room_summary(self, requester: Requester | None, room_id_or_alias: str) -> dict[str, Any]:
        """``GET /room_summary/{roomIdOrAlias}``; unknown or private rooms are ``M_NOT_FOUND``."""
        try:
            room_id = await self._membership.resolve_room(room_id_or_alias)
        except MatrixError as e:
            if e.errcode == "M_INVALID_PARAM":
                raise
            raise MatrixError("M_NOT_FOUND", "Room not found") from None
        chunk = await self._summaries.describe(room_id)
        user_id = requester.user_id if requester else None
        if chunk is None or not await self.can_preview(user_id, room_id, chunk):
            raise MatrixError("M_NOT_FOUND", "Room not found")
        if user_id is not None:
            membership = await self._rooms.membership(room_id, user_id)
            if membership is not None:
                chunk["membership"] = membership
            allowed = await self._allowed_rooms(room_id)
            if allowed:
                chunk["allowed_room_ids"] = allowed
        return chunk

    async def hierarchy(
        self,
        requester: Requester,
        room_id: str,
        *,
        suggested_only: bool,
        max_depth: int | None,
        limit: int | None,
        from_token: str | None,
    ) -> dict[str, Any]:
        """``GET /rooms/{roomId}/hierarchy``: a breadth-first walk of ``m.space.child`` links.

        Rooms this server is not in are asked of the servers in the ``via`` of
        the event naming them (see :class:`RemoteSpaces` for the root).
        """
        user_id = requester.user_id
        root = await self._visit(user_id, room_id, None, None, suggested_only)
        if root is None:
            raise MatrixError("M_FORBIDDEN", "You cannot see this space")
        skip = parse_token(from_token, "h", "from token", minimum=0) if from_token is not None else 0
        page = min(limit or MAX_ROOMS, MAX_ROOMS)
        visited = {room_id}
        ordered = [root.chunk]
        queue: deque[tuple[_Visited, int]] = deque([(root, 0)])
        while queue and len(ordered) < skip + page + 1:
            parent, depth = queue.popleft()
            if max_depth is not None and depth >= max_depth:
                continue
            for child in parent.children:
                if child.room_id in visited or len(ordered) >= skip + page + 1:
                    continue
                visited.add(child.room_id)
                found = await self._visit(user_id, child.room_id, child.via, parent.remote, suggested_only)
                if found is not None:
                    ordered.append(found.chunk)
                    queue.append((found, depth + 1))
        body: dict[str, Any] = {"rooms": ordered[skip : skip + page]}
        if len(ordered) > skip + page:
            body["next_batch"] = f"h{skip + page}"
        return body

    async def _visit(
        self, user_id: str, room_id: str, via: Sequence[str] | None, parent: RemoteSpace | None, suggested_only: bool
    ) -> _Visited | None:
        """A room as this user may see it (``None`` if they may not): from this
        server's own state when it has the room, else from another server."""
        chunk = await self._summaries.describe(room_id)
        if chunk is not None:
            if not await self.can_preview(user_id, room_id, chunk):
                return None
            children = await self._children(room_id, suggested_only)
            chunk["children_state"] = [c.event for c in children]
            return _Visited(chunk, children, None)
        if parent is not None and room_id in parent.inaccessible:
            return None
        hint = parent.children.get(room_id) if parent is not None else None
        space = await self._remote.room(room_id, via, suggested_only=suggested_only, hint=hint)
        if space is None or not await self.can_preview(
            user_id, room_id, space.room, allowed_rooms=space.room.get("allowed_room_ids", [])
        ):
            return None
        return _Visited(space.room, space_children(space.room["children_state"], suggested_only=suggested_only), space)

    async def hierarchy_for_server(self, room_id: str, *, suggested_only: bool) -> dict[str, Any]:
        """Federation ``/hierarchy/{roomId}``: a space and its direct children for another server.

        A server sees what anyone may preview; restricted children come with
        their ``allowed_room_ids``, for the asking server to apply to its users.
        """
        root = await self._summaries.describe(room_id)
        if root is None or not await self._server_may_preview(room_id, root):
            raise MatrixError("M_NOT_FOUND", "Unknown room", status=404)
        children = await self._children(room_id, suggested_only)
        root["children_state"] = [c.event for c in children]
        listed, inaccessible = [], []
        for child in children:
            chunk = await self._summaries.describe(child.room_id)
            if chunk is None:
                continue  # a room this server does not know: the asking server must look elsewhere
            if await self._server_may_preview(child.room_id, chunk):
                listed.append(chunk)
            else:
                inaccessible.append(child.room_id)
        return {"room": root, "children": listed, "inaccessible_children": inaccessible}

    async def _server_may_preview(self, room_id: str, chunk: dict[str, Any]) -> bool:
        if await self.can_preview(None, room_id, chunk):
            return True
        if chunk["join_rule"] in ("restricted", "knock_restricted"):
            chunk["allowed_room_ids"] = await self._allowed_rooms(room_id)
            return True
        return False

    async def mutual_rooms(self, requester: Requester, other: str) -> dict[str, Any]:
        if other == requester.user_id:
            raise MatrixError("M_INVALID_PARAM", "You share every room with yourself", status=422)
        mine = set(await self._rooms.rooms_for_user(requester.user_id, "join"))
        theirs = set(await self._rooms.rooms_for_user(other, "join"))
        return {"joined": sorted(mine & theirs)}

    async def _children(self, room_id: str, suggested_only: bool) -> list[SpaceChild]:
        room = await self._rooms.get_room(room_id)
        if room is None or room.current_state_group is None:
            return []
        state = await self._state.get_state(room.current_state_group)
        ids = [eid for (t, _), eid in state.items() if t == "m.space.child"]
        stored = await self._events.get_events(ids)
        events = [
            {
                "type": "m.space.child", "state_key": item.event.state_key, "content": dict(item.event.content),
                "sender": item.event.sender, "origin_server_ts": item.event.origin_server_ts,
            }
            for item in (stored.get(eid) for eid in ids) if item is not None
        ]
        return space_children(events, suggested_only=suggested_only)

    async def _allowed_rooms(self, room_id: str) -> list[str]:
        event_id = await self._state.get_current_state_event_id(room_id, "m.room.join_rules", "")
        item = await self._events.get_event(event_id) if event_id else None
        if item is None:
            return []
        return [
            entry["room_id"] for entry in item.event.content.get("allow") or []
            if isinstance(entry, dict) and entry.get("type") == "m.room_membership" and isinstance(entry.get("room_id"), str)
        ]
