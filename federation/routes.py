"""Server-Server API routes: keys, version and queries (spec: Server-Server API)."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

import aiohttp
from aiohttp import web

from homeserver.http import Route, json_response, media_timeout_ms, query_bool, query_int, read_json, thumbnail_query
from federation.auth import FederationAuthenticator
from federation.keys import KeyRing
from homeserver import __version__
from homeserver.core.identifiers import get_domain_from_id, is_valid_user_id
from homeserver.errors import MatrixError
from homeserver.services.directory import DirectoryService
from homeserver.services.e2ee.keys import KeyService
from homeserver.services.federation_inbox import FederationInbox
from homeserver.services.media.service import Content, MediaService
from homeserver.services.openid import OpenIdService
from homeserver.services.profiles import ProfileService
from homeserver.services.spaces import SpaceService
from homeserver.services.rooms.remote_membership import RemoteMembership
from homeserver.services.rooms.server_reads import ServerReads

FED_V1 = "/_matrix/federation/v1"
KEY_V2 = "/_matrix/key/v2"


class KeyRoutes:
    """Publishing our keys and the notary API; no authentication (keys are self-signed)."""

    def __init__(self, keyring: KeyRing) -> None:
        self._keyring = keyring

    def routes(self) -> list[Route]:
        return [
            Route("GET", f"{KEY_V2}/server", self.server),
            Route("GET", f"{KEY_V2}/query/{{server_name}}", self.query_one),
            Route("POST", f"{KEY_V2}/query", self.query),
        ]

    async def server(self, request: web.Request) -> web.Response:
        return json_response(self._keyring.own_response())

    async def query_one(self, request: web.Request) -> web.Response:
        """GET /_matrix/key/v2/query/{serverName}?minimum_valid_until_ts= (spec: "Querying Keys Through Another Server")."""
        minimum = query_int(request, "minimum_valid_until_ts") or 0
        answers = await self._keyring.notary_answer({request.match_info["server_name"]: minimum})
        return json_response({"server_keys": answers})

    async def query(self, request: web.Request) -> web.Response:
        """POST /_matrix/key/v2/query: ``server_keys`` maps server names to key IDs to criteria."""
        body = await read_json(request)
        wanted = body.get("server_keys")
        if not isinstance(wanted, dict) or not all(isinstance(v, dict) for v in wanted.values()):
            raise MatrixError("M_BAD_JSON", "server_keys must map server names to key criteria")
        minimums = {
            server: max([c.get("minimum_valid_until_ts") for c in criteria.values() if isinstance(c, dict)
                         and _is_int(c.get("minimum_valid_until_ts"))] or [0])
            for server, criteria in wanted.items()
        }
        return json_response({"server_keys": await self._keyring.notary_answer(minimums)})


class OpenIdRoutes:
    """Widgets and call apps checking a user's OpenID token; no X-Matrix signature (the
    caller is not a homeserver): the token itself is the credential."""

    def __init__(self, openid: OpenIdService) -> None:
        self._openid = openid

    def routes(self) -> list[Route]:
        return [Route("GET", f"{FED_V1}/openid/userinfo", self.userinfo)]

    async def userinfo(self, request: web.Request) -> web.Response:
        """GET /_matrix/federation/v1/openid/userinfo?access_token= (spec: Server-Server API, "OpenID")."""
        return json_response(await self._openid.user_info(request.query.get("access_token", "")))


class QueryRoutes:
    """``/version`` and the simple authenticated queries."""

    def __init__(
        self,
        authenticator: FederationAuthenticator,
        profiles: ProfileService,
        directory: DirectoryService,
        spaces: SpaceService,
    ) -> None:
        self._authenticator = authenticator
        self._profiles = profiles
        self._directory = directory
        self._spaces = spaces

    def routes(self) -> list[Route]:
        return [
            Route("GET", f"{FED_V1}/version", self.version),
            Route("GET", f"{FED_V1}/query/profile", self.profile),
            Route("GET", f"{FED_V1}/query/directory", self.directory),
            Route("GET", f"{FED_V1}/publicRooms", self.public_rooms),
            Route("POST", f"{FED_V1}/publicRooms", self.public_rooms),
            Route("GET", f"{FED_V1}/hierarchy/{{room_id}}", self.hierarchy),
        ]

    async def version(self, request: web.Request) -> web.Response:
        return json_response({"server": {"name": "Hearth", "version": __version__}})

    async def profile(self, request: web.Request) -> web.Response:
        """GET /query/profile?user_id=&field=."""
        await self._authenticator.origin(request)
        user_id = request.query.get("user_id", "")
        if not is_valid_user_id(user_id):
            raise MatrixError("M_INVALID_PARAM", "user_id must be a user ID")
        field_name = request.query.get("field")
        if field_name is not None and field_name not in ("displayname", "avatar_url"):
            raise MatrixError("M_INVALID_PARAM", "field must be displayname or avatar_url")
        profile = await self._profiles.get_local_profile(user_id)
        if field_name is not None:
            profile = {k: v for k, v in profile.items() if k == field_name}
        return json_response(profile)

    async def hierarchy(self, request: web.Request) -> web.Response:
        """GET /hierarchy/{roomId}?suggested_only=."""
        await self._authenticator.origin(request)
        return json_response(await self._spaces.hierarchy_for_server(
            request.match_info["room_id"], suggested_only=query_bool(request, "suggested_only")
        ))

    async def public_rooms(self, request: web.Request) -> web.Response:
        """GET or POST /publicRooms: this server's published rooms, for another server's users."""
        _, body = await self._authenticator.origin(request)
        body = body if isinstance(body, dict) else {}
        search = body.get("filter") if isinstance(body.get("filter"), dict) else {}
        limit = body.get("limit", query_int(request, "limit"))
        since = body.get("since", request.query.get("since"))
        term = search.get("generic_search_term")
        room_types = search.get("room_types")
        return json_response(await self._directory.public_rooms(
            server=None,
            limit=limit if isinstance(limit, int) and not isinstance(limit, bool) else None,
            since=since if isinstance(since, str) else None,
            search_term=term if isinstance(term, str) else None,
            room_types=room_types if isinstance(room_types, list) else None,
        ))

    async def directory(self, request: web.Request) -> web.Response:
        """GET /query/directory?room_alias=."""
        await self._authenticator.origin(request)
        return json_response(await self._directory.resolve_local_alias(request.query.get("room_alias", "")))


class UserKeyRoutes:
    """Other servers asking for local users' devices and keys (E2EE across servers)."""

    def __init__(self, authenticator: FederationAuthenticator, keys: KeyService, server_name: str) -> None:
        self._authenticator = authenticator
        self._keys = keys
        self._server_name = server_name

    def routes(self) -> list[Route]:
        return [
            Route("GET", f"{FED_V1}/user/devices/{{user_id}}", self.devices),
            Route("POST", f"{FED_V1}/user/keys/query", self.query),
            Route("POST", f"{FED_V1}/user/keys/claim", self.claim),
        ]

    def _local(self, users: dict) -> dict:
        """Only this server's users: a server is not asked about a third server's."""
        return {u: v for u, v in users.items() if is_valid_user_id(u) and get_domain_from_id(u) == self._server_name}

    async def devices(self, request: web.Request) -> web.Response:
        await self._authenticator.origin(request)
        return json_response(await self._keys.user_devices(request.match_info["user_id"]))

    async def query(self, request: web.Request) -> web.Response:
        _, body = await self._authenticator.origin(request)
        wanted = body.get("device_keys") if isinstance(body, dict) else None
        if not isinstance(wanted, dict) or not all(
            isinstance(d, list) and all(isinstance(i, str) for i in d) for d in wanted.values()
        ):
            raise MatrixError("M_BAD_JSON", "device_keys must map user IDs to lists of device IDs")
        answer = await self._keys.query(None, self._local(wanted))
        return json_response({k: answer[k] for k in ("device_keys", "master_keys", "self_signing_keys")})

    async def claim(self, request: web.Request) -> web.Response:
        _, body = await self._authenticator.origin(request)
        wanted = body.get("one_time_keys") if isinstance(body, dict) else None
        if not isinstance(wanted, dict) or not all(
            isinstance(d, dict) and all(isinstance(a, str) for a in d.values()) for d in wanted.values()
        ):
            raise MatrixError("M_BAD_JSON", "one_time_keys must map user IDs to device IDs to algorithms")
        answer = await self._keys.claim(self._local(wanted))
        return json_response({"one_time_keys": answer["one_time_keys"]})


