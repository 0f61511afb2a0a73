"""Typed configuration, loaded from YAML and validated at startup.

Every section is a frozen dataclass with defaults; :func:`load_config` walks the
YAML against the type hints and stops at the first problem with a
:class:`ConfigError` naming the key path (``rate_limits.login.burst: expected an
integer, got 'x'``). Any string value may be ``${NAME}`` (or contain it) to read
a secret from the environment. Relative paths are relative to the config file.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml


class ConfigError(Exception):
    """The configuration is unusable; the message names the key and the problem."""


@dataclass(frozen=True)
class ListenConfig:
    #: Addresses the client (and admin) HTTP listener binds to.
    bind_addresses: tuple[str, ...] = ("127.0.0.1",)
    port: int = 8008
    #: Trust ``X-Forwarded-For`` for the client IP (only behind a reverse proxy you run).
    x_forwarded: bool = False
    #: Largest JSON request body accepted, in bytes (media uploads have their own limit).
    max_request_size: int = 1024 * 1024
    # The slow-client guards below apply to the client and the federation listeners alike.
    #: Seconds a connection may take to send a complete request head, counted from when
    #: it opens or its previous response ends (an idle keep-alive connection closes then too).
    header_timeout: float = 30.0
    #: Seconds a request body may take to arrive after its head, plus one second per
    #: ``body_min_rate`` bytes received (so steady large uploads finish, trickles do not).
    body_timeout: float = 30.0
    #: Bytes per second that earn a request body one more second (see ``body_timeout``).
    body_min_rate: int = 16 * 1024
    #: Open connections allowed from one client address (not applied behind
    #: ``x_forwarded``, where every connection comes from the proxy).
    max_connections_per_address: int = 128


@dataclass(frozen=True)
class DatabaseConfig:
    #: ``sqlite:///relative/or/absolute.db`` (SQLAlchemy-style: four slashes for an
    #: absolute path) or ``postgresql://user:password@host:port/database``.
    url: str = "sqlite:///hearth.db"
    #: Connections in the pool (PostgreSQL) or reader connections (SQLite).
    pool_size: int = 8


@dataclass(frozen=True)
class FederationConfig:
    #: Serve the Server-Server API on a TLS listener.
    enabled: bool = False
    bind_addresses: tuple[str, ...] = ("0.0.0.0",)
    port: int = 8448
    tls_certificate_path: str | None = None
    tls_private_key_path: str | None = None
    #: Verify remote servers' TLS certificates. Turn off only in test setups.
    verify_certificates: bool = True
    #: Extra CA certificates (PEM) trusted for outbound federation, besides the system store.
    ca_bundle_path: str | None = None
    #: Server name -> "host:port" to connect to, skipping discovery (test setups, private networks).
    server_addresses: dict[str, str] = field(default_factory=dict)
    #: Notary servers asked for keys a server cannot serve itself (none by default).
    trusted_key_servers: tuple[str, ...] = ()


#: Addresses no outbound request may reach unless ``outbound.allow_ranges`` lists them:
#: this host, private networks, link-local, carrier-grade NAT, documentation,
#: benchmarking, multicast and reserved ranges, and IPv6 ranges that embed or
#: translate IPv4 addresses (IPv4-compatible, NAT64, 6to4, Teredo).
DEFAULT_DENY_RANGES: tuple[str, ...] = (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15",
    "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
    "::/96", "::ffff:0:0/96", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001::/32", "2001:db8::/32",
    "2002::/16", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
)


@dataclass(frozen=True)
class OutboundConfig:
    """Where Hearth's own outbound requests (federation, key and media fetches) may go."""

    #: CIDR ranges no outbound connection may reach; checked against every address a
    #: name resolves to, at the moment of connecting.
    deny_ranges: tuple[str, ...] = DEFAULT_DENY_RANGES
    #: CIDR ranges allowed despite ``deny_ranges`` (test setups, private federations).
    allow_ranges: tuple[str, ...] = ()


@dataclass(frozen=True)
class RegistrationConfig:
    #: Whether ``/register`` accepts new accounts at all (with a token unless ``open``).
    enabled: bool = True
    #: Anyone may register without a registration token.
    open: bool = False
    #: Shared secret for ``/_synapse/admin/v1/register``; unset disables that endpoint.
    shared_secret: str | None = None
    #: Allow ``kind=guest`` registration (and guests' requests: off, their tokens are refused).
    allow_guests: bool = False
    #: Localparts nobody may register (answered with ``M_EXCLUSIVE``).
    reserved_localparts: tuple[str, ...] = ()


