"""Malformed values in every path parameter, query parameter and JSON field of the
Client-Server API never make Hearth answer 5xx (issue 12, "Proof").

What is driven: every operation of the spec's Client-Server API
(``client_server_surface.json``, written from the spec's OpenAPI definitions by
``scripts/fuzz_surface.py``: paths, path and query parameters, request examples
and the fields their schemas name), plus every route in Hearth's own route
table that the spec does not list (admin API, legacy media), so new routes are
fuzzed without anyone adding them here. Each request replaces one value with
one from a fixed corpus of nasty values (U+0000, lone surrogates, integers far
beyond 64 bits, Unicode digits, deep nesting, wrong types, empty and very long
strings) while the others stay valid (a real user, room, event, filter,
media and key backup), and whole bodies are replaced by broken JSON.

The broad sweep runs on SQLite; on PostgreSQL the part of the corpus that
only PostgreSQL can trip over (U+0000, which it cannot store in text, and
integers beyond its 64-bit columns) runs over the same surface. A request
that hangs counts as a failure (each has a timeout).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from yarl import URL

from homeserver.app import create_app
from tests.conftest import RunningServer

SURFACE = json.loads((Path(__file__).parent / "client_server_surface.json").read_text())
V3 = "/_matrix/client/v3"
HUGE = "9" * 30

#: Path and query values (sent percent-encoded as UTF-8; a lone surrogate as its would-be bytes).
STRINGS = [
    "", "\x00", "a\x00b", "\ud800", HUGE, "-9223372036854775809", "²", "١٢", "-1",
    "x" * 2000, "@a:b", "t" + HUGE, "s" + HUGE + "_1", "true",
]
#: JSON values put into a field (raw JSON text: some have no Python equivalent).
JSON_VALUES = [
    "null", "true", "-1", "1.5", "9223372036854775807", "9" * 25, '""', '"\\u0000"', '"a\\u0000b"',
    '"\\ud800"', '"²"', '"' + "x" * 5000 + '"', "[]", "{}", "[" * 300 + "]" * 300, '{"\\u0000": 1}',
    '["\\u0000"]', '{"a": "\\u0000"}',
]
#: Whole bodies (raw bytes).
BODIES = [
    b"", b"{", b"null", b"[]", b'"\\ud800"', b'{"a": NaN}', b'{"a": 1e400}',
    b'{"a":' * 300 + b"1" + b"}" * 300, b'{"a": "\\u0000"}', b'{"a": 9223372036854775807}',
    b"[" * 2000 + b"]" * 2000,
]


def _postgres_only(value: str | bytes) -> bool:
    """What only PostgreSQL trips over: U+0000 and integers beyond 64 bits."""
    text = value if isinstance(value, str) else value.decode("utf-8", "replace")
    return "\x00" in text or "\\u0000" in text or HUGE in text or "9223372036854775" in text or "9" * 25 in text


#: Operations that end the fuzzing user's session or membership go last.
LAST = ("/leave", "/forget", "/upgrade", "/logout", "/logout/all", "/deactivate")


class Fuzzer:
    def __init__(self, server: RunningServer, session: aiohttp.ClientSession, postgres: bool) -> None:
        self.server = server
        self.session = session
        self.postgres = postgres
        self.failures: list[str] = []
        self.sent = 0
        self.statuses: dict[int, int] = {}
        self._txn = itertools.count()
        self.defaults: dict[str, str] = {}
        self.token = ""
        self._limit = asyncio.Semaphore(8)

    async def setup(self) -> None:
        client = self.server.client
        user = await client.register("fuzzer")
        await self.server.hearth.account_store.set_admin(user.user_id, True)
        self.token = user.token
        room_id = (await user.post(f"{V3}/createRoom", {"preset": "public_chat", "room_alias_name": "fuzz"})).body["room_id"]
        event_id = (await user.put(f"{V3}/rooms/{quote(room_id)}/send/m.room.message/setup",
                                   {"msgtype": "m.text", "body": "hello"})).body["event_id"]
        filter_id = (await user.post(f"{V3}/user/{quote(user.user_id)}/filter", {"room": {"timeline": {"limit": 5}}})).body["filter_id"]
        upload = await user.request("POST", "/_matrix/media/v3/upload", data=b"fuzz", headers={"Content-Type": "text/plain"})
        media_id = upload.body["content_uri"].rsplit("/", 1)[1]
        version = (await user.post(f"{V3}/room_keys/version", {
            "algorithm": "m.megolm_backup.v1.curve25519-aes-sha2", "auth_data": {"public_key": "abcdefg"},
        })).body["version"]
        self.defaults = {
            "roomId": room_id, "roomIdOrAlias": room_id, "eventId": event_id, "userId": user.user_id,
            "roomAlias": "#fuzz:test.local", "eventType": "m.fuzz", "stateKey": "", "type": "m.fuzz",
            "filterId": filter_id, "deviceId": user.device_id, "serverName": "test.local", "mediaId": media_id,
            "version": version, "sessionId": "session", "tag": "u.fuzz", "relType": "m.reference",
            "kind": "override", "ruleId": "fuzz.rule", "receiptType": "m.read", "scope": "global",
            # Hearth's own route table (snake_case names).
            "room_id": room_id, "room_id_or_alias": room_id, "event_id": event_id, "user_id": user.user_id,
            "room_alias": "#fuzz:test.local", "event_type": "m.fuzz", "state_key": "", "filter_id": filter_id,
            "device_id": user.device_id, "server_name": "test.local", "media_id": media_id, "session_id": "session",
            "rel_type": "m.reference", "receipt_type": "m.read", "rule_id": "fuzz.rule", "token": "nosuchtoken",
        }

    # -- one request ------------------------------------------------------------------------

    def _path(self, template: str, values: dict[str, str]) -> str:
        def fill(match: re.Match[str]) -> str:
            name = match.group(1).split(":")[0]
            if name == "txnId" or name == "txn_id":
                value = values.get(name, f"fuzz{next(self._txn)}")
            else:
                value = values.get(name, self.defaults.get(name, "x"))
            return quote(value.encode("utf-8", "surrogatepass"), safe="")
        return re.sub(r"\{([^}]+)\}", fill, template)

    async def send(self, method: str, template: str, what: str, *, values: dict[str, str] | None = None,
                   query: dict[str, str] | None = None, body: bytes | None = None) -> None:
        path = self._path(template, values or {})
        if query:
            path += "?" + "&".join(
                f"{quote(k, safe='')}={quote(v.encode('utf-8', 'surrogatepass'), safe='')}" for k, v in query.items()
            )
        headers = {"Authorization": f"Bearer {self.token}"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        async with self._limit:
            self.sent += 1
            try:
                async with self.session.request(
                    method, URL(self.server.url + path, encoded=True), data=body, headers=headers,
                    timeout=aiohttp.ClientTimeout(total=30),
                ) as resp:
                    raw = await resp.read()
                    status = resp.status
                    self.statuses[status] = self.statuses.get(status, 0) + 1
            except asyncio.TimeoutError:
                self.failures.append(f"{method} {template} [{what}]: no answer")
                return
        if status >= 500:
            self.failures.append(f"{method} {template} [{what}]: {status} {raw[:200]!r}")
        elif status >= 400:
            try:
                errcode = json.loads(raw).get("errcode")
            except (ValueError, AttributeError):
                errcode = None
            if not isinstance(errcode, str) and not (status == 401 and b'"flows"' in raw):  # (a UIA answer)
                self.failures.append(f"{method} {template} [{what}]: {status} without a Matrix error: {raw[:200]!r}")
        if status == 401 and b"M_UNKNOWN_TOKEN" in raw:  # a logout: carry on as a new device
            self.token = (await self.server.client.login("fuzzer")).token or ""

    # -- the sweep ----------------------------------------------------------------------------

    def _strings(self) -> list[str]:
        return [v for v in STRINGS if _postgres_only(v)] if self.postgres else STRINGS

    def _json_values(self) -> list[str]:
        return [v for v in JSON_VALUES if _postgres_only(v)] if self.postgres else JSON_VALUES

    def _bodies(self) -> list[bytes]:
        return [b for b in BODIES if _postgres_only(b)] if self.postgres else BODIES

    async def operation(self, op: dict[str, Any]) -> None:
        method, template = op["method"], op["path"]
        body_spec = op.get("body") or {}
        example = body_spec.get("example") if not body_spec.get("binary") else None
        base_body = json.dumps(example).encode() if example is not None else None
        jobs = []
        for name in op["path_params"]:
            for value in self._strings():
                jobs.append(self.send(method, template, f"{name}={value[:20]!r}", values={name: value}, body=base_body))
        for name in op["query"]:
            for value in self._strings():
                jobs.append(self.send(method, template, f"?{name}={value[:20]!r}", query={name: value}, body=base_body))
        if example is not None:
            for field in body_spec["fields"]:
                for value in self._json_values():
                    jobs.append(self.send(method, template, f"{'.'.join(field)}={value[:20]}",
                                          body=_with_field(example, field, value)))
            for raw in self._bodies():
                jobs.append(self.send(method, template, f"body {raw[:20]!r}", body=raw))
        await asyncio.gather(*jobs)


def _with_field(example: dict[str, Any], field: list[str], raw_value: str) -> bytes:
    """``example`` (JSON) with the value at ``field`` replaced by the raw JSON text ``raw_value``."""
    body = json.loads(json.dumps(example))
    node = body
    for key in field[:-1]:
        child = node.get(key) if isinstance(node, dict) else None
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child
    marker = "\u2603fuzz\u2603"
    node[field[-1]] = marker
    return json.dumps(body, ensure_ascii=False).replace(json.dumps(marker, ensure_ascii=False), raw_value).encode()


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def _route_table_extras(server: RunningServer) -> list[dict[str, Any]]:
    """Hearth's routes (client listener) that the spec's Client-Server API does not list."""
    known = {(op["method"], _shape(op["path"])) for op in SURFACE["operations"]}
    extras = []
    for route in create_app(server.hearth.config).router.routes():  # the same table, unstarted
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("formatter") or info.get("path")
        if not path or route.method in ("HEAD", "OPTIONS", "*") or (route.method, _shape(path)) in known:
            continue
        names = re.findall(r"\{([^}:]+)", path)
        extras.append({"method": route.method, "path": path, "path_params": names, "query": [], "body": None})
    return extras


async def test_no_malformed_value_gets_a_5xx(make_server, backend):
    server = await make_server()
    session = aiohttp.ClientSession()
    try:
        fuzzer = Fuzzer(server, session, postgres=backend == "postgres")
        await fuzzer.setup()
        operations = [*SURFACE["operations"], *_route_table_extras(server)]
        assert len(SURFACE["operations"]) >= 160
        operations.sort(key=lambda op: op["path"].endswith(LAST))
        for op in operations:
            await fuzzer.operation(op)
        assert not fuzzer.failures, f"{len(fuzzer.failures)} of {fuzzer.sent} requests failed:\n" + "\n".join(fuzzer.failures[:60])
        assert fuzzer.statuses.get(200, 0) > 100, fuzzer.statuses  # the session stayed valid: the sweep went deep
    finally:
        await session.close()
