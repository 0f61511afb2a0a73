"""Hand-made PDUs for federation tests: events as another server would build and sign them."""

from __future__ import annotations

from typing import Any

from homeserver.core import auth_rules
from homeserver.core.room_versions import get_room_version
from homeserver.core.signing import ServerSigningKey, hash_and_sign_event


async def signed_pdu(
    hearth: Any, server_name: str, key: ServerSigningKey, room_id: str, sender: str, event_type: str,
    content: dict[str, Any], *, prev_events: list[str], auth_state: dict[tuple[str, str], str],
    state_key: str | None = None,
) -> dict[str, Any]:
    """A PDU ``server_name`` signs with ``key``, on ``prev_events`` as ``hearth`` stores them
    (for the depth), with its auth events chosen from ``auth_state``."""
    room = await hearth.event_store.db.fetchrow("SELECT room_version FROM rooms WHERE room_id = $1", room_id)
    version = get_room_version(room["room_version"])
    wanted = auth_rules.auth_types_for_event(version, event_type, sender, state_key, content)
    pdu: dict[str, Any] = {
        "type": event_type, "room_id": room_id, "sender": sender, "content": content,
        "origin_server_ts": hearth.clock.time_ms(), "depth": await hearth.event_store.max_depth(prev_events) + 1,
        "prev_events": prev_events, "auth_events": sorted(auth_state[k] for k in wanted if k in auth_state),
    }
    if state_key is not None:
        pdu["state_key"] = state_key
    return hash_and_sign_event(pdu, server_name, key, version)
