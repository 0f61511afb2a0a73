"""Server-side key backups (spec: Client-Server API, "Server-side key backups")."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from client_api.auth import Authenticator
from homeserver.http import Route, field, json_response, read_json
from homeserver.errors import MatrixError
from homeserver.services.e2ee.key_backup import KeyBackupService, parse_session
from storage.key_backup import BackedUpSession, BackupVersion

V3 = "/_matrix/client/v3"


def _version_json(backup: BackupVersion) -> dict[str, Any]:
    return {
        "algorithm": backup.algorithm,
        "auth_data": backup.auth_data,
        "count": backup.count,
        "etag": str(backup.etag),
        "version": str(backup.version),
    }


def _write_result(backup: BackupVersion) -> dict[str, Any]:
    return {"etag": str(backup.etag), "count": backup.count}


class RoomKeyRoutes:
    def __init__(self, authenticator: Authenticator, backups: KeyBackupService) -> None:
        self._authenticator = authenticator
        self._backups = backups

    def routes(self) -> list[Route]:
        keys = f"{V3}/room_keys/keys"
        routes = [
            Route("POST", f"{V3}/room_keys/version", self.create_version),
            Route("GET", f"{V3}/room_keys/version", self.get_version),
            Route("GET", f"{V3}/room_keys/version/{{version}}", self.get_version),
            Route("PUT", f"{V3}/room_keys/version/{{version}}", self.update_version),
            Route("DELETE", f"{V3}/room_keys/version/{{version}}", self.delete_version),
        ]
        for path in (keys, f"{keys}/{{room_id}}", f"{keys}/{{room_id}}/{{session_id}}"):
            routes += [
                Route("GET", path, self.get_keys),
                Route("PUT", path, self.put_keys),
                Route("DELETE", path, self.delete_keys),
            ]
        return routes

    async def create_version(self, request: web.Request) -> web.Response:
        requester = await self._authenticator.requester(request)
        body = await read_json(request)
        version = await self._backups.create_version(
            requester.user_id, field(body, "algorithm", str), field(body, "auth_data", dict)
        )
        return json_response({"version": version})

    async def get_version(self, request: web.Request) -> web.Response:
        requester = await self._authenticator.requester(request)
        backup = await self._backups.get_version(requester.user_id, request.match_info.get("version"))
        return json_response(_version_json(backup))

    async def update_version(self, request: web.Request) -> web.Response:
        requester = await self._authenticator.requester(request)
        body = await read_json(request)
        await self._backups.update_version(
            requester.user_id,
            request.match_info["version"],
            field(body, "algorithm", str),
            field(body, "auth_data", dict),
            field(body, "version", str, required=False),
        )
        return json_response({})

    async def delete_version(self, request: web.Request) -> web.Response:
        requester = await self._authenticator.requester(request)
        await self._backups.delete_version(requester.user_id, request.match_info["version"])
        return json_response({})

    async def get_keys(self, request: web.Request) -> web.Response:
        requester = await self._authenticator.requester(request)
        room_id, session_id = request.match_info.get("room_id"), request.match_info.get("session_id")
        sessions = await self._backups.get_sessions(requester.user_id, _version(request), room_id, session_id)
        if session_id is not None:
            if not sessions:
                raise MatrixError("M_NOT_FOUND", "No backed-up key for this session")
            return json_response(sessions[0].as_json())
        rooms = _rooms_json(sessions)
        if room_id is not None:
            return json_response(rooms.get(room_id, {"sessions": {}}))
        return json_response({"rooms": rooms})

    async def put_keys(self, request: web.Request) -> web.Response:
        requester = await self._authenticator.requester(request)
        body = await read_json(request)
        room_id, session_id = request.match_info.get("room_id"), request.match_info.get("session_id")
        if session_id is not None:
            sessions = [parse_session(room_id, session_id, body)]
        elif room_id is not None:
            sessions = _parse_room(room_id, body)
        else:
            rooms = field(body, "rooms", dict)
            sessions = [s for r, room in rooms.items() for s in _parse_room(r, room)]
        backup = await self._backups.put_sessions(requester.user_id, _version(request), sessions)
        return json_response(_write_result(backup))

    async def delete_keys(self, request: web.Request) -> web.Response:
        requester = await self._authenticator.requester(request)
        backup = await self._backups.delete_sessions(
            requester.user_id, _version(request), request.match_info.get("room_id"), request.match_info.get("session_id")
        )
        return json_response(_write_result(backup))


def _version(request: web.Request) -> str:
    version = request.query.get("version")
    if version is None:
        raise MatrixError("M_MISSING_PARAM", "Missing query parameter: version")
    return version


def _parse_room(room_id: str, room: Any) -> list[BackedUpSession]:
    if not isinstance(room, dict) or not isinstance(room.get("sessions"), dict):
        raise MatrixError("M_BAD_JSON", f"Room {room_id} must have a sessions object")
    return [parse_session(room_id, session_id, data) for session_id, data in room["sessions"].items()]


def _rooms_json(sessions: list[BackedUpSession]) -> dict[str, Any]:
    rooms: dict[str, Any] = {}
    for s in sessions:
        rooms.setdefault(s.room_id, {"sessions": {}})["sessions"][s.session_id] = s.as_json()
    return rooms
