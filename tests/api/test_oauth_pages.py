"""Hearth's own pages: sign-in with a second factor or its enrolment, CSRF and CSP, the
account page (see and end sessions) and the m.oauth approval of a cross-signing reset."""

from __future__ import annotations

import re

import pyotp

from tests.api.test_second_factor import enrol
from tests.support.oauth import (
    PASSWORD,
    Browser,
    authorize_path,
    callback_params,
    exchange,
    log_in,
    pkce,
    register_client,
)
from tests.support.oauth import browser, clock, oauth_server  # noqa: F401  (fixtures)
from tests.support.olm import CrossSigning

LOGIN = "/_hearth/account/login"
WHOAMI = "/_matrix/client/v3/account/whoami"


async def test_login_page_is_accessible_and_script_free(browser):
    page = await browser.get(LOGIN)
    assert page.status == 200
    assert re.search(r'<label for="username">Username</label>\s*<input id="username"', page.text)
    assert re.search(r'<label for="password">Password</label>\s*<input id="password" name="password" type="password"',
                     page.text)
    assert '<button type="submit">Sign in</button>' in page.text
    assert "<script" not in page.text and "style=" not in page.text
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "unsafe" not in csp
    assert page.headers["X-Frame-Options"] == "DENY"
    cookie = page.headers["Set-Cookie"]
    assert "hearth_csrf=" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    css = await browser.get("/_hearth/static/hearth.css")
    assert css.status == 200 and "text/css" in css.headers["Content-Type"]


async def test_forms_need_the_csrf_token_and_this_origin(browser):
    page = await browser.get(LOGIN)
    no_token = await browser.post(LOGIN, {"username": "alice", "password": PASSWORD})
    assert no_token.status == 403 and "hearth_session" not in no_token.headers.get("Set-Cookie", "")
    wrong = await browser.post(LOGIN, {"csrf": "forged", "username": "alice", "password": PASSWORD})
    assert wrong.status == 403
    foreign = await browser.post(LOGIN, {"csrf": page.csrf, "username": "alice", "password": PASSWORD},
                                 headers={"Origin": "https://evil.example.net"})
    assert foreign.status == 403
    ok = await browser.post(LOGIN, {"csrf": page.csrf, "username": "alice", "password": PASSWORD})
    assert ok.status == 303 and ok.location == "/_hearth/account/"
    cookie = ok.headers["Set-Cookie"]
    assert "hearth_session=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


async def test_wrong_password_and_no_open_redirects(browser):
    page = await browser.get(LOGIN)
    wrong = await browser.post(LOGIN, {"csrf": page.csrf, "username": "alice", "password": "wrong!"})
    assert wrong.status == 403 and "Wrong username or password" in wrong.text
    unknown = await browser.post(LOGIN, {"csrf": page.csrf, "username": "nobody", "password": "wrong!"})
    assert unknown.status == 403 and unknown.text.replace("nobody", "alice") == wrong.text.replace(
        'value="alice"', 'value="alice"')
    for evil in ("https://evil.example.net/", "//evil.example.net/", "/\\evil.example.net"):
        ok = await browser.post(LOGIN, {"csrf": page.csrf, "username": "alice", "password": PASSWORD, "next": evil})
        assert ok.location == "/_hearth/account/", evil


async def test_sign_in_with_a_totp_code_then_consent(oauth_server, browser, clock):
    alice = await oauth_server.client.login("alice")
    totp, codes = await enrol(alice, clock)
    client_id = await register_client(oauth_server.client.session, oauth_server.url)
    verifier, challenge = pkce()
    path = authorize_path(client_id, challenge)
    first = await browser.get(path)
    signed_in = await browser.sign_in(first.location)
    assert signed_in.status == 303 and signed_in.location.startswith("/_hearth/account/login/code?next=")
    # Only half signed in: the consent page sends the person back to the code.
    assert (await browser.get(path)).location.startswith("/_hearth/account/login/code")
    code_page = await browser.get(signed_in.location)
    assert '<label for="code">Code</label>' in code_page.text
    wrong = await browser.post("/_hearth/account/login/code", {"csrf": code_page.csrf, "code": "000000",
                                                               "next": path})
    assert wrong.status == 403 and "not right" in wrong.text
    done = await browser.post("/_hearth/account/login/code", {"csrf": code_page.csrf, "code": totp.at(
        clock.time_ms() / 1000), "next": path})
    assert done.status == 303
    allowed = await browser.consent(path)
    code = callback_params(allowed.location)["code"]
    status, tokens = await exchange(oauth_server.client.session, oauth_server.url, client_id, code, verifier)
    assert status == 200 and (await oauth_server.client.get(WHOAMI, token=tokens["access_token"])).status == 200

    # A recovery code works once in the browser too.
    other = Browser(oauth_server.url)
    try:
        pending = await other.sign_in(f"{LOGIN}?next=%2F_hearth%2Faccount%2F")
        page = await other.get(pending.location)
        used = await other.post("/_hearth/account/login/code", {"csrf": page.csrf, "code": codes[0],
                                                                "next": "/_hearth/account/"})
        assert used.status == 303
    finally:
        await other.close()
    third = Browser(oauth_server.url)
    try:
        pending = await third.sign_in(f"{LOGIN}?next=%2F_hearth%2Faccount%2F")
        page = await third.get(pending.location)
        again = await third.post("/_hearth/account/login/code", {"csrf": page.csrf, "code": codes[0],
                                                                 "next": "/_hearth/account/"})
        assert again.status == 403
    finally:
        await third.close()


