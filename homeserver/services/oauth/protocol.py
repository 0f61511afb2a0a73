"""authlib's OAuth 2.0 machinery, run over records loaded beforehand.

Design note: authlib's grants and endpoints (RFC 6749 authorization code and refresh
token grants, RFC 7636 PKCE, RFC 7591 registration, RFC 7009 revocation, RFC 8628
device grant, OpenID Connect ID tokens) are synchronous and reach storage through
callbacks, while Hearth's storage is asynchronous. So the service fetches first:
everything one request can need (its client, the code, refresh token or device code it
names) goes into a :class:`Preloaded`; a fresh :class:`HearthAuthorizationServer` runs
authlib's checks over it without I/O; and what authlib decides to write is recorded as
:class:`Effects` that the service performs afterwards. Each single-use step is then one
conditional statement in the database, so a racing replay still loses even after
authlib said yes.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Request,
    UnauthorizedClientError,
)
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.requests import JsonPayload, JsonRequest, OAuth2Payload
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7591 import ClientMetadataClaims, ClientRegistrationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge, create_s256_code_challenge
from authlib.oauth2.rfc8628 import DeviceAuthorizationEndpoint, DeviceCodeGrant
from authlib.oauth2.claims import BaseClaims
from authlib.oidc.core import OpenIDCode
from authlib.oidc.core.grants.util import create_response_mode_response
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from homeserver.core.oauth import (
    OAuthRuleError,
    check_client_uri,
    check_redirect_uri,
    check_related_uri,
    parse_scope,
)
from homeserver.services.oauth.models import (
    DEVICE_CODE_GRANT,
    AuthorizationCode,
    Client,
    DeviceCredential,
    RefreshToken,
    RevocableToken,
    User,
)

#: Lifetime of an ID token, seconds.
ID_TOKEN_LIFETIME_S = 3600


@dataclass
class Effects:
    """What authlib decided to write; the service performs it after the run."""

    #: A new authorization code: (code, fields for the store).
    code: tuple[str, dict[str, Any]] | None = None
    #: Tokens to issue: (token dict to complete, user ID, scope, grant ID, client ID).
    issue: tuple[dict[str, Any], str, str, str, str] | None = None
    #: A refresh to perform: (token dict to complete, the refresh token).
    refresh: tuple[dict[str, Any], RefreshToken] | None = None
    redeem_code: int | None = None
    redeem_device_code: int | None = None
    #: A code presented again: the grant whose tokens must go (done even on failure).
    replayed_grant: str | None = None
    #: The device authorization that was polled (recorded even on failure).
    polled_device_code: int | None = None
    revoke: RevocableToken | None = None
    device_code: tuple[str, dict[str, Any]] | None = None
    client: dict[str, Any] | None = None


@dataclass
class Preloaded:
    """Everything one request may need, fetched by the service beforehand."""

    issuer: str
    now_ms: int
    client: Client | None = None
    code: AuthorizationCode | None = None
    code_user_active: bool = False
    refresh_token: RefreshToken | None = None
    device_credential: DeviceCredential | None = None
    revocable: RevocableToken | None = None
    signing_key: tuple[str, str] | None = None
    device_interval_s: int = 5
    device_code_lifetime_s: int = 1800
    verification_uri: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    effects: Effects = field(default_factory=Effects)


class FormRequest(OAuth2Request):
    """An authlib request over a query and a form (both ``name -> [values]``)."""

    def __init__(self, method: str, uri: str, query: Mapping[str, list[str]], form: Mapping[str, list[str]]) -> None:
        super().__init__(method, uri)
        self._query = {k: v[0] for k, v in query.items()}
        self._form = {k: v[0] for k, v in form.items()}
        self.payload = _Payload({**query, **form})

    @property
    def args(self) -> dict[str, str]:
        return self._query

    @property
    def form(self) -> dict[str, str]:
        return self._form


class _Payload(OAuth2Payload):
    def __init__(self, values: Mapping[str, list[str]]) -> None:
        self._datalist = {k: list(v) for k, v in values.items()}
        self._data = {k: v[0] for k, v in values.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> dict[str, list[str]]:  # type: ignore[override]
        return self._datalist


class _JsonPayload(JsonPayload):
    def __init__(self, data: dict[str, Any]) -> None:
        self._body = data

    @property
    def data(self) -> dict[str, Any]:
        return self._body


def json_request(uri: str, data: dict[str, Any]) -> JsonRequest:
    request = JsonRequest("POST", uri)
    request.payload = _JsonPayload(data)
    return request


class HearthAuthorizationServer(AuthorizationServer):
    """One request's authorization server over its :class:`Preloaded` records."""

    def __init__(self, preloaded: Preloaded) -> None:
        super().__init__()
        self.preloaded = preloaded
        self.register_token_generator("default", _token_skeleton)
        self.register_grant(_AuthorizationCodeGrant, [_S256Only(required=True), _OpenIDCode(require_nonce=False)])
        self.register_grant(_RefreshTokenGrant)
        self.register_grant(_DeviceCodeGrant)
        self.register_endpoint(_RevocationEndpoint)
        self.register_endpoint(_DeviceAuthorizationEndpoint(self))
        self.register_endpoint(_ClientRegistrationEndpoint(self, [_RFC7591Metadata, _MatrixClientMetadata]))

    def query_client(self, client_id: str) -> Client | None:
        client = self.preloaded.client
        return client if client is not None and client.client_id == client_id else None

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        effects = self.preloaded.effects
        if isinstance(request.refresh_token, RefreshToken):
            effects.refresh = (token, request.refresh_token)
        elif isinstance(request.authorization_code, AuthorizationCode):
            code = request.authorization_code.record
            effects.issue = (token, code.user_id, token["scope"], f"code:{code.id}", code.client_id)
        elif isinstance(request.credential, DeviceCredential):
            record = request.credential.record
            effects.issue = (token, request.user.user_id, token["scope"], f"device:{record.id}", record.client_id)
            effects.redeem_device_code = record.id

    def validate_requested_scope(self, scope: str | None) -> None:
        try:
            parse_scope(scope)
        except OAuthRuleError as e:
            raise InvalidScopeError(str(e)) from None

    def create_oauth2_request(self, request: OAuth2Request) -> OAuth2Request:
        return request

    def create_json_request(self, request: JsonRequest) -> JsonRequest:
        return request

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> tuple[int, Any, dict[str, str]]:
        return status, body, dict(headers)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        pass


