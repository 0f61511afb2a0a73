"""Relations, threads and bundled aggregations."""

from __future__ import annotations

import time

R = "/_matrix/client/v3/rooms"
V1 = "/_matrix/client/v1/rooms"


async def _setup(client):
    alice = await client.register("alice")
    bob = await client.register("bob")
    room_id = (await alice.post("/_matrix/client/v3/createRoom", {"preset": "public_chat"})).body["room_id"]
    await bob.post(f"/_matrix/client/v3/join/{room_id}", {})
    return alice, bob, room_id


async def _send(user, room_id, content, event_type="m.room.message"):
    resp = await user.put(f"{R}/{room_id}/send/{event_type}/t{time.monotonic_ns()}", content)
    assert resp.status == 200, resp.body
    return resp.body["event_id"]


async def test_threads_and_bundled_thread_summary(client):
    alice, bob, room_id = await _setup(client)
    root = await _send(alice, room_id, {"msgtype": "m.text", "body": "root"})
    replies = [
        await _send(user, room_id, {"msgtype": "m.text", "body": f"reply {i}", "m.relates_to": {"rel_type": "m.thread", "event_id": root}})
        for i, user in enumerate([bob, bob, alice])
    ]
    event = await bob.get(f"{R}/{room_id}/event/{root}")
    summary = event.body["unsigned"]["m.relations"]["m.thread"]
    assert summary["count"] == 3
    assert summary["latest_event"]["event_id"] == replies[-1]
    assert summary["current_user_participated"] is True
    threads = await bob.get(f"{V1}/{room_id}/threads")
    assert [t["event_id"] for t in threads.body["chunk"]] == [root]
    carol = await client.register("carol")
    await carol.post(f"/_matrix/client/v3/join/{room_id}", {})
    mine = await carol.get(f"{V1}/{room_id}/threads", params={"include": "participated"})
    assert mine.body["chunk"] == []
    listed = await bob.get(f"{V1}/{room_id}/relations/{root}/m.thread")
    assert [e["event_id"] for e in listed.body["chunk"]] == replies[::-1]


async def test_cannot_thread_off_a_related_event(client):
    alice, bob, room_id = await _setup(client)
    root = await _send(alice, room_id, {"msgtype": "m.text", "body": "root"})
    reply = await _send(alice, room_id, {"msgtype": "m.text", "body": "r", "m.relates_to": {"rel_type": "m.thread", "event_id": root}})
    resp = await alice.put(f"{R}/{room_id}/send/m.room.message/x", {"body": "nested", "m.relates_to": {"rel_type": "m.thread", "event_id": reply}})
    assert (resp.status, resp.errcode) == (400, "M_UNKNOWN")


async def test_edits_are_bundled(client):
    alice, bob, room_id = await _setup(client)
    original = await _send(alice, room_id, {"msgtype": "m.text", "body": "helo"})
    edit = await _send(alice, room_id, {
        "msgtype": "m.text", "body": "* hello", "m.new_content": {"msgtype": "m.text", "body": "hello"},
        "m.relates_to": {"rel_type": "m.replace", "event_id": original},
    })
    # An "edit" by someone else is not a valid replacement.
    await _send(bob, room_id, {"msgtype": "m.text", "body": "* hacked", "m.new_content": {"body": "hacked"},
                               "m.relates_to": {"rel_type": "m.replace", "event_id": original}})
    event = await bob.get(f"{R}/{room_id}/event/{original}")
    assert event.body["content"]["body"] == "helo"  # the server never rewrites content
    assert event.body["unsigned"]["m.relations"]["m.replace"]["event_id"] == edit
    messages = await bob.get(f"{R}/{room_id}/messages", params={"dir": "b", "limit": "10"})
    bundled = next(e for e in messages.body["chunk"] if e["event_id"] == original)
    assert bundled["unsigned"]["m.relations"]["m.replace"]["event_id"] == edit


async def test_reactions_and_references_via_relations(client):
    alice, bob, room_id = await _setup(client)
    target = await _send(alice, room_id, {"msgtype": "m.text", "body": "vote"})
    reaction = await _send(bob, room_id, {"m.relates_to": {"rel_type": "m.annotation", "event_id": target, "key": "👍"}}, "m.reaction")
    reference = await _send(bob, room_id, {"body": "see above", "m.relates_to": {"rel_type": "m.reference", "event_id": target}})
    annotations = await alice.get(f"{V1}/{room_id}/relations/{target}/m.annotation/m.reaction")
    assert [e["event_id"] for e in annotations.body["chunk"]] == [reaction]
    event = await alice.get(f"{R}/{room_id}/event/{target}")
    assert event.body["unsigned"]["m.relations"]["m.reference"] == {"chunk": [{"event_id": reference}]}
    everything = await alice.get(f"{V1}/{room_id}/relations/{target}", params={"dir": "f"})
    assert [e["event_id"] for e in everything.body["chunk"]] == [reaction, reference]


async def test_relations_pagination_and_recursion(client):
    alice, bob, room_id = await _setup(client)
    root = await _send(alice, room_id, {"body": "root"})
    children = [await _send(alice, room_id, {"body": str(i), "m.relates_to": {"rel_type": "m.reference", "event_id": root}}) for i in range(3)]
    grandchild = await _send(alice, room_id, {"body": "deep", "m.relates_to": {"rel_type": "m.reference", "event_id": children[0]}})
    page = await alice.get(f"{V1}/{room_id}/relations/{root}", params={"limit": "2"})
    assert [e["event_id"] for e in page.body["chunk"]] == children[:0:-1]
    rest = await alice.get(f"{V1}/{room_id}/relations/{root}", params={"limit": "2", "from": page.body["next_batch"]})
    assert [e["event_id"] for e in rest.body["chunk"]] == [children[0]]
    recursive = await alice.get(f"{V1}/{room_id}/relations/{root}", params={"recurse": "true"})
    assert grandchild in [e["event_id"] for e in recursive.body["chunk"]]
    assert recursive.body["recursion_depth"] >= 2


async def test_redacting_a_child_breaks_the_relation(client):
    alice, bob, room_id = await _setup(client)
    target = await _send(alice, room_id, {"body": "x"})
    reaction = await _send(bob, room_id, {"m.relates_to": {"rel_type": "m.annotation", "event_id": target, "key": "x"}}, "m.reaction")
    await bob.put(f"{R}/{room_id}/redact/{reaction}/red1", {})
    listed = await alice.get(f"{V1}/{room_id}/relations/{target}")
    assert listed.body["chunk"] == []


async def test_relations_errors(client):
    alice, bob, room_id = await _setup(client)
    target = await _send(alice, room_id, {"body": "x"})
    assert (await alice.get(f"{V1}/{room_id}/relations/$nope")).status == 404
    assert (await alice.get(f"{V1}/{room_id}/relations/{target}", params={"dir": "x"})).errcode == "M_INVALID_PARAM"
    assert (await alice.get(f"{V1}/{room_id}/relations/{target}", params={"from": "bad"})).errcode == "M_INVALID_PARAM"
    assert (await alice.get(f"{V1}/{room_id}/threads", params={"include": "mine"})).errcode == "M_INVALID_PARAM"
    carol = await client.register("carol")
    private = (await alice.post("/_matrix/client/v3/createRoom", {})).body["room_id"]
    secret = await _send(alice, private, {"body": "s"})
    # Not the user's to read: 404 like an unknown event (spec: relations).
    assert (await carol.get(f"{V1}/{private}/relations/{secret}")).status == 404
