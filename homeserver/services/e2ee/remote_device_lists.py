"""Device lists of users on other servers (spec: Server-Server API, "Device Management").

Design note: the first time a local client asks for the keys of a remote user
who shares a room with a user of this server, the user's whole list is
fetched from their server (``/user/devices``: devices, cross-signing keys and
the ``stream_id`` it is at) and cached. Their server then sends an
``m.device_list_update`` EDU per device change, each with its ``stream_id``
and the ``prev_id`` it follows, and ``m.signing_key_update`` EDUs for
cross-signing keys; they are applied to the copy in order. An update that
follows one this server never received (a gap: the EDU was lost, or was sent
while nobody here shared a room with the user) drops the copy, and the next
question fetches it again: that is the resynchronisation the spec asks for.
A copy is trusted only while the user has shared a room with a local user
since it was fetched (updates stop when sharing stops); anything else is
fetched afresh. Keys another server hands over are checked like uploads:
device keys must be signed by their device, the self-signing key by the
master key; what fails is left out, never stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import structlog

from homeserver.core.canonical_json import MAX_SAFE_INTEGER
from homeserver.core.e2e_keys import (
    InvalidKey,
    check_device_keys,
    cross_signing_public_key,
    place_device_list_update,
    public_key_of,
    verify_signed_by,
)
from homeserver.core.identifiers import get_domain_from_id
from homeserver.errors import MatrixError
from homeserver.services.ports import FederationQueries, RemoteUnavailable
from storage.database import Database
from storage.events import EVENTS_STREAM
from storage.remote_device_lists import RemoteDevice, RemoteDeviceList, RemoteDeviceListStore
from storage.streams import current_position

logger = structlog.get_logger(__name__)

#: Lists fetched at the same time for one ``/keys/query``.
MAX_CONCURRENT_FETCHES = 10


class RemoteDeviceLists:
    def __init__(self, db: Database, store: RemoteDeviceListStore, federation: FederationQueries) -> None:
        self._db = db
        self._store = store
        self._federation = federation

    async def get(self, user_ids: list[str]) -> tuple[dict[str, RemoteDeviceList], dict[str, BaseException]]:
        """The device lists of those of ``user_ids`` (users of other servers) who share a
        room with a local user, fetched when not cached; and the servers that could not
        answer. Users sharing no room with ours are left to the caller to ask directly."""
        found = await self._store.current(user_ids)
        missing = [u for u in user_ids if u not in found]
        tracked = sorted(await self._store.shares_room_with_local_user(missing))
        failures: dict[str, BaseException] = {}
        limit = asyncio.Semaphore(MAX_CONCURRENT_FETCHES)

        async def fetch(user_id: str) -> None:
            async with limit:
                try:
                    found[user_id] = await self._fetch(user_id)
                except (RemoteUnavailable, MatrixError) as e:
                    failures[get_domain_from_id(user_id)] = e

        await asyncio.gather(*(fetch(u) for u in tracked))
        return found, failures

    async def _fetch(self, user_id: str) -> RemoteDeviceList:
        """``/user/devices`` of the user's server, checked and cached."""
        # Read before asking: a room shared only from a later position makes the copy stale.
        position = await current_position(self._db, EVENTS_STREAM)
        answer = await self._federation.user_devices(get_domain_from_id(user_id), user_id)
        device_list = parse_user_devices(answer, user_id)
        if device_list is None:
            raise RemoteUnavailable(f"{get_domain_from_id(user_id)} gave a malformed device list for {user_id}")
        await self._store.replace(device_list, position)
        logger.debug("remote_device_list_fetched", user_id=user_id, stream_id=device_list.stream_id)
        return device_list

    async def forget_unshared(self) -> None:
        """Housekeeping: drop the copies of users who share no room with ours any more."""
        await self._store.forget_unshared()

    async def apply_device_update(self, user_id: str, content: Mapping[str, Any]) -> None:
        """Apply an ``m.device_list_update`` about ``user_id`` (whose server sent it) to the
        cached copy; drop the copy when the update shows a gap or cannot be used."""
        stream_id, prev_ids, device_id = content.get("stream_id"), content.get("prev_id") or [], content.get("device_id")
        if not _is_int(stream_id) or not isinstance(prev_ids, list) or not all(_is_int(p) for p in prev_ids):
            await self._store.forget(user_id)
            return
        async with self._db.transaction("remote_device_list_update"):
            cached = await self._store.stream_id(user_id)
            if cached is None:
                return  # not cached: fetched when someone asks
            place = place_device_list_update(cached, stream_id, prev_ids)
            if place == "old":
                return
            device = _device_of_update(user_id, device_id, content) if place == "next" else None
            if device is None:
                logger.info("remote_device_list_resync", user_id=user_id, stream_id=stream_id, cached=cached)
                await self._store.forget(user_id)
                return
            await self._store.update_device(user_id, stream_id, device, deleted=content.get("deleted") is True)

    async def apply_signing_key_update(self, user_id: str, content: Mapping[str, Any]) -> None:
        """Apply an ``m.signing_key_update`` (a new master and/or self-signing key) to the cached copy."""
        async with self._db.transaction("remote_signing_key_update"):
            if await self._store.stream_id(user_id) is None:
                return
            raw_master, raw_self_signing = content.get("master_key"), content.get("self_signing_key")
            master = _cross_signing_key(raw_master, user_id, "master")
            if raw_master is not None and master is None:
                await self._store.forget(user_id)
                return
            signing_master = master or await self._store.master_key(user_id)
            self_signing = _self_signing_key(raw_self_signing, user_id, signing_master) if signing_master else None
            if raw_self_signing is not None and self_signing is None:
                await self._store.forget(user_id)
                return
            if master is not None:
                await self._store.update_cross_signing(user_id, "master", master)
            if self_signing is not None:
                await self._store.update_cross_signing(user_id, "self_signing", self_signing)


