"""The device authorization grant (RFC 8628): code, approval on the device page, polling."""

from __future__ import annotations


from tests.support.oauth import browser, clock, oauth_server  # noqa: F401  (fixtures)
from tests.support.oauth import Browser, post_form, register_client, scope

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


async def start(server, client_id: str, device_id: str = "TVDEVICE") -> dict:
    status, body = await post_form(server.client.session, f"{server.url}/_hearth/oauth2/device_authorization",
                                   {"client_id": client_id, "scope": scope(device_id)})
    assert status == 200, body
    return body


async def poll(server, client_id: str, device_code: str) -> tuple[int, dict]:
    return await post_form(server.client.session, f"{server.url}/_hearth/oauth2/token",
                           {"grant_type": DEVICE_GRANT, "device_code": device_code, "client_id": client_id})


async def approve(browser: Browser, user_code: str, decision: str = "allow") -> None:
    path = f"/_hearth/oauth2/device?user_code={user_code}"
    first = await browser.get(path)
    if first.status == 303:
        await browser.sign_in(first.location)
    page = await browser.get(path)
    assert page.status == 200 and "Allow" in page.text, page.text
    done = await browser.post("/_hearth/oauth2/device", {"csrf": page.csrf, "user_code": user_code,
                                                          "decision": decision})
    assert done.status == 200, done.text


async def test_device_flow(oauth_server, browser, clock):
    client_id = await register_client(oauth_server.client.session, oauth_server.url)
    started = await start(oauth_server, client_id)
    assert started["verification_uri"] == "http://localhost:8008/_hearth/oauth2/device"
    assert started["verification_uri_complete"].endswith(f"user_code={started['user_code']}")
    assert started["interval"] == 5 and started["expires_in"] == 1800

    status, body = await poll(oauth_server, client_id, started["device_code"])
    assert status == 400 and body["error"] == "authorization_pending"
    status, body = await poll(oauth_server, client_id, started["device_code"])
    assert status == 400 and body["error"] == "slow_down"  # polled again within the interval
    clock.advance(5)

    await approve(browser, started["user_code"].lower().replace("-", " "))
    status, tokens = await poll(oauth_server, client_id, started["device_code"])
    assert status == 200, tokens
    who = await oauth_server.client.get("/_matrix/client/v3/account/whoami", token=tokens["access_token"])
    assert who.body == {"user_id": "@alice:test.local", "device_id": "TVDEVICE", "is_guest": False}
    clock.advance(5)
    status, body = await poll(oauth_server, client_id, started["device_code"])  # used up
    assert status == 400 and body["error"] in ("invalid_request", "invalid_grant")


async def test_denied_expired_and_foreign_device_codes(oauth_server, browser, clock):
    session = oauth_server.client.session
    client_id = await register_client(session, oauth_server.url)
    other = await register_client(session, oauth_server.url, client_name="Other")
    denied = await start(oauth_server, client_id)
    await approve(browser, denied["user_code"], decision="deny")
    status, body = await poll(oauth_server, client_id, denied["device_code"])
    assert status == 400 and body["error"] == "access_denied"

    pending = await start(oauth_server, client_id, "SECOND")
    status, body = await poll(oauth_server, other, pending["device_code"])
    assert status == 400 and body["error"] == "unauthorized_client"
    status, body = await poll(oauth_server, client_id, "not-a-device-code")
    assert status == 400 and body["error"] == "invalid_request"
    clock.advance(1801)
    status, body = await poll(oauth_server, client_id, pending["device_code"])
    assert status == 400 and body["error"] == "expired_token"
    page = await browser.get(f"/_hearth/oauth2/device?user_code={pending['user_code']}")
    assert page.status == 404  # an expired code cannot be approved


async def test_device_authorization_needs_the_grant_and_a_good_scope(oauth_server):
    session = oauth_server.client.session
    code_only = await register_client(session, oauth_server.url, grant_types=["authorization_code", "refresh_token"])
    url = f"{oauth_server.url}/_hearth/oauth2/device_authorization"
    status, body = await post_form(session, url, {"client_id": code_only, "scope": scope()})
    assert status == 400 and body["error"] == "unauthorized_client"
    client_id = await register_client(session, oauth_server.url)
    status, body = await post_form(session, url, {"client_id": client_id, "scope": "urn:matrix:client:api:*"})
    assert status == 400 and body["error"] == "invalid_scope"
    status, body = await post_form(session, url, {"client_id": "nobody", "scope": scope()})
    assert status in (400, 401) and body["error"] == "invalid_client"
