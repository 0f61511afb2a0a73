"""User accounts: creation, password login, password changes, deactivation."""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass

import structlog

from homeserver.clock import Clock
from homeserver.config import Config
from homeserver.errors import MatrixError
from homeserver.services.auth import AuthService, IssuedTokens, Requester
from homeserver.services.e2ee.device_lists import DeviceListService
from homeserver.services.passwords import PasswordHasher
from homeserver.services.ratelimit import RateLimiter
from homeserver.services.second_factor import SecondFactorService
from homeserver.services.uia import PASSWORD, TOTP, UIAService, user_id_from_identifier
from storage.account_data import AccountDataStore
from storage.accounts import AccountStore
from storage.devices import DeviceStore

logger = structlog.get_logger(__name__)

_LOCALPART = re.compile(r"[a-z0-9._=\-/+]+")
_MAX_USER_ID_BYTES = 255


@dataclass(frozen=True)
class LoginResult:
    user_id: str
    device_id: str
    tokens: IssuedTokens


def generate_device_id() -> str:
    return "".join(secrets.choice(string.ascii_uppercase) for _ in range(10))


class AccountService:
    def __init__(
        self,
        *,
        accounts: AccountStore,
        devices: DeviceStore,
        account_data: AccountDataStore,
        auth: AuthService,
        passwords: PasswordHasher,
        rate_limiter: RateLimiter,
        device_lists: DeviceListService,
        uia: UIAService,
        second_factor: SecondFactorService,
        config: Config,
        clock: Clock,
    ) -> None:
        self._uia = uia
        self._second_factor = second_factor
        self._accounts = accounts
        self._devices = devices
        self._account_data = account_data
        self._auth = auth
        self._passwords = passwords
        self._rate_limiter = rate_limiter
        self._device_lists = device_lists
        self._config = config
        self._clock = clock
        self.server_name = config.server_name

    # -- user IDs -------------------------------------------------------------------

    def user_id_for(self, localpart: str) -> str:
        return f"@{localpart}:{self.server_name}"

    def check_localpart(self, localpart: str, *, for_guest: bool = False, system: bool = False) -> None:
        """Raise ``M_INVALID_USERNAME`` or ``M_EXCLUSIVE`` if nobody may register ``localpart``
        (the server notices account only the server itself, with ``system``)."""
        if not localpart or not _LOCALPART.fullmatch(localpart):
            raise MatrixError(
                "M_INVALID_USERNAME",
                "User ID may only contain a-z, 0-9, and the characters . _ = - / +",
            )
        if len(self.user_id_for(localpart).encode()) > _MAX_USER_ID_BYTES:
            raise MatrixError("M_INVALID_USERNAME", "User ID is too long")
        if localpart.isdigit() and not for_guest:
            raise MatrixError("M_INVALID_USERNAME", "Numeric user IDs are reserved for guests")
        if localpart in self._config.registration.reserved_localparts or (
            localpart == self._config.server_notices.system_mxid_localpart and not system
        ):
            raise MatrixError("M_EXCLUSIVE", "This user ID is reserved")

    async def check_available(self, localpart: str) -> None:
        """Raise unless ``localpart`` could be registered right now."""
        self.check_localpart(localpart)
        if await self._accounts.user_exists(self.user_id_for(localpart)):
            raise MatrixError("M_USER_IN_USE", "User ID already taken")

    def check_password_strength(self, password: str) -> None:
        if len(password) < self._config.auth.password_min_length:
            raise MatrixError(
                "M_WEAK_PASSWORD",
                f"Password must be at least {self._config.auth.password_min_length} characters",
            )

    # -- creation ---------------------------------------------------------------------

    async def create_user(
        self,
        localpart: str,
        password: str | None,
        *,
        is_admin: bool = False,
        is_guest: bool = False,
    ) -> str:
        """Create an account (display name = localpart); ``M_USER_IN_USE`` if taken.

        Exactly one of several concurrent creations of the same user ID succeeds.
        """
        self.check_localpart(localpart, for_guest=is_guest)
        password_hash = await self.hash_password(password) if password is not None else None
        return await self.add_user(localpart, password_hash, is_admin=is_admin, is_guest=is_guest)

    async def hash_password(self, password: str) -> str:
        """The hash to store for a new password (``M_WEAK_PASSWORD`` if it is too short)."""
        self.check_password_strength(password)
        return await self._passwords.hash(password)

    async def add_user(
        self,
        localpart: str,
        password_hash: str | None,
        *,
        is_admin: bool = False,
        is_guest: bool = False,
        system: bool = False,
    ) -> str:
        """:meth:`create_user` with the password already hashed (so that it can join a
        larger transaction without hashing inside it); ``system`` for the server's own
        accounts (the server notices account)."""
        self.check_localpart(localpart, for_guest=is_guest, system=system)
        user_id = self.user_id_for(localpart)
        async with self._accounts.db.transaction("create_user"):
            created = await self._accounts.create_user(
                user_id,
                password_hash,
                now_ms=self._clock.time_ms(),
                is_admin=is_admin,
                is_guest=is_guest,
            )
            if not created:
                raise MatrixError("M_USER_IN_USE", "User ID already taken")
            await self._accounts.set_profile_field(user_id, "displayname", localpart)
        logger.info("user_registered", user_id=user_id, admin=is_admin, guest=is_guest)
        return user_id

    async def check_guest(self, guest_access_token: str, localpart: str) -> str:
        """The guest whose access token this is, if their localpart is ``localpart``;
        ``403 M_FORBIDDEN`` otherwise (spec: Guest Access, upgrading a guest)."""
        try:
            requester = await self._auth.authenticate(guest_access_token)
        except MatrixError:
            requester = None
        if requester is None or not requester.is_guest or requester.user_id != self.user_id_for(localpart):
            raise MatrixError("M_FORBIDDEN", "Cannot register a taken user ID without valid guest credentials for it")
        return requester.user_id

    async def upgrade_guest(self, guest_access_token: str, localpart: str, password_hash: str) -> str:
        """Turn a guest account into a full one with this (hashed, see :meth:`hash_password`)
        password, keeping its user ID, devices and rooms. Of concurrent upgrades of one
        guest, one succeeds."""
        user_id = await self.check_guest(guest_access_token, localpart)
        if not await self._accounts.upgrade_guest(user_id, password_hash):
            raise MatrixError("M_FORBIDDEN", "This account is no longer a guest")
        self._devices.forget_cached_tokens(user_id)
        logger.info("guest_upgraded", user_id=user_id)
        return user_id

    async def set_displayname(self, user_id: str, displayname: str) -> None:
        await self._accounts.set_profile_field(user_id, "displayname", displayname)

    async def set_admin_profile_field(self, user_id: str, field: str, value: str) -> None:
        """Set (or, with ``""``, remove) a profile field from the admin side."""
        if value:
            await self._accounts.set_profile_field(user_id, field, value)
        else:
            await self._accounts.delete_profile_field(user_id, field)

    async def generate_localpart(self) -> str:
        """A free random localpart for a registration without a username."""
        while True:
            localpart = "u" + secrets.token_hex(6)
            if not await self._accounts.user_exists(self.user_id_for(localpart)):
                return localpart

    # -- sessions ---------------------------------------------------------------------

    async def start_session(
        self,
        user_id: str,
        device_id: str | None,
        display_name: str | None,
        *,
        refreshable: bool,
    ) -> LoginResult:
        """Create (or reuse) a device and issue its tokens."""
        device_id = device_id or generate_device_id()
        async with self._devices.db.transaction("start_session"):
            await self._devices.ensure_device(user_id, device_id, display_name, self._clock.time_ms())
            tokens = await self._auth.issue_tokens(user_id, device_id, refreshable=refreshable)
        return LoginResult(user_id, device_id, tokens)

    async def login_with_password(
        self,
        body: dict,
        password: str,
        *,
        ip: str,
        device_id: str | None,
        display_name: str | None,
        refreshable: bool,
    ) -> LoginResult:
        """``m.login.password``: check the password (and the second factor, as a UIA
        stage after it, for accounts that enrolled) and start a session."""
        if not self._config.auth.password_login:
            raise MatrixError("M_UNKNOWN", "Password login is disabled on this server")
        user_id = await self.check_password(user_id_from_identifier(body, self.server_name), password, ip=ip)
        if await self._second_factor.is_enrolled(user_id):
            await self._uia.check(
                body, operation="POST /login", flows=[[PASSWORD, TOTP]], user_id=user_id,
                proven={PASSWORD: user_id}, unbound=("password",),
            )
        elif await self.must_enrol_second_factor(user_id):
            raise MatrixError(
                "M_FORBIDDEN",
                "This server requires two-factor sign-in: set it up by signing in at "
                f"{self._config.public_baseurl.rstrip('/')}/_hearth/account/",
            )
        return await self.start_session(user_id, device_id, display_name, refreshable=refreshable)

    async def check_password(self, user_id: str, password: str, *, ip: str) -> str:
        """The user ID, if ``password`` is theirs (rate limited per address and account).

        Failures are ``403 M_FORBIDDEN`` whether the user exists or not (and take
        the same time), deactivated accounts ``403 M_USER_DEACTIVATED``.
        """
        self._rate_limiter.check("login_address", ip)
        self._rate_limiter.check("login_account", user_id)
        self._rate_limiter.check("login_failed", user_id, spend=False)
        user = await self._accounts.get_user(user_id) if user_id.endswith(":" + self.server_name) else None
        ok = await self._passwords.verify(user.password_hash if user else None, password)
        if user is not None and user.deactivated:
            raise MatrixError("M_USER_DEACTIVATED", "This account has been deactivated")
        if user is None or not ok:
            self._rate_limiter.record("login_failed", user_id)
            raise MatrixError("M_FORBIDDEN", "Invalid username or password")
        return user_id

    async def must_enrol_second_factor(self, user_id: str) -> bool:
        """The policy requires a second factor of this account and it has none yet."""
        user = await self._accounts.get_user(user_id)
        return (
            user is not None
            and self._second_factor.required(is_admin=user.is_admin)
            and not await self._second_factor.is_enrolled(user_id)
        )

    # -- management -------------------------------------------------------------------

    async def change_password(
        self, requester: Requester, new_password: str, *, logout_devices: bool
    ) -> None:
        """Set a new password; by default every other device is logged out."""
        self.check_password_strength(new_password)
        password_hash = await self._passwords.hash(new_password)
        async with self._accounts.db.transaction("change_password"):
            await self._accounts.set_password_hash(requester.user_id, password_hash)
            if logout_devices:
                await self.logout_everywhere(requester.user_id, except_device=requester.device_id)

    async def set_password(self, user_id: str, new_password: str) -> None:
        """Set a password from the admin side (CLI / admin API)."""
        self.check_password_strength(new_password)
        await self._accounts.set_password_hash(user_id, await self._passwords.hash(new_password))

    async def reactivate(self, user_id: str, new_password: str) -> None:
        """Undo a deactivation (admin side); the account needs a new password."""
        password_hash = await self.hash_password(new_password)
        await self._accounts.reactivate(user_id, password_hash)
        self._devices.forget_cached_tokens(user_id)
        logger.info("user_reactivated", user_id=user_id)

    async def set_suspended(self, user_id: str, suspended: bool) -> None:
        await self._accounts.set_suspended(user_id, suspended)
        self._devices.forget_cached_tokens(user_id)

    async def set_admin(self, user_id: str, is_admin: bool) -> None:
        await self._accounts.set_admin(user_id, is_admin)
        self._devices.forget_cached_tokens(user_id)

    async def logout_everywhere(self, user_id: str, *, except_device: str | None = None) -> None:
        """Delete every device (and so every token) of the user, but ``except_device``."""
        async with self._devices.db.transaction("logout_everywhere"):
            devices = [d for d in await self._devices.device_ids(user_id) if d != except_device]
            await self._devices.delete_devices(user_id, devices)
            await self._device_lists.devices_deleted(user_id, devices)

    async def deactivate(self, user_id: str, *, erase: bool = False) -> None:
        """Deactivate: no password, no devices or tokens, empty profile; the ID stays taken."""
        async with self._accounts.db.transaction("deactivate_user"):
            await self._accounts.mark_deactivated(user_id)
            devices = await self._devices.device_ids(user_id)
            await self._devices.delete_devices(user_id, devices)
            await self._device_lists.devices_deleted(user_id, devices)
            await self._accounts.clear_profile(user_id)
            if erase:
                await self._account_data.delete_all(user_id)
        self._devices.forget_cached_tokens(user_id)
        logger.info("user_deactivated", user_id=user_id, erase=erase)
