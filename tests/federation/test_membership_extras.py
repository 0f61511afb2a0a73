"""Knocks taken back across servers: a local user retracting a knock on a room of
another server (through a server in the room, in turn), and a remote user
retracting a knock on a Hearth room with ``make_leave``/``send_leave``."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

import pytest

from tests.support.ports import free_port

pytestmark = pytest.mark.federation

V3 = "/_matrix/client/v3"


async def _knock_room(hs1, hs2):
    """Alice's knock-only room on hs1, and bob of hs2 knocking on it (hs1 has seen the knock)."""
    alice = await hs1.client.register("alice")
    room_id = (await alice.post(f"{V3}/createRoom", {
        "preset": "private_chat", "name": "Knock first",
        "initial_state": [{"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": "knock"}}],
    })).body["room_id"]
    bob = await hs2.client.register("bob")
    knocked = await bob.post(f"{V3}/knock/{quote(room_id)}", {}, params={"via": "hs1.test"})
    assert knocked.status == 200, knocked.body
    assert await _membership_on(alice, room_id, bob.user_id) == "knock"
    return alice, bob, room_id


async def _membership_on(user, room_id: str, member: str, wanted: str | None = None) -> str | None:
    """``member``'s membership as ``user``'s server sees it (waiting until it is ``wanted``)."""
    deadline = asyncio.get_running_loop().time() + 15
    while True:
        resp = await user.get(f"{V3}/rooms/{quote(room_id)}/state/m.room.member/{quote(member)}")
        membership = resp.body.get("membership") if resp.status == 200 else None
        if wanted is None or membership == wanted:
            return membership
        assert asyncio.get_running_loop().time() < deadline, f"{member} never became {wanted} (is {membership})"
        await asyncio.sleep(0.2)


async def test_retracting_a_knock_on_a_remote_room(federation):
    hs1, hs2 = await federation("hs1.test", "hs2.test")
    alice, bob, room_id = await _knock_room(hs1, hs2)
    since = (await bob.get(f"{V3}/sync")).body["next_batch"]
    retracted = await bob.post(f"{V3}/rooms/{quote(room_id)}/leave", {"reason": "changed my mind"})
    assert retracted.status == 200, retracted.body
    # The resident server shows the knock taken back...
    assert await _membership_on(alice, room_id, bob.user_id, "leave") == "leave"
    member = await alice.get(f"{V3}/rooms/{quote(room_id)}/state/m.room.member/{quote(bob.user_id)}")
    assert member.body == {"membership": "leave", "reason": "changed my mind"}
    # ...and bob's sync moves the room from knock to leave.
    synced = (await bob.get(f"{V3}/sync", params={"since": since})).body
    [own_leave] = synced["rooms"]["leave"][room_id]["timeline"]["events"]
    assert (own_leave["type"], own_leave["state_key"], own_leave["content"]["membership"]) == (
        "m.room.member", bob.user_id, "leave"
    )
    assert room_id not in synced["rooms"].get("knock", {})
    assert room_id not in (await bob.get(f"{V3}/sync")).body.get("rooms", {}).get("knock", {})
    # Nothing is left to take back; knocking again works.
    again = await bob.post(f"{V3}/rooms/{quote(room_id)}/leave", {})
    assert (again.status, again.errcode) == (403, "M_FORBIDDEN")
    assert (await bob.post(f"{V3}/knock/{quote(room_id)}", {}, params={"via": "hs1.test"})).status == 200
    assert await _membership_on(alice, room_id, bob.user_id, "knock") == "knock"


