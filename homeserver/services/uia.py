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

A session authorises one request, once. The first completed stage binds it to
the request's body (a hash of it without ``auth``: the spec has the client
resubmit the same request at every stage; the first request, which only asks
for the flows, may still be empty), and a request with another body is
refused. The request that finds its flow complete consumes the session
atomically in the database, so of concurrent uses exactly one goes through,
and any later use gets ``401`` with a fresh session.

Accounts with two-factor sign-in confirm sensitive operations with their password
and then a code (stage :data:`TOTP`, ``{"type": "io.hearth.totp", "code": "123456"}``,
a recovery code also accepted). ``POST /login`` uses the same machinery for its
second step: the request itself proves the password (``proven``), the session then
waits for the code.

Devices signed in through the OAuth 2.0 API confirm a cross-signing reset with the
spec's ``m.oauth`` stage instead: the person approves it on the account page, then the
client sends ``{"session": ...}`` alone, which completes the stage once per approval.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any

from homeserver.clock import Clock
from homeserver.errors import AuthRequired, MatrixError
from homeserver.services.passwords import PasswordHasher
from homeserver.services.ratelimit import RateLimiter
from homeserver.services.second_factor import SecondFactorService
from storage.accounts import AccountStore
from storage.oauth import OAuthStore
from storage.registration import RegistrationStore, UIASession

SESSION_LIFETIME_MS = 60 * 60 * 1000

DUMMY = "m.login.dummy"
PASSWORD = "m.login.password"
REGISTRATION_TOKEN = "m.login.registration_token"
#: Hearth's second-factor stage: a TOTP code or a recovery code in ``auth.code``.
TOTP = "io.hearth.totp"
#: Approval on the account page (spec: "OAuth authentication"), for cross-signing resets.
OAUTH = "m.oauth"

#: Errors that mean "this stage failed, try again" (answered with the UIA 401).
_STAGE_FAILURES = {"M_FORBIDDEN", "M_UNAUTHORIZED", "M_UNRECOGNIZED"}


@dataclass(frozen=True)
class UIAResult:
    """A completed flow: the session, the request it authorises, what each stage
    yielded and the registration token whose use the session holds (if any)."""

    session_id: str
    request_hash: str
    completed: dict[str, Any]
    registration_token: str | None = None


