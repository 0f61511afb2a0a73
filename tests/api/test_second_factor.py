"""Two-factor sign-in (TOTP): enrolment API, login as a second UIA stage, sensitive
actions, replays, recovery codes, rate limits, policy and the admin reset."""

from __future__ import annotations

import pyotp
import pytest

from homeserver.clock import FakeClock

TOTP = "/_hearth/client/v1/totp"
LOGIN = "/_matrix/client/v3/login"
PASSWORD = "correct horse battery"


def _password_auth(user: str, session: str) -> dict:
    return {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user}, "password": PASSWORD,
            "session": session}


async def enrol(alice, clock: FakeClock) -> tuple[pyotp.TOTP, list[str]]:
    """Enrol ``alice`` (UIA with her password) and return her authenticator and recovery codes."""
    first = await alice.post(f"{TOTP}/enrol", {})
    assert first.status == 401 and first.body["flows"] == [{"stages": ["m.login.password"]}]
    started = await alice.post(f"{TOTP}/enrol", {"auth": _password_auth("alice", first.body["session"])})
    assert started.status == 200, started.body
    assert started.body["otpauth_uri"].startswith("otpauth://totp/")
    assert started.body["secret"] in started.body["otpauth_uri"]
    totp = pyotp.TOTP(started.body["secret"])
    confirmed = await alice.post(f"{TOTP}/confirm", {"code": totp.at(clock.time_ms() / 1000)})
    assert confirmed.status == 200, confirmed.body
    codes = confirmed.body["recovery_codes"]
    assert len(codes) == len(set(codes)) == 10
    clock.advance(30)  # the confirming code's step is used up
    return totp, codes


def code(totp: pyotp.TOTP, clock: FakeClock) -> str:
    return totp.at(clock.time_ms() / 1000)


async def login_with_code(client, clock, totp_or_code, *, user: str = "alice"):
    body = {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user}, "password": PASSWORD}
    first = await client.post(LOGIN, body)
    assert first.status == 401, first.body
    assert first.body["flows"] == [{"stages": ["m.login.password", "io.hearth.totp"]}]
    assert first.body["completed"] == ["m.login.password"]
    value = totp_or_code if isinstance(totp_or_code, str) else code(totp_or_code, clock)
    return await client.post(LOGIN, {**body, "auth": {"type": "io.hearth.totp", "code": value,
                                                      "session": first.body["session"]}})


@pytest.fixture
async def clock():
    return FakeClock()


async def test_enrolment_then_login_asks_for_a_code(make_server, clock):
    server = await make_server(clock=clock)
    alice = await server.client.register("alice")
    status = await alice.get(TOTP)
    assert status.body == {"enrolled": False, "required": False, "recovery_codes_left": 0}
    totp, _ = await enrol(alice, clock)
    assert (await alice.get(TOTP)).body == {"enrolled": True, "required": False, "recovery_codes_left": 10}

    done = await login_with_code(server.client, clock, totp)
    assert done.status == 200, done.body
    who = await server.client.get("/_matrix/client/v3/account/whoami", token=done.body["access_token"])
    assert who.body["user_id"] == "@alice:test.local"


