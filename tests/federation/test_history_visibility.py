"""Federation reads respect history visibility (issue 12, point 11): another server
gets the events its users could not see, and the state and auth chain at them,
redacted, through ``/event``, ``/backfill``, ``/get_missing_events``, ``/state``
and ``/event_auth``."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from homeserver.core.redaction import redact
from tests.federation.conftest import FederatedServer

pytestmark = pytest.mark.federation

V3 = "/_matrix/client/v3"
FED = "/_matrix/federation/v1"


async def _send(user: Any, room_id: str, body: str) -> str:
    sent = await user.put(f"{V3}/rooms/{quote(room_id)}/send/m.room.message/{quote(body)}", {"msgtype": "m.text", "body": body})
    assert sent.status == 200, sent.body
    return sent.body["event_id"]


async def _room(hs1: FederatedServer, hs2: FederatedServer, visibility: str) -> tuple[str, dict[str, str]]:
    """A public room on hs1 where alice writes before hs2's bob is invited, while he is, and after he joins."""
    alice = await hs1.client.register("alice")
    room_id = (await alice.post(f"{V3}/createRoom", {"preset": "public_chat", "name": "Secret name", "initial_state": [
        {"type": "m.room.history_visibility", "state_key": "", "content": {"history_visibility": visibility}},
    ]})).body["room_id"]
    renamed = await alice.put(f"{V3}/rooms/{quote(room_id)}/state/m.room.member/{quote(alice.user_id)}",
                              {"membership": "join", "displayname": "Alice Private"})
    assert renamed.status == 200, renamed.body
    bob = await hs2.client.register("bob")
    sent = {"before": await _send(alice, room_id, "before the invite")}
    invited = await alice.post(f"{V3}/rooms/{quote(room_id)}/invite", {"user_id": bob.user_id})
    assert invited.status == 200, invited.body
    sent["invited"] = await _send(alice, room_id, "while invited")
    joined = await bob.post(f"{V3}/join/{quote(room_id)}", {}, params={"server_name": "hs1.test"})
    assert joined.status == 200, joined.body
    sent["after"] = await _send(alice, room_id, "after the join")
    return room_id, sent


def _bodies(pdus: list[dict[str, Any]]) -> list[str]:
    return sorted(p["content"].get("body", "(redacted)") for p in pdus if p["type"] == "m.room.message")


async def _redacted_as_stored(hs1: FederatedServer, event_id: str) -> dict[str, Any]:
    stored = await hs1.hearth.event_store.get_event(event_id)
    assert stored is not None
    return redact(stored.event.pdu(), stored.event.room_version)


@pytest.mark.parametrize(("visibility", "hidden"), [("joined", {"before", "invited"}), ("invited", {"before"})])
async def test_events_a_server_could_not_see_are_served_redacted(federation, visibility, hidden):
    hs1, hs2 = await federation("hs1.test", "hs2.test")
    room_id, sent = await _room(hs1, hs2, visibility)
    ask = hs2.hearth.federation_client.request
    for name, event_id in sent.items():
        [pdu] = (await ask("hs1.test", "GET", f"{FED}/event/{quote(event_id)}"))["pdus"]
        if name in hidden:
            assert pdu == await _redacted_as_stored(hs1, event_id)
            assert pdu["content"] == {}
        else:
            assert pdu["content"]["body"]

    expected = sorted(["(redacted)"] * len(hidden) + [b for n, b in (
        ("before", "before the invite"), ("invited", "while invited"), ("after", "after the join"),
    ) if n not in hidden])
    backfill = await ask("hs1.test", "GET", f"{FED}/backfill/{quote(room_id)}",
                         query=[("v", sent["after"]), ("limit", "50")])
    assert _bodies(backfill["pdus"]) == expected
    missing = await ask("hs1.test", "POST", f"{FED}/get_missing_events/{quote(room_id)}",
                        body={"earliest_events": [], "latest_events": [sent["after"]], "limit": 20})
    assert _bodies(missing["events"]) == sorted(b for b in expected if b != "after the join")

    # The state and auth chain at an event it could not see are redacted too; at one it could, whole.
    early = await ask("hs1.test", "GET", f"{FED}/state/{quote(room_id)}", query={"event_id": sent["before"]})
    late = await ask("hs1.test", "GET", f"{FED}/state/{quote(room_id)}", query={"event_id": sent["after"]})
    names = [[p["content"] for p in answer["pdus"] if p["type"] == "m.room.name"] for answer in (early, late)]
    assert names == [[{}], [{"name": "Secret name"}]]
    chains = [
        await ask("hs1.test", "GET", f"{FED}/event_auth/{quote(room_id)}/{quote(sent[n])}") for n in ("before", "after")
    ]
    alices = [[p["content"] for p in c["auth_chain"] if p.get("state_key", "").startswith("@alice")] for c in chains]
    assert alices[0] and all(c == {"membership": "join"} for c in alices[0])  # the displayname went with the redaction
    assert {"membership": "join", "displayname": "Alice Private"} in alices[1]


async def test_shared_history_is_served_whole(federation):
    hs1, hs2 = await federation("hs1.test", "hs2.test")
    room_id, sent = await _room(hs1, hs2, "shared")
    ask = hs2.hearth.federation_client.request
    [pdu] = (await ask("hs1.test", "GET", f"{FED}/event/{quote(sent['before'])}"))["pdus"]
    assert pdu["content"]["body"] == "before the invite"
    backfill = await ask("hs1.test", "GET", f"{FED}/backfill/{quote(room_id)}",
                         query=[("v", sent["after"]), ("limit", "50")])
    assert _bodies(backfill["pdus"]) == ["after the join", "before the invite", "while invited"]
