"""The timeline and the tools around it: deletions, threads, scroll back, jump to the first
unread, search (server and local), clear history for me, the unread count in the title,
presence, themes, a phone-sized screen and the keyboard alone."""

from __future__ import annotations

import re

from playwright.async_api import Browser, Page, expect

from tests.webclient.conftest import new_context, screenshot
from tests.webclient.helpers import (
    message_action, message_item, messages, open_room, register, send, verify_with_recovery_key,
    wait_for_backed_up_keys,
)

V3 = "/_matrix/client/v3"


async def _room_with_bob(browser: Browser, page: Page, server, *, encrypted: bool, name: str):
    await register(page, server.url, "alice")
    bob_context = await new_context(browser)
    bob = await bob_context.new_page()
    await register(bob, server.url, "bob")
    await page.get_by_role("button", name="New room").click()
    await page.get_by_role("textbox", name="Room name").fill(name)
    await page.get_by_role("textbox", name="Invite people").fill("@bob:test.local")
    if not encrypted:
        await page.get_by_role("checkbox", name="Encrypted").uncheck()
    await page.get_by_role("button", name="Create room").click()
    await expect(page.get_by_role("heading", name=name)).to_be_visible()
    await bob.get_by_role("navigation", name="Rooms").get_by_role("link").first.click()
    await bob.get_by_role("button", name="Accept").click()
    await expect(bob.get_by_role("heading", name=name)).to_be_visible()
    return bob


async def test_deletions_threads_search_and_clear_history(browser: Browser, page: Page, make_server) -> None:
    server = await make_server()
    alice = page
    bob = await _room_with_bob(browser, alice, server, encrypted=True, name="Kitchen")
    await send(alice, "Who wants pizza tonight?")
    await send(alice, "Oops, wrong room")
    await expect(message_item(bob, "Oops, wrong room")).to_be_visible()

    # A deletion shows as deleted on both sides.
    await message_action(alice, "Oops, wrong room", "Delete")
    await expect(messages(bob).get_by_text("Message deleted")).to_be_visible()
    await expect(messages(bob).get_by_text("Oops, wrong room")).to_have_count(0)

    # A thread: Bob replies in a thread; Alice sees the summary and opens it.
    await message_action(bob, "Who wants pizza tonight?", "Reply in thread")
    thread = bob.get_by_role("complementary", name="Thread")
    await thread.get_by_role("textbox", name="Reply in thread").fill("Me! Pepperoni please")
    await thread.get_by_role("button", name="Send reply").click()
    await expect(thread.get_by_role("log", name="Thread messages").get_by_text("Me! Pepperoni please")).to_be_visible()
    summary = message_item(alice, "Who wants pizza tonight?").get_by_role("button", name="1 reply in thread")
    await summary.click()
    await expect(alice.get_by_role("log", name="Thread messages").get_by_text("Me! Pepperoni please")).to_be_visible()
    await alice.get_by_role("button", name="Close thread").click()

    # Search in an encrypted room runs over the decrypted history in the browser.
    await alice.get_by_role("button", name="Search messages").click()
    await alice.get_by_role("textbox", name="Search", exact=True).fill("pizza")
    await alice.get_by_role("button", name="Find").click()
    results = alice.get_by_role("list", name="Search results")
    await expect(results.locator("mark")).to_have_text(["pizza"])
    await expect(alice.get_by_text("Encrypted room: searched in this browser only.")).to_be_visible()
    await alice.get_by_role("button", name="Close search").click()

    # Clear history for me: gone for Alice (on every device), still there for Bob.
    await alice.get_by_role("button", name="Room options").click()
    await alice.get_by_role("menuitem", name="Clear history for me").click()
    await expect(messages(alice).get_by_text("Who wants pizza tonight?")).to_have_count(0)
    await alice.reload()
    await open_room(alice, "Kitchen")
    await expect(messages(alice).get_by_role("heading", name="x")).to_have_count(0)
    await expect(messages(alice).get_by_text("Who wants pizza tonight?")).to_have_count(0)
    await expect(message_item(bob, "Who wants pizza tonight?")).to_be_visible()
    await send(bob, "After the clearing")
    await expect(message_item(alice, "After the clearing")).to_be_visible()
    await bob.context.close()


