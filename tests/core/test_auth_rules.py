"""Authorization rules, branch by branch, per room version."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from homeserver.core.auth_rules import AuthError, auth_types_for_event, check_auth_events_list, check_auth_rules
from homeserver.core.power_levels import CREATOR_POWER, user_power_level
from homeserver.core.room_versions import KNOWN_ROOM_VERSIONS
from tests.core.dag import Room

ALL = sorted(KNOWN_ROOM_VERSIONS, key=int)
C = "@creator:a.example"
ALICE = "@alice:a.example"
BOB = "@bob:b.example"
MOD = "@mod:a.example"
EVE = "@eve:c.example"


def allowed(room: Room, event) -> bool:
    try:
        check_auth_rules(event, room.state)
    except AuthError:
        return False
    return True


def versions(since: int = 1, until: int = 12) -> list[str]:
    return [v for v in ALL if since <= int(v) <= until]


# -- create ---------------------------------------------------------------------------


@pytest.mark.parametrize("version", ALL)
def test_create_event_allowed(version):
    room = Room(version)
    check_auth_rules(room.create, {})


@pytest.mark.parametrize("version", ALL)
def test_create_with_prev_events_rejected(version):
    room = Room(version)
    bad = room.event("create2", "m.room.create", C, {"creator": C}, state_key="", prev=["create"], apply=False)
    with pytest.raises(AuthError, match="prev_events"):
        check_auth_rules(bad, {})


@pytest.mark.parametrize("version", versions(until=11))
def test_create_room_id_domain_must_match_sender(version):
    room = Room(version, creator="@creator:other.example")
    with pytest.raises(AuthError, match="server"):
        check_auth_rules(room.create, {})


def test_v12_create_must_not_have_room_id():
    room = Room("12")
    bad = room.event("c2", "m.room.create", C, {}, state_key="", prev=[], room_id="!x:a.example", apply=False)
    with pytest.raises(AuthError, match="room_id"):
        check_auth_rules(bad, {})


@pytest.mark.parametrize("version", ALL)
def test_create_unknown_room_version_rejected(version):
    room = Room(version, create_content={"room_version": "999"})
    with pytest.raises(AuthError, match="unknown room version"):
        check_auth_rules(room.create, {})


@pytest.mark.parametrize("version", ["11", "12"])
def test_creator_field_not_needed_from_v11(version):
    room = Room(version)
    event = room.event("c2", "m.room.create", C, {"room_version": version}, state_key="", prev=[], apply=False)
    check_auth_rules(event, {})


@pytest.mark.parametrize("version", ["1", "10"])
def test_creator_required_before_v11(version):
    room = Room(version)
    event = room.event("c2", "m.room.create", C, {"room_version": version}, state_key="", prev=[], apply=False)
    with pytest.raises(AuthError, match="creator"):
        check_auth_rules(event, {})


@pytest.mark.parametrize(
    ("extra", "ok"),
    [(["@x:a.example"], True), ("@x:a.example", False), ([5], False), (["not a user"], False)],
)
def test_v12_additional_creators_validated(extra, ok):
    room = Room("12", create_content={"additional_creators": extra})
    if ok:
        check_auth_rules(room.create, {})
    else:
        with pytest.raises(AuthError, match="additional_creators"):
            check_auth_rules(room.create, {})


# -- general ----------------------------------------------------------------------------


@pytest.mark.parametrize("version", ALL)
def test_missing_create_event_rejected(version):
    room = Room(version).setup()
    event = room.event("msg", "m.room.message", C, {"body": "x"}, apply=False)
    state = {k: v for k, v in room.state.items() if k != ("m.room.create", "")}
    with pytest.raises(AuthError, match="create"):
        check_auth_rules(event, state)


def test_v12_room_id_must_match_create():
    room = Room("12").setup()
    event = room.event("msg", "m.room.message", C, {"body": "x"}, room_id="!other", apply=False)
    with pytest.raises(AuthError, match="room ID"):
        check_auth_rules(event, room.state)


@pytest.mark.parametrize("version", ALL)
def test_m_federate_false(version):
    room = Room(version, create_content={"m.federate": False}).setup(join_rule="public")
    local = room.member("j1", ALICE, "join", apply=False)
    remote = room.member("j2", BOB, "join", apply=False)
    assert allowed(room, local)
    assert not allowed(room, remote)


@pytest.mark.parametrize("version", ALL)
def test_non_member_cannot_send(version):
    room = Room(version).setup()
    assert allowed(room, room.event("m1", "m.room.message", C, {}, apply=False))
    assert not allowed(room, room.event("m2", "m.room.message", ALICE, {}, apply=False))


@pytest.mark.parametrize("version", ALL)
def test_required_power_level(version):
    room = Room(version).setup(join_rule="public", members={ALICE: "join"})
    assert allowed(room, room.event("m1", "m.room.message", ALICE, {}, apply=False))
    assert not allowed(room, room.event("t1", "m.room.topic", ALICE, {"topic": "x"}, state_key="", apply=False))
    room.power_levels("pl2", {**room.default_users(), ALICE: 50})
    assert allowed(room, room.event("t2", "m.room.topic", ALICE, {"topic": "x"}, state_key="", apply=False))


@pytest.mark.parametrize("version", ALL)
def test_user_state_keys_are_reserved(version):
    room = Room(version).setup(join_rule="public", members={ALICE: "join"}, users={ALICE: 100})
    assert allowed(room, room.event("s1", "org.example.x", ALICE, {}, state_key=ALICE, apply=False))
    assert not allowed(room, room.event("s2", "org.example.x", ALICE, {}, state_key=BOB, apply=False))


@pytest.mark.parametrize(("version", "special"), [("5", True), ("6", False), ("12", False)])
def test_aliases_special_case(version, special):
    room = Room(version).setup(join_rule="public")
    # A non-member from b.example with an alias event for its own domain.
    event = room.event("al", "m.room.aliases", BOB, {"aliases": ["#x:b.example"]}, state_key="b.example", apply=False)
    assert allowed(room, event) is special
    wrong = room.event("al2", "m.room.aliases", BOB, {"aliases": []}, state_key="a.example", apply=False)
    assert not allowed(room, wrong)


@pytest.mark.parametrize("version", ["1", "2"])
def test_redaction_domain_special_case(version):
    from homeserver.core.events import Event

    room = Room(version).setup(join_rule="public", members={ALICE: "join"})
    room.power_levels("pl2", {**room.default_users()}, redact=50)

    def redaction(name: str, target: str) -> Event:
        event = room.event(name, "m.room.redaction", ALICE, {}, redacts=target, apply=False)
        pdu = {**event.pdu(), "event_id": f"${name}:a.example"}
        return Event(pdu, event.room_version)

    # Alice (level 0, below redact) may redact events from her own server only.
    assert allowed(room, redaction("r1", "$target:a.example"))
    assert not allowed(room, redaction("r2", "$target:b.example"))


@pytest.mark.parametrize("version", ["3", "10", "12"])
def test_redactions_are_ordinary_events_from_v3(version):
    room = Room(version).setup(join_rule="public", members={ALICE: "join"})
    room.power_levels("pl2", {**room.default_users()}, redact=50)
    event = room.event("red", "m.room.redaction", ALICE, {"redacts": "$x"}, redacts="$x", apply=False)
    assert allowed(room, event)
    room.power_levels("pl3", {**room.default_users()}, events={"m.room.redaction": 50})
    assert not allowed(room, room.event("red2", "m.room.redaction", ALICE, {"redacts": "$x"}, redacts="$x", apply=False))


# -- membership: join ---------------------------------------------------------------------


@pytest.mark.parametrize("version", ALL)
def test_creator_first_join(version):
    room = Room(version)
    join = room.member("cj", C, "join", apply=False)
    assert allowed(room, join)
    other = room.member("oj", ALICE, "join", apply=False)
    assert not allowed(room, other)


@pytest.mark.parametrize("version", ALL)
def test_join_public_room(version):
    room = Room(version).setup(join_rule="public")
    assert allowed(room, room.member("j", ALICE, "join", apply=False))
    # Cannot join on someone else's behalf.
    assert not allowed(room, room.member("j2", ALICE, "join", sender=BOB, apply=False))


@pytest.mark.parametrize("version", ALL)
def test_join_invite_only_room(version):
    room = Room(version).setup(join_rule="invite")
    assert not allowed(room, room.member("j", ALICE, "join", apply=False))
    room.member("inv", ALICE, "invite", sender=C)
    assert allowed(room, room.member("j2", ALICE, "join", apply=False))


@pytest.mark.parametrize("version", ALL)
def test_banned_user_cannot_join(version):
    room = Room(version).setup(join_rule="public")
    room.member("ban", ALICE, "ban", sender=C)
    assert not allowed(room, room.member("j", ALICE, "join", apply=False))


@pytest.mark.parametrize("version", ALL)
def test_knock_join_rule(version):
    room = Room(version).setup(join_rule="knock")
    knock = room.member("k", ALICE, "knock", apply=False)
    knocking = int(version) >= 7
    assert allowed(room, knock) is knocking
    # A knock join rule acts as invite-only for joins (v7+); before v7 it is unknown.
    assert not allowed(room, room.member("j", ALICE, "join", apply=False))
    room.member("inv", ALICE, "invite", sender=C)
    assert allowed(room, room.member("j2", ALICE, "join", apply=False)) is knocking


@pytest.mark.parametrize("version", versions(since=7))
def test_knock_rules(version):
    room = Room(version).setup(join_rule="knock")
    assert not allowed(room, room.member("k1", ALICE, "knock", sender=BOB, apply=False))
    room.member("inv", ALICE, "invite", sender=C)
    assert not allowed(room, room.member("k2", ALICE, "knock", apply=False))
    # Knocking is refused in public rooms.
    public = Room(version).setup(join_rule="public")
    assert not allowed(public, public.member("k3", ALICE, "knock", apply=False))


@pytest.mark.parametrize("version", versions(since=7))
def test_leave_after_knock(version):
    room = Room(version).setup(join_rule="knock")
    room.member("k", ALICE, "knock")
    assert allowed(room, room.member("l", ALICE, "leave", apply=False))


def _restricted_room(version: str, rule: str = "restricted") -> Room:
    room = Room(version).setup(join_rule=rule, members={MOD: "join"}, users={MOD: 50})
    room.power_levels("pl2", {**room.default_users(), MOD: 50}, invite=50)
    return room


@pytest.mark.parametrize("version", versions(since=8))
def test_restricted_join_with_valid_authoriser(version):
    room = _restricted_room(version)
    join = room.member("j", ALICE, "join", join_authorised_via_users_server=MOD, apply=False)
    assert allowed(room, join)


@pytest.mark.parametrize("version", versions(since=8))
def test_restricted_join_without_authoriser(version):
    room = _restricted_room(version)
    assert not allowed(room, room.member("j", ALICE, "join", apply=False))


@pytest.mark.parametrize("version", versions(since=8))
def test_restricted_join_authoriser_not_joined(version):
    room = _restricted_room(version)
    join = room.member("j", ALICE, "join", join_authorised_via_users_server=EVE, apply=False)
    assert not allowed(room, join)


@pytest.mark.parametrize("version", versions(since=8))
def test_restricted_join_authoriser_without_invite_power(version):
    room = Room(version).setup(join_rule="restricted", members={BOB: "join"})
    room.power_levels("pl2", {**room.default_users()}, invite=50)
    join = room.member("j", ALICE, "join", join_authorised_via_users_server=BOB, apply=False)
    assert not allowed(room, join)


@pytest.mark.parametrize("version", versions(until=7))
def test_restricted_rule_unknown_before_v8(version):
    room = _restricted_room(version)
    join = room.member("j", ALICE, "join", join_authorised_via_users_server=MOD, apply=False)
    assert not allowed(room, join)


@pytest.mark.parametrize(("version", "supported"), [("9", False), ("10", True), ("12", True)])
def test_knock_restricted(version, supported):
    room = _restricted_room(version, "knock_restricted")
    join = room.member("j", ALICE, "join", join_authorised_via_users_server=MOD, apply=False)
    assert allowed(room, join) is supported
    assert allowed(room, room.member("k", ALICE, "knock", apply=False)) is supported


# -- membership: invite, leave, ban -----------------------------------------------------------


@pytest.mark.parametrize("version", ALL)
def test_invite_rules(version):
    room = Room(version).setup(members={ALICE: "join"})
    assert allowed(room, room.member("i1", BOB, "invite", sender=ALICE, apply=False))  # invite level 0
    room.power_levels("pl2", {**room.default_users()}, invite=50)
    assert not allowed(room, room.member("i2", BOB, "invite", sender=ALICE, apply=False))
    assert allowed(room, room.member("i3", BOB, "invite", sender=C, apply=False))
    # The inviter must be joined.
    assert not allowed(room, room.member("i4", BOB, "invite", sender=EVE, apply=False))
    # Joined or banned users cannot be invited.
    assert not allowed(room, room.member("i5", ALICE, "invite", sender=C, apply=False))
    room.member("ban", BOB, "ban", sender=C)
    assert not allowed(room, room.member("i6", BOB, "invite", sender=C, apply=False))


@pytest.mark.parametrize("version", ALL)
def test_leave_rules(version):
    room = Room(version).setup(members={ALICE: "join", BOB: "join"}, users={MOD: 50})
    assert allowed(room, room.member("l1", ALICE, "leave", apply=False))
    # Kicking needs the kick level and a higher level than the target.
    assert not allowed(room, room.member("k1", BOB, "leave", sender=ALICE, apply=False))
    assert allowed(room, room.member("k2", BOB, "leave", sender=C, apply=False))
    # Cannot leave a room one has never been in.
    assert not allowed(room, room.member("l2", EVE, "leave", apply=False))


@pytest.mark.parametrize("version", ALL)
def test_kick_and_ban_of_equal_level_rejected(version):
    room = Room(version).setup(members={ALICE: "join", BOB: "join"})
    room.power_levels("pl2", {**room.default_users(), ALICE: 50, BOB: 50})
    assert not allowed(room, room.member("k", BOB, "leave", sender=ALICE, apply=False))
    assert not allowed(room, room.member("b", BOB, "ban", sender=ALICE, apply=False))
    room.power_levels("pl3", {**room.default_users(), ALICE: 60, BOB: 50})
    assert allowed(room, room.member("k2", BOB, "leave", sender=ALICE, apply=False))
    assert allowed(room, room.member("b2", BOB, "ban", sender=ALICE, apply=False))


@pytest.mark.parametrize("version", ALL)
def test_ban_of_higher_level_rejected(version):
    room = Room(version).setup(members={ALICE: "join"})
    room.power_levels("pl2", {**room.default_users(), ALICE: 60})
    assert not allowed(room, room.member("b", C, "ban", sender=ALICE, apply=False))


@pytest.mark.parametrize("version", ALL)
def test_unban_needs_ban_level(version):
    room = Room(version).setup(members={ALICE: "join"})
    room.power_levels("pl2", {**room.default_users(), ALICE: 50}, ban=75, kick=50)
    room.member("ban", BOB, "ban", sender=C)
    assert not allowed(room, room.member("u1", BOB, "leave", sender=ALICE, apply=False))
    assert allowed(room, room.member("u2", BOB, "leave", sender=C, apply=False))


@pytest.mark.parametrize("version", ALL)
def test_unknown_membership_rejected(version):
    room = Room(version).setup()
    assert not allowed(room, room.member("x", C, "dance", apply=False))
    no_membership = room.event("y", "m.room.member", C, {}, state_key=C, apply=False)
    assert not allowed(room, no_membership)


# -- third-party invites ---------------------------------------------------------------------


def _tpi_room(version="10"):
    from homeserver.core.signing import sign_json, signing_key_from_seed

    key = signing_key_from_seed(b"\x07" * 32, "0")
    room = Room(version).setup(members={ALICE: "join"})
    room.event("tpi", "m.room.third_party_invite", ALICE,
               {"display_name": "b...", "public_key": key.public_key_base64, "key_validity_url": "https://x"},
               state_key="tok")
    signed = sign_json({"mxid": BOB, "token": "tok"}, "id.example", key)
    return room, signed


def test_third_party_invite_allowed_with_valid_signature():
    room, signed = _tpi_room()
    invite = room.member("i", BOB, "invite", sender=ALICE, apply=False, third_party_invite={"display_name": "b", "signed": signed})
    assert allowed(room, invite)


def test_third_party_invite_rejections():
    room, signed = _tpi_room()
    wrong_mxid = dict(signed, mxid=EVE)
    cases = [
        {"display_name": "b"},
        {"signed": {"mxid": BOB}},
        {"signed": wrong_mxid},
        {"signed": dict(signed, token="other")},
        {"signed": dict(signed, signatures={"id.example": {"ed25519:0": "AAAA"}})},
    ]
    for i, tpi in enumerate(cases):
        invite = room.member(f"i{i}", BOB, "invite", sender=ALICE, apply=False, third_party_invite=tpi)
        assert not allowed(room, invite), tpi
    # Only the sender of the m.room.third_party_invite may use it.
    other = room.member("o", BOB, "invite", sender=C, apply=False, third_party_invite={"signed": signed})
    assert not allowed(room, other)


def test_third_party_invite_event_needs_invite_level():
    room = Room("10").setup(members={ALICE: "join"})
    room.power_levels("pl2", {**room.default_users()}, invite=50)
    event = room.event("tpi", "m.room.third_party_invite", ALICE, {}, state_key="t", apply=False)
    assert not allowed(room, event)


# -- power levels -----------------------------------------------------------------------


@pytest.mark.parametrize("version", ALL)
def test_power_level_change_by_equals_rejected(version):
    room = Room(version).setup(members={ALICE: "join", BOB: "join"})
    room.power_levels("pl2", {**room.default_users(), ALICE: 50, BOB: 50})
    # Alice cannot change Bob's level (equal) nor raise anyone above 50.
    demote = room.power_levels("p1", {**room.default_users(), ALICE: 50, BOB: 0}, sender=ALICE, apply=False)
    assert not allowed(room, demote)
    raise_self = room.power_levels("p2", {**room.default_users(), ALICE: 60, BOB: 50}, sender=ALICE, apply=False)
    assert not allowed(room, raise_self)
    # Lowering herself is fine.
    lower_self = room.power_levels("p3", {**room.default_users(), ALICE: 10, BOB: 50}, sender=ALICE, apply=False)
    # state_default is 50, so alice may send power levels at all.
    assert allowed(room, lower_self)


@pytest.mark.parametrize("version", ALL)
def test_power_level_defaults_changes(version):
    room = Room(version).setup(members={ALICE: "join"})
    room.power_levels("pl2", {**room.default_users(), ALICE: 50}, ban=50)
    assert not allowed(room, room.power_levels("p1", {**room.default_users(), ALICE: 50}, ban=60, sender=ALICE, apply=False))
    assert allowed(room, room.power_levels("p2", {**room.default_users(), ALICE: 50}, ban=40, sender=ALICE, apply=False))
    room.power_levels("pl3", {**room.default_users(), ALICE: 50}, kick=75)
    # Removing a value that is above the sender is a change from above.
    assert not allowed(room, room.power_levels("p3", {**room.default_users(), ALICE: 50}, sender=ALICE, apply=False))


@pytest.mark.parametrize("version", ALL)
def test_power_level_events_map(version):
    room = Room(version).setup(members={ALICE: "join"})
    room.power_levels("pl2", {**room.default_users(), ALICE: 50}, events={"m.room.name": 100})
    assert not allowed(room, room.power_levels("p1", {**room.default_users(), ALICE: 50}, events={"m.room.name": 40}, sender=ALICE, apply=False))
    assert not allowed(room, room.power_levels("p2", {**room.default_users(), ALICE: 50}, events={"m.room.name": 100, "x": 70}, sender=ALICE, apply=False))
    assert allowed(room, room.power_levels("p3", {**room.default_users(), ALICE: 50}, events={"m.room.name": 100, "x": 40}, sender=ALICE, apply=False))


@pytest.mark.parametrize(("version", "checked"), [("5", False), ("6", True), ("12", True)])
def test_notifications_levels_checked_from_v6(version, checked):
    room = Room(version).setup(members={ALICE: "join"})
    room.power_levels("pl2", {**room.default_users(), ALICE: 50}, notifications={"room": 50})
    event = room.power_levels("p1", {**room.default_users(), ALICE: 50}, notifications={"room": 100}, sender=ALICE, apply=False)
    assert allowed(room, event) is not checked


@pytest.mark.parametrize(("version", "stringy_ok"), [("1", True), ("9", True), ("10", False), ("12", False)])
def test_stringy_power_levels(version, stringy_ok):
    room = Room(version).setup()
    event = room.power_levels("p", {**room.default_users(), ALICE: " +10 "}, ban="50", sender=C, apply=False)
    assert allowed(room, event) is stringy_ok


@pytest.mark.parametrize("version", ALL)
def test_power_levels_users_must_be_user_ids(version):
    room = Room(version).setup()
    event = room.power_levels("p", {**room.default_users(), "not-a-user": 10}, apply=False)
    assert not allowed(room, event)


def test_floaty_power_levels_before_v10():
    room = Room("9").setup(members={ALICE: "join"})
    room.power_levels("pl2", {C: 100, ALICE: 50.9})
    assert user_power_level(ALICE, room.state) == 50


def test_v12_creators_have_infinite_power_and_cannot_be_listed():
    room = Room("12", create_content={"additional_creators": [ALICE]}).setup(members={ALICE: "join"})
    assert user_power_level(C, room.state) == CREATOR_POWER
    assert user_power_level(ALICE, room.state) == CREATOR_POWER
    listed = room.power_levels("p", {C: 100}, apply=False)
    assert not allowed(room, listed)
    listed_extra = room.power_levels("p2", {ALICE: 100}, apply=False)
    assert not allowed(room, listed_extra)
    # Another creator cannot be kicked or banned even by a creator.
    assert not allowed(room, room.member("k", ALICE, "leave", sender=C, apply=False))


def test_v11_creator_is_the_sender():
    room = Room("11", create_content={"creator": "@someone:else.example"})
    assert allowed(room, room.member("cj", C, "join", apply=False))
    assert not allowed(room, room.member("sj", "@someone:else.example", "join", apply=False))


# -- auth events list ---------------------------------------------------------------------


@pytest.mark.parametrize("version", ALL)
def test_auth_events_list_checks(version):
    room = Room(version).setup(members={ALICE: "join"})
    msg = room.event("m", "m.room.message", ALICE, {}, apply=False)
    selected = [e for key, e in room.state.items() if key in auth_types_for_event(room.version, "m.room.message", ALICE, None, {})]
    check_auth_events_list(msg, selected)
    with pytest.raises(AuthError, match="duplicate"):
        check_auth_events_list(msg, selected + selected[:1])
    with pytest.raises(AuthError, match="selection"):
        check_auth_events_list(msg, selected + [room.state[("m.room.join_rules", "")]])
    with pytest.raises(AuthError, match="rejected"):
        check_auth_events_list(msg, selected, rejected={selected[0].event_id})
    if version == "12":
        with pytest.raises(AuthError):
            check_auth_events_list(msg, selected + [room.create])
    else:
        without_create = [e for e in selected if e.type != "m.room.create"]
        with pytest.raises(AuthError, match="create"):
            check_auth_events_list(msg, without_create)


def test_auth_event_from_another_room():
    room = Room("10").setup(members={ALICE: "join"})
    other = Room("10")
    msg = room.event("m", "m.room.message", ALICE, {}, apply=False)
    foreign_pl = other.power_levels("fpl", {C: 100})
    foreign_pl = type(foreign_pl)({**foreign_pl.pdu(), "room_id": "!other:a.example"}, foreign_pl.room_version, event_id="$fpl")
    with pytest.raises(AuthError, match="another room"):
        check_auth_events_list(msg, [room.create, foreign_pl, room.state[("m.room.member", ALICE)]])


def test_auth_types_selection():
    v10, v12 = KNOWN_ROOM_VERSIONS["10"], KNOWN_ROOM_VERSIONS["12"]
    assert auth_types_for_event(v10, "m.room.create", C, "", {}) == set()
    assert auth_types_for_event(v10, "m.room.message", ALICE, None, {}) == {
        ("m.room.create", ""), ("m.room.power_levels", ""), ("m.room.member", ALICE)}
    assert ("m.room.create", "") not in auth_types_for_event(v12, "m.room.message", ALICE, None, {})
    join = auth_types_for_event(v10, "m.room.member", ALICE, ALICE, {"membership": "join", "join_authorised_via_users_server": MOD})
    assert {("m.room.join_rules", ""), ("m.room.member", MOD)} <= join
    tpi = auth_types_for_event(v10, "m.room.member", ALICE, BOB, {"membership": "invite", "third_party_invite": {"signed": {"token": "t"}}})
    assert ("m.room.third_party_invite", "t") in tpi
    leave = auth_types_for_event(v10, "m.room.member", ALICE, BOB, {"membership": "leave"})
    assert ("m.room.join_rules", "") not in leave


# -- properties ------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    version=st.sampled_from(ALL),
    alice=st.integers(0, 100),
    bob=st.integers(0, 100),
    new_bob=st.integers(0, 100),
)
def test_nobody_acts_above_their_level(version, alice, bob, new_bob):
    room = Room(version).setup(members={ALICE: "join", BOB: "join"})
    users = {**room.default_users(), ALICE: alice, BOB: bob}
    room.power_levels("pl2", users)
    change = room.power_levels("p", {**users, BOB: new_bob}, sender=ALICE, apply=False)
    ok = allowed(room, change)
    if new_bob != bob:
        expected = alice >= 50 and bob < alice and new_bob <= alice
        assert ok == expected
    ban = room.member("b", BOB, "ban", sender=ALICE, apply=False)
    assert allowed(room, ban) == (alice >= 50 and bob < alice)


@settings(max_examples=30, deadline=None)
@given(st.randoms())
def test_decisions_independent_of_state_order(rnd):
    room = Room("10").setup(join_rule="invite", members={ALICE: "join"}, users={ALICE: 50})
    events = [
        room.member("i", BOB, "invite", sender=ALICE, apply=False),
        room.member("j", BOB, "join", apply=False),
        room.event("t", "m.room.topic", ALICE, {"topic": "t"}, state_key="", apply=False),
        room.member("k", C, "leave", sender=ALICE, apply=False),
    ]
    expected = [allowed(room, e) for e in events]
    items = list(room.state.items())
    rnd.shuffle(items)
    shuffled = dict(items)
    for event, want in zip(events, expected):
        try:
            check_auth_rules(event, shuffled)
            got = True
        except AuthError:
            got = False
        assert got == want
