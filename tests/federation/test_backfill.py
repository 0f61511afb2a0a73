"""History from before a server joined a room (``/backfill``): each backfilled event is
checked against, and judged by, the room state at that event."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.support.pdus import signed_pdu

pytestmark = pytest.mark.federation

V3 = "/_matrix/client/v3"


async def _send(user, room_id: str, body: str) -> str:
    sent = await user.put(f"{V3}/rooms/{quote(room_id)}/send/m.room.message/{quote(body)}", {"msgtype": "m.text", "body": body})
    assert sent.status == 200, sent.body
    return sent.body["event_id"]


async def _set_state(user, room_id: str, event_type: str, content: dict) -> str:
    sent = await user.put(f"{V3}/rooms/{quote(room_id)}/state/{event_type}", content)
    assert sent.status == 200, sent.body
    return sent.body["event_id"]


async def _join(user, room_id: str, via: str) -> None:
    joined = await user.post(f"{V3}/join/{quote(room_id)}", {}, params={"via": via})
    assert joined.status == 200, joined.body


async def _page_back(user, room_id: str, limit: int) -> list[dict]:
    """Every event ``user`` gets paging back through the room, newest first."""
    events: list[dict] = []
    params = {"dir": "b", "limit": str(limit)}
    while True:
        page = await user.get(f"{V3}/rooms/{quote(room_id)}/messages", params=params)
        assert page.status == 200, page.body
        events.extend(page.body["chunk"])
        if "end" not in page.body:
            return events
        params = {**params, "from": page.body["end"]}


def _summary(event: dict) -> tuple[str, str]:
    content = event["content"]
    if event["type"] == "m.room.member":
        return event["type"], f"{event['state_key'][1:].split(':')[0]} {content['membership']}"
    return event["type"], content.get("body") or content.get("name") or content.get("history_visibility") or ""


async def test_history_from_before_a_join_is_backfilled(federation):
    hs1, hs2 = await federation("hs1.test", "hs2.test")
    alice = await hs1.client.register("alice")
    room_id = (await alice.post(f"{V3}/createRoom", {"preset": "public_chat"})).body["room_id"]
    for n in range(5):
        await _send(alice, room_id, f"old {n}")
    bob = await hs2.client.register("bob")
    await _join(bob, room_id, "hs1.test")
    history = await bob.get(f"{V3}/rooms/{quote(room_id)}/messages", params={"dir": "b", "limit": "30"})
    assert history.status == 200, history.body
    bodies = [e["content"].get("body") for e in history.body["chunk"] if e["type"] == "m.room.message"]
    assert bodies == [f"old {n}" for n in reversed(range(5))]
    # Paging on reaches the room's creation and stops.
    types = [e["type"] for e in await _page_back(bob, room_id, 30)]
    assert types[-1] == "m.room.create"


@pytest.mark.parametrize("page", [50, 3])
async def test_backfilled_events_are_judged_by_the_state_at_each_of_them(federation, monkeypatch, page):
    """With small pages each backfill is a short batch whose oldest event's state is asked
    of the other server (``/state_ids``); with a large one the batch reaches the room's creation."""
    hs1, hs2 = await federation("hs1.test", "hs2.test")
    alice, carol = await hs1.client.register("alice"), await hs1.client.register("carol")
    room_id = (await alice.post(f"{V3}/createRoom", {
        "preset": "public_chat", "name": "First",
        "initial_state": [{"type": "m.room.history_visibility", "content": {"history_visibility": "joined"}}],
    })).body["room_id"]
    early = [await _send(alice, room_id, f"early {n}") for n in range(3)]
    await _set_state(alice, room_id, "m.room.history_visibility", {"history_visibility": "shared"})
    late = [await _send(alice, room_id, f"late {n}") for n in range(2)]
    await _set_state(alice, room_id, "m.room.name", {"name": "Second"})
    await _join(carol, room_id, "hs1.test")
    carol_here = await _send(carol, room_id, "carol here")
    assert (await carol.post(f"{V3}/rooms/{quote(room_id)}/leave", {})).status == 200
    late.append(await _send(alice, room_id, "late 2"))

    bob = await hs2.client.register("bob")
    await _join(bob, room_id, "hs1.test")
    queries = hs2.hearth.remote_events._federation
    asked: list[str] = []

    async def state_ids(destination, room, event_id):
        asked.append(event_id)
        return await type(queries).state_ids(queries, destination, room, event_id)

    monkeypatch.setattr(queries, "state_ids", state_ids)
    history = await _page_back(bob, room_id, page)

    # Under "joined" bob was no member: hidden. Under "shared" (and before any setting,
    # which means "shared") he sees all, since he joined later. A history_visibility event
    # is visible when the setting before or after it allows.
    assert [_summary(e) for e in history] == [
        ("m.room.member", "bob join"),
        ("m.room.message", "late 2"),
        ("m.room.member", "carol leave"),
        ("m.room.message", "carol here"),
        ("m.room.member", "carol join"),
        ("m.room.name", "Second"),
        ("m.room.message", "late 1"),
        ("m.room.message", "late 0"),
        ("m.room.history_visibility", "shared"),
        ("m.room.history_visibility", "joined"),
        ("m.room.guest_access", ""),
        ("m.room.join_rules", ""),
        ("m.room.power_levels", ""),
        ("m.room.member", "alice join"),
        ("m.room.create", ""),
    ]
    assert bool(asked) == (page == 3)
    if page == 50:
        # Besides the state bob joined with and the state after his join, one state group
        # per backfilled state event (11), each a delta on the one before it but the
        # creation's (a full snapshot, like the state bob joined with).
        groups = await hs2.hearth.event_store.db.fetch("SELECT prev_group FROM state_groups WHERE room_id = $1", room_id)
        assert len(groups) == 2 + 11 and sum(g["prev_group"] is None for g in groups) == 2
    for event_id in early:
        assert (await bob.get(f"{V3}/rooms/{quote(room_id)}/event/{quote(event_id)}")).status == 404
    # The state before each backfilled event shows in what it replaced. The first name was
    # set under "joined", before hs2 was in the room: hs1 served it redacted.
    renamed = next(e for e in history if e["type"] == "m.room.name")
    assert renamed["unsigned"]["prev_content"] == {}

    async def state_at(event_id: str) -> tuple[dict[tuple[str, str], dict], str]:
        context = await bob.get(f"{V3}/rooms/{quote(room_id)}/context/{quote(event_id)}", params={"limit": "0"})
        assert context.status == 200, context.body
        return {(e["type"], e["state_key"]): e["content"] for e in context.body["state"]}, context.body["end"]

    state, _ = await state_at(late[0])
    assert state[("m.room.name", "")] == {}
    assert state[("m.room.history_visibility", "")] == {"history_visibility": "shared"}
    assert ("m.room.member", carol.user_id) not in state
    state, at_carol = await state_at(carol_here)
    assert state[("m.room.name", "")] == {"name": "Second"}
    assert state[("m.room.member", carol.user_id)]["membership"] == "join"
    state, _ = await state_at(late[2])
    assert state[("m.room.member", carol.user_id)]["membership"] == "leave"
    members = await bob.get(f"{V3}/rooms/{quote(room_id)}/members", params={"at": at_carol, "membership": "join"})
    assert {e["state_key"] for e in members.body["chunk"]} == {alice.user_id, carol.user_id}
    # The room's state now is what it was.
    assert (await bob.get(f"{V3}/rooms/{quote(room_id)}/state/m.room.name")).body == {"name": "Second"}
    now = await bob.get(f"{V3}/rooms/{quote(room_id)}/members", params={"membership": "join"})
    assert {e["state_key"] for e in now.body["chunk"]} == {alice.user_id, bob.user_id}


