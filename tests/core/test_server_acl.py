"""Server ACL matching."""

from __future__ import annotations

import pytest

from homeserver.core.server_acl import server_allowed


@pytest.mark.parametrize("acl, server, allowed", [
    (None, "anything.example", True),
    ({"allow": ["*"]}, "good.example:8448", True),
    ({"allow": ["*"], "deny": ["evil.example"]}, "evil.example", False),
    ({"allow": ["*"], "deny": ["evil.example"]}, "evil.example:1234", False),  # ports do not count
    ({"allow": ["*"], "deny": ["*.evil.example"]}, "a.b.evil.example", False),
    ({"allow": ["*"], "deny": ["*.evil.example"]}, "evil.example", True),
    ({"allow": ["*.trusted.example"]}, "hs.trusted.example", True),
    ({"allow": ["*.trusted.example"]}, "other.example", False),  # not allowed = denied
    ({"allow": ["hs?.example"]}, "hs1.example", True),
    ({"allow": ["hs?.example"]}, "hs10.example", False),
    ({"allow": ["*"]}, "1.2.3.4", True),
    ({"allow": ["*"], "allow_ip_literals": False}, "1.2.3.4:8448", False),
    ({"allow": ["*"], "allow_ip_literals": False}, "[::1]", False),
    ({"allow": ["*"], "deny": ["*"]}, "good.example", False),  # deny wins
    ({}, "good.example", False),
    ({"allow": ["GOOD.example"]}, "good.EXAMPLE", True),
    ({"allow": "*"}, "good.example", False),  # malformed lists allow nothing
])
def test_server_acls(acl, server, allowed):
    assert server_allowed(acl, server) is allowed


def test_a_backtracking_pattern_is_matched_in_one_pass():
    """``*a*a*...*b`` over a long name would take a backtracking regex forever."""
    host = "a" * 240 + ".example"
    acl = {"allow": ["*"], "deny": ["*a" * 40 + "*b"]}
    assert server_allowed(acl, host) is True
    assert server_allowed({"allow": ["*a" * 40 + "*e"]}, host) is True
