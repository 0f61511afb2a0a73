"""A profile change reaches every room the user is joined to as a new membership
event (spec: "Events on change of profile information"); deactivation takes the
account out of every room; ``erase`` serves its events redacted to those who
could not see them before."""

from __future__ import annotations

import asyncio
import json

from storage.member_updates import PROFILE, MemberUpdateStore

V3 = "/_matrix/client/v3"
R = f"{V3}/rooms"


async def _room(user, **body) -> str:
    resp = await user.post(f"{V3}/createRoom", body)
    assert resp.status == 200, resp.body
    return resp.body["room_id"]


async def _member(viewer, room_id: str, user_id: str) -> dict:
    resp = await viewer.get(f"{R}/{room_id}/state/m.room.member/{user_id}")
    assert resp.status == 200, resp.body
    return resp.body


async def _eventually(check, *, tries: int = 400) -> None:
    """Wait (bounded) until ``check()`` holds: the updates run in the background."""
    for _ in range(tries):
        if await check():
            return
        await asyncio.sleep(0.025)
    raise AssertionError("the background update did not happen")


async def test_a_new_display_name_and_avatar_reach_every_joined_room(client):
    alice = await client.register("alice")
    bob = await client.register("bob")
    joined = [await _room(bob, preset="public_chat") for _ in range(12)]
    for room_id in joined:
        assert (await alice.post(f"{R}/{room_id}/join", {})).status == 200
    invited = await _room(bob)
    await bob.post(f"{R}/{invited}/invite", {"user_id": alice.user_id})
    left = await _room(bob, preset="public_chat")
    await alice.post(f"{R}/{left}/join", {})
    await alice.post(f"{R}/{left}/leave", {})

    profile = f"{V3}/profile/{alice.user_id}"
    assert (await alice.put(f"{profile}/displayname", {"displayname": "Alice A."})).status == 200
    assert (await alice.put(f"{profile}/avatar_url", {"avatar_url": "mxc://test.local/face"})).status == 200

    async def all_updated() -> bool:
        for room_id in joined:
            content = await _member(bob, room_id, alice.user_id)
            if content != {"membership": "join", "displayname": "Alice A.", "avatar_url": "mxc://test.local/face"}:
                return False
        return True

    await _eventually(all_updated)
    # Only joined rooms: an invite and a past membership stay as they were.
    assert (await _member(bob, invited, alice.user_id))["membership"] == "invite"
    assert (await _member(bob, left, alice.user_id))["membership"] == "leave"
    # Others see it in their timeline, with the previous content.
    synced = (await bob.get(f"{V3}/sync")).body["rooms"]["join"][joined[0]]
    changes = [e for e in synced["timeline"]["events"] if e["type"] == "m.room.member" and e["state_key"] == alice.user_id]
    assert changes[-1]["content"]["displayname"] == "Alice A."

    # Removing the display name sends a join without one.
    assert (await alice.delete(f"{profile}/displayname")).status == 200

    async def removed() -> bool:
        return all(["displayname" not in await _member(bob, r, alice.user_id) for r in joined])

    await _eventually(removed)
    # Fields other than the display name and avatar send nothing.
    before = len((await bob.get(f"{R}/{joined[0]}/messages", params={"dir": "b", "limit": "100"})).body["chunk"])
    assert (await alice.put(f"{profile}/m.tz", {"m.tz": "Europe/Paris"})).status == 200
    await asyncio.sleep(0.1)
    after = len((await bob.get(f"{R}/{joined[0]}/messages", params={"dir": "b", "limit": "100"})).body["chunk"])
    assert after == before


async def test_profile_updates_left_by_a_stopped_server_are_resumed(make_server):
    first = await make_server()
    alice = await first.client.register("alice")
    room_id = await _room(alice)
    # What a crash in the middle leaves behind: the new profile stored, the rooms not yet told.
    await first.hearth.account_store.set_profile_field(alice.user_id, "displayname", "After the crash")
    await MemberUpdateStore(first.hearth.db).request(alice.user_id, PROFILE)
    second = await make_server()

    async def resumed() -> bool:
        return (await _member(alice, room_id, alice.user_id)).get("displayname") == "After the crash"

    await _eventually(resumed)
    assert await MemberUpdateStore(second.hearth.db).pending() == []


