"""Server notices (spec: "Server Notices"; Synapse admin API POST/PUT send_server_notice)."""

from __future__ import annotations

NOTICE = "/_synapse/admin/v1/send_server_notice"
NOTICES = {"server_notices": {"system_mxid_localpart": "notices", "system_mxid_display_name": "Server",
                              "room_name": "From the admins"}}
SYSTEM_USER = "@notices:test.local"


async def _admin_and_alice(server):
    admin = await server.client.register("root")
    await server.hearth.accounts.set_admin(admin.user_id, True)
    alice = await server.client.register("alice")
    return admin, alice


async def _notice_rooms(alice):
    """Alice's sync: her invites and the rooms tagged m.server_notice among her joined rooms."""
    return (await alice.get("/_matrix/client/v3/sync")).body["rooms"]


async def test_a_notice_arrives_in_a_tagged_room_the_user_cannot_write_in(make_server):
    server = await make_server(**NOTICES)
    admin, alice = await _admin_and_alice(server)
    content = {"msgtype": "m.text", "body": "Maintenance tonight"}
    resp = await admin.post(NOTICE, {"user_id": alice.user_id, "content": content})
    assert resp.status == 200, resp.body
    first = resp.body["event_id"]

    invites = (await _notice_rooms(alice))["invite"]
    assert len(invites) == 1
    room_id = next(iter(invites))
    assert (await alice.post(f"/_matrix/client/v3/join/{room_id}", {})).status == 200
    joined = (await _notice_rooms(alice))["join"][room_id]
    tags = [e for e in joined["account_data"]["events"] if e["type"] == "m.tag"]
    assert tags and "m.server_notice" in tags[0]["content"]["tags"]
    messages = (await alice.get(f"/_matrix/client/v3/rooms/{room_id}/messages", params={"dir": "b"})).body["chunk"]
    notice = next(e for e in messages if e["event_id"] == first)
    assert notice["sender"] == SYSTEM_USER and notice["type"] == "m.room.message"
    assert notice["content"] == {"msgtype": "m.server_notice", "body": "Maintenance tonight"}
    name = await alice.get(f"/_matrix/client/v3/rooms/{room_id}/state/m.room.name/")
    assert name.body == {"name": "From the admins"}
    profile = await alice.get(f"/_matrix/client/v3/profile/{SYSTEM_USER}")
    assert profile.body.get("displayname") == "Server"

    sent = await alice.put(f"/_matrix/client/v3/rooms/{room_id}/send/m.room.message/t1",
                           {"msgtype": "m.text", "body": "hi"})
    assert sent.status == 403 and sent.errcode == "M_FORBIDDEN"

    second = await admin.post(NOTICE, {"user_id": alice.user_id, "content": {"body": "Done"}})
    assert second.status == 200
    messages = (await alice.get(f"/_matrix/client/v3/rooms/{room_id}/messages", params={"dir": "b"})).body["chunk"]
    assert second.body["event_id"] in [e["event_id"] for e in messages]
    assert list((await _notice_rooms(alice))["join"]) == [room_id]


async def test_the_invite_cannot_be_rejected_but_the_room_can_be_left_and_is_reused(make_server):
    server = await make_server(**NOTICES)
    admin, alice = await _admin_and_alice(server)
    assert (await admin.post(NOTICE, {"user_id": alice.user_id, "content": {"body": "one"}})).status == 200
    room_id = next(iter((await _notice_rooms(alice))["invite"]))
    reject = await alice.post(f"/_matrix/client/v3/rooms/{room_id}/leave", {})
    assert reject.status == 403 and reject.errcode == "M_CANNOT_LEAVE_SERVER_NOTICE_ROOM"
    assert (await alice.post(f"/_matrix/client/v3/join/{room_id}", {})).status == 200
    assert (await alice.post(f"/_matrix/client/v3/rooms/{room_id}/leave", {})).status == 200
    assert (await admin.post(NOTICE, {"user_id": alice.user_id, "content": {"body": "two"}})).status == 200
    assert list((await _notice_rooms(alice))["invite"]) == [room_id]


