"""A real client library through the OAuth 2.0 API: matrix-js-sdk's OIDC support in Node
(discovery, dynamic registration, the authorization URL, the code grant) with Hearth's
sign-in page filled in by Playwright in Debian's Chromium, a TOTP code from pyotp
included; the token it gets then syncs and sends. Screenshots land in
``test-artifacts/oauth/``."""

from __future__ import annotations

import asyncio
import fcntl
import json
import subprocess
import time
from pathlib import Path

import pyotp
import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import async_playwright

from homeserver.app import HEARTH_KEY, create_app
from homeserver.clock import FakeClock
from tests.conftest import make_config
from tests.support.ports import free_port

pytestmark = [pytest.mark.slow, pytest.mark.browser]

HARNESS = Path(__file__).resolve().parent
ARTIFACTS = HARNESS.parents[1] / "test-artifacts" / "oauth"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]
REDIRECT = "https://app.example.com/callback"
PASSWORD = "correct horse battery"


def npm_ci() -> None:
    """``npm ci`` from the committed lockfile, once for all test processes."""
    with open(HARNESS / ".npm-ci.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        installed = HARNESS / "node_modules" / ".package-lock.json"
        if installed.exists() and installed.stat().st_mtime >= (HARNESS / "package-lock.json").stat().st_mtime:
            return
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=HARNESS, check=True,
                       timeout=600)


async def read_json_line(stream: asyncio.StreamReader) -> dict:
    line = await asyncio.wait_for(stream.readline(), timeout=120)
    assert line, "the Node harness ended early"
    return json.loads(line)


async def test_matrix_js_sdk_signs_in_with_a_totp_code_then_syncs_and_sends(database_url, tmp_path):
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: run scripts/ensure-chromium.sh"
    await asyncio.to_thread(npm_ci)
    clock = FakeClock(start_ms=int(time.time() * 1000))  # real time (ID tokens expire), moved by hand for TOTP
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = make_config(database_url, tmp_path, public_baseurl=f"{base}/", oauth={"enabled": True})
    server = TestServer(create_app(config, clock=clock), host="127.0.0.1", port=port)
    await server.start_server()
    node = None
    try:
        hearth = server.app[HEARTH_KEY]
        await hearth.accounts.create_user("alice", PASSWORD)
        enrolment = await hearth.second_factor.begin_enrolment("@alice:test.local")
        totp = pyotp.TOTP(enrolment.secret)
        await hearth.second_factor.confirm_enrolment("@alice:test.local", totp.at(clock.time_ms() / 1000))
        clock.advance(30)

        node = await asyncio.create_subprocess_exec(
            "node", str(HARNESS / "oidc_login.mjs"), base, REDIRECT, cwd=HARNESS,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )
        started = await read_json_line(node.stdout)
        callback = await sign_in_in_chromium(started["authorizationUrl"], totp.at(clock.time_ms() / 1000))
        query = dict(pair.split("=", 1) for pair in callback.split("?", 1)[1].split("&"))
        node.stdin.write(json.dumps({"code": query["code"], "state": query["state"]}).encode() + b"\n")
        await node.stdin.drain()
        result = await read_json_line(node.stdout)
        assert await asyncio.wait_for(node.wait(), timeout=30) == 0

        assert result["userId"] == "@alice:test.local" and result["idTokenSubject"] == "@alice:test.local"
        assert result["issuer"] == f"{base}/" and result["clientId"] == started["clientId"]
        assert result["hasRefreshToken"] is True
        assert f"urn:matrix:org.matrix.msc2967.client:device:{result['deviceId']}" in result["scope"].split(" ")
        assert result["syncedMessage"] == "hello from matrix-js-sdk over OAuth"
        devices = await hearth.devices.list_devices("@alice:test.local")
        assert [d.display_name for d in devices if d.device_id == result["deviceId"]] == ["js-sdk test client"]
    finally:
        if node is not None and node.returncode is None:
            node.kill()
            await node.wait()
        await server.close()


async def sign_in_in_chromium(authorization_url: str, code: str) -> str:
    """A person signs in on Hearth's page and allows the client: the callback URL reached."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, timeout=60_000)
        try:
            page = await browser.new_page()
            page.set_default_timeout(30_000)
            page.on("console", lambda message: problems.append(message.text))
            page.on("pageerror", lambda error: problems.append(str(error)))
            await page.route("https://app.example.com/**", lambda route: route.fulfill(
                status=200, content_type="text/html", body="<!doctype html><title>App</title><p>Back in the app"))
            await page.goto(authorization_url)
            await page.get_by_role("textbox", name="Username").fill("alice")
            await page.get_by_role("textbox", name="Password").fill(PASSWORD)
            await page.screenshot(path=str(ARTIFACTS / "1-sign-in.png"))
            await page.get_by_role("button", name="Sign in").click()
            await page.get_by_role("textbox", name="Code").fill(code)
            await page.screenshot(path=str(ARTIFACTS / "2-code.png"))
            await page.get_by_role("button", name="Sign in").click()
            allow = page.get_by_role("button", name="Allow")
            await allow.wait_for()
            await page.screenshot(path=str(ARTIFACTS / "3-consent.png"))
            await allow.click()
            await page.wait_for_url("https://app.example.com/callback?**")
            url = page.url
        finally:
            await browser.close()
    assert not problems, f"the pages complained: {problems}"
    return url