async def test_login_without_the_code_gets_no_token(make_server, clock):
    server = await make_server(clock=clock)
    alice = await server.client.register("alice")
    await enrol(alice, clock)
    body = {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"}, "password": PASSWORD}
    first = await server.client.post(LOGIN, body)
    assert first.status == 401 and "access_token" not in first.body
    wrong = await server.client.post(LOGIN, {**body, "auth": {"type": "io.hearth.totp", "code": "000000",
                                                             "session": first.body["session"]}})
    assert wrong.status == 401 and wrong.errcode == "M_FORBIDDEN"
    # The session cannot skip the password: a wrong one fails before any code is looked at.
    bad_password = await server.client.post(LOGIN, {**body, "password": "wrong password", "auth": {
        "type": "io.hearth.totp", "code": "000000", "session": first.body["session"]}})
    assert bad_password.status == 403 and bad_password.errcode == "M_FORBIDDEN"


async def test_code_replayed_in_the_same_period_fails(make_server, clock):
    server = await make_server(clock=clock)
    alice = await server.client.register("alice")
    totp, _ = await enrol(alice, clock)
    value = code(totp, clock)
    assert (await login_with_code(server.client, clock, value)).status == 200
    replay = await login_with_code(server.client, clock, value)
    assert replay.status == 401 and replay.errcode == "M_FORBIDDEN"
    clock.advance(30)
    assert (await login_with_code(server.client, clock, totp)).status == 200


async def test_codes_of_an_older_step_fail_once_a_newer_one_was_used(make_server, clock):
    server = await make_server(clock=clock)
    alice = await server.client.register("alice")
    totp, _ = await enrol(alice, clock)
    older = code(totp, clock)
    clock.advance(30)
    assert (await login_with_code(server.client, clock, totp)).status == 200
    assert (await login_with_code(server.client, clock, older)).status == 401


async def test_recovery_codes_work_once_and_wrong_ones_fail(make_server, clock):
    server = await make_server(clock=clock)
    alice = await server.client.register("alice")
    _, codes = await enrol(alice, clock)
    assert (await login_with_code(server.client, clock, "aaaa-bbbb-cccc")).status == 401
    assert (await login_with_code(server.client, clock, codes[0].upper().replace("-", " "))).status == 200
    again = await login_with_code(server.client, clock, codes[0])
    assert again.status == 401 and again.errcode == "M_FORBIDDEN"
    assert (await alice.get(TOTP)).body["recovery_codes_left"] == 9


async def test_wrong_codes_are_rate_limited_per_account(make_server, clock):
    server = await make_server(
        clock=clock,
        rate_limits={"enabled": True, "login_address": {"per_second": 100, "burst": 100},
                     "login_account": {"per_second": 100, "burst": 100},
                     "second_factor_failed": {"per_second": 0.01, "burst": 3}},
    )
    alice = await server.client.register("alice")
    totp, _ = await enrol(alice, clock)
    for _ in range(3):
        assert (await login_with_code(server.client, clock, "123456")).status == 401
    limited = await login_with_code(server.client, clock, totp)  # even the right code waits now
    assert limited.status == 429 and limited.errcode == "M_LIMIT_EXCEEDED"


async def test_sensitive_actions_ask_for_the_code(make_server, clock):
    server = await make_server(clock=clock)
    alice = await server.client.register("alice")
    totp, _ = await enrol(alice, clock)
    body = {"new_password": "another long password", "logout_devices": False}
    first = await alice.post("/_matrix/client/v3/account/password", body)
    assert first.body["flows"] == [{"stages": ["m.login.password", "io.hearth.totp"]}]
    session = first.body["session"]
    step = await alice.post("/_matrix/client/v3/account/password", {**body, "auth": _password_auth("alice", session)})
    assert step.status == 401 and step.body["completed"] == ["m.login.password"]
    done = await alice.post("/_matrix/client/v3/account/password",
                            {**body, "auth": {"type": "io.hearth.totp", "code": code(totp, clock), "session": session}})
    assert done.status == 200, done.body

    for path in ("/_matrix/client/v3/account/deactivate", f"/_matrix/client/v3/devices/{alice.device_id}"):
        method = alice.post if path.endswith("deactivate") else alice.delete
        flows = await method(path, {})
        assert flows.status == 401 and flows.body["flows"] == [{"stages": ["m.login.password", "io.hearth.totp"]}]


async def test_enrolment_needs_a_right_first_code_and_cannot_be_replaced(make_server, clock):
    server = await make_server(clock=clock)
    alice = await server.client.register("alice")
    first = await alice.post(f"{TOTP}/enrol", {})
    started = await alice.post(f"{TOTP}/enrol", {"auth": _password_auth("alice", first.body["session"])})
    wrong = await alice.post(f"{TOTP}/confirm", {"code": "000000"})
    assert wrong.status == 403 and wrong.errcode == "M_FORBIDDEN"
    assert (await alice.post(f"{TOTP}/confirm", {})).errcode == "M_MISSING_PARAM"
    assert (await alice.post(f"{TOTP}/confirm", {"code": 123456})).errcode == "M_BAD_JSON"
    assert (await alice.get(TOTP)).body["enrolled"] is False
    totp = pyotp.TOTP(started.body["secret"])
    assert (await alice.post(f"{TOTP}/confirm", {"code": code(totp, clock)})).status == 200
    # Enrolled: no new secret, and nothing waits for a code.
    again = await alice.post(f"{TOTP}/enrol", {})
    assert again.status == 403 and again.errcode == "M_FORBIDDEN"
    assert (await alice.post(f"{TOTP}/confirm", {"code": code(totp, clock)})).status == 403
    assert (await server.client.get(TOTP)).errcode == "M_MISSING_TOKEN"


async def test_turning_it_off_and_new_recovery_codes(make_server, clock):
    server = await make_server(clock=clock)
    alice = await server.client.register("alice")
    totp, old_codes = await enrol(alice, clock)

    async def with_uia(method, path):
        first = await method(path, {})
        session = first.body["session"]
        await method(path, {"auth": _password_auth("alice", session)})
        return await method(path, {"auth": {"type": "io.hearth.totp", "code": code(totp, clock), "session": session}})

    fresh = await with_uia(alice.post, f"{TOTP}/recovery_codes")
    assert fresh.status == 200 and not set(fresh.body["recovery_codes"]) & set(old_codes)
    assert (await login_with_code(server.client, clock, old_codes[1])).status == 401
    clock.advance(30)
    removed = await with_uia(alice.delete, TOTP)
    assert removed.status == 200, removed.body
    assert (await alice.get(TOTP)).body["enrolled"] is False
    assert (await server.client.login("alice")).user_id == "@alice:test.local"


async def test_policy_requires_enrolment_and_admins_reset(make_server, clock):
    server = await make_server(clock=clock, auth={"two_factor": {"required_for": "everyone"}})
    alice = await server.client.register("alice")
    refused = await server.client.post(LOGIN, {"type": "m.login.password", "identifier": {"type": "m.id.user",
                                                                                           "user": "alice"},
                                               "password": PASSWORD})
    assert refused.status == 403 and refused.errcode == "M_FORBIDDEN"
    assert "/_hearth/account/" in refused.body["error"]
    assert (await alice.get(TOTP)).body["required"] is True
    totp, _ = await enrol(alice, clock)
    assert (await alice.delete(TOTP, {})).errcode == "M_FORBIDDEN"  # required: cannot be turned off

    await server.hearth.accounts.create_user("root", PASSWORD, is_admin=True)
    await server.hearth.second_factor.begin_enrolment("@root:test.local")  # (not confirmed: no code needed yet)
    root_first = await server.client.post(LOGIN, {"type": "m.login.password",
                                                  "identifier": {"type": "m.id.user", "user": "root"},
                                                  "password": PASSWORD})
    assert root_first.status == 403  # an unconfirmed enrolment is no second factor
    admin_token = (await server.hearth.accounts.start_session("@root:test.local", None, None, refreshable=False)
                   ).tokens.access_token
    path = "/_hearth/admin/v1/users/@alice:test.local/totp"
    assert (await alice.delete(path)).errcode == "M_FORBIDDEN"
    reset = await server.client.delete(path, token=admin_token)
    assert reset.status == 200 and reset.body == {"removed": True}
    assert (await alice.get(TOTP)).body["enrolled"] is False


async def test_admins_only_policy(make_server, clock):
    server = await make_server(clock=clock, auth={"two_factor": {"required_for": "admins"}})
    alice = await server.client.register("alice")
    assert (await alice.get(TOTP)).body["required"] is False
    await server.hearth.accounts.create_user("root", PASSWORD, is_admin=True)
    refused = await server.client.post(LOGIN, {"type": "m.login.password",
                                               "identifier": {"type": "m.id.user", "user": "root"},
                                               "password": PASSWORD})
    assert refused.status == 403
    assert (await server.client.login("alice")).user_id == "@alice:test.local"


async def test_password_login_can_be_switched_off(make_server):
    server = await make_server(auth={"password_login": False})
    await server.client.register("alice")
    flows = await server.client.get(LOGIN)
    assert flows.status == 404 and flows.errcode == "M_UNRECOGNIZED"
    refused = await server.client.post(LOGIN, {"type": "m.login.password",
                                               "identifier": {"type": "m.id.user", "user": "alice"},
                                               "password": PASSWORD})
    assert refused.status == 400 and refused.errcode == "M_UNKNOWN"
