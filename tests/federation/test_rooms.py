"""Rooms across servers: a user of another server joins, and messages flow both ways."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

import pytest

from tests.support.pdus import signed_pdu

pytestmark = pytest.mark.federation

V3 = "/_matrix/client/v3"


async def _wait_for(user, room_id: str, sections: tuple[str, ...], predicate, timeout: float = 15.0) -> dict:
    """Sync until an event of the room's ``sections`` matches ``predicate``."""
    deadline = asyncio.get_running_loop().time() + timeout
    since = None
    while True:
        params = {"timeout": "1000"} | ({"since": since} if since else {})
        body = (await user.get(f"{V3}/sync", params=params)).body
        since = body["next_batch"]
        room = body.get("rooms", {}).get("join", {}).get(room_id, {})
        for event in [e for section in sections for e in room.get(section, {}).get("events", [])]:
            if predicate(event):
                return event
        assert asyncio.get_running_loop().time() < deadline, f"nothing matching arrived in {sections}"


async def _wait_for_event(user, room_id: str, predicate) -> dict:
    return await _wait_for(user, room_id, ("timeline", "state"), predicate)


async def _wait_for_ephemeral(user, room_id: str, predicate) -> dict:
    return await _wait_for(user, room_id, ("ephemeral",), predicate)


async def test_a_remote_user_joins_and_messages_flow_both_ways(federation):
    hs1, hs2 = await federation("hs1.test", "hs2.test")
    alice = await hs1.client.register("alice")
    room_id = (await alice.post(f"{V3}/createRoom", {"preset": "public_chat", "name": "Across"})).body["room_id"]
    bob = await hs2.client.register("bob")
    joined = await bob.post(f"{V3}/join/{quote(room_id)}", {}, params={"via": "hs1.test"})
    assert joined.status == 200, joined.body
    # Bob's server now holds the room, with its name and both members.
    members = await bob.get(f"{V3}/rooms/{quote(room_id)}/joined_members")
    assert set(members.body["joined"]) == {alice.user_id, bob.user_id}
    name = await bob.get(f"{V3}/rooms/{quote(room_id)}/state/m.room.name")
    assert name.body == {"name": "Across"}
    # Bob's first sync carries the room's state, although his server's timeline starts at his join.
    first = (await bob.get(f"{V3}/sync")).body["rooms"]["join"][room_id]
    state = {(e["type"], e["state_key"]) for e in first["state"]["events"] + first["timeline"]["events"] if "state_key" in e}
    assert {("m.room.name", ""), ("m.room.create", ""), ("m.room.member", alice.user_id)} <= state
    # Alice's server saw the join.
    await _wait_for_event(alice, room_id, lambda e: e["type"] == "m.room.member" and e["state_key"] == bob.user_id)
    # Messages go both ways.
    await alice.put(f"{V3}/rooms/{quote(room_id)}/send/m.room.message/a1", {"msgtype": "m.text", "body": "hi bob"})
    got = await _wait_for_event(bob, room_id, lambda e: e.get("content", {}).get("body") == "hi bob")
    assert got["sender"] == alice.user_id
    await bob.put(f"{V3}/rooms/{quote(room_id)}/send/m.room.message/b1", {"msgtype": "m.text", "body": "hi alice"})
    got = await _wait_for_event(alice, room_id, lambda e: e.get("content", {}).get("body") == "hi alice")
    assert got["sender"] == bob.user_id


async def _shared_room(federation, **create):
    hs1, hs2 = await federation("hs1.test", "hs2.test")
    alice = await hs1.client.register("alice")
    room_id = (await alice.post(f"{V3}/createRoom", {"preset": "public_chat", **create})).body["room_id"]
    bob = await hs2.client.register("bob")
    assert (await bob.post(f"{V3}/join/{quote(room_id)}", {}, params={"via": "hs1.test"})).status == 200
    return hs1, hs2, alice, bob, room_id


