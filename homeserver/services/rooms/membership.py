"""Joining, inviting, leaving, kicking, banning, unbanning, knocking and
forgetting (spec: Client-Server API, "Room membership")."""

from __future__ import annotations

from typing import Any

from homeserver.core.events import Event
from homeserver.core.identifiers import get_domain_from_id, is_valid_room_alias, is_valid_room_id, is_valid_user_id
from homeserver.errors import MatrixError
from homeserver.services.ports import FederationQueries, RemoteUnavailable
from homeserver.services.rooms.guest_access import GuestAccess
from homeserver.services.rooms.remote_membership import RemoteMembership
from homeserver.services.rooms.restricted import restricted_join_authoriser
from homeserver.services.auth import Requester
from homeserver.services.ratelimit import RateLimiter
from homeserver.services.rooms.sender import EventSender
from storage.accounts import AccountStore
from storage.events import EventStore
from storage.rooms import AliasStore, RoomStore
from storage.server_notices import ServerNoticeStore
from storage.state import StateStore


class MembershipService:
    def __init__(
        self,
        *,
        sender: EventSender,
        rooms: RoomStore,
        aliases: AliasStore,
        state: StateStore,
        events: EventStore,
        accounts: AccountStore,
        rate_limiter: RateLimiter,
        remote: RemoteMembership,
        federation: FederationQueries,
        guest_access: GuestAccess,
        notice_rooms: ServerNoticeStore,
        server_name: str,
    ) -> None:
        self._guest_access = guest_access
        self._notice_rooms = notice_rooms
        self._remote = remote
        self._federation = federation
        self._sender = sender
        self._rooms = rooms
        self._aliases = aliases
        self._state = state
        self._events = events
        self._accounts = accounts
        self._rate_limiter = rate_limiter
        self._server_name = server_name

    async def resolve_room(self, room_id_or_alias: str) -> str:
        """A room ID from a room ID or a local alias (``M_NOT_FOUND`` otherwise)."""
        if room_id_or_alias.startswith("#"):
            if not is_valid_room_alias(room_id_or_alias):
                raise MatrixError("M_INVALID_PARAM", "Invalid room alias")
            found = await self._aliases.get(room_id_or_alias)
            if found is None:
                raise MatrixError("M_NOT_FOUND", "Room alias not found")
            return found[0]
        if not is_valid_room_id(room_id_or_alias):
            raise MatrixError("M_INVALID_PARAM", "Invalid room ID or alias")
        return room_id_or_alias

    async def join(
        self, requester: Requester, room_id_or_alias: str, reason: str | None = None, via: list[str] | None = None
    ) -> str:
        """Join a room: locally when this server is in it, else through a server that is.

        ``via`` names servers to ask; a remote alias brings its own list, and a
        room ID that names a server (before room version 12) adds that one.
        A suspended user may join only their server notices room (the spec recommends
        keeping the way to the administrators open).
        """
        if requester.is_suspended and await self._notice_rooms.room_of(requester.user_id) != room_id_or_alias:
            requester.require_unsuspended()
        self._rate_limiter.check("join", requester.user_id)
        servers = list(via or [])
        if room_id_or_alias.startswith("#") and get_domain_from_id(room_id_or_alias) != self._server_name:
            try:
                answer = await self._federation.query_directory(get_domain_from_id(room_id_or_alias), room_id_or_alias)
            except RemoteUnavailable as e:
                raise MatrixError("M_NOT_FOUND", f"Room alias not found: {e}") from None
            room_id = answer.get("room_id")
            if not isinstance(room_id, str):
                raise MatrixError("M_NOT_FOUND", "Room alias not found")
            servers += [s for s in answer.get("servers", []) if isinstance(s, str)]
        else:
            room_id = await self.resolve_room(room_id_or_alias)
        if requester.is_guest:
            await self._guest_access.check_join(room_id)
        room = await self._rooms.get_room(room_id)
        if room is None or room.current_state_group is None:
            if ":" in room_id:
                servers.append(get_domain_from_id(room_id))
            invite = await self._invite_of(room_id, requester.user_id)
            if invite is not None:
                servers.append(get_domain_from_id(invite.sender))
            if not servers:
                raise MatrixError("M_NOT_FOUND", "No known room with that ID or alias")
            content = await self._profile_content("join", requester.user_id, reason)
            await self._remote.join(requester.user_id, room_id, list(dict.fromkeys(servers)), content)
            return room_id
        if await self._rooms.membership(room_id, requester.user_id) == "join":
            return room_id
        content = await self._profile_content("join", requester.user_id, reason)
        authoriser = await self._restricted_join_authoriser(room_id, requester.user_id)
        if authoriser is not None:
            content["join_authorised_via_users_server"] = authoriser
        await self._sender.send(room_id, requester.user_id, "m.room.member", content, state_key=requester.user_id)
        return room_id

    async def _invite_of(self, room_id: str, user_id: str) -> Event | None:
        """The user's pending invite to a room, if that is their membership."""
        event = await self._membership_event_of(room_id, user_id)
        return event if event is not None and event.membership == "invite" else None

    async def _membership_event_of(self, room_id: str, user_id: str) -> Event | None:
        """The event of the user's current membership in a room, if there is one."""
        memberships = await self._rooms.current_memberships_of_user(user_id)
        _, event_id, _ = memberships.get(room_id, (None, "", 0))
        stored = await self._events.get_event(event_id) if event_id else None
        return stored.event if stored is not None else None

    async def invite(self, requester: Requester, room_id: str, target: str, reason: str | None = None) -> None:
        self._check_target(target)
        requester.require_unsuspended()
        self._rate_limiter.check("invite", requester.user_id)
        remote = get_domain_from_id(target) != self._server_name
        if not remote and not await self._accounts.user_exists(target):
            raise MatrixError("M_NOT_FOUND", "Unknown user")
        await self._require_room(room_id)
        current = await self._rooms.membership(room_id, target)
        if current == "join":
            raise MatrixError("M_FORBIDDEN", f"{target} is already in the room")
        if current == "ban":
            raise MatrixError("M_FORBIDDEN", f"{target} is banned from the room")
        content: dict[str, Any] = {"membership": "invite"}
        if reason:
            content["reason"] = reason
        if remote:
            await self._remote.invite_remote(requester.user_id, room_id, target, content)
            return
        await self._membership_event(requester, room_id, target, content)

    async def leave(self, requester: Requester, room_id: str, reason: str | None = None) -> None:
        """Leave a room or reject an invite; the invite to one's server notices room
        cannot be rejected (spec: "Server Notices"), though the room can be left once joined."""
        if (
            await self._rooms.membership(room_id, requester.user_id) == "invite"
            and await self._notice_rooms.room_of(requester.user_id) == room_id
        ):
            raise MatrixError(
                "M_CANNOT_LEAVE_SERVER_NOTICE_ROOM", "The invite to the server notices room cannot be rejected",
                status=403,
            )
        await self.part(requester.user_id, room_id, reason)

    async def part(self, user_id: str, room_id: str, reason: str | None = None) -> None:
        """Leave a room, reject an invite to it or retract a knock on it."""
        room = await self._rooms.get_room(room_id)
        if room is not None and room.current_state_group is None:
            await self._leave_outside(user_id, room_id, reason)
            return
        await self._require_room(room_id)
        current = await self._rooms.membership(room_id, user_id)
        if current not in ("join", "invite", "knock"):
            raise MatrixError("M_FORBIDDEN", "You are not in this room")
        content = await self._profile_content("leave", user_id, reason)
        await self._sender.send(room_id, user_id, "m.room.member", content, state_key=user_id)

    async def refresh_profile(self, user_id: str, room_id: str) -> bool:
        """Send a join carrying the user's current display name and avatar to a room
        whose membership event has others (spec: "Events on change of profile
        information"); whether one was sent."""
        event = await self._membership_event_of(room_id, user_id)
        if event is None or event.membership != "join":
            return False
        profile = await self._profile_fields(user_id)
        if all(event.content.get(k) == profile.get(k) for k in ("displayname", "avatar_url")):
            return False
        await self._sender.send(
            room_id, user_id, "m.room.member", {"membership": "join", **profile}, state_key=user_id
        )
        return True

    async def _leave_outside(self, user_id: str, room_id: str, reason: str | None) -> None:
        """Reject an invite to, or retract a knock on, a room this server is not in, through
        the servers likeliest to be in it: the inviter's or the one the knock went through,
        then those of the preview state's senders, then the room ID's."""
        event = await self._membership_event_of(room_id, user_id)
        if event is None or event.membership not in ("invite", "knock"):
            raise MatrixError("M_FORBIDDEN", "You are not in this room")
        if event.membership == "invite":
            first = get_domain_from_id(event.sender)
        else:
            first = await self._rooms.knocked_via(room_id, user_id)
        servers = [first] if first else []
        preview = await self._rooms.invite_state(room_id, user_id)
        servers += [get_domain_from_id(e["sender"]) for e in preview
                    if isinstance(e.get("sender"), str) and is_valid_user_id(e["sender"])]
        if ":" in room_id:
            servers.append(get_domain_from_id(room_id))
        await self._remote.leave_outside(user_id, room_id, list(dict.fromkeys(servers)), reason)

    async def kick(self, requester: Requester, room_id: str, target: str, reason: str | None = None) -> None:
        self._check_target(target)
        await self._require_room(room_id)
        if await self._rooms.membership(room_id, target) not in ("join", "invite", "knock"):
            raise MatrixError("M_FORBIDDEN", f"{target} is not in the room")
        content: dict[str, Any] = {"membership": "leave", **({"reason": reason} if reason else {})}
        await self._membership_event(requester, room_id, target, content)

    async def ban(self, requester: Requester, room_id: str, target: str, reason: str | None = None) -> None:
        self._check_target(target)
        await self._require_room(room_id)
        content: dict[str, Any] = {"membership": "ban", **({"reason": reason} if reason else {})}
        await self._membership_event(requester, room_id, target, content)

    async def unban(self, requester: Requester, room_id: str, target: str, reason: str | None = None) -> None:
        self._check_target(target)
        await self._require_room(room_id)
        if await self._rooms.membership(room_id, target) != "ban":
            raise MatrixError("M_BAD_STATE", f"{target} is not banned")
        content: dict[str, Any] = {"membership": "leave", **({"reason": reason} if reason else {})}
        await self._membership_event(requester, room_id, target, content)

    async def knock(
        self, requester: Requester, room_id_or_alias: str, reason: str | None = None, via: list[str] | None = None
    ) -> str:
        requester.require_unsuspended()
        self._rate_limiter.check("join", requester.user_id)
        room_id = await self.resolve_room(room_id_or_alias)
        room = await self._rooms.get_room(room_id)
        if room is None or room.current_state_group is None:
            servers = list(via or []) + ([get_domain_from_id(room_id)] if ":" in room_id else [])
            content = await self._profile_content("knock", requester.user_id, reason)
            await self._remote.knock(requester.user_id, room_id, list(dict.fromkeys(servers)), content)
            return room_id
        await self._require_room(room_id)
        content = await self._profile_content("knock", requester.user_id, reason)
        await self._sender.send(room_id, requester.user_id, "m.room.member", content, state_key=requester.user_id)
        return room_id

    async def forget(self, requester: Requester, room_id: str) -> None:
        current = await self._rooms.membership(room_id, requester.user_id)
        if current in ("join", "invite", "knock"):
            raise MatrixError("M_UNKNOWN", f"{requester.user_id} is in room {room_id}", status=400)
        if current is None:
            raise MatrixError("M_NOT_FOUND", "You have never been in this room")
        await self._rooms.forget(requester.user_id, room_id)

    async def joined_rooms(self, user_id: str) -> list[str]:
        return await self._rooms.rooms_for_user(user_id, "join")

    # -- internals ----------------------------------------------------------------------

    async def _membership_event(
        self, requester: Requester, room_id: str, target: str, content: dict[str, Any]
    ) -> None:
        if content["membership"] in ("invite", "knock", "join") or target == requester.user_id:
            content = {**await self._profile_fields(target), **content}
        await self._sender.send(room_id, requester.user_id, "m.room.member", content, state_key=target)

    async def _profile_content(self, membership: str, user_id: str, reason: str | None) -> dict[str, Any]:
        content: dict[str, Any] = {**await self._profile_fields(user_id), "membership": membership}
        if reason:
            content["reason"] = reason
        return content

    async def _profile_fields(self, user_id: str) -> dict[str, Any]:
        if get_domain_from_id(user_id) != self._server_name:
            return {}
        return await member_profile(self._accounts, user_id)

    async def _restricted_join_authoriser(self, room_id: str, user_id: str) -> str | None:
        return await restricted_join_authoriser(
            self._rooms, self._state, self._events, self._server_name, room_id, user_id
        )

    async def _require_room(self, room_id: str) -> None:
        if not is_valid_room_id(room_id):
            raise MatrixError("M_INVALID_PARAM", "Invalid room ID")
        if await self._rooms.get_room(room_id) is None:
            raise MatrixError("M_NOT_FOUND", "Unknown room")

    @staticmethod
    def _check_target(target: str) -> None:
        if not is_valid_user_id(target):
            raise MatrixError("M_INVALID_PARAM", f"{target!r} is not a user ID")


async def member_profile(accounts: AccountStore, user_id: str) -> dict[str, str]:
    """The display name and avatar a local user's own membership events carry (spec:
    ``m.room.member``, "events on change of profile information")."""
    profile = await accounts.get_profile(user_id)
    return {k: profile[k] for k in ("displayname", "avatar_url") if isinstance(profile.get(k), str)}
