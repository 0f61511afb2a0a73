"""The OAuth 2.0 authorization server: discovery, client registration, the
authorization code grant with PKCE, refresh, revocation and the device grant.

Design note: each request is fetch, decide, write (see :mod:`.protocol`): the records
the request names are loaded, authlib decides over them, and its decisions are written
here. Tokens are the same access and refresh tokens as a password login's
(:class:`~homeserver.services.auth.AuthService`), bound to the device the scope
allocates, so every Client-Server endpoint, logout and device deletion treat them
alike; ``oauth_sessions`` remembers which client and grant each OAuth device came
from. Redeeming a code or a device authorization and issuing its tokens is one
transaction around a conditional update, so a code is good once; a code presented a
second time ends the session it created (RFC 6749 section 4.1.2). Revoking a token
(RFC 7009) ends its device, like ``/logout``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import structlog
from authlib.oauth2.rfc6749 import AccessDeniedError, OAuth2Error
from joserfc.jwk import RSAKey

from homeserver.clock import Clock
from homeserver.config import Config
from homeserver.core.oauth import API_SCOPES, DEVICE_SCOPE_PREFIXES, OPENID, MatrixScope, parse_scope
from homeserver.errors import MatrixError
from homeserver.services.auth import AuthService, hash_token
from homeserver.services.devices import DeviceService
from homeserver.services.oauth.models import (
    DEVICE_CODE_GRANT,
    GRANT_TYPES,
    RESPONSE_TYPES,
    AuthorizationCode,
    Client,
    DeviceCredential,
    RefreshToken,
    RevocableToken,
    User,
)
from homeserver.services.oauth.protocol import (
    Effects,
    FormRequest,
    HearthAuthorizationServer,
    Preloaded,
    json_request,
)
from homeserver.services.ratelimit import RateLimiter
from storage.accounts import AccountStore
from storage.devices import DeviceStore
from storage.oauth import OAuthStore

logger = structlog.get_logger(__name__)

Query = dict[str, list[str]]
#: Unused client registrations are forgotten after this long.
_UNUSED_CLIENT_MS = 24 * 60 * 60 * 1000
#: How long an approval of a cross-signing reset on the account page lasts.
CROSS_SIGNING_RESET_MS = 10 * 60 * 1000

ACCOUNT_ACTIONS = (
    "org.matrix.devices_list",
    "org.matrix.device_view",
    "org.matrix.device_delete",
    "org.matrix.cross_signing_reset",
)


@dataclass(frozen=True)
class OAuthResponse:
    """An OAuth endpoint's answer (its JSON errors are OAuth's, not Matrix's)."""

    status: int
    body: Any
    headers: dict[str, str]


@dataclass(frozen=True)
class AuthorizationCheck:
    """A valid authorization request, ready for the consent page."""

    client_name: str
    client_uri: str
    scope: MatrixScope
    redirect_uri: str
    prompt: str | None


class AuthorizationRefused(Exception):
    """An invalid authorization request: sent back to the client when its redirect
    URI is trusted (``redirect``), otherwise shown to the person."""

    def __init__(self, description: str, redirect: str | None) -> None:
        super().__init__(description)
        self.description = description
        self.redirect = redirect


@dataclass(frozen=True)
class DevicePrompt:
    user_code: str
    client_name: str
    client_uri: str
    scope: MatrixScope