@dataclass(frozen=True)
class PasswordHashingConfig:
    """Argon2id cost parameters (RFC 9106's second recommended option by default)."""

    time_cost: int = 3
    memory_kib: int = 65536
    parallelism: int = 4
    #: Threads that hash passwords (their own pool: media work never delays a login).
    workers: int = 2


@dataclass(frozen=True)
class TwoFactorConfig:
    """Second factor (TOTP, RFC 6238) at sign-in and for sensitive actions."""

    #: Who must have a second factor: ``nobody`` (people choose), ``admins`` or
    #: ``everyone``. Those who must and have none enrol at their next browser sign-in
    #: (``/_hearth/account/``); ``m.login.password`` refuses them until then.
    required_for: Literal["nobody", "admins", "everyone"] = "nobody"
    #: The issuer shown by authenticator apps; defaults to ``server_name``.
    issuer_name: str | None = None


@dataclass(frozen=True)
class AuthConfig:
    #: Offer ``m.login.password`` at ``/login`` (legacy API). With ``false`` people sign
    #: in through the OAuth 2.0 API only (passwords still confirm sensitive actions).
    password_login: bool = True
    #: Minimum length of a new password (``M_WEAK_PASSWORD`` below it).
    password_min_length: int = 8
    password_hashing: PasswordHashingConfig = field(default_factory=PasswordHashingConfig)
    #: Lifetime in seconds of access tokens issued to clients that support refresh tokens.
    refreshable_access_token_lifetime: int = 300
    #: Lifetime in seconds of refresh tokens; unset means they never expire.
    refresh_token_lifetime: int | None = None
    #: Lifetime in seconds of a browser sign-in to Hearth's own pages (login, consent,
    #: account management): the ``hearth_session`` cookie.
    web_session_lifetime: int = 24 * 60 * 60
    two_factor: TwoFactorConfig = field(default_factory=TwoFactorConfig)


@dataclass(frozen=True)
class OAuthConfig:
    """Hearth as its own OAuth 2.0 authorization server (spec: "OAuth 2.0 API"); the
    issuer and every endpoint live under ``public_baseurl``."""

    #: Serve ``/_matrix/client/v1/auth_metadata`` and the OAuth 2.0 endpoints.
    enabled: bool = False
    #: Seconds an authorization code may wait for its token request (RFC 6749: at most 10 minutes).
    authorization_code_lifetime: int = 600
    #: Seconds a device authorization (RFC 8628) waits for the user.
    device_code_lifetime: int = 1800
    #: Seconds a device must wait between polls of the token endpoint.
    device_code_interval: int = 5


@dataclass(frozen=True)
class RateLimit:
    #: Sustained actions per second.
    per_second: float
    #: Actions allowed in a burst before the rate applies.
    burst: int


@dataclass(frozen=True)
class RateLimitsConfig:
    #: ``false`` switches every limit off (load tests, test setups); a warning is logged.
    enabled: bool = True
    #: Registration attempts per client IP.
    registration: RateLimit = RateLimit(per_second=0.17, burst=3)
    #: Login attempts per client IP.
    login_address: RateLimit = RateLimit(per_second=0.17, burst=3)
    #: Login attempts per account.
    login_account: RateLimit = RateLimit(per_second=0.17, burst=3)
    #: Failed login attempts per account.
    login_failed: RateLimit = RateLimit(per_second=0.17, burst=3)
    #: Events sent by a user (messages, state, redactions).
    message: RateLimit = RateLimit(per_second=2.0, burst=30)
    #: Room joins and knocks by a user.
    join: RateLimit = RateLimit(per_second=0.1, burst=10)
    #: Media uploads and ``/create`` calls by a user.
    media_upload: RateLimit = RateLimit(per_second=1.0, burst=20)
    #: Rooms created by a user.
    room_creation: RateLimit = RateLimit(per_second=0.05, burst=10)
    #: Invites sent by a user (each invitee of a ``createRoom`` counts).
    invite: RateLimit = RateLimit(per_second=0.5, burst=30)
    #: ``/sendToDevice`` requests by a user.
    to_device: RateLimit = RateLimit(per_second=10.0, burst=100)
    #: Typing notifications by a user.
    typing: RateLimit = RateLimit(per_second=1.0, burst=10)
    #: Profile changes by a user (each one updates the user's membership in every joined room).
    profile: RateLimit = RateLimit(per_second=0.1, burst=10)
    #: Nonces handed out by ``GET /_synapse/admin/v1/register``, per client address.
    shared_secret_nonce: RateLimit = RateLimit(per_second=0.17, burst=5)
    #: Wrong second-factor codes (TOTP or recovery codes) per account.
    second_factor_failed: RateLimit = RateLimit(per_second=0.05, burst=5)
    #: OAuth 2.0 dynamic client registrations and device authorizations per client address.
    oauth_client: RateLimit = RateLimit(per_second=0.5, burst=20)
    #: ``/voip/turnServer`` credential requests by a user.
    turn: RateLimit = RateLimit(per_second=0.5, burst=20)
    #: OpenID token requests (``/user/{userId}/openid/request_token``) by a user.
    openid: RateLimit = RateLimit(per_second=0.5, burst=20)


