"""The key directory: device keys, one-time and fallback keys, and who may see what.

Spec: Client-Server API, "Key management API" (``/keys/upload``, ``/keys/query``,
``/keys/claim``, and the Server-Server API's ``/user/keys/*`` that other
servers ask for their users). Keys of users on other servers are asked of
those servers; a server that cannot answer is reported under ``failures``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from homeserver.core.e2e_keys import InvalidKey, check_device_keys, check_one_time_keys, public_key_of, signatures_of
from homeserver.core.identifiers import get_domain_from_id
from homeserver.errors import MatrixError
from homeserver.services.auth import Requester
from homeserver.services.e2ee.device_lists import DeviceListService
from homeserver.services.ports import FederationQueries
from storage.database import Database
from storage.e2e_keys import KeyStore, Signature



class KeyService:
    def __init__(
        self,
        db: Database,
        keys: KeyStore,
        device_lists: DeviceListService,
        federation: FederationQueries,
        server_name: str,
    ) -> None:
        self._db = db
        self._keys = keys
        self._device_lists = device_lists
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
                await self._device_lists.devices_changed(user_id, device_id=device_id)
            return await self._keys.count_one_time_keys(user_id, device_id)

    async def query(self, viewer: str | None, wanted: Mapping[str, list[str]]) -> dict[str, Any]:
        """``/keys/query``: device and cross-signing keys, with the signatures ``viewer`` may see.

        ``viewer`` is the asking user, or ``None`` for another server asking for
        its users. Everyone sees a user's devices, master and self-signing keys;
        only the user sees their own user-signing key, and a signature one user
        made on another's master key is shown to the signer alone. Keys of users
        on other servers are asked of those servers, all at once.
        """
        result: dict[str, Any] = {
            "device_keys": {}, "master_keys": {}, "self_signing_keys": {}, "user_signing_keys": {}, "failures": {},
        }
        remote: dict[str, dict[str, list[str]]] = {}
        for user_id, device_ids in wanted.items():
            if self._is_local(user_id):
                await self._query_local(viewer, user_id, device_ids, result)
            else:
                remote.setdefault(get_domain_from_id(user_id), {})[user_id] = list(device_ids)
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
        return result

    async def _query_local(self, viewer: str | None, user_id: str, device_ids: list[str], result: dict[str, Any]) -> None:
        signatures = await self._keys.signatures_on(user_id)
        devices: dict[str, Any] = {}
        for device in await self._keys.devices_with_keys(user_id):
            if device_ids and device.device_id not in device_ids:
                continue
            keys = _with_signatures(device.keys, signatures, device.device_id, lambda s: True)
            if device.display_name is not None:
                keys["unsigned"] = {"device_display_name": device.display_name}
            devices[device.device_id] = keys
        result["device_keys"][user_id] = devices
        cross = await self._keys.cross_signing_keys(user_id)
        if "master" in cross:
            result["master_keys"][user_id] = _with_signatures(
                cross["master"], signatures, public_key_of(cross["master"]),
                lambda s: s.signer_user_id in (user_id, viewer),
            )
        if "self_signing" in cross:
            result["self_signing_keys"][user_id] = _with_signatures(
                cross["self_signing"], signatures, public_key_of(cross["self_signing"]),
                lambda s: s.signer_user_id == user_id,
            )
        if "user_signing" in cross and user_id == viewer:
            result["user_signing_keys"][user_id] = cross["user_signing"]

    async def user_devices(self, user_id: str) -> dict[str, Any]:
        """Federation ``/user/devices/{userId}``: a local user's devices and cross-signing keys."""
        if not self._is_local(user_id):
            raise MatrixError("M_NOT_FOUND", "Not a user of this server", status=404)
        result: dict[str, Any] = {"device_keys": {}, "master_keys": {}, "self_signing_keys": {}, "user_signing_keys": {}}
        await self._query_local(None, user_id, [], result)
        body: dict[str, Any] = {
            "user_id": user_id,
            "stream_id": await self._device_lists.latest_position(user_id),
            "devices": [
                {"device_id": device_id, "keys": keys}
                | ({"device_display_name": keys["unsigned"]["device_display_name"]} if "unsigned" in keys else {})
                for device_id, keys in result["device_keys"][user_id].items()
            ],
        }
        for name, section in (("master_key", "master_keys"), ("self_signing_key", "self_signing_keys")):
            if user_id in result[section]:
                body[name] = result[section][user_id]
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
