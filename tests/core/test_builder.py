"""The event builder: complete, hashed, signed and authorised events for every version."""

from __future__ import annotations

import pytest

from homeserver.core.auth_rules import AuthError
from homeserver.core.builder import build_event
from homeserver.core.hashing import check_content_hash, compute_event_id
from homeserver.core.room_versions import KNOWN_ROOM_VERSIONS
from homeserver.core.signing import KnownVerifyKey, signing_key_from_seed, verify_event_signatures

KEY = signing_key_from_seed(b"\x05" * 32, "k1")
SERVER = "a.example"
C = "@creator:a.example"
ALL = sorted(KNOWN_ROOM_VERSIONS, key=int)


def _build(version, room_id, event_type, content, state, prev, depth, state_key=None, sender=C, **kw):
    return build_event(
        room_version=version, room_id=room_id, sender=sender, event_type=event_type, content=content,
        prev_event_ids=prev, depth=depth, auth_state=state, origin_server_ts=1_000 + depth,
        server_name=SERVER, signing_key=KEY, state_key=state_key, **kw,
    )


def _new_room(identifier):
    version = KNOWN_ROOM_VERSIONS[identifier]
    v12 = version.auth.room_create_event_id_as_room_id
    content = {"room_version": identifier} if version.auth.use_room_create_sender else {"creator": C, "room_version": identifier}
    create = _build(version, None if v12 else "!r:a.example", "m.room.create", content, {}, [], 1, state_key="")
    room_id = create.room_id
    state = {("m.room.create", ""): create}
    join = _build(version, room_id, "m.room.member", {"membership": "join"}, state, [create.event_id], 2, state_key=C)
    state[("m.room.member", C)] = join
    users = {} if version.auth.explicitly_privilege_room_creators else {C: 100}
    pl = _build(version, room_id, "m.room.power_levels", {"users": users}, state, [join.event_id], 3, state_key="")
    state[("m.room.power_levels", "")] = pl
    return version, room_id, state, [create, join, pl]


@pytest.mark.parametrize("identifier", ALL)
def test_built_events_are_hashed_signed_and_authorised(identifier):
    version, room_id, state, events = _new_room(identifier)
    msg = _build(version, room_id, "m.room.message", {"body": "hi"}, state, [events[-1].event_id], 4)
    keys = {(SERVER, KEY.key_id): KnownVerifyKey(KEY.verify_key, 10**13)}
    for event in [*events, msg]:
        assert check_content_hash(event.pdu())
        verify_event_signatures(event, keys)
        if identifier not in ("1", "2"):
            assert event.event_id == compute_event_id(event.pdu(), version)
        else:
            assert event.event_id.endswith(":a.example")
    expected_auth = {state[("m.room.power_levels", "")].event_id, state[("m.room.member", C)].event_id}
    if identifier != "12":
        expected_auth.add(state[("m.room.create", "")].event_id)
    assert set(msg.auth_event_ids) == expected_auth
    assert msg.prev_event_ids == [events[-1].event_id]


def test_v12_create_event_names_the_room():
    version, room_id, state, events = _new_room("12")
    create = events[0]
    assert "room_id" not in create.pdu()
    assert room_id == "!" + create.event_id[1:]


def test_builder_refuses_unauthorised_events():
    version, room_id, state, events = _new_room("10")
    with pytest.raises(AuthError):
        _build(version, room_id, "m.room.message", {}, state, [events[-1].event_id], 4, sender="@stranger:a.example")


@pytest.mark.parametrize(("identifier", "in_content"), [("10", False), ("11", True)])
def test_redacts_placement(identifier, in_content):
    version, room_id, state, events = _new_room(identifier)
    red = _build(version, room_id, "m.room.redaction", {}, state, [events[-1].event_id], 4, redacts="$target")
    assert red.redacts == "$target"
    assert ("redacts" in red.content) is in_content


def test_room_id_required_except_for_v12_create():
    version = KNOWN_ROOM_VERSIONS["10"]
    with pytest.raises(ValueError):
        _build(version, None, "m.room.create", {"creator": C}, {}, [], 1, state_key="")
