"""Admin API parameters (Synapse's semantics): the users list's filters and orders,
``PUT /_synapse/admin/v2/users`` fields, a user's media list pagination and the event
reports' filters. What Hearth does not support is refused with a 400, never ignored."""

from __future__ import annotations

import pytest

from homeserver.clock import FakeClock
from tests.api.test_admin import _admin
from tests.api.test_media import _upload

USERS = "/_synapse/admin/v2/users"
REPORTS = "/_synapse/admin/v1/event_reports"
R = "/_matrix/client/v3/rooms"


async def _names(admin, **params) -> list[str]:
    resp = await admin.get(USERS, params={k: str(v) for k, v in params.items()})
    assert resp.status == 200, resp.body
    return [u["name"] for u in resp.body["users"]]


# -- the users list ------------------------------------------------------------------


async def test_users_list_filters_guests_and_admins(make_server):
    server = await make_server(registration={"allow_guests": True})
    client = server.client
    admin = await _admin(client)
    await client.register("alice")
    guest = (await client.post("/_matrix/client/v3/register?kind=guest", {})).body["user_id"]
    everyone = {"@root:test.local", "@alice:test.local", guest}
    assert set(await _names(admin)) == everyone
    assert set(await _names(admin, guests="true")) == everyone
    assert set(await _names(admin, guests="false")) == everyone - {guest}
    assert await _names(admin, admins="true") == ["@root:test.local"]
    assert set(await _names(admin, admins="false")) == everyone - {"@root:test.local"}
    for bad in ({"guests": "maybe"}, {"admins": "1"}):
        assert (await admin.get(USERS, params=bad)).errcode == "M_INVALID_PARAM"


async def test_users_list_orders_and_directions(make_server):
    clock = FakeClock()
    server = await make_server(clock=clock)
    admin = await _admin(server.client)
    for name in ("carol", "alice", "bob"):
        clock.advance(10)
        await server.client.register(name)
    by_name = ["@alice:test.local", "@bob:test.local", "@carol:test.local", "@root:test.local"]
    assert await _names(admin) == by_name
    assert await _names(admin, dir="b") == by_name[::-1]
    assert await _names(admin, order_by="creation_ts") == ["@root:test.local", "@carol:test.local", "@alice:test.local", "@bob:test.local"]
    assert await _names(admin, order_by="creation_ts", dir="b") == ["@bob:test.local", "@alice:test.local", "@carol:test.local", "@root:test.local"]
    # Ties are broken by ascending name, whatever the direction.
    assert await _names(admin, order_by="admin", dir="b") == ["@root:test.local", *by_name[:3]]
    assert await _names(admin, order_by="user_type", dir="b") == by_name  # nobody has a type
    page = await admin.get(USERS, params={"order_by": "creation_ts", "limit": "2"})
    assert page.body["next_token"] == "2" and page.body["total"] == 4
    for bad in ({"order_by": "displayname"}, {"order_by": "last_seen_ts"}, {"order_by": "bogus"}, {"dir": "x"}):
        resp = await admin.get(USERS, params=bad)
        assert (resp.status, resp.errcode) == (400, "M_INVALID_PARAM"), bad


async def test_users_list_searches_localparts_display_names_and_user_ids(client):
    admin = await _admin(client)
    alice = await client.register("alice")
    await client.register("bob_smith")
    await alice.put(f"/_matrix/client/v3/profile/{alice.user_id}/displayname", {"displayname": "Zoë 100%"})
    assert await _names(admin, name="test") == []  # the server name is no part of a name
    assert await _names(admin, name="ALI") == ["@alice:test.local"]
    assert await _names(admin, name="zoë") == ["@alice:test.local"]  # by display name
    assert await _names(admin, name="100%") == ["@alice:test.local"]
    assert await _names(admin, name="0%") == ["@alice:test.local"]
    assert await _names(admin, name="b_s") == ["@bob_smith:test.local"]
    assert await _names(admin, name="%") == ["@alice:test.local"]  # % is no wildcard
    assert await _names(admin, name="_") == ["@bob_smith:test.local"]  # _ neither
    assert await _names(admin, user_id=":test.local") == ["@alice:test.local", "@bob_smith:test.local", "@root:test.local"]
    assert await _names(admin, user_id="@bob") == ["@bob_smith:test.local"]