async def test_server_search_scroll_back_unread_title_and_presence(browser: Browser, page: Page, make_server) -> None:
    server = await make_server()
    alice = page
    bob = await _room_with_bob(browser, alice, server, encrypted=False, name="Lobby")
    bob_api = await server.client.login("bob")
    room_id = (await bob_api.get(f"{V3}/joined_rooms")).body["joined_rooms"][0]

    # Presence: Bob is online, shown beside him in the people list.
    await alice.get_by_role("button", name="People").click()
    await expect(alice.get_by_role("complementary", name="People").get_by_role("img", name="Online")).to_have_count(2)
    await alice.get_by_role("button", name="Close people").click()

    # Alice goes elsewhere; Bob writes a long history: the title counts the unread messages.
    await alice.goto(server.url + "/#/")
    for i in range(45):
        resp = await bob_api.put(f"{V3}/rooms/{room_id}/send/m.room.message/h{i}", {"msgtype": "m.text", "body": f"history line {i}"})
        assert resp.status == 200
    await expect(alice).to_have_title(re.compile(r"^\(45\) Hearth$"))

    # Opening the room: the newest messages; the first unread is a jump away; older ones by scrolling back.
    await open_room(alice, "Lobby")
    await expect(message_item(alice, "history line 44")).to_be_visible()
    await alice.get_by_role("button", name="Jump to first unread").click()
    await expect(message_item(alice, "history line 0")).to_be_visible()
    await expect(alice.get_by_role("separator", name="New messages")).to_be_visible()
    await expect(alice).to_have_title("Hearth")

    # Server-side search in an unencrypted room, matches in <mark>.
    await alice.get_by_role("button", name="Search messages").click()
    await alice.get_by_role("textbox", name="Search", exact=True).fill("line 17")
    await alice.get_by_role("button", name="Find").click()
    await expect(alice.get_by_role("list", name="Search results").locator("mark")).to_have_text(["line 17"])
    await expect(alice.get_by_text("Searched on the server.")).to_be_visible()
    await bob.context.close()


async def test_theme_phone_layout_and_keyboard(browser: Browser, page: Page, make_server) -> None:
    server = await make_server()
    recovery_key = await register(page, server.url, "alice")
    # Keyboard only: open "New room", type, tick nothing, submit with Enter.
    await page.get_by_role("button", name="New room").focus()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("dialog", name="New room")).to_be_visible()
    await page.keyboard.type("Keyboard room")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Keyboard room")).to_be_visible()
    await expect(page.get_by_role("textbox", name="Message")).to_be_visible()
    await page.get_by_role("textbox", name="Message").focus()
    await page.keyboard.type("typed without a mouse")
    await page.keyboard.press("Enter")
    await expect(message_item(page, "typed without a mouse")).to_be_visible()

    # Dark theme, chosen in the settings, kept across a reload.
    await page.get_by_role("link", name="Settings").click()
    await page.get_by_role("radio", name="Dark").check()
    await page.reload()
    assert await page.evaluate("document.documentElement.dataset.theme") == "dark"
    await screenshot(page, "settings-dark")

    # A phone-sized screen shows the list or the room, with a way back. (A new session, verified
    # with the recovery key, once the first one has backed up the room's key.)
    await wait_for_backed_up_keys(server.hearth.db, "@alice:test.local", 1)
    phone = await new_context(browser, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    mobile = await phone.new_page()
    await mobile.goto(server.url + "/")
    await mobile.get_by_role("textbox", name="Username").fill("alice")
    await mobile.get_by_label("Password", exact=True).fill("correct horse battery")
    await mobile.get_by_role("button", name="Sign in").click()
    await verify_with_recovery_key(mobile, recovery_key)
    await expect(mobile.get_by_role("navigation", name="Rooms")).to_be_visible()
    await screenshot(mobile, "phone-room-list")
    await mobile.get_by_role("navigation", name="Rooms").get_by_role("link", name="Keyboard room").click()
    await expect(mobile.get_by_role("navigation", name="Rooms")).to_be_hidden()
    await expect(mobile.get_by_role("textbox", name="Message")).to_be_visible()
    await screenshot(mobile, "phone-conversation")
    await mobile.get_by_role("button", name="Back to rooms").click()
    await expect(mobile.get_by_role("navigation", name="Rooms")).to_be_visible()
    await phone.close()


async def test_documents_by_drag_and_drop_download_decrypted(browser: Browser, page: Page, make_server) -> None:
    server = await make_server()
    alice = page
    bob = await _room_with_bob(browser, alice, server, encrypted=True, name="Papers")
    report = b"%PDF-1.4\n% a tiny report for the test\n"
    # Drop a file on the composer, as a person drags one from their desktop.
    data_transfer = await alice.evaluate_handle(
        "bytes => { const dt = new DataTransfer(); dt.items.add(new File([new Uint8Array(bytes)], 'report.pdf', { type: 'application/pdf' })); return dt; }",
        list(report))
    await alice.get_by_role("form", name="Composer").dispatch_event("drop", {"dataTransfer": data_transfer})
    download_button = messages(bob).get_by_role("button", name="Download report.pdf")
    await expect(download_button).to_be_visible()
    async with bob.expect_download() as download_info:
        await download_button.click()
    download = await download_info.value
    assert download.suggested_filename == "report.pdf"
    assert (await download.path()).read_bytes() == report
    await bob.context.close()
