"""The OAuth 2.0 API: metadata, the authorization code grant with PKCE, tokens that work
like any other, refresh, revocation and replayed codes."""

from __future__ import annotations

import pytest

from tests.support.oauth import (
    REDIRECT,
    Browser,
    authorize_path,
    callback_params,
    exchange,
    log_in,
    pkce,
    post_form,
    register_client,
)

WHOAMI = "/_matrix/client/v3/account/whoami"


@pytest.fixture
async def oauth_server(make_server):
    server = await make_server(oauth={"enabled": True})
    await server.client.register("alice")
    return server


@pytest.fixture
async def browser(oauth_server):
    browser = Browser(oauth_server.url)
    yield browser
    await browser.close()


async def test_metadata_follows_the_spec(oauth_server, make_server):
    meta = (await oauth_server.client.get("/_matrix/client/v1/auth_metadata")).body
    assert meta["issuer"] == "http://localhost:8008/"
    for key in ("authorization_endpoint", "token_endpoint", "registration_endpoint", "revocation_endpoint",
                "device_authorization_endpoint", "account_management_uri"):
        assert meta[key].startswith("http://localhost:8008/_hearth/"), key
    assert meta["response_types_supported"] == ["code"]
    assert {"query", "fragment"} <= set(meta["response_modes_supported"])
    assert {"authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"} <= set(
        meta["grant_types_supported"])
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["prompt_values_supported"] == ["create"]
    assert "org.matrix.cross_signing_reset" in meta["account_management_actions_supported"]
    well_known = await oauth_server.client.get("/.well-known/openid-configuration")
    assert well_known.body == meta
    keys = await oauth_server.client.get("/_hearth/oauth2/keys.json")
    assert keys.body["keys"][0]["kty"] == "RSA" and "d" not in keys.body["keys"][0]


async def test_metadata_is_404_when_oauth_is_off(server):
    resp = await server.client.get("/_matrix/client/v1/auth_metadata")
    assert resp.status == 404 and resp.errcode == "M_UNRECOGNIZED"
    assert (await server.client.post("/_hearth/oauth2/token")).errcode == "M_UNRECOGNIZED"


async def test_code_flow_gives_tokens_that_work_everywhere(oauth_server, browser):
    session = oauth_server.client.session
    client_id = await register_client(session, oauth_server.url)
    code, verifier = await log_in(browser, client_id)
    status, tokens = await exchange(session, oauth_server.url, client_id, code, verifier)
    assert status == 200, tokens
    assert tokens["token_type"] == "Bearer" and tokens["refresh_token"] and tokens["expires_in"] > 0
    assert tokens["scope"] == "urn:matrix:client:api:* urn:matrix:client:device:OAUTHDEVICE"
    alice = oauth_server.client.as_user(tokens["access_token"])
    who = await alice.get(WHOAMI)
    assert who.body["user_id"] == "@alice:test.local" and who.body["device_id"] == "OAUTHDEVICE"
    room = await alice.post("/_matrix/client/v3/createRoom", {})
    assert room.status == 200
    devices = await alice.get("/_matrix/client/v3/devices")
    assert {"device_id": "OAUTHDEVICE", "display_name": "Test App"}.items() <= next(
        d for d in devices.body["devices"] if d["device_id"] == "OAUTHDEVICE").items()
    # Logging out the legacy way ends it like any session.
    assert (await alice.post("/_matrix/client/v3/logout")).status == 200
    assert (await alice.get(WHOAMI)).errcode == "M_UNKNOWN_TOKEN"


async def test_replayed_code_fails_and_ends_its_session(oauth_server, browser):
    session = oauth_server.client.session
    client_id = await register_client(session, oauth_server.url)
    code, verifier = await log_in(browser, client_id)
    status, tokens = await exchange(session, oauth_server.url, client_id, code, verifier)
    assert status == 200
    status, again = await exchange(session, oauth_server.url, client_id, code, verifier)
    assert status == 400 and again["error"] == "invalid_grant"
    who = await oauth_server.client.get(WHOAMI, token=tokens["access_token"])
    assert who.errcode == "M_UNKNOWN_TOKEN"