async def _craft(hs1, hs2, room_id: str, sender: str, event_type: str, content: dict, *, state_key=None, server="hs2.test", key=None) -> dict:
    """A PDU as hs2 would send it (signed with hs2's key), built on hs1's view of the room."""
    hearth = hs1.hearth
    room = await hearth.event_store.db.fetchrow("SELECT current_state_group FROM rooms WHERE room_id = $1", room_id)
    state = await hearth.remote_events._state.get_state(room["current_state_group"])
    return await signed_pdu(
        hearth, server, key or hs2.hearth.keyring._key, room_id, sender, event_type, content,
        prev_events=await hearth.event_store.get_extremities(room_id), auth_state=dict(state), state_key=state_key,
    )


async def _push(hs2, pdu: dict, txn: str) -> dict:
    body = {"origin": "hs2.test", "origin_server_ts": 1, "pdus": [pdu], "edus": []}
    return await hs2.hearth.federation_client.request("hs1.test", "PUT", f"/_matrix/federation/v1/send/{txn}", body=body)


async def test_forged_and_unauthorised_pdus_change_nothing(federation):
    from homeserver.core.events import Event
    from homeserver.core.room_versions import get_room_version
    from homeserver.core.signing import signing_key_from_seed

    hs1, hs2, alice, bob, room_id = await _shared_room(federation)
    version = get_room_version((await hs1.hearth.event_store.db.fetchrow(
        "SELECT room_version FROM rooms WHERE room_id = $1", room_id))["room_version"])

    def event_id(pdu):
        return Event(pdu, version).event_id

    good = await _craft(hs1, hs2, room_id, bob.user_id, "m.room.message", {"msgtype": "m.text", "body": "fine"})
    bad_signature = dict(good, signatures={"hs2.test": {k: "A" * 86 for k in good["signatures"]["hs2.test"]}})
    stranger_key = await _craft(hs1, hs2, room_id, bob.user_id, "m.room.message", {"body": "x"},
                                key=signing_key_from_seed(b"\x09" * 32, hs2.hearth.keyring._key.key_id.split(":")[1]))
    other_origin = await _craft(hs1, hs2, room_id, "@mallory:hs3.test", "m.room.message", {"body": "not yours"})
    takeover = await _craft(hs1, hs2, room_id, bob.user_id, "m.room.power_levels",
                            {"users": {bob.user_id: 100}}, state_key="")
    oversize = await _craft(hs1, hs2, room_id, bob.user_id, "m.room.message", {"body": "x" * 70_000})
    for n, pdu in enumerate((bad_signature, stranger_key, other_origin, takeover, oversize)):
        answer = await _push(hs2, pdu, f"bad{n}")
        errors = [r.get("error") for r in answer["pdus"].values()]
        assert errors and errors[0], (n, answer)
        assert await hs1.hearth.event_store.get_event(event_id(pdu)) is None
    power = await alice.get(f"{V3}/rooms/{quote(room_id)}/state/m.room.power_levels")
    assert bob.user_id not in power.body.get("users", {})
    # A PDU whose content does not match its hash is kept, redacted (its signature covers the redacted form).
    tampered = dict(good, content={"msgtype": "m.text", "body": "changed in transit"})
    answer = await _push(hs2, tampered, "tampered")
    assert answer["pdus"] == {event_id(good): {}}
    stored = await hs1.hearth.event_store.get_event(event_id(good))
    assert stored is not None and "body" not in stored.event.content
    # The genuine one, in a repeated transaction, changes nothing more.
    assert (await _push(hs2, good, "tampered")) == answer
    # PDUs for rooms the server is not in are refused.
    elsewhere = dict(good, room_id="!unknown:hs2.test")
    assert (await _push(hs2, elsewhere, "elsewhere"))["pdus"] == {}


