"""Notification actions: shared rows standing for a room's members, members' own rows
replacing them, membership spans, unread counts kept between reads, and many rows at once
(grouped on PostgreSQL)."""

from __future__ import annotations

from storage.migrations import migrate
from storage.push_actions import EVERYONE, NotificationStore, PushAction

ROOM = "!r:x"
NOTIFY, LOUD = ("notify",), ("notify", {"set_tweak": "highlight"})


async def _memberships(database, *changes: tuple[str, str, int]) -> None:
    for user_id, membership, position in changes:
        await database.execute(
            "INSERT INTO room_memberships (event_id, room_id, user_id, sender, membership, stream_ordering)"
            " VALUES ($1, $2, $3, $3, $4, $5)",
            f"$m{position}{user_id}", ROOM, user_id, membership, position,
        )


def _shared(position: int, sender: str, thread: str = "main") -> PushAction:
    return PushAction(EVERYONE, f"$e{position}", ROOM, position, thread, False, NOTIFY, sender=sender)


def _own(user_id: str, position: int, *, notify: bool = True, highlight: bool = False) -> PushAction:
    return PushAction(user_id, f"$e{position}", ROOM, position, "main", highlight, LOUD if highlight else NOTIFY,
                      notify=notify, sender="@x:x")


async def test_shared_rows_stand_for_the_members_of_the_time(database):
    await migrate(database)
    await _memberships(database, ("@a:x", "join", 5), ("@b:x", "join", 6), ("@b:x", "leave", 12),
                       ("@b:x", "join", 15), ("@c:x", "join", 20), ("@c:x", "join", 22))  # (c: a new display name)
    store = NotificationStore(database)
    async with database.transaction("t"):
        await store.add([
            _shared(10, "@a:x"), _own("@b:x", 10, highlight=True),   # b is mentioned
            _shared(11, "@x:x"), _own("@a:x", 11, notify=False),      # a muted the room
            _shared(13, "@a:x"),                                      # b is away
            _shared(16, "@b:x"),
            _shared(21, "@a:x", thread="$t"),
            _shared(23, "@x:x"),
        ])

    async def unread(user_id: str, after: int = 0, threads: dict | None = None, up_to: int = 30) -> dict:
        return await store.unread_counts(user_id, ROOM, after, threads or {}, up_to, membership=1)

    assert await unread("@a:x") == {"main": (2, 0)}  # 16, 23: never its own, never 11
    assert await unread("@b:x") == {"main": (3, 1), "$t": (1, 0)}  # 10 (own, loud), 11, 23; 21 in the thread
    assert await unread("@c:x") == {"main": (1, 0), "$t": (1, 0)}  # joined at 20, a new name at 22 changes nothing
    assert await unread("@b:x", after=11) == {"main": (1, 0), "$t": (1, 0)}
    assert await unread("@b:x", threads={"$t": 21}) == {"main": (3, 1)}
    assert await unread("@nobody:x") == {}

    listed = await store.notifications("@b:x", None, 10, False)
    assert [(a.event_id, a.user_id, a.highlight) for a in listed] == [
        ("$e23", "@b:x", False), ("$e21", "@b:x", False), ("$e11", "@b:x", False), ("$e10", "@b:x", True),
    ]
    assert [a.event_id for a in await store.notifications("@b:x", 21, 2, False)] == ["$e11", "$e10"]
    assert [a.event_id for a in await store.notifications("@b:x", None, 10, True)] == ["$e10"]
    assert [a.event_id for a in await store.notifications("@a:x", None, 10, False)] == ["$e23", "$e16"]


async def test_counts_are_kept_and_grow(database):
    await migrate(database)
    await _memberships(database, ("@a:x", "join", 1))
    store = NotificationStore(database)
    async with database.transaction("t"):
        await store.add([_shared(5, "@x:x"), _shared(6, "@x:x")])
    assert await store.unread_counts("@a:x", ROOM, 0, {}, 6, membership=1) == {"main": (2, 0)}
    async with database.transaction("t"):
        await store.add([_shared(7, "@x:x"), _own("@a:x", 8, highlight=True)])
    assert await store.unread_counts("@a:x", ROOM, 0, {}, 8, membership=1) == {"main": (4, 1)}
    # Another membership (a leave, say) or another read position: counted afresh.
    assert await store.unread_counts("@a:x", ROOM, 6, {}, 8, membership=1) == {"main": (2, 1)}


async def test_many_rows_at_once_are_stored_exactly(database):
    await migrate(database)
    store = NotificationStore(database)
    actions = [
        PushAction(f"@u{n}:x", f"$e{event}", ROOM, 10 + event, "main", n == 7, LOUD if n == 7 else NOTIFY,
                   notify=n != 3, sender="@x:x")
        for event in range(3) for n in range(20)
    ]
    async with database.transaction("t"):
        async with database.batched(reorder=True):
            await store.add(actions)
            await store.add(actions[:5])  # a repeat changes nothing
    assert await database.fetchval("SELECT COUNT(*) FROM event_push_actions") == 60
    listed = await store.notifications("@u7:x", None, 10, False)
    assert [(a.event_id, a.stream_ordering, a.highlight, list(a.actions), a.sender) for a in listed] == [
        (f"$e{event}", 10 + event, True, ["notify", {"set_tweak": "highlight"}], "@x:x") for event in (2, 1, 0)
    ]
    assert await store.notifications("@u3:x", None, 10, False) == []
