"""Who may see which events of a room (spec: Client-Server API, "History
visibility"), judged by the room state at each event, and the users a user
ignores (spec: "Ignoring users").

The events of a user erased on deactivation are served redacted to anyone
who could not see them before the erasure: only users joined when an event was
sent, or who had joined the room before the erasure, still see it whole."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from homeserver.core.events import Event
from homeserver.core.redaction import redact
from homeserver.core.visibility import can_see_event
from storage.account_data import AccountDataStore
from storage.accounts import AccountStore
from storage.events import EventStore, StoredEvent
from storage.rooms import RoomStore
from storage.state import StateStore


class EventVisibility:
    def __init__(
        self, *, events: EventStore, state: StateStore, rooms: RoomStore, account_data: AccountDataStore,
        accounts: AccountStore,
    ) -> None:
        self._accounts = accounts
        self._events = events
        self._state = state
        self._rooms = rooms
        self._account_data = account_data

    async def ignored_users(self, user_id: str) -> set[str]:
        """Users this user ignores (``m.ignored_user_list`` account data)."""
        content = await self._account_data.get(user_id, "", "m.ignored_user_list") or {}
        ignored = content.get("ignored_users")
        return set(ignored) if isinstance(ignored, dict) else set()

    async def filter_visible(
        self,
        user_id: str,
        items: Sequence[StoredEvent],
        *,
        memberships: Mapping[str, tuple[str, str, int]] | None = None,
        ignored: set[str] | None = None,
        drop_erased: bool = False,
    ) -> list[StoredEvent]:
        """The events the user may see, judged by the state at each event (an
        ``m.room.history_visibility`` event by the setting before or after it);
        messages from ignored users are dropped (their state events are kept).
        Erased users' events the user could not see before come redacted (or, with
        ``drop_erased``, not at all: for search, whose hits would betray them).
        ``memberships`` and ``ignored`` may be passed when the caller has them."""
        if not items:
            return []
        if ignored is None:
            ignored = await self.ignored_users(user_id)
        if ignored:
            items = [i for i in items if i.event.is_state or i.event.sender not in ignored]
        groups = await self._state.get_event_state_groups([i.event_id for i in items])
        current = memberships if memberships is not None else await self._rooms.current_memberships_of_user(user_id)
        lookups: dict[int, tuple[str | None, str | None]] = {}
        for group in set(groups.values()):
            state = await self._state.get_state(group)
            lookups[group] = (state.get(("m.room.member", user_id)), state.get(("m.room.history_visibility", "")))
        changes = {
            i.event_id: i.replaces_state for i in items
            if i.event.type == "m.room.history_visibility" and i.event.state_key == ""
        }
        needed = {eid for pair in lookups.values() for eid in pair if eid} | {e for e in changes.values() if e}
        related = await self._events.get_events(needed)

        def setting(event_id: str | None) -> str | None:
            hv = related.get(event_id) if event_id else None
            return hv.event.content.get("history_visibility") if hv else None

        joined_at = await self._last_joins(user_id, {i.event.room_id for i in items}, current)
        erased = await self._accounts.erased_users()
        first_joins: dict[str, int | None] = {}
        visible = []
        for item in items:
            event = item.event
            group = groups.get(item.event_id)
            member_id, hv_id = lookups.get(group, (None, None)) if group is not None else (None, None)
            member = related.get(member_id) if member_id else None
            settings = [setting(hv_id)]
            if item.event_id in changes:
                settings.append(setting(changes[item.event_id]))  # the setting it replaced
            if any(
                can_see_event(
                    history_visibility=visibility,
                    membership_at_event=member.event.membership if member else None,
                    current_membership=current.get(event.room_id, (None,))[0],
                    is_own_membership_event=event.type == "m.room.member" and event.state_key == user_id,
                    joined_later=joined_at.get(event.room_id, item.stream_ordering) > item.stream_ordering,
                )
                for visibility in settings
            ):
                if event.sender in erased and not (member is not None and member.event.membership == "join"):
                    if event.room_id not in first_joins:
                        first_joins[event.room_id] = await self._rooms.first_join(event.room_id, user_id)
                    first = first_joins[event.room_id]
                    if first is not None and first <= erased[event.sender]:  # joined before the erasure
                        visible.append(item)
                    elif not drop_erased:
                        visible.append(_redacted(item))
                    continue
                visible.append(item)
        return visible

    async def _last_joins(
        self, user_id: str, room_ids: set[str], current: Mapping[str, tuple[str, str, int]]
    ) -> dict[str, int]:
        """When the user last joined each of the rooms they are no longer joined to."""
        joins: dict[str, int] = {}
        for room_id in room_ids:
            if room_id in current and current[room_id][0] != "join":
                span = await self._rooms.last_join_span(room_id, user_id)
                if span is not None:
                    joins[room_id] = span[0]
        return joins


def _redacted(item: StoredEvent) -> StoredEvent:
    version = item.event.room_version
    return dataclasses.replace(item, event=Event(redact(item.event.pdu(), version), version, event_id=item.event_id))