class OAuthService:
    def __init__(
        self,
        *,
        store: OAuthStore,
        devices: DeviceStore,
        device_service: DeviceService,
        auth: AuthService,
        accounts: AccountStore,
        rate_limiter: RateLimiter,
        config: Config,
        clock: Clock,
    ) -> None:
        self._store = store
        self._devices = devices
        self._device_service = device_service
        self._auth = auth
        self._accounts = accounts
        self._rate_limiter = rate_limiter
        self._config = config
        self._clock = clock
        self._base = config.public_baseurl.rstrip("/")
        self.issuer = self._base + "/"
        self._signing_key: tuple[str, str] | None = None
        self._key_lock = asyncio.Lock()

    @property
    def enabled(self) -> bool:
        return self._config.oauth.enabled

    def url(self, path: str) -> str:
        return f"{self._base}{path}"

    # -- discovery --------------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        """The authorization server metadata (RFC 8414, spec: ``GET /auth_metadata``)."""
        metadata: dict[str, Any] = {
            "issuer": self.issuer,
            "authorization_endpoint": self.url("/_hearth/oauth2/authorize"),
            "token_endpoint": self.url("/_hearth/oauth2/token"),
            "registration_endpoint": self.url("/_hearth/oauth2/register"),
            "revocation_endpoint": self.url("/_hearth/oauth2/revoke"),
            "device_authorization_endpoint": self.url("/_hearth/oauth2/device_authorization"),
            "jwks_uri": self.url("/_hearth/oauth2/keys.json"),
            "response_types_supported": list(RESPONSE_TYPES),
            "response_modes_supported": ["query", "fragment"],
            "grant_types_supported": list(GRANT_TYPES),
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none"],
            "revocation_endpoint_auth_methods_supported": ["none"],
            "scopes_supported": [OPENID, *API_SCOPES, *(p + "*" for p in DEVICE_SCOPE_PREFIXES)],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": ["iss", "sub", "aud", "iat", "exp", "auth_time", "nonce"],
            "account_management_uri": self.url("/_hearth/account/"),
            "account_management_actions_supported": list(ACCOUNT_ACTIONS),
        }
        if self._config.registration.enabled:
            metadata["prompt_values_supported"] = ["create"]
        return metadata

    async def jwks(self) -> dict[str, Any]:
        kid, pem = await self._key()
        public = RSAKey.import_key(pem).as_dict(private=False)
        return {"keys": [{**public, "kid": kid, "use": "sig", "alg": "RS256"}]}

    # -- client registration (RFC 7591) -----------------------------------------------

    async def register_client(self, body: Any, *, ip: str) -> OAuthResponse:
        self._rate_limiter.check("oauth_client", ip)
        if not isinstance(body, dict):
            return _error(400, "invalid_client_metadata", "The body must be a JSON object")
        data = dict(body)
        for key, known, default in (
            ("grant_types", GRANT_TYPES, ["authorization_code", "refresh_token"]),
            ("response_types", RESPONSE_TYPES, ["code"]),
        ):
            values = data.get(key, default)
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                return _error(400, "invalid_client_metadata", f"{key} must be a list of strings")
            data[key] = [v for v in dict.fromkeys(values) if v in known]  # unknown values are ignored (spec)
        data.setdefault("token_endpoint_auth_method", "none")
        preloaded = self._preloaded()
        preloaded.metadata = self.metadata()
        server = HearthAuthorizationServer(preloaded)
        status, response, headers = server.create_endpoint_response(
            "client_registration", json_request(self.url("/_hearth/oauth2/register"), data)
        )
        metadata = preloaded.effects.client
        if status != 201 or metadata is None:
            return OAuthResponse(status, response, headers)
        canonical = json.dumps(metadata, sort_keys=True, separators=(",", ":"))
        client_id = await self._store.add_client(
            response["client_id"], hashlib.sha256(canonical.encode()).hexdigest(), metadata, self._clock.time_ms()
        )
        logger.info("oauth_client_registered", client_id=client_id)
        return OAuthResponse(201, {**response, "client_id": client_id}, headers)

    # -- authorization endpoint (browser) -----------------------------------------------

    async def check_authorization(self, query: Query) -> AuthorizationCheck:
        """Validate an authorization request (raises :class:`AuthorizationRefused`)."""
        preloaded, request, grant = await self._consent_grant(query, None)
        client = preloaded.client
        assert client is not None  # authlib refused requests of unknown clients
        return AuthorizationCheck(
            client_name=client.name,
            client_uri=str(client.metadata.get("client_uri")),
            scope=parse_scope(request.scope),
            redirect_uri=grant.redirect_uri,
            prompt=request.payload.data.get("prompt"),
        )

    async def authorize(self, query: Query, *, user_id: str, auth_time: int, allow: bool) -> str:
        """The person's answer on the consent page: where their browser goes next (the
        client's redirect URI with a code, or with ``access_denied``)."""
        preloaded, request, grant = await self._consent_grant(query, User(user_id))
        if not allow:
            error = AccessDeniedError(
                redirect_uri=grant.redirect_uri, state=request.payload.state,
                redirect_fragment=_fragment(request.payload.data),
            )
            return dict(error()[2])["Location"]
        request.user_auth_time = auth_time
        server = HearthAuthorizationServer(preloaded)
        status, _, headers = server.create_authorization_response(request, grant_user=User(user_id), grant=grant)
        if preloaded.effects.code is not None:
            code, fields = preloaded.effects.code
            await self._store.add_code(
                hash_token(code), **fields,
                expires_ts=self._clock.time_ms() + self._config.oauth.authorization_code_lifetime * 1000,
            )
            logger.info("oauth_code_issued", client_id=fields["client_id"], user_id=user_id)
        return headers["Location"]

    async def _consent_grant(self, query: Query, user: User | None) -> tuple[Preloaded, FormRequest, Any]:
        preloaded = self._preloaded()
        preloaded.client = await self._client(_first(query, "client_id"))
        server = HearthAuthorizationServer(preloaded)
        request = FormRequest("GET", self.url("/_hearth/oauth2/authorize"), query, {})
        try:
            grant = server.get_consent_grant(request, end_user=user)
        except OAuth2Error as error:
            redirect = None
            if error.redirect_uri:
                error.redirect_fragment = _fragment(request.payload.data)
                redirect = dict(error()[2])["Location"]
            raise AuthorizationRefused(error.description or error.error, redirect) from None
        return preloaded, request, grant

    # -- token endpoint ---------------------------------------------------------------

    async def token(self, form: Query) -> OAuthResponse:
        """``POST /token``: the authorization code, refresh token and device code grants."""
        preloaded = self._preloaded()
        preloaded.client = await self._client(_first(form, "client_id"))
        grant_type = _first(form, "grant_type")
        if grant_type == "authorization_code" and _first(form, "code"):
            await self._load_code(preloaded, _first(form, "code") or "")
        elif grant_type == "refresh_token" and _first(form, "refresh_token"):
            await self._load_refresh_token(preloaded, _first(form, "refresh_token") or "")
        elif grant_type == DEVICE_CODE_GRANT and _first(form, "device_code"):
            record = await self._store.get_device_code(hash_token(_first(form, "device_code") or ""))
            if record is not None:
                preloaded.device_credential = DeviceCredential(record, preloaded.now_ms)
        server = HearthAuthorizationServer(preloaded)
        status, body, headers = server.create_token_response(
            FormRequest("POST", self.url("/_hearth/oauth2/token"), {}, form)
        )
        effects = preloaded.effects
        if effects.polled_device_code is not None:
            await self._store.record_poll(effects.polled_device_code, preloaded.now_ms)
        if effects.replayed_grant is not None:
            await self._end_grant(effects.replayed_grant)
        if status != 200:
            return OAuthResponse(status, body, {**headers, **_NO_STORE})
        if not await self._complete_tokens(effects):
            return _error(400, "invalid_grant", "The grant was used already")
        return OAuthResponse(200, body, {**headers, **_NO_STORE})

    async def _load_code(self, preloaded: Preloaded, code: str) -> None:
        record = await self._store.get_code(hash_token(code))
        if record is None:
            return
        preloaded.code = AuthorizationCode(record)
        user = await self._accounts.get_user(record.user_id)
        preloaded.code_user_active = user is not None and not user.deactivated
        if OPENID in record.scope.split(" "):
            preloaded.signing_key = await self._key()

    async def _load_refresh_token(self, preloaded: Preloaded, token: str) -> None:
        record = await self._devices.get_refresh_token(hash_token(token))
        if record is None or (record.expires_ts is not None and record.expires_ts <= preloaded.now_ms):
            return
        session = await self._store.get_session(record.user_id, record.device_id)
        if session is not None:
            preloaded.refresh_token = RefreshToken(token, record.user_id, record.device_id, session.client_id, session.scope)

    async def _complete_tokens(self, effects: Effects) -> bool:
        """Write what the grant decided; ``False`` if a concurrent request redeemed it first."""
        if effects.refresh is not None:
            token, refresh = effects.refresh
            try:
                issued = await self._auth.refresh(refresh.token)
            except MatrixError:
                return False
            _fill(token, issued.access_token, issued.refresh_token, issued.expires_in_ms)
            return True
        assert effects.issue is not None, "a successful grant issues tokens"
        token, user_id, scope_text, grant_id, client_id = effects.issue
        scope = parse_scope(scope_text)
        async with self._devices.db.transaction("oauth_issue_tokens"):
            if effects.redeem_code is not None and not await self._store.redeem_code(effects.redeem_code):
                return False
            if effects.redeem_device_code is not None and not await self._store.redeem_device_code(
                effects.redeem_device_code
            ):
                return False
            now = self._clock.time_ms()
            client = await self._store.get_client(client_id)
            name = str(client.metadata.get("client_name") or "") if client else ""
            await self._devices.ensure_device(user_id, scope.device_id, name or None, now)
            await self._devices.delete_tokens(user_id, scope.device_id)  # the spec: a reused device starts afresh
            issued = await self._auth.issue_tokens(user_id, scope.device_id, refreshable=True)
            await self._store.set_session(
                user_id, scope.device_id, client_id=client_id, scope=scope.text, grant_id=grant_id, now_ms=now
            )
        _fill(token, issued.access_token, issued.refresh_token, issued.expires_in_ms)
        logger.info("oauth_tokens_issued", user_id=user_id, device_id=scope.device_id, client_id=client_id)
        return True

    async def _end_grant(self, grant_id: str) -> None:
        """A code was presented again: log out the device its first redemption made."""
        session = await self._store.session_of_grant(grant_id)
        if session is not None:
            logger.warning("oauth_code_replayed", user_id=session.user_id, device_id=session.device_id)
            await self._device_service.remove_devices(session.user_id, [session.device_id])

    # -- revocation (RFC 7009) --------------------------------------------------------

    async def revoke(self, form: Query) -> OAuthResponse:
        preloaded = self._preloaded()
        preloaded.client = await self._client(_first(form, "client_id"))
        token = _first(form, "token")
        if token:
            access = await self._devices.get_access_token(hash_token(token))
            if access is not None:
                preloaded.revocable = RevocableToken(access.user_id, access.device_id)
            else:
                refresh = await self._devices.get_refresh_token(hash_token(token))
                if refresh is not None:
                    preloaded.revocable = RevocableToken(refresh.user_id, refresh.device_id)
        server = HearthAuthorizationServer(preloaded)
        status, body, headers = server.create_endpoint_response(
            "revocation", FormRequest("POST", self.url("/_hearth/oauth2/revoke"), {}, form)
        )
        revoked = preloaded.effects.revoke
        if status == 200 and revoked is not None:
            await self._device_service.remove_devices(revoked.user_id, [revoked.device_id])
            logger.info("oauth_token_revoked", user_id=revoked.user_id, device_id=revoked.device_id)
        return OAuthResponse(status, body, headers)

    # -- device authorization (RFC 8628) ----------------------------------------------

    async def device_authorization(self, form: Query, *, ip: str) -> OAuthResponse:
        self._rate_limiter.check("oauth_client", ip)
        preloaded = self._preloaded()
        preloaded.client = await self._client(_first(form, "client_id"))
        server = HearthAuthorizationServer(preloaded)
        status, body, headers = server.create_endpoint_response(
            "device_authorization", FormRequest("POST", self.url("/_hearth/oauth2/device_authorization"), {}, form)
        )
        if status == 200 and preloaded.effects.device_code is not None:
            device_code, fields = preloaded.effects.device_code
            await self._store.add_device_code(
                hash_token(device_code), fields["user_code"], client_id=fields["client_id"], scope=fields["scope"],
                expires_ts=preloaded.now_ms + self._config.oauth.device_code_lifetime * 1000,
            )
        return OAuthResponse(status, body, {**headers, **_NO_STORE})

    async def find_device_authorization(self, user_code: str) -> DevicePrompt | None:
        """The pending device authorization a person typed (or followed) the code of."""
        record = await self._store.find_user_code(normalise_user_code(user_code), self._clock.time_ms())
        if record is None:
            return None
        client = await self._client(record.client_id)
        if client is None:
            return None
        return DevicePrompt(record.user_code, client.name, str(client.metadata.get("client_uri")), parse_scope(record.scope))

    async def decide_device_authorization(self, user_code: str, *, user_id: str, auth_time: int, allow: bool) -> bool:
        record = await self._store.find_user_code(normalise_user_code(user_code), self._clock.time_ms())
        if record is None:
            return False
        return await self._store.decide_device_code(
            record.id, user_id, approved=allow, auth_time=auth_time, now_ms=self._clock.time_ms()
        )

    # -- account management -----------------------------------------------------------

    async def client_names(self, user_id: str) -> dict[str, str]:
        return await self._store.client_names(user_id)

    async def is_oauth_device(self, user_id: str, device_id: str) -> bool:
        return await self._store.get_session(user_id, device_id) is not None

    async def approve_cross_signing_reset(self, user_id: str) -> None:
        await self._store.approve_cross_signing_reset(user_id, self._clock.time_ms() + CROSS_SIGNING_RESET_MS)
        logger.info("cross_signing_reset_approved", user_id=user_id)

    async def use_cross_signing_reset(self, user_id: str) -> bool:
        return await self._store.use_cross_signing_reset(user_id, self._clock.time_ms())

    async def expire(self) -> None:
        now = self._clock.time_ms()
        await self._store.delete_expired(now, unused_client_before_ms=now - _UNUSED_CLIENT_MS)

    # -- internals --------------------------------------------------------------------

    def _preloaded(self) -> Preloaded:
        oauth = self._config.oauth
        return Preloaded(
            issuer=self.issuer,
            now_ms=self._clock.time_ms(),
            device_interval_s=oauth.device_code_interval,
            device_code_lifetime_s=oauth.device_code_lifetime,
            verification_uri=self.url("/_hearth/oauth2/device"),
        )

    async def _client(self, client_id: str | None) -> Client | None:
        if not client_id:
            return None
        record = await self._store.get_client(client_id)
        return Client(record.client_id, record.metadata) if record else None

    async def _key(self) -> tuple[str, str]:
        """The ID-token signing key, made (once, by whichever process is first) on first use."""
        if self._signing_key is None:
            async with self._key_lock:
                stored = await self._store.signing_key()
                if stored is None:
                    key = await asyncio.to_thread(RSAKey.generate_key, 2048)
                    pem = key.as_pem(private=True).decode()
                    await self._store.add_signing_key(key.thumbprint(), pem, self._clock.time_ms())
                    stored = await self._store.signing_key()
                self._signing_key = stored
        assert self._signing_key is not None
        return self._signing_key


_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def normalise_user_code(code: str) -> str:
    letters = "".join(c for c in code.upper() if c.isalnum())
    return f"{letters[:4]}-{letters[4:]}" if len(letters) == 8 else letters


def _first(values: Query, name: str) -> str | None:
    found = values.get(name)
    return found[0] if found else None


def _fragment(data: dict[str, str]) -> bool:
    return data.get("response_mode") == "fragment"


def _fill(token: dict[str, Any], access: str, refresh: str | None, expires_in_ms: int | None) -> None:
    token["access_token"] = access
    if refresh is not None:
        token["refresh_token"] = refresh
    if expires_in_ms is not None:
        token["expires_in"] = expires_in_ms // 1000


def _error(status: int, error: str, description: str) -> OAuthResponse:
    return OAuthResponse(status, {"error": error, "error_description": description}, {})


def origin_of(uri: str) -> str:
    """``scheme://host[:port]`` of a URI (for the consent page's form-action), or the
    scheme alone for private-use schemes."""
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else f"{parts.scheme}:"
