"""A user's devices (spec: Client-Server API, "Device management")."""

from __future__ import annotations

from typing import Any

from homeserver.errors import MatrixError
from homeserver.services.auth import Requester
from homeserver.services.e2ee.device_lists import DeviceListService
from homeserver.services.uia import UIAService
from storage.devices import DeviceRecord, DeviceStore


class DeviceService:
    def __init__(self, devices: DeviceStore, uia: UIAService, device_lists: DeviceListService) -> None:
        self._devices = devices
        self._uia = uia
        self._device_lists = device_lists

    async def list_devices(self, user_id: str) -> list[DeviceRecord]:
        return await self._devices.list_devices(user_id)

    async def get_device(self, user_id: str, device_id: str) -> DeviceRecord:
        device = await self._devices.get_device(user_id, device_id)
        if device is None:
            raise MatrixError("M_NOT_FOUND", "No such device")
        return device

    async def rename_device(self, user_id: str, device_id: str, display_name: str | None) -> None:
        async with self._devices.db.transaction("rename_device"):
            if not await self._devices.set_display_name(user_id, device_id, display_name):
                raise MatrixError("M_NOT_FOUND", "No such device")
            await self._device_lists.device_changed(user_id, device_id)  # names show in /keys/query

    async def delete_devices(
        self, requester: Requester, device_ids: list[str], body: dict[str, Any], operation: str
    ) -> None:
        """Delete devices (and their tokens) after user-interactive auth."""
        await self._uia.confirm_identity(body, user_id=requester.user_id, operation=operation)
        await self.remove_devices(requester.user_id, device_ids)

    async def remove_devices(self, user_id: str, device_ids: list[str]) -> None:
        """Delete devices without asking (logout, admin); their keys and inboxes go with them."""
        async with self._devices.db.transaction("delete_devices"):
            await self._devices.delete_devices(user_id, device_ids)
            await self._device_lists.devices_deleted(user_id, device_ids)
