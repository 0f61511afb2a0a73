"""Guest access (spec: Client-Server API, "Guest Access"), behind registration.allow_guests."""

from __future__ import annotations

import time

V3 = "/_matrix/client/v3"
R = f"{V3}/rooms"
REGISTER = f"{V3}/register"
GUESTS = {"registration": {"allow_guests": True}}


async def _guest(client):
    resp = await client.post(REGISTER + "?kind=guest", {}, token=None)
    assert resp.status == 200, resp.body
    guest = client.as_user(resp.body["access_token"])
    guest.user_id = resp.body["user_id"]
    return guest


async def _room(user, guest_access):
    resp = await user.post(f"{V3}/createRoom", {
        "preset": "public_chat",
        "initial_state": [{"type": "m.room.guest_access", "state_key": "", "content": {"guest_access": guest_access}}],
    })
    assert resp.status == 200, resp.body
    return resp.body["room_id"]


async def _membership(user, room_id, target):
    resp = await user.get(f"{R}/{room_id}/state/m.room.member/{target}")
    return resp.body.get("membership")


async def test_guest_joins_talks_and_leaves_where_guests_may_join(make_server):
    server = await make_server(**GUESTS)
    alice = await server.client.register("alice")
    room_id = await _room(alice, "can_join")
    guest = await _guest(server.client)
    assert (await guest.post(f"{R}/{room_id}/join", {})).status == 200
    sent = await guest.put(f"{R}/{room_id}/send/m.room.message/t{time.monotonic_ns()}", {"msgtype": "m.text", "body": "hello"})
    assert sent.status == 200, sent.body
    state = await guest.put(f"{R}/{room_id}/state/m.room.member/{guest.user_id}", {"membership": "join", "displayname": "Visitor"})
    assert state.status == 200, state.body
    for path in (f"{R}/{room_id}/messages?dir=b", f"{R}/{room_id}/members", f"{R}/{room_id}/state"):
        assert (await guest.get(path)).status == 200, path
    assert (await guest.post(f"{R}/{room_id}/leave", {})).status == 200
    assert await _membership(alice, room_id, guest.user_id) == "leave"
    assert (await guest.post(f"{V3}/join/{room_id}", {})).status == 200
    assert await _membership(alice, room_id, guest.user_id) == "join"


async def test_guest_cannot_join_where_guests_are_forbidden(make_server):
    server = await make_server(**GUESTS)
    alice = await server.client.register("alice")
    room_id = await _room(alice, "forbidden")
    guest = await _guest(server.client)
    for path in (f"{R}/{room_id}/join", f"{V3}/join/{room_id}"):
        resp = await guest.post(path, {})
        assert (resp.status, resp.errcode) == (403, "M_GUEST_ACCESS_FORBIDDEN")
    assert await _membership(alice, room_id, guest.user_id) is None
    # Rooms this server is not in cannot be checked: guests cannot join them.
    resp = await guest.post(f"{V3}/join/!elsewhere:remote.test", {})
    assert (resp.status, resp.errcode) == (403, "M_GUEST_ACCESS_FORBIDDEN")


async def test_guests_leave_when_guest_access_is_withdrawn(make_server):
    server = await make_server(**GUESTS)
    alice = await server.client.register("alice")
    bob = await server.client.register("bob")
    room_id = await _room(alice, "can_join")
    guest = await _guest(server.client)
    assert (await guest.post(f"{R}/{room_id}/join", {})).status == 200
    assert (await bob.post(f"{R}/{room_id}/join", {})).status == 200
    resp = await alice.put(f"{R}/{room_id}/state/m.room.guest_access", {"guest_access": "forbidden"})
    assert resp.status == 200
    assert await _membership(alice, room_id, guest.user_id) == "leave"
    assert await _membership(alice, room_id, bob.user_id) == "join"
    resp = await guest.post(f"{R}/{room_id}/join", {})
    assert (resp.status, resp.errcode) == (403, "M_GUEST_ACCESS_FORBIDDEN")


