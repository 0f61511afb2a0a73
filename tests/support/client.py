"""A small Matrix client for tests: raw HTTP with helpers for common steps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp


@dataclass
class Response:
    status: int
    body: Any
    headers: Any

    @property
    def errcode(self) -> str | None:
        return self.body.get("errcode") if isinstance(self.body, dict) else None


class MatrixClient:
    """Talks to one server; ``token`` is sent when set."""

    def __init__(self, base_url: str, session: aiohttp.ClientSession, token: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session
        self.token = token
        self.user_id: str | None = None
        self.device_id: str | None = None

    def as_user(self, token: str | None) -> "MatrixClient":
        return MatrixClient(self.base_url, self.session, token)

    async def request(
        self,
        method: str,
        path: str,
        json: Any = None,
        *,
        data: bytes | str | None = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        token: str | None = ...,  # type: ignore[assignment]
    ) -> Response:
        hdrs = dict(headers or {})
        use_token = self.token if token is ... else token
        if use_token is not None:
            hdrs["Authorization"] = f"Bearer {use_token}"
        kwargs: dict[str, Any] = {"headers": hdrs, "params": params}
        if json is not None:
            kwargs["json"] = json
        elif data is not None:
            kwargs["data"] = data
        async with self.session.request(method, self.base_url + path, **kwargs) as resp:
            raw = await resp.read()
            try:
                body: Any = await resp.json(content_type=None) if raw else None
            except ValueError:
                body = raw.decode("utf-8", "replace")
            return Response(resp.status, body, resp.headers)

    async def get(self, path: str, **kw: Any) -> Response:
        return await self.request("GET", path, **kw)

    async def post(self, path: str, json: Any = None, **kw: Any) -> Response:
        return await self.request("POST", path, json, **kw)

    async def put(self, path: str, json: Any = None, **kw: Any) -> Response:
        return await self.request("PUT", path, json, **kw)

    async def delete(self, path: str, json: Any = None, **kw: Any) -> Response:
        return await self.request("DELETE", path, json, **kw)

    # -- account helpers ----------------------------------------------------------------

    async def register(self, username: str, password: str = "correct horse battery", **extra: Any) -> "MatrixClient":
        """Register through the dummy flow (open registration) and return a logged-in client."""
        body = {"username": username, "password": password, "auth": {"type": "m.login.dummy"}, **extra}
        resp = await self.post("/_matrix/client/v3/register", body, token=None)
        assert resp.status == 200, resp.body
        client = self.as_user(resp.body.get("access_token"))
        client.user_id = resp.body["user_id"]
        client.device_id = resp.body.get("device_id")
        return client

    async def login(self, user: str, password: str = "correct horse battery", **extra: Any) -> "MatrixClient":
        body = {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": user},
            "password": password,
            **extra,
        }
        resp = await self.post("/_matrix/client/v3/login", body, token=None)
        assert resp.status == 200, resp.body
        client = self.as_user(resp.body["access_token"])
        client.user_id = resp.body["user_id"]
        client.device_id = resp.body["device_id"]
        return client
