"""The durable federation outbox, destination health, and inbound transaction IDs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from storage.database import Database


@dataclass(frozen=True)
class Queued:
    id: int
    kind: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class DestinationHealth:
    failures: int
    retry_at_ts: int


class FederationQueueStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def enqueue(self, destinations: list[str], kind: str, payload: dict[str, Any], now_ms: int) -> None:
        """Queue one PDU or EDU for each destination (inside the caller's transaction)."""
        encoded = orjson.dumps(payload).decode()
        await self.db.executemany(
            "INSERT INTO federation_outbox (destination, kind, payload, created_ts) VALUES ($1, $2, $3, $4)",
            [(d, kind, encoded, now_ms) for d in destinations],
        )

    async def destinations_with_work(self) -> list[str]:
        rows = await self.db.fetch("SELECT DISTINCT destination FROM federation_outbox")
        return sorted(r["destination"] for r in rows)

    async def next_batch(self, destination: str, max_pdus: int, max_edus: int) -> list[Queued]:
        """The oldest queued PDUs and EDUs of a destination, up to the per-transaction limits."""
        rows = await self.db.fetch(
            "SELECT id, kind, payload FROM federation_outbox WHERE destination = $1 AND kind = 'pdu'"
            " ORDER BY id LIMIT $2",
            destination, max_pdus,
        ) + await self.db.fetch(
            "SELECT id, kind, payload FROM federation_outbox WHERE destination = $1 AND kind = 'edu'"
            " ORDER BY id LIMIT $2",
            destination, max_edus,
        )
        return sorted((Queued(int(r["id"]), r["kind"], orjson.loads(r["payload"])) for r in rows), key=lambda q: q.id)

    async def queued_count(self, destination: str) -> int:
        """How many PDUs and EDUs wait for ``destination``."""
        count = await self.db.fetchval("SELECT count(*) FROM federation_outbox WHERE destination = $1", destination)
        return int(count or 0)

    async def delivered(self, destination: str, ids: list[int], now_ms: int) -> None:
        async with self.db.transaction("federation_delivered"):
            await self.db.executemany(
                "DELETE FROM federation_outbox WHERE destination = $1 AND id = $2", [(destination, i) for i in ids]
            )
            await self.db.execute(
                "INSERT INTO federation_destinations (destination, failures, retry_at_ts, last_success_ts)"
                " VALUES ($1, 0, 0, $2) ON CONFLICT (destination) DO UPDATE SET failures = 0, retry_at_ts = 0,"
                " last_success_ts = EXCLUDED.last_success_ts",
                destination, now_ms,
            )

    async def health(self, destination: str) -> DestinationHealth:
        row = await self.db.fetchrow(
            "SELECT failures, retry_at_ts FROM federation_destinations WHERE destination = $1", destination
        )
        return DestinationHealth(int(row["failures"]), int(row["retry_at_ts"])) if row else DestinationHealth(0, 0)

    async def failed(self, destination: str, failures: int, retry_at_ts: int) -> None:
        await self.db.execute(
            "INSERT INTO federation_destinations (destination, failures, retry_at_ts) VALUES ($1, $2, $3)"
            " ON CONFLICT (destination) DO UPDATE SET failures = EXCLUDED.failures, retry_at_ts = EXCLUDED.retry_at_ts",
            destination, failures, retry_at_ts,
        )

    # -- inbound ---------------------------------------------------------------------------

    async def inbound_response(self, origin: str, txn_id: str) -> dict[str, Any] | None:
        raw = await self.db.fetchval(
            "SELECT response FROM federation_inbound_txns WHERE origin = $1 AND txn_id = $2", origin, txn_id
        )
        return orjson.loads(raw) if raw is not None else None

    async def record_inbound(self, origin: str, txn_id: str, response: dict[str, Any], now_ms: int) -> None:
        await self.db.execute(
            "INSERT INTO federation_inbound_txns (origin, txn_id, response, received_ts) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (origin, txn_id) DO NOTHING",
            origin, txn_id, orjson.dumps(response).decode(), now_ms,
        )
