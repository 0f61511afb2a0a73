"""The durable federation sender (spec: Server-Server API, "Transactions").

Design note: PDUs and EDUs are queued in ``federation_outbox`` inside the
transaction that produced them, so what commits is delivered and what rolls
back is not. After commit, ``wake()`` starts one delivery task per
destination; each sends transactions of at most 50 PDUs and 100 EDUs, oldest
first, and deletes rows only once the destination accepted them (at least
once delivery; receivers dedupe by transaction ID and event ID). A failing
destination backs off exponentially (2 s doubling up to a day, with jitter)
on its own, never holding up the others, and resumes from where it stopped,
across restarts too: ``start()`` picks up every destination with work left.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import structlog

from federation.client import FederationClient, FederationError
from homeserver.clock import Clock
from homeserver.core.events import Event
from storage.federation_queue import FederationQueueStore

logger = structlog.get_logger(__name__)

MAX_PDUS = 50
MAX_EDUS = 100
BASE_BACKOFF_S = 2.0
MAX_BACKOFF_S = 24 * 60 * 60.0
SEND_TIMEOUT_S = 60.0


def backoff_seconds(failures: int) -> float:
    """How long to wait after ``failures`` failures in a row (before jitter)."""
    return min(BASE_BACKOFF_S * 2 ** max(failures - 1, 0), MAX_BACKOFF_S)


class FederationSender:
    def __init__(self, *, store: FederationQueueStore, client: FederationClient, clock: Clock, server_name: str) -> None:
        self._store = store
        self._client = client
        self._clock = clock
        self._server_name = server_name
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._more: set[str] = set()
        self._to_wake: set[str] = set()
        self._running = False

    # -- the OutboundFederation port ------------------------------------------------------

    async def enqueue_pdu(self, event: Event, destinations: set[str]) -> None:
        pdu = {k: v for k, v in event.pdu().items() if k != "unsigned"}
        await self._enqueue("pdu", pdu, destinations)

    async def enqueue_edu(self, edu_type: str, content: dict[str, Any], destinations: set[str]) -> None:
        await self._enqueue("edu", {"edu_type": edu_type, "content": content}, destinations)

    async def _enqueue(self, kind: str, payload: dict[str, Any], destinations: set[str]) -> None:
        targets = sorted(d for d in destinations if d != self._server_name)
        if targets:
            await self._store.enqueue(targets, kind, payload, self._clock.time_ms())
            self._to_wake.update(targets)

    def wake(self) -> None:
        """After commit: deliver what was queued."""
        woken, self._to_wake = self._to_wake, set()
        for destination in woken:
            self._kick(destination)

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Resume delivery to every destination with work left (e.g. after a restart)."""
        self._running = True
        for destination in await self._store.destinations_with_work():
            self._kick(destination)

    async def stop(self) -> None:
        self._running = False
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()

    def _kick(self, destination: str) -> None:
        if not self._running:
            return
        self._more.add(destination)
        task = self._tasks.get(destination)
        if task is None or task.done():
            self._tasks[destination] = asyncio.create_task(self._deliver(destination), name=f"federation:{destination}")

    # -- delivery -----------------------------------------------------------------------------

    async def _deliver(self, destination: str) -> None:
        try:
            while True:
                self._more.discard(destination)
                health = await self._store.health(destination)
                wait_ms = health.retry_at_ts - self._clock.time_ms()
                if wait_ms > 0:
                    await asyncio.sleep(wait_ms / 1000)
                batch = await self._store.next_batch(destination, MAX_PDUS, MAX_EDUS)
                if not batch:
                    if destination in self._more:
                        continue
                    return
                if await self._send(destination, batch):
                    await self._store.delivered(destination, [q.id for q in batch], self._clock.time_ms())
                else:
                    failures = health.failures + 1
                    delay = backoff_seconds(failures) * random.uniform(0.8, 1.2)
                    await self._store.failed(destination, failures, self._clock.time_ms() + int(delay * 1000))
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("federation_delivery_crashed", destination=destination)
        finally:
            if self._tasks.get(destination) is asyncio.current_task():
                del self._tasks[destination]

    async def _send(self, destination: str, batch: list[Any]) -> bool:
        txn_id = f"{batch[0].id}-{batch[-1].id}"
        body = {
            "origin": self._server_name,
            "origin_server_ts": self._clock.time_ms(),
            "pdus": [q.payload for q in batch if q.kind == "pdu"],
            "edus": [q.payload for q in batch if q.kind == "edu"],
        }
        try:
            await self._client.request(
                destination, "PUT", f"/_matrix/federation/v1/send/{txn_id}", body=body, timeout=SEND_TIMEOUT_S
            )
        except FederationError as e:
            if e.status == 400:
                # The destination will never take this transaction: do not wedge the queue on it.
                logger.warning("federation_transaction_refused", destination=destination, txn_id=txn_id, error=str(e))
                return True
            logger.info("federation_delivery_failed", destination=destination, txn_id=txn_id, error=str(e))
            return False
        logger.debug("federation_transaction_sent", destination=destination, txn_id=txn_id, size=len(batch))
        return True
