"""Issue 12, point 10: a user-interactive-auth session authorises one request, once:
replaying a completed session gets a fresh flow, and a session bound to one request
does not authorise another (both databases, a real server)."""

from __future__ import annotations

import asyncio

from tests.api.test_account import password_auth
from tests.support.olm import CrossSigning, CryptoDevice

V3 = "/_matrix/client/v3"
PASSWORD = f"{V3}/account/password"
WHOAMI = f"{V3}/account/whoami"


async def _session(client, method: str, path: str, body: dict) -> str:
    challenge = await client.request(method, path, body)
    assert challenge.status == 401, challenge.body
    return challenge.body["session"]


def _fresh_flow(resp, used: str) -> bool:
    return resp.status == 401 and resp.body["session"] != used and resp.body["completed"] == [] and "flows" in resp.body


async def test_a_completed_password_change_cannot_be_replayed(client):
    alice = await client.register("alice")
    session = await _session(alice, "POST", PASSWORD, {"new_password": "second password"})
    done = await alice.post(PASSWORD, {"new_password": "second password", "auth": password_auth(session)})
    assert done.status == 200, done.body
    replay = await alice.post(PASSWORD, {"new_password": "third password", "auth": {"session": session}})
    assert _fresh_flow(replay, session), replay.body
    same = await alice.post(PASSWORD, {"new_password": "second password", "auth": {"session": session}})
    assert _fresh_flow(same, session), same.body
    await client.login("alice", "second password")  # the password the user confirmed, and no other


async def test_a_device_deletion_session_deletes_only_what_was_approved(client):
    alice = await client.register("alice")
    one, two = await client.login("alice"), await client.login("alice")
    path = f"{V3}/delete_devices"
    session = await _session(alice, "POST", path, {"devices": [one.device_id]})
    done = await alice.post(path, {"devices": [one.device_id], "auth": password_auth(session)})
    assert done.status == 200, done.body
    replay = await alice.post(path, {"devices": [two.device_id], "auth": {"session": session}})
    assert _fresh_flow(replay, session), replay.body
    assert (await two.get(WHOAMI)).status == 200


async def test_a_session_is_bound_to_the_body_it_was_authorised_with(client):
    """Another body on a session whose stage is complete is refused, even before the
    session is used; so is another endpoint."""
    alice = await client.register("alice")
    one, two = await client.login("alice"), await client.login("alice")
    path = f"{V3}/delete_devices"
    session = await _session(alice, "POST", path, {"devices": [one.device_id]})
    # Two requests at once: the password is given for one device, the other asks for both.
    approved, widened = await asyncio.gather(
        alice.post(path, {"devices": [one.device_id], "auth": password_auth(session)}),
        alice.post(path, {"devices": [one.device_id, two.device_id], "auth": {"session": session}}),
    )
    assert approved.status == 200, approved.body
    assert widened.status in (401, 403), widened.body  # a fresh flow, or "the request changed"
    assert (await two.get(WHOAMI)).status == 200
    elsewhere = await alice.delete(f"{V3}/devices/{two.device_id}", {"auth": {"session": session}})
    assert (elsewhere.status, elsewhere.errcode) == (403, "M_FORBIDDEN")


async def test_concurrent_uses_of_one_session_succeed_once(client):
    alice = await client.register("alice")
    session = await _session(alice, "POST", PASSWORD, {"new_password": "second password"})
    body = {"new_password": "second password", "auth": password_auth(session)}
    results = await asyncio.gather(*(alice.post(PASSWORD, body) for _ in range(8)))
    assert sorted(r.status for r in results) == [200] + [401] * 7, [r.body for r in results]


async def test_cross_signing_replacement_cannot_be_replayed(client):
    alice = CryptoDevice(await client.register("alice"))
    await alice.upload_keys()
    path = f"{V3}/keys/device_signing/upload"
    assert (await alice.client.post(path, CrossSigning(alice.user_id).upload_body())).status == 200
    new = CrossSigning(alice.user_id)
    session = await _session(alice.client, "POST", path, new.upload_body())
    done = await alice.client.post(path, {**new.upload_body(), "auth": password_auth(session)})
    assert done.status == 200, done.body
    attacker = CrossSigning(alice.user_id)
    replay = await alice.client.post(path, {**attacker.upload_body(), "auth": {"session": session}})
    assert _fresh_flow(replay, session), replay.body
    query = await alice.client.post(f"{V3}/keys/query", {"device_keys": {alice.user_id: []}})
    assert query.body["master_keys"][alice.user_id]["keys"] == new.key(new.master, "master")["keys"]


async def test_deactivation_session_is_used_once(client):
    alice = await client.register("alice")
    path = f"{V3}/account/deactivate"
    session = await _session(alice, "POST", path, {})
    # The stage fails (wrong password): the session stays usable, and unbound.
    wrong = await alice.post(path, {"auth": password_auth(session, password="not my password")})
    assert (wrong.status, wrong.errcode) == (401, "M_FORBIDDEN")
    assert wrong.body["session"] == session
    done = await alice.post(path, {"auth": password_auth(session)})
    assert done.status == 200, done.body
