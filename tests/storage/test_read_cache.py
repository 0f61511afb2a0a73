"""The read cache: a read in flight across a write never puts the old value back."""

from __future__ import annotations

from storage.read_cache import MISSING, ReadCache


async def test_a_fill_from_before_an_invalidation_is_dropped(database):
    cache: ReadCache[str, int] = ReadCache(database, "test", 10)
    ticket = cache.ticket()          # a read starts, sees the old row...
    cache.invalidate(["k"])          # ...a write commits meanwhile...
    cache.fill(ticket, "k", 1)       # ...and the read tries to cache what it saw
    assert cache.get("k") is MISSING
    cache.fill(cache.ticket(), "k", 2)  # a read that started after the write may
    assert cache.get("k") == 2
    other = cache.ticket()
    cache.invalidate(["k"])
    cache.fill(other, "j", 3)        # other keys are not affected
    assert cache.get("j") == 3


async def test_invalidation_by_predicate_drops_every_read_in_flight(database):
    cache: ReadCache[str, int] = ReadCache(database, "test", 10)
    cache.fill(cache.ticket(), "a", 1)
    ticket = cache.ticket()
    cache.invalidate_where(lambda key, value: value == 1)
    assert cache.get("a") is MISSING
    cache.fill(ticket, "b", 2)       # its key could not be known: refused too
    assert cache.get("b") is MISSING


async def test_invalidation_is_repeated_when_the_transaction_commits(database):
    cache: ReadCache[str, int] = ReadCache(database, "test", 10)
    async with database.transaction("write"):
        await database.execute("CREATE TABLE t (x INTEGER)")
        cache.invalidate(["k"])
        cache.fill(cache.ticket(), "k", 1)      # inside a transaction: never filled
        assert cache.get("k") is MISSING
    # Between a write and its commit, reads elsewhere still see the old row and may
    # cache it: the commit drops it again.
    shared: ReadCache[str, int] = ReadCache(database, "test", 10, fill_in_transactions=True)
    async with database.transaction("write"):
        shared.invalidate(["k"])
        shared.fill(shared.ticket(), "k", 0)
        assert shared.get("k") == 0
    assert shared.get("k") is MISSING


async def test_many_invalidated_keys_are_forgotten_safely(database):
    cache: ReadCache[int, int] = ReadCache(database, "test", 3)
    ticket = cache.ticket()
    cache.invalidate(range(10))      # more than the cache remembers one by one
    cache.fill(ticket, 99, 1)        # so every read in flight is refused
    assert cache.get(99) is MISSING
    cache.fill(cache.ticket(), 99, 1)
    assert cache.get(99) == 1
