"""Cross-signing keys and signatures (spec: "Cross-signing").

A user's master key signs their self-signing key (which signs their devices)
and their user-signing key (which signs other users' master keys). The server
checks every signature against the key that must have made it and stores
only signatures that verify.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeserver.core.e2e_keys import (
    CROSS_SIGNING_USAGES,
    InvalidKey,
    cross_signing_public_key,
    public_key_of,
    same_key,
    signatures_of,
    verify_signed_by,
)
from homeserver.core.identifiers import get_domain_from_id
from homeserver.errors import MatrixError
from homeserver.services.auth import Requester
from homeserver.services.e2ee.device_lists import DeviceListService
from homeserver.services.e2ee.remote_device_lists import RemoteDeviceLists
from homeserver.services.uia import UIAService
from storage.database import Database
from storage.e2e_keys import KeyStore, Signature


class CrossSigningService:
    def __init__(
        self,
        db: Database,
        keys: KeyStore,
        device_lists: DeviceListService,
        remote_lists: RemoteDeviceLists,
        uia: UIAService,
        server_name: str,
    ) -> None:
        self._db = db
        self._keys = keys
        self._device_lists = device_lists
        self._remote_lists = remote_lists
        self._uia = uia
        self._server_name = server_name

    async def upload_keys(self, requester: Requester, body: Mapping[str, Any]) -> None:
        """``/keys/device_signing/upload``.

        User-interactive auth is skipped only when the user has no master key
        yet, or when the request repeats the keys already stored (a retry).
        """
        user_id = requester.user_id
        uploaded = {usage: body[f"{usage}_key"] for usage in CROSS_SIGNING_USAGES if body.get(f"{usage}_key") is not None}
        existing = await self._keys.cross_signing_keys(user_id)
        repeat = all(
            usage in existing and isinstance(key, Mapping) and same_key(existing[usage], key)
            for usage, key in uploaded.items()
        )
        master = uploaded.get("master", existing.get("master"))
        if master is None:
            raise MatrixError("M_MISSING_PARAM", "No master signing key is available")
        public_keys: dict[str, str] = {}
        try:
            master_public = cross_signing_public_key(master, user_id, "master")
            for usage, key in uploaded.items():
                public_keys[usage] = cross_signing_public_key(key, user_id, usage)
        except InvalidKey as e:
            raise MatrixError("M_INVALID_PARAM", str(e)) from None
        for usage in ("self_signing", "user_signing"):
            if usage in uploaded:
                try:
                    verify_signed_by(uploaded[usage], user_id, f"ed25519:{master_public}", master_public)
                except InvalidKey:
                    raise MatrixError(
                        "M_INVALID_SIGNATURE", f"The {usage} key is not signed by the master key"
                    ) from None
        if repeat:
            return  # nothing new (a retried request, or an empty one)
        if "master" in existing:  # (checked after the keys, so a bad upload spends no session)
            await self._uia.confirm_cross_signing_reset(dict(body), user_id=user_id, device_id=requester.device_id)
        async with self._db.transaction("upload_cross_signing_keys"):
            for usage, key in uploaded.items():
                await self._keys.set_cross_signing_key(user_id, usage, public_keys[usage], dict(key))
            await self._device_lists.cross_signing_changed(user_id)

    async def upload_signatures(self, requester: Requester, body: Mapping[str, Any]) -> dict[str, Any]:
        """``/keys/signatures/upload``: store the signatures that verify; report the rest."""
        failures: dict[str, dict[str, Any]] = {}
        accepted: list[Signature] = []
        for user_id, objects in body.items():
            if not isinstance(objects, Mapping):
                raise MatrixError("M_BAD_JSON", f"Signatures for {user_id} must be an object")
            for key_id, signed in objects.items():
                try:
                    if not isinstance(signed, Mapping):
                        raise _Failure("M_BAD_JSON", "A signed key must be an object")
                    accepted.extend(await self._check(requester, user_id, key_id, signed))
                except _Failure as failure:
                    failures.setdefault(user_id, {})[key_id] = {"errcode": failure.errcode, "error": failure.error}
        if accepted:
            async with self._db.transaction("upload_signatures"):
                await self._keys.add_signatures(accepted)
                await self._announce(requester.user_id, accepted)
        return {"failures": failures}

    async def _check(
        self, requester: Requester, user_id: str, key_id: str, signed: Mapping[str, Any]
    ) -> list[Signature]:
        """The new, verified signatures the requester made on one key of ``user_id``."""
        signer = requester.user_id
        own = await self._keys.cross_signing_keys(signer)
        if user_id != signer:
            # Another user's master key, signed with the requester's user-signing key.
            target = await self._master_key_of(user_id)
            if target is None or public_key_of(target) != key_id:
                raise _Failure("M_NOT_FOUND", "Only a user's master key can be signed by another user")
            return self._verified(signed, target, user_id, key_id, signer, own.get("user_signing"))
        device = await self._keys.get_device_keys(signer, key_id)
        if device is not None:
            # One of the requester's devices, signed with their self-signing key.
            return self._verified(signed, device, signer, key_id, signer, own.get("self_signing"))
        master = own.get("master")
        if master is None or public_key_of(master) != key_id:
            raise _Failure("M_NOT_FOUND", f"Unknown key {key_id}")
        # The requester's master key, signed by one of their devices.
        result: list[Signature] = []
        for signer_key_id, signature in signatures_of(signed).get(signer, {}).items():
            device_id = signer_key_id.removeprefix("ed25519:")
            signing_device = await self._keys.get_device_keys(signer, device_id)
            if signer_key_id == f"ed25519:{key_id}" or signing_device is None:
                continue
            result.extend(self._verified(signed, master, signer, key_id, signer, None, device=signing_device))
        if not result:
            raise _Failure("M_INVALID_SIGNATURE", "No valid signature by one of your devices")
        return result

    async def _master_key_of(self, user_id: str) -> Mapping[str, Any] | None:
        """Another user's master key: stored here, or from their server's device list."""
        if get_domain_from_id(user_id) == self._server_name:
            return (await self._keys.cross_signing_keys(user_id)).get("master")
        lists, _ = await self._remote_lists.get([user_id])
        return lists[user_id].master_key if user_id in lists else None

    async def _announce(self, signer: str, signatures: list[Signature]) -> None:
        """Tell who must refetch keys now signed (inside the transaction that stored them):
        the signer's own devices and master key concern everyone; a signature on another
        user's master key is seen by the signer alone."""
        own_master = (await self._keys.cross_signing_keys(signer)).get("master")
        own_master_id = public_key_of(own_master) if own_master is not None else None
        for target in sorted({(s.target_user_id, s.target_key_id) for s in signatures}):
            user_id, key_id = target
            if user_id != signer:
                await self._device_lists.signatures_changed(user_id)
            elif key_id == own_master_id:
                await self._device_lists.cross_signing_changed(signer)
            else:
                await self._device_lists.device_changed(signer, key_id)

    @staticmethod
    def _verified(
        signed: Mapping[str, Any],
        stored: Mapping[str, Any],
        target_user: str,
        target_key: str,
        signer: str,
        signing_key: Mapping[str, Any] | None,
        *,
        device: Mapping[str, Any] | None = None,
    ) -> list[Signature]:
        """Check ``signed`` is ``stored`` signed by ``signing_key`` (or ``device``)."""
        if not same_key(signed, stored):
            raise _Failure("M_INVALID_PARAM", "The signed object does not match the stored key")
        if device is not None:
            signer_key_id = f"ed25519:{device['device_id']}"
            public_key = device["keys"][signer_key_id]
        elif signing_key is not None:
            public_key = public_key_of(signing_key)
            signer_key_id = f"ed25519:{public_key}"
        else:
            raise _Failure("M_MISSING_PARAM", "You have no key that can make this signature")
        signature = signatures_of(signed).get(signer, {}).get(signer_key_id)
        if signature is None:
            raise _Failure("M_INVALID_SIGNATURE", f"No signature with {signer_key_id}")
        try:
            verify_signed_by(signed, signer, signer_key_id, public_key)
        except InvalidKey:
            raise _Failure("M_INVALID_SIGNATURE", f"Invalid signature with {signer_key_id}") from None
        return [Signature(target_user, target_key, signer, signer_key_id, signature)]


class _Failure(Exception):
    def __init__(self, errcode: str, error: str) -> None:
        super().__init__(error)
        self.errcode = errcode
        self.error = error

