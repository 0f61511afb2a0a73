"""``createRoom`` (spec: Client-Server API, "Creation"): the create event, the
creator's join, power levels, canonical alias, preset state, initial state,
name and topic, then invites, all in one transaction so a room is created
completely or not at all. Users of other servers are invited after that
transaction commits (their servers must co-sign each invite); an invite that
fails is logged and leaves the room as it is: the spec does not fail the
creation for it."""

from __future__ import annotations

import asyncio
import secrets
import string
from dataclasses import dataclass, field
from typing import Any

import structlog

from homeserver.clock import Clock
from homeserver.core.identifiers import get_domain_from_id, is_valid_user_id
from homeserver.core.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion
from homeserver.errors import MatrixError
from homeserver.services.ports import RemoteUnavailable
from homeserver.services.rooms.membership import member_profile
from homeserver.services.rooms.remote_membership import RemoteMembership
from homeserver.services.ratelimit import RateLimiter
from homeserver.services.rooms.sender import EventSender
from storage.accounts import AccountStore
from storage.database import Database
from storage.rooms import AliasStore, RoomStore

logger = structlog.get_logger(__name__)
#: Most events a ``createRoom`` may ask for in ``initial_state``, and most invitees.
MAX_INITIAL_STATE = 100
MAX_INVITES = 100

PRESETS = {
    "private_chat": {"join_rule": "invite", "history_visibility": "shared", "guest_access": "can_join"},
    "trusted_private_chat": {"join_rule": "invite", "history_visibility": "shared", "guest_access": "can_join"},
    "public_chat": {"join_rule": "public", "history_visibility": "shared", "guest_access": "forbidden"},
}


@dataclass(frozen=True)
class CreatedRoom:
    room_id: str
    alias: str | None
    #: Invitees on other servers whose invite failed (the room exists regardless).
    failed_invites: tuple[str, ...] = ()


@dataclass(frozen=True)
class CreateRoomRequest:
    visibility: str = "private"
    room_alias_name: str | None = None
    name: str | None = None
    topic: str | None = None
    invite: tuple[str, ...] = ()
    room_version: str | None = None
    creation_content: dict[str, Any] = field(default_factory=dict)
    initial_state: tuple[dict[str, Any], ...] = ()
    preset: str | None = None
    is_direct: bool = False
    power_level_content_override: dict[str, Any] | None = None


def default_power_levels(version: RoomVersion, creator: str, trusted: list[str]) -> dict[str, Any]:
    """The power levels of a new room (creators are implicit from room version 12)."""
    v12 = version.auth.explicitly_privilege_room_creators
    users = {} if v12 else {creator: 100, **{u: 100 for u in trusted}}
    return {
        "users": users,
        "users_default": 0,
        "events": {
            "m.room.name": 50,
            "m.room.power_levels": 100,
            "m.room.history_visibility": 100,
            "m.room.canonical_alias": 50,
            "m.room.avatar": 50,
            "m.room.tombstone": 150 if v12 else 100,
            "m.room.server_acl": 100,
            "m.room.encryption": 100,
        },
        "events_default": 0,
        "state_default": 50,
        "ban": 50,
        "kick": 50,
        "redact": 50,
        "invite": 50,
        "notifications": {"room": 50},
    }