async def test_users_list_user_types_and_locks(client):
    admin = await _admin(client)
    await client.register("alice")
    assert await _names(admin, not_user_type="bot") == ["@alice:test.local", "@root:test.local"]
    assert await _names(admin, not_user_type="") == []  # no account has a type
    assert await _names(admin, locked="true") == ["@alice:test.local", "@root:test.local"]  # none is locked
    assert (await admin.get(USERS, params={"locked": "perhaps"})).errcode == "M_INVALID_PARAM"


# -- PUT /_synapse/admin/v2/users/{userId} -------------------------------------------


async def test_put_user_reactivates_with_a_password(client):
    admin = await _admin(client)
    await client.register("alice")
    assert (await admin.post("/_synapse/admin/v1/deactivate/@alice:test.local", {})).status == 200
    missing = await admin.put(f"{USERS}/@alice:test.local", {"deactivated": False})
    assert (missing.status, missing.errcode) == (400, "M_MISSING_PARAM")
    assert (await admin.get(f"{USERS}/@alice:test.local")).body["deactivated"] is True
    back = await admin.put(f"{USERS}/@alice:test.local", {"deactivated": False, "password": "back again pw"})
    assert back.status == 200 and back.body["deactivated"] is False
    alice = await client.login("alice", "back again pw")
    assert (await alice.get("/_matrix/client/v3/account/whoami")).status == 200
    assert "@alice:test.local" in await _names(admin)


async def test_put_user_sets_and_removes_profile_fields(client):
    admin = await _admin(client)
    await client.register("alice")
    path = f"{USERS}/@alice:test.local"
    set_ = await admin.put(path, {"avatar_url": "mxc://test.local/abcdef", "displayname": "Alice A."})
    assert (set_.body["avatar_url"], set_.body["displayname"]) == ("mxc://test.local/abcdef", "Alice A.")
    profile = (await client.get("/_matrix/client/v3/profile/@alice:test.local")).body
    assert profile == {"avatar_url": "mxc://test.local/abcdef", "displayname": "Alice A."}
    cleared = await admin.put(path, {"avatar_url": "", "displayname": ""})
    assert (cleared.body["avatar_url"], cleared.body["displayname"]) == (None, None)
    assert (await admin.put(path, {"avatar_url": "https://example.org/a.png"})).errcode == "M_INVALID_PARAM"


async def test_put_user_password_logs_out_unless_told_not_to(client):
    admin = await _admin(client)
    alice = await client.register("alice")
    path = f"{USERS}/@alice:test.local"
    assert (await admin.put(path, {"password": "second password", "logout_devices": False})).status == 200
    assert (await alice.get("/_matrix/client/v3/account/whoami")).status == 200
    assert (await admin.put(path, {"password": "third password"})).status == 200
    assert (await alice.get("/_matrix/client/v3/account/whoami")).status == 401
    await client.login("alice", "third password")


@pytest.mark.parametrize("body", [
    {"locked": True},
    {"threepids": [{"medium": "email", "address": "alice@example.org"}]},
    {"external_ids": [{"auth_provider": "oidc", "external_id": "1"}]},
    {"user_type": "bot"},
])
async def test_put_user_refuses_what_it_does_not_support(client, body):
    admin = await _admin(client)
    await client.register("alice")
    resp = await admin.put(f"{USERS}/@alice:test.local", body)
    assert (resp.status, resp.errcode) == (400, "M_INVALID_PARAM")


async def test_put_user_accepts_the_values_it_has(client):
    admin = await _admin(client)
    await client.register("alice")
    body = {"locked": False, "threepids": [], "external_ids": [], "user_type": None}
    assert (await admin.put(f"{USERS}/@alice:test.local", body)).status == 200