class TransactionRoutes:
    """``PUT /send/{txnId}``: PDUs and EDUs pushed by another server."""

    def __init__(self, authenticator: FederationAuthenticator, inbox: FederationInbox) -> None:
        self._authenticator = authenticator
        self._inbox = inbox

    def routes(self) -> list[Route]:
        return [Route("PUT", f"{FED_V1}/send/{{txn_id}}", self.send)]

    async def send(self, request: web.Request) -> web.Response:
        # Each PDU and EDU is checked on its own: one bad item must not refuse the others.
        origin, body = await self._authenticator.origin(request, check_body=False)
        return json_response(await self._inbox.receive(origin, request.match_info["txn_id"], body))


class MembershipRoutes:
    """Joining this server's rooms from other servers (``make_join`` / ``send_join`` v2), and invites
    (v2, and v1 for rooms of version 1 and 2)."""

    def __init__(self, authenticator: FederationAuthenticator, remote: RemoteMembership) -> None:
        self._authenticator = authenticator
        self._remote = remote

    def routes(self) -> list[Route]:
        return [
            Route("GET", f"{FED_V1}/make_join/{{room_id}}/{{user_id}}", self.make_join),
            Route("PUT", "/_matrix/federation/v2/send_join/{room_id}/{event_id}", self.send_join),
            Route("PUT", "/_matrix/federation/v2/invite/{room_id}/{event_id}", self.invite),
            Route("PUT", f"{FED_V1}/invite/{{room_id}}/{{event_id}}", self.invite_v1),
            Route("GET", f"{FED_V1}/make_leave/{{room_id}}/{{user_id}}", self.make_leave),
            Route("PUT", "/_matrix/federation/v2/send_leave/{room_id}/{event_id}", self.send_leave),
            Route("GET", f"{FED_V1}/make_knock/{{room_id}}/{{user_id}}", self.make_knock),
            Route("PUT", f"{FED_V1}/send_knock/{{room_id}}/{{event_id}}", self.send_knock),
        ]

    async def make_join(self, request: web.Request) -> web.Response:
        origin, _ = await self._authenticator.origin(request)
        versions = request.query.getall("ver", ["1"])
        return json_response(await self._remote.make_join(
            origin, request.match_info["room_id"], request.match_info["user_id"], versions
        ))

    async def send_join(self, request: web.Request) -> web.Response:
        origin, body = await self._authenticator.origin(request)
        return json_response(await self._remote.send_join(
            origin, request.match_info["room_id"], request.match_info["event_id"], body
        ))

    async def make_knock(self, request: web.Request) -> web.Response:
        origin, _ = await self._authenticator.origin(request)
        return json_response(await self._remote.make_knock(
            origin, request.match_info["room_id"], request.match_info["user_id"], request.query.getall("ver", ["1"])
        ))

    async def send_knock(self, request: web.Request) -> web.Response:
        origin, body = await self._authenticator.origin(request)
        return json_response(await self._remote.send_knock(
            origin, request.match_info["room_id"], request.match_info["event_id"], body
        ))

    async def make_leave(self, request: web.Request) -> web.Response:
        origin, _ = await self._authenticator.origin(request)
        return json_response(await self._remote.make_leave(
            origin, request.match_info["room_id"], request.match_info["user_id"]
        ))

    async def send_leave(self, request: web.Request) -> web.Response:
        origin, body = await self._authenticator.origin(request)
        return json_response(await self._remote.send_leave(
            origin, request.match_info["room_id"], request.match_info["event_id"], body
        ))

    async def invite(self, request: web.Request) -> web.Response:
        origin, body = await self._authenticator.origin(request)
        return json_response(await self._remote.receive_invite(
            origin, request.match_info["room_id"], request.match_info["event_id"], body
        ))

    async def invite_v1(self, request: web.Request) -> web.Response:
        """PUT /v1/invite/{roomId}/{eventId} (rooms of version 1 and 2)."""
        origin, body = await self._authenticator.origin(request)
        return json_response(await self._remote.receive_invite_v1(
            origin, request.match_info["room_id"], request.match_info["event_id"], body
        ))


