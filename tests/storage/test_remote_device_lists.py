"""Cached device lists of other servers' users: trusted only while a room is shared."""

from __future__ import annotations

from storage.migrations import migrate
from storage.remote_device_lists import RemoteDevice, RemoteDeviceList, RemoteDeviceListStore


async def _member(database, room_id: str, user_id: str, membership: str, position: int) -> None:
    await database.execute(
        "INSERT INTO current_memberships (room_id, user_id, membership, event_id, stream_ordering)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (room_id, user_id) DO UPDATE SET"
        " membership = EXCLUDED.membership, stream_ordering = EXCLUDED.stream_ordering",
        room_id, user_id, membership, f"$m{position}", position,
    )


async def test_a_copy_is_trusted_only_while_a_room_is_shared(database):
    await migrate(database)
    await database.execute("INSERT INTO users (user_id, created_ts) VALUES ('@local:here', 0)")
    store = RemoteDeviceListStore(database)
    await _member(database, "!r:here", "@local:here", "join", 3)
    await _member(database, "!r:here", "@them:there", "join", 4)
    listed = RemoteDeviceList("@them:there", 7, {"D": RemoteDevice("D", "phone", None)}, None, None)
    await store.replace(listed, cached_at_stream=5)
    assert set(await store.current(["@them:there", "@other:there"])) == {"@them:there"}
    # A room shared only since the copy was fetched (a rejoin): updates may have been missed.
    await _member(database, "!r:here", "@them:there", "join", 9)
    assert await store.current(["@them:there"]) == {}
    await store.replace(listed, cached_at_stream=9)
    assert (await store.current(["@them:there"]))["@them:there"].devices["D"].display_name == "phone"
    await store.forget_unshared()
    assert await store.stream_id("@them:there") == 7
    # Nobody here shares a room with them any more: housekeeping drops the copy.
    await _member(database, "!r:here", "@local:here", "leave", 10)
    await store.forget_unshared()
    assert await store.stream_id("@them:there") is None
    assert await database.fetchval("SELECT COUNT(*) FROM remote_devices") == 0
