"""Conversations in the browser: the room list, direct chats, groups, invitations, joining, leaving."""

from __future__ import annotations

from playwright.async_api import Browser, Page, expect

from tests.webclient.conftest import new_context, screenshot
from tests.webclient.helpers import messages, open_room, register, send


async def test_direct_chat_invitation_and_messages(browser: Browser, page: Page, make_server) -> None:
    server = await make_server()
    await register(page, server.url, "alice")
    bob_context = await new_context(browser)
    bob = await bob_context.new_page()
    await register(bob, server.url, "bob")

    await page.get_by_role("button", name="New chat").click()
    await page.get_by_role("textbox", name="User ID").fill("@bob:test.local")
    await page.get_by_role("button", name="Start chat").click()
    await expect(page.get_by_role("log", name="Messages")).to_be_visible()
    await send(page, "Hello Bob, this is secret")
    await expect(messages(page).get_by_text("Hello Bob, this is secret")).to_be_visible()

    rooms = bob.get_by_role("navigation", name="Rooms")
    await rooms.get_by_role("link", name="alice").click()
    await bob.get_by_role("button", name="Accept").click()
    await expect(messages(bob).get_by_text("Hello Bob, this is secret")).to_be_visible()
    await send(bob, "Hi Alice")
    await expect(messages(page).get_by_text("Hi Alice")).to_be_visible()
    await screenshot(page, "conversation")
    await bob_context.close()