async def test_pkce_mismatch_and_missing_verifier(oauth_server, browser):
    session = oauth_server.client.session
    client_id = await register_client(session, oauth_server.url)
    code, verifier = await log_in(browser, client_id)
    other, _ = pkce()
    status, body = await exchange(session, oauth_server.url, client_id, code, other)
    assert status == 400 and body["error"] == "invalid_grant"
    status, body = await post_form(session, f"{oauth_server.url}/_hearth/oauth2/token", {
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "client_id": client_id})
    assert status == 400 and body["error"] == "invalid_request"
    # A failed attempt does not use the code up.
    status, _ = await exchange(session, oauth_server.url, client_id, code, verifier)
    assert status == 200


async def test_token_request_with_the_wrong_redirect_uri_or_client(oauth_server, browser):
    session = oauth_server.client.session
    client_id = await register_client(session, oauth_server.url)
    other_client = await register_client(session, oauth_server.url, client_name="Other")
    code, verifier = await log_in(browser, client_id)
    status, body = await exchange(session, oauth_server.url, client_id, code, verifier,
                                  redirect_uri="https://app.example.com/other")
    assert status == 400 and body["error"] == "invalid_grant"
    status, body = await exchange(session, oauth_server.url, other_client, code, verifier)
    assert status == 400 and body["error"] == "invalid_grant"
    status, body = await exchange(session, oauth_server.url, "no-such-client", code, verifier)
    assert status in (400, 401) and body["error"] == "invalid_client"


async def test_authorization_requests_that_cannot_redirect_show_an_error(oauth_server, browser):
    session = oauth_server.client.session
    client_id = await register_client(session, oauth_server.url)
    _, challenge = pkce()
    for path in (
        authorize_path(client_id, challenge, redirect_uri="https://evil.example.net/callback"),
        authorize_path(client_id, challenge, redirect_uri="https://app.example.com/callback/extra"),
        authorize_path("unknown-client", challenge),
    ):
        page = await browser.get(path)
        assert page.status == 400 and "invalid sign-in request" in page.text, path
        assert "Location" not in page.headers


@pytest.mark.parametrize("extra, error", [
    ({"code_challenge_method": "plain"}, "invalid_request"),
    ({"code_challenge": ""}, "invalid_request"),
    ({"scope": "urn:matrix:client:api:*"}, "invalid_scope"),
    ({"scope": "urn:matrix:client:device:ABC"}, "invalid_scope"),
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"response_mode": "form_post"}, "invalid_request"),
])
async def test_bad_authorization_requests_go_back_with_an_error(oauth_server, browser, extra, error):
    session = oauth_server.client.session
    client_id = await register_client(session, oauth_server.url)
    _, challenge = pkce()
    page = await browser.get(authorize_path(client_id, challenge, **extra))
    assert page.status == 302, page.text
    params = callback_params(page.location)
    assert page.location.startswith(REDIRECT) and params["error"] == error and params["state"] == "xyzzy"


async def test_fragment_response_mode_and_deny(oauth_server, browser):
    session = oauth_server.client.session
    client_id = await register_client(session, oauth_server.url)
    _, challenge = pkce()
    path = authorize_path(client_id, challenge, response_mode="fragment")
    first = await browser.get(path)
    await browser.sign_in(first.location)
    allowed = await browser.consent(path)
    assert "#" in allowed.location and "code=" in allowed.location.split("#")[1]
    denied = await browser.consent(path, decision="deny")
    params = callback_params(denied.location)
    assert params["error"] == "access_denied" and params["state"] == "xyzzy" and "code" not in params
    assert "#" in denied.location


