"""What a room looks like from the outside: name, topic, avatar, aliases, join
rule, member count... used by the public room directory, spaces and summaries."""

from __future__ import annotations

from typing import Any

from storage.events import EventStore
from storage.rooms import RoomStore
from storage.state import StateStore

_SUMMARY_STATE = (
    "m.room.create",
    "m.room.name",
    "m.room.topic",
    "m.room.avatar",
    "m.room.canonical_alias",
    "m.room.join_rules",
    "m.room.history_visibility",
    "m.room.guest_access",
    "m.room.encryption",
)


class RoomSummaries:
    def __init__(self, rooms: RoomStore, state: StateStore, events: EventStore) -> None:
        self._rooms = rooms
        self._state = state
        self._events = events

    async def describe(self, room_id: str) -> dict[str, Any] | None:
        """The public chunk of a room (spec: ``PublishedRoomsChunk``), or ``None`` if unknown."""
        room = await self._rooms.get_room(room_id)
        if room is None or room.current_state_group is None:
            return None
        state = await self._state.get_state(room.current_state_group)
        ids = {t: state[(t, "")] for t in _SUMMARY_STATE if (t, "") in state}
        stored = await self._events.get_events(ids.values())
        content = {t: dict(stored[eid].event.content) for t, eid in ids.items() if eid in stored}
        joined = (await self._rooms.joined_counts([room_id])).get(room_id, 0)
        chunk: dict[str, Any] = {
            "room_id": room_id,
            "num_joined_members": joined,
            "world_readable": content.get("m.room.history_visibility", {}).get("history_visibility") == "world_readable",
            "guest_can_join": content.get("m.room.guest_access", {}).get("guest_access") == "can_join",
            "join_rule": content.get("m.room.join_rules", {}).get("join_rule", "invite"),
            "room_version": room.room_version,
        }
        for key, event_type, field in (
            ("name", "m.room.name", "name"),
            ("topic", "m.room.topic", "topic"),
            ("avatar_url", "m.room.avatar", "url"),
            ("canonical_alias", "m.room.canonical_alias", "alias"),
        ):
            value = content.get(event_type, {}).get(field)
            if isinstance(value, str) and value:
                chunk[key] = value
        room_type = content.get("m.room.create", {}).get("type")
        if isinstance(room_type, str):
            chunk["room_type"] = room_type
        algorithm = content.get("m.room.encryption", {}).get("algorithm")
        if isinstance(algorithm, str):
            chunk["encryption"] = algorithm
        return chunk
