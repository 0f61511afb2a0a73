"""Identifier grammar (spec: Appendices, "Identifier Grammar")."""

from __future__ import annotations

import pytest

from homeserver.core.identifiers import (
    InvalidIdentifier,
    get_domain_from_id,
    is_valid_event_id,
    is_valid_localpart,
    is_valid_room_alias,
    is_valid_room_id,
    is_valid_server_name,
    is_valid_user_id,
    parse_server_name,
    parse_user_id,
)


@pytest.mark.parametrize(
    ("name", "host", "port"),
    [
        ("matrix.org", "matrix.org", None),
        ("matrix.org:8888", "matrix.org", 8888),
        ("1.2.3.4", "1.2.3.4", None),
        ("1.2.3.4:1234", "1.2.3.4", 1234),
        ("[1234:5678::abcd]", "[1234:5678::abcd]", None),
        ("[1234:5678::abcd]:5678", "[1234:5678::abcd]", 5678),
        ("localhost", "localhost", None),
    ],
)
def test_spec_server_name_examples(name, host, port):
    parsed = parse_server_name(name)
    assert (parsed.host, parsed.port) == (host, port)


@pytest.mark.parametrize(
    "name",
    ["", "matrix.org:", "matrix.org:port", "matrix.org:123456", "matrix.org:70000", "[::1", "[zz::1]",
     "exa mple.org", "under_score.org", "1.2.3.256", "a" * 256, "[1234:5678::abcd]x"],
)
def test_invalid_server_names(name):
    assert not is_valid_server_name(name)
    with pytest.raises(InvalidIdentifier):
        parse_server_name(name)


def test_ip_literal_detection():
    assert parse_server_name("127.0.0.1:8448").is_ip_literal
    assert parse_server_name("[::1]").is_ip_literal
    assert not parse_server_name("example.org").is_ip_literal


def test_user_ids_including_historical():
    assert parse_user_id("@alice:example.org").localpart == "alice"
    assert is_valid_user_id("@Alice:example.org")  # historical: upper case
    assert is_valid_user_id("@:example.org")  # historical: empty localpart
    assert is_valid_user_id("@ünicode:example.org")
    assert not is_valid_user_id("alice:example.org")
    assert not is_valid_user_id("@alice")
    assert not is_valid_user_id("@alice:bad host")
    assert not is_valid_user_id("@" + "a" * 250 + ":example.org")
    assert not is_valid_user_id("@a\x00b:example.org")


def test_localparts_for_new_users():
    assert is_valid_localpart("alice.b_c=d-e/f+g")
    for bad in ("Alice", "", "a b", "é", "a:b", "a*"):
        assert not is_valid_localpart(bad)


def test_room_event_ids_and_aliases():
    assert is_valid_room_id("!abc:example.org")
    assert is_valid_room_id("!" + "A" * 43)  # v12: create event hash, no server
    assert not is_valid_room_id("!short")
    assert not is_valid_room_id("#abc:example.org")
    assert is_valid_event_id("$abc:example.org")
    assert is_valid_event_id("$" + "a" * 43)
    assert not is_valid_event_id("abc")
    assert is_valid_room_alias("#room:example.org")
    assert not is_valid_room_alias("#room")
    assert get_domain_from_id("@a:example.org:8448") == "example.org:8448"
    with pytest.raises(InvalidIdentifier):
        get_domain_from_id("$nodomain")
