"""State resolution v1, v2 and v2.1: the classic conflict scenarios, v2.1's changes,
and properties (determinism, order independence)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from homeserver.core.auth_rules import auth_types_for_event
from homeserver.core.events import Event
from homeserver.core.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion
from homeserver.core.state_res import (
    auth_difference,
    conflicted_subgraph,
    mainline_order,
    resolve_state,
    reverse_topological_power_order,
    split_conflicts,
)
from tests.core.dag import Room

ALICE, BOB, CHARLIE, EVELYN, ZARA = (f"@{n}:example.com" for n in ("alice", "bob", "charlie", "evelyn", "zara"))
JOIN = {"membership": "join"}


@dataclass
class Node:
    id: str
    sender: str
    type: str
    state_key: str | None = None
    content: dict[str, Any] = field(default_factory=dict)


def initial_nodes(v12: bool) -> list[Node]:
    pl_users = {} if v12 else {ALICE: 100}
    return [
        Node("CREATE", ALICE, "m.room.create", "", {} if v12 else {"creator": ALICE}),
        Node("IMA", ALICE, "m.room.member", ALICE, JOIN),
        Node("IPOWER", ALICE, "m.room.power_levels", "", {"users": pl_users}),
        Node("IJR", ALICE, "m.room.join_rules", "", {"join_rule": "public"}),
        Node("IMB", BOB, "m.room.member", BOB, JOIN),
        Node("IMC", CHARLIE, "m.room.member", CHARLIE, JOIN),
        Node("IMZ", ZARA, "m.room.member", ZARA, JOIN),
        Node("START", ZARA, "m.room.message", None, {}),
        Node("END", ZARA, "m.room.message", None, {}),
    ]


INITIAL_EDGES = [["START", "IMZ", "IMC", "IMB", "IJR", "IPOWER", "IMA", "CREATE"]]


class Dag:
    """Builds a DAG like a homeserver would: each event's auth events are
    selected from the resolved state before it."""

    def __init__(self, version: RoomVersion, nodes: Sequence[Node], edges: Sequence[Sequence[str]]) -> None:
        self.version = version
        v12 = version.auth.room_create_event_id_as_room_id
        self.room_id = "!CREATE" if v12 else "!room:example.com"
        prevs: dict[str, set[str]] = {n.id: set() for n in nodes}
        for chain in edges:
            for later, earlier in zip(chain, chain[1:]):
                prevs[later].add(earlier)
        self.events: dict[str, Event] = {}
        self.state_after: dict[str, dict[tuple[str, str], str]] = {}
        order = {n.id: i for i, n in enumerate(nodes)}
        done: set[str] = set()
        pending = list(nodes)
        while pending:
            for node in pending:
                if prevs[node.id] <= done:
                    break
            else:
                raise ValueError("cycle in test DAG")
            pending.remove(node)
            prev_ids = sorted(prevs[node.id])
            before = resolve_state(
                version, [self.state_after[f"${p}"] for p in prev_ids], self.events
            ) if prev_ids else {}
            wanted = auth_types_for_event(version, node.type, node.sender, node.state_key, node.content)
            pdu: dict[str, Any] = {
                "type": node.type, "sender": node.sender, "content": node.content,
                "origin_server_ts": order[node.id], "depth": order[node.id],
                "prev_events": [f"${p}" for p in prev_ids],
                "auth_events": sorted(before[k] for k in wanted if k in before),
            }
            if version.event_format.reference_pairs:
                pdu["prev_events"] = [[p, {}] for p in pdu["prev_events"]]
                pdu["auth_events"] = [[a, {}] for a in pdu["auth_events"]]
            if not (v12 and node.type == "m.room.create"):
                pdu["room_id"] = self.room_id
            if node.state_key is not None:
                pdu["state_key"] = node.state_key
            event = Event(pdu, version, event_id=f"${node.id}")
            self.events[event.event_id] = event
            after = dict(before)
            if node.state_key is not None:
                after[(node.type, node.state_key)] = event.event_id
            self.state_after[event.event_id] = after
            done.add(node.id)

    def resolve_at(self, event_id: str) -> dict[tuple[str, str], str]:
        prev = self.events[f"${event_id}"].prev_event_ids
        return resolve_state(self.version, [self.state_after[p] for p in prev], self.events)


def scenario(version_id: str, nodes: list[Node], edges: list[list[str]]) -> Dag:
    version = KNOWN_ROOM_VERSIONS[version_id]
    v12 = version.auth.room_create_event_id_as_room_id
    all_nodes = initial_nodes(v12)
    all_nodes[-1:-1] = nodes  # before END
    return Dag(version, all_nodes, INITIAL_EDGES + edges)


def pl(v12: bool, **users: int) -> dict[str, Any]:
    named = {f"@{k}:example.com": v for k, v in users.items()}
    if v12:
        named.pop(ALICE, None)
    return {"users": named}


VERSIONS = ["2", "10", "11", "12"]


@pytest.mark.parametrize("version", VERSIONS)
def test_ban_vs_power_level(version):
    v12 = version == "12"
    dag = scenario(version, [
        Node("PA", ALICE, "m.room.power_levels", "", pl(v12, alice=100, bob=50)),
        Node("MA", ALICE, "m.room.member", ALICE, JOIN),
        Node("MB", ALICE, "m.room.member", BOB, {"membership": "ban"}),
        Node("PB", BOB, "m.room.power_levels", "", pl(v12, alice=100, bob=50)),
    ], [["END", "MB", "MA", "PA", "START"], ["END", "PB", "PA"]])
    state = dag.resolve_at("END")
    # The ban of Bob sorts before Bob's own power-level change, which then fails.
    assert state[("m.room.power_levels", "")] == "$PA"
    assert state[("m.room.member", ALICE)] == "$MA"
    assert state[("m.room.member", BOB)] == "$MB"


@pytest.mark.parametrize("version", VERSIONS)
def test_join_rule_evasion(version):
    dag = scenario(version, [
        Node("JR", ALICE, "m.room.join_rules", "", {"join_rule": "invite"}),
        Node("ME", EVELYN, "m.room.member", EVELYN, JOIN),
    ], [["END", "JR", "START"], ["END", "ME", "START"]])
    state = dag.resolve_at("END")
    assert state[("m.room.join_rules", "")] == "$JR"
    assert ("m.room.member", EVELYN) not in state


@pytest.mark.parametrize("version", VERSIONS)
def test_offtopic_power_level(version):
    v12 = version == "12"
    dag = scenario(version, [
        Node("PA", ALICE, "m.room.power_levels", "", pl(v12, alice=100, bob=50)),
        Node("PB", BOB, "m.room.power_levels", "", pl(v12, alice=100, bob=50, charlie=50)),
        Node("PC", ALICE, "m.room.power_levels", "", pl(v12, alice=100, bob=50, charlie=0)),
    ], [["END", "PC", "PB", "PA", "START"], ["END", "PA"]])
    assert dag.resolve_at("END")[("m.room.power_levels", "")] == "$PC"


@pytest.mark.parametrize("version", VERSIONS)
def test_topic_basic(version):
    v12 = version == "12"
    dag = scenario(version, [
        Node("T1", ALICE, "m.room.topic", "", {}),
        Node("PA1", ALICE, "m.room.power_levels", "", pl(v12, alice=100, bob=50)),
        Node("T2", ALICE, "m.room.topic", "", {}),
        Node("PA2", ALICE, "m.room.power_levels", "", pl(v12, alice=100, bob=0)),
        Node("PB", BOB, "m.room.power_levels", "", pl(v12, alice=100, bob=50)),
        Node("T3", BOB, "m.room.topic", "", {}),
    ], [["END", "PA2", "T2", "PA1", "T1", "START"], ["END", "T3", "PB", "PA1"]])
    state = dag.resolve_at("END")
    assert state[("m.room.power_levels", "")] == "$PA2"
    assert state[("m.room.topic", "")] == "$T2"


@pytest.mark.parametrize("version", VERSIONS)
def test_topic_reset(version):
    v12 = version == "12"
    dag = scenario(version, [
        Node("T1", ALICE, "m.room.topic", "", {}),
        Node("PA", ALICE, "m.room.power_levels", "", pl(v12, alice=100, bob=50)),
        Node("T2", BOB, "m.room.topic", "", {}),
        Node("MB", ALICE, "m.room.member", BOB, {"membership": "ban"}),
    ], [["END", "MB", "T2", "PA", "T1", "START"], ["END", "T1"]])
    state = dag.resolve_at("END")
    assert state[("m.room.topic", "")] == "$T1"
    assert state[("m.room.member", BOB)] == "$MB"
    assert state[("m.room.power_levels", "")] == "$PA"


@pytest.mark.parametrize("version", VERSIONS)
def test_topic_with_mainline(version):
    v12 = version == "12"
    dag = scenario(version, [
        Node("T1", ALICE, "m.room.topic", "", {}),
        Node("PA1", ALICE, "m.room.power_levels", "", pl(v12, alice=100, bob=50)),
        Node("T2", ALICE, "m.room.topic", "", {}),
        Node("PA2", ALICE, "m.room.power_levels", "", pl(v12, alice=100, bob=0)),
        Node("PB", BOB, "m.room.power_levels", "", pl(v12, alice=100, bob=50)),
        Node("T3", BOB, "m.room.topic", "", {}),
        Node("MZ1", ZARA, "m.room.message", None, {}),
        Node("T4", ALICE, "m.room.topic", "", {}),
    ], [["END", "T4", "MZ1", "PA2", "T2", "PA1", "T1", "START"], ["MZ1", "T3", "PB", "PA1"]])
    state = dag.resolve_at("END")
    assert state[("m.room.topic", "")] == "$T4"
    assert state[("m.room.power_levels", "")] == "$PA2"


@pytest.mark.parametrize("version", ["10", "12"])
def test_concurrent_creator_actions(version):
    """Two admins act concurrently: the creator's ban of the other admin wins
    over the other admin's concurrent kick of a third user."""
    v12 = version == "12"
    dag = scenario(version, [
        Node("PA", ALICE, "m.room.power_levels", "", pl(v12, alice=100, bob=50)),
        Node("BAN", ALICE, "m.room.member", BOB, {"membership": "ban"}),
        Node("KICK", BOB, "m.room.member", CHARLIE, {"membership": "leave"}),
    ], [["END", "BAN", "PA", "START"], ["END", "KICK", "PA"]])
    state = dag.resolve_at("END")
    assert state[("m.room.member", BOB)] == "$BAN"
    # Alice outranks Bob, so her ban sorts first; Bob's kick then fails
    # because Bob is no longer joined.
    assert state[("m.room.member", CHARLIE)] == "$IMC"


