"""The redaction algorithm for every room version (spec: room versions,
"Redactions"), driven only by :class:`~homeserver.core.room_versions.RedactionRules`,
and when an authorised redaction applies to its event ("Handling redactions")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeserver.core import power_levels as pl
from homeserver.core.events import Event
from homeserver.core.identifiers import get_domain_from_id
from homeserver.core.room_versions import RedactionRules, RoomVersion

_KEPT_TOP_LEVEL = frozenset(
    {
        "event_id",
        "type",
        "room_id",
        "sender",
        "state_key",
        "content",
        "hashes",
        "signatures",
        "depth",
        "prev_events",
        "auth_events",
        "origin_server_ts",
    }
)
_KEPT_BEFORE_V11 = frozenset({"prev_state", "origin", "membership"})


def _kept_content_keys(event_type: str, rules: RedactionRules) -> frozenset[str] | None:
    """The content keys that survive for ``event_type``; ``None`` means all of them."""
    if event_type == "m.room.member":
        keys = {"membership"}
        if rules.keep_room_member_join_authorised_via_users_server:
            keys.add("join_authorised_via_users_server")
        return frozenset(keys)
    if event_type == "m.room.create":
        return None if rules.keep_room_create_content else frozenset({"creator"})
    if event_type == "m.room.join_rules":
        return frozenset({"join_rule", "allow"} if rules.keep_room_join_rules_allow else {"join_rule"})
    if event_type == "m.room.power_levels":
        keys = {"ban", "events", "events_default", "kick", "redact", "state_default", "users", "users_default"}
        if rules.keep_room_power_levels_invite:
            keys.add("invite")
        return frozenset(keys)
    if event_type == "m.room.history_visibility":
        return frozenset({"history_visibility"})
    if event_type == "m.room.aliases" and rules.keep_room_aliases_aliases:
        return frozenset({"aliases"})
    if event_type == "m.room.redaction" and rules.keep_room_redaction_redacts:
        return frozenset({"redacts"})
    return frozenset()


def redact(pdu: Mapping[str, Any], room_version: RoomVersion) -> dict[str, Any]:
    """The event as it is after redaction: only the essential keys are left."""
    rules = room_version.redaction
    kept_top = _KEPT_TOP_LEVEL | (_KEPT_BEFORE_V11 if rules.keep_origin_membership_prev_state else frozenset())
    redacted = {key: value for key, value in pdu.items() if key in kept_top}
    content = pdu.get("content")
    event_type = pdu.get("type")
    if isinstance(content, Mapping):
        kept = _kept_content_keys(event_type if isinstance(event_type, str) else "", rules)
        new_content = dict(content) if kept is None else {k: v for k, v in content.items() if k in kept}
        if (
            event_type == "m.room.member"
            and rules.keep_room_member_third_party_invite_signed
            and isinstance(content.get("third_party_invite"), Mapping)
            and "signed" in content["third_party_invite"]
        ):
            new_content["third_party_invite"] = {"signed": content["third_party_invite"]["signed"]}
        redacted["content"] = new_content
    elif "content" in pdu:
        redacted["content"] = {}
    return redacted


def redaction_applies(redaction: Event, target: Event, auth_state: pl.StateMap) -> bool:
    """Whether an authorised ``m.room.redaction`` redacts ``target``.

    Never an event of another room. In room versions 1 and 2 the authorization
    rules already decided who may redact what; from version 3 a redaction
    applies when its sender's power level (in ``auth_state``, the redaction's
    auth events) reaches the redact level, or when its sender's server is the
    target sender's server.
    """
    if redaction.redacts != target.event_id or target.room_id != redaction.room_id:
        return False
    if redaction.room_version.auth.special_case_redaction_domain:
        return True
    if get_domain_from_id(redaction.sender) == get_domain_from_id(target.sender):
        return True
    return pl.user_power_level(redaction.sender, auth_state) >= pl.named_level("redact", auth_state)
