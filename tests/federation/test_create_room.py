"""``createRoom`` inviting users of other servers (spec: Client-Server API, "Creation",
"Direct Messaging")."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

import pytest

pytestmark = pytest.mark.federation

V3 = "/_matrix/client/v3"


async def _invite_of(user, room_id: str, timeout: float = 15.0) -> list[dict]:
    """The invite state of ``room_id`` once the user's sync shows the invite."""
    deadline = asyncio.get_running_loop().time() + timeout
    since = None
    while True:
        params = {"timeout": "1000"} | ({"since": since} if since else {})
        body = (await user.get(f"{V3}/sync", params=params)).body
        since = body["next_batch"]
        invite = body.get("rooms", {}).get("invite", {}).get(room_id)
        if invite is not None:
            return invite["invite_state"]["events"]
        assert asyncio.get_running_loop().time() < deadline, f"{user.user_id} was never invited"


async def test_a_direct_chat_with_users_of_several_servers(federation):
    hs1, hs2, hs3 = await federation("hs1.test", "hs2.test", "hs3.test", addresses={"gone.test": "127.0.0.1:9"})
    alice, dave = await hs1.client.register("alice"), await hs1.client.register("dave")
    bob, carol = await hs2.client.register("bob"), await hs3.client.register("carol")
    created = await alice.post(f"{V3}/createRoom", {
        "preset": "trusted_private_chat", "is_direct": True, "name": "Us four",
        # Two other servers, a local user, a user who does not exist and a server that cannot be reached:
        # the failed invites are reported and the room is created with the others.
        "invite": [bob.user_id, carol.user_id, dave.user_id, "@nobody:hs2.test", "@someone:gone.test"],
    })
    assert created.status == 200, created.body
    assert sorted(created.body["io.hearth.failed_invites"]) == ["@nobody:hs2.test", "@someone:gone.test"]
    room_id = created.body["room_id"]
    r = f"{V3}/rooms/{quote(room_id)}"
    for invitee in (bob, carol, dave):
        member = await alice.get(f"{r}/state/m.room.member/{quote(invitee.user_id)}")
        assert (member.body["membership"], member.body["is_direct"]) == ("invite", True), member.body
        # Each invitee's server shows the invite, marked direct, with the room's preview.
        invite_state = await _invite_of(invitee, room_id)
        own = [e for e in invite_state if e["type"] == "m.room.member" and e["state_key"] == invitee.user_id]
        assert own and own[-1]["content"]["is_direct"] is True and own[-1]["sender"] == alice.user_id
        assert any(e["type"] == "m.room.name" and e["content"] == {"name": "Us four"} for e in invite_state)
    for missing in ("@nobody:hs2.test", "@someone:gone.test"):
        assert (await alice.get(f"{r}/state/m.room.member/{quote(missing)}")).status == 404
    # The invitee's client marks the room direct and joins; both servers see the join.
    marked = await bob.put(f"{V3}/user/{quote(bob.user_id)}/account_data/m.direct", {alice.user_id: [room_id]})
    assert marked.status == 200
    assert (await bob.post(f"{V3}/join/{quote(room_id)}", {})).status == 200, "bob could not accept"
    create = await bob.get(f"{r}/state/m.room.create")
    assert bob.user_id in create.body["additional_creators"]  # trusted_private_chat in room version 12
    deadline = asyncio.get_running_loop().time() + 15
    while bob.user_id not in (await alice.get(f"{r}/joined_members")).body["joined"]:
        assert asyncio.get_running_loop().time() < deadline, "hs1 never saw bob join"
        await asyncio.sleep(0.2)