async def test_join_refusals(federation):
    hs1, hs2 = await federation("hs1.test", "hs2.test")
    alice = await hs1.client.register("alice")
    private = (await alice.post(f"{V3}/createRoom", {"preset": "private_chat"})).body["room_id"]
    bob = await hs2.client.register("bob")
    refused = await bob.post(f"{V3}/join/{quote(private)}", {}, params={"via": "hs1.test"})
    assert (refused.status, refused.errcode) == (403, "M_FORBIDDEN")
    unknown = await bob.post(f"{V3}/join/{quote('!nope:hs1.test')}", {})
    assert (unknown.status, unknown.errcode) == (404, "M_NOT_FOUND")
    from federation.client import FederationError

    with pytest.raises(FederationError) as old_only:
        await hs2.hearth.federation_client.request(
            "hs1.test", "GET", f"/_matrix/federation/v1/make_join/{quote(private)}/{quote(bob.user_id)}",
            query={"ver": "1"},
        )
    assert (old_only.value.status, old_only.value.errcode) == (400, "M_INCOMPATIBLE_ROOM_VERSION")
    with pytest.raises(FederationError) as someone_else:
        await hs2.hearth.federation_client.request(
            "hs1.test", "GET", f"/_matrix/federation/v1/make_join/{quote(private)}/{quote(alice.user_id)}",
            query={"ver": "12"},
        )
    assert someone_else.value.status == 403


async def test_reading_events_state_and_history(federation):
    hs1, hs2, alice, bob, room_id = await _shared_room(federation)
    sent = []
    for n in range(5):
        resp = await alice.put(f"{V3}/rooms/{quote(room_id)}/send/m.room.message/r{n}", {"msgtype": "m.text", "body": f"m{n}"})
        sent.append(resp.body["event_id"])
    client = hs2.hearth.federation_client
    base = "/_matrix/federation/v1"
    got = await client.request("hs1.test", "GET", f"{base}/event/{quote(sent[0])}")
    assert got["pdus"][0]["content"]["body"] == "m0"
    ids = await client.request("hs1.test", "GET", f"{base}/state_ids/{quote(room_id)}", query={"event_id": sent[-1]})
    state = await client.request("hs1.test", "GET", f"{base}/state/{quote(room_id)}", query={"event_id": sent[-1]})
    members = {p["state_key"] for p in state["pdus"] if p["type"] == "m.room.member"}
    assert members == {alice.user_id, bob.user_id}
    assert len(ids["pdu_ids"]) == len(state["pdus"])
    chain = await client.request("hs1.test", "GET", f"{base}/event_auth/{quote(room_id)}/{quote(sent[0])}")
    assert {p["type"] for p in chain["auth_chain"]} >= {"m.room.create", "m.room.power_levels", "m.room.member"}
    back = await client.request("hs1.test", "GET", f"{base}/backfill/{quote(room_id)}", query=[("v", sent[-1]), ("limit", "3")])
    assert [p["content"].get("body") for p in back["pdus"]] == ["m4", "m3", "m2"]
    missing = await client.request("hs1.test", "POST", f"{base}/get_missing_events/{quote(room_id)}", body={
        "earliest_events": [sent[0]], "latest_events": [sent[-1]], "limit": 10,
    })
    assert [p["content"]["body"] for p in missing["events"]] == ["m1", "m2", "m3"]
    first = got["pdus"][0]["origin_server_ts"]
    closest = await client.request("hs1.test", "GET", f"{base}/timestamp_to_event/{quote(room_id)}",
                                   query={"ts": str(first), "dir": "f"})
    assert closest["origin_server_ts"] == first  # sent[0], or an event of the same millisecond
    # A server with nobody in the room reads nothing.
    (hs3,) = await federation("hs3.test", addresses={"hs1.test": hs1.federation_url.removeprefix("https://")})
    from federation.client import FederationError

    with pytest.raises(FederationError) as outsider:
        await hs3.hearth.federation_client.request("hs1.test", "GET", f"{base}/event/{quote(sent[0])}")
    assert outsider.value.status == 403
    with pytest.raises(FederationError) as unknown:
        await client.request("hs1.test", "GET", f"{base}/event/{quote('$nope')}")
    assert unknown.value.status == 404


