"""Browser sign-ins to Hearth's own pages (OAuth login and consent, account management).

Design note: a sign-in checks the password like ``m.login.password`` does (same rate
limits, same answers for wrong passwords and unknown users). An account with a second
factor, or one the policy requires to have one, gets a *pending* session first (a few
minutes long, good for nothing but the next step); the code, or the enrolment, turns it
into a full session of ``auth.web_session_lifetime``. The cookie carries a random
secret, the database its SHA-256. Upstream sign-in (SSO) and password reset can start
sessions here too: they only need :meth:`WebSessionService.start`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import structlog

from homeserver.clock import Clock
from homeserver.config import AuthConfig
from homeserver.errors import MatrixError
from homeserver.services.accounts import AccountService
from homeserver.services.auth import hash_token
from homeserver.services.second_factor import Enrolment, SecondFactorService
from homeserver.services.uia import user_id_from_identifier
from storage.web_sessions import WebSessionStore

logger = structlog.get_logger(__name__)

#: How long the step after the password (a code, or enrolment) may take.
PENDING_LIFETIME_MS = 10 * 60 * 1000


@dataclass(frozen=True)
class WebSession:
    token: str
    user_id: str
    authenticated: bool
    #: When the password was checked, seconds since the epoch.
    auth_time: int
    #: Pending because the account must first enrol a second factor.
    must_enrol: bool = False


class WebSessionService:
    def __init__(
        self,
        store: WebSessionStore,
        accounts: AccountService,
        second_factor: SecondFactorService,
        clock: Clock,
        config: AuthConfig,
    ) -> None:
        self._store = store
        self._accounts = accounts
        self._second_factor = second_factor
        self._clock = clock
        self._config = config

    async def sign_in(self, username: str, password: str, *, ip: str) -> WebSession:
        """Check the password and start a session (pending if a second step follows)."""
        if not username or not password:
            raise MatrixError("M_FORBIDDEN", "Invalid username or password")
        user_id = user_id_from_identifier({"identifier": {"type": "m.id.user", "user": username}},
                                          self._accounts.server_name)
        await self._accounts.check_password(user_id, password, ip=ip)
        enrolled = await self._second_factor.is_enrolled(user_id)
        must_enrol = not enrolled and await self._accounts.must_enrol_second_factor(user_id)
        return await self.start(user_id, authenticated=not (enrolled or must_enrol), must_enrol=must_enrol)

    async def start_registered(self, user_id: str) -> WebSession:
        """The session of someone who just created their account (enrolment first if
        the policy requires a second factor)."""
        must_enrol = await self._accounts.must_enrol_second_factor(user_id)
        return await self.start(user_id, authenticated=not must_enrol, must_enrol=must_enrol)

    async def start(self, user_id: str, *, authenticated: bool, must_enrol: bool = False) -> WebSession:
        token = secrets.token_urlsafe(32)
        now = self._clock.time_ms()
        lifetime = self._config.web_session_lifetime * 1000 if authenticated else PENDING_LIFETIME_MS
        await self._store.add(
            hash_token(token), user_id, now_ms=now, expires_ts=now + lifetime, authenticated=authenticated,
            auth_time=now // 1000,
        )
        logger.info("web_session_started", user_id=user_id, pending=not authenticated)
        return WebSession(token, user_id, authenticated, now // 1000, must_enrol)

    async def current(self, token: str | None) -> WebSession | None:
        """The session a cookie names, if it is still valid."""
        if not token:
            return None
        record = await self._store.get(hash_token(token), self._clock.time_ms())
        if record is None:
            return None
        must_enrol = not record.authenticated and not await self._second_factor.is_enrolled(record.user_id)
        return WebSession(token, record.user_id, record.authenticated, record.auth_time, must_enrol)

    async def verify_second_factor(self, session: WebSession, code: str) -> None:
        """A pending session's code: a TOTP or recovery code (``403``/``429`` otherwise)."""
        await self._second_factor.verify(session.user_id, code)
        await self._authenticate(session)

    async def begin_enrolment(self, session: WebSession) -> Enrolment:
        """An account the policy requires a second factor of enrols during sign-in."""
        if not session.must_enrol:
            raise MatrixError("M_FORBIDDEN", "Nothing to enrol")
        return await self._second_factor.begin_enrolment(session.user_id)

    async def confirm_enrolment(self, session: WebSession, code: str) -> list[str]:
        if not session.must_enrol:
            raise MatrixError("M_FORBIDDEN", "Nothing to enrol")
        codes = await self._second_factor.confirm_enrolment(session.user_id, code)
        await self._authenticate(session)
        return codes

    async def sign_out(self, token: str | None) -> None:
        if token:
            await self._store.delete(hash_token(token))

    async def expire(self) -> None:
        await self._store.delete_expired(self._clock.time_ms())

    async def _authenticate(self, session: WebSession) -> None:
        expires = self._clock.time_ms() + self._config.web_session_lifetime * 1000
        if not await self._store.authenticate(hash_token(session.token), expires):
            raise MatrixError("M_FORBIDDEN", "This sign-in is no longer waiting for a code")
        logger.info("web_session_authenticated", user_id=session.user_id)
