"""Space children in the spec's order, and the checks on another server's ``/hierarchy`` answer."""

from __future__ import annotations

from homeserver.core.spaces import parse_hierarchy_answer, parse_room_summary, space_children

ROOT = "!space:remote.example"


def _child(room_id: str, ts: int, **content) -> dict:
    return {"type": "m.space.child", "state_key": room_id, "sender": "@a:remote.example",
            "origin_server_ts": ts, "content": {"via": ["remote.example"]} | content}


def _summary(room_id: str, **extra) -> dict:
    return {"room_id": room_id, "num_joined_members": 3, "world_readable": False, "guest_can_join": False} | extra


def test_children_follow_the_spec_order():
    # The example of the spec's "Ordering of children within a space", plus invalid orders (counted as none).
    events = [
        _child("!b:example.org", 1640341000000, order=" "),
        _child("!a:example.org", 1640141000000, order="aaaa"),
        _child("!c:example.org", 1640841000000, order="first"),
        _child("!e:example.org", 1640641000000),
        _child("!d:example.org", 1640741000000),
        _child("!unprintable:example.org", 1640641000000, order="\n"),
        _child("!long:example.org", 1640641000000, order="x" * 51),
    ]
    assert [c.room_id for c in space_children(events, suggested_only=False)] == [
        "!b:example.org", "!a:example.org", "!c:example.org",
        "!e:example.org", "!long:example.org", "!unprintable:example.org", "!d:example.org",
    ]

def test_children_without_via_are_not_in_the_space():
    events = [_child("!a:x", 1, via=[]), _child("!b:x", 2, via="remote.example"), _child("!c:x", 3, suggested=True),
              _child("!d:x", 4, suggested="yes")]
    assert [c.room_id for c in space_children(events, suggested_only=False)] == ["!c:x", "!d:x"]
    assert [c.room_id for c in space_children(events, suggested_only=True)] == ["!c:x"]
    assert space_children(events, suggested_only=True)[0].via == ("remote.example",)


def test_a_good_answer_is_rebuilt_from_known_fields():
    answer = {
        "room": _summary(ROOT, name="Space", room_type="m.space", evil="<script>",
                         children_state=[_child("!a:x", 1), _child("!b:x", 2)]),
        "children": [_summary("!a:x", name="A", join_rule="restricted", allowed_room_ids=["!p:x", 7, "nope"]),
                     _summary("!unrelated:x", name="Not a child")],
        "inaccessible_children": ["!b:x", 5],
    }
    space = parse_hierarchy_answer(ROOT, answer)
    assert space is not None
    assert "evil" not in space.room and space.room["name"] == "Space"
    assert [e["state_key"] for e in space.room["children_state"]] == ["!a:x", "!b:x"]
    assert set(space.children) == {"!a:x"}
    assert space.children["!a:x"]["allowed_room_ids"] == ["!p:x"]
    assert space.inaccessible == frozenset({"!b:x"})


def test_bad_answers_are_refused():
    assert parse_hierarchy_answer(ROOT, ["not", "an", "object"]) is None
    assert parse_hierarchy_answer(ROOT, {"children": []}) is None
    assert parse_hierarchy_answer(ROOT, {"room": _summary("!other:remote.example")}) is None  # another room
    assert parse_hierarchy_answer(ROOT, {"room": _summary(ROOT, num_joined_members="many")}) is None
    space = parse_hierarchy_answer(ROOT, {
        "room": _summary(ROOT, name=42, children_state=[{"type": "m.space.child", "state_key": 3}, "junk",
                                                        _child("!ok:x", "yesterday"), _child("!good:x", 9)]),
        "children": "none", "inaccessible_children": {"!a:x": True},
    })
    assert space is not None
    assert "name" not in space.room and space.room["join_rule"] == "public"  # the spec's default
    assert [e["state_key"] for e in space.room["children_state"]] == ["!good:x"]
    assert space.children == {} and space.inaccessible == frozenset()


def test_summaries_need_their_required_fields():
    assert parse_room_summary(_summary("!a:x")) is not None
    assert parse_room_summary(_summary("not a room id")) is None
    assert parse_room_summary(_summary("!a:x", world_readable="yes")) is None
    assert parse_room_summary(_summary("!a:x", num_joined_members=True)) is None
    assert parse_room_summary(_summary("!a:x", join_rule=["public"])) is None
    assert parse_room_summary({"room_id": "!a:x"}) is None
