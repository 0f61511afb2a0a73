"""End-to-end encryption keys and send-to-device (spec: Client-Server API,
"End-to-End Encryption" and "Send-to-Device messaging")."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from client_api.auth import Authenticator
from homeserver.http import Route, field, json_response, read_json
from homeserver.core.identifiers import is_valid_user_id
from homeserver.errors import MatrixError
from homeserver.services.e2ee.cross_signing import CrossSigningService
from homeserver.services.e2ee.device_lists import DeviceListService
from homeserver.services.e2ee.keys import KeyService
from homeserver.services.e2ee.to_device import ToDeviceService
from homeserver.services.sync_token import SyncToken

V3 = "/_matrix/client/v3"


class KeyRoutes:
    def __init__(
        self,
        authenticator: Authenticator,
        keys: KeyService,
        cross_signing: CrossSigningService,
        device_lists: DeviceListService,
        to_device: ToDeviceService,
    ) -> None:
        self._authenticator = authenticator
        self._keys = keys
        self._cross_signing = cross_signing
        self._device_lists = device_lists
        self._to_device = to_device

    def routes(self) -> list[Route]:
        return [
            Route("POST", f"{V3}/keys/upload", self.upload),
            Route("POST", f"{V3}/keys/query", self.query),
            Route("POST", f"{V3}/keys/claim", self.claim),
            Route("GET", f"{V3}/keys/changes", self.changes),
            Route("POST", f"{V3}/keys/device_signing/upload", self.upload_signing_keys),
            Route("POST", f"{V3}/keys/signatures/upload", self.upload_signatures),
            Route("PUT", f"{V3}/sendToDevice/{{event_type}}/{{txn_id}}", self.send_to_device),
        ]

    async def upload(self, request: web.Request) -> web.Response:
        """POST /keys/upload."""
        requester = await self._authenticator.requester(request, allow_guest=True)
        body = await read_json(request)
        counts = await self._keys.upload(requester, body)
        return json_response({"one_time_key_counts": counts})

    async def query(self, request: web.Request) -> web.Response:
        """POST /keys/query."""
        requester = await self._authenticator.requester(request, allow_guest=True)
        body = await read_json(request)
        wanted = field(body, "device_keys", dict)
        for user_id, devices in wanted.items():
            _check_user(user_id)
            if not isinstance(devices, list) or not all(isinstance(d, str) for d in devices):
                raise MatrixError("M_BAD_JSON", f"device_keys.{user_id} must be an array of device IDs")
        return json_response(await self._keys.query(requester.user_id, wanted))

    async def claim(self, request: web.Request) -> web.Response:
        """POST /keys/claim."""
        await self._authenticator.requester(request, allow_guest=True)
        body = await read_json(request)
        wanted = field(body, "one_time_keys", dict)
        for user_id, devices in wanted.items():
            _check_user(user_id)
            if not isinstance(devices, Mapping) or not all(isinstance(a, str) for a in devices.values()):
                raise MatrixError("M_BAD_JSON", f"one_time_keys.{user_id} must map device IDs to algorithms")
        return json_response(await self._keys.claim(wanted))

    async def changes(self, request: web.Request) -> web.Response:
        """GET /keys/changes?from=&to=."""
        requester = await self._authenticator.requester(request)
        since, until = _token(request, "from"), _token(request, "to")
        delta = await self._device_lists.delta(requester.user_id, since, until)
        return json_response({"changed": delta.changed, "left": delta.left})

    async def upload_signing_keys(self, request: web.Request) -> web.Response:
        """POST /keys/device_signing/upload (user-interactive auth when replacing keys)."""
        requester = await self._authenticator.requester(request)
        body = await read_json(request)
        for name in ("master_key", "self_signing_key", "user_signing_key"):
            field(body, name, dict, required=False)
        await self._cross_signing.upload_keys(requester, body)
        return json_response({})

    async def upload_signatures(self, request: web.Request) -> web.Response:
        """POST /keys/signatures/upload."""
        requester = await self._authenticator.requester(request)
        body = await read_json(request)
        for user_id in body:
            _check_user(user_id)
        return json_response(await self._cross_signing.upload_signatures(requester, body))

    async def send_to_device(self, request: web.Request) -> web.Response:
        """PUT /sendToDevice/{eventType}/{txnId}."""
        requester = await self._authenticator.requester(request, allow_guest=True)
        body = await read_json(request)
        await self._to_device.send(
            requester, request.match_info["event_type"], request.match_info["txn_id"], field(body, "messages", dict)
        )
        return json_response({})


def _check_user(user_id: str) -> None:
    if not is_valid_user_id(user_id):
        raise MatrixError("M_INVALID_PARAM", f"Invalid user ID: {user_id}")


def _token(request: web.Request, name: str) -> SyncToken:
    raw = request.query.get(name)
    if raw is None:
        raise MatrixError("M_MISSING_PARAM", f"Missing query parameter: {name}")
    return SyncToken.decode(raw)
