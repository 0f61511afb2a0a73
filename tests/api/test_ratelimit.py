"""Rate limits answer 429 M_LIMIT_EXCEEDED with Retry-After, and recover."""

from __future__ import annotations

from homeserver.clock import FakeClock

LOGIN = "/_matrix/client/v3/login"
REGISTER = "/_matrix/client/v3/register"


def _login_body(user: str = "alice", password: str = "correct horse battery") -> dict:
    return {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user}, "password": password}


GENEROUS = {"per_second": 100, "burst": 100}


def _limits(**limits: dict) -> dict:
    """Limits switched on: the named ones as given, every other one generous."""
    names = ("registration", "login_address", "login_account", "login_failed", "message", "join")
    return {"rate_limits": {"enabled": True, **{n: GENEROUS for n in names}, **limits}}


async def test_login_limit_by_address(make_server):
    clock = FakeClock()
    server = await make_server(clock=clock, **_limits(login_address={"per_second": 0.5, "burst": 2}))
    await server.client.register("alice")
    for _ in range(2):
        assert (await server.client.post(LOGIN, _login_body())).status == 200
    limited = await server.client.post(LOGIN, _login_body())
    assert limited.status == 429
    assert limited.errcode == "M_LIMIT_EXCEEDED"
    assert limited.body["retry_after_ms"] == 2000
    assert limited.headers["Retry-After"] == "2"
    clock.advance(2)
    assert (await server.client.post(LOGIN, _login_body())).status == 200


async def test_failed_login_limit_per_account(make_server):
    clock = FakeClock()
    server = await make_server(clock=clock, **_limits(login_failed={"per_second": 0.1, "burst": 2}))
    await server.client.register("alice")
    for _ in range(2):
        assert (await server.client.post(LOGIN, _login_body(password="wrong wrong"))).status == 403
    limited = await server.client.post(LOGIN, _login_body())
    assert limited.status == 429
    # Another account is not affected.
    await server.client.register("bob")
    assert (await server.client.post(LOGIN, _login_body("bob"))).status == 200
    clock.advance(10)
    assert (await server.client.post(LOGIN, _login_body())).status == 200


async def test_successful_logins_do_not_count_as_failures(make_server):
    server = await make_server(**_limits(login_failed={"per_second": 0.01, "burst": 1}))
    await server.client.register("alice")
    for _ in range(3):
        assert (await server.client.post(LOGIN, _login_body())).status == 200


async def test_registration_limit_by_address(make_server):
    server = await make_server(**_limits(registration={"per_second": 0.01, "burst": 2}))
    for name in ("a1", "a2"):
        resp = await server.client.post(REGISTER, {"username": name, "password": "long enough pw", "auth": {"type": "m.login.dummy"}})
        assert resp.status == 200
    limited = await server.client.post(REGISTER, {"username": "a3", "password": "long enough pw", "auth": {"type": "m.login.dummy"}})
    assert limited.status == 429
    assert int(limited.headers["Retry-After"]) >= 1


async def test_disabled_limits_never_refuse(make_server):
    server = await make_server(rate_limits={"enabled": False, "login_address": {"per_second": 0.001, "burst": 1}})
    await server.client.register("alice")
    for _ in range(5):
        assert (await server.client.post(LOGIN, _login_body())).status == 200
