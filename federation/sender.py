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

Poison: a destination that answers (rather than being unreachable) but keeps
refusing a transaction may be refusing one item in it, and retrying the same
transaction forever would hold back everything queued after it. After
:data:`ISOLATE_AFTER` refusals in a row (at once when the answer says the
transaction itself is unacceptable: 400, 413) the destination is *isolating*:
its queued items go one per transaction, so the others get through. An item
refused alone with 400 or 413, or refused :data:`DROP_AFTER` times while the
destination took other items (so it is the item, not the destination), is
dropped and logged. A pass in which nothing is refused any more ends the
isolation. Unreachable destinations, and those answering 429, only back off:
nothing is learnt, nothing is dropped. Isolation is kept in memory; after a restart it starts over.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Any

import structlog

from federation.client import FederationClient, FederationError
from homeserver import metrics
from homeserver.clock import Clock
from homeserver.core.events import Event
from storage.federation_queue import DestinationHealth, FederationQueueStore, Queued

logger = structlog.get_logger(__name__)

MAX_PDUS = 50
MAX_EDUS = 100
BASE_BACKOFF_S = 2.0
MAX_BACKOFF_S = 24 * 60 * 60.0
SEND_TIMEOUT_S = 60.0
#: Refusals in a row of a transaction before its items are sent one by one.
ISOLATE_AFTER = 3
#: Refusals of one item, sent alone while the destination took others, before it is dropped.
DROP_AFTER = 3
#: Answers that refuse a transaction for what it holds: sent again unchanged, it cannot succeed.
REFUSED_FOR_CONTENT = frozenset({400, 413})


def backoff_seconds(failures: int) -> float:
    """How long to wait after ``failures`` failures in a row (before jitter)."""
    return min(BASE_BACKOFF_S * 2 ** max(failures - 1, 0), MAX_BACKOFF_S)


def _refused(error: FederationError) -> bool:
    """Whether the destination answered the transaction with a refusal (not: unreachable,
    or asking us to slow down)."""
    return error.status is not None and error.status != 429


@dataclass
class _Isolation:
    """A destination whose items go one per transaction (see the design note)."""

    refusals: dict[int, int] = field(default_factory=dict)
    #: Whether the destination took an item since the isolation began.
    accepted: bool = False


class FederationSender:
    def __init__(self, *, store: FederationQueueStore, client: FederationClient, clock: Clock, server_name: str) -> None:
        self._store = store
        self._client = client
        self._clock = clock
        self._server_name = server_name
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._more: set[str] = set()
        self._to_wake: set[str] = set()
        self._isolating: dict[str, _Isolation] = {}
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
                await self._report_queue(destination, batch)
                if not batch:
                    self._isolating.pop(destination, None)
                    if destination in self._more:
                        continue
                    return
                # Isolating (or starting to, the batch refused): an item per transaction.
                if destination in self._isolating or await self._send_batch(destination, batch, health):
                    await self._send_one_by_one(destination, batch, health)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("federation_delivery_crashed", destination=destination)
        finally:
            if self._tasks.get(destination) is asyncio.current_task():
                del self._tasks[destination]

    async def _report_queue(self, destination: str, batch: list[Queued]) -> None:
        """Set ``hearth_federation_queued_items`` for ``destination`` (dropped when nothing waits)."""
        if not batch:
            try:
                metrics.FEDERATION_QUEUED.remove(destination)
            except KeyError:
                pass
            return
        pdus = sum(1 for q in batch if q.kind == "pdu")
        whole = pdus < MAX_PDUS and len(batch) - pdus < MAX_EDUS  # the batch is all there is
        queued = len(batch) if whole else await self._store.queued_count(destination)
        metrics.FEDERATION_QUEUED.labels(destination).set(queued)

    async def _send_batch(self, destination: str, batch: list[Queued], health: DestinationHealth) -> bool:
        """Send ``batch`` as one transaction; True when its items must now go one by one."""
        error = await self._send(destination, batch)
        now = self._clock.time_ms()
        if error is None:
            await self._store.delivered(destination, [q.id for q in batch], now)
            return False
        failures = health.failures + 1
        if _refused(error) and (error.status in REFUSED_FOR_CONTENT or failures >= ISOLATE_AFTER):
            if len(batch) > 1:
                logger.warning("federation_isolating", destination=destination, status=error.status, error=str(error))
                self._isolating[destination] = _Isolation()
                return True
            if error.status in REFUSED_FOR_CONTENT:
                self._drop(destination, batch[0], error)
                await self._store.delivered(destination, [batch[0].id], now)
                return False
        await self._back_off(destination, failures)
        return False

    async def _send_one_by_one(self, destination: str, batch: list[Queued], health: DestinationHealth) -> None:
        """One pass over ``batch``, an item per transaction: deliver what the destination
        takes, drop what it will never take, back off if anything is left."""
        isolation = self._isolating.setdefault(destination, _Isolation())
        done: list[int] = []
        refused: list[Queued] = []
        stopped = False
        for item in batch:
            error = await self._send(destination, [item])
            if error is None:
                done.append(item.id)
                isolation.accepted = True
            elif not _refused(error):
                stopped = True
                break
            else:
                count = isolation.refusals[item.id] = isolation.refusals.get(item.id, 0) + 1
                if error.status in REFUSED_FOR_CONTENT or (isolation.accepted and count >= DROP_AFTER):
                    self._drop(destination, item, error)
                    done.append(item.id)
                    del isolation.refusals[item.id]
                else:
                    refused.append(item)
        if done:
            await self._store.delivered(destination, done, self._clock.time_ms())
        if refused or stopped:
            await self._back_off(destination, 1 if done else health.failures + 1)
        else:
            del self._isolating[destination]

    async def _back_off(self, destination: str, failures: int) -> None:
        delay = backoff_seconds(failures) * random.uniform(0.8, 1.2)
        await self._store.failed(destination, failures, self._clock.time_ms() + int(delay * 1000))

    @staticmethod
    def _drop(destination: str, item: Queued, error: FederationError) -> None:
        what = ("room_id", "type") if item.kind == "pdu" else ("edu_type",)
        logger.warning(
            "federation_item_dropped", destination=destination, kind=item.kind, queue_id=item.id,
            status=error.status, error=str(error), **{k: item.payload.get(k) for k in what},
        )

    async def _send(self, destination: str, batch: list[Queued]) -> FederationError | None:
        """Send one transaction; ``None`` once the destination accepted it, else the failure."""
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
            logger.info("federation_delivery_failed", destination=destination, txn_id=txn_id, error=str(e))
            metrics.FEDERATION_TRANSACTIONS.labels("failed").inc()
            return e
        metrics.FEDERATION_TRANSACTIONS.labels("ok").inc()
        logger.debug("federation_transaction_sent", destination=destination, txn_id=txn_id, size=len(batch))
        return None
