"""Reading a room needs membership (spec: "History visibility"): invitees and
knockers see the stripped state ``/sync`` gives them and nothing more; former
members read up to the end of their stay; forgetting a room ends even that;
anyone reads a ``world_readable`` room."""

from __future__ import annotations

import json
import time

R = "/_matrix/client/v3/rooms"
V1 = "/_matrix/client/v1"
SECRET = "the secret plan"


async def _room(user, **body):
    resp = await user.post("/_matrix/client/v3/createRoom", body)
    assert resp.status == 200, resp.body
    return resp.body["room_id"]


async def _send(user, room_id, body):
    resp = await user.put(f"{R}/{room_id}/send/m.room.message/t{time.monotonic_ns()}", {"msgtype": "m.text", "body": body})
    assert resp.status == 200, resp.body
    return resp.body["event_id"]


def _visibility(value: str) -> dict:
    return {"type": "m.room.history_visibility", "content": {"history_visibility": value}}


async def _reads(user, room_id: str, event_id: str) -> dict[str, int]:
    """The status of every room read endpoint for this user."""
    now = int(time.time() * 1000) + 60_000
    answers = {
        "state": await user.get(f"{R}/{room_id}/state"),
        "state_event": await user.get(f"{R}/{room_id}/state/m.room.topic"),
        "state_event_key": await user.get(f"{R}/{room_id}/state/m.room.topic/"),
        "members": await user.get(f"{R}/{room_id}/members"),
        "members_at": await user.get(f"{R}/{room_id}/members", params={"at": "t99999999"}),
        "joined_members": await user.get(f"{R}/{room_id}/joined_members"),
        "messages": await user.get(f"{R}/{room_id}/messages", params={"dir": "b"}),
        "context": await user.get(f"{R}/{room_id}/context/{event_id}"),
        "event": await user.get(f"{R}/{room_id}/event/{event_id}"),
        "relations": await user.get(f"{V1}/rooms/{room_id}/relations/{event_id}"),
        "threads": await user.get(f"{V1}/rooms/{room_id}/threads"),
        "timestamp": await user.get(f"{V1}/rooms/{room_id}/timestamp_to_event", params={"ts": str(now), "dir": "b"}),
    }
    for name, resp in answers.items():
        assert SECRET not in json.dumps(resp.body), (name, resp.body)
    return {name: resp.status for name, resp in answers.items()}


def _all_refused(statuses: dict[str, int]) -> None:
    refused = {name: status for name, status in statuses.items() if status not in (403, 404)}
    assert not refused, refused


async def _search(user, term: str) -> list:
    body = {"search_categories": {"room_events": {"search_term": term}}}
    resp = await user.post("/_matrix/client/v3/search", body)
    assert resp.status == 200, resp.body
    return resp.body["search_categories"]["room_events"]["results"]


async def _secret_room(alice, **extra) -> tuple[str, str]:
    room_id = await _room(
        alice,
        initial_state=[
            _visibility("joined"),
            {"type": "m.room.join_rules", "content": {"join_rule": "knock"}},
            {"type": "m.room.topic", "content": {"topic": SECRET}},
        ],
        **extra,
    )
    return room_id, await _send(alice, room_id, SECRET)


async def test_invitee_reads_only_the_stripped_state(client):
    alice = await client.register("alice")
    bob = await client.register("bob")
    room_id, secret = await _secret_room(alice, name="The room")
    assert (await alice.post(f"{R}/{room_id}/invite", {"user_id": bob.user_id})).status == 200
    _all_refused(await _reads(bob, room_id, secret))
    assert await _search(bob, "secret") == []
    # What the spec gives an invitee: the stripped state in /sync.
    synced = await bob.get("/_matrix/client/v3/sync")
    stripped = synced.body["rooms"]["invite"][room_id]["invite_state"]["events"]
    assert {e["type"] for e in stripped} >= {"m.room.name", "m.room.member"}
    # And a summary of the room (spec: "Room summary").
    summary = await bob.get(f"{V1}/room_summary/{room_id}")
    assert summary.status == 200 and summary.body["membership"] == "invite"


async def test_knocker_reads_nothing(client):
    alice = await client.register("alice")
    carol = await client.register("carol")
    room_id, secret = await _secret_room(alice)
    assert (await carol.post(f"/_matrix/client/v3/knock/{room_id}", {})).status == 200
    _all_refused(await _reads(carol, room_id, secret))
    assert await _search(carol, "secret") == []


async def test_rejected_invite_and_retracted_knock_read_nothing(client):
    alice = await client.register("alice")
    bob = await client.register("bob")
    carol = await client.register("carol")
    room_id, secret = await _secret_room(alice)
    await alice.post(f"{R}/{room_id}/invite", {"user_id": bob.user_id})
    assert (await bob.post(f"{R}/{room_id}/leave", {})).status == 200
    await carol.post(f"/_matrix/client/v3/knock/{room_id}", {})
    assert (await carol.post(f"{R}/{room_id}/leave", {})).status == 200
    for user in (bob, carol):
        _all_refused(await _reads(user, room_id, secret))
        # /sync's leave section holds their own leave, not the room's state.
        synced = await user.get("/_matrix/client/v3/sync", params={"filter": json.dumps({"room": {"include_leave": True}})})
        left = synced.body["rooms"]["leave"][room_id]
        assert SECRET not in json.dumps(left)
        assert [e["type"] for e in left["timeline"]["events"]] == ["m.room.member"]
    # A former invitee of a private room gets no summary or hierarchy of it either.
    private = await _room(alice, initial_state=[{"type": "m.room.topic", "content": {"topic": SECRET}}])
    await alice.post(f"{R}/{private}/invite", {"user_id": bob.user_id})
    await bob.post(f"{R}/{private}/leave", {})
    assert (await bob.get(f"{V1}/room_summary/{private}")).status == 404
    assert (await bob.get(f"{V1}/rooms/{private}/hierarchy")).status == 403


