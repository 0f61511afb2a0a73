"""An immutable, room-version-aware view of a PDU.

:class:`Event` wraps the PDU JSON exactly as it travels over federation (and as
it is hashed and signed) and exposes the fields the protocol rules need. It
never mutates the JSON; builders and redaction produce new dicts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeserver.core.room_versions import EventIdFormat, RoomVersion


class Event:
    """A PDU in a known room version.

    ``event_id`` may be passed when it is already known (read from storage, or
    carried in the PDU for v1/v2); otherwise it is derived from the reference
    hash on first access for v3+ rooms.
    """

    __slots__ = ("_pdu", "room_version", "_event_id")

    def __init__(
        self, pdu: Mapping[str, Any], room_version: RoomVersion, *, event_id: str | None = None
    ) -> None:
        self._pdu = pdu
        self.room_version = room_version
        self._event_id = event_id

    # -- identity -----------------------------------------------------------------

    @property
    def event_id(self) -> str:
        """The event ID: carried in the PDU (v1/v2) or its reference hash (v3+)."""
        if self._event_id is None:
            if self.room_version.event_format.event_id_format is EventIdFormat.SERVER_GENERATED:
                self._event_id = self._pdu["event_id"]
            else:
                from homeserver.core.hashing import compute_event_id

                self._event_id = compute_event_id(self._pdu, self.room_version)
        return self._event_id

    @property
    def room_id(self) -> str:
        """The room ID. In v12 a create event has none in its PDU: it is derived."""
        room_id = self._pdu.get("room_id")
        if room_id is None and self.type == "m.room.create":
            return "!" + self.event_id[1:]
        return room_id

    # -- plain fields ---------------------------------------------------------------

    @property
    def type(self) -> str:
        return self._pdu["type"]

    @property
    def sender(self) -> str:
        return self._pdu["sender"]

    @property
    def state_key(self) -> str | None:
        """The state key, or ``None`` for a non-state event."""
        return self._pdu.get("state_key")

    @property
    def is_state(self) -> bool:
        return "state_key" in self._pdu

    @property
    def content(self) -> Mapping[str, Any]:
        return self._pdu.get("content", {})

    @property
    def depth(self) -> int:
        return self._pdu.get("depth", 0)

    @property
    def origin_server_ts(self) -> int:
        return self._pdu.get("origin_server_ts", 0)

    @property
    def hashes(self) -> Mapping[str, str]:
        return self._pdu.get("hashes", {})

    @property
    def signatures(self) -> Mapping[str, Mapping[str, str]]:
        return self._pdu.get("signatures", {})

    @property
    def unsigned(self) -> Mapping[str, Any]:
        return self._pdu.get("unsigned", {})

    @property
    def prev_event_ids(self) -> list[str]:
        return _reference_ids(self._pdu.get("prev_events", ()), self.room_version)

    @property
    def auth_event_ids(self) -> list[str]:
        return _reference_ids(self._pdu.get("auth_events", ()), self.room_version)

    @property
    def redacts(self) -> str | None:
        """The redacted event ID of an ``m.room.redaction``, wherever the version puts it."""
        if self.type != "m.room.redaction":
            return None
        if self.room_version.event_format.redacts_in_content:
            redacts = self.content.get("redacts")
            if isinstance(redacts, str):
                return redacts
        redacts = self._pdu.get("redacts")
        return redacts if isinstance(redacts, str) else None

    @property
    def membership(self) -> str | None:
        """``content.membership`` of an ``m.room.member`` event."""
        if self.type != "m.room.member":
            return None
        membership = self.content.get("membership")
        return membership if isinstance(membership, str) else None

    def state_tuple(self) -> tuple[str, str]:
        """``(type, state_key)``; only meaningful for state events."""
        return (self.type, self._pdu["state_key"])

    def pdu(self) -> dict[str, Any]:
        """A shallow copy of the PDU JSON (what goes over federation)."""
        return dict(self._pdu)

    def get(self, key: str, default: Any = None) -> Any:
        """A top-level PDU field."""
        return self._pdu.get(key, default)

    def __repr__(self) -> str:
        return f"<Event {self.event_id} {self.type} {self.state_key!r} from {self.sender}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Event) and other.event_id == self.event_id

    def __hash__(self) -> int:
        return hash(self.event_id)


def auth_parents(event: Event) -> list[str]:
    """The events an event's auth chain continues with: its auth events and, from
    room version 12, the create event (which the room ID names and no event lists)."""
    if event.room_version.auth.room_create_event_id_as_room_id and event.type != "m.room.create":
        return [*event.auth_event_ids, "$" + event.room_id[1:]]
    return event.auth_event_ids


def _reference_ids(refs: Any, room_version: RoomVersion) -> list[str]:
    if room_version.event_format.reference_pairs:
        return [ref[0] for ref in refs]
    return list(refs)
