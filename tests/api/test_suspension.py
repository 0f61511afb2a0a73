"""Account suspension (spec v1.18: GET/PUT /_matrix/client/v1/admin/suspend/{userId})."""

from __future__ import annotations

SUSPEND = "/_matrix/client/v1/admin/suspend"


async def _setup(server):
    admin = await server.client.register("root")
    await server.hearth.accounts.set_admin(admin.user_id, True)
    alice = await server.client.register("alice")
    bob = await server.client.register("bob")
    return admin, alice, bob


def _suspended(resp):
    return resp.status == 403 and resp.errcode == "M_USER_SUSPENDED"


async def test_a_suspended_user_reads_and_leaves_but_cannot_join_invite_send_or_change_profile(server):
    admin, alice, bob = await _setup(server)
    mine = (await alice.post("/_matrix/client/v3/createRoom", {})).body["room_id"]
    own = (await alice.put(f"/_matrix/client/v3/rooms/{mine}/send/m.room.message/1", {"msgtype": "m.text", "body": "a"})).body["event_id"]
    bobs = (await bob.post("/_matrix/client/v3/createRoom", {"preset": "public_chat"})).body["room_id"]
    other = (await bob.post("/_matrix/client/v3/createRoom", {"preset": "public_chat"})).body["room_id"]
    assert (await alice.post(f"/_matrix/client/v3/join/{other}", {})).status == 200

    assert (await admin.get(f"{SUSPEND}/{alice.user_id}")).body == {"suspended": False}
    resp = await admin.put(f"{SUSPEND}/{alice.user_id}", {"suspended": True})
    assert resp.status == 200 and resp.body == {"suspended": True}
    assert (await admin.get(f"{SUSPEND}/{alice.user_id}")).body == {"suspended": True}

    assert _suspended(await alice.put(f"/_matrix/client/v3/rooms/{mine}/send/m.room.message/2",
                                      {"msgtype": "m.text", "body": "b"}))
    assert _suspended(await alice.put(f"/_matrix/client/v3/rooms/{mine}/state/m.room.topic/", {"topic": "t"}))
    assert _suspended(await alice.post(f"/_matrix/client/v3/join/{bobs}", {}))
    assert _suspended(await alice.post(f"/_matrix/client/v3/knock/{bobs}", {}))
    assert _suspended(await alice.post(f"/_matrix/client/v3/rooms/{mine}/invite", {"user_id": bob.user_id}))
    assert _suspended(await alice.put(f"/_matrix/client/v3/profile/{alice.user_id}/displayname",
                                      {"displayname": "A"}))
    assert _suspended(await alice.put(f"/_matrix/client/v3/profile/{alice.user_id}/avatar_url",
                                      {"avatar_url": "mxc://test.local/x"}))
    # Still allowed: reading, redacting one's own events, leaving, logging in again.
    assert (await alice.get("/_matrix/client/v3/sync")).status == 200
    assert (await alice.put(f"/_matrix/client/v3/rooms/{mine}/redact/{own}/r1", {})).status == 200
    assert (await alice.post(f"/_matrix/client/v3/rooms/{other}/leave", {})).status == 200
    again = await server.client.login("alice")
    assert _suspended(await again.post(f"/_matrix/client/v3/join/{bobs}", {}))

    assert (await admin.put(f"{SUSPEND}/{alice.user_id}", {"suspended": False})).body == {"suspended": False}
    assert (await alice.post(f"/_matrix/client/v3/join/{bobs}", {})).status == 200
    assert (await alice.put(f"/_matrix/client/v3/profile/{alice.user_id}/displayname",
                            {"displayname": "A"})).status == 200


async def test_admins_see_the_moderation_capability(server):
    admin, alice, bob = await _setup(server)
    caps = (await admin.get("/_matrix/client/v3/capabilities")).body["capabilities"]
    assert caps["m.account_moderation"] == {"suspend": True, "lock": False}
    caps = (await alice.get("/_matrix/client/v3/capabilities")).body["capabilities"]
    assert "m.account_moderation" not in caps


async def test_admin_errors(server):
    admin, alice, bob = await _setup(server)
    resp = await alice.get(f"{SUSPEND}/{bob.user_id}")
    assert resp.status == 403 and resp.errcode == "M_FORBIDDEN"
    assert (await server.client.get(f"{SUSPEND}/{bob.user_id}")).status == 401
    resp = await admin.put(f"{SUSPEND}/{admin.user_id}", {"suspended": True})
    assert resp.status == 403 and resp.errcode == "M_FORBIDDEN"
    await server.hearth.accounts.set_admin(bob.user_id, True)
    resp = await admin.put(f"{SUSPEND}/{bob.user_id}", {"suspended": True})
    assert resp.status == 403 and resp.errcode == "M_FORBIDDEN"
    resp = await admin.get(f"{SUSPEND}/@someone:elsewhere.example")
    assert resp.status == 400 and resp.errcode == "M_INVALID_PARAM"
    resp = await admin.get(f"{SUSPEND}/@nobody:test.local")
    assert resp.status == 404 and resp.errcode == "M_NOT_FOUND"
    resp = await admin.put(f"{SUSPEND}/{alice.user_id}", {"suspended": "yes"})
    assert resp.status == 400 and resp.errcode == "M_BAD_JSON"
    await server.hearth.user_admin.deactivate(alice.user_id, erase=False)
    resp = await admin.get(f"{SUSPEND}/{alice.user_id}")
    assert resp.status == 404 and resp.errcode == "M_NOT_FOUND"
