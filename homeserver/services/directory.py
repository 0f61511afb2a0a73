"""Room aliases and the published room directory (spec: Client-Server API,
"Room aliases", "Published room directory")."""

from __future__ import annotations

from typing import Any

from homeserver.clock import Clock
from homeserver.core import power_levels as pl
from homeserver.core.identifiers import get_domain_from_id, is_valid_room_alias, is_valid_room_id, is_valid_server_name
from homeserver.errors import MatrixError
from homeserver.parsing import parse_token
from homeserver.services.auth import Requester
from homeserver.services.ports import FederationQueries, RemoteUnavailable
from homeserver.services.rooms.summary import RoomSummaries
from storage.events import EventStore
from storage.rooms import AliasStore, RoomStore
from storage.state import StateStore

MAX_PAGE = 500


class DirectoryService:
    def __init__(
        self,
        *,
        aliases: AliasStore,
        rooms: RoomStore,
        state: StateStore,
        events: EventStore,
        summaries: RoomSummaries,
        clock: Clock,
        federation: FederationQueries,
        server_name: str,
    ) -> None:
        self._aliases = aliases
        self._rooms = rooms
        self._state = state
        self._events = events
        self._summaries = summaries
        self._clock = clock
        self._server_name = server_name
        self._federation = federation

    # -- aliases ---------------------------------------------------------------------------

    async def create_alias(self, requester: Requester, alias: str, room_id: str) -> None:
        self._check_local_alias(alias)
        if await self._rooms.get_room(room_id) is None:
            raise MatrixError("M_NOT_FOUND", "Unknown room")
        if await self._rooms.membership(room_id, requester.user_id) != "join" and not requester.is_admin:
            raise MatrixError("M_FORBIDDEN", "You must be in the room to give it an alias")
        if not await self._aliases.create(alias, room_id, requester.user_id, self._clock.time_ms()):
            raise MatrixError("M_UNKNOWN", f"Room alias {alias} already exists", status=409)

    async def resolve_alias(self, alias: str) -> dict[str, Any]:
        """An alias's room and servers; aliases of other servers are asked of them."""
        if not is_valid_room_alias(alias):
            raise MatrixError("M_INVALID_PARAM", "Room alias invalid")
        server = get_domain_from_id(alias)
        if server == self._server_name:
            return await self.resolve_local_alias(alias)
        try:
            answer = await self._federation.query_directory(server, alias)
        except RemoteUnavailable as e:
            raise MatrixError("M_NOT_FOUND", f"Room alias {alias} could not be resolved: {e}") from None
        room_id, servers = answer.get("room_id"), answer.get("servers")
        if not isinstance(room_id, str) or not isinstance(servers, list):
            raise MatrixError("M_NOT_FOUND", f"Room alias {alias} could not be resolved")
        return {"room_id": room_id, "servers": [s for s in servers if isinstance(s, str)]}

    async def resolve_local_alias(self, alias: str) -> dict[str, Any]:
        """A local alias's room and the servers in it (what other servers are told)."""
        if not is_valid_room_alias(alias) or get_domain_from_id(alias) != self._server_name:
            raise MatrixError("M_NOT_FOUND", f"Room alias {alias} not found")
        found = await self._aliases.get(alias)
        if found is None:
            raise MatrixError("M_NOT_FOUND", f"Room alias {alias} not found")
        room_id = found[0]
        servers = sorted({get_domain_from_id(m) for m in await self._rooms.members(room_id)} | {self._server_name})
        return {"room_id": room_id, "servers": servers}

    async def delete_alias(self, requester: Requester, alias: str) -> None:
        self._check_local_alias(alias)
        found = await self._aliases.get(alias)
        if found is None:
            raise MatrixError("M_NOT_FOUND", f"Room alias {alias} not found")
        room_id, creator = found
        if not (requester.is_admin or requester.user_id == creator or await self._may_moderate(requester.user_id, room_id)):
            raise MatrixError("M_FORBIDDEN", "You may not delete this alias")
        await self._aliases.delete(alias)

    async def room_aliases(self, requester: Requester, room_id: str) -> list[str]:
        if not is_valid_room_id(room_id):
            raise MatrixError("M_INVALID_PARAM", "Invalid room ID")
        if await self._rooms.membership(room_id, requester.user_id) != "join":
            summary = await self._summaries.describe(room_id)
            if summary is None or not summary["world_readable"]:
                raise MatrixError("M_FORBIDDEN", "You are not in this room")
        return await self._aliases.for_room(room_id)

    # -- published room directory ------------------------------------------------------------------

    async def get_visibility(self, room_id: str) -> str:
        room = await self._rooms.get_room(room_id)
        if room is None:
            raise MatrixError("M_NOT_FOUND", "Unknown room")
        return "public" if room.is_public else "private"

    async def set_visibility(self, requester: Requester, room_id: str, visibility: str) -> None:
        if visibility not in ("public", "private"):
            raise MatrixError("M_INVALID_PARAM", "visibility must be public or private")
        if await self._rooms.get_room(room_id) is None:
            raise MatrixError("M_NOT_FOUND", "Unknown room")
        if not (requester.is_admin or await self._may_moderate(requester.user_id, room_id)):
            raise MatrixError("M_FORBIDDEN", "You may not publish this room")
        await self._rooms.set_public(room_id, visibility == "public")

    async def public_rooms(
        self,
        *,
        server: str | None,
        limit: int | None,
        since: str | None,
        search_term: str | None,
        room_types: list[str | None] | None,
    ) -> dict[str, Any]:
        if server is not None and server != self._server_name:
            if not is_valid_server_name(server):
                raise MatrixError("M_INVALID_PARAM", "server is not a valid server name")
            query: dict[str, Any] = {"limit": limit, "since": since}
            if search_term or room_types is not None:
                query["filter"] = {"generic_search_term": search_term, "room_types": room_types}
            try:
                return await self._federation.public_rooms(server, {k: v for k, v in query.items() if v is not None})
            except RemoteUnavailable as e:
                raise MatrixError("M_NOT_FOUND", f"Cannot list the rooms of {server}: {e}") from None
        offset = parse_token(since, "p", "since token", minimum=0) if since is not None else 0
        chunks = [c for c in [await self._summaries.describe(r) for r in await self._rooms.public_rooms()] if c]
        if search_term:
            needle = search_term.lower()
            chunks = [
                c for c in chunks
                if any(needle in str(c.get(k, "")).lower() for k in ("name", "topic", "canonical_alias", "room_id"))
            ]
        if room_types is not None:
            chunks = [c for c in chunks if c.get("room_type") in room_types]
        chunks.sort(key=lambda c: (-c["num_joined_members"], c["room_id"]))
        size = min(limit, MAX_PAGE) if limit is not None else MAX_PAGE
        page = chunks[offset : offset + size]
        body: dict[str, Any] = {"chunk": page, "total_room_count_estimate": len(chunks)}
        if offset + size < len(chunks):
            body["next_batch"] = f"p{offset + size}"
        if offset > 0:
            body["prev_batch"] = f"p{max(0, offset - size)}"
        return body

    async def _may_moderate(self, user_id: str, room_id: str) -> bool:
        """Whether the user may change the room's canonical alias (the usual test for directory edits)."""
        room = await self._rooms.get_room(room_id)
        if room is None or room.current_state_group is None:
            return False
        if await self._rooms.membership(room_id, user_id) != "join":
            return False
        state = await self._state.get_state(room.current_state_group)
        keys = [k for k in (("m.room.create", ""), ("m.room.power_levels", "")) if k in state]
        stored = await self._events.get_events(state[k] for k in keys)
        auth_state = {k: stored[state[k]].event for k in keys}
        return pl.user_power_level(user_id, auth_state) >= pl.required_power_level("m.room.canonical_alias", True, auth_state)

    def _check_local_alias(self, alias: str) -> None:
        if not is_valid_room_alias(alias):
            raise MatrixError("M_INVALID_PARAM", "Room alias invalid")
        if get_domain_from_id(alias) != self._server_name:
            raise MatrixError("M_INVALID_PARAM", "Room aliases must be on this server")
