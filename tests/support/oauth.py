"""A scripted browser and public client for Hearth's OAuth 2.0 API (tests only): forms
are filled the way a person would, cookies kept in a jar, redirects inspected by hand."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
import pytest

from homeserver.clock import FakeClock

REDIRECT = "https://app.example.com/callback"
CLIENT_METADATA: dict[str, Any] = {
    "client_name": "Test App",
    "client_uri": "https://example.com/",
    "redirect_uris": [REDIRECT],
    "grant_types": ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"],
    "response_types": ["code"],
    "token_endpoint_auth_method": "none",
    "application_type": "web",
}
PASSWORD = "correct horse battery"


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def scope(device_id: str = "OAUTHDEVICE") -> str:
    return f"urn:matrix:client:api:* urn:matrix:client:device:{device_id}"


@dataclass
class Page:
    status: int
    text: str
    headers: Any

    @property
    def csrf(self) -> str:
        found = re.search(r'name="csrf" value="([^"]+)"', self.text)
        assert found, self.text
        return found.group(1)

    @property
    def location(self) -> str:
        return self.headers["Location"]


@dataclass
class Browser:
    """One person's browser: its own cookie jar."""

    base_url: str
    session: aiohttp.ClientSession = field(init=False)

    def __post_init__(self) -> None:
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))

    async def close(self) -> None:
        await self.session.close()

    async def get(self, path: str) -> Page:
        url = path if path.startswith("http") else self.base_url + path
        async with self.session.get(url, allow_redirects=False) as resp:
            return Page(resp.status, await resp.text(), resp.headers)

    async def post(self, path: str, data: dict[str, str], headers: dict[str, str] | None = None) -> Page:
        url = path if path.startswith("http") else self.base_url + path
        async with self.session.post(url, data=data, allow_redirects=False, headers=headers) as resp:
            return Page(resp.status, await resp.text(), resp.headers)

    async def sign_in(self, next_path: str, user: str = "alice", password: str = PASSWORD) -> Page:
        """From a redirect to the login page: fill in Username and Password, press Sign in."""
        form = await self.get(next_path)
        return await self.post("/_hearth/account/login", {
            "csrf": form.csrf, "next": parse_qs(urlsplit(next_path).query).get("next", ["/_hearth/account/"])[0],
            "username": user, "password": password,
        })

    async def consent(self, authorize_path: str, decision: str = "allow") -> Page:
        page = await self.get(authorize_path)
        assert page.status == 200, (page.status, page.text)
        return await self.post(authorize_path, {"csrf": page.csrf, "decision": decision})


def authorize_path(client_id: str, challenge: str, *, state: str = "xyzzy", device_id: str = "OAUTHDEVICE",
                   redirect_uri: str = REDIRECT, **extra: str) -> str:
    params = {
        "response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, "scope": scope(device_id),
        "state": state, "code_challenge": challenge, "code_challenge_method": "S256", "response_mode": "query",
        **extra,
    }
    return "/_hearth/oauth2/authorize?" + urlencode(params)


def same_url(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    return pa.path == pb.path and parse_qs(pa.query) == parse_qs(pb.query)


def callback_params(location: str) -> dict[str, str]:
    parts = urlsplit(location)
    return {k: v[0] for k, v in parse_qs(parts.fragment or parts.query).items()}


async def post_form(session: aiohttp.ClientSession, url: str, data: dict[str, str]) -> tuple[int, Any]:
    async with session.post(url, data=data) as resp:
        return resp.status, await resp.json(content_type=None)


async def register_client(session: aiohttp.ClientSession, base_url: str, **overrides: Any) -> str:
    async with session.post(f"{base_url}/_hearth/oauth2/register", json={**CLIENT_METADATA, **overrides}) as resp:
        body = await resp.json()
        assert resp.status == 201, body
        return str(body["client_id"])


async def log_in(browser: Browser, client_id: str, *, device_id: str = "OAUTHDEVICE",
                 user: str = "alice") -> tuple[str, str]:
    """The whole browser part of the authorization code flow: (code, verifier)."""
    verifier, challenge = pkce()
    path = authorize_path(client_id, challenge, device_id=device_id)
    first = await browser.get(path)
    if first.status != 200:  # not signed in yet
        assert first.status == 303, first.text
        signed_in = await browser.sign_in(first.location, user=user)
        assert signed_in.status == 303 and same_url(signed_in.location, path), (signed_in.location, path)
    allowed = await browser.consent(path)
    assert allowed.status == 303, allowed.text
    params = callback_params(allowed.location)
    assert allowed.location.startswith(REDIRECT) and params["state"] == "xyzzy", allowed.location
    return params["code"], verifier


async def exchange(session: aiohttp.ClientSession, base_url: str, client_id: str, code: str, verifier: str,
                   redirect_uri: str = REDIRECT) -> tuple[int, Any]:
    return await post_form(session, f"{base_url}/_hearth/oauth2/token", {
        "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
        "client_id": client_id, "code_verifier": verifier,
    })


# -- fixtures for tests of a server with OAuth on, on a clock that moves only when told --


@pytest.fixture
async def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def oauth_server(make_server: Any, clock: FakeClock) -> Any:
    """A server with OAuth on and an account ``alice``."""
    server = await make_server(clock=clock, oauth={"enabled": True})
    await server.client.register("alice")
    return server


@pytest.fixture
async def browser(oauth_server: Any) -> Any:
    """A form-filling browser stand-in on ``oauth_server``."""
    browser = Browser(oauth_server.url)
    yield browser
    await browser.close()
