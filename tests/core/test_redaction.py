"""The redaction algorithm, per event type and room version."""

from __future__ import annotations

import pytest

from homeserver.core.events import Event
from homeserver.core.redaction import redact, redaction_applies
from homeserver.core.room_versions import KNOWN_ROOM_VERSIONS

TOP = {
    "event_id": "$e", "type": "X", "room_id": "!r:x", "sender": "@u:x", "state_key": "",
    "hashes": {"sha256": "h"}, "signatures": {"x": {}}, "depth": 1, "prev_events": [],
    "auth_events": [], "origin_server_ts": 1, "origin": "x", "membership": "join",
    "prev_state": [], "unsigned": {"age": 1}, "extra": 1,
}

CONTENT = {
    "m.room.member": {
        "membership": "join", "displayname": "A", "join_authorised_via_users_server": "@m:x",
        "third_party_invite": {"signed": {"token": "t"}, "display_name": "d"},
    },
    "m.room.create": {"creator": "@u:x", "room_version": "1", "m.federate": False},
    "m.room.join_rules": {"join_rule": "restricted", "allow": [{"type": "m.room_membership"}], "x": 1},
    "m.room.power_levels": {"ban": 50, "invite": 0, "events": {}, "users": {}, "notifications": {"room": 50}, "x": 1},
    "m.room.history_visibility": {"history_visibility": "shared", "x": 1},
    "m.room.aliases": {"aliases": ["#a:x"], "x": 1},
    "m.room.redaction": {"redacts": "$other", "reason": "spam"},
    "m.room.message": {"body": "secret", "msgtype": "m.text"},
}

# Expected content keys after redaction: (type, room versions) -> keys.
EXPECTED = {
    "m.room.member": {
        "1": {"membership"}, "8": {"membership"},
        "9": {"membership", "join_authorised_via_users_server"},
        "11": {"membership", "join_authorised_via_users_server", "third_party_invite"},
    },
    "m.room.create": {"1": {"creator"}, "10": {"creator"}, "11": {"creator", "room_version", "m.federate"}},
    "m.room.join_rules": {"1": {"join_rule"}, "7": {"join_rule"}, "8": {"join_rule", "allow"}},
    "m.room.power_levels": {
        "1": {"ban", "events", "users"}, "10": {"ban", "events", "users"},
        "11": {"ban", "events", "users", "invite"},
    },
    "m.room.history_visibility": {"1": {"history_visibility"}},
    "m.room.aliases": {"1": {"aliases"}, "5": {"aliases"}, "6": set()},
    "m.room.redaction": {"1": set(), "10": set(), "11": {"redacts"}},
    "m.room.message": {"1": set(), "12": set()},
}


def _expected(event_type: str, version: str) -> set[str]:
    table = EXPECTED[event_type]
    applicable = [v for v in table if int(v) <= int(version)]
    return table[max(applicable, key=int)]


@pytest.mark.parametrize("version", sorted(KNOWN_ROOM_VERSIONS, key=int))
@pytest.mark.parametrize("event_type", sorted(CONTENT))
def test_content_keys_kept(event_type, version):
    redacted = redact({**TOP, "type": event_type, "content": CONTENT[event_type]}, KNOWN_ROOM_VERSIONS[version])
    assert set(redacted["content"]) == _expected(event_type, version)


def test_third_party_invite_keeps_only_signed_in_v11():
    redacted = redact({**TOP, "type": "m.room.member", "content": CONTENT["m.room.member"]}, KNOWN_ROOM_VERSIONS["11"])
    assert redacted["content"]["third_party_invite"] == {"signed": {"token": "t"}}


@pytest.mark.parametrize("version", sorted(KNOWN_ROOM_VERSIONS, key=int))
def test_top_level_keys(version):
    redacted = redact({**TOP, "content": {}}, KNOWN_ROOM_VERSIONS[version])
    always = {"event_id", "type", "room_id", "sender", "state_key", "content", "hashes", "signatures",
              "depth", "prev_events", "auth_events", "origin_server_ts"}
    old = {"origin", "membership", "prev_state"}
    assert set(redacted) == (always | old if int(version) <= 10 else always)


def test_original_is_not_modified():
    event = {**TOP, "type": "m.room.message", "content": {"body": "x"}}
    redact(event, KNOWN_ROOM_VERSIONS["10"])
    assert event["content"] == {"body": "x"}


def _event(version_id: str, event_id: str, event_type: str, sender: str, room_id: str = "!r:a", **extra):
    version = KNOWN_ROOM_VERSIONS[version_id]
    pdu = {"type": event_type, "sender": sender, "room_id": room_id, "content": {}, **extra}
    return Event(pdu, version, event_id=event_id)


@pytest.mark.parametrize("version_id", ["3", "11"])
def test_when_a_redaction_applies_from_room_version_3(version_id):
    def redaction(sender: str, redacts: str = "$t"):
        return _event(version_id, "$r", "m.room.redaction", sender, redacts=redacts, content={"redacts": redacts})

    target = _event(version_id, "$t", "m.room.message", "@owner:a")
    power = _event(version_id, "$p", "m.room.power_levels", "@owner:a", state_key="",
                   content={"users": {"@mod:b": 50}, "redact": 50})
    levels = {("m.room.power_levels", ""): power}
    assert redaction_applies(redaction("@owner:a"), target, levels)
    assert redaction_applies(redaction("@other:a"), target, levels)  # the event sender's server
    assert redaction_applies(redaction("@mod:b"), target, levels)  # the redact power level
    assert not redaction_applies(redaction("@user:b"), target, levels)
    assert not redaction_applies(redaction("@owner:a"), _event(version_id, "$t", "m.room.message", "@owner:a", "!elsewhere:a"), levels)
    assert not redaction_applies(redaction("@owner:a", "$u"), target, levels)


def test_in_room_versions_1_and_2_the_auth_rules_decide():
    redaction = _event("1", "$r:b", "m.room.redaction", "@user:b", redacts="$t:a")
    assert redaction_applies(redaction, _event("1", "$t:a", "m.room.message", "@owner:a"), {})
    assert not redaction_applies(redaction, _event("1", "$t:a", "m.room.message", "@owner:a", "!elsewhere:a"), {})
