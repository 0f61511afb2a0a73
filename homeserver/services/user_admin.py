"""Server-admin views of user accounts (behind the Synapse-compatible admin API)."""

from __future__ import annotations

from typing import Any

from homeserver.errors import MatrixError
from homeserver.services.accounts import AccountService
from homeserver.services.deactivation import Deactivation
from homeserver.services.profiles import valid_avatar_url
from homeserver.services.rooms.member_updates import MemberUpdates
from storage.accounts import USER_ORDERS, AccountStore, UserRecord

#: Body fields of ``PUT /_synapse/admin/v2/users/{userId}`` for features Hearth does not
#: have, and the one value each may take (anything else is refused, not ignored).
_UNSUPPORTED = {"threepids": [], "external_ids": [], "user_type": None, "locked": False}


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
        self,
        *,
        offset: int,
        limit: int,
        name: str | None,
        user_id: str | None,
        include_deactivated: bool,
        include_guests: bool,
        admins: bool | None,
        order_by: str,
        descending: bool,
        not_user_types: list[str],
    ) -> tuple[list[dict[str, Any]], int]:
        """Synapse's ``GET /_synapse/admin/v2/users``. Hearth has no user types: excluding
        ``bot`` or ``support`` excludes nobody, excluding ``""`` (no type) everybody."""
        if "" in not_user_types:
            return [], 0
        if order_by not in USER_ORDERS:
            raise MatrixError("M_INVALID_PARAM", f"order_by {order_by!r} is not supported (one of: {', '.join(USER_ORDERS)})")
        users, total = await self._store.list_users(
            offset=offset, limit=limit, server_name=self._accounts.server_name, name_contains=name,
            user_id_contains=user_id, include_deactivated=include_deactivated, include_guests=include_guests,
            admins=admins, order_by=order_by, descending=descending,
        )
        return [await self._describe(u) for u in users], total

    async def create_or_modify(self, user_id: str, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Synapse's ``PUT /_synapse/admin/v2/users/{userId}``; returns (user, created)."""
        password = _optional(body, "password", str)
        logout_devices = _optional(body, "logout_devices", bool)
        admin = _optional(body, "admin", bool)
        displayname = _optional(body, "displayname", str)
        avatar_url = _optional(body, "avatar_url", str)
        deactivated = _optional(body, "deactivated", bool)
        for key, only in _UNSUPPORTED.items():
            if key in body and body[key] != only:
                raise MatrixError("M_INVALID_PARAM", f"{key} is not supported by this server (only {only!r})")
        if avatar_url is not None and not valid_avatar_url(avatar_url):
            raise MatrixError("M_INVALID_PARAM", "avatar_url must be an mxc:// URI (or empty, to remove it)")
        user = await self._store.get_user(user_id)
        created = user is None
        if user is None:
            localpart = self._localpart(user_id)
            await self._accounts.create_user(localpart, password, is_admin=bool(admin))
        else:
            if deactivated is False and user.deactivated:
                if password is None:
                    raise MatrixError("M_MISSING_PARAM", "A password is needed to reactivate an account")
                await self._accounts.reactivate(user_id, password)
            elif password is not None:
                await self._accounts.set_password(user_id, password)
                if logout_devices is not False:
                    await self._accounts.logout_everywhere(user_id)
            if admin is not None:
                await self._accounts.set_admin(user_id, admin)
        if displayname is not None:
            await self._accounts.set_admin_profile_field(user_id, "displayname", displayname)
        if avatar_url is not None:
            await self._accounts.set_admin_profile_field(user_id, "avatar_url", avatar_url)
        if displayname is not None or avatar_url is not None:
            await self._member_updates.profile_changed(user_id)  # new membership events in the user's rooms
        if deactivated and (user is None or not user.deactivated):
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

    async def is_suspended(self, user_id: str) -> bool:
        """``GET /_matrix/client/v1/admin/suspend/{userId}`` (spec: "Account suspension")."""
        await self._suspendable(user_id)
        return await self._store.is_suspended(user_id)

    async def set_suspended(self, admin_id: str, user_id: str, suspended: bool) -> None:
        """Suspend or unsuspend a local, active account; not one's own nor another admin's."""
        user = await self._suspendable(user_id)
        if user_id == admin_id:
            raise MatrixError("M_FORBIDDEN", "You cannot suspend your own account")
        if user.is_admin:
            raise MatrixError("M_FORBIDDEN", "Administrators cannot be suspended")
        await self._accounts.set_suspended(user_id, suspended)

    async def _suspendable(self, user_id: str) -> UserRecord:
        self._localpart(user_id)
        user = await self._store.get_user(user_id)
        if user is None or user.deactivated:
            raise MatrixError("M_NOT_FOUND", "User not found")
        return user

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
