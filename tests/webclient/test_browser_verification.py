"""Verifying a new session by comparing emoji with another session of the same account."""

from __future__ import annotations

from playwright.async_api import Browser, Page, expect

from tests.webclient.conftest import new_context, screenshot
from tests.webclient.helpers import register, sign_in


async def test_emoji_verification_between_two_sessions(browser: Browser, page: Page, make_server) -> None:
    server = await make_server()
    await register(page, server.url, "alice")
    context = await new_context(browser)
    laptop = await context.new_page()
    await sign_in(laptop, server.url, "alice")
    await laptop.get_by_role("button", name="Verify with another session").click()
    await expect(laptop.get_by_text("Accept the request on your other session…")).to_be_visible()

    await page.get_by_role("button", name="Start verification").click()
    emoji_here = page.get_by_role("list", name="Verification emoji")
    emoji_there = laptop.get_by_role("list", name="Verification emoji")
    await expect(emoji_here.get_by_role("listitem")).to_have_count(7)
    await expect(emoji_there.get_by_role("listitem")).to_have_count(7)
    assert await emoji_here.inner_text() == await emoji_there.inner_text()
    await screenshot(laptop, "verification-emoji")
    await page.get_by_role("button", name="They match").click()
    await laptop.get_by_role("button", name="They match").click()
    await expect(laptop.get_by_text("Session verified.")).to_be_visible()
    await expect(page.get_by_text("Session verified.")).to_be_visible()
    await laptop.get_by_role("button", name="Done").click()

    # The new session now shows as verified in both sessions' settings.
    await laptop.get_by_role("link", name="Settings").click()
    await expect(laptop.get_by_text("This session is verified.")).to_be_visible()
    await page.get_by_role("button", name="Done").click()
    await page.get_by_role("link", name="Settings").click()
    await expect(page.get_by_role("list", name="Sessions").get_by_text("Not verified")).to_have_count(0)
    await context.close()
