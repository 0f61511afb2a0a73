"""Steps a person takes in the web client, by role and accessible name."""

from __future__ import annotations

from playwright.async_api import Page, expect

PASSWORD = "correct horse battery"


async def register(page: Page, url: str, username: str, password: str = PASSWORD, token: str | None = None) -> str:
    """Creates an account and returns the recovery key shown once at first sign-in."""
    await page.goto(url + "/")
    await page.get_by_role("button", name="Create account").click()
    form = page.get_by_role("form", name="Create account")
    await form.get_by_role("textbox", name="Username").fill(username)
    await form.get_by_label("Password", exact=True).fill(password)
    await form.get_by_label("Confirm password").fill(password)
    if token is not None:
        await form.get_by_role("textbox", name="Registration token").fill(token)
    await form.get_by_role("button", name="Create account").click()
    return await save_recovery_key(page)


async def save_recovery_key(page: Page) -> str:
    key_box = page.get_by_role("textbox", name="Recovery key")
    await expect(key_box).to_be_visible()
    await expect(key_box).to_have_attribute("readonly", "")
    key = await key_box.input_value()
    assert len(key.split()) >= 12, key
    await page.get_by_role("button", name="Continue").click()
    await expect(page.get_by_role("navigation", name="Rooms")).to_be_visible()
    return key


async def sign_in(page: Page, url: str, username: str, password: str = PASSWORD, *, sign_out_others: bool = False) -> None:
    await page.goto(url + "/")
    await page.get_by_role("textbox", name="Username").fill(username)
    await page.get_by_label("Password", exact=True).fill(password)
    if sign_out_others:
        await page.get_by_role("checkbox", name="Sign out my other sessions").check()
    await page.get_by_role("button", name="Sign in").click()


async def verify_with_recovery_key(page: Page, key: str) -> None:
    await page.get_by_role("button", name="Verify with recovery key").click()
    await page.get_by_role("textbox", name="Recovery key").fill(key)
    await page.get_by_role("button", name="Verify", exact=True).click()
    await expect(page.get_by_role("dialog")).to_have_count(0)


async def open_room(page: Page, name: str) -> None:
    await page.get_by_role("navigation", name="Rooms").get_by_role("link", name=name, exact=True).click()
    await expect(page.get_by_role("heading", name=name, exact=True)).to_be_visible()


async def send(page: Page, text: str) -> None:
    await page.get_by_role("textbox", name="Message").fill(text)
    await page.get_by_role("button", name="Send", exact=True).click()


def messages(page: Page):
    return page.get_by_role("log", name="Messages")


def message_item(page: Page, text: str):
    """The timeline entry holding ``text``."""
    return messages(page).get_by_role("listitem").filter(has_text=text).last


async def message_action(page: Page, text: str, action: str) -> None:
    item = message_item(page, text)
    await item.hover()
    await item.get_by_role("button", name=action, exact=True).click()


async def database_rows_containing(db, needle: str) -> list[str]:
    """Every table (and row prefix) of a Hearth database whose text holds ``needle``."""
    if db.dialect == "sqlite":
        tables = [r["name"] for r in await db.fetch("SELECT name FROM sqlite_master WHERE type = 'table'")]
    else:
        tables = [r["table_name"] for r in await db.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")]
    found = []
    for table in tables:
        for row in await db.fetch(f'SELECT * FROM "{table}"'):
            text = " ".join(v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in dict(row).values())
            if needle.lower() in text.lower():
                found.append(f"{table}: {text[:200]}")
    return found


async def wait_for_backed_up_keys(db, user_id: str, room_count: int, timeout: float = 30.0) -> None:
    """Waits until the user's key backup holds room keys for ``room_count`` rooms (a client
    uploads its keys a few seconds after it makes them)."""
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        rooms = await db.fetchval("SELECT COUNT(DISTINCT room_id) FROM key_backup_sessions WHERE user_id = $1", user_id)
        if rooms >= room_count:
            return
        assert loop.time() < deadline, f"{user_id} backed up keys of {rooms} rooms, not {room_count}"
        await asyncio.sleep(0.2)
