"""Every room version Hearth creates rooms of also works across servers: invites, joins
and messages in rooms of versions 1 and 2 (server-made event IDs, ``[event_id, hashes]``
references, state resolution v1 in version 1) and a current one (spec: room versions;
Server-Server API, "Joining Rooms", "Inviting to a room")."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

import pytest

from federation.client import FederationError
from federation.queries import FederationQueryClient
from homeserver.core.room_versions import KNOWN_ROOM_VERSIONS
from homeserver.services.ports import RemoteUnavailable
from homeserver.services.rooms.remote import JOINABLE_VERSIONS

pytestmark = pytest.mark.federation

V3 = "/_matrix/client/v3"


def q(value: str) -> str:
    return quote(value, safe="")


async def _until(predicate, what: str, timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, what
        await asyncio.sleep(0.1)


async def _stored_pdu(hs, event_id: str) -> dict:
    stored = await hs.hearth.event_store.get_event(event_id)
    assert stored is not None, event_id
    return stored.event.pdu()


def test_every_known_room_version_is_joinable():
    assert JOINABLE_VERSIONS == sorted(KNOWN_ROOM_VERSIONS, key=int)


@pytest.mark.parametrize("room_version", ["1", "2", "12"])
async def test_invite_join_and_messages_across_servers(federation, room_version):
    hs1, hs2 = await federation("hs1.test", "hs2.test")
    alice, bob = await hs1.client.register("alice"), await hs2.client.register("bob")
    created = await alice.post(f"{V3}/createRoom", {"preset": "private_chat", "room_version": room_version, "name": "Old"})
    assert created.status == 200, created.body
    room_id = created.body["room_id"]
    r = f"{V3}/rooms/{q(room_id)}"
    invited = await alice.post(f"{r}/invite", {"user_id": bob.user_id})
    assert invited.status == 200, invited.body
    joined = await bob.post(f"{V3}/join/{q(room_id)}", {})
    assert joined.status == 200, joined.body
    assert (await bob.get(f"{r}/state/m.room.name")).body == {"name": "Old"}

    async def hs1_sees_bob():
        return bob.user_id in (await alice.get(f"{r}/joined_members")).body["joined"]
    await _until(hs1_sees_bob, "hs1 never saw bob join")
    sent_by_bob = (await bob.put(f"{r}/send/m.room.message/b", {"msgtype": "m.text", "body": "from hs2"})).body["event_id"]
    sent_by_alice = (await alice.put(f"{r}/send/m.room.message/a", {"msgtype": "m.text", "body": "from hs1"})).body["event_id"]

    async def crossed():
        mine = await alice.get(f"{r}/event/{q(sent_by_bob)}")
        theirs = await bob.get(f"{r}/event/{q(sent_by_alice)}")
        return mine.status == 200 and theirs.status == 200
    await _until(crossed, "the messages did not cross")
    version = KNOWN_ROOM_VERSIONS[room_version]
    state = (await alice.get(f"{r}/state")).body
    member_id = next(e["event_id"] for e in state if e["type"] == "m.room.member" and e["state_key"] == bob.user_id)
    for hs, event_id in ((hs1, sent_by_bob), (hs2, sent_by_alice), (hs1, member_id)):
        pdu = await _stored_pdu(hs, event_id)
        if version.event_format.reference_pairs:
            # Server-made IDs of the sending server; references carry the referenced events' hashes.
            assert pdu["event_id"] == event_id and event_id.endswith(":" + ("hs2.test" if hs is hs1 else "hs1.test"))
            for ref in pdu["prev_events"] + pdu["auth_events"]:
                assert isinstance(ref, list) and set(ref[1]) == {"sha256"}, ref
        else:
            assert "event_id" not in pdu and all(isinstance(ref, str) for ref in pdu["prev_events"])


async def test_the_v1_invite_endpoint(federation):
    """``PUT /v1/invite`` (kept by the spec for rooms of version 1 and 2): the invite is the
    body, the preview in its ``unsigned``, the answer ``[200, {"event": ...}]``."""
    hs1, hs2 = await federation("hs1.test", "hs2.test")
    alice, bob = await hs1.client.register("alice"), await hs2.client.register("bob")
    room_id = (await alice.post(f"{V3}/createRoom", {"preset": "private_chat", "room_version": "2", "name": "Legacy"})).body["room_id"]
    event, _, _ = await hs1.hearth.remote_membership._sender.prepare(
        room_id, alice.user_id, "m.room.member", {"membership": "invite"}, state_key=bob.user_id
    )
    preview = [{"type": "m.room.create", "state_key": "", "sender": alice.user_id, "content": {"room_version": "2"}},
               {"type": "m.room.name", "state_key": "", "sender": alice.user_id, "content": {"name": "Legacy"}}]
    body = {**event.pdu(), "unsigned": {"invite_room_state": preview}}
    answer = await hs1.hearth.federation_client.request(
        "hs2.test", "PUT", f"/_matrix/federation/v1/invite/{q(room_id)}/{q(event.event_id)}", body=body
    )
    assert answer[0] == 200 and "hs2.test" in answer[1]["event"]["signatures"]
    synced = (await bob.get(f"{V3}/sync")).body
    invite_state = synced["rooms"]["invite"][room_id]["invite_state"]["events"]
    assert {"type": "m.room.name", "state_key": "", "sender": alice.user_id, "content": {"name": "Legacy"}} in invite_state
    # The room's version came from the preview.
    row = await hs2.hearth.event_store.db.fetchrow("SELECT room_version FROM rooms WHERE room_id = $1", room_id)
    assert row["room_version"] == "2"
    # What is not an invite is refused as the spec says.
    refused = await _refusal(hs1, f"/_matrix/federation/v1/invite/{q(room_id)}/{q(event.event_id)}", ["not an event"])
    assert (refused.status, refused.errcode) == (400, "M_BAD_JSON")


async def _refusal(hs, path: str, body) -> FederationError:
    with pytest.raises(FederationError) as refused:
        await hs.hearth.federation_client.request("hs2.test", "PUT", path, body=body)
    return refused.value


class _OldServer:
    """A federation client whose peer knows only ``/v1/invite``."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def request(self, destination, method, path, *, body=None, **kwargs):
        self.asked.append(path)
        if path.startswith("/_matrix/federation/v2/"):
            raise FederationError(destination, "HTTP 404 M_UNRECOGNIZED", status=404, errcode="M_UNRECOGNIZED")
        return [200, {"event": {**body, "signatures": {**body["signatures"], destination: {"ed25519:x": "sig"}}}}]


@pytest.mark.parametrize("room_version, falls_back", [("1", True), ("2", True), ("3", False)])
async def test_invites_fall_back_to_v1_for_old_rooms_only(room_version, falls_back):
    old = _OldServer()
    client = FederationQueryClient(old)  # type: ignore[arg-type]
    body = {"room_version": room_version, "event": {"type": "m.room.member", "signatures": {"hs1.test": {}}},
            "invite_room_state": [{"type": "m.room.create"}]}
    if falls_back:
        answer = await client.send_invite("old.test", "!r:hs1.test", "$e:hs1.test", body)
        assert "old.test" in answer["event"]["signatures"]
        assert answer["event"]["unsigned"]["invite_room_state"] == [{"type": "m.room.create"}]
        assert old.asked == ["/_matrix/federation/v2/invite/%21r%3Ahs1.test/%24e%3Ahs1.test",
                             "/_matrix/federation/v1/invite/%21r%3Ahs1.test/%24e%3Ahs1.test"]
    else:
        with pytest.raises(RemoteUnavailable):
            await client.send_invite("old.test", "!r:hs1.test", "$e:hs1.test", body)
        assert len(old.asked) == 1
