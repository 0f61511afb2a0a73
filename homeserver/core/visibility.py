"""Who may see an event (spec: Client-Server API, "History visibility")."""

from __future__ import annotations

from collections.abc import Iterable

VISIBILITIES = ("world_readable", "shared", "invited", "joined")


def can_see_event(
    *,
    history_visibility: str | None,
    membership_at_event: str | None,
    current_membership: str | None,
    is_own_membership_event: bool = False,
    joined_later: bool = False,
) -> bool:
    """Whether a user may see an event.

    ``history_visibility`` and ``membership_at_event`` are taken from the room
    state at the event; ``current_membership`` is the user's membership now and
    ``joined_later`` whether they joined the room at some point after the event
    (so a member who left keeps the ``shared`` history they could see).
    Unknown visibility values are treated as ``shared``, as the spec says.
    """
    if is_own_membership_event:
        return True
    visibility = history_visibility if history_visibility in VISIBILITIES else "shared"
    if visibility == "world_readable":
        return True
    if membership_at_event == "join":
        return True
    if visibility == "shared" and (current_membership == "join" or joined_later):
        return True
    if visibility == "invited" and membership_at_event == "invite":
        return True
    return False


def server_can_see_event(*, history_visibility: str | None, memberships: Iterable[str | None]) -> bool:
    """Whether another server may have an event unredacted (the federation read endpoints).

    ``memberships`` are the memberships, in the room state at the event, of
    that server's users. The server is known to be in the room now (the read
    endpoints answer only such servers), which is all ``shared`` asks; under
    ``invited`` and ``joined`` one of its users must have been invited or
    joined at the event (as Synapse's ``filter_events_for_server`` decides).
    """
    visibility = history_visibility if history_visibility in VISIBILITIES else "shared"
    if visibility in ("world_readable", "shared"):
        return True
    present = set(memberships)
    return "join" in present or (visibility == "invited" and "invite" in present)
