"""The key directory: device keys, one-time and fallback keys, and who may see what.

Spec: Client-Server API, "Key management API" (``/keys/upload``, ``/keys/query``,
``/keys/claim``). Keys of users on other servers need federation; until a
remote server can be asked, it is reported under ``failures``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeserver.core.e2e_keys import InvalidKey, check_device_keys, check_one_time_keys, public_key_of, signatures_of
from homeserver.core.identifiers import get_domain_from_id
from homeserver.errors import MatrixError
from homeserver.services.auth import Requester
from homeserver.services.e2ee.device_lists import DeviceListService
from storage.database import Database
from storage.e2e_keys import KeyStore, Signature

#: What ``failures`` says about a server that cannot be asked (no federation yet).
UNREACHABLE = {"status": 503, "message": "Federation with this server is not available"}


class KeyService:
    def __init__(self, db: Database, keys: KeyStore, device_lists: DeviceListService, server_name: str) -> None:
        self._db = db
        self._keys = keys
        self._device_lists = device_lists
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
                await self._device_lists.devices_changed(user_id)
            return await self._keys.count_one_time_keys(user_id, device_id)

    async def query(self, requester: Requester, wanted: Mapping[str, list[str]]) -> dict[str, Any]:
        """``/keys/query``: device and cross-signing keys, with the signatures the requester may see.

        Everyone sees a user's devices, master and self-signing keys; only the
        user sees their own user-signing key, and a signature one user made on
        another's master key is shown to the signer alone.
        """
        device_keys: dict[str, Any] = {}
        master_keys: dict[str, Any] = {}
        self_signing: dict[str, Any] = {}
        user_signing: dict[str, Any] = {}
        failures: dict[str, Any] = {}
        for user_id, device_ids in wanted.items():
            if not self._is_local(user_id):
                failures[get_domain_from_id(user_id)] = UNREACHABLE
                continue
            signatures = await self._keys.signatures_on(user_id)
            devices: dict[str, Any] = {}
            for device in await self._keys.devices_with_keys(user_id):
                if device_ids and device.device_id not in device_ids:
                    continue
                keys = _with_signatures(device.keys, signatures, device.device_id, lambda s: True)
                if device.display_name is not None:
                    keys["unsigned"] = {"device_display_name": device.display_name}
                devices[device.device_id] = keys
            device_keys[user_id] = devices
            cross = await self._keys.cross_signing_keys(user_id)
            if "master" in cross:
                master_keys[user_id] = _with_signatures(
                    cross["master"], signatures, public_key_of(cross["master"]),
                    lambda s: s.signer_user_id in (user_id, requester.user_id),
                )
            if "self_signing" in cross:
                self_signing[user_id] = _with_signatures(
                    cross["self_signing"], signatures, public_key_of(cross["self_signing"]),
                    lambda s: s.signer_user_id == user_id,
                )
            if "user_signing" in cross and user_id == requester.user_id:
                user_signing[user_id] = cross["user_signing"]
        return {
            "device_keys": device_keys,
            "master_keys": master_keys,
            "self_signing_keys": self_signing,
            "user_signing_keys": user_signing,
            "failures": failures,
        }

    async def claim(self, wanted: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
        """``/keys/claim``: one key per requested device, each handed out at most once.

        A device's oldest one-time key goes first; when none is left, its
        fallback key (which stays, marked used).
        """
        claimed: dict[str, dict[str, dict[str, Any]]] = {}
        failures: dict[str, Any] = {}
        for user_id, devices in wanted.items():
            if not self._is_local(user_id):
                failures[get_domain_from_id(user_id)] = UNREACHABLE
                continue
            for device_id, algorithm in devices.items():
                async with self._db.transaction("claim_key"):
                    key = await self._keys.claim_one_time_key(user_id, device_id, algorithm)
                    if key is None:
                        key = await self._keys.use_fallback_key(user_id, device_id, algorithm)
                if key is not None:
                    key_id, value = key
                    claimed.setdefault(user_id, {}).setdefault(device_id, {})[f"{algorithm}:{key_id}"] = value
        return {"one_time_keys": claimed, "failures": failures}



def _or_empty(value: Any) -> Any:
    return {} if value is None else value


def _with_signatures(
    key: Mapping[str, Any], signatures: list[Signature], target: str, visible: Any
) -> dict[str, Any]:
    """A copy of ``key`` with the stored signatures on ``target`` merged in."""
    merged = signatures_of(key)
    for s in signatures:
        if s.target_key_id == target and visible(s):
            merged.setdefault(s.signer_user_id, {})[s.signer_key_id] = s.signature
    result = dict(key)
    if merged:
        result["signatures"] = merged
    return result