class EventReadRoutes:
    """Other servers reading events, state and auth chains of rooms they are in."""

    def __init__(self, authenticator: FederationAuthenticator, reads: ServerReads) -> None:
        self._authenticator = authenticator
        self._reads = reads

    def routes(self) -> list[Route]:
        return [
            Route("GET", f"{FED_V1}/event/{{event_id}}", self.event),
            Route("GET", f"{FED_V1}/state/{{room_id}}", self.state),
            Route("GET", f"{FED_V1}/state_ids/{{room_id}}", self.state_ids),
            Route("GET", f"{FED_V1}/event_auth/{{room_id}}/{{event_id}}", self.event_auth),
            Route("GET", f"{FED_V1}/backfill/{{room_id}}", self.backfill),
            Route("POST", f"{FED_V1}/get_missing_events/{{room_id}}", self.missing_events),
            Route("GET", f"{FED_V1}/timestamp_to_event/{{room_id}}", self.timestamp_to_event),
        ]

    async def event(self, request: web.Request) -> web.Response:
        origin, _ = await self._authenticator.origin(request)
        return json_response(await self._reads.event(origin, request.match_info["event_id"]))

    async def state(self, request: web.Request) -> web.Response:
        origin, _ = await self._authenticator.origin(request)
        return json_response(await self._reads.state(origin, request.match_info["room_id"], _event_id(request)))

    async def state_ids(self, request: web.Request) -> web.Response:
        origin, _ = await self._authenticator.origin(request)
        return json_response(await self._reads.state_ids(origin, request.match_info["room_id"], _event_id(request)))

    async def event_auth(self, request: web.Request) -> web.Response:
        origin, _ = await self._authenticator.origin(request)
        return json_response(await self._reads.event_auth(
            origin, request.match_info["room_id"], request.match_info["event_id"]
        ))

    async def backfill(self, request: web.Request) -> web.Response:
        origin, _ = await self._authenticator.origin(request)
        starts = request.query.getall("v", [])
        limit = query_int(request, "limit", 10) or 0
        return json_response(await self._reads.backfill(origin, request.match_info["room_id"], starts, limit))

    async def timestamp_to_event(self, request: web.Request) -> web.Response:
        origin, _ = await self._authenticator.origin(request)
        ts = query_int(request, "ts")
        if ts is None:
            raise MatrixError("M_MISSING_PARAM", "Missing query parameter: ts")
        return json_response(await self._reads.timestamp_to_event(
            origin, request.match_info["room_id"], ts, request.query.get("dir", "f")
        ))

    async def missing_events(self, request: web.Request) -> web.Response:
        origin, body = await self._authenticator.origin(request)
        if not isinstance(body, dict):
            raise MatrixError("M_BAD_JSON", "Expected a JSON object")
        earliest, latest = body.get("earliest_events", []), body.get("latest_events", [])
        limit, min_depth = body.get("limit", 10), body.get("min_depth", 0)
        if not (_strings(earliest) and _strings(latest) and isinstance(limit, int) and isinstance(min_depth, int)):
            raise MatrixError("M_BAD_JSON", "earliest_events and latest_events must be arrays of event IDs")
        return json_response(await self._reads.missing_events(
            origin, request.match_info["room_id"], earliest, latest, limit, min_depth
        ))


