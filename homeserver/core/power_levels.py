"""Power levels: parsing the content of ``m.room.power_levels`` per room version
and answering "what level does this user have / does this action need"
(spec: ``m.room.power_levels``; room versions 1-9 "stringy" and "floaty" levels;
v10 integer-only levels; v12 privileged creators).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from homeserver.core.events import Event
from homeserver.core.room_versions import RoomVersion

#: Stands in for the infinite power of room creators (room version 12).
CREATOR_POWER = math.inf

_STRINGY_INT = re.compile(r"\s*[+-]?\d+\s*")

DEFAULT_LEVELS = {
    "ban": 50,
    "kick": 50,
    "redact": 50,
    "invite": 0,
    "events_default": 0,
    "users_default": 0,
}

StateMap = Mapping[tuple[str, str], Event]


class InvalidPowerLevel(ValueError):
    """A power-level value that the room version does not accept."""


def parse_level(value: Any, version: RoomVersion) -> int:
    """One power-level value as an integer, per the room version's tolerance.

    v10+: integers only. Earlier versions also take strings holding an integer
    (whitespace and a sign allowed) and floats (truncated).
    """
    if isinstance(value, bool):
        raise InvalidPowerLevel("a boolean is not a power level")
    if isinstance(value, int):
        return value
    if version.auth.integer_power_levels:
        raise InvalidPowerLevel(f"{value!r} is not an integer")
    if isinstance(value, str) and _STRINGY_INT.fullmatch(value):
        return int(value.strip())
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    raise InvalidPowerLevel(f"{value!r} is not a power level")


def level_or_default(content: Mapping[str, Any], key: str, default: int, version: RoomVersion) -> int:
    """``content[key]`` as a level, or ``default`` when absent or unusable."""
    if key not in content:
        return default
    try:
        return parse_level(content[key], version)
    except InvalidPowerLevel:
        return default


def room_creators(create_event: Event | None) -> set[str]:
    """The room's creators: the create event's sender (or ``content.creator`` before
    v11) plus, in v12, ``content.additional_creators``."""
    if create_event is None:
        return set()
    version = create_event.room_version
    if version.auth.use_room_create_sender:
        creators = {create_event.sender}
    else:
        creator = create_event.content.get("creator")
        creators = {creator} if isinstance(creator, str) else set()
    if version.auth.additional_room_creators:
        extra = create_event.content.get("additional_creators")
        if isinstance(extra, list):
            creators.update(u for u in extra if isinstance(u, str))
    return creators


def user_power_level(user_id: str, state: StateMap) -> float:
    """The user's power level in the room whose (auth) state is ``state``.

    Creators have infinite power in v12. Without a power-levels event the
    creator has 100 and everybody else 0.
    """
    create = state.get(("m.room.create", ""))
    version = create.room_version if create is not None else None
    if version is not None and version.auth.explicitly_privilege_room_creators:
        if user_id in room_creators(create):
            return CREATOR_POWER
    pl_event = state.get(("m.room.power_levels", ""))
    if pl_event is None:
        return 100 if user_id in room_creators(create) else 0
    content = pl_event.content
    users = content.get("users")
    if isinstance(users, Mapping) and user_id in users:
        try:
            return parse_level(users[user_id], pl_event.room_version)
        except InvalidPowerLevel:
            pass
    return level_or_default(content, "users_default", 0, pl_event.room_version)


def required_power_level(event_type: str, is_state: bool, state: StateMap) -> int:
    """The level needed to send an event of ``event_type`` (``events`` entry, else
    ``state_default``/``events_default``; state needs 0 when there are no power levels)."""
    pl_event = state.get(("m.room.power_levels", ""))
    if pl_event is None:
        return 0
    content, version = pl_event.content, pl_event.room_version
    events = content.get("events")
    if isinstance(events, Mapping) and event_type in events:
        try:
            return parse_level(events[event_type], version)
        except InvalidPowerLevel:
            pass
    if is_state:
        return level_or_default(content, "state_default", 50, version)
    return level_or_default(content, "events_default", 0, version)


def named_level(name: str, state: StateMap) -> int:
    """``ban``, ``kick``, ``redact`` or ``invite`` level (spec defaults when unset)."""
    pl_event = state.get(("m.room.power_levels", ""))
    default = DEFAULT_LEVELS[name]
    if pl_event is None:
        return default
    return level_or_default(pl_event.content, name, default, pl_event.room_version)


def notification_level(key: str, state: StateMap) -> int:
    """The level needed to trigger a notification of ``key`` (e.g. ``room``: 50)."""
    pl_event = state.get(("m.room.power_levels", ""))
    if pl_event is None:
        return 50
    notifications = pl_event.content.get("notifications")
    if isinstance(notifications, Mapping) and key in notifications:
        try:
            return parse_level(notifications[key], pl_event.room_version)
        except InvalidPowerLevel:
            pass
    return 50
