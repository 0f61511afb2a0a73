"""The actions that write rows or fan out to many users are rate limited
(``rate_limits``; 429 ``M_LIMIT_EXCEEDED`` with ``retry_after_ms``), and a
``createRoom`` is bounded in what it may write at once."""

from __future__ import annotations

import dataclasses

from homeserver.clock import FakeClock
from homeserver.config import RateLimitsConfig

V3 = "/_matrix/client/v3"
GENEROUS = {"per_second": 100, "burst": 100}
TIGHT = {"per_second": 0.01, "burst": 2}


def _limits(**limits: dict) -> dict:
    """Every limit switched on and generous, but the named ones."""
    names = [f.name for f in dataclasses.fields(RateLimitsConfig) if f.name != "enabled"]
    return {"rate_limits": {"enabled": True, **{n: GENEROUS for n in names}, **limits}}


def _refused(resp) -> None:
    assert (resp.status, resp.errcode) == (429, "M_LIMIT_EXCEEDED"), resp.body
    assert resp.body["retry_after_ms"] > 0


async def _room(user, **body) -> str:
    resp = await user.post(f"{V3}/createRoom", body)
    assert resp.status == 200, resp.body
    return resp.body["room_id"]


async def test_room_creation_is_limited(make_server):
    clock = FakeClock()
    server = await make_server(clock=clock, **_limits(room_creation=TIGHT))
    alice = await server.client.register("alice")
    for _ in range(2):
        await _room(alice)
    _refused(await alice.post(f"{V3}/createRoom", {}))
    clock.advance(100)
    await _room(alice)


async def test_create_room_bounds_initial_state_and_invites(server):
    alice = await server.client.register("alice")
    topics = [{"type": "m.room.topic", "state_key": str(i), "content": {"topic": "x"}} for i in range(2000)]
    too_much = await alice.post(f"{V3}/createRoom", {"initial_state": topics})
    assert (too_much.status, too_much.errcode) == (400, "M_INVALID_PARAM")
    crowd = await alice.post(f"{V3}/createRoom", {"invite": [f"@u{i}:test.local" for i in range(101)]})
    assert (crowd.status, crowd.errcode) == (400, "M_INVALID_PARAM")
    assert (await alice.get(f"{V3}/joined_rooms")).body["joined_rooms"] == []
    # The largest allowed initial_state still works.
    room_id = await _room(alice, initial_state=topics[:100])
    state = (await alice.get(f"{V3}/rooms/{room_id}/state")).body
    assert sum(1 for e in state if e["type"] == "m.room.topic") == 100


async def test_invites_are_limited(make_server):
    server = await make_server(**_limits(invite=TIGHT))
    alice = await server.client.register("alice")
    others = [await server.client.register(f"user{i}") for i in range(4)]
    room_id = await _room(alice)
    for user in others[:2]:
        assert (await alice.post(f"{V3}/rooms/{room_id}/invite", {"user_id": user.user_id})).status == 200
    _refused(await alice.post(f"{V3}/rooms/{room_id}/invite", {"user_id": others[2].user_id}))
    # createRoom's invitees count as invites too.
    _refused(await alice.post(f"{V3}/createRoom", {"invite": [others[3].user_id]}))


async def test_send_to_device_is_limited(make_server):
    server = await make_server(**_limits(to_device=TIGHT))
    alice = await server.client.register("alice")
    body = {"messages": {alice.user_id: {"*": {"hello": "there"}}}}
    for txn in ("t1", "t2"):
        assert (await alice.put(f"{V3}/sendToDevice/m.test/{txn}", body)).status == 200
    _refused(await alice.put(f"{V3}/sendToDevice/m.test/t3", body))


async def test_typing_is_limited(make_server):
    server = await make_server(**_limits(typing=TIGHT))
    alice = await server.client.register("alice")
    room_id = await _room(alice)
    path = f"{V3}/rooms/{room_id}/typing/{alice.user_id}"
    for typing in (True, False):
        assert (await alice.put(path, {"typing": typing, "timeout": 1000})).status == 200
    _refused(await alice.put(path, {"typing": True, "timeout": 1000}))


async def test_profile_changes_are_limited(make_server):
    server = await make_server(**_limits(profile=TIGHT))
    alice = await server.client.register("alice")
    path = f"{V3}/profile/{alice.user_id}"
    assert (await alice.put(f"{path}/displayname", {"displayname": "Alice"})).status == 200
    assert (await alice.put(f"{path}/avatar_url", {"avatar_url": "mxc://test.local/abc"})).status == 200
    _refused(await alice.put(f"{path}/displayname", {"displayname": "Alicia"}))
    _refused(await alice.delete(f"{path}/avatar_url"))
    assert (await alice.get(f"{path}/displayname")).body == {"displayname": "Alice"}


async def test_shared_secret_nonces_are_limited_per_address(make_server):
    server = await make_server(**_limits(shared_secret_nonce=TIGHT))
    for _ in range(2):
        assert (await server.client.get("/_synapse/admin/v1/register")).status == 200
    _refused(await server.client.get("/_synapse/admin/v1/register"))
    # A refused request wrote nothing.
    assert await server.hearth.db.fetchval("SELECT COUNT(*) FROM registration_nonces") == 2