class RoomCreator:
    def __init__(
        self,
        *,
        db: Database,
        sender: EventSender,
        remote: RemoteMembership,
        rooms: RoomStore,
        aliases: AliasStore,
        clock: Clock,
        server_name: str,
        default_version: str,
        rate_limiter: RateLimiter,
        accounts: AccountStore,
    ) -> None:
        self._rate_limiter = rate_limiter
        self._accounts = accounts
        self._db = db
        self._sender = sender
        self._remote = remote
        self._rooms = rooms
        self._aliases = aliases
        self._clock = clock
        self._server_name = server_name
        self._default_version = default_version

    async def create_room(self, creator: str, request: CreateRoomRequest, *, rate_limited: bool = True) -> CreatedRoom:
        """Create a room, then invite its invitees of other servers (all at once; one
        that fails is reported in the result, and the room stays). ``rate_limited=False``
        for rooms the server creates on an admin's behalf (server notices rooms)."""
        if len(request.initial_state) > MAX_INITIAL_STATE:
            raise MatrixError("M_INVALID_PARAM", f"initial_state is limited to {MAX_INITIAL_STATE} events")
        if len(request.invite) > MAX_INVITES:
            raise MatrixError("M_INVALID_PARAM", f"invite is limited to {MAX_INVITES} users")
        if rate_limited:
            self._rate_limiter.check("room_creation", creator)
            for _ in request.invite:
                self._rate_limiter.check("invite", creator)
        version = self._room_version(request.room_version)
        preset = request.preset or ("public_chat" if request.visibility == "public" else "private_chat")
        if preset not in PRESETS:
            raise MatrixError("M_INVALID_PARAM", f"Unknown preset {preset!r}")
        alias = self._alias(request.room_alias_name)
        for user in request.invite:
            if not is_valid_user_id(user):
                raise MatrixError("M_INVALID_PARAM", f"{user!r} is not a user ID")
        invitees = list(dict.fromkeys(request.invite))
        remote_invitees = [u for u in invitees if get_domain_from_id(u) != self._server_name]
        initial_state = [_check_initial_state(entry) for entry in request.initial_state]
        trusted = list(request.invite) if preset == "trusted_private_chat" else []

        creation_content = {
            k: v for k, v in request.creation_content.items() if k not in ("creator", "room_version")
        }
        creation_content["room_version"] = version.identifier
        if not version.auth.use_room_create_sender:
            creation_content["creator"] = creator
        if version.auth.additional_room_creators and trusted:
            extra = creation_content.get("additional_creators") or []
            creation_content["additional_creators"] = list(dict.fromkeys([*extra, *trusted]))

        async with self._db.transaction("create_room"):
            room_id_hint = None if version.auth.room_create_event_id_as_room_id else self._new_room_id()
            created = await self._sender.create_room_event(version, room_id_hint, creator, creation_content)
            room_id = created.event.room_id
            send = self._sender.send

            join = {"membership": "join", **await member_profile(self._accounts, creator)}
            await send(room_id, creator, "m.room.member", join, state_key=creator)
            power_levels = default_power_levels(version, creator, trusted)
            if request.power_level_content_override:
                power_levels.update(request.power_level_content_override)
            await send(room_id, creator, "m.room.power_levels", power_levels, state_key="")
            if alias is not None:
                if not await self._aliases.create(alias, room_id, creator, self._clock.time_ms()):
                    raise MatrixError("M_ROOM_IN_USE", "Room alias already taken")
                await send(room_id, creator, "m.room.canonical_alias", {"alias": alias}, state_key="")
            settings = PRESETS[preset]
            explicit = {(e["type"], e["state_key"]) for e in initial_state}
            for event_type, key, content in (
                ("m.room.join_rules", "join_rule", settings["join_rule"]),
                ("m.room.history_visibility", "history_visibility", settings["history_visibility"]),
                ("m.room.guest_access", "guest_access", settings["guest_access"]),
            ):
                if (event_type, "") not in explicit:
                    await send(room_id, creator, event_type, {key: content}, state_key="")
            overridden = {
                key for key, value in ((("m.room.name", ""), request.name), (("m.room.topic", ""), request.topic))
                if value is not None
            }
            for entry in initial_state:
                if (entry["type"], entry["state_key"]) in overridden:
                    continue  # the name and topic parameters win over initial_state
                await send(room_id, creator, entry["type"], entry["content"], state_key=entry["state_key"])
            if request.name is not None:
                await send(room_id, creator, "m.room.name", {"name": request.name}, state_key="")
            if request.topic is not None:
                topic = {"topic": request.topic, "m.topic": {"m.text": [{"mimetype": "text/plain", "body": request.topic}]}}
                await send(room_id, creator, "m.room.topic", topic, state_key="")
            invite = {"membership": "invite", **({"is_direct": True} if request.is_direct else {})}
            for user in invitees:
                if user not in remote_invitees:
                    await send(room_id, creator, "m.room.member", dict(invite), state_key=user)
            if request.visibility == "public":
                await self._rooms.set_public(room_id, True)
        invited = await asyncio.gather(
            *(self._invite_remote(creator, room_id, user, dict(invite)) for user in remote_invitees)
        )
        failed = tuple(user for user, ok in zip(remote_invitees, invited) if not ok)
        return CreatedRoom(room_id, alias, failed)

    async def _invite_remote(self, creator: str, room_id: str, invitee: str, content: dict[str, Any]) -> bool:
        """Invite a user of another server into the new room; whether that worked (a
        failure is logged, not raised)."""
        try:
            await self._remote.invite_remote(creator, room_id, invitee, content)
        except (MatrixError, RemoteUnavailable) as e:
            logger.warning("create_room_invite_failed", room_id=room_id, invitee=invitee,
                           errcode=getattr(e, "errcode", None), error=str(e))
            return False
        return True

    def _room_version(self, requested: str | None) -> RoomVersion:
        identifier = requested or self._default_version
        if identifier not in KNOWN_ROOM_VERSIONS:
            raise MatrixError("M_UNSUPPORTED_ROOM_VERSION", f"Room version {identifier!r} is not supported")
        return KNOWN_ROOM_VERSIONS[identifier]

    def _alias(self, localpart: str | None) -> str | None:
        if localpart is None:
            return None
        if not localpart or any(c in localpart for c in ":# \x00"):
            raise MatrixError("M_INVALID_PARAM", "Invalid characters in room alias")
        alias = f"#{localpart}:{self._server_name}"
        if len(alias.encode()) > 255:
            raise MatrixError("M_INVALID_PARAM", "Room alias is too long")
        return alias

    def _new_room_id(self) -> str:
        opaque = "".join(secrets.choice(string.ascii_letters) for _ in range(18))
        return f"!{opaque}:{self._server_name}"


def _check_initial_state(entry: Any) -> dict[str, Any]:
    if not isinstance(entry, dict) or not isinstance(entry.get("type"), str):
        raise MatrixError("M_INVALID_ROOM_STATE", "initial_state entries need a type")
    state_key = entry.get("state_key", "")
    content = entry.get("content")
    if not isinstance(state_key, str) or not isinstance(content, dict):
        raise MatrixError("M_INVALID_ROOM_STATE", "initial_state entries need a string state_key and object content")
    if entry["type"] in ("m.room.create", "m.room.member", "m.room.power_levels"):
        raise MatrixError("M_INVALID_ROOM_STATE", f"{entry['type']} cannot be part of initial_state")
    return {"type": entry["type"], "state_key": state_key, "content": content}
