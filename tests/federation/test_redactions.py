"""Redactions from other servers are applied like local ones (spec: Client-Server API,
"Redactions"; room versions, "Handling redactions")."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

import pytest

from homeserver.core.events import Event
from homeserver.core.room_versions import get_room_version
from homeserver.core.signing import hash_and_sign_event
from tests.support.pdus import signed_pdu

pytestmark = pytest.mark.federation

V3 = "/_matrix/client/v3"


async def _send(user, room_id: str, body: str) -> str:
    sent = await user.put(f"{V3}/rooms/{quote(room_id, safe='')}/send/m.room.message/{quote(body, safe='')}", {"msgtype": "m.text", "body": body})
    assert sent.status == 200, sent.body
    return sent.body["event_id"]


async def _event(user, room_id: str, event_id: str) -> dict:
    got = await user.get(f"{V3}/rooms/{quote(room_id, safe='')}/event/{quote(event_id, safe='')}")
    assert got.status == 200, got.body
    return got.body


async def _until(predicate, what: str, timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, what
        await asyncio.sleep(0.1)


async def _shared_room(federation, **create):
    hs1, hs2 = await federation("hs1.test", "hs2.test")
    alice = await hs1.client.register("alice")
    room_id = (await alice.post(f"{V3}/createRoom", {"preset": "public_chat", **create})).body["room_id"]
    bob = await hs2.client.register("bob")
    assert (await bob.post(f"{V3}/join/{quote(room_id, safe='')}", {}, params={"via": "hs1.test"})).status == 200
    async def hs1_sees_bob():
        return bob.user_id in (await alice.get(f"{V3}/rooms/{quote(room_id, safe='')}/joined_members")).body["joined"]
    await _until(hs1_sees_bob, "hs1 never saw bob join")
    return hs1, hs2, alice, bob, room_id


async def _craft(hs1, hs2, room_id: str, event_type: str, content: dict, *, prev_events=None, redacts=None) -> dict:
    """A PDU bob's server signs, built on hs1's view of the room."""
    hearth = hs1.hearth
    room = await hearth.event_store.db.fetchrow("SELECT current_state_group FROM rooms WHERE room_id = $1", room_id)
    state = await hearth.remote_events._state.get_state(room["current_state_group"])
    if redacts is not None:
        content = {**content, "redacts": redacts}
    pdu = await signed_pdu(
        hearth, "hs2.test", hs2.hearth.keyring._key, room_id, "@bob:hs2.test", event_type, content,
        prev_events=prev_events or await hearth.event_store.get_extremities(room_id), auth_state=dict(state),
    )
    if redacts is not None:
        # Room versions before 11 name the redacted event at the top level (signed along).
        version = await _version(hs1, room_id)
        if not version.event_format.redacts_in_content:
            unsigned = {k: v for k, v in pdu.items() if k not in ("hashes", "signatures")}
            unsigned["content"] = {k: v for k, v in content.items() if k != "redacts"}
            pdu = hash_and_sign_event({**unsigned, "redacts": redacts}, "hs2.test", hs2.hearth.keyring._key, version)
    return pdu


async def _version(hs, room_id: str):
    row = await hs.hearth.event_store.db.fetchrow("SELECT room_version FROM rooms WHERE room_id = $1", room_id)
    return get_room_version(row["room_version"])


async def _push(hs2, pdus: list[dict], txn: str) -> dict:
    body = {"origin": "hs2.test", "origin_server_ts": 1, "pdus": pdus, "edus": []}
    return await hs2.hearth.federation_client.request("hs1.test", "PUT", f"/_matrix/federation/v1/send/{txn}", body=body)


async def _timeline_ids(user, room_id: str) -> set[str]:
    page = await user.get(f"{V3}/rooms/{quote(room_id, safe='')}/messages", params={"dir": "b", "limit": "100"})
    return {e["event_id"] for e in page.body["chunk"]}


@pytest.mark.parametrize("room_version", ["1", "2", "3", "10", "12"])
async def test_a_remote_user_redacts_their_message(federation, room_version):
    hs1, hs2, alice, bob, room_id = await _shared_room(federation, room_version=room_version)
    message = await _send(bob, room_id, "oops, wrong room")

    async def arrived():
        return (await alice.get(f"{V3}/rooms/{quote(room_id, safe='')}/event/{quote(message, safe='')}")).status == 200
    await _until(arrived, "the message never reached hs1")
    redacted = await bob.put(f"{V3}/rooms/{quote(room_id, safe='')}/redact/{quote(message, safe='')}/r1", {"reason": "typo"})
    assert redacted.status == 200, redacted.body

    async def applied():
        return (await _event(alice, room_id, message))["content"] == {}
    await _until(applied, "hs1 kept serving the redacted body")
    seen = await _event(alice, room_id, message)
    assert seen["unsigned"]["redacted_because"]["event_id"] == redacted.body["event_id"]
    # The redaction itself is shown, and the body is gone from search too.
    assert redacted.body["event_id"] in await _timeline_ids(alice, room_id)
    found = await alice.post(f"{V3}/search", {"search_categories": {"room_events": {"search_term": "wrong"}}})
    assert found.body["search_categories"]["room_events"]["count"] == 0


async def test_a_redaction_that_arrives_before_its_event_applies_when_it_comes(federation):
    hs1, hs2, alice, bob, room_id = await _shared_room(federation)
    version = await _version(hs1, room_id)
    message = await _craft(hs1, hs2, room_id, "m.room.message", {"msgtype": "m.text", "body": "secret"})
    message_id = Event(message, version).event_id
    redaction = await _craft(hs1, hs2, room_id, "m.room.redaction", {}, redacts=message_id)
    redaction_id = Event(redaction, version).event_id
    assert (await _push(hs2, [redaction], "early"))["pdus"] == {redaction_id: {}}
    # Until the message comes, the redaction is kept but not shown.
    assert redaction_id not in await _timeline_ids(alice, room_id)
    assert (await _push(hs2, [message], "late"))["pdus"] == {message_id: {}}
    seen = await _event(alice, room_id, message_id)
    assert seen["content"] == {}
    assert seen["unsigned"]["redacted_because"]["event_id"] == redaction_id
    # hs1 serves only the redacted copy to other servers as well.
    pdu = await hs2.hearth.federation_client.request("hs1.test", "GET", f"/_matrix/federation/v1/event/{quote(message_id, safe='')}")
    assert pdu["pdus"][0]["content"] == {}


async def test_redactions_that_may_not_apply_are_ignored_and_not_shown(federation):
    hs1, hs2, alice, bob, room_id = await _shared_room(federation)
    other_room = (await alice.post(f"{V3}/createRoom", {"preset": "public_chat"})).body["room_id"]
    assert (await bob.post(f"{V3}/join/{quote(other_room, safe='')}", {}, params={"via": "hs1.test"})).status == 200
    version = await _version(hs1, room_id)
    alices = await _send(alice, room_id, "alice's words")
    elsewhere = await _send(alice, other_room, "in the other room")
    bobs = await _send(bob, other_room, "bob's own, in the other room")

    async def arrived():
        return (await alice.get(f"{V3}/rooms/{quote(other_room, safe='')}/event/{quote(bobs, safe='')}")).status == 200
    await _until(arrived, "bob's message never reached hs1")
    # bob (power 0, another server) redacts alice's message; and events of another room.
    attempts = [
        await _craft(hs1, hs2, room_id, "m.room.redaction", {}, redacts=target) for target in (alices, elsewhere, bobs)
    ]
    ids = [Event(p, version).event_id for p in attempts]
    for n, pdu in enumerate(attempts):
        answer = await _push(hs2, [pdu], f"ignored{n}")
        assert answer["pdus"] == {ids[n]: {}}  # authorised (v3+ auth rules allow any redaction), kept
    assert (await _event(alice, room_id, alices))["content"]["body"] == "alice's words"
    assert (await _event(alice, other_room, elsewhere))["content"]["body"] == "in the other room"
    assert (await _event(alice, other_room, bobs))["content"]["body"] == "bob's own, in the other room"
    shown = await _timeline_ids(alice, room_id)
    assert not shown & set(ids)
    for redaction_id in ids:
        assert (await alice.get(f"{V3}/rooms/{quote(room_id, safe='')}/event/{quote(redaction_id, safe='')}")).status == 404
    synced = (await alice.get(f"{V3}/sync")).body["rooms"]["join"][room_id]["timeline"]["events"]
    assert not {e["event_id"] for e in synced} & set(ids)
    # With the redact power level, bob's redaction of alice's message applies.
    power = (await alice.get(f"{V3}/rooms/{quote(room_id, safe='')}/state/m.room.power_levels")).body
    power["users"] = {**power.get("users", {}), bob.user_id: 50}
    assert (await alice.put(f"{V3}/rooms/{quote(room_id, safe='')}/state/m.room.power_levels", power)).status == 200

    async def bob_has_power():
        got = await bob.get(f"{V3}/rooms/{quote(room_id, safe='')}/state/m.room.power_levels")
        return got.body.get("users", {}).get(bob.user_id) == 50
    await _until(bob_has_power, "the power levels never reached hs2")
    assert (await bob.put(f"{V3}/rooms/{quote(room_id, safe='')}/redact/{quote(alices, safe='')}/mod", {})).status == 200

    async def applied():
        return (await _event(alice, room_id, alices))["content"] == {}
    await _until(applied, "the moderator's redaction was not applied")


async def test_backfilled_redactions_apply(federation):
    hs1, hs2 = await federation("hs1.test", "hs2.test")
    alice = await hs1.client.register("alice")
    room_id = (await alice.post(f"{V3}/createRoom", {"preset": "public_chat"})).body["room_id"]
    message = await _send(alice, room_id, "before bob came")
    redaction = await alice.put(f"{V3}/rooms/{quote(room_id, safe='')}/redact/{quote(message, safe='')}/r", {})
    for n in range(3):
        await _send(alice, room_id, f"later {n}")
    bob = await hs2.client.register("bob")
    assert (await bob.post(f"{V3}/join/{quote(room_id, safe='')}", {}, params={"via": "hs1.test"})).status == 200
    history = await bob.get(f"{V3}/rooms/{quote(room_id, safe='')}/messages", params={"dir": "b", "limit": "30"})
    by_id = {e["event_id"]: e for e in history.body["chunk"]}
    assert by_id[message]["content"] == {}
    assert by_id[message]["unsigned"]["redacted_because"]["event_id"] == redaction.body["event_id"]
