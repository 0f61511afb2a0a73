"""Restricted joins (room versions 8+): who may authorise a join to a restricted room."""

from __future__ import annotations

from homeserver.core import power_levels as pl
from homeserver.core.events import Event
from homeserver.core.identifiers import get_domain_from_id
from homeserver.errors import MatrixError
from storage.events import EventStore
from storage.rooms import RoomStore
from storage.state import StateStore


async def restricted_join_authoriser(
    rooms: RoomStore, state_store: StateStore, events: EventStore, server_name: str, room_id: str, user_id: str
) -> str | None:
    """For restricted rooms: a local member who may invite, if the user is in an allowed room."""
    room = await rooms.get_room(room_id)
    assert room is not None and room.current_state_group is not None
    state = await state_store.get_state(room.current_state_group)
    rules_id = state.get(("m.room.join_rules", ""))
    if rules_id is None:
        return None
    rules = (await events.get_events([rules_id]))[rules_id].event
    if rules.content.get("join_rule") not in ("restricted", "knock_restricted"):
        return None
    if await rooms.membership(room_id, user_id) in ("invite", "join"):
        return None
    allowed_rooms = [
        entry.get("room_id")
        for entry in rules.content.get("allow") or []
        if isinstance(entry, dict) and entry.get("type") == "m.room_membership"
    ]
    for allowed in allowed_rooms:
        if isinstance(allowed, str) and await rooms.membership(allowed, user_id) == "join":
            break
    else:
        raise MatrixError("M_FORBIDDEN", "You are not a member of any room this room allows")
    auth_ids = [k for k in state if k[0] in ("m.room.create", "m.room.power_levels")]
    stored = await events.get_events(state[k] for k in auth_ids)
    auth_state: dict[tuple[str, str], Event] = {k: stored[state[k]].event for k in auth_ids if state[k] in stored}
    invite_level = pl.named_level("invite", auth_state)
    for member in await rooms.members(room_id, "join"):
        if get_domain_from_id(member) != server_name:
            continue
        if pl.user_power_level(member, auth_state) >= invite_level:
            return member
    raise MatrixError("M_FORBIDDEN", "No local member can authorise your join")