def _trusted_unconflicted_scenario(version_id: str) -> tuple[RoomVersion, list[dict], dict[str, Event]]:
    """Bob's topic X was authorised by an older power-levels event P1 (Bob: 50)
    that the unconflicted state has since replaced with P2 (Bob: 0); only the
    two topics conflict."""
    from tests.core.dag import Room

    room = Room(version_id, creator=ALICE)
    v12 = room.version.auth.room_create_event_id_as_room_id
    room.member("ima", ALICE, "join")
    room.power_levels("p0", {} if v12 else {ALICE: 100})
    room.join_rules("ijr", "public")
    room.member("imb", BOB, "join")
    room.power_levels("p1", {**({} if v12 else {ALICE: 100}), BOB: 50})
    room.power_levels("p2", {**({} if v12 else {ALICE: 100}), BOB: 0})
    # Unconflicted events citing P2 and Bob's join keep both out of the auth difference.
    room.member("imb2", BOB, "join", displayname="Bob")
    room.event("t0", "m.room.topic", ALICE, {"topic": "alice"}, state_key="", ts=5_000)
    create = [] if v12 else ["create"]
    room.event("x", "m.room.topic", BOB, {"topic": "bob"}, state_key="", prev=["p1"],
               auth=[*create, "p1", "imb"], apply=False, ts=6_000)
    base = {k: e.event_id for k, e in room.state.items()}
    return room.version, [base, {**base, ("m.room.topic", ""): "$x"}], room.events


