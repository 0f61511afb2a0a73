"""Accounts in the browser: create, sign in and out, stay signed in, sessions, profile, password."""

from __future__ import annotations

from playwright.async_api import Browser, Page, expect

from homeserver.services.shared_secret import registration_mac
from tests.webclient.conftest import new_context, screenshot
from tests.webclient.helpers import PASSWORD, register, sign_in

USER = "@alice:test.local"


async def _devices(server, user_id: str = USER) -> set[str]:
    rows = await server.hearth.db.fetch("SELECT device_id FROM devices WHERE user_id = $1", user_id)
    return {row["device_id"] for row in rows}


async def _registration_token(server) -> str:
    client = server.client
    nonce = (await client.get("/_synapse/admin/v1/register")).body["nonce"]
    mac = registration_mac("test shared secret", nonce, "root", PASSWORD, True)
    admin = await client.post("/_synapse/admin/v1/register",
                              {"nonce": nonce, "username": "root", "password": PASSWORD, "admin": True, "mac": mac})
    created = await client.as_user(admin.body["access_token"]).post(
        "/_synapse/admin/v1/registration_tokens/new", {"token": "let-me-in", "uses_allowed": 1})
    assert created.status == 200, created.body
    return "let-me-in"


async def test_register_reload_sign_out_and_in(page: Page, make_server) -> None:
    server = await make_server()
    await register(page, server.url, "alice")
    rooms = page.get_by_role("navigation", name="Rooms")
    await screenshot(page, "room-list-empty")
    devices = await _devices(server)
    assert len(devices) == 1
    # Cross-signing and the key backup were set up at first sign-in.
    assert await server.hearth.db.fetchval("SELECT COUNT(*) FROM e2e_cross_signing_keys WHERE user_id = $1", USER) == 3
    # A reload keeps the session (and its crypto store): no sign-in form, no new device.
    await page.reload()
    await expect(rooms).to_be_visible()
    await expect(page.get_by_role("button", name="Sign in")).to_have_count(0)
    await expect(page.get_by_role("dialog")).to_have_count(0)
    assert await _devices(server) == devices
    # Sign out from the settings: the device is gone on the server too.
    await page.get_by_role("link", name="Settings").click()
    await page.get_by_role("button", name="Sign out", exact=True).click()
    await expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert await _devices(server) == set()
    await page.reload()
    await expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    # A wrong password is refused with a message.
    await sign_in(page, server.url, "alice", "not my password")
    await expect(page.get_by_role("alert")).to_have_text("Wrong username or password")
    # Signing in again: the account has cross-signing, so this new session is asked to verify.
    await sign_in(page, server.url, "alice")
    await expect(page.get_by_role("button", name="Verify with recovery key")).to_be_visible()


async def test_registration_token_when_registration_is_closed(page: Page, make_server) -> None:
    server = await make_server(registration={"open": False})
    token = await _registration_token(server)
    await page.goto(server.url + "/")
    await page.get_by_role("button", name="Create account").click()
    form = page.get_by_role("form", name="Create account")
    await form.get_by_role("textbox", name="Username").fill("alice")
    await form.get_by_label("Password", exact=True).fill(PASSWORD)
    await form.get_by_label("Confirm password").fill(PASSWORD)
    await form.get_by_role("button", name="Create account").click()
    await expect(page.get_by_role("alert")).to_have_text("Registration needs a registration token")
    await form.get_by_role("textbox", name="Registration token").fill("wrong")
    await form.get_by_role("button", name="Create account").click()
    await expect(page.get_by_role("alert")).to_have_text("That registration token is not valid")
    await form.get_by_role("textbox", name="Registration token").fill(token)
    await form.get_by_role("button", name="Create account").click()
    await expect(page.get_by_role("textbox", name="Recovery key")).to_be_visible()
    assert len(await _devices(server)) == 1


async def test_sessions_profile_and_password(browser: Browser, page: Page, make_server) -> None:
    server = await make_server()
    recovery_key = await register(page, server.url, "alice")
    assert recovery_key
    # A second and third session in other browser profiles.
    others = [await new_context(browser) for _ in range(2)]
    for context in others:
        other = await context.new_page()
        await sign_in(other, server.url, "alice")
        await expect(other.get_by_role("button", name="Verify with recovery key")).to_be_visible()
    assert len(await _devices(server)) == 3
    # Settings list the sessions; sign one out.
    await page.get_by_role("link", name="Settings").click()
    sessions = page.get_by_role("list", name="Sessions")
    await expect(sessions.get_by_role("listitem")).to_have_count(3)
    await screenshot(page, "settings")
    current = await page.evaluate("() => JSON.parse(localStorage.getItem('hearth.session')).deviceId")
    first_other = sorted(await _devices(server) - {current})[0]
    await sessions.get_by_role("button", name=f"({first_other})").click()
    await page.get_by_label("Your password").fill(PASSWORD)
    await page.get_by_role("button", name="Confirm sign out").click()
    await expect(sessions.get_by_role("listitem")).to_have_count(2)
    assert first_other not in await _devices(server)
    # Display name and password.
    await page.get_by_role("textbox", name="Display name").fill("Alice Liddell")
    await page.get_by_role("button", name="Save display name").click()
    await expect(page.get_by_role("status")).to_have_text("Display name saved")
    profile = await server.client.get(f"/_matrix/client/v3/profile/{USER}")
    assert profile.body["displayname"] == "Alice Liddell"
    await page.get_by_label("Current password").fill(PASSWORD)
    await page.get_by_label("New password", exact=True).fill("a new long password")
    await page.get_by_label("Confirm new password").fill("a new long password")
    await page.get_by_role("button", name="Change password").click()
    await expect(page.get_by_role("status")).to_have_text("Password changed")
    assert (await server.client.post("/_matrix/client/v3/login", {
        "type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"}, "password": PASSWORD})).status == 403
    # Avatar: an image upload.
    await page.get_by_label("Change avatar").set_input_files({"name": "me.png", "mimeType": "image/png", "buffer": _PNG})
    await expect(page.get_by_role("status")).to_have_text("Avatar saved")
    profile = await server.client.get(f"/_matrix/client/v3/profile/{USER}")
    assert profile.body["avatar_url"].startswith("mxc://test.local/")
    for context in others:
        await context.close()


async def test_sign_out_my_other_sessions_at_sign_in(browser: Browser, page: Page, make_server) -> None:
    server = await make_server()
    await register(page, server.url, "alice")
    before = await _devices(server)
    context = await new_context(browser)
    other = await context.new_page()
    await sign_in(other, server.url, "alice", sign_out_others=True)
    await expect(other.get_by_role("button", name="Verify with recovery key")).to_be_visible()
    after = await _devices(server)
    assert len(after) == 1 and not (after & before)
    # The first browser learns that its session ended.
    await page.reload()
    await expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    await context.close()


def _png() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 80, 20)).save(out, format="PNG")
    return out.getvalue()


_PNG = _png()
