"""One bad local event fails only its own request (issue 12, point 4): the room writer
writes up to 50 queued events in one transaction, and an event that cannot be
accepted, or whose write fails, must not fail the other users' sends batched with it."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import quote

V3 = "/_matrix/client/v3"


def _nested(levels: int) -> dict:
    value: dict = {"body": "deep"}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


async def _messages(user, room_id: str) -> list[str]:
    resp = await user.get(f"{V3}/rooms/{quote(room_id)}/messages", params={"dir": "b", "limit": "100"})
    assert resp.status == 200, resp.body
    return [e["content"].get("body") for e in resp.body["chunk"] if e["type"] == "m.room.message"]


async def _room_of_15(server):
    users = [await server.client.register(f"user{n}") for n in range(15)]
    room_id = (await users[0].post(f"{V3}/createRoom", {"preset": "public_chat"})).body["room_id"]
    for user in users[1:]:
        assert (await user.post(f"{V3}/join/{quote(room_id)}", {})).status == 200
    return users, room_id


async def test_one_bad_send_fails_alone_among_concurrent_sends(server):
    users, room_id = await _room_of_15(server)
    room = f"{V3}/rooms/{quote(room_id)}"
    bad = {
        3: b'{"msgtype": "m.text", "body": "a\\u0000b"}',
        7: json.dumps(_nested(300)).encode(),
        11: json.dumps({"msgtype": "m.text", "body": "x" * 70_000}).encode(),
    }

    async def send(n: int, user):
        data = bad.get(n, json.dumps({"msgtype": "m.text", "body": f"message {n}"}).encode())
        return await user.put(f"{room}/send/m.room.message/t{n}", data=data, headers={"Content-Type": "application/json"})

    answers = await asyncio.gather(*(send(n, user) for n, user in enumerate(users)))
    for n, resp in enumerate(answers):
        if n in bad:
            assert resp.status in (400, 413) and resp.errcode in ("M_BAD_JSON", "M_NOT_JSON", "M_TOO_LARGE"), (n, resp.body)
        else:
            assert resp.status == 200, (n, resp.status, resp.body)
    assert {f"message {n}" for n in range(15) if n not in bad} <= set(await _messages(users[0], room_id))


async def test_a_write_failing_for_one_event_fails_only_its_send(server, monkeypatch):
    users, room_id = await _room_of_15(server)
    store = server.hearth.event_store
    insert = store.insert_event

    async def failing_insert(event, **kwargs):
        if event.content.get("body") == "the bad one":  # a storage fault for this event only
            raise RuntimeError("injected write failure")
        return await insert(event, **kwargs)

    monkeypatch.setattr(store, "insert_event", failing_insert)
    room = f"{V3}/rooms/{quote(room_id)}"
    answers = await asyncio.gather(*(
        user.put(f"{room}/send/m.room.message/t{n}", {"msgtype": "m.text", "body": "the bad one" if n == 5 else f"m{n}"})
        for n, user in enumerate(users)
    ))
    assert [n for n, resp in enumerate(answers) if resp.status != 200] == [5]
    assert answers[5].status == 500
    assert {f"m{n}" for n in range(15) if n != 5} <= set(await _messages(users[0], room_id))
    # The room goes on: the next send works.
    assert (await users[1].put(f"{room}/send/m.room.message/next", {"msgtype": "m.text", "body": "next"})).status == 200
