"""Device-list tracking (spec: "Tracking the device list for a user", and the
Server-Server API's "Device Management").

Design note: whenever a user's devices or keys change, a row goes on the
``device_lists`` stream and everyone sharing a room with the user is woken.
A client learns whose device lists to refetch from ``device_lists.changed``
in ``/sync`` (and ``/keys/changes``): users whose lists changed and who share
a room with it, plus users it newly shares a room with; ``left`` names users
it no longer shares any room with. Like Synapse, every shared room counts,
encrypted or not: the spec allows the simpler rule, and a room may become
encrypted at any time.

Servers sharing a room with a local user are told of each change in the same
transaction: an ``m.device_list_update`` per device (its keys and name as
``/user/devices`` shows them, the stream position as ``stream_id`` and the
user's previous position as ``prev_id``), an ``m.signing_key_update`` for
cross-signing keys. The same EDUs from other servers update the cached
copies of their users' lists (:mod:`remote_device_lists`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from homeserver.core.identifiers import get_domain_from_id, is_valid_user_id
from homeserver.services.e2ee.local_keys import LocalKeys
from homeserver.services.e2ee.remote_device_lists import RemoteDeviceLists
from homeserver.services.notifier import Notifier
from homeserver.services.ports import OutboundFederation
from homeserver.services.shared_rooms import SharingChanges, sharing_changes
from homeserver.services.sync_token import SyncToken
from storage.database import Database
from storage.device_lists import DEVICE_LISTS_STREAM, DeviceListStore
from storage.rooms import RoomStore


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
        local_keys: LocalKeys,
        remote_lists: RemoteDeviceLists,
        server_name: str,
    ) -> None:
        self._db = db
        self._store = store
        self._rooms = rooms
        self._notifier = notifier
        self._federation = federation
        self._local_keys = local_keys
        self._remote_lists = remote_lists
        self._server_name = server_name

    async def device_changed(self, user_id: str, device_id: str, *, deleted: bool = False) -> None:
        """A local user's device was added, deleted, renamed, or its keys or their
        signatures changed (in the caller's transaction, if any)."""
        await self._device_updates(user_id, [device_id], deleted=deleted)

    async def devices_deleted(self, user_id: str, device_ids: list[str]) -> None:
        """A local user's devices were deleted (in the caller's transaction, if any)."""
        await self._device_updates(user_id, device_ids, deleted=True)

    async def _device_updates(self, user_id: str, device_ids: list[str], *, deleted: bool) -> None:
        audience = await self._rooms.users_sharing_rooms(user_id)
        servers = self._servers_of(user_id, audience)
        async with self._db.transaction("device_list_change"):
            previous = await self._store.latest_device_update(user_id) if servers else 0
            for device_id in device_ids:
                position = await self._record(user_id, audience, device_id)
                if servers:
                    await self._federation.enqueue_edu(
                        "m.device_list_update", await self._update_edu(user_id, device_id, position, previous, deleted),
                        servers,
                    )
                    previous = position
            if servers:
                self._db.after_commit(self._federation.wake)

    async def _update_edu(self, user_id: str, device_id: str, position: int, previous: int, deleted: bool) -> dict[str, Any]:
        """The ``m.device_list_update`` of one device change (its keys as ``/user/devices`` shows them)."""
        update: dict[str, Any] = {
            "user_id": user_id, "device_id": device_id, "stream_id": position,
            "prev_id": [previous] if previous else [],
        }
        if deleted:
            update["deleted"] = True
            return update
        keys = (await self._local_keys.describe(None, user_id, [device_id])).devices.get(device_id)
        if keys is not None:
            name = keys.pop("unsigned", {}).get("device_display_name")
            update["keys"] = keys
            if name is not None:
                update["device_display_name"] = name
        return update

    async def cross_signing_changed(self, user_id: str) -> None:
        """A local user's master or self-signing key, or the signatures on them, changed."""
        audience = await self._rooms.users_sharing_rooms(user_id)
        servers = self._servers_of(user_id, audience)
        async with self._db.transaction("cross_signing_change"):
            await self._record(user_id, audience)
            if not servers:
                return
            keys = await self._local_keys.describe(None, user_id)
            update: dict[str, Any] = {"user_id": user_id}
            if keys.master is not None:
                update["master_key"] = keys.master
            if keys.self_signing is not None:
                update["self_signing_key"] = keys.self_signing
            await self._federation.enqueue_edu("m.signing_key_update", update, servers)
            self._db.after_commit(self._federation.wake)

    async def signatures_changed(self, user_id: str) -> None:
        """Someone here signed ``user_id``'s master key (a signature only they see): local
        users refetch the keys; other servers have nothing to learn."""
        await self._record(user_id)

    async def forget_unshared_remote_lists(self) -> None:
        """Housekeeping: other servers' users sharing no room with ours lose their cached lists."""
        await self._remote_lists.forget_unshared()

    async def receive_device_list_update(self, origin: str, content: Any) -> None:
        """``m.device_list_update`` from ``origin``: update the cached list; local users
        sharing a room with that user refetch the keys."""
        user_id = self._remote_user(origin, content)
        if user_id is not None:
            await self._remote_lists.apply_device_update(user_id, content)
            await self._record(user_id)

    async def receive_signing_key_update(self, origin: str, content: Any) -> None:
        """``m.signing_key_update`` from ``origin``: as a device update, for cross-signing keys."""
        user_id = self._remote_user(origin, content)
        if user_id is not None:
            await self._remote_lists.apply_signing_key_update(user_id, content)
            await self._record(user_id)

    @staticmethod
    def _remote_user(origin: str, content: Any) -> str | None:
        """The user an EDU is about, if it is one of ``origin``'s (a server speaks only for its own)."""
        user_id = content.get("user_id") if isinstance(content, dict) else None
        if isinstance(user_id, str) and is_valid_user_id(user_id) and get_domain_from_id(user_id) == origin:
            return user_id
        return None

    def _servers_of(self, user_id: str, audience: set[str]) -> set[str]:
        """The other servers to tell about a change of ``user_id``'s (only ours are told)."""
        if get_domain_from_id(user_id) != self._server_name:
            return set()
        return {get_domain_from_id(u) for u in audience} - {self._server_name}

    async def _record(self, user_id: str, audience: set[str] | None = None, device_id: str | None = None) -> int:
        """Put the change on the stream and wake ``audience`` (everyone sharing a room with
        the user; read when not given)."""
        if audience is None:
            audience = await self._rooms.users_sharing_rooms(user_id)
        async with self._db.transaction("device_list_change"):
            position = await self._store.record_change(user_id, device_id)
            self._db.after_commit(lambda: self._notifier.notify(DEVICE_LISTS_STREAM, position, audience))
        return position

    async def latest_device_update(self, user_id: str) -> int:
        """The ``stream_id`` of a local user's latest device update (what ``/user/devices`` says)."""
        return await self._store.latest_device_update(user_id)

    async def delta(
        self, user_id: str, since: SyncToken, now: SyncToken, *, sharing: SharingChanges | None = None
    ) -> DeviceListDelta:
        """Whose device lists ``user_id`` should refetch or forget between two tokens.

        ``sharing`` (who started or stopped sharing a room with the user in that
        span) is read when not given; sync passes what it has already read.
        """
        if sharing is None:
            sharing = await sharing_changes(self._rooms, self._notifier, user_id, since.events, now.events)
        changed = set(sharing.joined)
        former = set(sharing.departed)  # users the user may no longer share a room with
        updated = await self._store.changed_between(since.device_lists, now.device_lists)
        if not (changed or former or updated):
            return DeviceListDelta([], [])
        now_sharing = await self._rooms.users_sharing_rooms(user_id)
        left = former - now_sharing
        changed = ((changed | updated) & now_sharing) - left
        return DeviceListDelta(sorted(changed), sorted(left))
