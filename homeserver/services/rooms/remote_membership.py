"""Joins, leaves and invites across servers (spec: Server-Server API, "Joining
Rooms", "Leaving Rooms (Rejecting Invites)", "Inviting to a room").

As the resident server, Hearth hands out join and leave templates built on
the current room (``make_join``/``make_leave``), takes the signed events back
through the same checks as any PDU (``send_join``/``send_leave``) and passes
them on to the room's other servers. As the joining server it signs the
template, checks the room state and auth chain that ``send_join`` returns and
stores the room. An invite to a user of another server is co-signed by that
server before it enters the room; an invite from another server to a room
Hearth is not in is kept with the preview state sent along, until the user
joins (through the inviter's server) or rejects it (``make_leave`` there). A
knock on such a room is kept the same way, with the server it went through,
the first one asked to take the leave when the user retracts it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeserver.clock import Clock
from homeserver.core import auth_rules
from homeserver.core.builder import references, server_event_id
from homeserver.core.events import Event
from homeserver.core.identifiers import get_domain_from_id, is_valid_user_id
from homeserver.core.room_versions import EventIdFormat, RoomVersion, get_room_version
from homeserver.core.signing import ServerSigningKey, hash_and_sign_event
from homeserver.errors import MatrixError
from homeserver.services.ports import FederationQueries, OutboundFederation, RemoteUnavailable
from homeserver.services.rooms.remote import JOINABLE_VERSIONS, Rejected, RemoteEvents, topological
from homeserver.services.rooms.restricted import restricted_join_authoriser
from homeserver.services.rooms.sender import MAX_PREV_EVENTS, EventSender
from homeserver.services.sync.stripped import stripped_state
from storage.accounts import AccountStore
from storage.database import Database
from storage.events import EVENTS_STREAM, EventStore
from storage.rooms import MembershipChange, RoomRecord, RoomStore
from storage.state import StateStore
from storage.streams import next_positions


class RemoteMembership:
    def __init__(
        self,
        *,
        db: Database,
        remote: RemoteEvents,
        sender: EventSender,
        events: EventStore,
        state: StateStore,
        rooms: RoomStore,
        accounts: AccountStore,
        federation: FederationQueries,
        outbound: OutboundFederation,
        clock: Clock,
        server_name: str,
        signing_key: ServerSigningKey,
    ) -> None:
        self._db = db
        self._remote = remote
        self._sender = sender
        self._events = events
        self._state = state
        self._rooms = rooms
        self._accounts = accounts
        self._federation = federation
        self._outbound = outbound
        self._clock = clock
        self._server_name = server_name
        self._signing_key = signing_key

    # -- joins: the resident side -----------------------------------------------------------

    async def make_join(self, origin: str, room_id: str, user_id: str, versions: list[str]) -> dict[str, Any]:
        """A join event template for ``user_id`` of ``origin``, built on the current room."""
        return await self._template(origin, room_id, user_id, "join", versions)

    async def make_knock(self, origin: str, room_id: str, user_id: str, versions: list[str]) -> dict[str, Any]:
        """A knock event template (knocking needs room version 7+)."""
        return await self._template(origin, room_id, user_id, "knock", versions)

    async def send_knock(self, origin: str, room_id: str, event_id: str, pdu: Any) -> dict[str, Any]:
        """Take a signed knock; answer with the room's preview state."""
        event = await self._accept_membership(origin, room_id, event_id, pdu, "knock")
        state = await self._remote.state_before(event)
        return {"knock_room_state": await stripped_state(self._events, state, event.event_id)}

    async def make_leave(self, origin: str, room_id: str, user_id: str) -> dict[str, Any]:
        """A leave event template (to reject an invite, or leave, from outside the room)."""
        return await self._template(origin, room_id, user_id, "leave", None)

    async def _template(
        self, origin: str, room_id: str, user_id: str, membership: str, versions: list[str] | None
    ) -> dict[str, Any]:
        if not is_valid_user_id(user_id):
            raise MatrixError("M_INVALID_PARAM", "Not a user ID")
        if get_domain_from_id(user_id) != origin:
            raise MatrixError("M_FORBIDDEN", "A server can only act for its own users", status=403)
        room = await self._resident_room(room_id)
        await self._remote.check_acl(room_id, origin)
        if versions is not None and room.room_version not in versions:
            raise MatrixError(
                "M_INCOMPATIBLE_ROOM_VERSION", "Your server does not support this room's version",
                status=400, room_version=room.room_version,
            )
        version = get_room_version(room.room_version)
        state = await self._state.get_state(room.current_state_group)
        content: dict[str, Any] = {"membership": membership}
        if membership == "join" and version.auth.restricted_join_rule:
            authoriser = await restricted_join_authoriser(
                self._rooms, self._state, self._events, self._server_name, room_id, user_id
            )
            if authoriser is not None:
                content["join_authorised_via_users_server"] = authoriser
        wanted = auth_rules.auth_types_for_event(version, "m.room.member", user_id, user_id, content)
        wanted.add(("m.room.create", ""))
        stored = await self._events.get_events([state[k] for k in wanted if k in state])
        auth_state = {e.event.state_tuple(): e.event for e in stored.values()}
        extremities = sorted(await self._events.get_extremities(room_id))[:MAX_PREV_EVENTS]
        depth = await self._events.max_depth(extremities)
        prevs = await self._events.get_events(extremities) if version.event_format.reference_pairs else {}
        hashes = {**{e: p.event.hashes for e, p in prevs.items()}, **{e.event_id: e.hashes for e in auth_state.values()}}
        auth_ids = sorted(e.event_id for k, e in auth_state.items()
                          if not (k == ("m.room.create", "") and version.auth.room_create_event_id_as_room_id))
        template: dict[str, Any] = {
            "type": "m.room.member", "room_id": room_id, "sender": user_id, "state_key": user_id,
            "content": content, "origin_server_ts": self._clock.time_ms(), "depth": depth + 1,
            "prev_events": references(extremities, version, hashes),
            "auth_events": references(auth_ids, version, hashes),
        }
        if version.event_format.event_id_format is EventIdFormat.SERVER_GENERATED:
            template["event_id"] = server_event_id(self._server_name)  # the joining server puts its own
        try:
            trial = Event(hash_and_sign_event(template, self._server_name, self._signing_key, version), version)
            auth_rules.check_auth_rules(trial, auth_state)
        except auth_rules.AuthError as e:
            raise MatrixError("M_FORBIDDEN", f"You cannot {membership} this room: {e}", status=403) from None
        return {"event": template, "room_version": room.room_version}

    async def _resident_room(self, room_id: str) -> RoomRecord:
        """The room, while this server is in it (one of its users is joined): ``404
        M_NOT_FOUND`` otherwise, as for a room it never knew, since a server that
        has left a room can no longer vouch for its state."""
        room = await self._rooms.get_room(room_id)
        if room is None or room.current_state_group is None or not any(
            get_domain_from_id(m) == self._server_name for m in await self._rooms.members(room_id)
        ):
            raise MatrixError("M_NOT_FOUND", "Unknown room", status=404)
        return room

    async def send_leave(self, origin: str, room_id: str, event_id: str, pdu: Any) -> dict[str, Any]:
        """Take a signed leave from ``origin`` and pass it on to the room's other servers."""
        await self._accept_membership(origin, room_id, event_id, pdu, "leave")
        return {}

    async def send_join(self, origin: str, room_id: str, event_id: str, pdu: Any) -> dict[str, Any]:
        """Take a signed join from ``origin``; answer with the room's state and auth chain."""
        event = await self._accept_membership(origin, room_id, event_id, pdu, "join")
        before = await self._remote.state_before(event)
        state_events = await self._events.get_events(list(before.values()))
        chain = await self._remote.auth_closure(list(before.values()) + event.auth_event_ids)
        servers = sorted({get_domain_from_id(m) for m in await self._rooms.members(room_id)})
        return {
            "origin": self._server_name,
            "state": [stored.event.pdu() for stored in state_events.values()],
            "auth_chain": [e.pdu() for e in chain.values()],
            "event": event.pdu(),
            "members_omitted": False,
            "servers_in_room": servers,
        }

    async def _accept_membership(self, origin: str, room_id: str, event_id: str, pdu: Any, membership: str) -> Event:
        """Check a join, knock or leave another server signed for its user, persist it and
        forward it to the room's other servers (the sender told only us)."""
        room = await self._resident_room(room_id)
        await self._remote.check_acl(room_id, origin)
        version = get_room_version(room.room_version)
        try:
            event = self._remote.parse(pdu, version)
        except Rejected as e:
            raise MatrixError("M_BAD_JSON", str(e)) from None
        if event.event_id != event_id or event.room_id != room_id:
            raise MatrixError("M_BAD_JSON", "The event does not match the path")
        if event.type != "m.room.member" or event.membership != membership or event.state_key != event.sender:
            raise MatrixError("M_BAD_JSON", f"Not a {membership} event")
        if get_domain_from_id(event.sender) != origin:
            raise MatrixError("M_FORBIDDEN", "A server can only act for its own users", status=403)
        authoriser = event.content.get("join_authorised_via_users_server") if membership == "join" else None
        if isinstance(authoriser, str) and get_domain_from_id(authoriser) == self._server_name:
            # A restricted join one of our users authorises: it carries our signature too.
            event = Event(hash_and_sign_event(event.pdu(), self._server_name, self._signing_key, version), version)
        try:
            await self._remote.check_signatures(event)
        except Rejected as e:
            raise MatrixError("M_FORBIDDEN", str(e), status=403) from None
        if await self._events.get_event(event.event_id) is None:
            _, error = await self._remote.receive_pdu(origin, event.pdu())
            if error is not None:
                raise MatrixError("M_FORBIDDEN", f"The {membership} was refused: {error}", status=403)
            others = {get_domain_from_id(m) for m in await self._rooms.members(room_id)} - {origin, self._server_name}
            if others:
                async with self._db.transaction("forward_membership"):
                    await self._outbound.enqueue_pdu(event, others)
                self._outbound.wake()
        return event

    # -- invites ----------------------------------------------------------------------------

    async def receive_invite(self, origin: str, room_id: str, event_id: str, body: Any) -> dict[str, Any]:
        """``PUT /v2/invite``: a user of ``origin`` invites one of ours; we co-sign and keep it.

        A body that is not an invite is ``400 M_BAD_JSON``; an invite this server
        must not sign (badly signed, not for one of its users, not in the origin's
        user's name...) ``400 M_INVALID_PARAM``, as the spec advises.
        """
        if not isinstance(body, dict) or not isinstance(body.get("event"), dict):
            raise MatrixError("M_BAD_JSON", "An invite carries the event")
        version_id = body.get("room_version", "1")
        if version_id not in JOINABLE_VERSIONS:
            raise MatrixError("M_INCOMPATIBLE_ROOM_VERSION", f"Room version {version_id} is not supported",
                              status=400, room_version=str(version_id))
        version = get_room_version(version_id)
        try:
            event = self._remote.parse(body["event"], version)
        except Rejected as e:
            raise MatrixError("M_BAD_JSON", str(e)) from None
        invitee = event.state_key
        if (
            event.event_id != event_id or event.room_id != room_id or event.type != "m.room.member"
            or event.membership != "invite" or invitee is None or not is_valid_user_id(invitee)
        ):
            raise MatrixError("M_INVALID_PARAM", "Not an invite event for this path")
        if get_domain_from_id(event.sender) != origin:
            raise MatrixError("M_INVALID_PARAM", "A server invites only in its own users' names")
        if get_domain_from_id(invitee) != self._server_name:
            raise MatrixError("M_INVALID_PARAM", "The invitee is not a user of this server")
        if not await self._accounts.user_exists(invitee):
            raise MatrixError("M_NOT_FOUND", "No such user here", status=404)
        try:
            await self._remote.check_signatures(event)
        except Rejected as e:
            raise MatrixError("M_INVALID_PARAM", str(e)) from None
        room = await self._rooms.get_room(room_id)
        if room is not None and room.current_state_group is not None:
            await self._remote.check_acl(room_id, origin)
        signed = Event(hash_and_sign_event(event.pdu(), self._server_name, self._signing_key, version), version)
        invite_state = [e for e in body.get("invite_room_state", []) if isinstance(e, dict)] \
            if isinstance(body.get("invite_room_state"), list) else []
        if room is None or room.current_state_group is None:
            # A room this server is not in: keep the invite (and its preview) until the user answers.
            await self._remember_outside(signed, invite_state)
        return {"event": signed.pdu()}

    async def receive_invite_v1(self, origin: str, room_id: str, event_id: str, body: Any) -> list[Any]:
        """``PUT /v1/invite``: the invite event is the body, with the room's preview in its
        ``unsigned``; the room is of version 1 or 2 (the preview's create event says which)."""
        if not isinstance(body, dict):
            raise MatrixError("M_BAD_JSON", "An invite is an event")
        unsigned = body.get("unsigned") if isinstance(body.get("unsigned"), dict) else {}
        preview = unsigned.get("invite_room_state") if isinstance(unsigned.get("invite_room_state"), list) else []
        create = next((e for e in preview if isinstance(e, dict) and e.get("type") == "m.room.create"), {})
        said = create.get("content", {}).get("room_version") if isinstance(create.get("content"), dict) else None
        answer = await self.receive_invite(origin, room_id, event_id, {
            "room_version": said if said in ("1", "2") else "1", "event": body, "invite_room_state": preview,
        })
        return [200, answer]

    async def invite_remote(self, inviter: str, room_id: str, invitee: str, content: dict[str, Any]) -> None:
        """Invite a user of another server: their server co-signs the invite, then it joins the room."""
        event, state, auth_state = await self._sender.prepare(
            room_id, inviter, "m.room.member", content, state_key=invitee
        )
        server = get_domain_from_id(invitee)
        invite_state = await stripped_state(self._events, state, event.event_id)
        try:
            answer = await self._federation.send_invite(server, room_id, event.event_id, {
                "room_version": event.room_version.identifier, "event": event.pdu(), "invite_room_state": invite_state,
            })
        except RemoteUnavailable as e:
            raise MatrixError("M_UNKNOWN", f"The invitee's server could not take the invite: {e}", status=502) from None
        returned = answer.get("event") if isinstance(answer, dict) else None
        try:
            signed = self._remote.parse(returned, event.room_version)
            if signed.event_id != event.event_id:
                raise Rejected("the invited server changed the event")
            if server not in (signed.signatures or {}):
                raise Rejected("the invited server did not sign the invite")
            await self._remote.check_signatures(signed)
        except Rejected as e:
            raise MatrixError("M_FORBIDDEN", f"{server} refused the invite: {e}", status=403) from None
        await self._sender.persist_remote(
            signed, state_before=state, auth_state=auth_state, soft_failed=False,
            resolve=lambda sets: self._remote.resolve(signed.room_version, sets, new=signed),
        )
        others = {get_domain_from_id(m) for m in await self._rooms.members(room_id)} - {self._server_name}
        if others:
            async with self._db.transaction("send_invite"):
                await self._outbound.enqueue_pdu(signed, others)
            self._outbound.wake()

    async def knock(self, user_id: str, room_id: str, servers: list[str], content: dict[str, Any]) -> None:
        """Knock on a room this server is not in, through one of ``servers`` (``content``:
        the knock's, with the user's profile and reason)."""
        errors = []
        for server in [s for s in servers if s != self._server_name]:
            try:
                answer = await self._federation.make_knock(server, room_id, user_id, JOINABLE_VERSIONS)
                version_id, template = answer.get("room_version"), answer.get("event")
                if version_id not in JOINABLE_VERSIONS or not isinstance(template, dict):
                    raise Rejected(f"cannot knock on rooms of version {version_id}")
                version = get_room_version(version_id)
                event = self._sign_template(template, user_id, room_id, content, version)
                result = await self._federation.send_knock(server, room_id, event.event_id, event.pdu())
            except (RemoteUnavailable, Rejected) as e:
                errors.append(f"{server}: {e}")
                continue
            preview = [e for e in result.get("knock_room_state", []) if isinstance(e, dict)]
            await self._remember_outside(event, preview, knocked_via=server)
            return
        raise MatrixError("M_NOT_FOUND", f"No server let you knock: {'; '.join(errors) or 'none was given'}", status=404)

    async def _remember_outside(
        self, event: Event, preview: list[dict[str, Any]] | None, *, knocked_via: str | None = None
    ) -> None:
        """Keep a local user's membership in a room this server is not in (an invite they got,
        a knock or a leave they sent), with the room's preview state when there is one and
        the server a knock went through."""
        room_id, user_id = event.room_id, event.state_key
        assert user_id is not None and event.membership is not None
        async with self._db.transaction("membership_outside_room"):
            await self._rooms.create_room(room_id, event.room_version.identifier, event.sender, self._clock.time_ms())
            [position] = await next_positions(self._db, EVENTS_STREAM, 1)
            if await self._events.get_event(event.event_id) is None:
                await self._events.insert_event(event, stream_ordering=-position, received_ts=self._clock.time_ms(), outlier=True)
            if preview is not None:
                await self._rooms.set_invite_state(room_id, user_id, preview, knocked_via=knocked_via)
            await self._rooms.record_membership(MembershipChange(
                event_id=event.event_id, room_id=room_id, user_id=user_id, sender=event.sender,
                membership=event.membership, stream_ordering=position,
            ))
            self._db.after_commit(lambda: self._sender.announce_membership(room_id, user_id, position))

    async def leave_outside(self, user_id: str, room_id: str, servers: list[str], reason: str | None) -> None:
        """Leave a room this server is not in (reject an invite, retract a knock) through the
        first of ``servers`` that takes the leave, and remember the user's leave.

        ``M_FORBIDDEN`` when a server refused and none took it, else ``M_UNKNOWN`` (502)
        when none could be reached.
        """
        errors: list[str] = []
        refused = False
        for server in [s for s in servers if s != self._server_name]:
            try:
                event = await self._leave_via(server, user_id, room_id, reason)
            except (RemoteUnavailable, Rejected) as e:
                errors.append(f"{server}: {e}")
                continue
            except MatrixError as e:
                refused = True
                errors.append(f"{server}: {e.message}")
                continue
            await self._remember_outside(event, None)
            return
        why = "; ".join(errors) or "no server in the room is known"
        if refused:
            raise MatrixError("M_FORBIDDEN", f"The room's servers refused your leave: {why}", status=403)
        raise MatrixError("M_UNKNOWN", f"No server in the room could take your leave: {why}", status=502)

    async def _leave_via(self, server: str, user_id: str, room_id: str, reason: str | None) -> Event:
        """Our user's leave, built on ``server``'s template and sent back to it."""
        answer = await self._federation.make_leave(server, room_id, user_id)
        version_id, template = answer.get("room_version"), answer.get("event")
        if version_id not in JOINABLE_VERSIONS or not isinstance(template, dict):
            raise Rejected(f"cannot leave rooms of version {version_id}")
        version = get_room_version(version_id)
        content = {"membership": "leave", **({"reason": reason} if reason else {})}
        event = self._sign_template(template, user_id, room_id, content, version)
        await self._federation.send_leave(server, room_id, event.event_id, event.pdu())
        return event

    def _sign_template(self, template: Mapping[str, Any], user_id: str, room_id: str, content: dict[str, Any],
                       version: RoomVersion) -> Event:
        """Our user's membership event from a resident server's template, with our
        ``content`` (the membership, the user's profile, a reason), hashed and signed.

        Of the template's content only the resident server's authorisation of a
        restricted join is kept: the rest is for us to say.
        """
        pdu = {
            k: template[k] for k in ("type", "room_id", "sender", "state_key", "depth", "prev_events", "auth_events")
            if k in template
        }
        if pdu.get("sender") != user_id or pdu.get("room_id") != room_id or pdu.get("type") != "m.room.member":
            raise Rejected("the template is not for this user and room")
        offered = template.get("content") if isinstance(template.get("content"), Mapping) else {}
        authoriser = offered.get("join_authorised_via_users_server")
        pdu["content"] = dict(content)
        if content.get("membership") == "join" and isinstance(authoriser, str):
            pdu["content"]["join_authorised_via_users_server"] = authoriser
        pdu["origin_server_ts"] = self._clock.time_ms()
        if version.event_format.event_id_format is EventIdFormat.SERVER_GENERATED:
            pdu["event_id"] = server_event_id(self._server_name)
        return Event(hash_and_sign_event(pdu, self._server_name, self._signing_key, version), version)

    # -- joins: the joining side ---------------------------------------------------------------

    async def join(self, user_id: str, room_id: str, servers: list[str], content: dict[str, Any]) -> str:
        """Join a local user to a room this server is not in, through one of ``servers``
        (``content``: the join's, with the user's profile and reason)."""
        errors = []
        refusal: MatrixError | None = None
        for server in [s for s in servers if s != self._server_name]:
            try:
                return await self._join_via(server, user_id, room_id, content)
            except (RemoteUnavailable, Rejected) as e:
                errors.append(f"{server}: {e}")
            except MatrixError as e:
                if e.errcode in ("M_FORBIDDEN", "M_INCOMPATIBLE_ROOM_VERSION"):
                    raise
                errors.append(f"{server}: {e.message}")
                if refusal is None or refusal.errcode == "M_NOT_FOUND":
                    refusal = e
        if refusal is not None and refusal.errcode != "M_NOT_FOUND":
            raise refusal  # the most telling answer, when no server let the user in
        raise MatrixError("M_NOT_FOUND", f"No server could let you join: {'; '.join(errors) or 'none was given'}", status=404)

    async def _join_via(self, server: str, user_id: str, room_id: str, content: dict[str, Any]) -> str:
        answer = await self._federation.make_join(server, room_id, user_id, JOINABLE_VERSIONS)
        version_id, template = answer.get("room_version", "1"), answer.get("event")
        if version_id not in JOINABLE_VERSIONS or not isinstance(template, dict):
            raise MatrixError("M_INCOMPATIBLE_ROOM_VERSION", f"Cannot join rooms of version {version_id}", status=400,
                              room_version=str(version_id))
        version = get_room_version(version_id)
        event = self._sign_template(template, user_id, room_id, content, version)
        result = await self._federation.send_join(server, room_id, event.event_id, event.pdu())
        # The resident server may have co-signed (restricted joins): keep the event it returns.
        returned = result.get("event")
        if isinstance(returned, dict):
            candidate = self._remote.parse(returned, version)
            if candidate.event_id == event.event_id:
                event = candidate
        state = [self._remote.parse(p, version) for p in result.get("state", [])]
        chain = [self._remote.parse(p, version) for p in result.get("auth_chain", [])]
        await self._store_joined_room(version, event, state, chain)
        return event.event_id

    async def _store_joined_room(self, version: RoomVersion, join: Event, state: list[Event], chain: list[Event]) -> None:
        """Check the room's state and auth chain, then store them and the join."""
        known = {e.event_id: e for e in [*chain, *state]}
        for event in topological(known):
            await self._remote.check_signatures(event)
            await self._remote.check_against_auth_events(event, known)
        state_map = {e.state_tuple(): e.event_id for e in state if e.is_state}
        create = next((e for e in state if e.type == "m.room.create"), None)
        if create is None:
            raise Rejected("the room state has no create event")
        before = {k: known[v] for k, v in state_map.items()}
        try:
            auth_rules.check_auth_rules(join, before)
        except auth_rules.AuthError as e:
            raise Rejected(f"the join is not allowed by the room state: {e}") from None
        room_id = join.room_id
        async with self._db.transaction("join_remote_room"):
            if not await self._rooms.create_room(room_id, version.identifier, create.sender, self._clock.time_ms()):
                await self._rooms.set_outside_room_version(room_id, version.identifier)  # a v1 invite's guess
            stored = await self._events.get_events(list(known))
            await self._sender.persist_outliers([e for e in known.values() if e.event_id not in stored])
            [position] = await next_positions(self._db, EVENTS_STREAM, 1)
            group = await self._state.create_group(room_id, state_map, prev_group=None)
            await self._state.update_current_state(room_id, state_map, group)
            for (event_type, member), event_id in state_map.items():
                membership = known[event_id].membership
                if event_type == "m.room.member" and membership is not None:
                    await self._rooms.record_membership(MembershipChange(
                        event_id=event_id, room_id=room_id, user_id=member, sender=known[event_id].sender,
                        membership=membership, stream_ordering=position,
                    ))
        await self._sender.persist_remote(
            join, state_before=state_map, auth_state=before, soft_failed=False,
            resolve=lambda sets: self._remote.resolve(version, sets, new=join),
        )
