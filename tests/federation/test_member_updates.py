"""Across servers: a profile change reaches the other servers of a room as a new
membership event, a deactivated account leaves rooms hosted elsewhere, and an
erased user's events are served redacted to other servers."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

import pytest

pytestmark = pytest.mark.federation

V3 = "/_matrix/client/v3"


async def _eventually(check, *, tries: int = 600) -> None:
    for _ in range(tries):
        if await check():
            return
        await asyncio.sleep(0.025)
    raise AssertionError("the change did not arrive")


async def _deactivate(user, username: str, *, erase: bool) -> None:
    auth = {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": username}, "password": "correct horse battery"}
    first = await user.post(f"{V3}/account/deactivate", {"erase": erase})
    done = await user.post(f"{V3}/account/deactivate", {"erase": erase, "auth": {**auth, "session": first.body["session"]}})
    assert done.status == 200, done.body


async def _shared_room(hs1, hs2):
    alice = await hs1.client.register("alice")
    bob = await hs2.client.register("bob")
    room_id = (await alice.post(f"{V3}/createRoom", {"preset": "public_chat"})).body["room_id"]
    assert (await bob.post(f"{V3}/join/{quote(room_id)}", {}, params={"via": "hs1.test"})).status == 200
    return alice, bob, room_id


async def test_profile_changes_and_deactivation_reach_other_servers(federation):
    hs1, hs2 = await federation("hs1.test", "hs2.test")
    alice, bob, room_id = await _shared_room(hs1, hs2)
    member = f"{V3}/rooms/{quote(room_id)}/state/m.room.member/{bob.user_id}"

    assert (await bob.put(f"{V3}/profile/{bob.user_id}/displayname", {"displayname": "Bob of hs2"})).status == 200

    async def renamed() -> bool:
        return (await alice.get(member)).body.get("displayname") == "Bob of hs2"

    await _eventually(renamed)

    # An invite from the other server is rejected through it when Bob goes.
    private = (await alice.post(f"{V3}/createRoom", {})).body["room_id"]
    assert (await alice.post(f"{V3}/rooms/{quote(private)}/invite", {"user_id": bob.user_id})).status == 200
    invited = f"{V3}/rooms/{quote(private)}/state/m.room.member/{bob.user_id}"

    async def got_invite() -> bool:
        return private in (await bob.get(f"{V3}/sync")).body.get("rooms", {}).get("invite", {})

    await _eventually(got_invite)
    await _deactivate(bob, "bob", erase=False)

    async def left() -> bool:
        return all([(await alice.get(path)).body.get("membership") == "leave" for path in (member, invited)])

    await _eventually(left)


async def test_erased_users_events_are_served_redacted_to_other_servers(federation):
    hs1, hs2 = await federation("hs1.test", "hs2.test")
    alice, bob, room_id = await _shared_room(hs1, hs2)
    sent = await alice.put(f"{V3}/rooms/{quote(room_id)}/send/m.room.message/x1", {"msgtype": "m.text", "body": "erase me"})
    event_id = sent.body["event_id"]
    path = f"/_matrix/federation/v1/event/{quote(event_id)}"
    before = await hs2.hearth.federation_client.request("hs1.test", "GET", path)
    assert before["pdus"][0]["content"]["body"] == "erase me"
    await _deactivate(alice, "alice", erase=True)
    after = await hs2.hearth.federation_client.request("hs1.test", "GET", path)
    assert after["pdus"][0]["content"] == {}
    backfilled = await hs2.hearth.federation_client.request(
        "hs1.test", "GET", f"/_matrix/federation/v1/backfill/{quote(room_id)}", query={"v": event_id, "limit": "5"}
    )
    assert all(p["content"] == {} for p in backfilled["pdus"] if p["type"] == "m.room.message")
