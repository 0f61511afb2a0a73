"""Two-factor sign-in with TOTP (RFC 6238) and one-time recovery codes.

Design note: a person enrols in two steps: :meth:`begin_enrolment` stores a new,
unconfirmed secret and returns it with its ``otpauth://`` URI (for a QR code);
:meth:`confirm_enrolment` checks a first code and returns ten recovery codes, which
are stored only as SHA-256 hashes. From then on :meth:`verify` accepts a current code
(the previous, current and next 30-second step, each compared in constant time) or a
recovery code. A code counts once: the step it belongs to must be newer than the last
accepted step, moved forward in one conditional update, so a code replayed within its
period (or raced by two requests) fails. Wrong codes are rate limited per account
(``rate_limits.second_factor_failed``), so guessing six digits is hopeless.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

import pyotp
import structlog

from homeserver.clock import Clock
from homeserver.config import TwoFactorConfig
from homeserver.errors import MatrixError
from homeserver.services.ratelimit import RateLimiter
from storage.second_factor import SecondFactorStore

logger = structlog.get_logger(__name__)

PERIOD_S = 30
DIGITS = 6
#: Steps either side of now that a code may belong to (clock drift).
_WINDOW = 1
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


@dataclass(frozen=True)
class Enrolment:
    secret: str
    otpauth_uri: str


@dataclass(frozen=True)
class SecondFactorStatus:
    enrolled: bool
    required: bool
    recovery_codes_left: int


class SecondFactorService:
    def __init__(
        self,
        store: SecondFactorStore,
        rate_limiter: RateLimiter,
        clock: Clock,
        config: TwoFactorConfig,
        server_name: str,
    ) -> None:
        self._store = store
        self._rate_limiter = rate_limiter
        self._clock = clock
        self._config = config
        self._issuer = config.issuer_name or server_name

    def required(self, *, is_admin: bool) -> bool:
        """Whether the policy (``auth.two_factor.required_for``) demands a second factor."""
        policy = self._config.required_for
        return policy == "everyone" or (policy == "admins" and is_admin)

    async def is_enrolled(self, user_id: str) -> bool:
        record = await self._store.get_totp(user_id)
        return record is not None and record.confirmed

    async def status(self, user_id: str, *, is_admin: bool) -> SecondFactorStatus:
        enrolled = await self.is_enrolled(user_id)
        left = await self._store.count_recovery_codes(user_id) if enrolled else 0
        return SecondFactorStatus(enrolled, self.required(is_admin=is_admin), left)

    async def check_can_enrol(self, user_id: str) -> None:
        if await self.is_enrolled(user_id):
            raise MatrixError("M_FORBIDDEN", "Two-factor sign-in is already set up; remove it first")

    def check_removable(self, *, is_admin: bool) -> None:
        if self.required(is_admin=is_admin):
            raise MatrixError("M_FORBIDDEN", "This server requires two-factor sign-in for your account")

    async def begin_enrolment(self, user_id: str) -> Enrolment:
        """A new secret for ``user_id`` (replacing one not yet confirmed)."""
        await self.check_can_enrol(user_id)
        secret = pyotp.random_base32()
        await self._store.start_enrolment(user_id, secret, self._clock.time_ms())
        record = await self._store.get_totp(user_id)
        if record is None or record.confirmed:  # confirmed by a concurrent request meanwhile
            raise MatrixError("M_FORBIDDEN", "Two-factor sign-in is already set up; remove it first")
        return Enrolment(record.secret, self._uri(user_id, record.secret))

    async def confirm_enrolment(self, user_id: str, code: str) -> list[str]:
        """Check the first code of a pending enrolment; return the recovery codes."""
        record = await self._store.get_totp(user_id)
        if record is None or record.confirmed:
            raise MatrixError("M_FORBIDDEN", "There is no two-factor enrolment waiting for a code")
        self._rate_limiter.check("second_factor_failed", user_id, spend=False)
        if not await self._accept_totp(user_id, record.secret, code):
            self._failed(user_id)
        codes = _new_recovery_codes()
        if not await self._store.confirm(user_id, record.secret, [_hash(c) for c in codes]):
            raise MatrixError("M_FORBIDDEN", "The enrolment changed meanwhile; start again")
        logger.info("second_factor_enrolled", user_id=user_id)
        return codes

    async def verify(self, user_id: str, code: str) -> None:
        """Accept a TOTP code or a recovery code of an enrolled account, or raise
        ``403 M_FORBIDDEN`` (``429`` once too many were wrong)."""
        self._rate_limiter.check("second_factor_failed", user_id, spend=False)
        record = await self._store.get_totp(user_id)
        if record is None or not record.confirmed:
            self._failed(user_id)
            return
        normalised = code.strip().replace(" ", "")
        if normalised.isdigit() and len(normalised) == DIGITS:
            if await self._accept_totp(user_id, record.secret, normalised):
                return
        elif await self._store.use_recovery_code(user_id, _hash(normalised)):
            logger.info("recovery_code_used", user_id=user_id)
            return
        self._failed(user_id)

    async def new_recovery_codes(self, user_id: str) -> list[str]:
        if not await self.is_enrolled(user_id):
            raise MatrixError("M_FORBIDDEN", "Two-factor sign-in is not set up")
        codes = _new_recovery_codes()
        await self._store.replace_recovery_codes(user_id, [_hash(c) for c in codes])
        return codes

    async def remove(self, user_id: str, *, is_admin: bool) -> None:
        """The person turns two-factor sign-in off (refused where the policy requires it)."""
        self.check_removable(is_admin=is_admin)
        await self._store.remove(user_id)
        logger.info("second_factor_removed", user_id=user_id)

    async def reset(self, user_id: str) -> bool:
        """An admin removes someone's enrolment (lost phone and recovery codes)."""
        removed = await self._store.remove(user_id)
        logger.info("second_factor_reset", user_id=user_id, removed=removed)
        return removed

    # -- internals ------------------------------------------------------------------

    async def _accept_totp(self, user_id: str, secret: str, code: str) -> bool:
        totp = pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD_S)
        now_step = self._clock.time_ms() // 1000 // PERIOD_S
        matched = None
        for step in range(now_step - _WINDOW, now_step + _WINDOW + 1):
            if hmac.compare_digest(totp.at(step * PERIOD_S).encode(), code.encode()):
                matched = step
        return matched is not None and await self._store.use_step(user_id, matched)

    def _failed(self, user_id: str) -> None:
        self._rate_limiter.record("second_factor_failed", user_id)
        raise MatrixError("M_FORBIDDEN", "Invalid two-factor code")

    def _uri(self, user_id: str, secret: str) -> str:
        return pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD_S).provisioning_uri(
            name=user_id, issuer_name=self._issuer
        )


def _new_recovery_codes() -> list[str]:
    return [
        "-".join("".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(4)) for _ in range(3))
        for _ in range(RECOVERY_CODES)
    ]


def _normalise_recovery(code: str) -> str:
    return code.lower().replace("-", "")


def _hash(code: str) -> str:
    return hashlib.sha256(_normalise_recovery(code).encode("utf-8")).hexdigest()