def _token_skeleton(**kwargs: Any) -> dict[str, Any]:
    """The token response before the service issues the tokens themselves."""
    return {"token_type": "Bearer", "scope": kwargs["scope"]}


class _S256Only(CodeChallenge):
    """PKCE required, ``S256`` only (spec), verifiers compared in constant time."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    CODE_CHALLENGE_METHODS = {
        "S256": lambda verifier, challenge: hmac.compare_digest(
            create_s256_code_challenge(verifier).encode(), challenge.encode()
        )
    }

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: missing code_challenge")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256")
        super().validate_code_challenge(grant, redirect_uri)


class _AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["none"]

    def validate_authorization_request(self) -> str:
        redirect_uri = super().validate_authorization_request()
        if self.request.payload.data.get("response_mode", "query") not in ("query", "fragment"):
            raise InvalidRequestError("response_mode must be query or fragment", redirect_uri=redirect_uri)
        return redirect_uri

    def create_authorization_response(self, redirect_uri: str, grant_user: User | None) -> tuple:
        if grant_user is None:
            return super().create_authorization_response(redirect_uri, grant_user)  # access_denied
        self.request.user = grant_user
        code = self.generate_authorization_code()
        self.save_authorization_code(code, self.request)
        params = [("code", code)]
        if self.request.payload.state:
            params.append(("state", self.request.payload.state))
        mode = self.request.payload.data.get("response_mode", "query")
        return create_response_mode_response(redirect_uri, params, mode)

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        data = request.payload.data
        self.server.preloaded.effects.code = (code, {
            "client_id": request.client.client_id,
            "user_id": request.user.user_id,
            "redirect_uri": request.payload.redirect_uri,
            "scope": request.scope,
            "nonce": data.get("nonce"),
            "code_challenge": data["code_challenge"],
            "auth_time": request.user_auth_time,
        })

    def query_authorization_code(self, code: str, client: Client) -> AuthorizationCode | None:
        preloaded = self.server.preloaded
        found = preloaded.code
        if found is None or found.record.client_id != client.client_id:
            return None
        if found.record.used:
            preloaded.effects.replayed_grant = f"code:{found.record.id}"
            return None
        if found.record.expires_ts <= preloaded.now_ms:
            return None
        return found

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        self.server.preloaded.effects.redeem_code = authorization_code.record.id

    def authenticate_user(self, authorization_code: AuthorizationCode) -> User | None:
        if not self.server.preloaded.code_user_active:
            return None
        return User(authorization_code.record.user_id)


class _OpenIDCode(OpenIDCode):
    """ID tokens (RS256) for clients that ask for ``openid``, as OIDC-based clients do."""

    def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
        return False

    def encode_id_token(self, token: dict[str, Any], request: OAuth2Request) -> str:
        server: HearthAuthorizationServer = self.server
        preloaded = server.preloaded
        assert preloaded.signing_key is not None, "the service loads the key for code grants"
        kid, pem = preloaded.signing_key
        code: AuthorizationCode = request.authorization_code
        now = preloaded.now_ms // 1000
        claims: dict[str, Any] = {
            "iss": preloaded.issuer,
            "sub": code.record.user_id,
            "aud": code.record.client_id,
            "iat": now,
            "exp": now + ID_TOKEN_LIFETIME_S,
            "auth_time": code.record.auth_time,
        }
        if code.record.nonce:
            claims["nonce"] = code.record.nonce
        return jwt.encode({"alg": "RS256", "kid": kid}, claims, RSAKey.import_key(pem))

    def __call__(self, grant: Any) -> None:
        self.server = grant.server
        super().__call__(grant)


class _RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["none"]
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshToken | None:
        found = self.server.preloaded.refresh_token
        return found if found is not None and hmac.compare_digest(found.token, refresh_token) else None

    def authenticate_user(self, refresh_token: RefreshToken) -> User:
        return User(refresh_token.user_id)

    def revoke_old_credential(self, refresh_token: RefreshToken) -> None:
        pass  # the refresh itself rotates the token (see AuthService.refresh)


class _DeviceCodeGrant(DeviceCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["none"]

    def query_device_credential(self, device_code: str) -> DeviceCredential | None:
        found = self.server.preloaded.device_credential
        if found is None or found.record.status == "used":
            return None
        self.server.preloaded.effects.polled_device_code = found.record.id
        return found

    def query_user_grant(self, user_code: str) -> tuple[User, bool] | None:
        record = self.server.preloaded.device_credential.record
        if record.status == "pending" or record.user_id is None:
            return None
        return User(record.user_id), record.status == "approved"

    def should_slow_down(self, credential: DeviceCredential) -> bool:
        last = credential.record.last_poll_ts
        preloaded = self.server.preloaded
        return last is not None and preloaded.now_ms - last < preloaded.device_interval_s * 1000


class _RevocationEndpoint(RevocationEndpoint):
    CLIENT_AUTH_METHODS = ["none"]

    def authenticate_endpoint_client(self, request: OAuth2Request) -> Client | None:
        return self.server.preloaded.client  # optional (spec): the token is what counts

    def query_token(self, token_string: str, token_type_hint: str | None) -> RevocableToken | None:
        return self.server.preloaded.revocable

    def revoke_token(self, token: RevocableToken, request: OAuth2Request) -> None:
        self.server.preloaded.effects.revoke = token


class _DeviceAuthorizationEndpoint(DeviceAuthorizationEndpoint):
    CLIENT_AUTH_METHODS = ["none"]

    def __init__(self, server: HearthAuthorizationServer) -> None:
        super().__init__(server)
        self.EXPIRES_IN = server.preloaded.device_code_lifetime_s
        self.INTERVAL = server.preloaded.device_interval_s

    def authenticate_client(self, request: OAuth2Request) -> Client:
        client = super().authenticate_client(request)
        if not client.check_grant_type(DEVICE_CODE_GRANT):
            raise UnauthorizedClientError("The client did not register the device code grant")
        return client

    def get_verification_uri(self) -> str:
        return self.server.preloaded.verification_uri

    def save_device_credential(self, client_id: str, scope: str, data: dict[str, Any]) -> None:
        self.server.preloaded.effects.device_code = (data["device_code"], {
            "client_id": client_id, "scope": scope, "user_code": data["user_code"],
        })


class _ClientRegistrationEndpoint(ClientRegistrationEndpoint):
    def authenticate_token(self, request: JsonRequest) -> bool:
        return True  # open dynamic registration (rate limited per address)

    def get_server_metadata(self) -> dict[str, Any]:
        return self.server.preloaded.metadata

    def generate_client_info(self, request: JsonRequest) -> dict[str, Any]:
        return {"client_id": self.generate_client_id(request), "client_id_issued_at": int(time.time())}

    def save_client(self, client_info: dict[str, Any], client_metadata: dict[str, Any], request: JsonRequest) -> dict:
        self.server.preloaded.effects.client = client_metadata
        return client_metadata


class _RFC7591Metadata(ClientMetadataClaims):
    def validate_redirect_uris(self) -> None:
        pass  # private-use schemes are fine: the Matrix rules below check every redirect URI


class _MatrixClientMetadata(BaseClaims):
    """The spec's rules on client metadata, after RFC 7591's (spec: "Client metadata",
    "Redirect URI validation")."""

    REGISTERED_CLAIMS = ["application_type"]

    def validate(self, now: Any = None, leeway: int = 0) -> None:
        try:
            client_uri = check_client_uri(self.get("client_uri"))
            for name in ("logo_uri", "tos_uri", "policy_uri"):
                if name in self:
                    check_related_uri(name, self[name], client_uri)
            application_type = self.get("application_type", "web")
            if application_type not in ("web", "native"):
                raise OAuthRuleError("application_type must be web or native")
            redirect_uris = self.get("redirect_uris") or []
            if not isinstance(redirect_uris, list):
                raise OAuthRuleError("redirect_uris must be a list")
            for uri in redirect_uris:
                check_redirect_uri(uri, application_type=application_type, client_uri=client_uri)
            if "authorization_code" in self.get("grant_types", []) and not redirect_uris:
                raise OAuthRuleError("The authorization code grant needs redirect_uris")
            if self.get("token_endpoint_auth_method") != "none":
                raise OAuthRuleError("Only public clients (token_endpoint_auth_method none) are supported")
        except OAuthRuleError as e:
            raise JoseError(str(e).replace('"', "'")) from None
        self["application_type"] = application_type
