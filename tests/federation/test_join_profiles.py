"""A user joining or knocking on a room of another server carries their profile (and
reason) in the membership event, as local joins do (spec: Client-Server API,
``m.room.member``: ``displayname``, ``avatar_url``)."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

import pytest

pytestmark = pytest.mark.federation

V3 = "/_matrix/client/v3"


async def _member_on(user, room_id: str, member: str, membership: str, timeout: float = 15.0) -> dict:
    """The member's ``m.room.member`` content on ``user``'s server, once it has ``membership``."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        got = await user.get(f"{V3}/rooms/{quote(room_id)}/state/m.room.member/{quote(member)}")
        if got.status == 200 and got.body.get("membership") == membership:
            return got.body
        assert asyncio.get_running_loop().time() < deadline, f"{member} never had {membership} here"
        await asyncio.sleep(0.1)


async def _profile(user, displayname: str, avatar_url: str) -> None:
    base = f"{V3}/profile/{quote(user.user_id)}"
    assert (await user.put(f"{base}/displayname", {"displayname": displayname})).status == 200
    assert (await user.put(f"{base}/avatar_url", {"avatar_url": avatar_url})).status == 200


async def test_remote_joins_and_knocks_carry_the_users_profile(federation):
    hs1, hs2 = await federation("hs1.test", "hs2.test")
    alice = await hs1.client.register("alice")
    public = (await alice.post(f"{V3}/createRoom", {"preset": "public_chat"})).body["room_id"]
    knockable = (await alice.post(f"{V3}/createRoom", {
        "preset": "private_chat",
        "initial_state": [{"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": "knock"}}],
    })).body["room_id"]
    bob = await hs2.client.register("bob")
    await _profile(bob, "Bob of hs2", "mxc://hs2.test/bobface")
    joined = await bob.post(f"{V3}/join/{quote(public)}", {"reason": "hello"}, params={"via": "hs1.test"})
    assert joined.status == 200, joined.body
    expected = {"displayname": "Bob of hs2", "avatar_url": "mxc://hs2.test/bobface"}
    join = await _member_on(alice, public, bob.user_id, "join")
    assert join == {"membership": "join", "reason": "hello", **expected}
    # Bob's own server shows the same event.
    assert await _member_on(bob, public, bob.user_id, "join") == join
    # hs1's member list names him.
    members = await alice.get(f"{V3}/rooms/{quote(public)}/joined_members")
    assert members.body["joined"][bob.user_id] == {"display_name": "Bob of hs2", "avatar_url": "mxc://hs2.test/bobface"}
    knocked = await bob.post(f"{V3}/knock/{quote(knockable)}", {"reason": "let me in"}, params={"via": "hs1.test"})
    assert knocked.status == 200, knocked.body
    knock = await _member_on(alice, knockable, bob.user_id, "knock")
    assert knock == {"membership": "knock", "reason": "let me in", **expected}
