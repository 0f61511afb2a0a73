"""Account registration: ``/register`` with user-interactive auth, guests,
username availability, and registration tokens (spec: "Account registration",
"Token-authenticated registration")."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from homeserver.clock import Clock
from homeserver.config import RegistrationConfig
from homeserver.errors import MatrixError
from homeserver.services.accounts import AccountService
from homeserver.services.ratelimit import RateLimiter
from homeserver.services.uia import DUMMY, REGISTRATION_TOKEN, UIAService
from storage.registration import RegistrationStore, RegistrationToken

_OPERATION = "POST /register"
_TOKEN_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~-"


@dataclass(frozen=True)
class RegistrationRequest:
    """The validated body of ``POST /register``."""

    body: dict[str, Any]
    username: str | None
    password: str | None
    device_id: str | None
    initial_device_display_name: str | None
    inhibit_login: bool
    refresh_token: bool
    #: A guest upgrading to a full account (with ``username`` their localpart).
    guest_access_token: str | None = None


class RegistrationService:
    def __init__(
        self,
        *,
        accounts: AccountService,
        uia: UIAService,
        store: RegistrationStore,
        rate_limiter: RateLimiter,
        config: RegistrationConfig,
        clock: Clock,
    ) -> None:
        self._accounts = accounts
        self._uia = uia
        self._store = store
        self._rate_limiter = rate_limiter
        self._config = config
        self._clock = clock

    def flows(self) -> list[list[str]]:
        return [[DUMMY]] if self._config.open else [[REGISTRATION_TOKEN]]

    async def register(self, request: RegistrationRequest, *, kind: str, ip: str) -> dict[str, Any]:
        """Run one step of registration; returns the response body once an account exists."""
        self._rate_limiter.check("registration", ip)
        if kind == "guest":
            return await self._register_guest(request)
        if kind != "user":
            raise MatrixError("M_INVALID_PARAM", "kind must be 'user' or 'guest'")
        if not self._config.enabled:
            raise MatrixError("M_FORBIDDEN", "Registration is disabled on this server")

        # Reject a bad username before asking the client to authenticate.
        localpart = request.username.lower() if request.username is not None else None
        guest_token = request.guest_access_token
        if guest_token is not None and localpart is None:
            raise MatrixError("M_MISSING_PARAM", "username (the guest's localpart) is required to upgrade a guest")
        if localpart is not None:
            if guest_token is not None:
                await self._accounts.check_guest(guest_token, localpart)
            else:
                await self._accounts.check_available(localpart)
        if request.password is not None:
            self._accounts.check_password_strength(request.password)

        flows = self.flows()
        result = await self._uia.check(request.body, operation=_OPERATION, flows=flows, consume=False)
        if request.password is None:
            raise MatrixError("M_MISSING_PARAM", "password is required")
        if guest_token is None:
            localpart = localpart or await self._accounts.generate_localpart()
        password_hash = await self._accounts.hash_password(request.password)
        # One account per session, and one token use per account: the session is
        # consumed, the account created (or the guest upgraded) and the token's use
        # counted together.
        async with self._store.db.transaction("register"):
            await self._uia.consume(result, operation=_OPERATION, flows=flows)
            if guest_token is not None:
                assert localpart is not None
                registered = await self._accounts.upgrade_guest(guest_token, localpart, password_hash)
            else:
                assert localpart is not None
                registered = await self._accounts.add_user(localpart, password_hash)
            if result.registration_token:
                await self._store.complete_token_use(result.registration_token)
        return await self._login_response(registered, request)

    async def _register_guest(self, request: RegistrationRequest) -> dict[str, Any]:
        if not self._config.allow_guests:
            raise MatrixError("M_GUEST_ACCESS_FORBIDDEN", "Guest access is disabled")
        while True:
            localpart = str(secrets.randbelow(10**12))
            try:
                user_id = await self._accounts.create_user(localpart, None, is_guest=True)
                break
            except MatrixError as e:
                if e.errcode != "M_USER_IN_USE":
                    raise
        guest = RegistrationRequest(
            body={}, username=None, password=None, device_id=None,
            initial_device_display_name=request.initial_device_display_name,
            inhibit_login=False, refresh_token=request.refresh_token,
        )
        return await self._login_response(user_id, guest)

    async def _login_response(self, user_id: str, request: RegistrationRequest) -> dict[str, Any]:
        if request.inhibit_login:
            return {"user_id": user_id}
        session = await self._accounts.start_session(
            user_id,
            request.device_id,
            request.initial_device_display_name,
            refreshable=request.refresh_token,
        )
        response: dict[str, Any] = {
            "user_id": user_id,
            "device_id": session.device_id,
            "access_token": session.tokens.access_token,
            "home_server": self._accounts.server_name,
        }
        if session.tokens.refresh_token is not None:
            response["refresh_token"] = session.tokens.refresh_token
            response["expires_in_ms"] = session.tokens.expires_in_ms
        return response

    async def username_available(self, username: str, *, ip: str) -> None:
        self._rate_limiter.check("registration", ip)
        if not self._config.enabled:
            raise MatrixError("M_FORBIDDEN", "Registration is disabled on this server")
        await self._accounts.check_available(username.lower())

    async def token_valid(self, token: str, *, ip: str) -> bool:
        self._rate_limiter.check("registration", ip)
        if not self._config.enabled:
            raise MatrixError("M_FORBIDDEN", "Registration is disabled on this server")
        record = await self._store.get_token(token)
        return record is not None and _usable(record, self._clock.time_ms())

    # -- registration tokens (admin) ------------------------------------------------

    async def create_token(
        self,
        token: str | None = None,
        *,
        uses_allowed: int | None = None,
        expiry_time: int | None = None,
        length: int = 16,
    ) -> RegistrationToken:
        """Create a token (random unless given); ``M_INVALID_PARAM`` on bad values or reuse."""
        if token is None:
            if not 1 <= length <= 64:
                raise MatrixError("M_INVALID_PARAM", "length must be between 1 and 64")
            token = "".join(secrets.choice(_TOKEN_CHARS) for _ in range(length))
        elif not (0 < len(token) <= 64 and all(c in _TOKEN_CHARS for c in token)):
            raise MatrixError(
                "M_INVALID_PARAM", "token must be 1-64 characters of A-Z a-z 0-9 . _ ~ -"
            )
        _check_token_limits(uses_allowed, expiry_time, self._clock.time_ms())
        if not await self._store.create_token(token, uses_allowed, expiry_time, self._clock.time_ms()):
            raise MatrixError("M_INVALID_PARAM", "This token already exists")
        record = await self._store.get_token(token)
        assert record is not None
        return record

    async def list_tokens(self, *, valid: bool | None = None) -> list[RegistrationToken]:
        now = self._clock.time_ms()
        tokens = await self._store.list_tokens()
        return [t for t in tokens if valid is None or _usable(t, now) == valid]

    async def get_token(self, token: str) -> RegistrationToken:
        record = await self._store.get_token(token)
        if record is None:
            raise MatrixError("M_NOT_FOUND", "No such registration token")
        return record

    async def update_token(
        self, token: str, *, uses_allowed: int | None, expiry_time: int | None
    ) -> RegistrationToken:
        _check_token_limits(uses_allowed, expiry_time, self._clock.time_ms())
        if not await self._store.update_token(token, uses_allowed, expiry_time):
            raise MatrixError("M_NOT_FOUND", "No such registration token")
        return await self.get_token(token)

    async def delete_token(self, token: str) -> None:
        if not await self._store.delete_token(token):
            raise MatrixError("M_NOT_FOUND", "No such registration token")


def _usable(token: RegistrationToken, now_ms: int) -> bool:
    if token.expiry_time is not None and token.expiry_time <= now_ms:
        return False
    return token.uses_allowed is None or token.pending + token.completed < token.uses_allowed


def _check_token_limits(uses_allowed: int | None, expiry_time: int | None, now_ms: int) -> None:
    if uses_allowed is not None and uses_allowed < 0:
        raise MatrixError("M_INVALID_PARAM", "uses_allowed must be a non-negative integer")
    if expiry_time is not None and expiry_time <= now_ms:
        raise MatrixError("M_INVALID_PARAM", "expiry_time must be in the future")
