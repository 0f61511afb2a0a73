"""Issue 12, point 2: a revoked access token fails from the moment its revocation is
answered, even while other clients keep using it (both databases, a real server).

Each revocation path runs while many concurrent requests use the token; once the
revocation has been answered, every request with the token must get 401.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.api.test_account import password_auth
from tests.api.test_admin import _admin

WHOAMI = "/_matrix/client/v3/account/whoami"
USERS = 12  # concurrent users of the token
ROUNDS = 3


async def _hammer(victim, answered: list[int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        answered.append((await victim.get(WHOAMI)).status)


async def _using(victim, revoke) -> list[int]:
    """Run ``revoke()`` while USERS clients call whoami with the victim's token; the
    answers to requests made after the revocation was answered."""
    answered: list[int] = []
    stop = asyncio.Event()
    users = [asyncio.create_task(_hammer(victim, answered, stop)) for _ in range(USERS)]
    try:
        while len(answered) < USERS:  # every user is under way
            await asyncio.sleep(0)
        await revoke()
        return [(await victim.get(WHOAMI)).status for _ in range(USERS)]
    finally:
        stop.set()
        await asyncio.gather(*users)


async def _uia(client, user: str, method: str, path: str, body: dict) -> None:
    challenge = await client.request(method, path, body)
    assert challenge.status == 401, challenge.body
    auth = password_auth(challenge.body["session"], user=user)
    done = await client.request(method, path, {**body, "auth": auth})
    assert done.status == 200, done.body


async def _logout(name, victim, other, admin):
    assert (await victim.post("/_matrix/client/v3/logout", {})).status == 200


async def _logout_all(name, victim, other, admin):
    assert (await victim.post("/_matrix/client/v3/logout/all", {})).status == 200


async def _delete_device(name, victim, other, admin):
    await _uia(other, name, "DELETE", f"/_matrix/client/v3/devices/{victim.device_id}", {})


async def _delete_devices(name, victim, other, admin):
    await _uia(other, name, "POST", "/_matrix/client/v3/delete_devices", {"devices": [victim.device_id]})


async def _password_change(name, victim, other, admin):
    body = {"new_password": "another long secret", "logout_devices": True}
    await _uia(other, name, "POST", "/_matrix/client/v3/account/password", body)


async def _admin_deactivate(name, victim, other, admin):
    assert (await admin.post(f"/_synapse/admin/v1/deactivate/{victim.user_id}", {})).status == 200


async def _admin_reset_password(name, victim, other, admin):
    body = {"new_password": "another long secret", "logout_devices": True}
    assert (await admin.post(f"/_synapse/admin/v1/reset_password/{victim.user_id}", body)).status == 200


REVOCATIONS = [_logout, _logout_all, _delete_device, _delete_devices, _password_change, _admin_deactivate, _admin_reset_password]


@pytest.mark.parametrize("revoke", REVOCATIONS, ids=[r.__name__.lstrip("_") for r in REVOCATIONS])
async def test_a_revoked_token_fails_at_once_under_concurrent_use(client, revoke):
    admin = await _admin(client)
    for round_ in range(ROUNDS):
        name = f"alice{round_}"
        await client.register(name)
        victim, other = await client.login(name), await client.login(name)
        answers = await _using(victim, lambda: revoke(name, victim, other, admin))
        assert answers == [401] * USERS
        assert (await victim.get(WHOAMI)).status == 401


async def test_a_refreshed_token_fails_once_its_successor_is_used(client):
    """Using the new access token from /refresh revokes the old one (spec: "Refreshing
    access tokens"), while the old one is still in use."""
    alice = await client.register("alice")
    for _ in range(ROUNDS):
        login = await client.post("/_matrix/client/v3/login", {
            "type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"},
            "password": "correct horse battery", "refresh_token": True,
        })
        assert login.status == 200, login.body
        victim = alice.as_user(login.body["access_token"])
        refreshed = await client.post("/_matrix/client/v3/refresh", {"refresh_token": login.body["refresh_token"]})
        assert refreshed.status == 200, refreshed.body
        successor = alice.as_user(refreshed.body["access_token"])

        async def use_successor():
            assert (await successor.get(WHOAMI)).status == 200

        assert await _using(victim, use_successor) == [401] * USERS
