"""Room upgrades (spec: Client-Server API, "Room Upgrades"): a replacement room
on the new version, the transferable state copied, local aliases and bans
moved, a tombstone in the old room, and the old room silenced."""

from __future__ import annotations

from typing import Any

from homeserver.core import power_levels as pl
from homeserver.core.identifiers import is_valid_user_id
from homeserver.core.room_versions import KNOWN_ROOM_VERSIONS
from homeserver.errors import MatrixError
from homeserver.services.auth import Requester
from homeserver.services.rooms.creation import CreateRoomRequest, RoomCreator
from homeserver.services.rooms.sender import EventSender
from storage.database import Database
from storage.events import EventStore
from storage.rooms import AliasStore, RoomStore
from storage.state import StateStore

TRANSFERRED = (
    "m.room.server_acl",
    "m.room.encryption",
    "m.room.name",
    "m.room.avatar",
    "m.room.topic",
    "m.room.guest_access",
    "m.room.history_visibility",
    "m.room.join_rules",
)


class RoomUpgrader:
    def __init__(
        self,
        *,
        db: Database,
        creator: RoomCreator,
        sender: EventSender,
        rooms: RoomStore,
        aliases: AliasStore,
        state: StateStore,
        events: EventStore,
    ) -> None:
        self._db = db
        self._creator = creator
        self._sender = sender
        self._rooms = rooms
        self._aliases = aliases
        self._state = state
        self._events = events

    async def upgrade(
        self, requester: Requester, room_id: str, new_version: str, additional_creators: list[str]
    ) -> str:
        if new_version not in KNOWN_ROOM_VERSIONS:
            raise MatrixError("M_UNSUPPORTED_ROOM_VERSION", f"Room version {new_version!r} is not supported")
        if not all(isinstance(u, str) and is_valid_user_id(u) for u in additional_creators):
            raise MatrixError("M_INVALID_PARAM", "additional_creators must be user IDs")
        room = await self._rooms.get_room(room_id)
        if room is None or room.current_state_group is None:
            raise MatrixError("M_NOT_FOUND", "Unknown room")
        state = await self._state.get_state(room.current_state_group)
        stored = await self._events.get_events(state.values())
        current = {key: stored[eid].event for key, eid in state.items() if eid in stored}
        if await self._rooms.membership(room_id, requester.user_id) != "join":
            raise MatrixError("M_FORBIDDEN", "You are not in this room")
        user_level = pl.user_power_level(requester.user_id, current)
        if user_level < pl.required_power_level("m.room.tombstone", True, current):
            raise MatrixError("M_FORBIDDEN", "You may not upgrade this room")

        version = KNOWN_ROOM_VERSIONS[new_version]
        create = current[("m.room.create", "")]
        predecessor: dict[str, Any] = {"room_id": room_id}
        if not version.auth.room_create_event_id_as_room_id:
            extremities = await self._events.get_extremities(room_id)
            if extremities:
                predecessor["event_id"] = extremities[0]
        creation_content: dict[str, Any] = {"predecessor": predecessor}
        if isinstance(create.content.get("type"), str):
            creation_content["type"] = create.content["type"]
        if additional_creators and version.auth.additional_room_creators:
            creation_content["additional_creators"] = additional_creators

        initial_state = [
            {"type": t, "state_key": "", "content": dict(current[(t, "")].content)}
            for t in TRANSFERRED if (t, "") in current
        ]
        power_levels = self._new_power_levels(current, requester.user_id, version.auth.explicitly_privilege_room_creators, additional_creators)
        aliases = await self._aliases.for_room(room_id)
        canonical = current.get(("m.room.canonical_alias", ""))
        bans = [k[1] for k, e in current.items() if k[0] == "m.room.member" and e.membership == "ban"]

        async with self._db.transaction("upgrade_room"):
            new_room_id = (await self._creator.create_room(
                requester.user_id,
                CreateRoomRequest(
                    room_version=new_version,
                    creation_content=creation_content,
                    initial_state=tuple(initial_state),
                    power_level_content_override=power_levels,
                    visibility="public" if room.is_public else "private",
                ),
            )).room_id
            for alias in aliases:
                await self._aliases.delete(alias)
                await self._aliases.create(alias, new_room_id, requester.user_id, create.origin_server_ts)
            if canonical is not None and canonical.content:
                await self._sender.send(new_room_id, requester.user_id, "m.room.canonical_alias", dict(canonical.content), state_key="")
            for banned in bans:
                await self._sender.send(new_room_id, requester.user_id, "m.room.member", {"membership": "ban"}, state_key=banned)
            await self._sender.send(
                room_id, requester.user_id, "m.room.tombstone",
                {"body": "This room has been replaced", "replacement_room": new_room_id}, state_key="",
            )
            await self._silence(room_id, current, requester.user_id)
            if room.is_public:
                await self._rooms.set_public(room_id, False)
        return new_room_id

    def _new_power_levels(
        self, current: dict[tuple[str, str], Any], user_id: str, v12: bool, additional_creators: list[str]
    ) -> dict[str, Any]:
        old = current.get(("m.room.power_levels", ""))
        content: dict[str, Any] = dict(old.content) if old is not None else {}
        users = {u: v for u, v in dict(content.get("users", {})).items()}
        if v12:
            for creator in {user_id, *additional_creators}:
                users.pop(creator, None)
        else:
            # The upgrader sets the new room's state, so they need full power there.
            level = users.get(user_id, 0)
            users[user_id] = max(level if isinstance(level, int) else 0, 100)
        content["users"] = users
        return content

    async def _silence(self, room_id: str, current: dict[tuple[str, str], Any], user_id: str) -> None:
        """Raise events_default and invite so the old room stops being used."""
        old = current.get(("m.room.power_levels", ""))
        content: dict[str, Any] = dict(old.content) if old is not None else {}
        users_default = content.get("users_default", 0) if isinstance(content.get("users_default", 0), int) else 0
        restricted = max(50, users_default + 1)
        if content.get("events_default") == restricted and content.get("invite") == restricted:
            return
        content["events_default"] = restricted
        content["invite"] = restricted
        try:
            await self._sender.send(room_id, user_id, "m.room.power_levels", content, state_key="")
        except MatrixError:
            pass  # an upgrader who may tombstone but not edit power levels leaves them as they are
