"""A tiny DSL for building rooms and event DAGs in tests of the protocol core.

Events get readable IDs (``$name``) instead of real hashes: the auth rules and
state resolution only compare IDs. In room version 12 the room ID is derived
from the create event's ID, as the rules demand.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from homeserver.core.events import Event
from homeserver.core.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion

State = dict[tuple[str, str], Event]


class Room:
    """Builds events of one room; ``state`` follows the events added in order."""

    def __init__(self, version: str | RoomVersion = "10", creator: str = "@creator:a.example", *, create_content: dict | None = None) -> None:
        self.version = KNOWN_ROOM_VERSIONS[version] if isinstance(version, str) else version
        self.creator = creator
        self._ts = 1_000
        self._depth = 0
        self.events: dict[str, Event] = {}
        self.state: State = {}
        v12 = self.version.auth.room_create_event_id_as_room_id
        self.room_id = "!create" if v12 else "!room:a.example"
        content = dict(create_content or {})
        if not self.version.auth.use_room_create_sender:
            content.setdefault("creator", creator)
        content.setdefault("room_version", self.version.identifier)
        self.create = self.event("create", "m.room.create", creator, content, state_key="", prev=[])

    def event(
        self,
        name: str,
        event_type: str,
        sender: str,
        content: dict[str, Any] | None = None,
        *,
        state_key: str | None = None,
        prev: Iterable[str] | None = None,
        auth: Iterable[str] | None = None,
        apply: bool = True,
        ts: int | None = None,
        **extra: Any,
    ) -> Event:
        """Add an event; ``prev``/``auth`` are names (default: last event / current auth state)."""
        self._ts += 1
        self._depth += 1
        event_id = f"${name}"
        pdu: dict[str, Any] = {
            "type": event_type,
            "sender": sender,
            "content": content or {},
            "origin_server_ts": self._ts if ts is None else ts,
            "depth": self._depth,
            **extra,
        }
        is_v12_create = event_type == "m.room.create" and self.version.auth.room_create_event_id_as_room_id
        if not is_v12_create:
            pdu.setdefault("room_id", self.room_id)
        if state_key is not None:
            pdu["state_key"] = state_key
        if prev is None:
            prev = [list(self.events)[-1]] if self.events else []
        else:
            prev = [p if p.startswith("$") else f"${p}" for p in prev]
        if auth is None:
            auth = [e.event_id for key, e in self.state.items()
                    if key[0] in ("m.room.create", "m.room.power_levels", "m.room.join_rules")
                    or key == ("m.room.member", sender)]
            if self.version.auth.room_create_event_id_as_room_id:
                auth = [a for a in auth if a != "$create"]
        else:
            auth = [a if a.startswith("$") else f"${a}" for a in auth]
        if self.version.event_format.reference_pairs:
            pdu["prev_events"] = [[p, {}] for p in prev]
            pdu["auth_events"] = [[a, {}] for a in auth]
            pdu["event_id"] = event_id
        else:
            pdu["prev_events"] = list(prev)
            pdu["auth_events"] = list(auth)
        event = Event(pdu, self.version, event_id=event_id)
        self.events[event_id] = event
        if apply and state_key is not None:
            self.state[(event_type, state_key)] = event
        return event

    # -- shortcuts ------------------------------------------------------------------

    def member(self, name: str, user: str, membership: str, *, sender: str | None = None, apply: bool = True, **content: Any) -> Event:
        return self.event(name, "m.room.member", sender or user, {"membership": membership, **content}, state_key=user, apply=apply)

    def power_levels(self, name: str, users: dict[str, int] | None = None, *, sender: str | None = None, apply: bool = True, **levels: Any) -> Event:
        content = {"users": users if users is not None else self.default_users(), **levels}
        return self.event(name, "m.room.power_levels", sender or self.creator, content, state_key="", apply=apply)

    def join_rules(self, name: str, rule: str, *, sender: str | None = None, **content: Any) -> Event:
        return self.event(name, "m.room.join_rules", sender or self.creator, {"join_rule": rule, **content}, state_key="")

    def default_users(self) -> dict[str, int]:
        if self.version.auth.explicitly_privilege_room_creators:
            return {}
        return {self.creator: 100}

    def setup(self, *, join_rule: str = "invite", members: dict[str, str] | None = None, users: dict[str, int] | None = None) -> "Room":
        """Creator joins, power levels, join rules, then each ``user: membership``."""
        self.member("creator_join", self.creator, "join")
        self.power_levels("pl", {**self.default_users(), **(users or {})})
        self.join_rules("jr", join_rule)
        for i, (user, membership) in enumerate((members or {}).items()):
            sender = self.creator if membership in ("invite", "ban") else user
            self.member(f"m{i}", user, membership, sender=sender)
        return self