@dataclass(frozen=True)
class RoomsConfig:
    #: Room version for new rooms (advertised in ``/capabilities``).
    default_version: str = "12"


@dataclass(frozen=True)
class MediaConfig:
    #: Directory of uploaded files (stored once per content hash).
    store_path: str = "media"
    #: Largest upload in bytes (413 M_TOO_LARGE beyond; advertised in /media/config).
    max_upload_size: int = 50 * 1024 * 1024
    #: Total bytes one user may have uploaded; null for no limit.
    user_quota: int | None = 1024 * 1024 * 1024
    #: Content types accepted for upload: ``type/subtype``, ``type/*`` or ``*/*``.
    allowed_content_types: tuple[str, ...] = ("*/*",)
    #: Serve the deprecated unauthenticated ``/_matrix/media/v3/download|thumbnail`` endpoints.
    legacy_unauthenticated: bool = False
    #: Largest image, in pixels, that Hearth decodes to make thumbnails.
    max_thumbnail_source_pixels: int = 32_000_000
    #: Threads that decode and scale images (their own pool, apart from password hashing).
    thumbnail_workers: int = 2
    #: Seconds a ``/create``d media ID waits for its upload.
    pending_upload_lifetime_s: int = 24 * 60 * 60
    #: Media IDs a user may have created and not yet uploaded.
    max_pending_uploads: int = 10


@dataclass(frozen=True)
class LoggingConfig:
    level: Literal["debug", "info", "warning", "error"] = "info"
    #: ``console`` for people, ``json`` for log collectors.
    format: Literal["console", "json"] = "console"


@dataclass(frozen=True)
class MetricsConfig:
    #: Serve Prometheus metrics at ``/metrics`` on a listener of their own.
    enabled: bool = False
    #: Addresses the metrics listener binds to (keep it private: it needs no login).
    bind_addresses: tuple[str, ...] = ("127.0.0.1",)
    port: int = 9000


@dataclass(frozen=True)
class WellKnownConfig:
    #: ``m.homeserver.base_url`` in ``/.well-known/matrix/client``; defaults to ``public_baseurl``.
    client_base_url: str | None = None
    #: ``m.server`` in ``/.well-known/matrix/server`` (``host:port``) for delegation;
    #: defaults to the federation listener when federation is enabled.
    server: str | None = None
    #: MatrixRTC SFUs for group calls, advertised as ``org.matrix.msc4143.rtc_foci``, e.g.
    #: ``[{type: livekit, livekit_service_url: "https://livekit-jwt.example.org"}]``.
    rtc_foci: tuple[dict[str, str], ...] = ()


@dataclass(frozen=True)
class TurnConfig:
    """The organisation's TURN relay for calls (coturn with ``use-auth-secret``)."""

    #: TURN URIs handed to clients, e.g. ``turn:turn.example.org:3478?transport=udp``.
    #: Empty (the default): ``/voip/turnServer`` answers ``{}``.
    uris: tuple[str, ...] = ()
    #: The secret shared with coturn (``static-auth-secret``).
    shared_secret: str | None = None
    #: Seconds a handed-out credential stays valid.
    user_lifetime: int = 3600
    #: Whether guests get relay credentials.
    allow_guests: bool = True