async def test_three_servers_see_every_message(federation):
    hs1, hs2, hs3 = await federation("hs1.test", "hs2.test", "hs3.test")
    alice = await hs1.client.register("alice")
    room_id = (await alice.post(f"{V3}/createRoom", {"preset": "public_chat"})).body["room_id"]
    bob = await hs2.client.register("bob")
    carol = await hs3.client.register("carol")
    assert (await bob.post(f"{V3}/join/{quote(room_id)}", {}, params={"via": "hs1.test"})).status == 200
    assert (await carol.post(f"{V3}/join/{quote(room_id)}", {}, params={"via": "hs1.test"})).status == 200
    # hs2 hears of carol's join from hs1, the server she joined through.
    await _wait_for_event(bob, room_id, lambda e: e["type"] == "m.room.member" and e["state_key"] == carol.user_id)
    for user, text in ((alice, "from hs1"), (bob, "from hs2"), (carol, "from hs3")):
        resp = await user.put(f"{V3}/rooms/{quote(room_id)}/send/m.room.message/{text[-3:]}", {"msgtype": "m.text", "body": text})
        assert resp.status == 200, resp.body
    for user in (alice, bob, carol):
        for text in ("from hs1", "from hs2", "from hs3"):
            await _wait_for_event(user, room_id, lambda e, t=text: e.get("content", {}).get("body") == t)


async def test_typing_and_receipts_cross_servers(federation):
    hs1, hs2, alice, bob, room_id = await _shared_room(federation)
    await bob.put(f"{V3}/rooms/{quote(room_id)}/typing/{quote(bob.user_id)}", {"typing": True, "timeout": 20000})
    await _wait_for_ephemeral(alice, room_id, lambda e: e["type"] == "m.typing" and bob.user_id in e["content"]["user_ids"])
    await bob.put(f"{V3}/rooms/{quote(room_id)}/typing/{quote(bob.user_id)}", {"typing": False})
    await _wait_for_ephemeral(alice, room_id, lambda e: e["type"] == "m.typing" and e["content"]["user_ids"] == [])
    event_id = (await alice.put(f"{V3}/rooms/{quote(room_id)}/send/m.room.message/x", {"msgtype": "m.text", "body": "read me"})).body["event_id"]
    await _wait_for_event(bob, room_id, lambda e: e.get("event_id") == event_id)
    assert (await bob.post(f"{V3}/rooms/{quote(room_id)}/receipt/m.read/{quote(event_id)}", {})).status == 200
    receipt = await _wait_for_ephemeral(
        alice, room_id, lambda e: e["type"] == "m.receipt" and bob.user_id in e["content"].get(event_id, {}).get("m.read", {})
    )
    assert receipt["content"][event_id]["m.read"][bob.user_id]["ts"] > 0
    # A server cannot type or read in another server's users' names.
    forged = {"origin": "hs2.test", "origin_server_ts": 1, "pdus": [], "edus": [
        {"edu_type": "m.typing", "content": {"room_id": room_id, "user_id": alice.user_id, "typing": True}},
    ]}
    await hs2.hearth.federation_client.request("hs1.test", "PUT", "/_matrix/federation/v1/send/forged-typing", body=forged)
    assert alice.user_id not in hs1.hearth.typing.typing_users(room_id)


async def test_device_list_changes_cross_servers(federation):
    from tests.support.olm import CryptoDevice

    hs1, hs2, alice, bob, room_id = await _shared_room(federation)
    since = (await bob.get(f"{V3}/sync")).body["next_batch"]
    laptop = CryptoDevice(await hs1.client.login("alice"))
    await laptop.upload_keys()
    deadline = asyncio.get_running_loop().time() + 15
    while True:
        body = (await bob.get(f"{V3}/sync", params={"since": since, "timeout": "1000"})).body
        since = body["next_batch"]
        if alice.user_id in body.get("device_lists", {}).get("changed", []):
            break
        assert asyncio.get_running_loop().time() < deadline, "bob never heard of alice's new device"
    keys = await bob.post(f"{V3}/keys/query", {"device_keys": {alice.user_id: []}})
    assert laptop.device_id in keys.body["device_keys"][alice.user_id]


