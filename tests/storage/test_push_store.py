"""Notification actions: many at once (grouped on PostgreSQL) read back exactly, and unread
counts that are kept between reads."""

from __future__ import annotations

from storage.migrations import migrate
from storage.push import PushAction, PushStore


async def test_many_actions_are_stored_exactly(database):
    await migrate(database)
    store = PushStore(database)
    notify, loud = ("notify",), ("notify", {"set_tweak": "highlight"})
    actions = [
        PushAction(f"@u{n}:x", f"$e{event}", "!r:x", 10 + event, "main", highlight, decision)
        for event in range(3)
        for n in range(20)
        for highlight, decision in [(n == 7, loud if n == 7 else notify)]
    ] + [PushAction("@u1:x", "$t", "!r:x", 20, "$e0", False, notify)]
    async with database.transaction("t"):
        async with database.batched(reorder=True):
            await store.add_actions(actions)
            await store.add_actions(actions[:5])  # a repeat changes nothing
    stored = await store.notifications("@u7:x", None, 10, False)
    assert [(a.event_id, a.stream_ordering, a.highlight, list(a.actions)) for a in stored] == [
        (f"$e{event}", 10 + event, True, ["notify", {"set_tweak": "highlight"}]) for event in (2, 1, 0)
    ]
    assert await database.fetchval("SELECT COUNT(*) FROM event_push_actions") == 61
    assert await store.unread_counts("@u1:x", "!r:x", 10, {}, 20) == {"main": (2, 0), "$e0": (1, 0)}
    assert await store.unread_counts("@u7:x", "!r:x", 0, {}, 11) == {"main": (2, 2)}
    # Counted again later: the kept counts grow by what came after.
    assert await store.unread_counts("@u7:x", "!r:x", 0, {}, 20) == {"main": (3, 3)}