async def test_a_retraction_tries_the_servers_in_turn_and_fails_clearly(federation):
    gone = f"127.0.0.1:{free_port()}"  # nothing listens there
    hs1, hs2 = await federation("hs1.test", "hs2.test", addresses={"gone.test": gone})
    alice, bob, room_id = await _knock_room(hs1, hs2)
    db = hs2.hearth.event_store.db
    # The server the knock went through is gone: the preview's senders' server (hs1) takes the leave.
    await db.execute("UPDATE remote_invite_state SET knocked_via = 'gone.test' WHERE room_id = $1", room_id)
    assert (await bob.post(f"{V3}/rooms/{quote(room_id)}/leave", {})).status == 200
    assert await _membership_on(alice, room_id, bob.user_id, "leave") == "leave"
    # Knocked again, and with no reachable server left, the leave fails with a clear error.
    assert (await bob.post(f"{V3}/knock/{quote(room_id)}", {}, params={"via": "hs1.test"})).status == 200
    await db.execute(
        "UPDATE remote_invite_state SET knocked_via = 'gone.test', state = '[]' WHERE room_id = $1", room_id
    )
    unreachable = await bob.post(f"{V3}/rooms/{quote(room_id)}/leave", {})
    assert (unreachable.status, unreachable.errcode) == (502, "M_UNKNOWN")
    assert "gone.test" in unreachable.body["error"]
    # A resident server that refuses (bob was banned meanwhile) is a refusal, not a server error.
    await db.execute("UPDATE remote_invite_state SET knocked_via = 'hs1.test' WHERE room_id = $1", room_id)
    assert await _membership_on(alice, room_id, bob.user_id, "knock") == "knock"
    assert (await alice.post(f"{V3}/rooms/{quote(room_id)}/ban", {"user_id": bob.user_id})).status == 200
    refused = await bob.post(f"{V3}/rooms/{quote(room_id)}/leave", {})
    assert (refused.status, refused.errcode) == (403, "M_FORBIDDEN")
    synced = (await bob.get(f"{V3}/sync")).body
    assert room_id in synced["rooms"]["knock"]


async def test_a_remote_user_retracts_a_knock_with_make_and_send_leave(federation):
    from homeserver.core.events import Event
    from homeserver.core.room_versions import get_room_version
    from homeserver.core.signing import hash_and_sign_event

    hs1, hs2 = await federation("hs1.test", "hs2.test")
    alice, bob, room_id = await _knock_room(hs1, hs2)
    # What any other server does: ask hs1 for a leave template, sign it, send it back.
    client = hs2.hearth.federation_client
    answer = await client.request(
        "hs1.test", "GET", f"/_matrix/federation/v1/make_leave/{quote(room_id, safe='')}/{quote(bob.user_id, safe='')}"
    )
    template = answer["event"]
    assert (template["type"], template["state_key"], template["content"]) == (
        "m.room.member", bob.user_id, {"membership": "leave"}
    )
    version = get_room_version(answer["room_version"])
    pdu = hash_and_sign_event({**template, "origin_server_ts": hs2.hearth.clock.time_ms()},
                              "hs2.test", hs2.hearth.keyring._key, version)
    event_id = Event(pdu, version).event_id
    sent = await client.request(
        "hs1.test", "PUT", f"/_matrix/federation/v2/send_leave/{quote(room_id, safe='')}/{quote(event_id, safe='')}",
        body=pdu,
    )
    assert sent == {}
    assert await _membership_on(alice, room_id, bob.user_id) == "leave"


async def test_remote_guest_access_change_makes_local_guests_leave(federation):
    """Each server answers for its own guests: when another server's user withdraws
    guest access, this server's guests in the room leave it."""
    hs1, hs2 = await federation("hs1.test", "hs2.test", overrides={"hs2.test": {"registration": {"allow_guests": True}}})
    alice = await hs1.client.register("alice")
    room_id = (await alice.post(f"{V3}/createRoom", {
        "preset": "public_chat",
        "initial_state": [{"type": "m.room.guest_access", "state_key": "", "content": {"guest_access": "can_join"}}],
    })).body["room_id"]
    bob = await hs2.client.register("bob")
    assert (await bob.post(f"{V3}/join/{quote(room_id)}", {}, params={"via": "hs1.test"})).status == 200
    registered = await hs2.client.post(f"{V3}/register?kind=guest", {}, token=None)
    guest = hs2.client.as_user(registered.body["access_token"])
    guest_id = registered.body["user_id"]
    assert (await guest.post(f"{V3}/rooms/{quote(room_id)}/join", {})).status == 200
    assert await _membership_on(alice, room_id, guest_id, "join") == "join"
    resp = await alice.put(f"{V3}/rooms/{quote(room_id)}/state/m.room.guest_access", {"guest_access": "forbidden"})
    assert resp.status == 200
    assert await _membership_on(alice, room_id, guest_id, "leave") == "leave"
    assert await _membership_on(bob, room_id, bob.user_id) == "join"