def test_v2_checks_conflicts_against_unconflicted_state():
    version, sets, events = _trusted_unconflicted_scenario("10")
    assert resolve_state(version, sets, events)[("m.room.topic", "")] == "$t0"


def test_v21_starts_iterative_checks_from_empty_state():
    version, sets, events = _trusted_unconflicted_scenario("12")
    resolved = resolve_state(version, sets, events)
    # Checked against its own auth events, X passes and, being later, wins;
    # the unconflicted power levels are still restored at the end.
    assert resolved[("m.room.topic", "")] == "$x"
    assert resolved[("m.room.power_levels", "")] == "$p2"


def test_conflicted_subgraph_includes_paths_between_conflicts():
    dag = scenario("12", [
        Node("PA", ALICE, "m.room.power_levels", "", pl(True, bob=50)),
        Node("PB", BOB, "m.room.power_levels", "", pl(True, bob=50, charlie=10)),
        Node("PC", BOB, "m.room.power_levels", "", pl(True, bob=50, charlie=20)),
    ], [["END", "PC", "PB", "PA", "START"], ["END", "PA"]])
    sub = conflicted_subgraph({"$PA", "$PC"}, dag.events)
    assert {"$PA", "$PB", "$PC"} <= sub
    assert "$CREATE" not in sub


