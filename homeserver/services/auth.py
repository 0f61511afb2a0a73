"""Access and refresh tokens: issuing, validating, refreshing, revoking.

Design note: tokens are random strings handed to the client once; the database
keeps only their SHA-256, so lookups are by hash (no timing side channel on the
token itself). Access tokens never expire unless the client opted into refresh
tokens (``refresh_token: true`` at login/register); then they live
``auth.refreshable_access_token_lifetime`` seconds. Refreshing issues a new
pair; the old refresh token stays usable until the new access token or refresh
token is first used (spec: "Refreshing access tokens"), which tolerates a client
that crashed before storing the new pair.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import structlog

from homeserver.clock import Clock
from homeserver.config import AuthConfig
from homeserver.errors import MatrixError
from storage.devices import DeviceStore

logger = structlog.get_logger(__name__)

#: How often a device's "last seen" is written back while it is active.
_LAST_SEEN_INTERVAL_MS = 5 * 60 * 1000


@dataclass(frozen=True)
class Requester:
    """Who is making a request, resolved from its access token."""

    user_id: str
    device_id: str
    is_guest: bool
    is_admin: bool
    token_id: int
    #: Whether the account is suspended (spec: "Account suspension").
    is_suspended: bool = False

    def require_unsuspended(self) -> None:
        """``403 M_USER_SUSPENDED`` for an action a suspended account may not take
        (joining, knocking, inviting, sending, changing its profile)."""
        if self.is_suspended:
            raise MatrixError("M_USER_SUSPENDED", "You cannot perform this action while suspended.", status=403)


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    refresh_token: str | None
    expires_in_ms: int | None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class AuthService:
    def __init__(self, devices: DeviceStore, config: AuthConfig, clock: Clock) -> None:
        self._devices = devices
        self._config = config
        self._clock = clock
        self._last_seen_written: dict[tuple[str, str], int] = {}

    async def authenticate(
        self, token: str, *, ip: str | None = None, user_agent: str | None = None
    ) -> Requester:
        """Resolve an access token or raise ``401 M_UNKNOWN_TOKEN``."""
        record = await self._devices.get_access_token(hash_token(token))
        if record is None or record.deactivated:
            raise MatrixError("M_UNKNOWN_TOKEN", "Unrecognised access token", soft_logout=False)
        now = self._clock.time_ms()
        if record.expires_ts is not None and record.expires_ts <= now:
            raise MatrixError("M_UNKNOWN_TOKEN", "Access token has expired", soft_logout=True)
        if not record.used:
            await self._first_use(record.id, record.refresh_token_id)
        await self._touch_device(record.user_id, record.device_id, now, ip, user_agent)
        return Requester(
            user_id=record.user_id,
            device_id=record.device_id,
            is_guest=record.is_guest,
            is_admin=record.is_admin,
            token_id=record.id,
            is_suspended=record.suspended,
        )

    async def issue_tokens(self, user_id: str, device_id: str, *, refreshable: bool) -> IssuedTokens:
        """Create an access token (and a refresh token when the client supports them)."""
        return await self._issue(user_id, device_id, refreshable=refreshable, prev_refresh_id=None)

    async def refresh(self, refresh_token: str) -> IssuedTokens:
        """Exchange a refresh token for a new access and refresh token (``POST /refresh``)."""
        db = self._devices.db
        async with db.transaction("refresh_token"):
            record = await self._devices.get_refresh_token(hash_token(refresh_token))
            now = self._clock.time_ms()
            if record is None:
                raise MatrixError("M_UNKNOWN_TOKEN", "Unrecognised refresh token", soft_logout=False)
            if record.expires_ts is not None and record.expires_ts <= now:
                raise MatrixError("M_UNKNOWN_TOKEN", "Refresh token has expired", soft_logout=False)
            if record.next_id is not None:
                # Refreshed before, but the successor was never used: replace the successor.
                await self._devices.revoke_refresh_token(record.next_id)
            if record.prev_id is not None:
                # Using this token proves the client stored it: its predecessor is done.
                await self._devices.revoke_refresh_token(record.prev_id)
            issued = await self._issue(
                record.user_id, record.device_id, refreshable=True, prev_refresh_id=record.id
            )
        return issued

    async def revoke_access_token(self, token_id: int) -> None:
        """Log out one session (its refresh token goes with it)."""
        async with self._devices.db.transaction("revoke_access_token"):
            await self._devices.delete_access_token(token_id)

    async def _issue(
        self, user_id: str, device_id: str, *, refreshable: bool, prev_refresh_id: int | None
    ) -> IssuedTokens:
        now = self._clock.time_ms()
        access_token = "hth_" + secrets.token_urlsafe(32)
        if not refreshable:
            await self._devices.add_access_token(hash_token(access_token), user_id, device_id, now)
            return IssuedTokens(access_token, None, None)
        refresh_token = "hthr_" + secrets.token_urlsafe(32)
        lifetime_ms = self._config.refreshable_access_token_lifetime * 1000
        refresh_lifetime = self._config.refresh_token_lifetime
        async with self._devices.db.transaction("issue_tokens"):
            refresh_id = await self._devices.add_refresh_token(
                hash_token(refresh_token),
                user_id,
                device_id,
                now,
                expires_ts=now + refresh_lifetime * 1000 if refresh_lifetime else None,
                prev_id=prev_refresh_id,
            )
            if prev_refresh_id is not None:
                await self._devices.set_refresh_successor(prev_refresh_id, refresh_id)
            await self._devices.add_access_token(
                hash_token(access_token),
                user_id,
                device_id,
                now,
                expires_ts=now + lifetime_ms,
                refresh_token_id=refresh_id,
            )
        return IssuedTokens(access_token, refresh_token, lifetime_ms)

    async def _first_use(self, token_id: int, refresh_token_id: int | None) -> None:
        async with self._devices.db.transaction("access_token_first_use"):
            await self._devices.mark_access_token_used(token_id)
            if refresh_token_id is None:
                return
            refresh = await self._devices.get_refresh_token_by_id(refresh_token_id)
            if refresh is not None and refresh.prev_id is not None:
                await self._devices.revoke_refresh_token(refresh.prev_id)

    async def _touch_device(
        self, user_id: str, device_id: str, now: int, ip: str | None, user_agent: str | None
    ) -> None:
        key = (user_id, device_id)
        if now - self._last_seen_written.get(key, 0) < _LAST_SEEN_INTERVAL_MS:
            return
        if len(self._last_seen_written) > 100_000:
            self._last_seen_written.clear()
        self._last_seen_written[key] = now
        await self._devices.update_last_seen(user_id, device_id, now, ip, user_agent)
