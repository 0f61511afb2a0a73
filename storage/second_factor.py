"""TOTP secrets and one-time recovery codes.

Every use of a code is one conditional statement, so of two requests racing with the
same code exactly one wins: a TOTP step moves ``last_step`` forward only if it is newer
than the last accepted one, a recovery code is deleted by the request that uses it.
"""

from __future__ import annotations

from dataclasses import dataclass

from storage.database import Database


@dataclass(frozen=True)
class TotpRecord:
    user_id: str
    secret: str
    confirmed: bool
    last_step: int


class SecondFactorStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get_totp(self, user_id: str) -> TotpRecord | None:
        row = await self.db.fetchrow(
            "SELECT user_id, secret, confirmed, last_step FROM totp_secrets WHERE user_id = $1", user_id
        )
        if row is None:
            return None
        return TotpRecord(row["user_id"], row["secret"], bool(row["confirmed"]), int(row["last_step"]))

    async def start_enrolment(self, user_id: str, secret: str, now_ms: int) -> None:
        """Store a new, unconfirmed secret, replacing an unconfirmed one (never a confirmed one)."""
        await self.db.execute(
            "INSERT INTO totp_secrets (user_id, secret, confirmed, created_ts) VALUES ($1, $2, FALSE, $3)"
            " ON CONFLICT (user_id) DO UPDATE SET secret = EXCLUDED.secret, created_ts = EXCLUDED.created_ts,"
            " last_step = 0 WHERE NOT totp_secrets.confirmed",
            user_id,
            secret,
            now_ms,
        )

    async def use_step(self, user_id: str, step: int) -> bool:
        """Accept a code of time step ``step``: ``True`` once, if no newer step was used."""
        changed = await self.db.execute(
            "UPDATE totp_secrets SET last_step = $2 WHERE user_id = $1 AND last_step < $2", user_id, step
        )
        return changed == 1

    async def confirm(self, user_id: str, secret: str, code_hashes: list[str]) -> bool:
        """Mark the enrolment of ``secret`` confirmed and store fresh recovery codes;
        ``False`` if it was confirmed already or the secret changed meanwhile."""
        async with self.db.transaction("confirm_totp"):
            changed = await self.db.execute(
                "UPDATE totp_secrets SET confirmed = TRUE WHERE user_id = $1 AND secret = $2 AND NOT confirmed",
                user_id,
                secret,
            )
            if changed != 1:
                return False
            await self.replace_recovery_codes(user_id, code_hashes)
        return True

    async def remove(self, user_id: str) -> bool:
        """Forget the secret and the recovery codes; ``True`` if there was a secret."""
        async with self.db.transaction("remove_totp"):
            await self.db.execute("DELETE FROM totp_recovery_codes WHERE user_id = $1", user_id)
            changed = await self.db.execute("DELETE FROM totp_secrets WHERE user_id = $1", user_id)
        return changed == 1

    async def replace_recovery_codes(self, user_id: str, code_hashes: list[str]) -> None:
        async with self.db.transaction("replace_recovery_codes"):
            await self.db.execute("DELETE FROM totp_recovery_codes WHERE user_id = $1", user_id)
            await self.db.executemany(
                "INSERT INTO totp_recovery_codes (user_id, code_hash) VALUES ($1, $2)",
                [(user_id, h) for h in code_hashes],
            )

    async def use_recovery_code(self, user_id: str, code_hash: str) -> bool:
        """Spend a recovery code: ``True`` for the one request that deletes it."""
        changed = await self.db.execute(
            "DELETE FROM totp_recovery_codes WHERE user_id = $1 AND code_hash = $2", user_id, code_hash
        )
        return changed == 1

    async def count_recovery_codes(self, user_id: str) -> int:
        return int(
            await self.db.fetchval("SELECT COUNT(*) FROM totp_recovery_codes WHERE user_id = $1", user_id)
        )
