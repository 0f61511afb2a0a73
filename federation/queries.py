"""Asking other servers for keys, profiles and aliases (the ``FederationQueries`` port)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from federation.client import FederationClient, FederationError
from homeserver.errors import MatrixError
from homeserver.services.ports import RemoteUnavailable

FED_V1 = "/_matrix/federation/v1"
KEYS_TIMEOUT_S = 10.0


class FederationQueryClient:
    def __init__(self, client: FederationClient) -> None:
        self._client = client

    async def _ask(self, destination: str, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            answer = await self._client.request(destination, method, path, **kwargs)
        except FederationError as e:
            if e.status is not None and 400 <= e.status < 500 and e.status not in (401, 429):
                # The other server's answer stands (not found, forbidden, incompatible...).
                raise MatrixError(e.errcode or "M_UNKNOWN", f"{destination} refused: {e}", status=e.status) from None
            raise RemoteUnavailable(str(e)) from None
        if not isinstance(answer, dict):
            raise RemoteUnavailable(f"{destination} gave a malformed answer")
        return answer

    async def query_keys(self, destination: str, device_keys: dict[str, list[str]]) -> dict[str, Any]:
        return await self._ask(
            destination, "POST", f"{FED_V1}/user/keys/query", body={"device_keys": device_keys}, timeout=KEYS_TIMEOUT_S
        )

    async def claim_keys(self, destination: str, one_time_keys: dict[str, Any]) -> dict[str, Any]:
        return await self._ask(
            destination, "POST", f"{FED_V1}/user/keys/claim", body={"one_time_keys": one_time_keys},
            timeout=KEYS_TIMEOUT_S,
        )

    async def query_profile(self, destination: str, user_id: str, field: str | None = None) -> dict[str, Any]:
        query = {"user_id": user_id} | ({"field": field} if field else {})
        return await self._ask(destination, "GET", f"{FED_V1}/query/profile", query=query)

    async def query_directory(self, destination: str, room_alias: str) -> dict[str, Any]:
        return await self._ask(destination, "GET", f"{FED_V1}/query/directory", query={"room_alias": room_alias})

    async def make_join(self, destination: str, room_id: str, user_id: str, versions: list[str]) -> dict[str, Any]:
        return await self._ask(
            destination, "GET", f"{FED_V1}/make_join/{quote(room_id, safe='')}/{quote(user_id, safe='')}",
            query=[("ver", v) for v in versions],
        )

    async def send_join(self, destination: str, room_id: str, event_id: str, pdu: dict[str, Any]) -> dict[str, Any]:
        return await self._ask(
            destination, "PUT", f"/_matrix/federation/v2/send_join/{quote(room_id, safe='')}/{quote(event_id, safe='')}",
            body=pdu, timeout=120.0,
        )

    async def get_missing_events(
        self, destination: str, room_id: str, earliest: list[str], latest: list[str], *, limit: int, min_depth: int
    ) -> dict[str, Any]:
        return await self._ask(destination, "POST", f"{FED_V1}/get_missing_events/{quote(room_id, safe='')}", body={
            "earliest_events": earliest, "latest_events": latest, "limit": limit, "min_depth": min_depth,
        })

    async def send_invite(self, destination: str, room_id: str, event_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._ask(
            destination, "PUT", f"/_matrix/federation/v2/invite/{quote(room_id, safe='')}/{quote(event_id, safe='')}",
            body=body,
        )

    async def make_leave(self, destination: str, room_id: str, user_id: str) -> dict[str, Any]:
        return await self._ask(
            destination, "GET", f"{FED_V1}/make_leave/{quote(room_id, safe='')}/{quote(user_id, safe='')}"
        )

    async def send_leave(self, destination: str, room_id: str, event_id: str, pdu: dict[str, Any]) -> dict[str, Any]:
        return await self._ask(
            destination, "PUT", f"/_matrix/federation/v2/send_leave/{quote(room_id, safe='')}/{quote(event_id, safe='')}",
            body=pdu,
        )

    async def public_rooms(self, destination: str, query: dict[str, Any]) -> dict[str, Any]:
        return await self._ask(destination, "POST", f"{FED_V1}/publicRooms", body=query)