async def _current_state(server, room_id: str) -> dict:
    hearth = server.hearth
    room = await hearth.event_store.db.fetchrow("SELECT current_state_group FROM rooms WHERE room_id = $1", room_id)
    return dict(await hearth.remote_events._state.get_state(room["current_state_group"]))


@pytest.mark.parametrize("room_version", ["12", "1"])  # state resolution v2.1, and v1
async def test_a_partition_heals_into_the_same_state_everywhere(federation, room_version):
    hs1, hs2, alice, bob, room_id = await _shared_room(federation, room_version=room_version)
    r = f"{V3}/rooms/{quote(room_id)}"
    power = (await alice.get(f"{r}/state/m.room.power_levels")).body
    power["users"][bob.user_id] = 100
    assert (await alice.put(f"{r}/state/m.room.power_levels", power)).status == 200
    await _wait_for_event(bob, room_id, lambda e: e["type"] == "m.room.power_levels"
                          and e["content"]["users"].get(bob.user_id) == 100)
    # Cut the two servers apart.
    addresses = {}
    for server, other in ((hs1, "hs2.test"), (hs2, "hs1.test")):
        overrides = server.hearth.federation_client._resolver._overrides
        addresses[server.name] = overrides[other]
        overrides[other] = "127.0.0.1:9"
    # Both sides change the room meanwhile: a topic on one, a name and a power-level change on the other.
    assert (await alice.put(f"{r}/state/m.room.topic", {"topic": "from hs1"})).status == 200
    assert (await bob.put(f"{r}/state/m.room.name", {"name": "from hs2"})).status == 200
    power["state_default"] = 60  # bob raises the bar for state changes
    assert (await bob.put(f"{r}/state/m.room.power_levels", power)).status == 200
    assert await _current_state(hs1, room_id) != await _current_state(hs2, room_id)
    # Heal: deliveries resume after their backoff and both sides resolve the fork.
    for server, other in ((hs1, "hs2.test"), (hs2, "hs1.test")):
        server.hearth.federation_client._resolver._overrides[other] = addresses[server.name]
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        one, two = await _current_state(hs1, room_id), await _current_state(hs2, room_id)
        if one == two and ("m.room.topic", "") in one and ("m.room.name", "") in one:
            break
        assert asyncio.get_running_loop().time() < deadline, "the servers did not converge"
        await asyncio.sleep(0.3)
    for user in (alice, bob):
        assert (await user.get(f"{r}/state/m.room.topic")).body == {"topic": "from hs1"}
        assert (await user.get(f"{r}/state/m.room.name")).body == {"name": "from hs2"}
        assert (await user.get(f"{r}/state/m.room.power_levels")).body["state_default"] == 60


async def test_inviting_a_user_of_another_server(federation):
    hs1, hs2 = await federation("hs1.test", "hs2.test")
    alice = await hs1.client.register("alice")
    bob = await hs2.client.register("bob")
    room_id = (await alice.post(f"{V3}/createRoom", {"preset": "private_chat", "name": "Secret plans"})).body["room_id"]
    since = (await bob.get(f"{V3}/sync")).body["next_batch"]
    invited = await alice.post(f"{V3}/rooms/{quote(room_id)}/invite", {"user_id": bob.user_id})
    assert invited.status == 200, invited.body
    synced = (await bob.get(f"{V3}/sync", params={"since": since, "timeout": "5000"})).body
    invite_state = synced["rooms"]["invite"][room_id]["invite_state"]["events"]
    assert {"type": "m.room.name", "state_key": "", "sender": alice.user_id, "content": {"name": "Secret plans"}} in invite_state
    assert any(e["type"] == "m.room.member" and e["state_key"] == bob.user_id and e["content"]["membership"] == "invite"
               for e in invite_state)
    # Bob accepts: his server joins through the inviter's, although the room is invite-only.
    joined = await bob.post(f"{V3}/rooms/{quote(room_id)}/join", {})
    assert joined.status == 200, joined.body
    await alice.put(f"{V3}/rooms/{quote(room_id)}/send/m.room.message/s", {"msgtype": "m.text", "body": "welcome"})
    await _wait_for_event(bob, room_id, lambda e: e.get("content", {}).get("body") == "welcome")
    # Inviting a user who does not exist over there fails cleanly.
    missing = await alice.post(f"{V3}/rooms/{quote(room_id)}/invite", {"user_id": "@nobody:hs2.test"})
    assert missing.status == 404


