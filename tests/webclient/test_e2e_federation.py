"""The issue's proof, part three: an encrypted chat between users of two federating Hearths,
each in the browser of their own server; neither database holds the plaintext."""

from __future__ import annotations

import dataclasses

from playwright.async_api import Browser, Page, expect

from homeserver.config import Config
from tests.federation.conftest import federation  # noqa: F401  (the fixture)
from tests.webclient.conftest import new_context, screenshot
from tests.webclient.helpers import database_rows_containing, message_item, register, send

#: Federation peers here live on loopback, which an outbound IP policy denies by default.
LOOPBACK = {"outbound": {"allow_ranges": ["127.0.0.0/8", "::1/128"]}} \
    if "outbound" in {f.name for f in dataclasses.fields(Config)} else {}


async def test_encrypted_chat_across_two_servers(browser: Browser, page: Page, federation) -> None:  # noqa: F811
    hs1, hs2 = await federation("hs1.test", "hs2.test", overrides={"hs1.test": dict(LOOPBACK), "hs2.test": dict(LOOPBACK)})
    alice = page
    await register(alice, hs1.client.base_url, "alice")
    dave_context = await new_context(browser)
    dave = await dave_context.new_page()
    await register(dave, hs2.client.base_url, "dave")

    await alice.get_by_role("button", name="New chat").click()
    await alice.get_by_role("textbox", name="User ID").fill("@dave:hs2.test")
    await alice.get_by_role("button", name="Start chat").click()
    await expect(alice.get_by_text("End-to-end encrypted")).to_be_visible()

    await dave.get_by_role("navigation", name="Rooms").get_by_role("link").first.click()
    await dave.get_by_role("button", name="Accept").click()
    await expect(dave.get_by_role("log", name="Messages")).to_be_visible()
    await send(alice, "Greetings across servers")
    await expect(message_item(dave, "Greetings across servers")).to_be_visible()
    await send(dave, "Loud and clear from hs2")
    await expect(message_item(alice, "Loud and clear from hs2")).to_be_visible()
    await screenshot(dave, "federated-chat")

    for server in (hs1, hs2):
        for needle in ("Greetings across servers", "Loud and clear"):
            assert await database_rows_containing(server.hearth.db, needle) == [], (server.name, needle)
    await dave_context.close()
