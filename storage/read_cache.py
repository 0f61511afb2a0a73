"""An in-memory cache of database reads that concurrent writes cannot leave stale.

Design note: a read that misses the cache runs its query and then fills the
cache. A write that changes the row drops the entry, but a query that was in
flight meanwhile may have read the row as it was before, and its fill would
put the old value back, to be served until it is evicted (a revoked access
token kept working that way while a client used it). So:

- a read takes a :meth:`ReadCache.ticket` before its query, and its
  :meth:`~ReadCache.fill` is dropped when anything it may have read was
  invalidated after the ticket was taken (that key, or every key for an
  invalidation by predicate);
- a write invalidates when it changes the rows and again when its transaction
  commits (:meth:`Database.after_commit`): until then other connections still
  read the old row;
- reads inside a transaction fill nothing (they may see uncommitted writes),
  unless the cache holds data those transactions never write.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from typing import Generic, TypeVar

from homeserver import metrics
from storage.database import Database

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

#: What :meth:`ReadCache.get` answers for a key it does not hold.
MISSING: object = object()


class ReadCache(Generic[K, V]):
    """Least-recently-used entries, at most ``max_size`` of them. With
    ``fill_in_transactions``, reads inside a transaction fill it too (for data
    that is written only outside the transactions that read it)."""

    def __init__(self, db: Database, name: str, max_size: int, *, fill_in_transactions: bool = False) -> None:
        self._db = db
        self._hits = metrics.CACHE_LOOKUPS.labels(name, "hit")
        self._misses = metrics.CACHE_LOOKUPS.labels(name, "miss")
        self._max_size = max_size
        self._fill_in_transactions = fill_in_transactions
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._generation = 0
        #: The generation of each key's latest invalidation (forgotten in bulk, see _mark).
        self._invalidated: dict[K, int] = {}
        #: Reads with a ticket below this fill nothing.
        self._floor = 0

    def get(self, key: K) -> V | object:
        """The cached value, or :data:`MISSING`."""
        value = self._entries.get(key, MISSING)
        if value is not MISSING:
            self._entries.move_to_end(key)
            self._hits.inc()
        else:
            self._misses.inc()
        return value

    def items(self) -> list[tuple[K, V]]:
        return list(self._entries.items())

    def ticket(self) -> int:
        """To take before the query whose result will :meth:`fill` the cache."""
        return self._generation

    def fill(self, ticket: int, key: K, value: V) -> None:
        """Cache what a read that took ``ticket`` found, unless it may be stale."""
        if (self._db.in_transaction and not self._fill_in_transactions) or ticket < self._floor or self._invalidated.get(key, -1) > ticket:
            return
        self._entries[key] = value
        self._entries.move_to_end(key)
        if len(self._entries) > self._max_size:
            self._entries.popitem(last=False)

    def replace(self, key: K, value: V) -> None:
        """Change an entry in place (if it is cached) to match a write just made."""
        if key in self._entries:
            self._entries[key] = value

    def invalidate(self, keys: Iterable[K]) -> None:
        """Drop ``keys`` now and when the current transaction commits."""
        keys = list(keys)
        self._drop(keys)
        self._db.after_commit(lambda: self._drop(keys))

    def invalidate_where(self, predicate: Callable[[K, V], bool]) -> None:
        """Drop the entries ``predicate`` selects, now and when the current transaction
        commits; reads in flight fill nothing (their keys are not known)."""
        self._drop_where(predicate)
        self._db.after_commit(lambda: self._drop_where(predicate))

    def _drop(self, keys: list[K]) -> None:
        self._generation += 1
        for key in keys:
            self._entries.pop(key, None)
            self._invalidated[key] = self._generation
        if len(self._invalidated) > self._max_size:
            # Too many to remember one by one: refuse every read in flight instead.
            self._invalidated.clear()
            self._floor = self._generation

    def _drop_where(self, predicate: Callable[[K, V], bool]) -> None:
        self._generation += 1
        self._floor = self._generation
        for key, value in list(self._entries.items()):
            if predicate(key, value):
                del self._entries[key]
