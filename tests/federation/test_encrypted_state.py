"""MSC4362 encrypted state across servers: a joining server receives the room's
``m.room.encrypted`` state under its packed keys, and later ones as they are sent."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

import pytest

pytestmark = pytest.mark.federation

V3 = "/_matrix/client/v3"
FLAG = "io.element.msc4362.encrypt_state_events"


def _ciphertext(tag: str) -> dict:
    return {"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": tag, "session_id": "S", "sender_key": "K", "device_id": "D"}


async def _encrypted_state(client, room_id: str) -> dict[str, str]:
    state = (await client.get(f"{V3}/rooms/{room_id}/state")).body
    return {e["state_key"]: e["content"]["ciphertext"] for e in state if e["type"] == "m.room.encrypted"}


async def test_encrypted_state_reaches_the_other_server(federation) -> None:
    hs1, hs2 = await federation("hs1.test", "hs2.test")
    alice = await hs1.client.register("alice")
    dave = await hs2.client.register("dave")
    room_id = (await alice.post(f"{V3}/createRoom", {
        "preset": "public_chat",
        "initial_state": [{"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2", FLAG: True}}],
    })).body["room_id"]
    put = await alice.put(f"{V3}/rooms/{room_id}/state/m.room.encrypted/{quote('m.room.name:', safe='')}", _ciphertext("name-1"))
    assert put.status == 200, put.body

    joined = await dave.post(f"{V3}/join/{quote(room_id)}", {}, params={"via": "hs1.test"})
    assert joined.status == 200, joined.body
    assert await _encrypted_state(dave, room_id) == {"m.room.name:": "name-1"}
    encryption = (await dave.get(f"{V3}/rooms/{room_id}/state/m.room.encryption")).body
    assert encryption[FLAG] is True

    # A later encrypted state event arrives over federation and replaces only its own key.
    await alice.put(f"{V3}/rooms/{room_id}/state/m.room.encrypted/{quote('m.room.topic:', safe='')}", _ciphertext("topic-1"))
    await alice.put(f"{V3}/rooms/{room_id}/state/m.room.encrypted/{quote('m.room.name:', safe='')}", _ciphertext("name-2"))
    for _ in range(100):
        if await _encrypted_state(dave, room_id) == {"m.room.name:": "name-2", "m.room.topic:": "topic-1"}:
            break
        await asyncio.sleep(0.1)
    assert await _encrypted_state(dave, room_id) == {"m.room.name:": "name-2", "m.room.topic:": "topic-1"}
