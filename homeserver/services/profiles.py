"""User profiles: display name, avatar and the extended profile fields of v1.16."""

from __future__ import annotations

import re
from typing import Any

import orjson

from homeserver.core.identifiers import get_domain_from_id, is_valid_user_id
from homeserver.errors import MatrixError
from homeserver.services.ports import FederationQueries, RemoteUnavailable
from homeserver.services.ratelimit import RateLimiter
from homeserver.services.rooms.member_updates import MemberUpdates
from storage.accounts import AccountStore

#: avatar_url, displayname, m.tz, or a custom field in the common namespaced grammar.
_KEY_NAME = re.compile(r"avatar_url|displayname|m\.tz|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
_MXC = re.compile(r"mxc://[A-Za-z0-9.\-:\[\]]+/[A-Za-z0-9_\-]+")
MAX_PROFILE_BYTES = 64 * 1024
MAX_KEY_BYTES = 255


class ProfileService:
    def __init__(
        self,
        accounts: AccountStore,
        federation: FederationQueries,
        server_name: str,
        rate_limiter: RateLimiter,
        member_updates: MemberUpdates,
    ) -> None:
        self._member_updates = member_updates
        self._rate_limiter = rate_limiter
        self._accounts = accounts
        self._federation = federation
        self._server_name = server_name

    async def get_profile(self, user_id: str) -> dict[str, Any]:
        """The whole public profile, asked of the user's server for remote users."""
        if not is_valid_user_id(user_id):
            raise MatrixError("M_INVALID_PARAM", "Not a user ID")
        if get_domain_from_id(user_id) != self._server_name:
            try:
                profile = await self._federation.query_profile(get_domain_from_id(user_id), user_id)
            except RemoteUnavailable as e:
                raise MatrixError("M_NOT_FOUND", f"The user's server could not be asked: {e}") from None
            return {k: v for k, v in profile.items() if isinstance(k, str)}
        return await self.get_local_profile(user_id)

    async def get_local_profile(self, user_id: str) -> dict[str, Any]:
        """A local user's profile; ``M_NOT_FOUND`` for unknown or remote users."""
        await self._require_local_user(user_id)
        return await self._accounts.get_profile(user_id)

    async def get_field(self, user_id: str, key: str) -> Any:
        profile = await self.get_profile(user_id)
        if key not in profile:
            raise MatrixError("M_NOT_FOUND", f"The user has no {key}")
        return profile[key]

    async def set_field(self, requester_id: str, user_id: str, key: str, value: Any) -> None:
        """Set one field of the requester's own profile (spec limits enforced)."""
        self._check_own(requester_id, user_id)
        check_key(key)
        await self._check_unsuspended(user_id)
        self._rate_limiter.check("profile", user_id)
        if key == "displayname" and not isinstance(value, str):
            raise MatrixError("M_BAD_JSON", "displayname must be a string")
        if key == "avatar_url" and not (isinstance(value, str) and valid_avatar_url(value)):
            raise MatrixError("M_BAD_JSON", "avatar_url must be an mxc:// URI")
        if key == "m.tz" and not isinstance(value, str):
            raise MatrixError("M_BAD_JSON", "m.tz must be a string")
        profile = await self._accounts.get_profile(user_id)
        profile[key] = value
        if len(orjson.dumps(profile)) > MAX_PROFILE_BYTES:
            raise MatrixError("M_PROFILE_TOO_LARGE", "The profile would exceed 64 KiB")
        async with self._accounts.db.transaction("set_profile_field"):
            await self._accounts.set_profile_field(user_id, key, value)
            await self._propagate(user_id, key)

    async def delete_field(self, requester_id: str, user_id: str, key: str) -> None:
        self._check_own(requester_id, user_id)
        check_key(key)
        await self._check_unsuspended(user_id)
        self._rate_limiter.check("profile", user_id)
        async with self._accounts.db.transaction("delete_profile_field"):
            await self._accounts.delete_profile_field(user_id, key)
            await self._propagate(user_id, key)

    async def _check_unsuspended(self, user_id: str) -> None:
        if await self._accounts.is_suspended(user_id):
            raise MatrixError("M_USER_SUSPENDED", "You cannot perform this action while suspended.", status=403)

    async def _propagate(self, user_id: str, key: str) -> None:
        """A new display name or avatar goes to every joined room as a new membership event
        (spec: "Events on change of profile information"), in the background."""
        if key in ("displayname", "avatar_url"):
            await self._member_updates.profile_changed(user_id)

    def _check_own(self, requester_id: str, user_id: str) -> None:
        if requester_id != user_id:
            raise MatrixError("M_FORBIDDEN", "You cannot change another user's profile")

    async def _require_local_user(self, user_id: str) -> None:
        if not user_id.endswith(":" + self._server_name):
            raise MatrixError("M_NOT_FOUND", "Profiles of users on other servers are not available")
        if not await self._accounts.user_exists(user_id):
            raise MatrixError("M_NOT_FOUND", "Profile not found")


def valid_avatar_url(value: str) -> bool:
    """An ``mxc://`` URI, or ``""`` (no avatar)."""
    return value == "" or _MXC.fullmatch(value) is not None


def check_key(key: str) -> None:
    if len(key.encode()) > MAX_KEY_BYTES:
        raise MatrixError("M_KEY_TOO_LARGE", "Profile keys are limited to 255 bytes")
    if not _KEY_NAME.fullmatch(key):
        raise MatrixError("M_INVALID_PARAM", f"{key!r} is not a valid profile field name")
