"""Event filters (spec: Client-Server API, "Filtering"): parsing with clear
errors, and matching events, for ``/sync``, ``/messages`` and friends."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from homeserver.core.glob import compile_glob, matches
from homeserver.core.identifiers import is_valid_room_id, is_valid_user_id
from homeserver.errors import MatrixError
from homeserver.parsing import parse_int, parse_json
from storage.account_data import FilterStore
from storage.events import EventSelection

#: Filters kept parsed (users x filters in use).
_RESOLVED_CACHE_SIZE = 10_000


@dataclass(frozen=True)
class EventFilter:
    limit: int | None = None
    types: tuple[str, ...] | None = None
    not_types: tuple[str, ...] = ()
    senders: tuple[str, ...] | None = None
    not_senders: tuple[str, ...] = ()
    # Room event filter fields (ignored where they do not apply).
    rooms: tuple[str, ...] | None = None
    not_rooms: tuple[str, ...] = ()
    contains_url: bool | None = None
    lazy_load_members: bool = False
    include_redundant_members: bool = False
    unread_thread_notifications: bool = False

    @property
    def restricts_events(self) -> bool:
        """Whether the filter can drop an event of a room it includes."""
        return (
            self.types is not None or bool(self.not_types) or self.senders is not None
            or bool(self.not_senders) or self.contains_url is not None
        )

    def selection(self) -> EventSelection | None:
        """The part of the filter a database query can apply (types and senders)."""
        if self.types is None and not self.not_types and self.senders is None and not self.not_senders:
            return None
        return EventSelection(self.types, self.not_types, self.senders, self.not_senders)

    def includes_room(self, room_id: str) -> bool:
        return room_id not in self.not_rooms and (self.rooms is None or room_id in self.rooms)

    def matches(self, event_type: str, sender: str | None = None, room_id: str | None = None,
                content: dict[str, Any] | None = None) -> bool:
        """Whether an event passes this filter (``*`` wildcards in type patterns)."""
        if any(_type_match(p, event_type) for p in self.not_types):
            return False
        if self.types is not None and not any(_type_match(p, event_type) for p in self.types):
            return False
        if sender is not None:
            if sender in self.not_senders:
                return False
            if self.senders is not None and sender not in self.senders:
                return False
        if room_id is not None:
            if room_id in self.not_rooms:
                return False
            if self.rooms is not None and room_id not in self.rooms:
                return False
        if self.contains_url is not None and content is not None:
            has_url = isinstance(content.get("url"), str)
            if has_url != self.contains_url:
                return False
        return True


@dataclass(frozen=True)
class RoomFilter:
    rooms: tuple[str, ...] | None = None
    not_rooms: tuple[str, ...] = ()
    include_leave: bool = False
    timeline: EventFilter = field(default_factory=EventFilter)
    state: EventFilter = field(default_factory=EventFilter)
    ephemeral: EventFilter = field(default_factory=EventFilter)
    account_data: EventFilter = field(default_factory=EventFilter)

    def includes_room(self, room_id: str) -> bool:
        if room_id in self.not_rooms:
            return False
        return self.rooms is None or room_id in self.rooms


@dataclass(frozen=True)
class Filter:
    event_fields: tuple[str, ...] | None = None
    event_format: str = "client"
    presence: EventFilter = field(default_factory=EventFilter)
    account_data: EventFilter = field(default_factory=EventFilter)
    room: RoomFilter = field(default_factory=RoomFilter)


def _type_match(pattern: str, event_type: str) -> bool:
    return pattern == event_type or ("*" in pattern and matches(compile_glob(pattern, wildcards="*", fold_case=False), event_type))


def _strings(data: dict[str, Any], key: str, where: str) -> tuple[str, ...] | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise MatrixError("M_BAD_JSON", f"{where}{key} must be an array of strings")
    return tuple(value)


def _ids(data: dict[str, Any], key: str, where: str) -> tuple[str, ...] | None:
    """An array of user IDs (``senders``...) or room IDs (``rooms``...)."""
    values = _strings(data, key, where)
    valid, kind = (is_valid_user_id, "user") if key.endswith("senders") else (is_valid_room_id, "room")
    for value in values or ():
        if not valid(value):
            raise MatrixError("M_BAD_JSON", f"{where}{key}: {value!r} is not a {kind} ID")
    return values


def _bool(data: dict[str, Any], key: str, where: str, default: bool | None) -> Any:
    value = data.get(key, default)
    if value is not None and not isinstance(value, bool):
        raise MatrixError("M_BAD_JSON", f"{where}{key} must be a boolean")
    return value


def parse_event_filter(data: Any, where: str) -> EventFilter:
    if data is None:
        return EventFilter()
    if not isinstance(data, dict):
        raise MatrixError("M_BAD_JSON", f"{where or 'filter'} must be an object")
    limit = data.get("limit")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise MatrixError("M_BAD_JSON", f"{where}limit must be a non-negative integer")
    return EventFilter(
        limit=limit,
        types=_strings(data, "types", where),
        not_types=_strings(data, "not_types", where) or (),
        senders=_ids(data, "senders", where),
        not_senders=_ids(data, "not_senders", where) or (),
        rooms=_ids(data, "rooms", where),
        not_rooms=_ids(data, "not_rooms", where) or (),
        contains_url=_bool(data, "contains_url", where, None),
        lazy_load_members=_bool(data, "lazy_load_members", where, False),
        include_redundant_members=_bool(data, "include_redundant_members", where, False),
        unread_thread_notifications=_bool(data, "unread_thread_notifications", where, False),
    )


def parse_filter(data: Any) -> Filter:
    """Validate a filter definition; wrong types are ``M_BAD_JSON`` naming the field."""
    if not isinstance(data, dict):
        raise MatrixError("M_BAD_JSON", "A filter must be a JSON object")
    event_format = data.get("event_format", "client")
    if event_format not in ("client", "federation"):
        raise MatrixError("M_BAD_JSON", "event_format must be 'client' or 'federation'")
    room = data.get("room")
    room = {} if room is None else room
    if not isinstance(room, dict):
        raise MatrixError("M_BAD_JSON", "room must be an object")
    return Filter(
        event_fields=_strings(data, "event_fields", ""),
        event_format=event_format,
        presence=parse_event_filter(data.get("presence"), "presence."),
        account_data=parse_event_filter(data.get("account_data"), "account_data."),
        room=RoomFilter(
            rooms=_ids(room, "rooms", "room."),
            not_rooms=_ids(room, "not_rooms", "room.") or (),
            include_leave=bool(_bool(room, "include_leave", "room.", False)),
            timeline=parse_event_filter(room.get("timeline"), "room.timeline."),
            state=parse_event_filter(room.get("state"), "room.state."),
            ephemeral=parse_event_filter(room.get("ephemeral"), "room.ephemeral."),
            account_data=parse_event_filter(room.get("account_data"), "room.account_data."),
        ),
    )


class FilterService:
    def __init__(self, store: FilterStore) -> None:
        self._store = store
        #: (user, filter parameter) -> parsed filter: a client sends the same one with
        #: every sync, and a stored filter never changes.
        self._resolved: OrderedDict[tuple[str, str], Filter] = OrderedDict()

    async def create(self, requester_id: str, user_id: str, definition: dict[str, Any]) -> str:
        if requester_id != user_id:
            raise MatrixError("M_FORBIDDEN", "You cannot create filters for another user")
        parse_filter(definition)
        return str(await self._store.add(user_id, definition))

    async def get_definition(self, requester_id: str, user_id: str, filter_id: str) -> dict[str, Any]:
        if requester_id != user_id:
            raise MatrixError("M_FORBIDDEN", "You cannot read another user's filters")
        definition = await self._load(user_id, filter_id)
        if definition is None:
            raise MatrixError("M_NOT_FOUND", "No such filter")
        return definition

    async def resolve(self, user_id: str, value: str | None) -> Filter:
        """A ``filter`` query parameter: a filter ID or an inline JSON definition."""
        if value is None:
            return Filter()
        key = (user_id, value)
        parsed = self._resolved.get(key)
        if parsed is None:
            parsed = await self._parse(user_id, value)
            self._resolved[key] = parsed
            if len(self._resolved) > _RESOLVED_CACHE_SIZE:
                self._resolved.popitem(last=False)
        else:
            self._resolved.move_to_end(key)
        return parsed

    async def _parse(self, user_id: str, value: str) -> Filter:
        if value.lstrip().startswith("{"):
            return parse_filter(parse_json(value, "The filter"))
        definition = await self._load(user_id, value)
        if definition is None:
            # The parameter names nothing (Synapse answers the same).
            raise MatrixError("M_INVALID_PARAM", "No such filter")
        return parse_filter(definition)

    async def resolve_event_filter(self, user_id: str, value: str | None) -> EventFilter:
        """The ``filter`` parameter of ``/messages`` and ``/context``: an inline
        RoomEventFilter (or, as Synapse also accepts, a saved filter's room timeline)."""
        if value is None:
            return EventFilter()
        if value.lstrip().startswith("{"):
            return parse_event_filter(parse_json(value, "The filter"), "filter.")
        return (await self.resolve(user_id, value)).room.timeline

    async def _load(self, user_id: str, filter_id: str) -> dict[str, Any] | None:
        """The user's saved filter of this ID; ``None`` when there is none (a
        malformed ID names none either)."""
        try:
            number = parse_int(filter_id, "A filter ID", minimum=0)
        except MatrixError:
            return None
        return await self._store.get(user_id, number)
