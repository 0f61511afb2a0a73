"""Server-admin views of user accounts (behind the Synapse-compatible admin API)."""

from __future__ import annotations

from typing import Any

from homeserver.errors import MatrixError
from homeserver.services.accounts import AccountService
from homeserver.services.deactivation import Deactivation
from homeserver.services.rooms.member_updates import MemberUpdates
from storage.accounts import AccountStore, UserRecord


class UserAdminService:
    def __init__(
        self, accounts: AccountService, store: AccountStore, deactivation: Deactivation, member_updates: MemberUpdates
    ) -> None:
        self._deactivation = deactivation
        self._member_updates = member_updates
        self._accounts = accounts
        self._store = store

    async def describe(self, user_id: str) -> dict[str, Any]:
        user = await self._local_user(user_id)
        return await self._describe(user)

    async def list_users(
        self, *, offset: int, limit: int, name: str | None, include_deactivated: bool
    ) -> tuple[list[dict[str, Any]], int]:
        users, total = await self._store.list_users(
            offset=offset, limit=limit, name_contains=name, include_deactivated=include_deactivated
        )
        return [await self._describe(u) for u in users], total

    async def create_or_modify(self, user_id: str, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Synapse's ``PUT /_synapse/admin/v2/users/{userId}``; returns (user, created)."""
        password = _optional(body, "password", str)
        admin = _optional(body, "admin", bool)
        displayname = _optional(body, "displayname", str)
        deactivated = _optional(body, "deactivated", bool)
        user = await self._store.get_user(user_id)
        created = user is None
        if created:
            localpart = self._localpart(user_id)
            await self._accounts.create_user(localpart, password, is_admin=bool(admin))
        else:
            if password is not None:
                await self._accounts.set_password(user_id, password)
            if admin is not None:
                await self._accounts.set_admin(user_id, admin)
        if displayname is not None:
            await self._accounts.set_displayname(user_id, displayname)
            await self._member_updates.profile_changed(user_id)
        if deactivated:
            await self._deactivation.deactivate(user_id, erase=False)
        return await self.describe(user_id), created

    async def deactivate(self, user_id: str, *, erase: bool) -> None:
        await self._local_user(user_id)
        await self._deactivation.deactivate(user_id, erase=erase)

    async def reset_password(self, user_id: str, new_password: str, *, logout_devices: bool) -> None:
        await self._local_user(user_id)
        await self._accounts.set_password(user_id, new_password)
        if logout_devices:
            await self._accounts.logout_everywhere(user_id)

    def _localpart(self, user_id: str) -> str:
        suffix = ":" + self._accounts.server_name
        if not user_id.startswith("@") or not user_id.endswith(suffix):
            raise MatrixError("M_INVALID_PARAM", "Only local users can be managed here")
        return user_id[1 : -len(suffix)]

    async def _local_user(self, user_id: str) -> UserRecord:
        self._localpart(user_id)
        user = await self._store.get_user(user_id)
        if user is None:
            raise MatrixError("M_NOT_FOUND", "User not found")
        return user

    async def _describe(self, user: UserRecord) -> dict[str, Any]:
        profile = await self._store.get_profile(user.user_id)
        return {
            "name": user.user_id,
            "displayname": profile.get("displayname"),
            "avatar_url": profile.get("avatar_url"),
            "admin": user.is_admin,
            "deactivated": user.deactivated,
            "is_guest": user.is_guest,
            "user_type": None,
            "creation_ts": user.created_ts // 1000,
            "threepids": [],
            "external_ids": [],
            "locked": False,
            "shadow_banned": False,
        }


def _optional(body: dict[str, Any], key: str, kind: type) -> Any:
    value = body.get(key)
    if value is not None and (not isinstance(value, kind) or (kind is not bool and isinstance(value, bool))):
        raise MatrixError("M_BAD_JSON", f"{key} has the wrong type")
    return value