async def _state_at(server, event_id: str) -> dict[tuple[str, str], str]:
    """The state after ``event_id`` on ``server``."""
    state = server.hearth.remote_events._state
    return dict(await state.get_state((await state.get_event_state_groups([event_id]))[event_id]))


async def _forge(on, signer, room_id: str, sender: str, event_type: str, content: dict, *,
                 prev_events: list[str], auth_state: dict[tuple[str, str], str], state_key: str | None = None):
    """An event ``signer`` signs, on ``prev_events`` as ``on`` has them, with its auth
    events picked from ``auth_state``."""
    from homeserver.core.events import Event
    from homeserver.core.room_versions import get_room_version

    pdu = await signed_pdu(
        on.hearth, signer.name, signer.hearth.keyring._key, room_id, sender, event_type, content,
        prev_events=prev_events, auth_state=auth_state, state_key=state_key,
    )
    room = await on.hearth.event_store.db.fetchrow("SELECT room_version FROM rooms WHERE room_id = $1", room_id)
    return Event(pdu, get_room_version(room["room_version"]))


async def test_a_fork_in_backfilled_history_is_resolved(federation):
    """Two branches of history that change different state merge; the server that
    backfills them resolves the state before the merge from both."""
    hs1, hs2, hs3 = await federation("hs1.test", "hs2.test", "hs3.test")
    alice, bob, dave = await hs1.client.register("alice"), await hs2.client.register("bob"), await hs3.client.register("dave")
    room_id = (await alice.post(f"{V3}/createRoom", {"preset": "public_chat"})).body["room_id"]
    await _join(bob, room_id, "hs1.test")
    fork = await _send(alice, room_id, "the fork")
    topic = await _set_state(alice, room_id, "m.room.topic", {"topic": "branch a"})
    # Bob's server sends a change made beside the topic, on the event before it.
    at_fork = await _state_at(hs1, fork)
    renamed = await _forge(hs1, hs2, room_id, bob.user_id, "m.room.member", {"membership": "join", "displayname": "Bobby"},
                           prev_events=[fork], auth_state=at_fork, state_key=bob.user_id)
    body = {"origin": "hs2.test", "origin_server_ts": 1, "pdus": [renamed.pdu()], "edus": []}
    answer = await hs2.hearth.federation_client.request("hs1.test", "PUT", "/_matrix/federation/v1/send/fork", body=body)
    assert answer["pdus"] == {renamed.event_id: {}}
    merged = await _send(alice, room_id, "merged")
    assert set((await hs1.hearth.event_store.get_event(merged)).event.prev_event_ids) == {topic, renamed.event_id}

    await _join(dave, room_id, "hs1.test")
    bodies = [e["content"].get("body") for e in await _page_back(dave, room_id, 50) if e["type"] == "m.room.message"]
    assert bodies == ["merged", "the fork"]
    on_hs1 = {event_id: await _state_at(hs1, event_id) for event_id in (fork, topic, renamed.event_id, merged)}
    for event_id, state in on_hs1.items():
        assert await _state_at(hs3, event_id) == state
    assert on_hs1[merged][("m.room.topic", "")] == topic
    assert on_hs1[merged][("m.room.member", bob.user_id)] == renamed.event_id
    assert ("m.room.topic", "") not in on_hs1[renamed.event_id]


