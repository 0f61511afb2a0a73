"""Who started or stopped sharing a room with a user between two positions of the
events stream: what a client learns through device-list tracking (``device_lists``
in ``/sync`` and ``/keys/changes``) and through presence in ``/sync``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from homeserver.services.notifier import Notifier
from storage.rooms import MembershipChange, RoomStore


@dataclass(frozen=True)
class SharingChanges:
    #: Users who joined a room the user is in, and the members of rooms the user joined.
    joined: frozenset[str]
    #: Users who left such a room, and the members of rooms the user left (they may
    #: still share another room with the user).
    departed: frozenset[str]


async def sharing_changes(
    rooms: RoomStore,
    notifier: Notifier,
    user_id: str,
    since: int,
    up_to: int,
    *,
    joined_rooms: Iterable[str] | None = None,
    own_changes: Iterable[MembershipChange] | None = None,
) -> SharingChanges:
    """Membership changes after ``since`` up to ``up_to`` that concern whom ``user_id``
    shares rooms with. ``joined_rooms`` and ``own_changes`` (the user's membership
    changes in that span) are read when not given."""
    joined: set[str] = set()
    departed: set[str] = set()
    if since >= up_to:
        return SharingChanges(frozenset(), frozenset())
    if joined_rooms is None:
        joined_rooms = await rooms.rooms_for_user(user_id)
    if own_changes is None:
        own_changes = await rooms.membership_changes_since(user_id, since, up_to)
    for change in own_changes:
        members = await rooms.members(change.room_id)
        if change.membership == "join":
            joined.update(members)
        elif change.membership in ("leave", "ban"):
            departed.update(members)
    changed_rooms = notifier.rooms_with_membership_changes_since(joined_rooms, since)
    others = await rooms.membership_changes_in_rooms(
        sorted(changed_rooms if changed_rooms is not None else joined_rooms), since, up_to
    )
    for change in others:
        if change.user_id == user_id:
            continue
        if change.membership == "join":
            joined.add(change.user_id)
        elif change.membership in ("leave", "ban"):
            departed.add(change.user_id)
    return SharingChanges(frozenset(joined), frozenset(departed))