def test_split_and_auth_difference():
    dag = scenario("10", [
        Node("JR", ALICE, "m.room.join_rules", "", {"join_rule": "invite"}),
        Node("ME", EVELYN, "m.room.member", EVELYN, JOIN),
    ], [["END", "JR", "START"], ["END", "ME", "START"]])
    s1, s2 = dag.state_after["$JR"], dag.state_after["$ME"]
    unconflicted, conflicted = split_conflicts([s1, s2])
    assert conflicted == {("m.room.join_rules", ""): {"$JR", "$IJR"}, ("m.room.member", EVELYN): {"$ME"}}
    assert unconflicted[("m.room.create", "")] == "$CREATE"
    # Both forks' auth chains hold IJR (every join cites it): no difference,
    # while ME's own chain adds nothing the other fork lacks.
    assert auth_difference([s1, s2], unconflicted, dag.events) == set()


def test_orderings():
    v12 = False
    dag = scenario("10", [
        Node("PA", ALICE, "m.room.power_levels", "", pl(v12, alice=100, bob=50)),
        Node("T1", BOB, "m.room.topic", "", {}),
        Node("T2", ALICE, "m.room.topic", "", {}),
    ], [["END", "T2", "T1", "PA", "START"]])
    events = dag.events
    order = reverse_topological_power_order({"$PA", "$IPOWER", "$IJR"}, events, dag.version)
    assert order.index("$IPOWER") < order.index("$PA")
    mainline = mainline_order(["$T2", "$T1"], "$PA", events)
    assert mainline == ["$T1", "$T2"]


def test_single_state_set_is_returned_unchanged():
    dag = scenario("10", [], [["END", "START"]])
    state = dag.state_after["$START"]
    assert resolve_state(dag.version, [state], dag.events) == state


def _ids(state) -> dict[tuple[str, str], str]:
    return {key: event.event_id for key, event in state.items()}


