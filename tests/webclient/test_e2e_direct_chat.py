"""The issue's proof, part one: two people in two browsers, an end-to-end encrypted direct
chat with reactions, an edit, a reply, an image, receipts and typing; then a new session
verified with the recovery key reads the history from the key backup; and the server's
database never saw a message body."""

from __future__ import annotations

import io
import re

from PIL import Image
from playwright.async_api import Browser, Page, expect

from tests.webclient.conftest import new_context, screenshot
from tests.webclient.helpers import (
    database_rows_containing, message_action, message_item, messages, open_room, register, send, sign_in,
    verify_with_recovery_key, wait_for_backed_up_keys,
)

SECRET = "The launch code is 4-8-15"
EDITED = "The launch code is 4-8-15-16"
REPLY = "Roger that, launching"
ANSWER = "Got it, safe with me"


def _png(width: int = 64, height: int = 48) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 200)).save(out, format="PNG")
    return out.getvalue()


async def test_encrypted_direct_chat_between_two_browsers(browser: Browser, page: Page, make_server) -> None:
    server = await make_server()
    alice = page
    recovery_key = await register(alice, server.url, "alice")
    bob_context = await new_context(browser)
    bob = await bob_context.new_page()
    await register(bob, server.url, "bob")

    # Alice starts an encrypted direct chat and writes first.
    await alice.get_by_role("button", name="New chat").click()
    await alice.get_by_role("textbox", name="User ID").fill("@bob:test.local")
    await alice.get_by_role("button", name="Start chat").click()
    await expect(alice.get_by_text("End-to-end encrypted")).to_be_visible()
    await send(alice, SECRET)
    await expect(message_item(alice, SECRET)).to_be_visible()

    # Bob accepts the invitation and reads it decrypted.
    await bob.get_by_role("navigation", name="Rooms").get_by_role("link").first.click()
    await bob.get_by_role("button", name="Accept").click()
    await expect(message_item(bob, SECRET)).to_be_visible()

    # Typing shows on the other side; receipts as small avatars.
    await bob.get_by_role("textbox", name="Message").fill("Got")
    await expect(alice.get_by_role("status").filter(has_text="bob is typing…")).to_be_visible()
    await bob.get_by_role("textbox", name="Message").fill(ANSWER)
    await bob.get_by_role("button", name="Send", exact=True).click()
    await expect(message_item(alice, ANSWER)).to_be_visible()
    await expect(alice.get_by_role("status").filter(has_text="is typing")).to_have_count(0)
    await expect(messages(bob).get_by_role("img", name=re.compile("^Read by @?alice"))).to_be_visible()

    # A reaction.
    await message_action(alice, ANSWER, "React")
    await alice.get_by_role("button", name="React with thumbs up").click()
    await expect(message_item(bob, ANSWER).get_by_role("button", name="👍 1")).to_be_visible()

    # An edit, shown as edited.
    await message_action(alice, SECRET, "Edit")
    await alice.get_by_role("textbox", name="Message").fill(EDITED)
    await alice.get_by_role("textbox", name="Message").press("Enter")
    await expect(message_item(bob, EDITED)).to_contain_text("(edited)")

    # A reply, quoting the message it answers.
    await message_action(bob, EDITED, "Reply")
    await send(bob, REPLY)
    reply = message_item(alice, REPLY)
    await expect(reply.get_by_role("blockquote")).to_contain_text(EDITED)

    # An image, encrypted before upload, shown as a thumbnail that opens full size.
    async with alice.expect_file_chooser() as chooser:
        await alice.get_by_role("button", name="Attach file").click()
    await (await chooser.value).set_files({"name": "diagram.png", "mimeType": "image/png", "buffer": _png()})
    image = messages(bob).get_by_role("img", name="diagram.png")
    await expect(image).to_be_visible()
    assert await image.evaluate("img => img.naturalWidth") == 64
    await messages(bob).get_by_role("button", name="Open image diagram.png").click()
    await expect(bob.get_by_role("dialog", name="diagram.png").get_by_role("img", name="diagram.png")).to_be_visible()
    await bob.get_by_role("button", name="Close").click()
    await screenshot(bob, "conversation")

    # A third browser: Alice on a new session, verified with her recovery key, reads the
    # earlier history from the key backup.
    await wait_for_backed_up_keys(server.hearth.db, "@alice:test.local", 1)
    third_context = await new_context(browser)
    third = await third_context.new_page()
    await sign_in(third, server.url, "alice")
    await verify_with_recovery_key(third, recovery_key)
    await open_room(third, "bob")
    await expect(message_item(third, EDITED)).to_be_visible()
    await expect(message_item(third, ANSWER)).to_be_visible()
    await expect(messages(third).get_by_text("Unable to decrypt")).to_have_count(0)

    # The server stored ciphertext only.
    for needle in (SECRET, EDITED, REPLY, ANSWER, "diagram.png", "launch"):
        assert await database_rows_containing(server.hearth.db, needle) == [], needle
    # ...and the attachment it holds is not the image: opaque bytes, no PNG header.
    from storage.media_files import MediaFiles

    files = MediaFiles(server.hearth.config.path(server.hearth.config.media.store_path))
    uploads = await server.hearth.db.fetch("SELECT content_type, sha256 FROM media WHERE user_id = $1", "@alice:test.local")
    assert uploads and all(row["content_type"] == "application/octet-stream" for row in uploads)
    assert all(not files.path(row["sha256"]).read_bytes().startswith(b"\x89PNG") for row in uploads)
    await bob_context.close()
    await third_context.close()

