"""Browser notifications while the tab is hidden, as the user's push rules decide."""

from __future__ import annotations

from playwright.async_api import Browser, Page, expect

from tests.webclient.conftest import new_context
from tests.webclient.helpers import register, send

# Stands in for the browser's notification centre and for a hidden tab (set before the app loads).
_SPY = """
window.__shown = [];
window.__hidden = false;
class FakeNotification {
  static permission = "granted";
  static requestPermission() { return Promise.resolve("granted"); }
  constructor(title, options) { window.__shown.push({ title, body: options && options.body }); }
  close() {}
}
window.Notification = FakeNotification;
Object.defineProperty(document, "visibilityState", { get: () => (window.__hidden ? "hidden" : "visible") });
"""


async def test_direct_message_notifies_while_hidden(browser: Browser, make_server) -> None:
    server = await make_server()
    alice_context = await new_context(browser)
    await alice_context.add_init_script(_SPY)
    alice = await alice_context.new_page()
    await register(alice, server.url, "alice")
    bob_context = await new_context(browser)
    bob = await bob_context.new_page()
    await register(bob, server.url, "bob")

    await alice.get_by_role("link", name="Settings").click()
    await alice.get_by_role("checkbox", name="Notify me of direct messages and mentions while Hearth is in the background").check()
    await bob.get_by_role("button", name="New chat").click()
    await bob.get_by_role("textbox", name="User ID").fill("@alice:test.local")
    await bob.get_by_role("button", name="Start chat").click()
    await send(bob, "Seen while visible")
    rooms = alice.get_by_role("navigation", name="Rooms")
    await rooms.get_by_role("link").first.click()
    await alice.get_by_role("button", name="Accept").click()
    await expect(alice.get_by_role("log", name="Messages").get_by_text("Seen while visible")).to_be_visible()
    assert await alice.evaluate("window.__shown") == []

    await alice.evaluate("window.__hidden = true")
    await send(bob, "Are you there?")
    # (The page's CSP forbids evaluating strings, so poll from here.)
    for _ in range(150):
        shown = await alice.evaluate("window.__shown.map(n => n.body)")
        if shown:
            break
        await alice.wait_for_timeout(200)
    assert shown == ["Are you there?"]
    await alice_context.close()
    await bob_context.close()