async def test_deactivation_leaves_every_room_and_rejects_invites_and_knocks(client, server):
    alice = await client.register("alice")
    bob = await client.register("bob")
    await alice.put(f"{V3}/profile/{alice.user_id}/displayname", {"displayname": "Alice"})
    joined = [await _room(bob, preset="public_chat") for _ in range(3)]
    for room_id in joined:
        await alice.post(f"{R}/{room_id}/join", {})
    invited = await _room(bob)
    await bob.post(f"{R}/{invited}/invite", {"user_id": alice.user_id})
    knocked = await _room(bob, initial_state=[{"type": "m.room.join_rules", "content": {"join_rule": "knock"}}])
    await alice.post(f"{V3}/knock/{knocked}", {})

    pusher = {
        "pushkey": "abc", "kind": "http", "app_id": "org.example.app", "app_display_name": "App",
        "device_display_name": "Phone", "lang": "en", "data": {"url": "https://push.example.org/_matrix/push/v1/notify"},
    }
    assert (await alice.post(f"{V3}/pushers/set", pusher)).status == 200
    auth = {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"}, "password": "correct horse battery"}
    first = await alice.post(f"{V3}/account/deactivate", {})
    body = {"auth": {**auth, "session": first.body["session"]}}
    assert (await alice.post(f"{V3}/account/deactivate", body)).status == 200

    async def gone() -> bool:
        return all([(await _member(bob, r, alice.user_id))["membership"] == "leave" for r in [*joined, invited, knocked]])

    await _eventually(gone)
    for room_id in joined:
        assert alice.user_id not in (await bob.get(f"{R}/{room_id}/joined_members")).body["joined"]
        assert "displayname" not in await _member(bob, room_id, alice.user_id)
    assert (await client.get(f"{V3}/profile/{alice.user_id}")).body == {}
    assert await server.hearth.push.pushers(alice.user_id) == []
    assert await MemberUpdateStore(server.hearth.db).pending() == []


async def test_admin_deactivation_leaves_rooms_too(client, server):
    admin = await client.register("root")
    await server.hearth.accounts.set_admin(admin.user_id, True)
    alice = await client.register("alice")
    room_id = await _room(admin, preset="public_chat")
    await alice.post(f"{R}/{room_id}/join", {})
    assert (await admin.post(f"/_synapse/admin/v1/deactivate/{alice.user_id}", {})).status == 200

    async def gone() -> bool:
        return (await _member(admin, room_id, alice.user_id))["membership"] == "leave"

    await _eventually(gone)


async def _deactivate(user, username: str, *, erase: bool) -> None:
    auth = {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": username}, "password": "correct horse battery"}
    first = await user.post(f"{V3}/account/deactivate", {"erase": erase})
    done = await user.post(f"{V3}/account/deactivate", {"erase": erase, "auth": {**auth, "session": first.body["session"]}})
    assert done.status == 200, done.body


async def test_erased_users_events_are_redacted_for_those_who_could_not_see_them(client):
    alice = await client.register("alice")
    bob = await client.register("bob")
    carol = await client.register("carol")  # joined when Bob wrote
    erin = await client.register("erin")  # joined after Bob wrote, before the erasure
    dave = await client.register("dave")  # joins after the erasure
    room_id = await _room(alice, preset="public_chat")
    for user in (bob, carol):
        await user.post(f"{R}/{room_id}/join", {})
    sent = await bob.put(f"{R}/{room_id}/send/m.room.message/e1", {"msgtype": "m.text", "body": "forget me"})
    event_id = sent.body["event_id"]
    await erin.post(f"{R}/{room_id}/join", {})
    await _deactivate(bob, "bob", erase=True)
    await dave.post(f"{R}/{room_id}/join", {})

    for user in (carol, erin, alice):
        seen = await user.get(f"{R}/{room_id}/event/{event_id}")
        assert seen.body["content"].get("body") == "forget me", (user.user_id, seen.body)
    erased = await dave.get(f"{R}/{room_id}/event/{event_id}")
    assert erased.status == 200 and erased.body["content"] == {}
    for path, params in ((f"{R}/{room_id}/messages", {"dir": "b"}), (f"{R}/{room_id}/context/{event_id}", {})):
        resp = await dave.get(path, params=params)
        assert resp.status == 200 and "forget me" not in json.dumps(resp.body)
    assert "forget me" not in json.dumps((await dave.get(f"{V3}/sync")).body)
    search = {"search_categories": {"room_events": {"search_term": "forget"}}}
    assert (await dave.post(f"{V3}/search", search)).body["search_categories"]["room_events"]["results"] == []
    assert len((await carol.post(f"{V3}/search", search)).body["search_categories"]["room_events"]["results"]) == 1


async def test_deactivation_without_erase_keeps_events_whole(client):
    alice = await client.register("alice")
    bob = await client.register("bob")
    dave = await client.register("dave")
    room_id = await _room(alice, preset="public_chat")
    await bob.post(f"{R}/{room_id}/join", {})
    event_id = (await bob.put(f"{R}/{room_id}/send/m.room.message/k1", {"msgtype": "m.text", "body": "kept"})).body["event_id"]
    await _deactivate(bob, "bob", erase=False)
    await dave.post(f"{R}/{room_id}/join", {})
    assert (await dave.get(f"{R}/{room_id}/event/{event_id}")).body["content"]["body"] == "kept"