async def test_backfilled_events_the_state_before_them_does_not_allow_are_rejected(federation):
    """A server serves history with a message from a banned user that names her
    pre-ban membership as its auth events: allowed by its auth events, not by the state
    before it, so the backfilling server rejects it and takes the rest."""
    hs1, hs2 = await federation("hs1.test", "hs2.test")
    alice, carol = await hs1.client.register("alice"), await hs1.client.register("carol")
    room_id = (await alice.post(f"{V3}/createRoom", {"preset": "public_chat"})).body["room_id"]
    await _join(carol, room_id, "hs1.test")
    before_ban = await _send(carol, room_id, "before the ban")
    assert (await alice.post(f"{V3}/rooms/{quote(room_id)}/ban", {"user_id": carol.user_id})).status == 200

    # hs1 keeps an event carol's server (hs1 itself) signed after the ban, authorised by her join.
    hearth = hs1.hearth
    extremities = await hearth.event_store.get_extremities(room_id)
    forged = await _forge(hs1, hs1, room_id, carol.user_id, "m.room.message", {"msgtype": "m.text", "body": "evading the ban"},
                          prev_events=extremities, auth_state=await _state_at(hs1, before_ban))
    state = await _state_at(hs1, extremities[0])
    auth_events = await hearth.event_store.get_events(forged.auth_event_ids)
    await hearth.remote_events._sender.persist_remote(
        forged, state_before=state, auth_state={s.event.state_tuple(): s.event for s in auth_events.values()},
        soft_failed=False, resolve=lambda sets: hearth.remote_events.resolve(forged.room_version, sets, new=forged),
    )
    await _send(alice, room_id, "after the forgery")  # built on the forged event

    bob = await hs2.client.register("bob")
    await _join(bob, room_id, "hs1.test")
    bodies = [e["content"].get("body") for e in await _page_back(bob, room_id, 50) if e["type"] == "m.room.message"]
    assert bodies == ["after the forgery", "before the ban"]
    assert await hs2.hearth.event_store.get_event(forged.event_id) is None
    # Its own auth events do allow it: the state before it is what refused it.
    await hs2.hearth.remote_events.check_against_auth_events(forged, {})