async def test_rejecting_a_remote_invite_and_leaving_a_remote_room(federation):
    hs1, hs2 = await federation("hs1.test", "hs2.test")
    alice = await hs1.client.register("alice")
    bob = await hs2.client.register("bob")
    room_id = (await alice.post(f"{V3}/createRoom", {"preset": "private_chat"})).body["room_id"]
    assert (await alice.post(f"{V3}/rooms/{quote(room_id)}/invite", {"user_id": bob.user_id})).status == 200
    rejected = await bob.post(f"{V3}/rooms/{quote(room_id)}/leave", {})
    assert rejected.status == 200, rejected.body
    # hs1 saw the rejection; bob's invite is gone on his side.
    await _wait_for_event(alice, room_id, lambda e: e["type"] == "m.room.member" and e["state_key"] == bob.user_id
                          and e["content"]["membership"] == "leave")
    synced = (await bob.get(f"{V3}/sync")).body
    assert room_id not in synced.get("rooms", {}).get("invite", {})
    # Invited again, bob joins, then leaves like any member.
    assert (await alice.post(f"{V3}/rooms/{quote(room_id)}/invite", {"user_id": bob.user_id})).status == 200
    assert (await bob.post(f"{V3}/rooms/{quote(room_id)}/join", {})).status == 200
    deadline = asyncio.get_running_loop().time() + 15
    while bob.user_id not in (await alice.get(f"{V3}/rooms/{quote(room_id)}/joined_members")).body["joined"]:
        assert asyncio.get_running_loop().time() < deadline, "hs1 never saw bob join"
        await asyncio.sleep(0.2)
    assert (await bob.post(f"{V3}/rooms/{quote(room_id)}/leave", {})).status == 200
    while bob.user_id in (await alice.get(f"{V3}/rooms/{quote(room_id)}/joined_members")).body["joined"]:
        assert asyncio.get_running_loop().time() < deadline, "hs1 never saw bob leave"
        await asyncio.sleep(0.2)


async def test_presence_cross_servers(federation):
    hs1, hs2, alice, bob, room_id = await _shared_room(federation)
    await bob.put(f"{V3}/presence/{quote(bob.user_id)}/status", {"presence": "unavailable", "status_msg": "lunch"})
    deadline = asyncio.get_running_loop().time() + 15
    since = None
    while True:
        params = {"timeout": "1000"} | ({"since": since} if since else {})
        body = (await alice.get(f"{V3}/sync", params=params)).body
        since = body["next_batch"]
        seen = [e for e in body.get("presence", {}).get("events", []) if e["sender"] == bob.user_id]
        if seen and seen[-1]["content"].get("status_msg") == "lunch":
            assert seen[-1]["content"]["presence"] == "unavailable"
            break
        assert asyncio.get_running_loop().time() < deadline, "bob's presence never arrived"
    status = await alice.get(f"{V3}/presence/{quote(bob.user_id)}/status")
    assert status.body["presence"] == "unavailable" and status.body["status_msg"] == "lunch"


