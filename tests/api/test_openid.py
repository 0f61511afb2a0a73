"""OpenID tokens for widgets and call apps (spec: Client-Server API "OpenID",
Server-Server API "OpenID": GET /_matrix/federation/v1/openid/userinfo)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp.test_utils import TestServer

from homeserver.app import create_federation_app
from homeserver.clock import FakeClock
from tests.support.client import MatrixClient

USERINFO = "/_matrix/federation/v1/openid/userinfo"


def request_token_path(user_id: str) -> str:
    return f"/_matrix/client/v3/user/{user_id}/openid/request_token"


@pytest.fixture
async def federation_listener() -> AsyncIterator[Callable[..., Awaitable[MatrixClient]]]:
    """The federation application of a running server, on its own loopback listener."""
    servers: list[TestServer] = []

    async def start(server) -> MatrixClient:  # type: ignore[no-untyped-def]
        listener = TestServer(create_federation_app(server.hearth), host="127.0.0.1")
        await listener.start_server()
        servers.append(listener)
        return MatrixClient(str(listener.make_url("")).rstrip("/"), server.client.session)

    yield start
    for listener in servers:
        await listener.close()


async def test_a_token_tells_the_federation_api_who_the_user_is(make_server, federation_listener):
    server = await make_server()
    alice = await server.client.register("alice")
    resp = await alice.post(request_token_path(alice.user_id), {})
    assert resp.status == 200, resp.body
    assert set(resp.body) == {"access_token", "token_type", "matrix_server_name", "expires_in"}
    assert resp.body["token_type"] == "Bearer" and resp.body["expires_in"] == 3600
    assert resp.body["matrix_server_name"] == server.hearth.config.server_name

    federation = await federation_listener(server)
    info = await federation.get(USERINFO, params={"access_token": resp.body["access_token"]})
    assert info.status == 200 and info.body == {"sub": alice.user_id}
    # Only the hash is stored.
    row = await server.hearth.db.fetchrow("SELECT token_hash FROM openid_tokens")
    assert row is not None and resp.body["access_token"] not in row["token_hash"]


async def test_unknown_missing_and_expired_tokens_are_refused(make_server, federation_listener):
    clock = FakeClock(start_ms=1_800_000_000_000)
    server = await make_server(clock=clock)
    alice = await server.client.register("alice")
    token = (await alice.post(request_token_path(alice.user_id), {})).body["access_token"]
    federation = await federation_listener(server)
    for params in ({"access_token": "not-a-token"}, {"access_token": ""}, None):
        resp = await federation.get(USERINFO, params=params)
        assert resp.status == 401 and resp.errcode == "M_UNKNOWN_TOKEN", params

    clock.advance(3599)
    assert (await federation.get(USERINFO, params={"access_token": token})).status == 200
    clock.advance(2)
    resp = await federation.get(USERINFO, params={"access_token": token})
    assert resp.status == 401 and resp.errcode == "M_UNKNOWN_TOKEN"
    await server.hearth.openid.expire()
    assert await server.hearth.db.fetchrow("SELECT token_hash FROM openid_tokens") is None


async def test_only_for_oneself_and_only_when_signed_in(make_server):
    server = await make_server()
    alice = await server.client.register("alice")
    bob = await server.client.register("bob")
    resp = await alice.post(request_token_path(bob.user_id), {})
    assert resp.status == 403 and resp.errcode == "M_FORBIDDEN"
    resp = await server.client.post(request_token_path(alice.user_id), {})
    assert resp.status == 401 and resp.errcode == "M_MISSING_TOKEN"


async def test_an_openid_token_is_not_an_access_token(make_server):
    server = await make_server()
    alice = await server.client.register("alice")
    token = (await alice.post(request_token_path(alice.user_id), {})).body["access_token"]
    as_token = server.client.as_user(token)
    for resp in (await as_token.get("/_matrix/client/v3/account/whoami"),
                 await as_token.post(request_token_path(alice.user_id), {})):
        assert resp.status == 401 and resp.errcode == "M_UNKNOWN_TOKEN"


async def test_a_deactivated_users_tokens_stop_working(make_server, federation_listener):
    server = await make_server()
    alice = await server.client.register("alice")
    token = (await alice.post(request_token_path(alice.user_id), {})).body["access_token"]
    resp = await alice.post("/_matrix/client/v3/account/deactivate", {
        "auth": {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"},
                 "password": "correct horse battery"},
    })
    assert resp.status == 200, resp.body
    federation = await federation_listener(server)
    resp = await federation.get(USERINFO, params={"access_token": token})
    assert resp.status == 401 and resp.errcode == "M_UNKNOWN_TOKEN"


async def test_token_requests_are_rate_limited(make_server):
    server = await make_server(rate_limits={"enabled": True, "openid": {"per_second": 0.01, "burst": 2},
                                            "registration": {"per_second": 10, "burst": 10}})
    alice = await server.client.register("alice")
    for _ in range(2):
        assert (await alice.post(request_token_path(alice.user_id), {})).status == 200
    resp = await alice.post(request_token_path(alice.user_id), {})
    assert resp.status == 429 and resp.errcode == "M_LIMIT_EXCEEDED"
