"""Sending events into rooms: messages (with transaction IDs), state, and
redactions (spec: Client-Server API, "Sending events to a room", "Redactions")."""

from __future__ import annotations

from typing import Any

from homeserver.core import power_levels as pl
from homeserver.core.identifiers import is_valid_room_alias
from homeserver.errors import MatrixError
from homeserver.services.directory import DirectoryService
from homeserver.services.auth import Requester
from homeserver.services.ratelimit import RateLimiter
from homeserver.services.rooms.guest_access import GuestAccess
from homeserver.services.rooms.sender import EventSender, Txn
from storage.events import EventStore
from storage.relations import relation_of
from storage.rooms import RoomStore
from storage.state import StateStore

MAX_TYPE_BYTES = 255


class MessageService:
    def __init__(
        self,
        *,
        sender: EventSender,
        events: EventStore,
        state: StateStore,
        rooms: RoomStore,
        directory: DirectoryService,
        guest_access: GuestAccess,
        rate_limiter: RateLimiter,
    ) -> None:
        self._sender = sender
        self._events = events
        self._state = state
        self._rooms = rooms
        self._directory = directory
        self._guest_access = guest_access
        self._rate_limiter = rate_limiter

    async def send_message(
        self, requester: Requester, room_id: str, event_type: str, content: dict[str, Any], txn_id: str
    ) -> str:
        """``PUT /send/{type}/{txnId}``: the same transaction ID from the same device
        returns the same event ID."""
        _check_type(event_type)
        txn = Txn(requester.user_id, requester.device_id, txn_id)
        if event_type == "m.room.redaction":
            redacts = content.get("redacts")
            if not isinstance(redacts, str):
                raise MatrixError("M_BAD_JSON", "redacts must be an event ID")
            return await self.redact(requester, room_id, redacts, content, txn_id)
        requester.require_unsuspended()
        self._rate_limiter.check("message", requester.user_id)
        await self._check_thread(room_id, content)
        # The sender answers a repeated transaction ID with its first event.
        sent = await self._sender.send(room_id, requester.user_id, event_type, content, txn=txn)
        return sent.event.event_id

    async def set_state(
        self, requester: Requester, room_id: str, event_type: str, state_key: str, content: dict[str, Any]
    ) -> str:
        """``PUT /state/{type}/{stateKey}``; repeating the current content is a no-op."""
        _check_type(event_type)
        if len(state_key.encode()) > MAX_TYPE_BYTES:
            raise MatrixError("M_INVALID_PARAM", "state_key is longer than 255 bytes")
        if event_type == "m.room.canonical_alias":
            await self._check_canonical_alias(room_id, content)
        room = await self._rooms.get_room(room_id)
        if room is not None and room.current_state_group is not None:
            current_id = (await self._state.get_state(room.current_state_group)).get((event_type, state_key))
            if current_id is not None:
                current = await self._events.get_event(current_id)
                if current is not None and current.event.sender == requester.user_id and dict(current.event.content) == content:
                    return current_id
        requester.require_unsuspended()
        self._rate_limiter.check("message", requester.user_id)
        sent = await self._sender.send(room_id, requester.user_id, event_type, content, state_key=state_key)
        if event_type == "m.room.guest_access" and state_key == "":
            await self._guest_access.enforce(room_id)
        return sent.event.event_id

    async def redact(
        self,
        requester: Requester,
        room_id: str,
        target_id: str,
        content: dict[str, Any],
        txn_id: str,
    ) -> str:
        """Send a redaction of the sender's own event, or of any event with the redact
        power level; the sender applies it (:mod:`~homeserver.services.rooms.redactions`)."""
        existing = await self._rooms.get_txn_event(requester.user_id, requester.device_id, txn_id)
        if existing is not None:
            return existing
        self._rate_limiter.check("message", requester.user_id)
        target = await self._events.get_event(target_id)
        if target is None or target.event.room_id != room_id:
            raise MatrixError("M_NOT_FOUND", "Unknown event")
        if requester.user_id != target.event.sender:
            requester.require_unsuspended()  # a suspended user may still redact their own events
            await self._check_redact_power(requester.user_id, room_id)
        body = {k: v for k, v in content.items() if k != "redacts"}
        txn = Txn(requester.user_id, requester.device_id, txn_id)
        sent = await self._sender.send(room_id, requester.user_id, "m.room.redaction", body, txn=txn, redacts=target_id)
        return sent.event.event_id

    async def _check_redact_power(self, user_id: str, room_id: str) -> None:
        """Only the redact power level lets a user redact other users' events."""
        room = await self._rooms.get_room(room_id)
        assert room is not None and room.current_state_group is not None
        state = await self._state.get_state(room.current_state_group)
        keys = [k for k in (("m.room.create", ""), ("m.room.power_levels", "")) if k in state]
        stored = await self._events.get_events(state[k] for k in keys)
        auth_state = {k: stored[state[k]].event for k in keys}
        if pl.user_power_level(user_id, auth_state) < pl.named_level("redact", auth_state):
            raise MatrixError("M_FORBIDDEN", "You may not redact other users' events")

    async def _check_thread(self, room_id: str, content: dict[str, Any]) -> None:
        """Threads may not start from an event that itself relates to another (spec: threading)."""
        relates = content.get("m.relates_to")
        if not isinstance(relates, dict) or relates.get("rel_type") != "m.thread":
            return
        root_id = relates.get("event_id")
        root = await self._events.get_event(root_id) if isinstance(root_id, str) else None
        if root is None or root.event.room_id != room_id:
            raise MatrixError("M_UNKNOWN", "The thread root is not known in this room", status=400)
        if relation_of(root.event) is not None:
            raise MatrixError("M_UNKNOWN", "Cannot start a thread from an event with a relation", status=400)

    async def _check_canonical_alias(self, room_id: str, content: dict[str, Any]) -> None:
        """New aliases must be valid (``M_INVALID_PARAM``) and point to the room
        (``M_BAD_ALIAS``); those already in the room's current event are not checked
        again (spec: ``PUT /state/{eventType}/{stateKey}``)."""
        alt = content.get("alt_aliases", [])
        if not isinstance(alt, list):
            raise MatrixError("M_INVALID_PARAM", "alt_aliases must be an array")
        aliases = [content["alias"], *alt] if content.get("alias") is not None else list(alt)
        current = await self._current_aliases(room_id)
        for alias in aliases:
            if not isinstance(alias, str):
                raise MatrixError("M_INVALID_PARAM", "aliases must be strings")
            if alias in current:
                continue
            if not is_valid_room_alias(alias):
                raise MatrixError("M_INVALID_PARAM", f"{alias!r} is not a valid room alias")
            try:
                target = (await self._directory.resolve_alias(alias))["room_id"]
            except MatrixError:
                target = None
            if target != room_id:
                raise MatrixError("M_BAD_ALIAS", f"{alias} does not point to this room", status=400)

    async def _current_aliases(self, room_id: str) -> set[str]:
        event_id = await self._state.get_current_state_event_id(room_id, "m.room.canonical_alias", "")
        current = await self._events.get_event(event_id) if event_id else None
        if current is None:
            return set()
        alt = current.event.content.get("alt_aliases")
        listed = [current.event.content.get("alias"), *(alt if isinstance(alt, list) else [])]
        return {a for a in listed if isinstance(a, str)}


def _check_type(event_type: str) -> None:
    if not event_type or len(event_type.encode()) > MAX_TYPE_BYTES:
        raise MatrixError("M_INVALID_PARAM", "Event types are 1 to 255 bytes")