async def test_server_acls_shut_a_server_out(federation):
    hs1, hs2, alice, bob, room_id = await _shared_room(federation)
    r = f"{V3}/rooms/{quote(room_id)}"
    acl = await alice.put(f"{r}/state/m.room.server_acl", {"allow": ["*"], "deny": ["hs2.test"], "allow_ip_literals": False})
    assert acl.status == 200
    # hs2's PDUs, EDUs and reads are refused from now on.
    pdu = await _craft(hs1, hs2, room_id, bob.user_id, "m.room.message", {"msgtype": "m.text", "body": "denied"})
    answer = await _push(hs2, pdu, "acl")
    assert all("ACL" in r.get("error", "") for r in answer["pdus"].values()) and answer["pdus"]
    from federation.client import FederationError

    with pytest.raises(FederationError) as reads:
        await hs2.hearth.federation_client.request(
            "hs1.test", "GET", f"/_matrix/federation/v1/state_ids/{quote(room_id)}", query={"event_id": acl.body["event_id"]}
        )
    assert (reads.value.status, reads.value.errcode) == (403, "M_FORBIDDEN")
    edu = {"origin": "hs2.test", "origin_server_ts": 1, "pdus": [], "edus": [
        {"edu_type": "m.typing", "content": {"room_id": room_id, "user_id": bob.user_id, "typing": True}},
    ]}
    await hs2.hearth.federation_client.request("hs1.test", "PUT", "/_matrix/federation/v1/send/acl-edu", body=edu)
    assert bob.user_id not in hs1.hearth.typing.typing_users(room_id)


async def test_restricted_join_across_servers(federation):
    hs1, hs2 = await federation("hs1.test", "hs2.test")
    alice = await hs1.client.register("alice")
    space = (await alice.post(f"{V3}/createRoom", {"preset": "public_chat", "creation_content": {"type": "m.space"}})).body["room_id"]
    restricted = (await alice.post(f"{V3}/createRoom", {
        "preset": "private_chat",
        "initial_state": [{"type": "m.room.join_rules", "state_key": "",
                           "content": {"join_rule": "restricted", "allow": [{"type": "m.room_membership", "room_id": space}]}}],
    })).body["room_id"]
    bob = await hs2.client.register("bob")
    carol = await hs2.client.register("carol")
    refused = await carol.post(f"{V3}/join/{quote(restricted)}", {}, params={"via": "hs1.test"})
    assert (refused.status, refused.errcode) == (403, "M_FORBIDDEN")
    assert (await bob.post(f"{V3}/join/{quote(space)}", {}, params={"via": "hs1.test"})).status == 200
    joined = await bob.post(f"{V3}/join/{quote(restricted)}", {}, params={"via": "hs1.test"})
    assert joined.status == 200, joined.body
    member = await alice.get(f"{V3}/rooms/{quote(restricted)}/state/m.room.member/{quote(bob.user_id)}")
    assert member.body["membership"] == "join"
    assert member.body["join_authorised_via_users_server"] == alice.user_id


async def test_knocking_across_servers(federation):
    hs1, hs2 = await federation("hs1.test", "hs2.test")
    alice = await hs1.client.register("alice")
    room_id = (await alice.post(f"{V3}/createRoom", {
        "preset": "private_chat", "name": "Knock first",
        "initial_state": [{"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": "knock"}}],
    })).body["room_id"]
    bob = await hs2.client.register("bob")
    knocked = await bob.post(f"{V3}/knock/{quote(room_id)}", {"reason": "let me in"}, params={"via": "hs1.test"})
    assert knocked.status == 200, knocked.body
    knock = await _wait_for_event(alice, room_id, lambda e: e["type"] == "m.room.member" and e["state_key"] == bob.user_id)
    assert knock["content"] == {"membership": "knock", "reason": "let me in", "displayname": "bob"}
    synced = (await bob.get(f"{V3}/sync")).body
    preview = synced["rooms"]["knock"][room_id]["knock_state"]["events"]
    assert any(e["type"] == "m.room.name" and e["content"] == {"name": "Knock first"} for e in preview)
    # Alice lets bob in.
    assert (await alice.post(f"{V3}/rooms/{quote(room_id)}/invite", {"user_id": bob.user_id})).status == 200
    assert (await bob.post(f"{V3}/rooms/{quote(room_id)}/join", {})).status == 200
    members = await bob.get(f"{V3}/rooms/{quote(room_id)}/joined_members")
    assert set(members.body["joined"]) == {alice.user_id, bob.user_id}


