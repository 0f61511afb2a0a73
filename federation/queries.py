"""Asking other servers for keys, profiles and aliases (the ``FederationQueries`` port).

What a failure tells the caller is deliberately plain: "that server could not
be asked" whatever went wrong (refused connection, timeout, TLS, a non-Matrix
answer, the outbound IP policy), so a client naming a server cannot learn from
the error text which hosts and ports exist. The details go to the log. A
Matrix error answer (4xx with an ``errcode``) keeps its errcode and status,
but not the other server's words.
"""

from __future__ import annotations

from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import quote

from federation.client import FederationClient, FederationError
import structlog

from homeserver.errors import MatrixError
from homeserver.services.ports import RemoteMedia, RemoteUnavailable

logger = structlog.get_logger(__name__)

FED_V1 = "/_matrix/federation/v1"
KEYS_TIMEOUT_S = 10.0
#: A space walk asks one server after another: a slow one must not hold it up for long.
HIERARCHY_TIMEOUT_S = 10.0


class FederationQueryClient:
    def __init__(self, client: FederationClient) -> None:
        self._client = client

    async def _ask(self, destination: str, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            answer = await self._client.request(destination, method, path, **kwargs)
        except FederationError as e:
            logger.info("federation_query_failed", destination=destination, path=path, error=str(e))
            if e.errcode and e.status is not None and 400 <= e.status < 500 and e.status not in (401, 429):
                # The other server's answer stands (not found, forbidden, incompatible...).
                raise MatrixError(e.errcode, f"{destination} refused the request", status=e.status) from None
            raise unavailable(destination) from None
        if not isinstance(answer, dict):
            logger.info("federation_query_failed", destination=destination, path=path, error="not a JSON object")
            raise unavailable(destination)
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

    async def user_devices(self, destination: str, user_id: str) -> dict[str, Any]:
        return await self._ask(
            destination, "GET", f"{FED_V1}/user/devices/{quote(user_id, safe='')}", timeout=KEYS_TIMEOUT_S
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

    async def hierarchy(self, destination: str, room_id: str, suggested_only: bool) -> dict[str, Any]:
        """``/hierarchy/{roomId}``: a space and its children, as that server sees them."""
        return await self._ask(
            destination, "GET", f"{FED_V1}/hierarchy/{quote(room_id, safe='')}",
            query={"suggested_only": "true" if suggested_only else "false"}, timeout=HIERARCHY_TIMEOUT_S,
        )

    async def make_knock(self, destination: str, room_id: str, user_id: str, versions: list[str]) -> dict[str, Any]:
        return await self._ask(
            destination, "GET", f"{FED_V1}/make_knock/{quote(room_id, safe='')}/{quote(user_id, safe='')}",
            query=[("ver", v) for v in versions],
        )

    async def send_knock(self, destination: str, room_id: str, event_id: str, pdu: dict[str, Any]) -> dict[str, Any]:
        return await self._ask(
            destination, "PUT", f"{FED_V1}/send_knock/{quote(room_id, safe='')}/{quote(event_id, safe='')}", body=pdu,
        )

    async def backfill(self, destination: str, room_id: str, event_ids: list[str], limit: int) -> dict[str, Any]:
        return await self._ask(
            destination, "GET", f"{FED_V1}/backfill/{quote(room_id, safe='')}",
            query=[("v", e) for e in event_ids] + [("limit", str(limit))],
        )

    async def state_ids(self, destination: str, room_id: str, event_id: str) -> dict[str, Any]:
        return await self._ask(
            destination, "GET", f"{FED_V1}/state_ids/{quote(room_id, safe='')}", query={"event_id": event_id},
        )

    async def get_event(self, destination: str, event_id: str) -> dict[str, Any]:
        return await self._ask(destination, "GET", f"{FED_V1}/event/{quote(event_id, safe='')}")

    async def download_media(self, destination: str, media_id: str, max_bytes: int) -> RemoteMedia:
        """``/media/download``: a multipart answer of metadata and the media itself."""
        try:
            content_type, raw = await self._client.request_raw(
                destination, "GET", f"{FED_V1}/media/download/{quote(media_id, safe='')}",
                query={"timeout_ms": "20000"}, timeout=60.0, max_bytes=max_bytes + 64 * 1024,
            )
        except FederationError as e:
            logger.info("federation_media_failed", destination=destination, media_id=media_id, error=str(e))
            if e.errcode == "M_TOO_LARGE":
                raise MatrixError("M_TOO_LARGE", f"The media on {destination} is too large", status=502) from None
            if e.status == 404 and e.errcode:
                raise MatrixError("M_NOT_FOUND", "Not found", status=404) from None
            raise unavailable(destination) from None
        media = parse_multipart_media(content_type, raw)
        if media is None:
            logger.info("federation_media_failed", destination=destination, media_id=media_id, error="malformed")
            raise unavailable(destination)
        if len(media.data) > max_bytes:
            raise MatrixError("M_TOO_LARGE", f"The media on {destination} is too large", status=502)
        return media


def unavailable(destination: str) -> RemoteUnavailable:
    """The one thing a caller learns about a server that could not be asked."""
    return RemoteUnavailable(f"{destination} could not be reached")


def parse_multipart_media(content_type: str, raw: bytes) -> RemoteMedia | None:
    """The media part of a ``multipart/mixed`` federation media response (``None`` if malformed).

    A redirect (``Location``) instead of the bytes is not followed: it would let
    another server make this one fetch arbitrary URLs.
    """
    if not content_type.lower().startswith("multipart/mixed"):
        return None
    message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw)
    parts = list(message.iter_parts()) if message.is_multipart() else []
    if len(parts) != 2 or parts[0].get_content_type() != "application/json":
        return None
    media: Message = parts[1]
    data = media.get_payload(decode=True)
    if not isinstance(data, bytes) or media.get("Location"):
        return None
    filename = media.get_filename()
    return RemoteMedia(media.get("Content-Type"), filename, data)
