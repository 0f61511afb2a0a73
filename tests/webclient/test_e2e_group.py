"""The issue's proof, part two: a group of three, encrypted from the first message, whose
name and topic are encrypted state (MSC4362): the members read them, the server cannot."""

from __future__ import annotations

from playwright.async_api import Browser, Page, expect

from tests.webclient.conftest import new_context, screenshot
from tests.webclient.helpers import database_rows_containing, message_item, open_room, register, send

ROOM = "Operation Nightingale"
TOPIC = "Where we meet on Friday"


async def test_encrypted_group_of_three_with_encrypted_name(browser: Browser, page: Page, make_server) -> None:
    server = await make_server()
    alice = page
    await register(alice, server.url, "alice")
    others = {}
    for name in ("bob", "carol"):
        context = await new_context(browser)
        others[name] = await context.new_page()
        await register(others[name], server.url, name)

    await alice.get_by_role("button", name="New room").click()
    await alice.get_by_role("textbox", name="Room name").fill(ROOM)
    await alice.get_by_role("textbox", name="Topic").fill(TOPIC)
    await alice.get_by_role("textbox", name="Invite people").fill("@bob:test.local @carol:test.local")
    await expect(alice.get_by_role("checkbox", name="Encrypted")).to_be_checked()
    await alice.get_by_role("button", name="Create room").click()
    await expect(alice.get_by_role("heading", name=ROOM)).to_be_visible()
    await expect(alice.locator("p.topic")).to_contain_text(TOPIC)
    await send(alice, "Welcome, both of you")

    for name, member in others.items():
        invite = member.get_by_role("navigation", name="Rooms").get_by_role("link").first
        await invite.click()
        await member.get_by_role("button", name="Accept").click()
        # After joining, the encrypted name and topic decrypt.
        await expect(member.get_by_role("heading", name=ROOM)).to_be_visible()
        await expect(member.locator("p.topic")).to_contain_text(TOPIC)
        await expect(message_item(member, "Welcome, both of you")).to_be_visible()
        await send(member, f"{name} is here")

    for reader in (alice, others["bob"], others["carol"]):
        for name in others:
            await expect(message_item(reader, f"{name} is here")).to_be_visible()
    await open_room(others["carol"], ROOM)
    await screenshot(alice, "group")

    # Enough later events push the encrypted name out of a fresh sync's timeline window, so
    # after a reload it comes in the sync's state block, which the client decrypts itself.
    carol_api = await server.client.login("carol")
    room_id = (await carol_api.get("/_matrix/client/v3/joined_rooms")).body["joined_rooms"][0]
    for i in range(30):
        sent = await carol_api.put(f"/_matrix/client/v3/rooms/{room_id}/send/m.room.message/filler{i}",
                                   {"msgtype": "m.notice", "body": f"filler {i}"})
        assert sent.status == 200
    await others["bob"].reload()
    await expect(others["bob"].get_by_role("navigation", name="Rooms").get_by_role("link", name=ROOM)).to_be_visible()

    for needle in (ROOM, TOPIC, "Welcome, both of you", "is here"):
        assert await database_rows_containing(server.hearth.db, needle) == [], needle
    for member in others.values():
        await member.context.close()