async def test_malformed_pdus_and_requests_get_clear_answers(federation):
    hs1, hs2, alice, bob, room_id = await _shared_room(federation)
    good = await _craft(hs1, hs2, room_id, bob.user_id, "m.room.message", {"msgtype": "m.text", "body": "x"})
    broken = [
        "not an object", 5, None, [],
        {**good, "prev_events": "nope"}, {**good, "auth_events": [5]}, {**good, "depth": "deep"},
        {**good, "content": "text"}, {**good, "type": 7}, {k: v for k, v in good.items() if k != "sender"},
        {**good, "sender": "not-a-user"}, {**good, "hashes": "x"}, {**good, "signatures": []},
    ]
    body = {"origin": "hs2.test", "origin_server_ts": 1, "pdus": broken, "edus": [5, {"edu_type": 5}, {"edu_type": "m.typing", "content": []}]}
    answer = await hs2.hearth.federation_client.request("hs1.test", "PUT", "/_matrix/federation/v1/send/broken", body=body)
    assert all("error" in r for r in answer["pdus"].values())
    from federation.client import FederationError

    client, base = hs2.hearth.federation_client, "/_matrix/federation/v1"
    for method, path, payload in (
        ("PUT", f"{base}/send/x", {"pdus": "no"}),
        ("PUT", "/_matrix/federation/v2/send_join/" + quote(room_id) + "/$x", ["not", "a", "pdu"]),
        ("PUT", "/_matrix/federation/v2/invite/" + quote(room_id) + "/$x", {"event": "no"}),
        ("POST", f"{base}/get_missing_events/{quote(room_id)}", {"earliest_events": "x"}),
        ("POST", f"{base}/user/keys/query", {"device_keys": []}),
        ("POST", f"{base}/user/keys/claim", {"one_time_keys": {"@a:hs1.test": []}}),
    ):
        with pytest.raises(FederationError) as refused:
            await client.request("hs1.test", method, path, body=payload)
        assert refused.value.status is not None and 400 <= refused.value.status < 500, (path, refused.value)
        assert refused.value.errcode, path


async def test_an_event_after_a_gap_is_taken_with_the_state_at_the_gap(federation):
    hs1, hs2, hs3 = await federation("hs1.test", "hs2.test", "hs3.test")
    alice = await hs1.client.register("alice")
    room_id = (await alice.post(f"{V3}/createRoom", {"preset": "public_chat"})).body["room_id"]
    bob, carol = await hs2.client.register("bob"), await hs3.client.register("carol")
    for user in (bob, carol):
        assert (await user.post(f"{V3}/join/{quote(room_id)}", {}, params={"via": "hs1.test"})).status == 200
    await _wait_for_event(carol, room_id, lambda e: e["type"] == "m.room.member" and e["state_key"] == bob.user_id)
    # hs2 cannot reach hs3 for a while: hs3 misses more of bob's events than /get_missing_events returns.
    hs2.hearth.federation_client._resolver._overrides["hs3.test"] = "127.0.0.1:9"
    for n in range(15):
        await bob.put(f"{V3}/rooms/{quote(room_id)}/send/m.room.message/gap{n}", {"msgtype": "m.text", "body": f"gap {n}"})
    await _wait_for_event(alice, room_id, lambda e: e.get("content", {}).get("body") == "gap 14")
    await alice.put(f"{V3}/rooms/{quote(room_id)}/send/m.room.message/after", {"msgtype": "m.text", "body": "after the gap"})
    got = await _wait_for_event(carol, room_id, lambda e: e.get("content", {}).get("body") == "after the gap")
    assert got["sender"] == alice.user_id
    members = await carol.get(f"{V3}/rooms/{quote(room_id)}/joined_members")
    assert set(members.body["joined"]) == {alice.user_id, bob.user_id, carol.user_id}
