"""User-interactive authentication (spec: Client-Server API, "User-Interactive
Authentication API").

Design note: a session is created on the first request of an operation and is
bound to that operation (method + path) and, except for registration, to the
user. Each request may complete one stage; the stages of a flow must be
completed in order. While no flow is complete the caller gets ``401`` with the
flows, ``params``, ``session`` and ``completed`` (plus ``errcode``/``error``
after a failed attempt). Sessions live in the database so every worker sees
them, and expire after :data:`SESSION_LIFETIME_MS`; expiring a registration
session gives back its reserved registration-token use.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from homeserver.clock import Clock
from homeserver.errors import AuthRequired, MatrixError
from homeserver.services.passwords import PasswordHasher
from homeserver.services.ratelimit import RateLimiter
from storage.accounts import AccountStore
from storage.registration import RegistrationStore, UIASession

SESSION_LIFETIME_MS = 60 * 60 * 1000

DUMMY = "m.login.dummy"
PASSWORD = "m.login.password"
REGISTRATION_TOKEN = "m.login.registration_token"

#: Errors that mean "this stage failed, try again" (answered with the UIA 401).
_STAGE_FAILURES = {"M_FORBIDDEN", "M_UNAUTHORIZED", "M_UNRECOGNIZED"}


@dataclass(frozen=True)
class UIAResult:
    """A completed flow: the session (for later bookkeeping) and what each stage yielded."""

    session_id: str
    completed: dict[str, Any]
    params: dict[str, Any]


class UIAService:
    def __init__(
        self,
        store: RegistrationStore,
        accounts: AccountStore,
        passwords: PasswordHasher,
        rate_limiter: RateLimiter,
        clock: Clock,
        server_name: str,
    ) -> None:
        self._store = store
        self._accounts = accounts
        self._passwords = passwords
        self._rate_limiter = rate_limiter
        self._clock = clock
        self._server_name = server_name

    async def check(
        self,
        body: dict[str, Any],
        *,
        operation: str,
        flows: list[list[str]],
        user_id: str = "",
    ) -> UIAResult:
        """Advance the UIA exchange of ``body``; return once a flow is complete.

        Raises ``MatrixError(401)`` carrying the UIA state while more stages are needed.
        """
        auth = body.get("auth")
        if auth is not None and not isinstance(auth, dict):
            raise MatrixError("M_BAD_JSON", "auth must be an object")
        session = await self._session(auth, operation, user_id)
        completed = dict(session.completed)
        params = dict(session.params)

        if _flow_complete(flows, completed):
            return UIAResult(session.session_id, completed, params)
        if not auth or "type" not in auth:
            raise self._challenge(session.session_id, flows, completed)

        stage = auth["type"]
        if not isinstance(stage, str) or not _is_next_stage(flows, completed, stage):
            raise self._challenge(
                session.session_id, flows, completed,
                MatrixError("M_UNRECOGNIZED", f"Unexpected auth stage {stage!r}"),
            )
        try:
            completed[stage] = await self._run_stage(stage, auth, user_id, params)
        except MatrixError as failure:
            if failure.errcode not in _STAGE_FAILURES:
                raise  # rate limits and malformed requests keep their own status
            raise self._challenge(session.session_id, flows, completed, failure) from None
        await self._store.update_uia_session(session.session_id, completed, params)
        if _flow_complete(flows, completed):
            return UIAResult(session.session_id, completed, params)
        raise self._challenge(session.session_id, flows, completed)

    async def confirm_identity(
        self, body: dict[str, Any], *, user_id: str, operation: str
    ) -> UIAResult:
        """UIA for a sensitive operation by a signed-in user: their password, or
        ``m.login.dummy`` for accounts that have none (guests)."""
        user = await self._accounts.get_user(user_id)
        has_password = user is not None and user.password_hash is not None
        flows = [[PASSWORD]] if has_password else [[DUMMY]]
        return await self.check(body, operation=operation, flows=flows, user_id=user_id)

    async def remembered(self, body: dict[str, Any], key: str) -> Any:
        """A value :meth:`remember` stored in the session ``body`` refers to, if any."""
        auth = body.get("auth")
        session_id = auth.get("session") if isinstance(auth, dict) else None
        if not isinstance(session_id, str):
            return None
        session = await self._store.get_uia_session(session_id)
        return session.params.get(key) if session is not None else None

    async def remember(self, session_id: str, **values: Any) -> None:
        """Keep ``values`` in the session's params (e.g. the user a registration created)."""
        session = await self._store.get_uia_session(session_id)
        if session is not None:
            await self._store.update_uia_session(
                session_id, session.completed, {**session.params, **values}
            )

    async def expire_sessions(self) -> None:
        """Drop sessions older than their lifetime, giving back reserved token uses."""
        cutoff = self._clock.time_ms() - SESSION_LIFETIME_MS
        for session in await self._store.expired_uia_sessions(cutoff):
            token = session.params.get("registration_token")
            if token and "registered_user_id" not in session.params:
                await self._store.release_token_use(token)
            await self._store.delete_uia_session(session.session_id)

    # -- internals --------------------------------------------------------------------

    async def _session(self, auth: dict[str, Any] | None, operation: str, user_id: str) -> UIASession:
        session_id = auth.get("session") if auth else None
        now = self._clock.time_ms()
        if session_id is not None:
            if not isinstance(session_id, str):
                raise MatrixError("M_BAD_JSON", "auth.session must be a string")
            session = await self._store.get_uia_session(session_id)
            if session is None or session.created_ts < now - SESSION_LIFETIME_MS:
                raise MatrixError("M_UNKNOWN", "Unknown or expired UIA session", status=400)
            if session.operation != operation or session.user_id != user_id:
                raise MatrixError(
                    "M_FORBIDDEN", "This session was started for a different operation"
                )
            return session
        session_id = secrets.token_urlsafe(18)
        await self._store.create_uia_session(session_id, operation, user_id, now)
        return UIASession(session_id, now, operation, user_id, {}, {})

    async def _run_stage(
        self, stage: str, auth: dict[str, Any], user_id: str, params: dict[str, Any]
    ) -> Any:
        if stage == DUMMY:
            return True
        if stage == PASSWORD:
            return await self._password_stage(auth, user_id)
        if stage == REGISTRATION_TOKEN:
            return await self._token_stage(auth, params)
        raise MatrixError("M_UNRECOGNIZED", f"Unsupported auth stage {stage!r}")

    async def _password_stage(self, auth: dict[str, Any], user_id: str) -> str:
        password = auth.get("password")
        if not isinstance(password, str):
            raise MatrixError("M_BAD_JSON", "auth.password must be a string")
        claimed = user_id_from_identifier(auth, self._server_name)
        self._rate_limiter.check("login_failed", user_id, spend=False)
        user = await self._accounts.get_user(user_id)
        ok = await self._passwords.verify(user.password_hash if user else None, password)
        if not ok or claimed != user_id:
            self._rate_limiter.record("login_failed", user_id)
            raise MatrixError("M_FORBIDDEN", "Invalid username or password")
        return user_id

    async def _token_stage(self, auth: dict[str, Any], params: dict[str, Any]) -> str:
        token = auth.get("token")
        if not isinstance(token, str) or not token:
            raise MatrixError("M_MISSING_PARAM", "auth.token is required")
        if params.get("registration_token") == token:
            return token
        if not await self._store.reserve_token_use(token, self._clock.time_ms()):
            raise MatrixError("M_UNAUTHORIZED", "Invalid registration token")
        if params.get("registration_token"):
            await self._store.release_token_use(params["registration_token"])
        params["registration_token"] = token
        return token

    def _challenge(
        self,
        session_id: str,
        flows: list[list[str]],
        completed: dict[str, Any],
        failure: MatrixError | None = None,
    ) -> AuthRequired:
        state: dict[str, Any] = {
            "flows": [{"stages": flow} for flow in flows],
            "params": {},
            "session": session_id,
            "completed": list(completed),
        }
        return AuthRequired(state, failure)