class UIAService:
    def __init__(
        self,
        store: RegistrationStore,
        accounts: AccountStore,
        passwords: PasswordHasher,
        rate_limiter: RateLimiter,
        second_factor: SecondFactorService,
        clock: Clock,
        server_name: str,
        *,
        oauth: OAuthStore,
        account_url: str,
    ) -> None:
        self._oauth = oauth
        self._account_url = account_url
        self._store = store
        self._accounts = accounts
        self._passwords = passwords
        self._rate_limiter = rate_limiter
        self._second_factor = second_factor
        self._clock = clock
        self._server_name = server_name

    async def check(
        self,
        body: dict[str, Any],
        *,
        operation: str,
        flows: list[list[str]],
        user_id: str = "",
        consume: bool = True,
        proven: dict[str, Any] | None = None,
        unbound: tuple[str, ...] = (),
    ) -> UIAResult:
        """Advance the UIA exchange of ``body``; return once a flow is complete, having
        consumed the session (without ``consume``, the caller must :meth:`consume` it in
        the transaction that performs the operation).

        ``proven`` holds leading stages this very request has already passed (checked
        by the caller on every request); ``unbound`` names body fields left out of the
        binding (secrets the caller checks each time, never stored even as a hash).

        Raises ``MatrixError(401)`` carrying the UIA state while more stages are needed.
        """
        auth = body.get("auth")
        if auth is not None and not isinstance(auth, dict):
            raise MatrixError("M_BAD_JSON", "auth must be an object")
        request_hash = _request_hash(body, unbound)
        session = await self._session(auth, operation, user_id, flows)
        if session.request_hash is not None and session.request_hash != request_hash:
            raise _changed()
        completed = dict(session.completed)
        if proven and any(stage not in completed for stage in proven):
            completed.update({stage: result for stage, result in proven.items() if stage not in completed})
            if not await self._store.record_uia_stage(session.session_id, completed, request_hash):
                raise await self._used_or_changed(session.session_id, operation, user_id, flows)

        if not _flow_complete(flows, completed):
            if auth and "type" not in auth and _is_next_stage(flows, completed, OAUTH):
                auth = {**auth, "type": OAUTH}  # m.oauth is completed with the session alone
            if not auth or "type" not in auth:
                raise self._challenge(session.session_id, flows, completed)
            stage = auth["type"]
            if not isinstance(stage, str) or not _is_next_stage(flows, completed, stage):
                raise self._challenge(
                    session.session_id, flows, completed,
                    MatrixError("M_UNRECOGNIZED", f"Unexpected auth stage {stage!r}"),
                )
            try:
                completed[stage] = await self._run_stage(stage, auth, user_id, session.session_id)
            except MatrixError as failure:
                if failure.errcode not in _STAGE_FAILURES:
                    raise  # rate limits and malformed requests keep their own status
                raise self._challenge(session.session_id, flows, completed, failure) from None
            if not await self._store.record_uia_stage(session.session_id, completed, request_hash):
                raise await self._used_or_changed(session.session_id, operation, user_id, flows)
            if not _flow_complete(flows, completed):
                raise self._challenge(session.session_id, flows, completed)
        result = UIAResult(session.session_id, request_hash, completed, completed.get(REGISTRATION_TOKEN))
        if consume:
            await self.consume(result, operation=operation, user_id=user_id, flows=flows)
        return result

    async def consume(self, result: UIAResult, *, operation: str, flows: list[list[str]], user_id: str = "") -> None:
        """Use the session for its request: once only, whoever else tries at the same time."""
        if not await self._store.consume_uia_session(result.session_id, result.request_hash):
            raise await self._used_or_changed(result.session_id, operation, user_id, flows)

    async def confirm_identity(
        self, body: dict[str, Any], *, user_id: str, operation: str
    ) -> UIAResult:
        """UIA for a sensitive operation by a signed-in user: their password (then a
        second-factor code if they enrolled), or ``m.login.dummy`` for accounts that
        have no password (guests)."""
        return await self.check(body, operation=operation, flows=await self.identity_flows(user_id), user_id=user_id)

    async def confirm_cross_signing_reset(self, body: dict[str, Any], *, user_id: str, device_id: str) -> UIAResult:
        """UIA for replacing cross-signing keys: like :meth:`confirm_identity`, except that
        a device of the OAuth 2.0 API is asked for ``m.oauth`` (spec: only this endpoint)."""
        if await self._oauth.get_session(user_id, device_id) is not None:
            flows = [[OAUTH]]
        else:
            flows = await self.identity_flows(user_id)
        return await self.check(body, operation="POST /keys/device_signing/upload", flows=flows, user_id=user_id)

    async def identity_flows(self, user_id: str) -> list[list[str]]:
        """The stages that confirm ``user_id`` is at the keyboard (see :meth:`confirm_identity`)."""
        user = await self._accounts.get_user(user_id)
        if user is None or user.password_hash is None:
            return [[DUMMY]]
        if await self._second_factor.is_enrolled(user_id):
            return [[PASSWORD, TOTP]]
        return [[PASSWORD]]

    async def expire_sessions(self) -> None:
        """Drop sessions older than their lifetime, giving back reserved token uses."""
        await self._store.delete_expired_uia_sessions(self._clock.time_ms() - SESSION_LIFETIME_MS)

    # -- internals --------------------------------------------------------------------

    async def _session(
        self, auth: dict[str, Any] | None, operation: str, user_id: str, flows: list[list[str]]
    ) -> UIASession:
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
            if session.consumed:
                raise await self._fresh_challenge(operation, user_id, flows)
            return session
        return await self._new_session(operation, user_id)

    async def _new_session(self, operation: str, user_id: str) -> UIASession:
        session_id = secrets.token_urlsafe(18)
        now = self._clock.time_ms()
        await self._store.create_uia_session(session_id, operation, user_id, now)
        return UIASession(session_id, now, operation, user_id, {}, {})

    async def _fresh_challenge(self, operation: str, user_id: str, flows: list[list[str]]) -> AuthRequired:
        """A used session: start over with a new one."""
        session = await self._new_session(operation, user_id)
        return self._challenge(
            session.session_id, flows, {},
            MatrixError("M_FORBIDDEN", "This authentication session has already been used"),
        )

    async def _used_or_changed(
        self, session_id: str, operation: str, user_id: str, flows: list[list[str]]
    ) -> MatrixError:
        """Why a session could not be updated or consumed: used up meanwhile, or bound
        (by a concurrent request) to another body."""
        session = await self._store.get_uia_session(session_id)
        if session is None or session.consumed:
            return await self._fresh_challenge(operation, user_id, flows)
        return _changed()

    async def _run_stage(self, stage: str, auth: dict[str, Any], user_id: str, session_id: str) -> Any:
        if stage == DUMMY:
            return True
        if stage == PASSWORD:
            return await self._password_stage(auth, user_id)
        if stage == REGISTRATION_TOKEN:
            return await self._token_stage(auth, session_id)
        if stage == OAUTH and user_id:
            if not await self._oauth.use_cross_signing_reset(user_id, self._clock.time_ms()):
                raise MatrixError("M_FORBIDDEN", "The reset has not been approved on the account page yet")
            return True
        if stage == TOTP and user_id:
            code = auth.get("code")
            if not isinstance(code, str) or not code:
                raise MatrixError("M_MISSING_PARAM", "auth.code is required")
            await self._second_factor.verify(user_id, code)
            return True
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

    async def _token_stage(self, auth: dict[str, Any], session_id: str) -> str:
        token = auth.get("token")
        if not isinstance(token, str) or not token:
            raise MatrixError("M_MISSING_PARAM", "auth.token is required")
        if not await self._store.hold_token_use(session_id, token, self._clock.time_ms()):
            raise MatrixError("M_UNAUTHORIZED", "Invalid registration token")
        return token

    def _challenge(
        self,
        session_id: str,
        flows: list[list[str]],
        completed: dict[str, Any],
        failure: MatrixError | None = None,
    ) -> AuthRequired:
        params: dict[str, Any] = {}
        if any(OAUTH in flow for flow in flows):
            params[OAUTH] = {"url": f"{self._account_url}?action=org.matrix.cross_signing_reset"}
        state: dict[str, Any] = {
            "flows": [{"stages": flow} for flow in flows],
            "params": params,
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


def _request_hash(body: dict[str, Any], unbound: tuple[str, ...] = ()) -> str:
    """What a session is bound to: the request body without its ``auth`` dict (nor
    the ``unbound`` fields)."""
    rest = {k: v for k, v in body.items() if k != "auth" and k not in unbound}
    encoded = json.dumps(rest, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(encoded.encode("utf-8", "surrogatepass")).hexdigest()


def _changed() -> MatrixError:
    return MatrixError(
        "M_FORBIDDEN", "The request changed during user-interactive authentication: start a new session"
    )


def _flow_complete(flows: list[list[str]], completed: dict[str, Any]) -> bool:
    return any(all(stage in completed for stage in flow) for flow in flows)


def _is_next_stage(flows: list[list[str]], completed: dict[str, Any], stage: str) -> bool:
    done = list(completed)
    return any(
        flow[: len(done)] == done and len(flow) > len(done) and flow[len(done)] == stage
        for flow in flows
    )
