"""This server's users' device and cross-signing keys as someone else sees them.

One reading serves ``/keys/query``, the federation ``/user/devices`` and
``/user/keys/query`` answers, and the ``m.device_list_update`` /
``m.signing_key_update`` EDUs sent to other servers, so they always agree.
Signatures uploaded separately are merged into the keys they sign; who may
see which signature is the spec's rule: everyone sees a user's own
signatures, a signature one user made on another's master key is shown to
the signer alone, and the user-signing key only to its owner.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from homeserver.core.e2e_keys import public_key_of, signatures_of
from storage.e2e_keys import KeyStore, Signature


@dataclass(frozen=True)
class UserKeys:
    """A user's keys: devices by ID (with ``unsigned.device_display_name``) and cross-signing keys."""

    devices: dict[str, dict[str, Any]]
    master: dict[str, Any] | None
    self_signing: dict[str, Any] | None
    user_signing: dict[str, Any] | None


class LocalKeys:
    def __init__(self, keys: KeyStore) -> None:
        self._keys = keys

    async def describe(self, viewer: str | None, user_id: str, device_ids: list[str] | None = None) -> UserKeys:
        """``user_id``'s keys as ``viewer`` (``None``: another server) may see them;
        only the devices in ``device_ids`` when it is not empty."""
        signatures = await self._keys.signatures_on(user_id)
        devices: dict[str, dict[str, Any]] = {}
        for device in await self._keys.devices_with_keys(user_id):
            if device_ids and device.device_id not in device_ids:
                continue
            keys = with_signatures(device.keys, signatures, device.device_id, lambda s: True)
            if device.display_name is not None:
                keys["unsigned"] = {"device_display_name": device.display_name}
            devices[device.device_id] = keys
        cross = await self._keys.cross_signing_keys(user_id)
        master = self_signing = None
        if "master" in cross:
            master = with_signatures(
                cross["master"], signatures, public_key_of(cross["master"]),
                lambda s: s.signer_user_id in (user_id, viewer),
            )
        if "self_signing" in cross:
            self_signing = with_signatures(
                cross["self_signing"], signatures, public_key_of(cross["self_signing"]),
                lambda s: s.signer_user_id == user_id,
            )
        user_signing = cross.get("user_signing") if user_id == viewer else None
        return UserKeys(devices, master, self_signing, user_signing)


def with_signatures(
    key: Mapping[str, Any], signatures: list[Signature], target: str, visible: Callable[[Signature], bool]
) -> dict[str, Any]:
    """A copy of ``key`` with the stored signatures on ``target`` that are ``visible`` merged in."""
    merged = signatures_of(key)
    for s in signatures:
        if s.target_key_id == target and visible(s):
            merged.setdefault(s.signer_user_id, {})[s.signer_key_id] = s.signature
    result = dict(key)
    if merged:
        result["signatures"] = merged
    return result