@dataclass(frozen=True)
class Config:
    #: The domain in user IDs (``@alice:server_name``). Cannot change once users exist.
    server_name: str
    #: The URL clients use to reach this server.
    public_baseurl: str = "http://localhost:8008/"
    #: The ed25519 signing key file (Synapse format).
    signing_key_path: str = "signing.key"
    listen: ListenConfig = field(default_factory=ListenConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    federation: FederationConfig = field(default_factory=FederationConfig)
    outbound: OutboundConfig = field(default_factory=OutboundConfig)
    registration: RegistrationConfig = field(default_factory=RegistrationConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    oauth: OAuthConfig = field(default_factory=OAuthConfig)
    rate_limits: RateLimitsConfig = field(default_factory=RateLimitsConfig)
    rooms: RoomsConfig = field(default_factory=RoomsConfig)
    media: MediaConfig = field(default_factory=MediaConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    well_known: WellKnownConfig = field(default_factory=WellKnownConfig)
    turn: TurnConfig = field(default_factory=TurnConfig)
    #: Directory of the config file; relative paths are resolved against it.
    config_dir: str = field(default=".", metadata={"internal": True})

    def path(self, value: str) -> Path:
        """``value`` resolved against the config file's directory."""
        p = Path(value)
        return p if p.is_absolute() else Path(self.config_dir) / p


# -- loading ------------------------------------------------------------------------

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read, substitute environment references in, and validate a YAML config file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{path}: cannot read config file: {e.strerror or e}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}") from None
    if data is None:
        data = {}
    config_dir = str(Path(path).resolve().parent)
    return parse_config(data, config_dir=config_dir)


def parse_config(data: Any, *, config_dir: str = ".") -> Config:
    """Validate an already-parsed mapping as a :class:`Config`."""
    if not isinstance(data, dict):
        raise ConfigError("the config file must be a mapping of keys to values")
    data = dict(data)
    data["config_dir"] = config_dir
    config = _build(Config, data, "")
    _check_semantics(config)
    return config


def _check_semantics(config: Config) -> None:
    from homeserver.core.room_versions import KNOWN_ROOM_VERSIONS

    if not re.fullmatch(r"[A-Za-z0-9.\-\[\]:]+", config.server_name):
        raise ConfigError(f"server_name: {config.server_name!r} is not a valid server name")
    if config.rooms.default_version not in KNOWN_ROOM_VERSIONS:
        raise ConfigError(
            f"rooms.default_version: unknown room version {config.rooms.default_version!r}"
        )
    url = config.database.url
    if not (url.startswith("sqlite:///") or url.startswith(("postgresql://", "postgres://"))):
        raise ConfigError(
            "database.url: must start with sqlite:/// or postgresql:// "
            f"(got {url.split(':', 1)[0]!r})"
        )
    ports = (("listen.port", config.listen.port), ("federation.port", config.federation.port), ("metrics.port", config.metrics.port))
    for key, port in ports:
        if not 0 <= port <= 65535:
            raise ConfigError(f"{key}: {port} is not a TCP port")
    if config.federation.enabled and not (
        config.federation.tls_certificate_path and config.federation.tls_private_key_path
    ):
        raise ConfigError(
            "federation: enabled needs tls_certificate_path and tls_private_key_path"
        )
    for name, address in config.federation.server_addresses.items():
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"federation.server_addresses.{name}: {address!r} is not host:port")
    for key in ("deny_ranges", "allow_ranges"):
        for i, cidr in enumerate(getattr(config.outbound, key)):
            try:
                ipaddress.ip_network(cidr)
            except ValueError as e:
                raise ConfigError(f"outbound.{key}[{i}]: {cidr!r} is not a CIDR range ({e})") from None
    listen = config.listen
    if min(listen.header_timeout, listen.body_timeout) <= 0 or listen.body_min_rate < 1:
        raise ConfigError("listen: header_timeout, body_timeout and body_min_rate must be positive")
    if listen.max_connections_per_address < 1:
        raise ConfigError("listen.max_connections_per_address: must be at least 1")
    ca_bundle = config.federation.ca_bundle_path
    if ca_bundle is not None and not config.path(ca_bundle).is_file():
        raise ConfigError(f"federation.ca_bundle_path: {config.path(ca_bundle)} is not a readable file")
    media = config.media
    if media.max_upload_size < 1 or media.max_thumbnail_source_pixels < 1 or media.max_pending_uploads < 1:
        raise ConfigError("media: max_upload_size, max_thumbnail_source_pixels and max_pending_uploads must be positive")
    for key, workers in (
        ("media.thumbnail_workers", media.thumbnail_workers),
        ("auth.password_hashing.workers", config.auth.password_hashing.workers),
    ):
        if workers < 1:
            raise ConfigError(f"{key}: must be at least 1")
    oauth = config.oauth
    for key in ("authorization_code_lifetime", "device_code_lifetime", "device_code_interval"):
        if getattr(oauth, key) < 1:
            raise ConfigError(f"oauth.{key}: must be at least 1")
    if oauth.enabled and not re.match(r"(https://[^/?#]+|http://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?)(/|$)",
                                      config.public_baseurl):
        raise ConfigError("public_baseurl: oauth.enabled needs an https URL (the issuer), or http on loopback")
    if config.auth.web_session_lifetime < 60:
        raise ConfigError("auth.web_session_lifetime: must be at least 60 seconds")
    for pattern in media.allowed_content_types:
        if not re.fullmatch(r"[\w.+-]+/[\w.+*-]+|\*/\*", pattern):
            raise ConfigError(f"media.allowed_content_types: {pattern!r} is not a content type pattern")
    for i, focus in enumerate(config.well_known.rtc_foci):
        if "type" not in focus:
            raise ConfigError(f"well_known.rtc_foci[{i}]: needs a type (e.g. livekit)")
        if focus["type"] == "livekit" and not focus.get("livekit_service_url", "").startswith("https://"):
            raise ConfigError(f"well_known.rtc_foci[{i}]: a livekit focus needs an https livekit_service_url")
    turn = config.turn
    for i, uri in enumerate(turn.uris):
        if not re.fullmatch(r"turns?:[^\s?]+(\?transport=(udp|tcp))?", uri):
            raise ConfigError(f"turn.uris[{i}]: {uri!r} is not a turn: or turns: URI")
    if turn.uris and not turn.shared_secret:
        raise ConfigError("turn: uris needs shared_secret (the static-auth-secret shared with coturn)")
    if turn.user_lifetime < 60:
        raise ConfigError("turn.user_lifetime: must be at least 60 seconds")
    for name in (f.name for f in dataclasses.fields(RateLimitsConfig) if f.name != "enabled"):
        limit: RateLimit = getattr(config.rate_limits, name)
        if limit.per_second <= 0 or limit.burst < 1:
            raise ConfigError(f"rate_limits.{name}: per_second must be > 0 and burst >= 1")


def _build(tp: Any, value: Any, path: str) -> Any:
    where = path or "config"
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {_describe(value)}")
        hints = typing.get_type_hints(tp)
        fields = {f.name: f for f in dataclasses.fields(tp)}
        for key in value:
            if key not in fields or (fields[key].metadata.get("internal") and path):
                raise ConfigError(f"{_join(path, str(key))}: unknown key")
        kwargs = {}
        for name, f in fields.items():
            if name in value:
                kwargs[name] = _build(hints[name], value[name], _join(path, name))
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(f"{_join(path, name)}: required key is missing")
        return tp(**kwargs)

    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _build(inner[0], value, path)
    if origin is Literal:
        if value not in args:
            choices = ", ".join(repr(a) for a in args)
            raise ConfigError(f"{where}: must be one of {choices}, got {value!r}")
        return value
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {_describe(value)}")
        return {
            _build(args[0], k, f"{path}[{k!r}]"): _build(args[1], v, _join(path, str(k)))
            for k, v in value.items()
        }
    if origin is tuple:
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {_describe(value)}")
        return tuple(_build(args[0], v, f"{path}[{i}]") for i, v in enumerate(value))
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {_describe(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {_describe(value)}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {_describe(value)}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {_describe(value)}")
        return _substitute_env(value, where)
    raise TypeError(f"unsupported config type {tp!r} at {where}")  # a bug in this module


def _substitute_env(value: str, where: str) -> str:
    def lookup(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in os.environ:
            raise ConfigError(f"{where}: environment variable {name} is not set")
        return os.environ[name]

    return _ENV_REF.sub(lookup, value)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _describe(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, (dict, list)):
        return f"a {'mapping' if isinstance(value, dict) else 'list'}"
    return repr(value)
