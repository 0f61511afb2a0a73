"""Profiles, aliases and E2EE keys of users on another server, through the client API."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.support.olm import CryptoDevice

pytestmark = pytest.mark.federation

V3 = "/_matrix/client/v3"


async def test_remote_profiles_and_aliases(federation):
    hs1, hs2 = await federation("hs1.test", "hs2.test")
    alice = await hs1.client.register("alice")
    await alice.put(f"{V3}/profile/{alice.user_id}/displayname", {"displayname": "Alice of hs1"})
    room_id = (await alice.post(f"{V3}/createRoom", {"room_alias_name": "lobby"})).body["room_id"]
    bob = await hs2.client.register("bob")
    profile = await bob.get(f"{V3}/profile/{alice.user_id}")
    assert profile.body == {"displayname": "Alice of hs1"}
    assert (await bob.get(f"{V3}/profile/{alice.user_id}/displayname")).body == {"displayname": "Alice of hs1"}
    missing = await bob.get(f"{V3}/profile/@nobody:hs1.test")
    assert (missing.status, missing.errcode) == (404, "M_NOT_FOUND")
    alias = await bob.get(f"{V3}/directory/room/{quote('#lobby:hs1.test')}")
    assert alias.body == {"room_id": room_id, "servers": ["hs1.test"]}
    assert (await bob.get(f"{V3}/directory/room/{quote('#nope:hs1.test')}")).errcode == "M_NOT_FOUND"


async def test_keys_of_remote_users(federation):
    hs1, hs2 = await federation("hs1.test", "hs2.test", addresses={"hs9.test": "127.0.0.1:9"})
    alice = CryptoDevice(await hs1.client.register("alice"))
    await alice.upload_keys(one_time=2)
    bob = CryptoDevice(await hs2.client.register("bob"))
    await bob.upload_keys()
    query = await bob.client.post(f"{V3}/keys/query", {"device_keys": {alice.user_id: [], "@x:hs9.test": []}})
    assert query.status == 200
    device = query.body["device_keys"][alice.user_id][alice.device_id]
    assert device["keys"][f"ed25519:{alice.device_id}"] == alice.ed25519
    assert "hs9.test" in query.body["failures"]
    # Bob claims one of Alice's one-time keys across servers and opens an Olm session with it.
    claim = await bob.client.post(
        f"{V3}/keys/claim", {"one_time_keys": {alice.user_id: {alice.device_id: "signed_curve25519"}}}
    )
    (one_time_key,) = claim.body["one_time_keys"][alice.user_id][alice.device_id].values()
    import vodozemac as vz

    session = bob.account.create_outbound_session(
        vz.Curve25519PublicKey.from_base64(device["keys"][f"curve25519:{alice.device_id}"]),
        vz.Curve25519PublicKey.from_base64(one_time_key["key"]),
    )
    message = session.encrypt(b"hello across servers")
    _, plaintext = alice.account.create_inbound_session(
        vz.Curve25519PublicKey.from_base64(bob.curve25519), message.to_pre_key()
    )
    assert plaintext == b"hello across servers"
    # The claimed key is gone on hs1.
    again = await bob.client.post(
        f"{V3}/keys/claim", {"one_time_keys": {alice.user_id: {alice.device_id: "signed_curve25519"}}}
    )
    assert list(again.body["one_time_keys"][alice.user_id][alice.device_id]) != list(claim.body["one_time_keys"][alice.user_id][alice.device_id])
    # hs1 answers other servers only about its own users.
    answer = await hs2.hearth.federation_client.request(
        "hs1.test", "POST", "/_matrix/federation/v1/user/keys/query",
        body={"device_keys": {alice.user_id: [], bob.user_id: []}},
    )
    assert list(answer["device_keys"]) == [alice.user_id]
    devices = await hs2.hearth.federation_client.request(
        "hs1.test", "GET", f"/_matrix/federation/v1/user/devices/{quote(alice.user_id)}"
    )
    assert devices["user_id"] == alice.user_id and devices["stream_id"] > 0
    assert [d["device_id"] for d in devices["devices"]] == [alice.device_id]


async def test_remote_room_directory(federation):
    hs1, hs2 = await federation("hs1.test", "hs2.test")
    alice = await hs1.client.register("alice")
    for name in ("Gardening", "Chess"):
        await alice.post(f"{V3}/createRoom", {"preset": "public_chat", "visibility": "public", "name": name})
    bob = await hs2.client.register("bob")
    listed = await bob.get(f"{V3}/publicRooms", params={"server": "hs1.test"})
    assert listed.status == 200, listed.body
    assert sorted(r["name"] for r in listed.body["chunk"]) == ["Chess", "Gardening"]
    searched = await bob.post(f"{V3}/publicRooms", {"filter": {"generic_search_term": "chess"}}, params={"server": "hs1.test"})
    assert [r["name"] for r in searched.body["chunk"]] == ["Chess"]
    unreachable = await bob.get(f"{V3}/publicRooms", params={"server": "hs9.test"})
    assert unreachable.status == 404


async def test_remote_media_is_fetched_once_and_served(federation):
    import io

    from PIL import Image

    hs1, hs2 = await federation("hs1.test", "hs2.test")
    alice = await hs1.client.register("alice")
    image = io.BytesIO()
    Image.new("RGB", (400, 300), (10, 200, 30)).save(image, format="PNG")
    data = image.getvalue() + b"\r\n--not-a-boundary\r\n"  # bytes that look like multipart must survive
    uri = (await alice.post("/_matrix/media/v3/upload", data=data, params={"filename": "green.png"},
                            headers={"Content-Type": "image/png"})).body["content_uri"]
    path = uri[len("mxc://"):]
    bob = await hs2.client.register("bob")
    async with bob.session.get(f"{bob.base_url}/_matrix/client/v1/media/download/{path}",
                               headers={"Authorization": f"Bearer {bob.token}"}) as resp:
        assert resp.status == 200
        assert await resp.read() == data
        assert resp.headers["Content-Type"] == "image/png"
        assert "green.png" in resp.headers["Content-Disposition"]
    # Cached on hs2: it is served even when hs1 is gone.
    hs2.hearth.federation_client._resolver._overrides["hs1.test"] = "127.0.0.1:9"
    async with bob.session.get(f"{bob.base_url}/_matrix/client/v1/media/thumbnail/{path}",
                               params={"width": "96", "height": "96", "method": "crop"},
                               headers={"Authorization": f"Bearer {bob.token}"}) as resp:
        assert resp.status == 200
        assert Image.open(io.BytesIO(await resp.read())).size == (96, 96)
    missing = await bob.get("/_matrix/client/v1/media/download/hs1.test/NoSuchMedia")
    assert missing.status == 404


async def test_space_hierarchy_for_another_server(federation):
    from urllib.parse import quote

    hs1, hs2 = await federation("hs1.test", "hs2.test")
    alice = await hs1.client.register("alice")
    space = (await alice.post(f"{V3}/createRoom", {"preset": "public_chat", "name": "Space",
                                                   "creation_content": {"type": "m.space"}})).body["room_id"]
    public = (await alice.post(f"{V3}/createRoom", {"preset": "public_chat", "name": "Open"})).body["room_id"]
    private = (await alice.post(f"{V3}/createRoom", {"preset": "private_chat", "name": "Closed"})).body["room_id"]
    for child in (public, private):
        await alice.put(f"{V3}/rooms/{quote(space)}/state/m.space.child/{quote(child)}", {"via": ["hs1.test"]})
    answer = await hs2.hearth.federation_client.request("hs1.test", "GET", f"/_matrix/federation/v1/hierarchy/{quote(space)}")
    assert answer["room"]["room_id"] == space and len(answer["room"]["children_state"]) == 2
    assert [c["name"] for c in answer["children"]] == ["Open"]
    assert answer["inaccessible_children"] == [private]
    from federation.client import FederationError

    with pytest.raises(FederationError) as hidden:
        await hs2.hearth.federation_client.request("hs1.test", "GET", f"/_matrix/federation/v1/hierarchy/{quote(private)}")
    assert hidden.value.status == 404


async def test_canonical_alias_of_another_server(federation):
    """A canonical alias may list an alias of another server that points to the room:
    it is resolved there, not looked up among this server's aliases."""
    hs1, hs2 = await federation("hs1.test", "hs2.test")
    bob = await hs2.client.register("bob")
    room_id = (await bob.post(f"{V3}/createRoom", {"preset": "public_chat"})).body["room_id"]
    alice = await hs1.client.register("alice")
    assert (await alice.post(f"{V3}/join/{room_id}", {}, params={"via": "hs2.test"})).status == 200
    assert (await alice.put(f"{V3}/directory/room/{quote('#den:hs1.test')}", {"room_id": room_id})).status == 200
    other = (await alice.post(f"{V3}/createRoom", {"room_alias_name": "elsewhere"})).body["room_id"]
    state = f"{V3}/rooms/{room_id}/state/m.room.canonical_alias"
    resp = await bob.put(state, {"alt_aliases": ["#den:hs1.test"]})
    assert resp.status == 200, resp.body
    resp = await bob.put(state, {"alt_aliases": ["#den:hs1.test", "#elsewhere:hs1.test"]})
    assert (resp.status, resp.errcode) == (400, "M_BAD_ALIAS")
    assert other != room_id
