"""MSC4362 encrypted state: a state event of type ``m.room.encrypted`` whose state key packs
the real type and state key (``{type}:{state_key}``). The server stores and relays it as any
other state, keyed by its packed key, and never needs its plaintext."""

from __future__ import annotations

from urllib.parse import quote

ROOMS = "/_matrix/client/v3/rooms"
FLAG = "io.element.msc4362.encrypt_state_events"


def _ciphertext(tag: str) -> dict:
    return {"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": f"AwgAEn{tag}", "session_id": "S", "sender_key": "K", "device_id": "D"}


async def _encrypted_room(server):
    alice = await server.client.register("alice")
    bob = await server.client.register("bob")
    created = await alice.post("/_matrix/client/v3/createRoom", {
        "preset": "private_chat", "invite": [bob.user_id],
        "initial_state": [{"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2", FLAG: True}}],
    })
    assert created.status == 200, created.body
    room_id = created.body["room_id"]
    assert (await bob.post(f"{ROOMS}/{room_id}/join", {})).status == 200
    return alice, bob, room_id


def _state_path(room_id: str, packed: str) -> str:
    return f"{ROOMS}/{room_id}/state/m.room.encrypted/{quote(packed, safe='')}"


async def test_encrypted_state_is_stored_and_relayed_under_its_packed_key(server) -> None:
    alice, bob, room_id = await _encrypted_room(server)
    encryption = await bob.get(f"{ROOMS}/{room_id}/state/m.room.encryption")
    assert encryption.body[FLAG] is True

    name = await alice.put(_state_path(room_id, "m.room.name:"), _ciphertext("name1"))
    assert name.status == 200, name.body
    topic = await alice.put(_state_path(room_id, "m.room.topic:"), _ciphertext("topic1"))
    assert topic.status == 200, topic.body
    renamed = await alice.put(_state_path(room_id, "m.room.name:"), _ciphertext("name2"))
    assert renamed.status == 200

    # One current state entry per packed key: the rename replaced the name, not the topic.
    got = await bob.get(_state_path(room_id, "m.room.name:"))
    assert got.status == 200 and got.body["ciphertext"] == "AwgAEnname2"
    state = (await bob.get(f"{ROOMS}/{room_id}/state")).body
    encrypted = {e["state_key"]: e for e in state if e["type"] == "m.room.encrypted"}
    assert set(encrypted) == {"m.room.name:", "m.room.topic:"}
    assert encrypted["m.room.name:"]["event_id"] == renamed.body["event_id"]
    # No plaintext name appears: the room has none as far as the server knows.
    assert not [e for e in state if e["type"] == "m.room.name"]

    # Another member's sync carries the events with their packed keys, in the timeline
    # (as state events) and in the state once the timeline window has passed them.
    sync = (await bob.get("/_matrix/client/v3/sync")).body
    joined = sync["rooms"]["join"][room_id]
    seen = joined["timeline"]["events"] + joined["state"]["events"]
    packed = [e for e in seen if e["type"] == "m.room.encrypted" and "state_key" in e]
    assert {e["state_key"] for e in packed} >= {"m.room.name:", "m.room.topic:"}
    assert all(e["content"]["algorithm"] == "m.megolm.v1.aes-sha2" for e in packed)
    limited = (await bob.get("/_matrix/client/v3/sync", params={"filter": '{"room":{"timeline":{"limit":1}}}'})).body
    room = limited["rooms"]["join"][room_id]
    window = room["timeline"]["events"] + room["state"]["events"]
    assert {e["state_key"] for e in window if e["type"] == "m.room.encrypted"} == {"m.room.name:", "m.room.topic:"}

    # /messages returns them as state events too.
    history = (await bob.get(f"{ROOMS}/{room_id}/messages", params={"dir": "b", "limit": "50"})).body["chunk"]
    assert [e["state_key"] for e in history if e["type"] == "m.room.encrypted"][:1] == ["m.room.name:"]


async def test_encrypted_state_follows_the_power_levels_of_the_packed_event(server) -> None:
    alice, bob, room_id = await _encrypted_room(server)
    # Bob (power 0) may not send state events: m.room.encrypted state needs state_default (50).
    denied = await bob.put(_state_path(room_id, "m.room.name:"), _ciphertext("x"))
    assert denied.status == 403
    assert denied.errcode == "M_FORBIDDEN"


async def test_empty_state_key_in_a_trailing_slash(server) -> None:
    """matrix-js-sdk puts and gets state with an empty key as ``/state/{type}/``."""
    alice = await server.client.register("alice")
    room_id = (await alice.post("/_matrix/client/v3/createRoom", {"name": "Plans"})).body["room_id"]
    got = await alice.get(f"{ROOMS}/{room_id}/state/m.room.name/")
    assert got.status == 200, got.body
    assert got.body == {"name": "Plans"}
    put = await alice.put(f"{ROOMS}/{room_id}/state/m.room.topic/", {"topic": "Lunch"})
    assert put.status == 200, put.body
    assert (await alice.get(f"{ROOMS}/{room_id}/state/m.room.topic")).body == {"topic": "Lunch"}
    # A state key holding a slash (percent-encoded) reaches the handler whole.
    slashed = await alice.put(f"{ROOMS}/{room_id}/state/org.example.doc/{quote('a/b', safe='')}", {"x": 1})
    assert slashed.status == 200, slashed.body
    assert (await alice.get(f"{ROOMS}/{room_id}/state/org.example.doc/{quote('a/b', safe='')}")).body == {"x": 1}