# -- a user's media --------------------------------------------------------------------


async def test_user_media_pages_and_orders(make_server):
    clock = FakeClock()
    server = await make_server(clock=clock)
    admin = await _admin(server.client)
    alice = await server.client.register("alice")
    ids = []
    for data in (b"bb", b"a", b"dddd", b"ccc"):
        clock.advance(1)
        ids.append((await _upload(alice, data)).body["content_uri"].rsplit("/", 1)[1])
    path = f"/_synapse/admin/v1/users/{alice.user_id}/media"

    async def listed(**params):
        body = (await admin.get(path, params={k: str(v) for k, v in params.items()})).body
        return [m["media_id"] for m in body["media"]], body.get("next_token"), body["total"]

    assert await listed() == (ids[::-1], None, 4)  # newest first
    assert await listed(limit=3) == (ids[::-1][:3], 3, 4)
    assert await listed(limit=3, **{"from": 3}) == (ids[::-1][3:], None, 4)
    assert (await listed(order_by="media_length"))[0] == [ids[1], ids[0], ids[3], ids[2]]
    assert (await listed(order_by="media_length", dir="b"))[0] == [ids[2], ids[3], ids[0], ids[1]]
    assert (await listed(dir="f"))[0] == ids  # by upload time, oldest first
    for bad in ({"order_by": "last_access_ts"}, {"order_by": "nope"}, {"dir": "sideways"}, {"limit": "0"}):
        assert (await admin.get(path, params=bad)).errcode == "M_INVALID_PARAM", bad
    deleted = await admin.delete(path, params={"limit": "2"})
    assert sorted(deleted.body["deleted_media"]) == sorted(ids[2:])  # the newest two
    assert (await listed())[0] == ids[1::-1]


# -- event reports ---------------------------------------------------------------------


async def test_event_report_filters(client):
    admin = await _admin(client)
    alice, bob, carol = [await client.register(name) for name in ("alice", "bob", "carol")]
    rooms = []
    for _ in range(2):
        room_id = (await alice.post("/_matrix/client/v3/createRoom", {"preset": "public_chat"})).body["room_id"]
        for user in (bob, carol):
            assert (await user.post(f"{R}/{room_id}/join", {})).status == 200
        rooms.append(room_id)

    async def send(user, room_id, txn):
        resp = await user.put(f"{R}/{room_id}/send/m.room.message/{txn}", {"msgtype": "m.text", "body": "x"})
        assert resp.status == 200, resp.body
        return resp.body["event_id"]

    by_alice, by_carol = await send(alice, rooms[0], "t1"), await send(carol, rooms[1], "t2")
    assert (await bob.post(f"{R}/{rooms[0]}/report/{by_alice}", {"reason": "one"})).status == 200
    assert (await bob.post(f"{R}/{rooms[1]}/report/{by_carol}", {"reason": "two"})).status == 200
    assert (await carol.post(f"{R}/{rooms[0]}/report/{by_alice}", {"reason": "three"})).status == 200

    async def reasons(**params):
        body = (await admin.get(REPORTS, params=params)).body
        return [r["reason"] for r in body["event_reports"]], body["total"]

    assert await reasons() == (["three", "two", "one"], 3)  # newest first
    assert await reasons(dir="f") == (["one", "two", "three"], 3)
    assert await reasons(user_id="@bob") == (["two", "one"], 2)
    assert await reasons(room_id=rooms[1][1:8]) == (["two"], 1)
    assert await reasons(sender_user_id=alice.user_id) == (["three", "one"], 2)
    assert await reasons(sender_user_id="@ali") == ([], 0)  # the sender must be exact
    page = (await admin.get(REPORTS, params={"limit": "2"})).body
    assert page["next_token"] == 2 and len(page["event_reports"]) == 2
    assert (await admin.get(REPORTS, params={"dir": "up"})).errcode == "M_INVALID_PARAM"
