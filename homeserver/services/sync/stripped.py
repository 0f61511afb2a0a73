"""Stripped state for invites and knocks (spec: Client-Server API, "Stripped state")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from storage.events import EventStore

#: The state a user may preview before joining.
STRIPPED_TYPES = (
    "m.room.create",
    "m.room.join_rules",
    "m.room.name",
    "m.room.avatar",
    "m.room.canonical_alias",
    "m.room.encryption",
    "m.room.topic",
)


async def stripped_state(
    events: EventStore, state: Mapping[tuple[str, str], str], membership_event_id: str
) -> list[dict[str, Any]]:
    """The preview state of a room plus the user's own invite/knock event."""
    wanted = [state[(t, "")] for t in STRIPPED_TYPES if (t, "") in state]
    stored = await events.get_events([*wanted, membership_event_id])
    membership = stored.get(membership_event_id)
    if membership is not None:
        sender_member = state.get(("m.room.member", membership.event.sender))
        if sender_member:
            stored.update(await events.get_events([sender_member]))
            wanted.append(sender_member)
        wanted.append(membership_event_id)
    result = []
    for event_id in dict.fromkeys(wanted):
        item = stored.get(event_id)
        if item is None:
            continue
        event = item.event
        result.append(
            {"type": event.type, "state_key": event.state_key, "content": dict(event.content), "sender": event.sender}
        )
    return result
