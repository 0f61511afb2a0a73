"""The key directory: device keys, one-time and fallback keys, and who may see what.

Spec: Client-Server API, "Key management API" (``/keys/upload``, ``/keys/query``,
``/keys/claim``, and the Server-Server API's ``/user/keys/*`` that other
servers ask for their users). Keys of users on other servers come from
their cached device lists (:mod:`remote_device_lists`) or are asked of their
servers; a server that cannot answer is reported under ``failures``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from homeserver.core.e2e_keys import InvalidKey, check_device_keys, check_one_time_keys, public_key_of
from homeserver.core.identifiers import get_domain_from_id, is_valid_user_id
from homeserver.errors import MatrixError
from homeserver.services.auth import Requester
from homeserver.services.e2ee.device_lists import DeviceListService
from homeserver.services.e2ee.local_keys import LocalKeys, UserKeys, with_signatures
from homeserver.services.e2ee.remote_device_lists import RemoteDeviceLists
from homeserver.services.ports import FederationQueries
from storage.database import Database
from storage.e2e_keys import KeyStore
from storage.remote_device_lists import RemoteDeviceList


class KeyService:
    def __init__(
        self,
        db: Database,
        keys: KeyStore,
        local_keys: LocalKeys,
        device_lists: DeviceListService,
        remote_lists: RemoteDeviceLists,
        federation: FederationQueries,
        server_name: str,
    ) -> None:
        self._db = db
        self._keys = keys
        self._local_keys = local_keys
        self._device_lists = device_lists
        self._remote_lists = remote_lists
        self._federation = federation
        self._server_name = server_name

    def _is_local(self, user_id: str) -> bool:
        return get_domain_from_id(user_id) == self._server_name

    async def upload(self, requester: Requester, body: Mapping[str, Any]) -> dict[str, int]:
        """``/keys/upload``: store the device's keys; return its one-time key counts."""
        user_id, device_id = requester.user_id, requester.device_id
        try:
            device_keys = body.get("device_keys")
            if device_keys is not None:
                check_device_keys(device_keys, user_id, device_id)
                device_keys = {k: v for k, v in device_keys.items() if k != "unsigned"}
            one_time = check_one_time_keys(_or_empty(body.get("one_time_keys")), "one_time_keys")
            fallback = check_one_time_keys(_or_empty(body.get("fallback_keys")), "fallback_keys")
        except InvalidKey as e:
            raise MatrixError("M_INVALID_PARAM", str(e)) from None
        if len({algorithm for algorithm, _ in fallback}) != len(fallback):
            raise MatrixError("M_INVALID_PARAM", "At most one fallback key per algorithm")
        async with self._db.transaction("upload_keys"):
            changed = False
            if device_keys is not None:
                stored = await self._keys.get_device_keys(user_id, device_id)
                if stored != device_keys:
                    await self._keys.set_device_keys(user_id, device_id, device_keys)
                    changed = True
            existing = await self._keys.one_time_keys(user_id, device_id, list(one_time))
            for key, value in existing.items():
                if value != one_time[key]:
                    raise MatrixError(
                        "M_INVALID_PARAM", f"One-time key {key[0]}:{key[1]} already exists with different content"
                    )
            await self._keys.add_one_time_keys(
                user_id, device_id, {k: v for k, v in one_time.items() if k not in existing}
            )
            for (algorithm, key_id), value in fallback.items():
                await self._keys.set_fallback_key(user_id, device_id, algorithm, key_id, value)
            if changed:
                await self._device_lists.device_changed(user_id, device_id)
            return await self._keys.count_one_time_keys(user_id, device_id)

    async def query(self, viewer: str | None, wanted: Mapping[str, list[str]]) -> dict[str, Any]:
        """``/keys/query``: device and cross-signing keys, with the signatures ``viewer`` may see.

        ``viewer`` is the asking user, or ``None`` for another server asking for
        its users (see :mod:`local_keys` for who sees what). Keys of users on
        other servers come from the cached device lists of those sharing a room
        with a local user (fetched when missing); the others' servers are
        asked, all at once. A signature ``viewer`` made on a remote user's
        master key is kept here and merged in.
        """
        result: dict[str, Any] = {
            "device_keys": {}, "master_keys": {}, "self_signing_keys": {}, "user_signing_keys": {}, "failures": {},
        }
        remote_users = [u for u in wanted if not self._is_local(u)]
        for user_id in wanted:
            if self._is_local(user_id):
                _fill(result, user_id, await self._local_keys.describe(viewer, user_id, list(wanted[user_id])))
        cached, unavailable = await self._remote_lists.get(remote_users)
        for server, error in unavailable.items():
            result["failures"][server] = _failure(error)
        for user_id, device_list in cached.items():
            _fill(result, user_id, _remote_keys(device_list, list(wanted[user_id])))
        remote: dict[str, dict[str, list[str]]] = {}
        for user_id in remote_users:
            server = get_domain_from_id(user_id)
            if user_id not in cached and server not in unavailable:
                remote.setdefault(server, {})[user_id] = list(wanted[user_id])
        answers = await asyncio.gather(
            *(self._federation.query_keys(server, users) for server, users in remote.items()), return_exceptions=True
        )
        for server, answer in zip(remote, answers):
            if isinstance(answer, BaseException):
                result["failures"][server] = _failure(answer)
                continue
            for section in ("device_keys", "master_keys", "self_signing_keys"):
                found = answer.get(section) if isinstance(answer, Mapping) else None
                if isinstance(found, Mapping):
                    # A server answers for its own users only.
                    result[section].update({u: k for u, k in found.items() if u in remote[server]})
        signed = [u for u in remote_users if _has_public_key(result["master_keys"].get(u))]
        if viewer is not None and signed:
            by_viewer = await self._keys.signatures_by(viewer, signed)
            for user_id in signed:
                master = result["master_keys"][user_id]
                result["master_keys"][user_id] = with_signatures(
                    master, by_viewer, public_key_of(master), lambda s, u=user_id: s.target_user_id == u
                )
        return result

    async def user_devices(self, user_id: str) -> dict[str, Any]:
        """Federation ``/user/devices/{userId}``: a local user's devices and cross-signing keys."""
        if not is_valid_user_id(user_id) or not self._is_local(user_id):
            raise MatrixError("M_NOT_FOUND", "Not a user of this server", status=404)
        keys = await self._local_keys.describe(None, user_id)
        body: dict[str, Any] = {
            "user_id": user_id,
            "stream_id": await self._device_lists.latest_device_update(user_id),
            "devices": [
                {"device_id": device_id, "keys": {k: v for k, v in device.items() if k != "unsigned"}}
                | ({"device_display_name": device["unsigned"]["device_display_name"]} if "unsigned" in device else {})
                for device_id, device in keys.devices.items()
            ],
        }
        if keys.master is not None:
            body["master_key"] = keys.master
        if keys.self_signing is not None:
            body["self_signing_key"] = keys.self_signing
        return body

    async def claim(self, wanted: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
        """``/keys/claim``: one key per requested device, each handed out at most once.

        A device's oldest one-time key goes first; when none is left, its
        fallback key (which stays, marked used). Keys of remote users are
        claimed from their servers.
        """
        claimed: dict[str, dict[str, dict[str, Any]]] = {}
        failures: dict[str, Any] = {}
        remote: dict[str, dict[str, Mapping[str, str]]] = {}
        for user_id, devices in wanted.items():
            if not self._is_local(user_id):
                remote.setdefault(get_domain_from_id(user_id), {})[user_id] = devices
                continue
            for device_id, algorithm in devices.items():
                async with self._db.transaction("claim_key"):
                    key = await self._keys.claim_one_time_key(user_id, device_id, algorithm)
                    if key is None:
                        key = await self._keys.use_fallback_key(user_id, device_id, algorithm)
                if key is not None:
                    key_id, value = key
                    claimed.setdefault(user_id, {}).setdefault(device_id, {})[f"{algorithm}:{key_id}"] = value
        answers = await asyncio.gather(
            *(self._federation.claim_keys(server, users) for server, users in remote.items()), return_exceptions=True
        )
        for server, answer in zip(remote, answers):
            found = answer.get("one_time_keys") if isinstance(answer, Mapping) else None
            if isinstance(answer, BaseException) or not isinstance(found, Mapping):
                failures[server] = _failure(answer if isinstance(answer, BaseException) else None)
                continue
            claimed.update({u: k for u, k in found.items() if u in remote[server] and isinstance(k, dict)})
        return {"one_time_keys": claimed, "failures": failures}


def _failure(error: BaseException | None) -> dict[str, Any]:
    """What ``failures`` says about a server that could not answer."""
    return {"status": 503, "message": f"The server could not be reached: {error}" if error else "Invalid answer"}


def _or_empty(value: Any) -> Any:
    return {} if value is None else value


def _has_public_key(key: Any) -> bool:
    """Whether another server's key object has a key to hang signatures on."""
    return isinstance(key, Mapping) and isinstance(key.get("keys"), Mapping) and bool(key["keys"])


def _fill(result: dict[str, Any], user_id: str, keys: UserKeys) -> None:
    """Put one user's keys into a ``/keys/query`` answer."""
    result["device_keys"][user_id] = keys.devices
    for section, key in (("master_keys", keys.master), ("self_signing_keys", keys.self_signing),
                         ("user_signing_keys", keys.user_signing)):
        if key is not None:
            result[section][user_id] = key


def _remote_keys(device_list: RemoteDeviceList, device_ids: list[str]) -> UserKeys:
    """A cached remote device list as ``/keys/query`` shows it (devices without keys left out)."""
    devices: dict[str, dict[str, Any]] = {}
    for device in device_list.devices.values():
        if device.keys is None or (device_ids and device.device_id not in device_ids):
            continue
        keys = dict(device.keys)
        if device.display_name is not None:
            keys["unsigned"] = {"device_display_name": device.display_name}
        devices[device.device_id] = keys
    return UserKeys(devices, device_list.master_key, device_list.self_signing_key, None)
