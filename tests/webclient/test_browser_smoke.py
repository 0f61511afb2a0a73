"""The web client loads under Hearth's CSP and shows its sign-in form."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.webclient.conftest import screenshot


async def test_sign_in_page_renders(page: Page, make_server) -> None:
    server = await make_server()
    await page.goto(server.url + "/")
    await expect(page.get_by_role("heading", name="Sign in to Hearth")).to_be_visible()
    await expect(page.get_by_role("textbox", name="Username")).to_be_visible()
    await expect(page.get_by_label("Password", exact=True)).to_be_visible()
    await expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    await screenshot(page, f"sign-in")
    await page.get_by_role("button", name="Create account").click()
    form = page.get_by_role("form", name="Create account")
    await expect(form.get_by_role("textbox", name="Username")).to_be_visible()
    await expect(form.get_by_label("Password", exact=True)).to_be_visible()
    await expect(form.get_by_label("Confirm password")).to_be_visible()
    await expect(form.get_by_role("textbox", name="Registration token")).to_be_visible()
    await expect(form.get_by_role("button", name="Create account")).to_be_visible()
