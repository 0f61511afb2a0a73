"""Device management (spec: Client-Server API, "Device management")."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from client_api.auth import Authenticator
from homeserver.http import Route, field, json_response, read_json
from homeserver.errors import MatrixError
from homeserver.services.devices import DeviceService
from storage.devices import DeviceRecord

V3 = "/_matrix/client/v3"


def device_json(device: DeviceRecord) -> dict[str, Any]:
    body: dict[str, Any] = {"device_id": device.device_id}
    if device.display_name is not None:
        body["display_name"] = device.display_name
    if device.last_seen_ts is not None:
        body["last_seen_ts"] = device.last_seen_ts
    if device.last_seen_ip is not None:
        body["last_seen_ip"] = device.last_seen_ip
    return body


class DeviceRoutes:
    def __init__(self, authenticator: Authenticator, devices: DeviceService) -> None:
        self._authenticator = authenticator
        self._devices = devices

    def routes(self) -> list[Route]:
        return [
            Route("GET", f"{V3}/devices", self.list_devices),
            Route("GET", f"{V3}/devices/{{device_id}}", self.get_device),
            Route("PUT", f"{V3}/devices/{{device_id}}", self.update_device),
            Route("DELETE", f"{V3}/devices/{{device_id}}", self.delete_device),
            Route("POST", f"{V3}/delete_devices", self.delete_devices),
        ]

    async def list_devices(self, request: web.Request) -> web.Response:
        """GET /_matrix/client/v3/devices."""
        requester = await self._authenticator.requester(request, allow_guest=True)
        devices = await self._devices.list_devices(requester.user_id)
        return json_response({"devices": [device_json(d) for d in devices]})

    async def get_device(self, request: web.Request) -> web.Response:
        """GET /_matrix/client/v3/devices/{deviceId}."""
        requester = await self._authenticator.requester(request, allow_guest=True)
        device = await self._devices.get_device(requester.user_id, request.match_info["device_id"])
        return json_response(device_json(device))

    async def update_device(self, request: web.Request) -> web.Response:
        """PUT /_matrix/client/v3/devices/{deviceId}: rename a device."""
        requester = await self._authenticator.requester(request, allow_guest=True)
        body = await read_json(request, allow_empty=True)
        display_name = field(body, "display_name", str, required=False)
        await self._devices.rename_device(
            requester.user_id, request.match_info["device_id"], display_name
        )
        return json_response({})

    async def delete_device(self, request: web.Request) -> web.Response:
        """DELETE /_matrix/client/v3/devices/{deviceId} (UIA)."""
        requester = await self._authenticator.requester(request)
        body = await read_json(request, allow_empty=True)
        device_id = request.match_info["device_id"]
        await self._devices.get_device(requester.user_id, device_id)  # 404 before asking for auth
        await self._devices.delete_devices(
            requester, [device_id], body, operation=f"DELETE /devices/{device_id}"
        )
        return json_response({})

    async def delete_devices(self, request: web.Request) -> web.Response:
        """POST /_matrix/client/v3/delete_devices (UIA)."""
        requester = await self._authenticator.requester(request)
        body = await read_json(request)
        device_ids = field(body, "devices", list)
        if not all(isinstance(d, str) for d in device_ids):
            raise MatrixError("M_BAD_JSON", "devices must be an array of strings")
        await self._devices.delete_devices(
            requester, device_ids, body, operation="POST /delete_devices"
        )
        return json_response({})
