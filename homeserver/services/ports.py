"""Small protocols through which services reach the edges (federation) without
importing them. ``federation/`` implements them; ``homeserver/app.py`` passes
the implementations in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from nacl.signing import VerifyKey

from homeserver.core.events import Event


class OutboundFederation(Protocol):
    """Delivers locally created events to the other servers in a room."""

    async def enqueue_pdu(self, event: Event, destinations: set[str]) -> None:
        """Queue durably, inside the caller's transaction (it commits with the event)."""

    async def enqueue_edu(self, edu_type: str, content: dict[str, Any], destinations: set[str]) -> None:
        """Queue an EDU durably, inside the caller's transaction."""

    def wake(self) -> None:
        """After commit: start delivering what was queued."""


class RemoteUnavailable(Exception):
    """Another server could not be asked, or gave an unusable answer."""


class FederationQueries(Protocol):
    """Questions for other servers on behalf of local users (raising :class:`RemoteUnavailable`)."""

    async def query_keys(self, destination: str, device_keys: dict[str, list[str]]) -> dict[str, Any]: ...

    async def claim_keys(self, destination: str, one_time_keys: dict[str, Any]) -> dict[str, Any]: ...

    async def user_devices(self, destination: str, user_id: str) -> dict[str, Any]: ...

    async def query_profile(self, destination: str, user_id: str, field: str | None = None) -> dict[str, Any]: ...

    async def query_directory(self, destination: str, room_alias: str) -> dict[str, Any]: ...

    async def make_join(self, destination: str, room_id: str, user_id: str, versions: list[str]) -> dict[str, Any]: ...

    async def send_join(self, destination: str, room_id: str, event_id: str, pdu: dict[str, Any]) -> dict[str, Any]: ...

    async def get_missing_events(
        self, destination: str, room_id: str, earliest: list[str], latest: list[str], *, limit: int, min_depth: int
    ) -> dict[str, Any]: ...

    async def send_invite(self, destination: str, room_id: str, event_id: str, body: dict[str, Any]) -> dict[str, Any]: ...

    async def make_leave(self, destination: str, room_id: str, user_id: str) -> dict[str, Any]: ...

    async def make_knock(self, destination: str, room_id: str, user_id: str, versions: list[str]) -> dict[str, Any]: ...

    async def send_knock(self, destination: str, room_id: str, event_id: str, pdu: dict[str, Any]) -> dict[str, Any]: ...

    async def public_rooms(self, destination: str, query: dict[str, Any]) -> dict[str, Any]: ...

    async def hierarchy(self, destination: str, room_id: str, suggested_only: bool) -> dict[str, Any]: ...

    async def backfill(self, destination: str, room_id: str, event_ids: list[str], limit: int) -> dict[str, Any]: ...

    async def state_ids(self, destination: str, room_id: str, event_id: str) -> dict[str, Any]: ...

    async def get_event(self, destination: str, event_id: str) -> dict[str, Any]: ...

    async def download_media(self, destination: str, media_id: str, max_bytes: int) -> RemoteMedia: ...

    async def send_leave(self, destination: str, room_id: str, event_id: str, pdu: dict[str, Any]) -> dict[str, Any]: ...


@dataclass(frozen=True)
class RemoteMedia:
    """Media fetched from another server."""

    content_type: str | None
    upload_name: str | None
    data: bytes


class ServerKeys(Protocol):
    """Other servers' signing keys (raising :class:`KeyUnavailable`)."""

    async def verify_key(self, server_name: str, key_id: str, *, valid_at_ms: int | None = None) -> VerifyKey: ...


class KeyUnavailable(Exception):
    """No trustworthy key with that ID, valid at that time, could be found."""


class NoFederation:
    """Used while federation is disabled: events stay on this server."""

    async def enqueue_pdu(self, event: Event, destinations: set[str]) -> None:
        return None

    async def enqueue_edu(self, edu_type: str, content: dict[str, Any], destinations: set[str]) -> None:
        return None

    def wake(self) -> None:
        return None

    async def query_keys(self, destination: str, device_keys: dict[str, list[str]]) -> dict[str, Any]:
        raise RemoteUnavailable("federation is disabled")

    async def claim_keys(self, destination: str, one_time_keys: dict[str, Any]) -> dict[str, Any]:
        raise RemoteUnavailable("federation is disabled")

    async def user_devices(self, destination: str, user_id: str) -> dict[str, Any]:
        raise RemoteUnavailable("federation is disabled")

    async def query_profile(self, destination: str, user_id: str, field: str | None = None) -> dict[str, Any]:
        raise RemoteUnavailable("federation is disabled")

    async def query_directory(self, destination: str, room_alias: str) -> dict[str, Any]:
        raise RemoteUnavailable("federation is disabled")

    async def make_join(self, destination: str, room_id: str, user_id: str, versions: list[str]) -> dict[str, Any]:
        raise RemoteUnavailable("federation is disabled")

    async def send_join(self, destination: str, room_id: str, event_id: str, pdu: dict[str, Any]) -> dict[str, Any]:
        raise RemoteUnavailable("federation is disabled")

    async def get_missing_events(
        self, destination: str, room_id: str, earliest: list[str], latest: list[str], *, limit: int, min_depth: int
    ) -> dict[str, Any]:
        raise RemoteUnavailable("federation is disabled")

    async def send_invite(self, destination: str, room_id: str, event_id: str, body: dict[str, Any]) -> dict[str, Any]:
        raise RemoteUnavailable("federation is disabled")

    async def make_leave(self, destination: str, room_id: str, user_id: str) -> dict[str, Any]:
        raise RemoteUnavailable("federation is disabled")

    async def send_leave(self, destination: str, room_id: str, event_id: str, pdu: dict[str, Any]) -> dict[str, Any]:
        raise RemoteUnavailable("federation is disabled")

    async def public_rooms(self, destination: str, query: dict[str, Any]) -> dict[str, Any]:
        raise RemoteUnavailable("federation is disabled")

    async def hierarchy(self, destination: str, room_id: str, suggested_only: bool) -> dict[str, Any]:
        raise RemoteUnavailable("federation is disabled")

    async def download_media(self, destination: str, media_id: str, max_bytes: int) -> RemoteMedia:
        raise RemoteUnavailable("federation is disabled")

    async def make_knock(self, destination: str, room_id: str, user_id: str, versions: list[str]) -> dict[str, Any]:
        raise RemoteUnavailable("federation is disabled")

    async def send_knock(self, destination: str, room_id: str, event_id: str, pdu: dict[str, Any]) -> dict[str, Any]:
        raise RemoteUnavailable("federation is disabled")

    async def backfill(self, destination: str, room_id: str, event_ids: list[str], limit: int) -> dict[str, Any]:
        raise RemoteUnavailable("federation is disabled")

    async def state_ids(self, destination: str, room_id: str, event_id: str) -> dict[str, Any]:
        raise RemoteUnavailable("federation is disabled")

    async def get_event(self, destination: str, event_id: str) -> dict[str, Any]:
        raise RemoteUnavailable("federation is disabled")