def _event_id(request: web.Request) -> str:
    event_id = request.query.get("event_id")
    if not event_id:
        raise MatrixError("M_MISSING_PARAM", "Missing query parameter: event_id")
    return event_id


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


class MediaRoutes:
    """Other servers fetching this server's media for their users (``multipart/mixed``)."""

    def __init__(self, authenticator: FederationAuthenticator, media: MediaService, server_name: str) -> None:
        self._authenticator = authenticator
        self._media = media
        self._server_name = server_name

    def routes(self) -> list[Route]:
        return [
            Route("GET", f"{FED_V1}/media/download/{{media_id}}", self.download),
            Route("GET", f"{FED_V1}/media/thumbnail/{{media_id}}", self.thumbnail),
        ]

    async def download(self, request: web.Request) -> web.StreamResponse:
        await self._authenticator.origin(request)
        content = await self._media.download(self._server_name, request.match_info["media_id"], media_timeout_ms(request))
        return await _multipart(request, content)

    async def thumbnail(self, request: web.Request) -> web.StreamResponse:
        await self._authenticator.origin(request)
        q = thumbnail_query(request)
        content = await self._media.thumbnail(
            self._server_name, request.match_info["media_id"], q.width, q.height, q.method, q.animated, q.timeout_ms
        )
        return await _multipart(request, content)


async def _multipart(request: web.Request, content: Content) -> web.StreamResponse:
    """Metadata (``{}``) and the media, as the two parts of a ``multipart/mixed`` body."""
    writer = aiohttp.MultipartWriter("mixed")
    writer.append_json({})
    disposition = "attachment"
    if content.upload_name:
        disposition += f"; filename*=utf-8''{quote(content.upload_name, safe='')}"
    writer.append(
        await asyncio.to_thread(content.path.read_bytes),
        {"Content-Type": content.content_type, "Content-Disposition": disposition},
    )
    response = web.StreamResponse(headers={"Content-Type": f"multipart/mixed; boundary={writer.boundary}"})
    await response.prepare(request)
    await writer.write(response)
    await response.write_eof()
    return response