async def test_guest_endpoints_are_the_specs_list(make_server):
    server = await make_server(**GUESTS)
    guest = await _guest(server.client)
    allowed = [
        ("GET", f"{V3}/account/whoami", None),
        ("GET", f"{V3}/devices", None),
        ("PUT", f"{V3}/profile/{guest.user_id}/displayname", {"displayname": "Visitor"}),
        ("POST", f"{V3}/keys/upload", {}),
        ("POST", f"{V3}/keys/query", {"device_keys": {guest.user_id: []}}),
        ("POST", f"{V3}/keys/claim", {"one_time_keys": {}}),
        ("GET", f"{V3}/sync", None),
    ]
    for method, path, body in allowed:
        resp = await guest.request(method, path, body)
        assert resp.status == 200, (path, resp.body)
    refused = [
        ("POST", f"{V3}/createRoom", {}),
        ("PUT", f"{V3}/profile/{guest.user_id}/avatar_url", {"avatar_url": "mxc://test.local/a"}),
        ("POST", f"{V3}/user/{guest.user_id}/filter", {}),
        ("PUT", f"{V3}/user/{guest.user_id}/account_data/org.example", {}),
        ("GET", f"{V3}/joined_rooms", None),
        ("GET", f"{V3}/capabilities", None),
        ("POST", "/_matrix/media/v3/upload", None),
        ("POST", f"{V3}/account/password", {"new_password": "long enough pw"}),
    ]
    for method, path, body in refused:
        resp = await guest.request(method, path, body)
        assert (resp.status, resp.errcode) == (403, "M_GUEST_ACCESS_FORBIDDEN"), path


async def test_guest_tokens_follow_the_switch(make_server):
    server = await make_server(**GUESTS)
    guest = await _guest(server.client)
    assert (await guest.get(f"{V3}/account/whoami")).status == 200
    closed = await make_server(registration={"allow_guests": False})  # same database
    resp = await closed.client.as_user(guest.token).get(f"{V3}/account/whoami")
    assert (resp.status, resp.errcode) == (403, "M_GUEST_ACCESS_FORBIDDEN")


async def test_guest_upgrades_to_a_full_account(make_server):
    server = await make_server(**GUESTS)
    alice = await server.client.register("alice")
    room_id = await _room(alice, "can_join")
    guest = await _guest(server.client)
    assert (await guest.post(f"{R}/{room_id}/join", {})).status == 200
    localpart = guest.user_id[1:].split(":")[0]
    body = {"username": localpart, "password": "long enough pw", "auth": {"type": "m.login.dummy"}}
    wrong = await server.client.post(REGISTER, {**body, "username": "someoneelse", "guest_access_token": guest.token})
    assert (wrong.status, wrong.errcode) == (403, "M_FORBIDDEN")
    forged = await server.client.post(REGISTER, {**body, "guest_access_token": "hth_not-a-token"})
    assert (forged.status, forged.errcode) == (403, "M_FORBIDDEN")
    numeric = await server.client.post(REGISTER, body)
    assert numeric.errcode == "M_INVALID_USERNAME"
    upgraded = await server.client.post(REGISTER, {**body, "guest_access_token": guest.token})
    assert upgraded.status == 200, upgraded.body
    assert upgraded.body["user_id"] == guest.user_id
    member = server.client.as_user(upgraded.body["access_token"])
    who = await member.get(f"{V3}/account/whoami")
    assert who.body["is_guest"] is False
    assert (await member.get(f"{V3}/joined_rooms")).body["joined_rooms"] == [room_id]
    # The old guest session is the same, now full, account; its password logs in.
    assert (await guest.get(f"{V3}/account/whoami")).body["is_guest"] is False
    assert (await server.client.login(guest.user_id, "long enough pw")).user_id == guest.user_id
    again = await server.client.post(REGISTER, {**body, "guest_access_token": guest.token})
    assert (again.status, again.errcode) == (403, "M_FORBIDDEN")
