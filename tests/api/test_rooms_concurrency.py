"""Concurrent senders never fork the local DAG or lose an event; world-readable
rooms can be read by anyone; the flows work from a real client library."""

from __future__ import annotations

import asyncio

from nio import AsyncClient, JoinResponse, RoomCreateResponse, RoomMessageText, RoomSendResponse, SyncResponse

R = "/_matrix/client/v3/rooms"


async def test_concurrent_sends_keep_a_linear_dag(server, client):
    users = [await client.register(f"user{i}") for i in range(10)]
    room_id = (await users[0].post("/_matrix/client/v3/createRoom", {"preset": "public_chat"})).body["room_id"]
    for user in users[1:]:
        assert (await user.post(f"/_matrix/client/v3/join/{room_id}", {})).status == 200

    async def burst(index, user):
        results = []
        for n in range(10):
            resp = await user.put(f"{R}/{room_id}/send/m.room.message/b{index}-{n}", {"msgtype": "m.text", "body": f"{index}-{n}"})
            assert resp.status == 200, resp.body
            results.append(resp.body["event_id"])
        return results

    sent = [eid for batch in await asyncio.gather(*(burst(i, u) for i, u in enumerate(users))) for eid in batch]
    assert len(set(sent)) == 100
    events = server.hearth.event_store
    extremities = await events.get_extremities(room_id)
    assert len(extremities) == 1
    stored = await events.get_events(sent)
    assert set(stored) == set(sent)
    # Every message has exactly one parent: the DAG is a single line.
    assert all(len(s.event.prev_event_ids) == 1 for s in stored.values())
    history = await users[0].get(f"{R}/{room_id}/messages", params={"dir": "b", "limit": "200", "filter": '{"types": ["m.room.message"]}'})
    assert {e["event_id"] for e in history.body["chunk"]} == set(sent)


async def test_world_readable_rooms_can_be_read_by_anyone(client):
    alice = await client.register("alice")
    outsider = await client.register("outsider")
    room_id = (await alice.post("/_matrix/client/v3/createRoom", {
        "preset": "public_chat",
        "initial_state": [{"type": "m.room.history_visibility", "content": {"history_visibility": "world_readable"}}],
    })).body["room_id"]
    event_id = (await alice.put(f"{R}/{room_id}/send/m.room.message/w1", {"msgtype": "m.text", "body": "public"})).body["event_id"]
    assert (await outsider.get(f"{R}/{room_id}/event/{event_id}")).status == 200
    assert any(e["event_id"] == event_id for e in (await outsider.get(f"{R}/{room_id}/messages", params={"dir": "b"})).body["chunk"])
    assert (await outsider.get(f"{R}/{room_id}/state")).status == 200
    # Reading is not writing.
    assert (await outsider.put(f"{R}/{room_id}/send/m.room.message/w2", {"body": "x"})).status == 403


async def test_invited_history_visibility(client):
    alice = await client.register("alice")
    bob = await client.register("bob")
    room_id = (await alice.post("/_matrix/client/v3/createRoom", {
        "initial_state": [{"type": "m.room.history_visibility", "content": {"history_visibility": "invited"}}],
    })).body["room_id"]
    before_invite = (await alice.put(f"{R}/{room_id}/send/m.room.message/i1", {"body": "before"})).body["event_id"]
    await alice.post(f"{R}/{room_id}/invite", {"user_id": bob.user_id})
    after_invite = (await alice.put(f"{R}/{room_id}/send/m.room.message/i2", {"body": "after"})).body["event_id"]
    await bob.post(f"{R}/{room_id}/join", {})
    ids = [e["event_id"] for e in (await bob.get(f"{R}/{room_id}/messages", params={"dir": "b", "limit": "50"})).body["chunk"]]
    assert after_invite in ids and before_invite not in ids


async def test_rooms_with_matrix_nio(server, tmp_path):
    alice = AsyncClient(server.url, "alice", store_path=str(tmp_path))
    bob = AsyncClient(server.url, "bob", store_path=str(tmp_path))
    try:
        await alice.register("alice", "a strong password")
        await bob.register("bob", "a strong password")
        created = await alice.room_create(name="nio room", invite=[bob.user_id])
        assert isinstance(created, RoomCreateResponse), created
        first = await bob.sync(timeout=0)
        assert isinstance(first, SyncResponse)
        assert created.room_id in first.rooms.invite
        assert isinstance(await bob.join(created.room_id), JoinResponse)
        await bob.sync(timeout=0)
        await alice.sync(timeout=0)  # with encryption support, nio sends only to rooms it has synced
        sent = await alice.room_send(created.room_id, "m.room.message", {"msgtype": "m.text", "body": "hello nio"})
        assert isinstance(sent, RoomSendResponse), sent
        received = await bob.sync(timeout=5000, since=bob.next_batch)
        timeline = received.rooms.join[created.room_id].timeline.events
        assert any(isinstance(e, RoomMessageText) and e.body == "hello nio" for e in timeline)
        assert bob.rooms[created.room_id].display_name == "nio room"
        await bob.room_leave(created.room_id)
    finally:
        await alice.close()
        await bob.close()


async def test_identical_rooms_created_at_once_get_distinct_ids(client):
    alice = await client.register("alice")
    import asyncio as _asyncio

    results = await _asyncio.gather(*(alice.post("/_matrix/client/v3/createRoom", {"preset": "public_chat"}) for _ in range(8)))
    assert all(r.status == 200 for r in results), [r.body for r in results]
    assert len({r.body["room_id"] for r in results}) == 8
