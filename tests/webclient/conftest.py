"""Browser tests of the web client: Playwright driving Debian's Chromium against real Hearth
servers (the ``make_server`` and ``federation`` fixtures), finding elements by role and
accessible name. Screenshots land in ``test-artifacts/webclient/``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

import client_api.webclient as webclient

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "webclient"
#: Generous: the first load compiles the crypto wasm, and two cores are shared.
TIMEOUT_MS = 60_000
expect.set_options(timeout=30_000)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/webclient/test_browser" in item.nodeid or "/test_e2e" in item.nodeid:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.slow)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Debian's Chromium (installed by scripts/ensure-chromium.sh); a missing one fails the test."""
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: run scripts/ensure-chromium.sh"
    assert (webclient.DIST / "index.html").is_file(), "the web client is not built: run make webclient"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, timeout=TIMEOUT_MS)
        try:
            yield browser
        finally:
            await browser.close()


async def new_context(browser: Browser, **options) -> BrowserContext:
    """A fresh browser profile (its own storage and IndexedDB: another device)."""
    context = await browser.new_context(**options)
    context.set_default_timeout(TIMEOUT_MS)
    return context


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await new_context(browser)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if "Content Security Policy" in message.text else None)
    yield page
    await context.close()
    assert not errors, f"errors in the page: {errors}"


async def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path))
    return path
