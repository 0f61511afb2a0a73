"""Server-side key backups (spec: "Server-side key backups").

The server stores what it cannot read: session keys encrypted to the
backup's public key. It keeps, per session, the copy that decrypts the most
(:func:`~homeserver.core.e2e_keys.better_backup_session`), and only accepts
keys for the newest backup version, so clients notice when another device
has started a new backup.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeserver.core.e2e_keys import better_backup_session
from homeserver.errors import MatrixError
from homeserver.parsing import parse_int
from storage.database import Database
from storage.key_backup import BackedUpSession, BackupVersion, KeyBackupStore


class KeyBackupService:
    def __init__(self, db: Database, store: KeyBackupStore) -> None:
        self._db = db
        self._store = store

    async def create_version(self, user_id: str, algorithm: str, auth_data: dict[str, Any]) -> str:
        async with self._db.transaction("create_backup_version"):
            return str(await self._store.create_version(user_id, algorithm, auth_data))

    async def get_version(self, user_id: str, version: str | None) -> BackupVersion:
        """A version, or the current (newest) one; ``M_NOT_FOUND`` if there is none."""
        found = await self._store.get_version(user_id, _parse(version) if version is not None else None)
        if found is None:
            raise MatrixError("M_NOT_FOUND", "Unknown backup version" if version else "No current backup version")
        return found

    async def update_version(
        self, user_id: str, version: str, algorithm: str, auth_data: dict[str, Any], body_version: str | None
    ) -> None:
        current = await self.get_version(user_id, version)
        if body_version is not None and body_version != version:
            raise MatrixError("M_INVALID_PARAM", "The version in the body does not match the path")
        if algorithm != current.algorithm:
            raise MatrixError("M_INVALID_PARAM", "Algorithm does not match")
        await self._store.set_auth_data(user_id, current.version, auth_data)

    async def delete_version(self, user_id: str, version: str) -> None:
        async with self._db.transaction("delete_backup_version"):
            if not await self._store.delete_version(user_id, _parse(version)):
                raise MatrixError("M_NOT_FOUND", "Unknown backup version")

    async def get_sessions(
        self, user_id: str, version: str, room_id: str | None = None, session_id: str | None = None
    ) -> list[BackedUpSession]:
        backup = await self.get_version(user_id, version)
        return await self._store.sessions(user_id, backup.version, room_id, session_id)

    async def put_sessions(self, user_id: str, version: str, sessions: list[BackedUpSession]) -> BackupVersion:
        """Store session keys in the current version, keeping the better copy of each."""
        async with self._db.transaction("backup_keys"):
            current = await self._store.get_version(user_id)
            wanted = _parse(version)
            if current is None or current.version != wanted:
                if await self._store.get_version(user_id, wanted) is None:
                    raise MatrixError("M_NOT_FOUND", "Unknown backup version")
                raise MatrixError(
                    "M_WRONG_ROOM_KEYS_VERSION", "That is not the current backup version",
                    status=403, current_version=str(current.version) if current else None,
                )
            stored = {
                (s.room_id, s.session_id): s
                for room_id in sorted({s.room_id for s in sessions})
                for s in await self._store.sessions(user_id, wanted, room_id)
            }
            better = [
                s for s in sessions
                if (s.room_id, s.session_id) not in stored
                or better_backup_session(vars(stored[(s.room_id, s.session_id)]), vars(s))
            ]
            if better:
                await self._store.put_sessions(user_id, wanted, better)
                await self._store.bump_etag(user_id, wanted)
            return await self._version_after_write(user_id, wanted)

    async def delete_sessions(
        self, user_id: str, version: str, room_id: str | None = None, session_id: str | None = None
    ) -> BackupVersion:
        async with self._db.transaction("delete_backup_keys"):
            backup = await self.get_version(user_id, version)
            await self._store.delete_sessions(user_id, backup.version, room_id, session_id)
            await self._store.bump_etag(user_id, backup.version)
            return await self._version_after_write(user_id, backup.version)

    async def _version_after_write(self, user_id: str, version: int) -> BackupVersion:
        found = await self._store.get_version(user_id, version)
        assert found is not None  # written in this very transaction
        return found


def parse_session(room_id: str, session_id: str, data: Any) -> BackedUpSession:
    """A ``KeyBackupData`` object from a request, checked."""
    if not isinstance(data, Mapping):
        raise MatrixError("M_BAD_JSON", f"The key data of session {session_id} must be an object")
    first = data.get("first_message_index")
    forwarded = data.get("forwarded_count")
    verified = data.get("is_verified")
    session_data = data.get("session_data")
    if (
        not _is_int(first) or not _is_int(forwarded) or not isinstance(verified, bool)
        or not isinstance(session_data, Mapping)
    ):
        raise MatrixError(
            "M_BAD_JSON",
            f"Session {session_id} needs integer first_message_index and forwarded_count,"
            " boolean is_verified and an object session_data",
        )
    return BackedUpSession(room_id, session_id, first, forwarded, verified, dict(session_data))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _parse(version: str) -> int:
    return parse_int(version, "A backup version", minimum=0, errcode="M_NOT_FOUND")