def parse_user_devices(answer: Any, user_id: str) -> RemoteDeviceList | None:
    """A ``/user/devices`` answer about ``user_id`` as a device list (``None`` if unusable).

    Devices whose keys are not signed by themselves keep no keys; cross-signing
    keys that are malformed (or a self-signing key the master key did not sign)
    are left out.
    """
    if not isinstance(answer, Mapping) or answer.get("user_id") != user_id or not _is_int(answer.get("stream_id")):
        return None
    raw_devices = answer.get("devices")
    if not isinstance(raw_devices, list):
        return None
    devices: dict[str, RemoteDevice] = {}
    for raw in raw_devices:
        if isinstance(raw, Mapping) and isinstance(raw.get("device_id"), str):
            device = _device_of_update(user_id, raw["device_id"], raw)
            if device is not None:
                devices[device.device_id] = device
    master = _cross_signing_key(answer.get("master_key"), user_id, "master")
    self_signing = _self_signing_key(answer.get("self_signing_key"), user_id, master) if master else None
    return RemoteDeviceList(user_id, answer["stream_id"], devices, master, self_signing)


def _device_of_update(user_id: str, device_id: Any, content: Mapping[str, Any]) -> RemoteDevice | None:
    """The device an update or a ``/user/devices`` entry describes (``None`` if malformed)."""
    if not isinstance(device_id, str) or not device_id:
        return None
    name = content.get("device_display_name")
    keys = content.get("keys")
    if keys is not None:
        try:
            check_device_keys(keys, user_id, device_id)
        except InvalidKey:
            return None
        keys = {k: v for k, v in keys.items() if k != "unsigned"}
    return RemoteDevice(device_id, name if isinstance(name, str) else None, keys)


def _cross_signing_key(key: Any, user_id: str, usage: str) -> dict[str, Any] | None:
    if key is None:
        return None
    try:
        cross_signing_public_key(key, user_id, usage)
    except InvalidKey:
        return None
    return dict(key)


def _self_signing_key(key: Any, user_id: str, master: Mapping[str, Any]) -> dict[str, Any] | None:
    checked = _cross_signing_key(key, user_id, "self_signing")
    if checked is None:
        return None
    master_public = public_key_of(master)
    try:
        verify_signed_by(checked, user_id, f"ed25519:{master_public}", master_public)
    except InvalidKey:
        return None
    return checked


def _is_int(value: Any) -> bool:
    """A stream position another server sent: an integer that fits the database's columns."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_SAFE_INTEGER
