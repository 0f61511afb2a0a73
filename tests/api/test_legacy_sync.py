"""The deprecated but specified /events, /events/{eventId}, /initialSync and a room's
/initialSync (room previews: peeking into world_readable rooms)."""

from __future__ import annotations

import asyncio
import time

V3 = "/_matrix/client/v3"
R = f"{V3}/rooms"


async def _room(user, **body):
    resp = await user.post(f"{V3}/createRoom", body)
    assert resp.status == 200, resp.body
    return resp.body["room_id"]


async def _send(user, room_id, body="hi"):
    resp = await user.put(f"{R}/{room_id}/send/m.room.message/t{time.monotonic_ns()}", {"msgtype": "m.text", "body": body})
    assert resp.status == 200, resp.body
    return resp.body["event_id"]


async def _world_readable_room(alice):
    room_id = await _room(alice, preset="public_chat", name="Lobby")
    hidden = await _send(alice, room_id, "before previews")
    resp = await alice.put(f"{R}/{room_id}/state/m.room.history_visibility", {"history_visibility": "world_readable"})
    assert resp.status == 200
    shown = await _send(alice, room_id, "for everyone")
    return room_id, hidden, shown


async def test_initial_sync(client):
    alice = await client.register("alice")
    bob = await client.register("bob")
    room_id = await _room(alice, name="Home")
    messages = [await _send(alice, room_id, f"m{i}") for i in range(3)]
    invited_to = await _room(bob)
    assert (await bob.post(f"{R}/{invited_to}/invite", {"user_id": alice.user_id})).status == 200
    left = await _room(bob, preset="public_chat")
    assert (await alice.post(f"{R}/{left}/join", {})).status == 200
    assert (await alice.post(f"{R}/{left}/leave", {})).status == 200
    resp = await alice.get(f"{V3}/initialSync", params={"limit": "2"})
    assert resp.status == 200, resp.body
    rooms = {r["room_id"]: r for r in resp.body["rooms"]}
    assert set(rooms) == {room_id, invited_to}
    home = rooms[room_id]
    assert home["membership"] == "join"
    assert home["visibility"] == "private"
    assert [e["event_id"] for e in home["messages"]["chunk"]] == messages[1:]
    assert all(e["room_id"] == room_id for e in home["messages"]["chunk"])
    assert {"m.room.create", "m.room.name", "m.room.member"} <= {e["type"] for e in home["state"]}
    earlier = await alice.get(f"{R}/{room_id}/messages", params={"from": home["messages"]["start"], "dir": "b", "limit": "1"})
    assert [e["event_id"] for e in earlier.body["chunk"]] == messages[:1]
    invite = rooms[invited_to]
    assert invite["membership"] == "invite"
    assert invite["invite"]["content"]["membership"] == "invite"
    assert "m.push_rules" in {e["type"] for e in resp.body["account_data"]}
    assert isinstance(resp.body["presence"], list)
    archived = await alice.get(f"{V3}/initialSync", params={"archived": "true"})
    rooms = {r["room_id"]: r for r in archived.body["rooms"]}
    assert rooms[left]["membership"] == "leave"
    assert rooms[left]["messages"]["chunk"][-1]["content"]["membership"] == "leave"


async def test_events_stream_from_initial_sync(client):
    alice = await client.register("alice")
    room_id = await _room(alice)
    end = (await alice.get(f"{V3}/initialSync")).body["end"]
    event_id = await _send(alice, room_id, "new")
    resp = await alice.get(f"{V3}/events", params={"from": end, "timeout": "0"})
    assert resp.status == 200, resp.body
    assert resp.body["start"] == end
    assert [(e["event_id"], e["room_id"]) for e in resp.body["chunk"]] == [(event_id, room_id)]
    again = await alice.get(f"{V3}/events", params={"from": resp.body["end"], "timeout": "0"})
    assert again.body["chunk"] == []
    # A long poll wakes when something arrives.
    waiting = asyncio.create_task(alice.get(f"{V3}/events", params={"from": again.body["end"], "timeout": "20000"}))
    await asyncio.sleep(0.2)
    later = await _send(alice, room_id, "later")
    woken = await asyncio.wait_for(waiting, 15)
    assert [e["event_id"] for e in woken.body["chunk"]] == [later]
    bad = await alice.get(f"{V3}/events", params={"from": "nonsense", "timeout": "0"})
    assert (bad.status, bad.errcode) == (400, "M_INVALID_PARAM")


async def test_peeking_into_a_world_readable_room(client):
    alice = await client.register("alice")
    carol = await client.register("carol")
    room_id, hidden, shown = await _world_readable_room(alice)
    preview = await carol.get(f"{R}/{room_id}/initialSync")
    assert preview.status == 200, preview.body
    assert "membership" not in preview.body
    ids = [e["event_id"] for e in preview.body["messages"]["chunk"]]
    assert shown in ids and hidden not in ids
    assert "m.room.name" in {e["type"] for e in preview.body["state"]}
    # Peeking streams on from the end of the preview, as matrix-js-sdk does.
    start = preview.body["messages"]["end"]
    waiting = asyncio.create_task(carol.get(f"{V3}/events", params={"room_id": room_id, "from": start, "timeout": "20000"}))
    await asyncio.sleep(0.2)
    news = await _send(alice, room_id, "news")
    woken = await asyncio.wait_for(waiting, 15)
    assert [e["event_id"] for e in woken.body["chunk"]] == [news]


async def test_no_peeking_into_other_rooms(client):
    alice = await client.register("alice")
    carol = await client.register("carol")
    room_id = await _room(alice, preset="public_chat")
    event_id = await _send(alice, room_id)
    for path, params in ((f"{R}/{room_id}/initialSync", None), (f"{V3}/events", {"room_id": room_id, "timeout": "0"})):
        resp = await carol.get(path, params=params)
        assert (resp.status, resp.errcode) == (403, "M_FORBIDDEN"), path
    # Nor do a user's own /events carry rooms they are not in.
    end = (await carol.get(f"{V3}/initialSync")).body["end"]
    await _send(alice, room_id, "not for carol")
    assert (await carol.get(f"{V3}/events", params={"from": end, "timeout": "0"})).body["chunk"] == []
    assert (await alice.get(f"{V3}/events/{event_id}")).body["event_id"] == event_id
    for missing in (event_id, "$unknown"):
        resp = await carol.get(f"{V3}/events/{missing}")
        assert (resp.status, resp.errcode) == (404, "M_NOT_FOUND")


async def test_guests_preview_rooms(make_server):
    server = await make_server(registration={"allow_guests": True})
    alice = await server.client.register("alice")
    room_id, hidden, shown = await _world_readable_room(alice)
    registered = await server.client.post(f"{V3}/register?kind=guest", {}, token=None)
    guest = server.client.as_user(registered.body["access_token"])
    preview = await guest.get(f"{R}/{room_id}/initialSync")
    assert preview.status == 200, preview.body
    assert shown in [e["event_id"] for e in preview.body["messages"]["chunk"]]
    streamed = await guest.get(f"{V3}/events", params={"room_id": room_id, "timeout": "0"})
    assert streamed.status == 200, streamed.body
    resp = await guest.get(f"{V3}/initialSync")
    assert (resp.status, resp.errcode) == (403, "M_GUEST_ACCESS_FORBIDDEN")