def test_v1_keeps_uncontested_state_and_gives_other_conflicts_to_the_deepest_allowed_event():
    room = Room("1").setup(join_rule="public", members={BOB: "join"})
    base = _ids(room.state)
    room.event("t1", "m.room.topic", BOB, {"topic": "shallow"}, state_key="", apply=False)
    room.event("t2", "m.room.topic", room.creator, {"topic": "deep"}, state_key="", apply=False)
    room.event("name", "m.room.name", room.creator, {"name": "one side only"}, state_key="", apply=False)
    room.event("t3", "m.room.topic", EVELYN, {"topic": "not a member"}, state_key="", apply=False)
    topic, name = ("m.room.topic", ""), ("m.room.name", "")
    one, other = {**base, topic: "$t1"}, {**base, topic: "$t2", name: "$name"}
    for sets in ([one, other], [other, one]):
        resolved = resolve_state(room.version, sets, room.events)
        assert resolved == {**base, topic: "$t2", name: "$name"}
    # The deepest event that the resolved state does not allow loses to the next.
    resolved = resolve_state(room.version, [one, {**base, topic: "$t3"}], room.events)
    assert resolved[topic] == "$t1"


def test_v1_replays_conflicting_power_levels_from_the_shallowest_while_allowed():
    room = Room("1").setup(join_rule="public", members={BOB: "join"})
    base, key = _ids(room.state), ("m.room.power_levels", "")
    creator = room.creator
    room.power_levels("promote", {creator: 100, BOB: 100}, apply=False)
    room.event("by_bob", "m.room.power_levels", BOB, {"users": {creator: 100, BOB: 100, CHARLIE: 50}},
               state_key="", apply=False)
    # The shallowest (the creator's) is taken, then bob's, which it allows.
    resolved = resolve_state(room.version, [{**base, key: "$promote"}, {**base, key: "$by_bob"}], room.events)
    assert resolved[key] == "$by_bob"
    # Bob promoting himself without the creator's blessing is not allowed after the first.
    room.event("grab", "m.room.power_levels", BOB, {"users": {creator: 100, BOB: 100}}, state_key="", apply=False)
    resolved = resolve_state(room.version, [{**base, key: "$pl"}, {**base, key: "$grab"}], room.events)
    assert resolved[key] == "$pl"


def test_v1_a_ban_beats_a_join_whichever_came_first():
    for ban_first in (True, False):
        room = Room("1").setup(join_rule="public")
        base, key = _ids(room.state), ("m.room.member", EVELYN)
        steps = [lambda: room.member("ban", EVELYN, "ban", sender=room.creator, apply=False),
                 lambda: room.member("join", EVELYN, "join", apply=False)]
        for step in steps if ban_first else reversed(steps):
            step()
        resolved = resolve_state(room.version, [{**base, key: "$ban"}, {**base, key: "$join"}], room.events)
        assert resolved[key] == "$ban", ban_first


@settings(max_examples=40, deadline=None)
@given(st.permutations(range(4)), st.randoms())
def test_resolution_is_independent_of_input_order(perm, rnd):
    v12 = False
    dag = scenario("10", [
        Node("PA", ALICE, "m.room.power_levels", "", pl(v12, alice=100, bob=50)),
        Node("JR", ALICE, "m.room.join_rules", "", {"join_rule": "invite"}),
        Node("T1", BOB, "m.room.topic", "", {"topic": "b"}),
        Node("ME", EVELYN, "m.room.member", EVELYN, JOIN),
        Node("PB", BOB, "m.room.power_levels", "", pl(v12, alice=100, bob=50, charlie=40)),
    ], [["END", "JR", "PA", "START"], ["END", "T1", "PA"], ["END", "ME", "START"], ["END", "PB", "PA"]])
    sets = [dag.state_after[e] for e in ("$JR", "$T1", "$ME", "$PB")]
    expected = resolve_state(dag.version, sets, dag.events)
    shuffled_sets = []
    for i in perm:
        items = list(sets[i].items())
        rnd.shuffle(items)
        shuffled_sets.append(dict(items))
    event_items = list(dag.events.items())
    rnd.shuffle(event_items)
    assert resolve_state(dag.version, shuffled_sets, dict(event_items)) == expected
    # Unconflicted entries always survive.
    unconflicted, _ = split_conflicts(sets)
    assert all(expected[k] == v for k, v in unconflicted.items())
