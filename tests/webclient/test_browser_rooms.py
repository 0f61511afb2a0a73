"""Conversations in the browser: the room list, direct chats, groups, invitations, joining, leaving."""

from __future__ import annotations

import re

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


async def test_room_list_groups_directory_invitations_and_leaving(browser: Browser, page: Page, make_server) -> None:
    server = await make_server()
    alice = page
    await register(alice, server.url, "alice")
    bob_context = await new_context(browser)
    bob = await bob_context.new_page()
    await register(bob, server.url, "bob")
    bob_api = await server.client.login("bob")

    # A public room in the directory, with an alias, made by Bob through the API.
    public = await bob_api.post("/_matrix/client/v3/createRoom", {
        "preset": "public_chat", "visibility": "public", "name": "Town square", "room_alias_name": "square", "topic": "Everyone"})
    assert public.status == 200, public.body
    await bob_api.post("/_matrix/client/v3/createRoom", {"preset": "public_chat", "name": "Book club", "room_alias_name": "books"})

    # Join from the directory.
    await alice.get_by_role("button", name="Join room").click()
    await alice.get_by_role("textbox", name="Search the room directory").fill("town")
    await alice.get_by_role("button", name="Search directory").click()
    await alice.get_by_role("button", name="Join Town square").click()
    await expect(alice.get_by_role("heading", name="Town square")).to_be_visible()
    # Join by alias.
    await alice.get_by_role("button", name="Join room").click()
    await alice.get_by_role("textbox", name="Room address").fill("#books:test.local")
    await alice.get_by_role("button", name="Join", exact=True).click()
    await expect(alice.get_by_role("heading", name="Book club")).to_be_visible()

    # An unencrypted group with the checkbox cleared.
    await alice.get_by_role("button", name="New room").click()
    await alice.get_by_role("textbox", name="Room name").fill("Open plans")
    await alice.get_by_role("checkbox", name="Encrypted").uncheck()
    await alice.get_by_role("button", name="Create room").click()
    await expect(alice.get_by_text("Not encrypted")).to_be_visible()
    await send(alice, "plain words")

    # The list is sorted by latest activity: a message in Town square moves it to the top.
    rooms = alice.get_by_role("navigation", name="Rooms")
    await expect(rooms.get_by_role("link").first).to_have_accessible_name("Open plans")
    sent = await bob_api.put(f"/_matrix/client/v3/rooms/{public.body['room_id']}/send/m.room.message/t1",
                             {"msgtype": "m.text", "body": "News from the square"})
    assert sent.status == 200
    await expect(rooms.get_by_role("link").first).to_have_accessible_name("Town square")
    # ...with its preview and unread count.
    square = rooms.get_by_role("link", name="Town square")
    await expect(square).to_have_accessible_description(re.compile(r"bob\S*: News from the square\s*, 1 unread"))
    # Filtering by name.
    await alice.get_by_role("searchbox", name="Filter rooms").fill("book")
    await expect(rooms.get_by_role("link")).to_have_count(1)
    await alice.get_by_role("searchbox", name="Filter rooms").fill("")

    # An invitation: declined; another: accepted. Invite from the room header.
    await open_room(alice, "Open plans")
    await alice.get_by_role("button", name="Invite").click()
    await alice.get_by_role("textbox", name="User ID").fill("@bob:test.local")
    await alice.get_by_role("button", name="Invite").last.click()
    bob_rooms = bob.get_by_role("navigation", name="Rooms")
    await bob_rooms.get_by_role("link", name="Open plans").click()
    await bob.get_by_role("button", name="Decline").click()
    await expect(bob_rooms.get_by_role("link", name="Open plans")).to_have_count(0)
    await screenshot(alice, "room-list")

    # Leaving.
    await open_room(alice, "Book club")
    await alice.get_by_role("button", name="Room options").click()
    await alice.get_by_role("menuitem", name="Leave room").click()
    await expect(rooms.get_by_role("link", name="Book club")).to_have_count(0)
    await bob_context.close()