async def test_banned_without_joining_reads_nothing(client):
    alice = await client.register("alice")
    bob = await client.register("bob")
    room_id, secret = await _secret_room(alice)
    await alice.post(f"{R}/{room_id}/invite", {"user_id": bob.user_id})
    assert (await alice.post(f"{R}/{room_id}/ban", {"user_id": bob.user_id})).status == 200
    _all_refused(await _reads(bob, room_id, secret))


async def test_former_member_reads_up_to_their_leave(client):
    alice = await client.register("alice")
    bob = await client.register("bob")
    room_id = await _room(alice, preset="public_chat", initial_state=[_visibility("shared")])
    before_join = await _send(alice, room_id, "before bob joined")
    await bob.post(f"{R}/{room_id}/join", {})
    during = await _send(alice, room_id, "while bob was here")
    await bob.post(f"{R}/{room_id}/leave", {})
    await alice.put(f"{R}/{room_id}/state/m.room.topic", {"topic": SECRET})
    after = await _send(alice, room_id, SECRET)

    statuses = await _reads(bob, room_id, during)
    assert statuses["state"] == statuses["messages"] == statuses["members"] == statuses["event"] == 200
    assert statuses["state_event"] == 404  # no topic when Bob left
    msgs = await bob.get(f"{R}/{room_id}/messages", params={"dir": "b", "limit": "50"})
    ids = [e["event_id"] for e in msgs.body["chunk"]]
    # Shared history from before his join stays his after leaving; nothing after the leave.
    assert before_join in ids and during in ids and after not in ids
    assert (await bob.get(f"{R}/{room_id}/event/{before_join}")).status == 200
    assert (await bob.get(f"{R}/{room_id}/event/{after}")).status == 404
    members = await bob.get(f"{R}/{room_id}/members")
    assert {e["state_key"]: e["content"]["membership"] for e in members.body["chunk"]}[bob.user_id] == "leave"

    # Invited again, he still reads only up to the end of his stay.
    await alice.post(f"{R}/{room_id}/invite", {"user_id": bob.user_id})
    again = await _reads(bob, room_id, during)
    assert again["state"] == again["messages"] == 200 and again["state_event"] == 404

    # Forgetting the room ends it.
    await bob.post(f"{R}/{room_id}/leave", {})
    assert (await bob.post(f"{R}/{room_id}/forget", {})).status == 200
    _all_refused(await _reads(bob, room_id, during))


async def test_world_readable_room_is_read_by_invitees_too(client):
    alice = await client.register("alice")
    bob = await client.register("bob")
    room_id = await _room(alice, initial_state=[_visibility("world_readable")])
    await alice.post(f"{R}/{room_id}/invite", {"user_id": bob.user_id})
    await alice.put(f"{R}/{room_id}/state/m.room.topic", {"topic": "open topic"})
    event_id = await _send(alice, room_id, "for everyone")
    topic = await bob.get(f"{R}/{room_id}/state/m.room.topic")
    assert topic.status == 200 and topic.body == {"topic": "open topic"}
    assert (await bob.get(f"{R}/{room_id}/event/{event_id}")).status == 200


async def test_former_member_gets_no_later_edit_or_thread_reply_bundled(client):
    alice = await client.register("alice")
    bob = await client.register("bob")
    room_id = await _room(alice, preset="public_chat")
    await bob.post(f"{R}/{room_id}/join", {})
    root = await _send(alice, room_id, "a thread starts")
    await bob.post(f"{R}/{room_id}/leave", {})
    for txn, content in (
        ("edit", {"msgtype": "m.text", "body": "* x", "m.new_content": {"msgtype": "m.text", "body": SECRET},
                  "m.relates_to": {"rel_type": "m.replace", "event_id": root}}),
        ("reply", {"msgtype": "m.text", "body": SECRET, "m.relates_to": {"rel_type": "m.thread", "event_id": root}}),
    ):
        assert (await alice.put(f"{R}/{room_id}/send/m.room.message/{txn}", content)).status == 200
    assert "m.relations" in (await alice.get(f"{R}/{room_id}/event/{root}")).body["unsigned"]
    seen = await bob.get(f"{R}/{room_id}/event/{root}")
    assert seen.status == 200 and "m.relations" not in seen.body["unsigned"]
    for path in (f"{R}/{room_id}/messages", f"{V1}/rooms/{room_id}/threads"):
        resp = await bob.get(path, params={"dir": "b"})
        assert resp.status == 200 and SECRET not in json.dumps(resp.body)
