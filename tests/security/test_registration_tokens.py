"""Issue 12, point 3: a registration token with ``uses_allowed`` N creates at most N
accounts, and one user-interactive-auth session registers at most one, however many
requests race (both databases, a real server)."""

from __future__ import annotations

import asyncio

from homeserver.clock import FakeClock
from tests.api.test_admin import TOKENS, _admin

REGISTER = "/_matrix/client/v3/register"
RACERS = 8


def _token_stage(token: str, session: str) -> dict:
    return {"type": "m.login.registration_token", "token": token, "session": session}


async def _accounts(admin) -> set[str]:
    listed = await admin.get("/_synapse/admin/v2/users", params={"limit": "1000"})
    return {u["name"] for u in listed.body["users"]} - {"@root:test.local"}


async def _setup(make_server, uses_allowed: int):
    server = await make_server(registration={"open": False})
    admin = await _admin(server.client)
    resp = await admin.post(f"{TOKENS}/new", {"token": "invite", "uses_allowed": uses_allowed})
    assert resp.status == 200, resp.body
    return server.client, admin


async def test_one_session_racing_the_token_stage_registers_one_account(make_server):
    """Many first stages on one session, each for another username: one account."""
    client, admin = await _setup(make_server, uses_allowed=5)
    session = (await client.post(REGISTER, {})).body["session"]
    results = await asyncio.gather(*(
        client.post(REGISTER, {"username": f"racer{i}", "password": "long enough pw",
                               "auth": _token_stage("invite", session)})
        for i in range(RACERS)
    ))
    assert sum(r.status == 200 for r in results) == 1, [r.body for r in results]
    assert all(r.status in (200, 401, 403) for r in results), [r.body for r in results]
    assert len(await _accounts(admin)) == 1
    token = (await admin.get(f"{TOKENS}/invite")).body
    assert (token["completed"], token["pending"]) == (1, 0)


async def test_a_completed_token_stage_is_not_a_ticket_for_many_accounts(make_server):
    """The stage completes on a request that then fails (no password); racing requests
    on that session with other bodies create nothing."""
    client, admin = await _setup(make_server, uses_allowed=1)
    session = (await client.post(REGISTER, {})).body["session"]
    stage = await client.post(REGISTER, {"username": "first", "auth": _token_stage("invite", session)})
    assert (stage.status, stage.errcode) == (400, "M_MISSING_PARAM")
    results = await asyncio.gather(*(
        client.post(REGISTER, {"username": f"racer{i}", "password": "long enough pw", "auth": {"session": session}})
        for i in range(RACERS)
    ))
    assert not any(r.status == 200 for r in results), [r.body for r in results]
    assert all((r.status, r.errcode) == (403, "M_FORBIDDEN") for r in results), [r.body for r in results]
    assert await _accounts(admin) == set()


async def test_concurrent_uses_of_one_completed_session_register_once(make_server):
    """The same request many times over on a session whose flow is complete."""
    client, admin = await _setup(make_server, uses_allowed=3)
    session = (await client.post(REGISTER, {})).body["session"]
    body = {"username": "once", "auth": _token_stage("invite", session)}
    assert (await client.post(REGISTER, body)).errcode == "M_MISSING_PARAM"  # the stage is complete
    # The same body again (still without a password) can only fail; with one it is new.
    results = await asyncio.gather(*(client.post(REGISTER, {**body, "auth": {"session": session}}) for _ in range(RACERS)))
    assert all(r.errcode == "M_MISSING_PARAM" for r in results)
    assert await _accounts(admin) == set()


async def test_a_token_creates_at_most_its_uses_across_sessions(make_server):
    client, admin = await _setup(make_server, uses_allowed=3)
    sessions = [(await client.post(REGISTER, {})).body["session"] for _ in range(RACERS)]
    results = await asyncio.gather(*(
        client.post(REGISTER, {"username": f"user{i}", "password": "long enough pw",
                               "auth": _token_stage("invite", session)})
        for i, session in enumerate(sessions)
    ))
    assert sum(r.status == 200 for r in results) == 3
    assert all(r.status == 200 or r.errcode == "M_UNAUTHORIZED" for r in results), [r.body for r in results]
    assert len(await _accounts(admin)) == 3
    token = (await admin.get(f"{TOKENS}/invite")).body
    assert (token["completed"], token["pending"]) == (3, 0)


async def test_an_expired_session_gives_its_token_use_back_and_a_used_one_does_not(make_server):
    clock = FakeClock()
    server = await make_server(clock=clock, registration={"open": False})
    client, admin = server.client, await _admin(server.client)
    await admin.post(f"{TOKENS}/new", {"token": "invite", "uses_allowed": 2})
    idle = (await client.post(REGISTER, {})).body["session"]
    assert (await client.post(REGISTER, {"auth": _token_stage("invite", idle)})).errcode == "M_MISSING_PARAM"
    used = (await client.post(REGISTER, {})).body["session"]
    body = {"username": "kept", "password": "long enough pw", "auth": _token_stage("invite", used)}
    assert (await client.post(REGISTER, body)).status == 200
    assert (await admin.get(f"{TOKENS}/invite")).body | {"expiry_time": None} == {
        "token": "invite", "uses_allowed": 2, "pending": 1, "completed": 1, "expiry_time": None}
    clock.advance(2 * 3600)
    await server.hearth.uia.expire_sessions()
    token = (await admin.get(f"{TOKENS}/invite")).body
    assert (token["pending"], token["completed"]) == (0, 1)