async def test_a_suspended_user_can_still_join_their_notices_room(make_server):
    server = await make_server(**NOTICES)
    admin, alice = await _admin_and_alice(server)
    assert (await admin.post(NOTICE, {"user_id": alice.user_id, "content": {"body": "suspended"}})).status == 200
    assert (await admin.put(f"/_matrix/client/v1/admin/suspend/{alice.user_id}", {"suspended": True})).status == 200
    room_id = next(iter((await _notice_rooms(alice))["invite"]))
    assert (await alice.post(f"/_matrix/client/v3/join/{room_id}", {})).status == 200
    other = (await admin.post("/_matrix/client/v3/createRoom", {"preset": "public_chat"})).body["room_id"]
    resp = await alice.post(f"/_matrix/client/v3/join/{other}", {})
    assert resp.status == 403 and resp.errcode == "M_USER_SUSPENDED"


async def test_the_notices_account_cannot_log_in(make_server):
    server = await make_server(**NOTICES)
    admin, alice = await _admin_and_alice(server)
    assert (await admin.post(NOTICE, {"user_id": alice.user_id, "content": {"body": "x"}})).status == 200
    for password in ("", "notices", "correct horse battery"):
        resp = await server.client.post("/_matrix/client/v3/login", {
            "type": "m.login.password", "identifier": {"type": "m.id.user", "user": "notices"}, "password": password,
        })
        assert resp.status == 403, resp.body


async def test_nobody_else_can_register_the_notices_account(make_server):
    server = await make_server(**NOTICES)
    resp = await server.client.post("/_matrix/client/v3/register", {
        "username": "notices", "password": "correct horse battery", "auth": {"type": "m.login.dummy"},
    }, token=None)
    assert resp.status == 400 and resp.errcode == "M_EXCLUSIVE"


async def test_put_with_the_same_transaction_id_sends_once(make_server):
    server = await make_server(**NOTICES)
    admin, alice = await _admin_and_alice(server)
    body = {"user_id": alice.user_id, "content": {"body": "once"}}
    first = await admin.put(f"{NOTICE}/txn1", body)
    again = await admin.put(f"{NOTICE}/txn1", body)
    other = await admin.put(f"{NOTICE}/txn2", body)
    assert first.status == again.status == other.status == 200
    assert first.body["event_id"] == again.body["event_id"] != other.body["event_id"]


async def test_notices_to_many_users_are_not_held_by_room_creation_limits(make_server):
    server = await make_server(**NOTICES, rate_limits={
        "enabled": True, "registration": {"per_second": 10, "burst": 10},
        "room_creation": {"per_second": 0.01, "burst": 1}, "invite": {"per_second": 0.01, "burst": 1},
    })
    admin, alice = await _admin_and_alice(server)
    bob = await server.client.register("bob")
    for user in (alice, bob, admin):
        resp = await admin.post(NOTICE, {"user_id": user.user_id, "content": {"body": "to all"}})
        assert resp.status == 200, resp.body


async def test_admins_only(make_server):
    server = await make_server(**NOTICES)
    admin, alice = await _admin_and_alice(server)
    body = {"user_id": admin.user_id, "content": {"body": "x"}}
    resp = await alice.post(NOTICE, body)
    assert resp.status == 403 and resp.errcode == "M_FORBIDDEN"
    resp = await server.client.post(NOTICE, body)
    assert resp.status == 401
    resp = await alice.put(f"{NOTICE}/t", body)
    assert resp.status == 403


async def test_bad_requests(make_server):
    server = await make_server(**NOTICES)
    admin, alice = await _admin_and_alice(server)
    resp = await admin.post(NOTICE, {"user_id": "@nobody:test.local", "content": {"body": "x"}})
    assert resp.status == 404 and resp.errcode == "M_NOT_FOUND"
    resp = await admin.post(NOTICE, {"user_id": "@bob:elsewhere.example", "content": {"body": "x"}})
    assert resp.status == 400
    resp = await admin.post(NOTICE, {"user_id": alice.user_id})
    assert resp.status == 400 and resp.errcode == "M_MISSING_PARAM"
    resp = await admin.post(NOTICE, {"user_id": alice.user_id, "content": {"msgtype": "m.text"}})
    assert resp.status == 400 and resp.errcode == "M_BAD_JSON"


async def test_off_unless_configured(make_server):
    server = await make_server()
    admin, alice = await _admin_and_alice(server)
    resp = await admin.post(NOTICE, {"user_id": alice.user_id, "content": {"body": "x"}})
    assert resp.status == 400 and resp.errcode == "M_UNKNOWN"
    assert not await server.hearth.account_store.user_exists(SYSTEM_USER)
