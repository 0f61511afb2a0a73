"""Malformed path and query values and odd bodies on every route of the Server-Server API
(Hearth's own federation route table) never make Hearth answer 5xx, even from a server
that authenticates properly (issue 12, "look for the same mistake elsewhere")."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest

from federation.client import FederationError
from homeserver.app import create_federation_app

pytestmark = pytest.mark.federation

V3 = "/_matrix/client/v3"
VALUES = ["no-colon", "²", "x" * 300, "@a:b", "!a:b", "$a", "", "%", "9" * 30]
QUERIES = [
    {}, {"event_id": "no-colon"}, {"v": "no-colon", "limit": "²"}, {"ts": "9" * 30, "dir": "x"}, {"limit": "-5"},
    {"user_id": "no-colon", "field": "x"}, {"room_alias": "no-colon"}, {"ver": "x"}, {"suggested_only": "maybe"},
]
BODIES = [{}, {"pdus": [], "edus": []}, {"event": {}, "room_version": "10"}, {"type": "m.room.member", "content": []},
          {"earliest_events": ["no-colon"], "latest_events": [5], "limit": 2**62}, {"server_keys": {"x": {"k": 5}}}]


async def test_no_malformed_request_gets_a_5xx(federation):
    hs1, hs2 = await federation("hs1.test", "hs2.test")
    alice = await hs1.client.register("alice")
    room_id = (await alice.post(f"{V3}/createRoom", {"preset": "public_chat"})).body["room_id"]
    bob = await hs2.client.register("bob")
    assert (await bob.post(f"{V3}/join/{quote(room_id)}", {}, params={"via": "hs1.test"})).status == 200
    event_id = (await alice.put(f"{V3}/rooms/{quote(room_id)}/send/m.room.message/x", {"body": "x"})).body["event_id"]
    defaults = {"room_id": room_id, "event_id": event_id, "user_id": bob.user_id, "server_name": "hs2.test"}
    client = hs2.hearth.federation_client
    failures, sent = [], 0
    for route in create_federation_app(hs1.hearth).router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("formatter") or info.get("path") or ""
        if route.method in ("HEAD", "OPTIONS") or not path.startswith("/_matrix/"):
            continue
        names = re.findall(r"\{([^}:]+)", path)
        cases = [({name: value}, {}) for name in names for value in VALUES] + [({}, query) for query in QUERIES]
        for values, query in cases:
            filled = re.sub(r"\{([^}:]+)[^}]*\}", lambda m: quote(values.get(m.group(1), defaults.get(m.group(1), "x")), safe=""), path)
            for body in [None] if route.method == "GET" else BODIES:
                sent += 1
                try:
                    await client.request("hs1.test", route.method, filled, query=query or None, body=body)
                except FederationError as e:
                    if e.status is None or e.status >= 500:
                        failures.append(f"{route.method} {path} {values} {query} {body}: {e}")
    assert not failures, f"{len(failures)} of {sent}:\n" + "\n".join(failures[:40])
