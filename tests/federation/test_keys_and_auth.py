"""Server keys, notaries and request authentication between real servers over TLS."""

from __future__ import annotations

import aiohttp
import pytest
from yarl import URL

from federation.client import FederationError
from homeserver.services.ports import KeyUnavailable
from homeserver.core.federation_auth import authorization_header
from homeserver.core.server_keys import parse_key_response
from homeserver.core.signing import signing_key_from_seed
from tests.federation.conftest import ca_context

pytestmark = pytest.mark.federation

PROFILE = "/_matrix/federation/v1/query/profile"


async def _get(server, path: str, headers: dict | None = None) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as session:
        async with session.get(
            URL(server.federation_url + path, encoded=True), headers=headers or {}, ssl=ca_context(server),
            server_hostname=server.name,
        ) as resp:
            return resp.status, await resp.json()


async def test_keys_are_published_and_fetched(federation):
    hs1, hs2 = await federation("hs1.test", "hs2.test")
    status, body = await _get(hs1, "/_matrix/key/v2/server")
    assert status == 200
    (key,) = parse_key_response(body, "hs1.test")  # self-signed by its one current key
    assert key.key_id == hs1.hearth.keyring.own_response()["verify_keys"].popitem()[0]
    fetched = await hs2.hearth.keyring.verify_key("hs1.test", key.key_id)
    assert bytes(fetched) == bytes(hs1.hearth.keyring._key.verify_key)
    with pytest.raises(KeyUnavailable):
        await hs2.hearth.keyring.verify_key("hs1.test", "ed25519:nope")
    status, version = await _get(hs1, "/_matrix/federation/v1/version")
    assert version["server"]["name"] == "Hearth"


async def test_signed_requests_are_accepted_and_others_refused(federation):
    hs1, hs2 = await federation("hs1.test", "hs2.test")
    alice = await hs1.client.register("alice")
    await alice.put(f"/_matrix/client/v3/profile/{alice.user_id}/displayname", {"displayname": "Alice"})
    profile = await hs2.hearth.federation_client.request(
        "hs1.test", "GET", PROFILE, query={"user_id": alice.user_id}
    )
    assert profile == {"displayname": "Alice"}
    only = await hs2.hearth.federation_client.request(
        "hs1.test", "GET", PROFILE, query={"user_id": alice.user_id, "field": "avatar_url"}
    )
    assert only == {}
    with pytest.raises(FederationError) as missing:
        await hs2.hearth.federation_client.request("hs1.test", "GET", PROFILE, query={"user_id": "@nobody:hs1.test"})
    assert (missing.value.status, missing.value.errcode) == (404, "M_NOT_FOUND")

    uri = f"{PROFILE}?user_id=%40alice%3Ahs1.test"
    key = hs2.hearth.keyring._key
    status, body = await _get(hs1, uri)
    assert (status, body["errcode"]) == (401, "M_UNAUTHORIZED")
    good = authorization_header("GET", uri, "hs2.test", "hs1.test", None, key)
    assert (await _get(hs1, uri, {"Authorization": good}))[0] == 200
    # The same header on another request, for another server, or by a stranger's key: refused.
    for path, header in (
        (f"{PROFILE}?user_id=%40bob%3Ahs1.test", good),
        (uri, authorization_header("GET", uri, "hs2.test", "hs9.test", None, key)),
        (uri, authorization_header("GET", uri, "hs2.test", "hs1.test", None, signing_key_from_seed(b"\x05" * 32, key.key_id.split(":")[1]))),
        (uri, authorization_header("GET", uri, "hs2.test", "hs1.test", None, signing_key_from_seed(b"\x05" * 32, "unknown"))),
        (uri, "X-Matrix nonsense"),
        (uri, good.replace("hs2.test", "hs3.test", 1)),
    ):
        status, body = await _get(hs1, path, {"Authorization": header})
        assert (status, body["errcode"]) == (401, "M_UNAUTHORIZED"), header


async def _put(server, path: str, body: bytes, headers: dict) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as session:
        async with session.put(
            URL(server.federation_url + path, encoded=True), data=body,
            headers={"Content-Type": "application/json", **headers}, ssl=ca_context(server), server_hostname=server.name,
        ) as resp:
            return resp.status, await resp.json()


async def test_a_captured_request_replayed_changes_nothing(federation):
    import json

    hs1, hs2, hs3 = await federation("hs1.test", "hs2.test", "hs3.test")
    alice = await hs1.client.register("alice")
    path = "/_matrix/federation/v1/send/captured"
    content = {"origin": "hs2.test", "origin_server_ts": 1, "pdus": [], "edus": [{
        "edu_type": "m.direct_to_device",
        "content": {"sender": "@bob:hs2.test", "type": "m.test", "messages": {alice.user_id: {"*": {"n": 1}}}},
    }]}
    header = authorization_header("PUT", path, "hs2.test", "hs1.test", content, hs2.hearth.keyring._key)
    raw = json.dumps(content).encode()
    first = await _put(hs1, path, raw, {"Authorization": header})
    # The very same bytes again (a retry, or someone replaying them): the recorded answer, nothing done twice.
    assert await _put(hs1, path, raw, {"Authorization": header}) == first == (200, {"pdus": {}})
    events = (await alice.get("/_matrix/client/v3/sync")).body.get("to_device", {}).get("events", [])
    assert [e["content"] for e in events] == [{"n": 1}]
    # Replayed to another server, or with anything changed, it is refused.
    assert (await _put(hs3, path, raw, {"Authorization": header}))[0] == 401
    altered = json.dumps({**content, "origin_server_ts": 2}).encode()
    assert (await _put(hs1, path, altered, {"Authorization": header}))[0] == 401


async def test_notary_vouches_for_an_unreachable_server(federation):
    hs1, hs2, hs3 = await federation(
        "hs1.test", "hs2.test", "hs3.test",
        overrides={"hs3.test": {"federation": {"trusted_key_servers": ["hs2.test"]}}},
    )
    key_id = next(iter(hs1.hearth.keyring.own_response()["verify_keys"]))
    await hs2.hearth.keyring.verify_key("hs1.test", key_id)  # hs2 has seen hs1's keys
    # hs3 cannot reach hs1 (its address points at a closed port), so it asks hs2.
    hs3.hearth.federation_client._resolver._overrides["hs1.test"] = "127.0.0.1:9"
    key = await hs3.hearth.keyring.verify_key("hs1.test", key_id)
    assert bytes(key) == bytes(hs1.hearth.keyring._key.verify_key)
    answer = await hs3.hearth.federation_client.request(
        "hs2.test", "POST", "/_matrix/key/v2/query", body={"server_keys": {"hs1.test": {}}}
    )
    (response,) = answer["server_keys"]
    assert set(response["signatures"]) == {"hs1.test", "hs2.test"}


async def test_certificates_are_verified(federation, tmp_path):
    from tests.support.tls import TestCA

    hs1, hs2 = await federation("hs1.test", "hs2.test")
    # hs2 trusting another CA cannot talk to hs1.
    stranger = TestCA(tmp_path / "other-ca")
    from federation.client import tls_context

    hs2.hearth.federation_client._tls = tls_context(verify=True, ca_bundle=stranger.bundle)
    await hs2.hearth.federation_client.close()
    with pytest.raises(FederationError, match="unreachable"):
        await hs2.hearth.federation_client.request("hs1.test", "GET", "/_matrix/federation/v1/version")
