"""History visibility decisions."""

from __future__ import annotations

import pytest

from homeserver.core.visibility import can_see_event, server_can_see_event


@pytest.mark.parametrize(
    ("visibility", "at_event", "now", "expected"),
    [
        ("world_readable", None, None, True),
        ("shared", None, "join", True),  # history before joining is shared
        ("shared", "join", "leave", True),  # what one saw while joined stays visible
        ("shared", "leave", "leave", False),  # after leaving, nothing new
        ("shared", None, "invite", False),
        ("invited", "invite", "invite", True),
        ("invited", None, "join", False),
        ("joined", None, "join", False),
        ("joined", "join", "join", True),
        ("joined", "invite", "join", False),
        ("something_new", None, "join", True),  # unknown values behave as shared
        (None, None, "join", True),
    ],
)
def test_visibility(visibility, at_event, now, expected):
    assert can_see_event(history_visibility=visibility, membership_at_event=at_event, current_membership=now) is expected


def test_own_membership_events_are_visible():
    assert can_see_event(history_visibility="joined", membership_at_event=None, current_membership=None, is_own_membership_event=True)


@pytest.mark.parametrize(
    ("visibility", "memberships", "expected"),
    [
        ("world_readable", [], True),
        ("shared", [], True),  # the server is in the room now: shared history is its users' history
        (None, [], True),
        ("something_new", [], True),
        ("invited", ["invite"], True),
        ("invited", ["leave", "join"], True),
        ("invited", ["leave"], False),
        ("invited", [], False),
        ("joined", ["invite"], False),
        ("joined", ["ban", "join"], True),
        ("joined", [], False),
    ],
)
def test_server_visibility(visibility, memberships, expected):
    assert server_can_see_event(history_visibility=visibility, memberships=memberships) is expected


def test_shared_history_stays_visible_to_a_member_who_joined_after_it_and_left():
    assert can_see_event(history_visibility="shared", membership_at_event=None, current_membership="leave", joined_later=True)
    assert not can_see_event(history_visibility="joined", membership_at_event=None, current_membership="leave", joined_later=True)
