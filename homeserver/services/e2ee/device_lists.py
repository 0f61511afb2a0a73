"""Device-list tracking (spec: "Tracking the device list for a user").

Design note: whenever a user's devices or keys change, a row goes on the
``device_lists`` stream and everyone sharing a room with the user is woken.
A client learns whose device lists to refetch from ``device_lists.changed``
in ``/sync`` (and ``/keys/changes``): users whose lists changed and who share
a room with it, plus users it newly shares a room with; ``left`` names users
it no longer shares any room with. Like Synapse, every shared room counts,
encrypted or not: the spec allows the simpler rule, and a room may become
encrypted at any time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from homeserver.core.identifiers import get_domain_from_id, is_valid_user_id
from homeserver.services.notifier import Notifier
from homeserver.services.ports import OutboundFederation
from homeserver.services.sync_token import SyncToken
from storage.database import Database
from storage.device_lists import DEVICE_LISTS_STREAM, DeviceListStore
from storage.rooms import MembershipChange, RoomStore


@dataclass(frozen=True)
class DeviceListDelta:
    changed: list[str]
    left: list[str]


class DeviceListService:
    def __init__(
        self,
        db: Database,
        store: DeviceListStore,
        rooms: RoomStore,
        notifier: Notifier,
        federation: OutboundFederation,
        server_name: str,
    ) -> None:
        self._db = db
        self._store = store
        self._rooms = rooms
        self._notifier = notifier
        self._federation = federation
        self._server_name = server_name

    async def devices_changed(self, user_id: str, *, device_id: str = "", deleted: bool = False) -> None:
        """Record that ``user_id``'s devices or keys changed (in the caller's transaction, if any).

        For a local user the servers sharing a room with them are told too
        (``m.device_list_update``), so their users refetch the keys.
        """
        audience = await self._rooms.users_sharing_rooms(user_id)
        servers = {get_domain_from_id(u) for u in audience} - {self._server_name}
        tell_servers = bool(servers) and get_domain_from_id(user_id) == self._server_name
        async with self._db.transaction("device_list_change"):
            previous = await self._store.latest_position(user_id) if tell_servers else 0
            position = await self._store.record_change(user_id)
            self._db.after_commit(lambda: self._notifier.notify(DEVICE_LISTS_STREAM, position, audience))
            if tell_servers:
                update: dict[str, Any] = {
                    "user_id": user_id, "device_id": device_id, "stream_id": position,
                    "prev_id": [previous] if previous else [],
                }
                if deleted:
                    update["deleted"] = True
                await self._federation.enqueue_edu("m.device_list_update", update, servers)
                self._db.after_commit(self._federation.wake)

    async def receive_remote(self, origin: str, content: Any) -> None:
        """``m.device_list_update`` or ``m.signing_key_update`` from ``origin``: one of its
        users' devices or keys changed, so local users sharing a room refetch them."""
        user_id = content.get("user_id") if isinstance(content, dict) else None
        if isinstance(user_id, str) and is_valid_user_id(user_id) and get_domain_from_id(user_id) == origin:
            await self.devices_changed(user_id)

    async def latest_position(self, user_id: str) -> int:
        """The device_lists position of the user's latest change (0 if none)."""
        return await self._store.latest_position(user_id)

    async def delta(
        self,
        user_id: str,
        since: SyncToken,
        now: SyncToken,
        *,
        joined_rooms: Iterable[str] | None = None,
        own_changes: Iterable[MembershipChange] | None = None,
    ) -> DeviceListDelta:
        """Whose device lists ``user_id`` should refetch or forget between two tokens.

        ``joined_rooms`` and ``own_changes`` (the user's membership changes in
        that span) are read when not given; sync passes what it has already read.
        """
        changed: set[str] = set()
        former: set[str] = set()  # users the user may no longer share a room with
        if since.events < now.events:
            if joined_rooms is None:
                joined_rooms = await self._rooms.rooms_for_user(user_id)
            if own_changes is None:
                own_changes = await self._rooms.membership_changes_since(user_id, since.events, now.events)
            for change in own_changes:
                members = await self._rooms.members(change.room_id)
                if change.membership == "join":
                    changed.update(members)
                elif change.membership in ("leave", "ban"):
                    former.update(members)
            rooms = self._notifier.rooms_with_membership_changes_since(joined_rooms, since.events)
            others = await self._rooms.membership_changes_in_rooms(
                sorted(rooms if rooms is not None else joined_rooms), since.events, now.events
            )
            for change in others:
                if change.user_id == user_id:
                    continue
                if change.membership == "join":
                    changed.add(change.user_id)
                elif change.membership in ("leave", "ban"):
                    former.add(change.user_id)
        updated = await self._store.changed_between(since.device_lists, now.device_lists)
        if not (changed or former or updated):
            return DeviceListDelta([], [])
        sharing = await self._rooms.users_sharing_rooms(user_id)
        left = former - sharing
        changed = ((changed | updated) & sharing) - left
        return DeviceListDelta(sorted(changed), sorted(left))