async def test_required_second_factor_is_set_up_while_signing_in(make_server, clock):
    server = await make_server(clock=clock, oauth={"enabled": True}, auth={"two_factor": {"required_for": "everyone"}})
    await server.client.register("alice")
    browser = Browser(server.url)
    try:
        pending = await browser.sign_in(f"{LOGIN}?next=%2F_hearth%2Faccount%2F")
        assert pending.location.startswith("/_hearth/account/login/enrol")
        assert (await browser.get("/_hearth/account/")).location.startswith("/_hearth/account/login/enrol")
        page = await browser.get(pending.location)
        secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', page.text).group(1)
        assert "otpauth://totp/" in page.text
        totp = pyotp.TOTP(secret)
        done = await browser.post("/_hearth/account/login/enrol", {"csrf": page.csrf, "next": "/_hearth/account/",
                                                                   "code": totp.at(clock.time_ms() / 1000)})
        assert done.status == 200 and len(re.findall(r"<li><code>", done.text)) == 10
        account = await browser.get("/_hearth/account/")
        assert account.status == 200 and "Two-factor sign-in is <strong>on</strong>" in account.text
    finally:
        await browser.close()
    # m.login.password now asks for the code too.
    resp = await server.client.post("/_matrix/client/v3/login", {
        "type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"}, "password": PASSWORD})
    assert resp.status == 401 and resp.body["completed"] == ["m.login.password"]


async def test_account_page_lists_and_ends_sessions(oauth_server, browser):
    client_id = await register_client(oauth_server.client.session, oauth_server.url)
    code, verifier = await log_in(browser, client_id, device_id="PHONE")
    _, tokens = await exchange(oauth_server.client.session, oauth_server.url, client_id, code, verifier)
    legacy = await oauth_server.client.login("alice", device_id="LAPTOP")
    page = await browser.get("/_hearth/account/")
    assert page.status == 200 and "PHONE" in page.text and "LAPTOP" in page.text and "Test App" in page.text
    one = await browser.get("/_hearth/account/?action=org.matrix.device_view&device_id=PHONE")
    assert "PHONE" in one.text and "LAPTOP" not in one.text
    confirm = await browser.get("/_hearth/account/?action=org.matrix.device_delete&device_id=LAPTOP")
    assert "Sign out LAPTOP?" in confirm.text
    missing = await browser.get("/_hearth/account/?action=org.matrix.device_view&device_id=NOPE")
    assert missing.status == 404
    forged = await browser.post("/_hearth/account/devices/delete", {"csrf": "x", "device_id": "LAPTOP"})
    assert forged.status == 403 and (await legacy.get(WHOAMI)).status == 200
    done = await browser.post("/_hearth/account/devices/delete", {"csrf": page.csrf, "device_id": "LAPTOP"})
    assert done.status == 200
    assert (await legacy.get(WHOAMI)).errcode == "M_UNKNOWN_TOKEN"
    await browser.post("/_hearth/account/devices/delete", {"csrf": page.csrf, "device_id": "PHONE"})
    assert (await oauth_server.client.get(WHOAMI, token=tokens["access_token"])).errcode == "M_UNKNOWN_TOKEN"
    # Someone else's browser cannot end Alice's sessions, nor see her page.
    stranger = Browser(oauth_server.url)
    try:
        assert (await stranger.get("/_hearth/account/")).location.startswith(LOGIN)
        out = await browser.post("/_hearth/account/logout", {"csrf": page.csrf})
        assert out.status == 303 and (await browser.get("/_hearth/account/")).location.startswith(LOGIN)
    finally:
        await stranger.close()


