"""Device keys, one-time and fallback keys, cross-signing keys and signatures."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from storage.database import Database
from storage.streams import next_position

#: Orders one-time-key uploads: keys are claimed oldest upload first.
ONE_TIME_KEY_UPLOADS = "one_time_key_uploads"

#: How many times a one-time-key claim retries when a concurrent claim took its pick.
_CLAIM_ATTEMPTS = 20


@dataclass(frozen=True)
class DeviceKeys:
    device_id: str
    keys: dict[str, Any]
    display_name: str | None


@dataclass(frozen=True)
class Signature:
    target_user_id: str
    target_key_id: str
    signer_user_id: str
    signer_key_id: str
    signature: str


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


class KeyStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- device keys -------------------------------------------------------------

    async def get_device_keys(self, user_id: str, device_id: str) -> dict[str, Any] | None:
        raw = await self.db.fetchval(
            "SELECT key_json FROM e2e_device_keys WHERE user_id = $1 AND device_id = $2", user_id, device_id
        )
        return orjson.loads(raw) if raw is not None else None

    async def set_device_keys(self, user_id: str, device_id: str, keys: dict[str, Any]) -> None:
        await self.db.execute(
            "INSERT INTO e2e_device_keys (user_id, device_id, key_json) VALUES ($1, $2, $3)"
            " ON CONFLICT (user_id, device_id) DO UPDATE SET key_json = EXCLUDED.key_json",
            user_id, device_id, _dumps(keys),
        )

    async def devices_with_keys(self, user_id: str) -> list[DeviceKeys]:
        """Every device of the user that has uploaded keys, with its display name."""
        rows = await self.db.fetch(
            "SELECT k.device_id, k.key_json, d.display_name FROM e2e_device_keys k"
            " JOIN devices d ON d.user_id = k.user_id AND d.device_id = k.device_id"
            " WHERE k.user_id = $1 ORDER BY k.device_id",
            user_id,
        )
        return [DeviceKeys(r["device_id"], orjson.loads(r["key_json"]), r["display_name"]) for r in rows]

    # -- one-time and fallback keys ------------------------------------------------

    async def one_time_keys(self, user_id: str, device_id: str, ids: list[tuple[str, str]]) -> dict[tuple[str, str], Any]:
        """The stored values of some of a device's one-time keys, by ``(algorithm, key_id)``."""
        rows = await self.db.fetch(
            "SELECT algorithm, key_id, key_json FROM e2e_one_time_keys WHERE user_id = $1 AND device_id = $2",
            user_id, device_id,
        ) if ids else []
        wanted = set(ids)
        return {
            (r["algorithm"], r["key_id"]): orjson.loads(r["key_json"])
            for r in rows if (r["algorithm"], r["key_id"]) in wanted
        }

    async def add_one_time_keys(self, user_id: str, device_id: str, keys: dict[tuple[str, str], Any]) -> None:
        """Store new one-time keys (inside a transaction; one upload shares one sequence number)."""
        if not keys:
            return
        seq = await next_position(self.db, ONE_TIME_KEY_UPLOADS)
        await self.db.executemany(
            "INSERT INTO e2e_one_time_keys (user_id, device_id, algorithm, key_id, key_json, upload_seq)"
            " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            [(user_id, device_id, alg, key_id, _dumps(value), seq) for (alg, key_id), value in keys.items()],
        )

    async def count_one_time_keys(self, user_id: str, device_id: str) -> dict[str, int]:
        rows = await self.db.fetch(
            "SELECT algorithm, COUNT(*) AS n FROM e2e_one_time_keys"
            " WHERE user_id = $1 AND device_id = $2 GROUP BY algorithm",
            user_id, device_id,
        )
        return {r["algorithm"]: int(r["n"]) for r in rows}

    async def claim_one_time_key(self, user_id: str, device_id: str, algorithm: str) -> tuple[str, Any] | None:
        """Take the oldest one-time key of a device for ``algorithm`` (it is deleted).

        Safe against concurrent claims on both backends: a key is only ours if
        our ``DELETE`` removed it; when a concurrent claim won, try the next one.
        """
        for _ in range(_CLAIM_ATTEMPTS):
            row = await self.db.fetchrow(
                "SELECT key_id, key_json FROM e2e_one_time_keys"
                " WHERE user_id = $1 AND device_id = $2 AND algorithm = $3"
                " ORDER BY upload_seq, key_id LIMIT 1",
                user_id, device_id, algorithm,
            )
            if row is None:
                return None
            deleted = await self.db.execute(
                "DELETE FROM e2e_one_time_keys"
                " WHERE user_id = $1 AND device_id = $2 AND algorithm = $3 AND key_id = $4",
                user_id, device_id, algorithm, row["key_id"],
            )
            if deleted == 1:
                return row["key_id"], orjson.loads(row["key_json"])
        return None

    async def set_fallback_key(self, user_id: str, device_id: str, algorithm: str, key_id: str, value: Any) -> None:
        """Store the device's fallback key for ``algorithm`` (replacing the old one).

        Re-uploading the very same key keeps its ``used`` flag.
        """
        await self.db.execute(
            "INSERT INTO e2e_fallback_keys (user_id, device_id, algorithm, key_id, key_json, used)"
            " VALUES ($1, $2, $3, $4, $5, FALSE) ON CONFLICT (user_id, device_id, algorithm) DO UPDATE"
            " SET key_id = EXCLUDED.key_id, key_json = EXCLUDED.key_json,"
            " used = CASE WHEN e2e_fallback_keys.key_id = EXCLUDED.key_id"
            " AND e2e_fallback_keys.key_json = EXCLUDED.key_json THEN e2e_fallback_keys.used ELSE FALSE END",
            user_id, device_id, algorithm, key_id, _dumps(value),
        )

    async def use_fallback_key(self, user_id: str, device_id: str, algorithm: str) -> tuple[str, Any] | None:
        row = await self.db.fetchrow(
            "UPDATE e2e_fallback_keys SET used = TRUE WHERE user_id = $1 AND device_id = $2 AND algorithm = $3"
            " RETURNING key_id, key_json",
            user_id, device_id, algorithm,
        )
        return (row["key_id"], orjson.loads(row["key_json"])) if row is not None else None

    # -- cross-signing --------------------------------------------------------------

    async def cross_signing_keys(self, user_id: str) -> dict[str, dict[str, Any]]:
        """The user's cross-signing keys by type (master, self_signing, user_signing)."""
        rows = await self.db.fetch(
            "SELECT key_type, key_json FROM e2e_cross_signing_keys WHERE user_id = $1", user_id
        )
        return {r["key_type"]: orjson.loads(r["key_json"]) for r in rows}

    async def set_cross_signing_key(self, user_id: str, key_type: str, public_key: str, key: dict[str, Any]) -> None:
        await self.db.execute(
            "INSERT INTO e2e_cross_signing_keys (user_id, key_type, public_key, key_json) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (user_id, key_type) DO UPDATE"
            " SET public_key = EXCLUDED.public_key, key_json = EXCLUDED.key_json",
            user_id, key_type, public_key, _dumps(key),
        )

    async def add_signatures(self, signatures: list[Signature]) -> None:
        await self.db.executemany(
            "INSERT INTO e2e_signatures (target_user_id, target_key_id, signer_user_id, signer_key_id, signature)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (target_user_id, target_key_id, signer_user_id, signer_key_id)"
            " DO UPDATE SET signature = EXCLUDED.signature",
            [(s.target_user_id, s.target_key_id, s.signer_user_id, s.signer_key_id, s.signature) for s in signatures],
        )

    async def signatures_on(self, user_id: str) -> list[Signature]:
        """Every stored signature on the user's devices and cross-signing keys."""
        rows = await self.db.fetch(
            "SELECT target_user_id, target_key_id, signer_user_id, signer_key_id, signature"
            " FROM e2e_signatures WHERE target_user_id = $1",
            user_id,
        )
        return [Signature(**dict(r)) for r in rows]

    async def signatures_by(self, signer_user_id: str, target_user_ids: list[str]) -> list[Signature]:
        """The stored signatures ``signer_user_id`` made on the keys of ``target_user_ids``."""
        if not target_user_ids:
            return []
        placeholders = ", ".join(f"${i + 2}" for i in range(len(target_user_ids)))
        rows = await self.db.fetch(
            "SELECT target_user_id, target_key_id, signer_user_id, signer_key_id, signature"
            f" FROM e2e_signatures WHERE signer_user_id = $1 AND target_user_id IN ({placeholders})",
            signer_user_id, *target_user_ids,
        )
        return [Signature(**dict(r)) for r in rows]

    async def delete_signatures_by(self, user_id: str, signer_key_ids: list[str]) -> None:
        """Drop signatures made with keys the user has replaced."""
        await self.db.executemany(
            "DELETE FROM e2e_signatures WHERE signer_user_id = $1 AND signer_key_id = $2",
            [(user_id, key_id) for key_id in signer_key_ids],
        )

    # -- per-sync status -------------------------------------------------------------

    async def device_status(self, user_id: str, device_id: str, received_up_to: int) -> "DeviceStatus":
        """What every sync of a device reports, read in one query: its one-time key
        counts, its unused fallback key types, and whether its inbox still holds
        to-device messages at or before ``received_up_to`` (delivered, now acknowledged)."""
        rows = await self.db.fetch(
            "SELECT 'otk' AS kind, algorithm, COUNT(*) AS n FROM e2e_one_time_keys"
            " WHERE user_id = $1 AND device_id = $2 GROUP BY algorithm"
            " UNION ALL SELECT 'fallback' AS kind, algorithm, 0 AS n FROM e2e_fallback_keys"
            " WHERE user_id = $1 AND device_id = $2 AND NOT used"
            " UNION ALL SELECT 'acked' AS kind, '' AS algorithm, COUNT(*) AS n FROM to_device_inbox"
            " WHERE user_id = $1 AND device_id = $2 AND stream_id <= $3",
            user_id, device_id, received_up_to,
        )
        return DeviceStatus(
            one_time_key_counts={r["algorithm"]: int(r["n"]) for r in rows if r["kind"] == "otk"},
            unused_fallback_key_types=sorted(r["algorithm"] for r in rows if r["kind"] == "fallback"),
            has_acknowledged_messages=any(r["kind"] == "acked" and int(r["n"]) > 0 for r in rows),
        )


@dataclass(frozen=True)
class DeviceStatus:
    one_time_key_counts: dict[str, int]
    unused_fallback_key_types: list[str]
    has_acknowledged_messages: bool