async def test_refresh_rotates_and_revocation_ends_the_session(oauth_server, browser):
    session = oauth_server.client.session
    url = oauth_server.url
    client_id = await register_client(session, url)
    code, verifier = await log_in(browser, client_id)
    _, tokens = await exchange(session, url, client_id, code, verifier)
    token_url = f"{url}/_hearth/oauth2/token"
    status, fresh = await post_form(session, token_url, {
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": client_id})
    assert status == 200, fresh
    assert fresh["refresh_token"] != tokens["refresh_token"] and fresh["access_token"] != tokens["access_token"]
    assert (await oauth_server.client.get(WHOAMI, token=fresh["access_token"])).status == 200
    # The old refresh token is gone once the new access token is used.
    status, body = await post_form(session, token_url, {
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": client_id})
    assert status == 400 and body["error"] == "invalid_grant"
    # Another client cannot use it.
    other = await register_client(session, url, client_name="Other")
    status, body = await post_form(session, token_url, {
        "grant_type": "refresh_token", "refresh_token": fresh["refresh_token"], "client_id": other})
    assert status == 400 and body["error"] == "invalid_grant"

    status, body = await post_form(session, f"{url}/_hearth/oauth2/revoke", {
        "token": fresh["access_token"], "token_type_hint": "access_token", "client_id": client_id})
    assert status == 200 and body == {}
    assert (await oauth_server.client.get(WHOAMI, token=fresh["access_token"])).errcode == "M_UNKNOWN_TOKEN"
    status, body = await post_form(session, token_url, {
        "grant_type": "refresh_token", "refresh_token": fresh["refresh_token"], "client_id": client_id})
    assert status == 400 and body["error"] == "invalid_grant"
    # Revoking again, or a token that never existed, is fine; no token at all is not.
    status, _ = await post_form(session, f"{url}/_hearth/oauth2/revoke", {"token": fresh["access_token"]})
    assert status == 200
    status, body = await post_form(session, f"{url}/_hearth/oauth2/revoke", {"client_id": client_id})
    assert status == 400 and body["error"] == "invalid_request"


async def test_expired_access_tokens_and_codes(make_server):
    from homeserver.clock import FakeClock

    clock = FakeClock()
    server = await make_server(clock=clock, oauth={"enabled": True})
    await server.client.register("alice")
    browser = Browser(server.url)
    try:
        session = server.client.session
        client_id = await register_client(session, server.url)
        code, verifier = await log_in(browser, client_id)
        _, tokens = await exchange(session, server.url, client_id, code, verifier)
        clock.advance(tokens["expires_in"] + 1)
        expired = await server.client.get(WHOAMI, token=tokens["access_token"])
        assert expired.errcode == "M_UNKNOWN_TOKEN" and expired.body["soft_logout"] is True
        status, fresh = await post_form(session, f"{server.url}/_hearth/oauth2/token", {
            "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": client_id})
        assert status == 200 and (await server.client.get(WHOAMI, token=fresh["access_token"])).status == 200

        code, verifier = await log_in(browser, client_id, device_id="SECOND")
        clock.advance(601)  # oauth.authorization_code_lifetime
        status, body = await exchange(session, server.url, client_id, code, verifier)
        assert status == 400 and body["error"] == "invalid_grant"
    finally:
        await browser.close()


async def test_reusing_a_device_id_replaces_its_tokens(oauth_server, browser):
    session = oauth_server.client.session
    client_id = await register_client(session, oauth_server.url)
    code, verifier = await log_in(browser, client_id)
    _, first = await exchange(session, oauth_server.url, client_id, code, verifier)
    code, verifier = await log_in(browser, client_id)
    _, second = await exchange(session, oauth_server.url, client_id, code, verifier)
    assert (await oauth_server.client.get(WHOAMI, token=first["access_token"])).errcode == "M_UNKNOWN_TOKEN"
    assert (await oauth_server.client.get(WHOAMI, token=second["access_token"])).body["device_id"] == "OAUTHDEVICE"


async def test_unsupported_grant_and_garbage(oauth_server):
    session = oauth_server.client.session
    token_url = f"{oauth_server.url}/_hearth/oauth2/token"
    status, body = await post_form(session, token_url, {"grant_type": "password", "username": "alice"})
    assert status == 400 and body["error"] == "unsupported_grant_type"
    status, body = await post_form(session, token_url, {})
    assert status == 400 and body["error"] == "unsupported_grant_type"
    status, body = await post_form(session, token_url, {"grant_type": "authorization_code", "code": "nope",
                                                        "client_id": "x\x00y"})
    assert status == 400


async def test_racing_redemptions_of_one_code_issue_tokens_once(oauth_server, browser):
    import asyncio

    session = oauth_server.client.session
    client_id = await register_client(session, oauth_server.url)
    code, verifier = await log_in(browser, client_id)
    results = await asyncio.gather(*(exchange(session, oauth_server.url, client_id, code, verifier) for _ in range(4)))
    assert sorted(status for status, _ in results) == [200, 400, 400, 400]
    assert all(body["error"] == "invalid_grant" for status, body in results if status == 400)
