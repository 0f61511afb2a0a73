"""Spaces as plain data: the children an ``m.space.child`` set names, in the
spec's order, and the checks an answer to the federation ``/hierarchy`` must
pass (spec: Client-Server API, "Spaces"; Server-Server API, "Spaces").

What another server sends is rebuilt from the known fields, each of the right
type, so nothing else reaches a client.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from homeserver.core.identifiers import is_valid_room_id

_ORDER = re.compile(r"[\x20-\x7E]{1,50}")
_OPTIONAL_STRINGS = ("name", "topic", "avatar_url", "canonical_alias", "room_type", "encryption", "room_version")


@dataclass(frozen=True)
class SpaceChild:
    """One child of a space: its room, the servers to reach it through, and the
    stripped ``m.space.child`` event (with ``origin_server_ts``) naming it."""

    room_id: str
    via: tuple[str, ...]
    event: dict[str, Any]


@dataclass(frozen=True)
class RemoteSpace:
    """Another server's answer to ``/hierarchy/{roomId}``, checked."""

    room: dict[str, Any]
    """The room's summary, with its ``children_state``."""
    children: dict[str, dict[str, Any]]
    """That server's summaries of the room's children, by room ID."""
    inaccessible: frozenset[str]
    """Children that server says no user of ours can peek or join."""


def space_children(events: Iterable[Mapping[str, Any]], *, suggested_only: bool) -> list[SpaceChild]:
    """The children named by stripped ``m.space.child`` events, ordered: valid
    ``order`` first (by code point), then by timestamp, then by room ID.

    A child whose ``via`` is missing, empty or not a list is not in the space.
    """
    children = []
    for event in events:
        content = event["content"]
        via = content.get("via")
        if not isinstance(via, list) or not via:
            continue
        if suggested_only and content.get("suggested") is not True:
            continue
        children.append(SpaceChild(event["state_key"], tuple(v for v in via if isinstance(v, str)), dict(event)))

    def key(child: SpaceChild) -> tuple[bool, str, int, str]:
        order = child.event["content"].get("order")
        valid = isinstance(order, str) and _ORDER.fullmatch(order) is not None
        return (not valid, order if valid else "", child.event["origin_server_ts"], child.room_id)

    return sorted(children, key=key)


def parse_hierarchy_answer(room_id: str, answer: Any) -> RemoteSpace | None:
    """The checked answer for ``room_id``; ``None`` if it is unusable (not an
    object, no valid summary, or a summary of another room).

    Malformed children, child events and room IDs are dropped one by one, and
    so are summaries of rooms that are not children of this one.
    """
    if not isinstance(answer, dict):
        return None
    raw_room = answer.get("room")
    room = parse_room_summary(raw_room)
    if room is None or room["room_id"] != room_id:
        return None
    room["children_state"] = parse_children_state(raw_room.get("children_state"))
    child_ids = {event["state_key"] for event in room["children_state"]}
    listed = answer.get("children")
    children: dict[str, dict[str, Any]] = {}
    for raw in listed if isinstance(listed, list) else []:
        chunk = parse_room_summary(raw)
        if chunk is not None and chunk["room_id"] in child_ids:
            if isinstance(raw.get("children_state"), list):
                chunk["children_state"] = parse_children_state(raw["children_state"])
            children[chunk["room_id"]] = chunk
    hidden = answer.get("inaccessible_children")
    inaccessible = frozenset(r for r in hidden if isinstance(r, str)) if isinstance(hidden, list) else frozenset()
    return RemoteSpace(room, children, inaccessible)


def parse_room_summary(raw: Any) -> dict[str, Any] | None:
    """A ``RoomSummary`` rebuilt from its known fields; ``None`` if a required one
    is missing or of the wrong type. Wrongly typed optional fields are dropped."""
    if not isinstance(raw, dict):
        return None
    room_id, members = raw.get("room_id"), raw.get("num_joined_members")
    if not isinstance(room_id, str) or not is_valid_room_id(room_id):
        return None
    if not isinstance(members, int) or isinstance(members, bool) or members < 0:
        return None
    if not isinstance(raw.get("world_readable"), bool) or not isinstance(raw.get("guest_can_join"), bool):
        return None
    join_rule = raw.get("join_rule", "public")
    if not isinstance(join_rule, str):
        return None
    chunk: dict[str, Any] = {
        "room_id": room_id,
        "num_joined_members": members,
        "world_readable": raw["world_readable"],
        "guest_can_join": raw["guest_can_join"],
        "join_rule": join_rule,
    }
    chunk.update({k: raw[k] for k in _OPTIONAL_STRINGS if isinstance(raw.get(k), str)})
    allowed = raw.get("allowed_room_ids")
    if isinstance(allowed, list):
        chunk["allowed_room_ids"] = [r for r in allowed if isinstance(r, str) and is_valid_room_id(r)]
    return chunk


def parse_children_state(raw: Any) -> list[dict[str, Any]]:
    """The well-formed stripped ``m.space.child`` events of a ``children_state`` list."""
    events = []
    for event in raw if isinstance(raw, list) else []:
        if not isinstance(event, dict) or event.get("type") != "m.space.child":
            continue
        state_key, content, sender, ts = (event.get(k) for k in ("state_key", "content", "sender", "origin_server_ts"))
        if not isinstance(state_key, str) or not is_valid_room_id(state_key) or not isinstance(content, dict):
            continue
        if not isinstance(sender, str) or not isinstance(ts, int) or isinstance(ts, bool):
            continue
        events.append({
            "type": "m.space.child", "state_key": state_key, "content": content, "sender": sender,
            "origin_server_ts": ts,
        })
    return events

