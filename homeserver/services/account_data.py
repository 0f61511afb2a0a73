"""Per-user account data, global and per room (spec: "Client Config")."""

from __future__ import annotations

from typing import Any

from homeserver.errors import MatrixError
from homeserver.services.notifier import Notifier
from storage.account_data import ACCOUNT_DATA_STREAM, AccountDataStore

#: Types the server manages itself; clients may read but not write them.
SERVER_MANAGED_TYPES = frozenset({"m.fully_read", "m.push_rules"})


class AccountDataService:
    def __init__(self, store: AccountDataStore, notifier: Notifier) -> None:
        self._store = store
        self._notifier = notifier

    async def get(self, requester_id: str, user_id: str, room_id: str, data_type: str) -> dict[str, Any]:
        _check_own(requester_id, user_id)
        content = await self._store.get(user_id, room_id, data_type)
        if content is None:
            raise MatrixError("M_NOT_FOUND", "No account data of this type")
        return content

    async def put(
        self, requester_id: str, user_id: str, room_id: str, data_type: str, content: dict[str, Any]
    ) -> None:
        """Set account data from a client (server-managed types are refused with 405)."""
        _check_own(requester_id, user_id)
        if data_type in SERVER_MANAGED_TYPES:
            raise MatrixError(
                "M_BAD_JSON", f"Cannot set {data_type} through this API", status=405
            )
        await self.put_internal(user_id, room_id, data_type, content)

    async def put_internal(self, user_id: str, room_id: str, data_type: str, content: dict[str, Any]) -> None:
        """Set account data on the server's behalf (read markers, push rules...)."""
        position = await self._store.put(user_id, room_id, data_type, content)
        self._notifier.notify(ACCOUNT_DATA_STREAM, position, [user_id])


    # -- room tags (m.tag) ----------------------------------------------------------------

    async def tags(self, requester_id: str, user_id: str, room_id: str) -> dict[str, Any]:
        _check_own(requester_id, user_id)
        content = await self._store.get(user_id, room_id, "m.tag") or {}
        tags = content.get("tags")
        return tags if isinstance(tags, dict) else {}

    async def set_tag(self, requester_id: str, user_id: str, room_id: str, tag: str, info: dict[str, Any]) -> None:
        if len(tag.encode()) > 255:
            raise MatrixError("M_INVALID_PARAM", "Tags are at most 255 bytes")
        tags = await self.tags(requester_id, user_id, room_id)
        tags[tag] = info
        await self.put_internal(user_id, room_id, "m.tag", {"tags": tags})

    async def delete_tag(self, requester_id: str, user_id: str, room_id: str, tag: str) -> None:
        tags = await self.tags(requester_id, user_id, room_id)
        if tags.pop(tag, None) is not None:
            await self.put_internal(user_id, room_id, "m.tag", {"tags": tags})


def _check_own(requester_id: str, user_id: str) -> None:
    if requester_id != user_id:
        raise MatrixError("M_FORBIDDEN", "You cannot access another user's account data")
