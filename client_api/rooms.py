"""Rooms: creation, membership, sending and reading (spec: Client-Server API, "Rooms",
"Room membership", "Sending events to a room", "Getting events for a room")."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from client_api.auth import Authenticator
from homeserver.http import Route, field, json_response, query_int, read_json
from homeserver.errors import MatrixError
from homeserver.services.auth import Requester
from homeserver.services.filters import EventFilter, FilterService
from homeserver.services.rooms.creation import CreateRoomRequest, RoomCreator
from homeserver.services.rooms.membership import MembershipService
from homeserver.services.rooms.messages import MessageService
from homeserver.services.rooms.timeline import TimelineService, event_at_timestamp
from homeserver.services.rooms.upgrade import RoomUpgrader
from storage.events import EventStore

V3 = "/_matrix/client/v3"
ROOM = f"{V3}/rooms/{{room_id}}"


class RoomRoutes:
    def __init__(
        self,
        authenticator: Authenticator,
        creator: RoomCreator,
        membership: MembershipService,
        messages: MessageService,
        timeline: TimelineService,
        filters: FilterService,
        upgrader: RoomUpgrader,
        events: EventStore,
    ) -> None:
        self._auth = authenticator
        self._creator = creator
        self._membership = membership
        self._messages = messages
        self._timeline = timeline
        self._filters = filters
        self._upgrader = upgrader
        self._events = events

    def routes(self) -> list[Route]:
        return [
            Route("POST", f"{V3}/createRoom", self.create_room),
            Route("POST", f"{V3}/join/{{room_id_or_alias}}", self.join),
            Route("POST", f"{ROOM}/join", self.join_by_id),
            Route("POST", f"{V3}/knock/{{room_id_or_alias}}", self.knock),
            Route("POST", f"{ROOM}/invite", self.invite),
            Route("POST", f"{ROOM}/leave", self.leave),
            Route("POST", f"{ROOM}/forget", self.forget),
            Route("POST", f"{ROOM}/kick", self.kick),
            Route("POST", f"{ROOM}/ban", self.ban),
            Route("POST", f"{ROOM}/unban", self.unban),
            Route("GET", f"{V3}/joined_rooms", self.joined_rooms),
            Route("PUT", f"{ROOM}/send/{{event_type}}/{{txn_id}}", self.send),
            Route("PUT", f"{ROOM}/state/{{event_type}}", self.put_state),
            # The state key may be empty, with or without the slash before it.
            Route("PUT", f"{ROOM}/state/{{event_type}}/{{state_key:[^/]*}}", self.put_state),
            Route("GET", f"{ROOM}/state", self.get_state),
            Route("GET", f"{ROOM}/state/{{event_type}}", self.get_state_event),
            Route("GET", f"{ROOM}/state/{{event_type}}/{{state_key:[^/]*}}", self.get_state_event),
            Route("PUT", f"{ROOM}/redact/{{event_id}}/{{txn_id}}", self.redact),
            Route("GET", f"{ROOM}/event/{{event_id}}", self.get_event),
            Route("GET", f"{ROOM}/messages", self.messages),
            Route("GET", f"{ROOM}/context/{{event_id}}", self.context),
            Route("GET", f"{ROOM}/members", self.members),
            Route("GET", f"{ROOM}/joined_members", self.joined_members),
            Route("POST", f"{ROOM}/upgrade", self.upgrade),
            Route("GET", "/_matrix/client/v1/rooms/{room_id}/timestamp_to_event", self.timestamp_to_event),
        ]

    async def create_room(self, request: web.Request) -> web.Response:
        """POST /_matrix/client/v3/createRoom."""
        requester = await self._auth.requester(request)
        body = await read_json(request, allow_empty=True)
        visibility = field(body, "visibility", str, required=False, default="private")
        if visibility not in ("public", "private"):
            raise MatrixError("M_INVALID_PARAM", "visibility must be public or private")
        invite = field(body, "invite", list, required=False, default=[])
        if not all(isinstance(u, str) for u in invite):
            raise MatrixError("M_BAD_JSON", "invite must be an array of user IDs")
        if field(body, "invite_3pid", list, required=False, default=[]):
            raise MatrixError("M_INVALID_PARAM", "Third-party invites are not supported")
        initial_state = field(body, "initial_state", list, required=False, default=[])
        created = await self._creator.create_room(
            requester.user_id,
            CreateRoomRequest(
                visibility=visibility,
                room_alias_name=field(body, "room_alias_name", str, required=False),
                name=field(body, "name", str, required=False),
                topic=field(body, "topic", str, required=False),
                invite=tuple(invite),
                room_version=field(body, "room_version", str, required=False),
                creation_content=field(body, "creation_content", dict, required=False, default={}),
                initial_state=tuple(initial_state),
                preset=field(body, "preset", str, required=False),
                is_direct=field(body, "is_direct", bool, required=False, default=False),
                power_level_content_override=field(body, "power_level_content_override", dict, required=False),
            ),
        )
        answer: dict[str, Any] = {"room_id": created.room_id}
        if created.failed_invites:
            # Not in the spec (which has no way to say it): which invites did not reach their server.
            answer["io.hearth.failed_invites"] = list(created.failed_invites)
        return json_response(answer)

    async def join(self, request: web.Request) -> web.Response:
        """POST /_matrix/client/v3/join/{roomIdOrAlias}."""
        requester = await self._auth.requester(request, allow_guest=True)
        body = await read_json(request, allow_empty=True)
        via = request.query.getall("via", []) + request.query.getall("server_name", [])
        room_id = await self._membership.join(
            requester, request.match_info["room_id_or_alias"], field(body, "reason", str, required=False), via=via
        )
        return json_response({"room_id": room_id})

    async def join_by_id(self, request: web.Request) -> web.Response:
        """POST /_matrix/client/v3/rooms/{roomId}/join."""
        requester = await self._auth.requester(request, allow_guest=True)
        body = await read_json(request, allow_empty=True)
        room_id = await self._membership.join(
            requester, request.match_info["room_id"], field(body, "reason", str, required=False),
            via=request.query.getall("via", []),
        )
        return json_response({"room_id": room_id})

    async def knock(self, request: web.Request) -> web.Response:
        """POST /_matrix/client/v3/knock/{roomIdOrAlias}."""
        requester = await self._auth.requester(request)
        body = await read_json(request, allow_empty=True)
        room_id = await self._membership.knock(
            requester, request.match_info["room_id_or_alias"], field(body, "reason", str, required=False),
            via=request.query.getall("via", []) + request.query.getall("server_name", []),
        )
        return json_response({"room_id": room_id})

    async def invite(self, request: web.Request) -> web.Response:
        """POST /_matrix/client/v3/rooms/{roomId}/invite."""
        requester, target, reason = await self._target_request(request)
        await self._membership.invite(requester, request.match_info["room_id"], target, reason)
        return json_response({})

    async def leave(self, request: web.Request) -> web.Response:
        """POST /_matrix/client/v3/rooms/{roomId}/leave."""
        requester = await self._auth.requester(request, allow_guest=True)
        body = await read_json(request, allow_empty=True)
        await self._membership.leave(requester, request.match_info["room_id"], field(body, "reason", str, required=False))
        return json_response({})

    async def forget(self, request: web.Request) -> web.Response:
        """POST /_matrix/client/v3/rooms/{roomId}/forget."""
        requester = await self._auth.requester(request)
        await self._membership.forget(requester, request.match_info["room_id"])
        return json_response({})

    async def kick(self, request: web.Request) -> web.Response:
        """POST /_matrix/client/v3/rooms/{roomId}/kick."""
        requester, target, reason = await self._target_request(request)
        await self._membership.kick(requester, request.match_info["room_id"], target, reason)
        return json_response({})

    async def ban(self, request: web.Request) -> web.Response:
        """POST /_matrix/client/v3/rooms/{roomId}/ban."""
        requester, target, reason = await self._target_request(request)
        await self._membership.ban(requester, request.match_info["room_id"], target, reason)
        return json_response({})

    async def unban(self, request: web.Request) -> web.Response:
        """POST /_matrix/client/v3/rooms/{roomId}/unban."""
        requester, target, reason = await self._target_request(request)
        await self._membership.unban(requester, request.match_info["room_id"], target, reason)
        return json_response({})

    async def joined_rooms(self, request: web.Request) -> web.Response:
        """GET /_matrix/client/v3/joined_rooms."""
        requester = await self._auth.requester(request)
        return json_response({"joined_rooms": await self._membership.joined_rooms(requester.user_id)})

    async def send(self, request: web.Request) -> web.Response:
        """PUT /_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}."""
        requester = await self._auth.requester(request, allow_guest=True)
        body = await read_json(request, allow_empty=False)
        event_id = await self._messages.send_message(
            requester, request.match_info["room_id"], request.match_info["event_type"], body,
            request.match_info["txn_id"],
        )
        return json_response({"event_id": event_id})

    async def put_state(self, request: web.Request) -> web.Response:
        """PUT /_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey}."""
        requester = await self._auth.requester(request, allow_guest=True)
        body = await read_json(request)
        event_id = await self._messages.set_state(
            requester, request.match_info["room_id"], request.match_info["event_type"],
            request.match_info.get("state_key", ""), body,
        )
        return json_response({"event_id": event_id})

    async def get_state(self, request: web.Request) -> web.Response:
        """GET /_matrix/client/v3/rooms/{roomId}/state."""
        requester = await self._auth.requester(request, allow_guest=True)
        return json_response(await self._timeline.state_events(requester, request.match_info["room_id"]))

    async def get_state_event(self, request: web.Request) -> web.Response:
        """GET /_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey}[?format=event]."""
        requester = await self._auth.requester(request, allow_guest=True)
        item = await self._timeline.state_event(
            requester, request.match_info["room_id"], request.match_info["event_type"],
            request.match_info.get("state_key", ""),
        )
        if request.query.get("format") == "event":
            return json_response((await self._timeline.serialize(requester, [item]))[0])
        return json_response(dict(item.event.content))

    async def redact(self, request: web.Request) -> web.Response:
        """PUT /_matrix/client/v3/rooms/{roomId}/redact/{eventId}/{txnId}."""
        requester = await self._auth.requester(request)
        body = await read_json(request, allow_empty=True)
        reason = field(body, "reason", str, required=False)
        content: dict[str, Any] = {k: v for k, v in body.items() if k != "redacts"}
        if reason is not None:
            content["reason"] = reason
        event_id = await self._messages.redact(
            requester, request.match_info["room_id"], request.match_info["event_id"], content,
            request.match_info["txn_id"],
        )
        return json_response({"event_id": event_id})

    async def get_event(self, request: web.Request) -> web.Response:
        """GET /_matrix/client/v3/rooms/{roomId}/event/{eventId}."""
        requester = await self._auth.requester(request, allow_guest=True)
        return json_response(
            await self._timeline.get_event(requester, request.match_info["room_id"], request.match_info["event_id"])
        )

    async def messages(self, request: web.Request) -> web.Response:
        """GET /_matrix/client/v3/rooms/{roomId}/messages."""
        requester = await self._auth.requester(request, allow_guest=True)
        direction = request.query.get("dir")
        if direction is None:
            raise MatrixError("M_MISSING_PARAM", "dir is required")
        event_filter = await self._event_filter(request, requester.user_id)
        limit = query_int(request, "limit", 10) or 0
        if event_filter.limit is not None:
            limit = min(limit, event_filter.limit)
        return json_response(
            await self._timeline.messages(
                requester, request.match_info["room_id"],
                from_token=request.query.get("from"), to_token=request.query.get("to"),
                direction=direction, limit=limit, event_filter=event_filter,
            )
        )

    async def context(self, request: web.Request) -> web.Response:
        """GET /_matrix/client/v3/rooms/{roomId}/context/{eventId}."""
        requester = await self._auth.requester(request, allow_guest=True)
        event_filter = await self._event_filter(request, requester.user_id)
        limit = query_int(request, "limit", 10) or 0
        return json_response(
            await self._timeline.context(
                requester, request.match_info["room_id"], request.match_info["event_id"], limit, event_filter
            )
        )

    async def members(self, request: web.Request) -> web.Response:
        """GET /_matrix/client/v3/rooms/{roomId}/members."""
        requester = await self._auth.requester(request, allow_guest=True)
        chunk = await self._timeline.members(
            requester, request.match_info["room_id"], at=request.query.get("at"),
            membership=request.query.get("membership"), not_membership=request.query.get("not_membership"),
        )
        return json_response({"chunk": chunk})

    async def joined_members(self, request: web.Request) -> web.Response:
        """GET /_matrix/client/v3/rooms/{roomId}/joined_members."""
        requester = await self._auth.requester(request)
        return json_response({"joined": await self._timeline.joined_members(requester, request.match_info["room_id"])})

    async def upgrade(self, request: web.Request) -> web.Response:
        """POST /_matrix/client/v3/rooms/{roomId}/upgrade."""
        requester = await self._auth.requester(request)
        body = await read_json(request)
        extra = field(body, "additional_creators", list, required=False, default=[])
        room_id = await self._upgrader.upgrade(
            requester, request.match_info["room_id"], field(body, "new_version", str), extra
        )
        return json_response({"replacement_room": room_id})

    async def timestamp_to_event(self, request: web.Request) -> web.Response:
        """GET /_matrix/client/v1/rooms/{roomId}/timestamp_to_event?ts=&dir=."""
        requester = await self._auth.requester(request)
        ts = query_int(request, "ts")
        if ts is None:
            raise MatrixError("M_MISSING_PARAM", "ts is required")
        return json_response(
            await event_at_timestamp(
                self._timeline, self._events, requester, request.match_info["room_id"], ts,
                request.query.get("dir", "f"),
            )
        )

    async def _target_request(self, request: web.Request) -> tuple[Requester, str, str | None]:
        requester = await self._auth.requester(request)
        body = await read_json(request)
        return requester, field(body, "user_id", str), field(body, "reason", str, required=False)

    async def _event_filter(self, request: web.Request, user_id: str) -> EventFilter:
        return await self._filters.resolve_event_filter(user_id, request.query.get("filter"))