async def test_cross_signing_reset_of_an_oauth_device_is_approved_on_the_account_page(oauth_server, browser):
    client_id = await register_client(oauth_server.client.session, oauth_server.url)
    code, verifier = await log_in(browser, client_id)
    _, tokens = await exchange(oauth_server.client.session, oauth_server.url, client_id, code, verifier)
    alice = oauth_server.client.as_user(tokens["access_token"])
    upload = "/_matrix/client/v3/keys/device_signing/upload"
    assert (await alice.post(upload, CrossSigning("@alice:test.local").upload_body())).status == 200
    new = CrossSigning("@alice:test.local").upload_body()
    challenge = await alice.post(upload, new)
    assert challenge.status == 401 and challenge.body["flows"] == [{"stages": ["m.oauth"]}]
    url = challenge.body["params"]["m.oauth"]["url"]
    assert url == "http://localhost:8008/_hearth/account/?action=org.matrix.cross_signing_reset"
    session = challenge.body["session"]
    early = await alice.post(upload, {**new, "auth": {"session": session}})
    assert early.status == 401 and early.errcode == "M_FORBIDDEN"
    page = await browser.get("/_hearth/account/?action=org.matrix.cross_signing_reset")
    assert "Allow reset" in page.text
    approved = await browser.post("/_hearth/account/cross_signing_reset", {"csrf": page.csrf})
    assert approved.status == 200
    done = await alice.post(upload, {**new, "auth": {"session": session}})
    assert done.status == 200, done.body
    # One approval, one reset.
    again = await alice.post(upload, CrossSigning("@alice:test.local").upload_body())
    assert again.status == 401


async def test_prompt_create_shows_registration_then_consent(oauth_server, browser):
    client_id = await register_client(oauth_server.client.session, oauth_server.url)
    _, challenge = pkce()
    path = authorize_path(client_id, challenge, prompt="create")
    first = await browser.get(path)
    assert first.location.startswith("/_hearth/account/register?next=")
    form = await browser.get(first.location)
    assert '<label for="username">Username</label>' in form.text and "Create account" in form.text
    assert "Registration token" not in form.text  # open registration in the tests
    taken = await browser.post("/_hearth/account/register", {"csrf": form.csrf, "username": "alice",
                                                             "password": PASSWORD, "next": path})
    assert taken.status == 400 and "already taken" in taken.text
    weak = await browser.post("/_hearth/account/register", {"csrf": form.csrf, "username": "carol",
                                                            "password": "short", "next": path})
    assert weak.status == 400
    created = await browser.post("/_hearth/account/register", {"csrf": form.csrf, "username": "carol",
                                                               "password": PASSWORD, "next": path})
    assert created.status == 303
    consent = await browser.get(created.location)
    assert consent.status == 200 and "@carol:test.local" in consent.text
    assert (await oauth_server.client.login("carol")).user_id == "@carol:test.local"


async def test_registration_page_needs_a_token_unless_open(make_server):
    server = await make_server(oauth={"enabled": True}, registration={"open": False})
    token = await server.hearth.registration.create_token("abc", uses_allowed=1, expiry_time=None)
    browser = Browser(server.url)
    try:
        form = await browser.get("/_hearth/account/register")
        assert "Registration token" in form.text
        wrong = await browser.post("/_hearth/account/register", {"csrf": form.csrf, "username": "dave",
                                                                 "password": PASSWORD, "token": "nope"})
        assert wrong.status == 401 and "not valid" in wrong.text
        ok = await browser.post("/_hearth/account/register", {"csrf": form.csrf, "username": "dave",
                                                              "password": PASSWORD, "token": token.token})
        assert ok.status == 303 and ok.location == "/_hearth/account/"
    finally:
        await browser.close()
    closed = await make_server(oauth={"enabled": True}, registration={"enabled": False})
    meta = await closed.client.get("/_matrix/client/v1/auth_metadata")
    assert "prompt_values_supported" not in meta.body
    other = Browser(closed.url)
    try:
        assert (await other.get("/_hearth/account/register")).status == 404
        assert "Create an account" not in (await other.get(LOGIN)).text
    finally:
        await other.close()
