"""State resolution at scale: a room with tens of thousands of members, forked.

Builds a synthetic room (create, power levels, join rules, N joined members,
then two forks: one with power-level changes, kicks and topics, the other with
new joins, leaves and profile changes), resolves the two forks, and prints one
JSON line. The figure that travels between machines is the ratio to a baseline
measured in the same process: running the plain auth rules once over every
event of the room.

    .venv/bin/python -m bench.state_res_bench [--members 20000] [--conflicts 300]
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from homeserver.core.auth_rules import check_auth_rules
from homeserver.core.events import Event
from homeserver.core.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion
from homeserver.core.state_res import resolve_state

CREATOR = "@admin:bench.example"


class SyntheticRoom:
    def __init__(self, version: RoomVersion) -> None:
        self.version = version
        self.v12 = version.auth.room_create_event_id_as_room_id
        self.room_id = "!create" if self.v12 else "!bench:bench.example"
        self.events: dict[str, Event] = {}
        self.ts = 0

    def add(self, event_id: str, event_type: str, sender: str, state_key: str | None,
            content: dict[str, Any], prev: list[str], auth: list[str]) -> Event:
        self.ts += 1
        pdu: dict[str, Any] = {
            "type": event_type, "sender": sender, "content": content,
            "origin_server_ts": self.ts, "depth": self.ts, "prev_events": prev, "auth_events": auth,
        }
        if not (self.v12 and event_type == "m.room.create"):
            pdu["room_id"] = self.room_id
        if state_key is not None:
            pdu["state_key"] = state_key
        event = Event(pdu, self.version, event_id=event_id)
        self.events[event_id] = event
        return event


def build(version: RoomVersion, members: int, conflicts: int) -> tuple[SyntheticRoom, list[dict], dict]:
    room = SyntheticRoom(version)
    create_auth = [] if room.v12 else ["$create"]
    room.add("$create", "m.room.create", CREATOR, "", {} if room.v12 else {"creator": CREATOR}, [], [])
    room.add("$admin_join", "m.room.member", CREATOR, CREATOR, {"membership": "join"}, ["$create"], create_auth)
    admin_users = {} if room.v12 else {CREATOR: 100}
    base_auth = [*create_auth, "$admin_join"]
    room.add("$pl0", "m.room.power_levels", CREATOR, "", {"users": admin_users}, ["$admin_join"], base_auth)
    room.add("$jr", "m.room.join_rules", CREATOR, "", {"join_rule": "public"}, ["$pl0"], [*base_auth, "$pl0"])
    state: dict[tuple[str, str], str] = {
        ("m.room.create", ""): "$create", ("m.room.member", CREATOR): "$admin_join",
        ("m.room.power_levels", ""): "$pl0", ("m.room.join_rules", ""): "$jr",
    }
    last = "$jr"
    for i in range(members):
        user = f"@u{i}:bench.example"
        eid = f"$join{i}"
        room.add(eid, "m.room.member", user, user, {"membership": "join"}, [last], [*create_auth, "$pl0", "$jr"])
        state[("m.room.member", user)] = eid
        last = eid
    base = dict(state)
    fork_a, fork_b = dict(base), dict(base)
    prev_a = prev_b = last
    pl_current = "$pl0"
    moderators = {f"@u{i}:bench.example": 50 for i in range(10)}
    for i in range(conflicts):
        # Fork A: the admin reshapes power levels and kicks people.
        if i % 10 == 0:
            eid = f"$pl_a{i}"
            users = {**admin_users, **moderators, f"@u{i + 10}:bench.example": 10}
            room.add(eid, "m.room.power_levels", CREATOR, "", {"users": users}, [prev_a], [*base_auth, pl_current])
            pl_current = eid
            fork_a[("m.room.power_levels", "")] = eid
        else:
            target = f"@u{members - 1 - i}:bench.example"
            eid = f"$kick_a{i}"
            room.add(eid, "m.room.member", CREATOR, target, {"membership": "leave"}, [prev_a],
                     [*base_auth, pl_current, f"$join{members - 1 - i}"])
            fork_a[("m.room.member", target)] = eid
        prev_a = eid
        # Fork B: members change their own membership and a topic moves.
        user = f"@u{i}:bench.example"
        eid = f"$self_b{i}"
        content = {"membership": "leave"} if i % 3 == 0 else {"membership": "join", "displayname": f"U{i}"}
        room.add(eid, "m.room.member", user, user, content, [prev_b], [*create_auth, "$pl0", "$jr", f"$join{i}"])
        fork_b[("m.room.member", user)] = eid
        prev_b = eid
    return room, [fork_a, fork_b], base


def run(members: int, conflicts: int, version_id: str) -> dict[str, Any]:
    version = KNOWN_ROOM_VERSIONS[version_id]
    built = time.perf_counter()
    room, forks, base = build(version, members, conflicts)
    built = time.perf_counter() - built

    # Baseline: one plain auth check of every event against its auth events.
    started = time.perf_counter()
    for event in room.events.values():
        auth_state = {room.events[a].state_tuple(): room.events[a] for a in event.auth_event_ids}
        if room.v12 and event.type != "m.room.create":
            auth_state[("m.room.create", "")] = room.events["$create"]
        check_auth_rules(event, auth_state)
    baseline = time.perf_counter() - started

    started = time.perf_counter()
    resolved = resolve_state(version, forks, room.events)
    resolution = time.perf_counter() - started
    assert resolved[("m.room.create", "")] == "$create"
    return {
        "benchmark": "state_resolution",
        "room_version": version_id,
        "members": members,
        "state_events": len(base),
        "events_total": len(room.events),
        "conflicted_keys": sum(1 for k in set(forks[0]) | set(forks[1]) if forks[0].get(k) != forks[1].get(k)),
        "build_seconds": round(built, 3),
        "baseline_auth_all_seconds": round(baseline, 4),
        "resolve_seconds": round(resolution, 4),
        "resolve_vs_baseline_ratio": round(resolution / baseline, 3),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--conflicts", type=int, default=300)
    parser.add_argument("--room-version", default="12")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.members, args.conflicts, args.room_version)))


if __name__ == "__main__":
    main()
