"""Refresh tokens and expiring access tokens (spec: "Refreshing access tokens")."""

from __future__ import annotations

from homeserver.clock import FakeClock

LOGIN = "/_matrix/client/v3/login"
REFRESH = "/_matrix/client/v3/refresh"
WHOAMI = "/_matrix/client/v3/account/whoami"


async def _login_refreshable(client):
    await client.register("alice")
    resp = await client.post(
        LOGIN,
        {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"},
         "password": "correct horse battery", "refresh_token": True},
    )
    assert resp.status == 200
    return resp.body


async def test_refreshable_login_returns_refresh_token(client):
    body = await _login_refreshable(client)
    assert body["refresh_token"].startswith("hthr_")
    assert body["expires_in_ms"] == 300_000


async def test_plain_login_has_no_expiry(client):
    await client.register("alice")
    resp = await client.post(LOGIN, {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"}, "password": "correct horse battery"})
    assert "refresh_token" not in resp.body
    assert "expires_in_ms" not in resp.body


async def test_expired_access_token_is_soft_logout(make_server):
    clock = FakeClock()
    server = await make_server(clock=clock)
    body = await _login_refreshable(server.client)
    user = server.client.as_user(body["access_token"])
    assert (await user.get(WHOAMI)).status == 200
    clock.advance(301)
    resp = await user.get(WHOAMI)
    assert resp.status == 401
    assert resp.errcode == "M_UNKNOWN_TOKEN"
    assert resp.body["soft_logout"] is True
    refreshed = await server.client.post(REFRESH, {"refresh_token": body["refresh_token"]})
    assert refreshed.status == 200
    assert (await server.client.as_user(refreshed.body["access_token"]).get(WHOAMI)).status == 200


async def test_old_refresh_token_valid_until_new_pair_is_used(client):
    body = await _login_refreshable(client)
    first = await client.post(REFRESH, {"refresh_token": body["refresh_token"]})
    assert first.status == 200
    # The client "lost" the first answer: the old refresh token still works.
    second = await client.post(REFRESH, {"refresh_token": body["refresh_token"]})
    assert second.status == 200
    # Using the new access token revokes the old refresh token.
    assert (await client.as_user(second.body["access_token"]).get(WHOAMI)).status == 200
    third = await client.post(REFRESH, {"refresh_token": body["refresh_token"]})
    assert third.status == 401
    assert third.errcode == "M_UNKNOWN_TOKEN"
    # The replaced first pair is gone too.
    assert (await client.as_user(first.body["access_token"]).get(WHOAMI)).status == 401
    # The newest refresh token keeps working.
    fourth = await client.post(REFRESH, {"refresh_token": second.body["refresh_token"]})
    assert fourth.status == 200


async def test_refresh_keeps_the_device(client):
    body = await _login_refreshable(client)
    refreshed = await client.post(REFRESH, {"refresh_token": body["refresh_token"]})
    who = await client.as_user(refreshed.body["access_token"]).get(WHOAMI)
    assert who.body["device_id"] == body["device_id"]


async def test_unknown_refresh_token(client):
    resp = await client.post(REFRESH, {"refresh_token": "hthr_nothing"})
    assert resp.status == 401
    assert resp.errcode == "M_UNKNOWN_TOKEN"


async def test_refresh_needs_a_token(client):
    resp = await client.post(REFRESH, {})
    assert resp.status == 400
    assert resp.errcode == "M_MISSING_PARAM"


async def test_expired_refresh_token(make_server):
    clock = FakeClock()
    server = await make_server(clock=clock, auth={"refresh_token_lifetime": 600})
    body = await _login_refreshable(server.client)
    clock.advance(601)
    resp = await server.client.post(REFRESH, {"refresh_token": body["refresh_token"]})
    assert resp.status == 401
    assert resp.errcode == "M_UNKNOWN_TOKEN"
