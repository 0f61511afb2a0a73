"""TURN credentials (spec: Client-Server API, "Voice over IP", GET /voip/turnServer)."""

from __future__ import annotations

import base64
import hashlib
import hmac

from homeserver.clock import FakeClock

TURN_SERVER = "/_matrix/client/v3/voip/turnServer"
TURN = {"turn": {"uris": ["turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349"],
                 "shared_secret": "s3cret", "user_lifetime": 600}}


async def test_without_a_relay_the_answer_is_empty(client):
    alice = await client.register("alice")
    resp = await alice.get(TURN_SERVER)
    assert resp.status == 200 and resp.body == {}


async def test_credentials_are_coturns_rest_scheme_and_expire_after_the_lifetime(make_server):
    clock = FakeClock(start_ms=1_800_000_000_000)
    server = await make_server(clock=clock, **TURN)
    alice = await server.client.register("alice")
    body = (await alice.get(TURN_SERVER)).body
    assert body["username"] == f"{1_800_000_000 + 600}:{alice.user_id}"
    expected = base64.b64encode(hmac.new(b"s3cret", body["username"].encode(), hashlib.sha1).digest()).decode()
    assert body["password"] == expected
    assert body["uris"] == TURN["turn"]["uris"] and body["ttl"] == 600


async def test_needs_a_token(make_server):
    server = await make_server(**TURN)
    resp = await server.client.get(TURN_SERVER)
    assert resp.status == 401 and resp.errcode == "M_MISSING_TOKEN"


async def _guest(server):
    resp = await server.client.post("/_matrix/client/v3/register?kind=guest", {}, token=None)
    assert resp.status == 200, resp.body
    return server.client.as_user(resp.body["access_token"])


async def test_guests_get_credentials_unless_refused(make_server):
    server = await make_server(registration={"allow_guests": True}, **TURN)
    assert "username" in (await (await _guest(server)).get(TURN_SERVER)).body
    server = await make_server(registration={"allow_guests": True},
                               turn={**TURN["turn"], "allow_guests": False})
    resp = await (await _guest(server)).get(TURN_SERVER)
    assert resp.status == 403 and resp.errcode == "M_GUEST_ACCESS_FORBIDDEN"


async def test_credential_requests_are_rate_limited(make_server):
    server = await make_server(rate_limits={"enabled": True, "turn": {"per_second": 0.01, "burst": 2},
                                            "registration": {"per_second": 10, "burst": 10}}, **TURN)
    alice = await server.client.register("alice")
    for _ in range(2):
        assert (await alice.get(TURN_SERVER)).status == 200
    resp = await alice.get(TURN_SERVER)
    assert resp.status == 429 and resp.errcode == "M_LIMIT_EXCEEDED"


async def test_well_known_advertises_the_configured_sfu(make_server, client):
    assert "org.matrix.msc4143.rtc_foci" not in (await client.get("/.well-known/matrix/client")).body
    focus = {"type": "livekit", "livekit_service_url": "https://livekit-jwt.example.org"}
    server = await make_server(well_known={"rtc_foci": [focus]})
    body = (await server.client.get("/.well-known/matrix/client")).body
    assert body["org.matrix.msc4143.rtc_foci"] == [focus]
    assert "m.homeserver" in body
