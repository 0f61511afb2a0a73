"""authlib's model interfaces over Hearth's OAuth records (loaded before authlib runs)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin
from authlib.oauth2.rfc8628 import DeviceCredentialMixin
from authlib.oidc.core import AuthorizationCodeMixin as OpenIDCodeMixin

from homeserver.core.oauth import redirect_uri_matches
from storage.oauth import CodeRecord, DeviceCodeRecord

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
#: The grant types and response types Hearth knows; others in a registration are ignored.
GRANT_TYPES = ("authorization_code", "refresh_token", DEVICE_CODE_GRANT)
RESPONSE_TYPES = ("code",)


@dataclass(frozen=True)
class User:
    user_id: str

    def get_user_id(self) -> str:
        return self.user_id


class Client(ClientMixin):
    """A registered public client (``token_endpoint_auth_method: none``)."""

    def __init__(self, client_id: str, metadata: dict[str, Any]) -> None:
        self.client_id = client_id
        self.metadata = metadata

    @property
    def name(self) -> str:
        return str(self.metadata.get("client_name") or self.metadata.get("client_uri"))

    @property
    def application_type(self) -> str:
        return str(self.metadata.get("application_type", "web"))

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return None  # the spec has clients always send redirect_uri

    def get_allowed_scope(self, scope: str) -> str:
        return scope  # checked against the Matrix rules by the server (validate_requested_scope)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri_matches(
            redirect_uri, list(self.metadata.get("redirect_uris", [])), application_type=self.application_type
        )

    def check_client_secret(self, client_secret: str) -> bool:
        return False

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == "none"

    def check_response_type(self, response_type: str) -> bool:
        return response_type in self.metadata.get("response_types", [])

    def check_grant_type(self, grant_type: str) -> bool:
        # Every client may refresh: the spec has the server always issue refresh tokens.
        return grant_type == "refresh_token" or grant_type in self.metadata.get("grant_types", [])


class AuthorizationCode(OpenIDCodeMixin):
    def __init__(self, record: CodeRecord) -> None:
        self.record = record
        self.code_challenge = record.code_challenge
        self.code_challenge_method = "S256"

    def get_redirect_uri(self) -> str:
        return self.record.redirect_uri

    def get_scope(self) -> str:
        return self.record.scope

    def get_nonce(self) -> str | None:
        return self.record.nonce

    def get_auth_time(self) -> int:
        return self.record.auth_time

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None


class RefreshToken(TokenMixin):
    """A refresh token of an OAuth device (the client and scope of its grant)."""

    def __init__(self, token: str, user_id: str, device_id: str, client_id: str, scope: str) -> None:
        self.token = token
        self.user_id = user_id
        self.device_id = device_id
        self.client_id = client_id
        self.scope = scope

    def check_client(self, client: ClientMixin) -> bool:
        return self.client_id == client.get_client_id()

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return 0

    def is_expired(self) -> bool:
        return False  # an expired refresh token is never loaded

    def is_revoked(self) -> bool:
        return False


@dataclass(frozen=True)
class RevocableToken:
    """An access or refresh token to revoke: its device ends with it. Anyone holding
    the token may revoke it (spec: even without or with another ``client_id``)."""

    user_id: str
    device_id: str

    def check_client(self, client: object) -> bool:
        return True


class DeviceCredential(DeviceCredentialMixin):
    def __init__(self, record: DeviceCodeRecord, now_ms: int) -> None:
        self.record = record
        self._now_ms = now_ms

    def get_client_id(self) -> str:
        return self.record.client_id

    def get_scope(self) -> str:
        return self.record.scope

    def get_user_code(self) -> str:
        return self.record.user_code

    def is_expired(self) -> bool:
        return self.record.expires_ts <= self._now_ms