def user_id_from_identifier(auth: dict[str, Any], server_name: str) -> str:
    """The user ID an ``m.id.user`` identifier (or legacy ``user`` field) names.

    A bare localpart is qualified with this server's name and lower-cased, as
    registration only ever creates lower-case localparts.
    """
    identifier = auth.get("identifier")
    if identifier is None and isinstance(auth.get("user"), str):
        identifier = {"type": "m.id.user", "user": auth["user"]}
    if not isinstance(identifier, dict):
        raise MatrixError("M_BAD_JSON", "identifier must be an object")
    if identifier.get("type") != "m.id.user":
        raise MatrixError("M_UNRECOGNIZED", "Only m.id.user identifiers are supported", status=400)
    user = identifier.get("user")
    if not isinstance(user, str) or not user:
        raise MatrixError("M_BAD_JSON", "identifier.user must be a non-empty string")
    if user.startswith("@"):
        localpart, _, server = user[1:].partition(":")
        return f"@{localpart.lower()}:{server}"
    return f"@{user.lower()}:{server_name}"


def _flow_complete(flows: list[list[str]], completed: dict[str, Any]) -> bool:
    return any(all(stage in completed for stage in flow) for flow in flows)


def _is_next_stage(flows: list[list[str]], completed: dict[str, Any], stage: str) -> bool:
    done = list(completed)
    return any(
        flow[: len(done)] == done and len(flow) > len(done) and flow[len(done)] == stage
        for flow in flows
    )
