"""Push rules: the spec's predefined rules, merging a user's changes into them,
and evaluating a ruleset against an event (spec: Client-Server API, "Push
Notifications"). Pure functions over plain data."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from homeserver.core.canonical_json import MAX_SAFE_INTEGER, MIN_SAFE_INTEGER
from homeserver.core.glob import SCAN_UNIT, Budget, OutOfSteps, compile_glob, matches, matches_words

KINDS = ("override", "content", "room", "sender", "underride")
#: Actions older versions of the spec defined; they are stripped everywhere.
HISTORICAL_ACTIONS = frozenset({"dont_notify", "coalesce"})
#: The longest glob a rule may hold (longer ones are refused when a rule is set,
#: and never match): every identifier fits.
MAX_PATTERN_LENGTH = 255
#: How much of ``content.body`` content patterns and display names examine; other
#: properties longer than this match no pattern.
MAX_TEXT_LENGTH = 16_384
#: Steps of work (see :mod:`homeserver.core.glob`) one ruleset may spend on one
#: event, so no user's rules cost the others time; an ordinary ruleset takes a
#: few hundred. Rules reached after the budget is spent do not match.
RULESET_BUDGET = 20_000


def _rule(rule_id: str, conditions: list[dict[str, Any]], actions: list[Any], enabled: bool = True) -> dict[str, Any]:
    return {"rule_id": rule_id, "default": True, "enabled": enabled, "conditions": conditions, "actions": actions}


def _match(key: str, pattern: str) -> dict[str, Any]:
    return {"kind": "event_match", "key": key, "pattern": pattern}


SOUND = {"set_tweak": "sound", "value": "default"}
HIGHLIGHT = {"set_tweak": "highlight"}


def default_rules(user_id: str) -> dict[str, list[dict[str, Any]]]:
    """The predefined rules of the spec, in priority order, for ``user_id``."""
    override = [
        _rule(".m.rule.master", [], [], enabled=False),
        _rule(".m.rule.suppress_notices", [_match("content.msgtype", "m.notice")], []),
        _rule(
            ".m.rule.invite_for_me",
            [_match("type", "m.room.member"), _match("content.membership", "invite"), _match("state_key", user_id)],
            ["notify", SOUND],
        ),
        _rule(".m.rule.member_event", [_match("type", "m.room.member")], []),
        _rule(
            ".m.rule.is_user_mention",
            [{"kind": "event_property_contains", "key": "content.m\\.mentions.user_ids", "value": user_id}],
            ["notify", SOUND, HIGHLIGHT],
        ),
        _rule(
            ".m.rule.is_room_mention",
            [
                {"kind": "event_property_is", "key": "content.m\\.mentions.room", "value": True},
                {"kind": "sender_notification_permission", "key": "room"},
            ],
            ["notify", HIGHLIGHT],
        ),
        _rule(".m.rule.tombstone", [_match("type", "m.room.tombstone"), _match("state_key", "")], ["notify", HIGHLIGHT]),
        _rule(".m.rule.reaction", [_match("type", "m.reaction")], []),
        _rule(".m.rule.room.server_acl", [_match("type", "m.room.server_acl"), _match("state_key", "")], []),
        _rule(
            ".m.rule.suppress_edits",
            [{"kind": "event_property_is", "key": "content.m\\.relates_to.rel_type", "value": "m.replace"}],
            [],
        ),
    ]
    underride = [
        _rule(".m.rule.call", [_match("type", "m.call.invite")], ["notify", {"set_tweak": "sound", "value": "ring"}]),
        _rule(
            ".m.rule.encrypted_room_one_to_one",
            [{"kind": "room_member_count", "is": "2"}, _match("type", "m.room.encrypted")],
            ["notify", SOUND],
        ),
        _rule(
            ".m.rule.room_one_to_one",
            [{"kind": "room_member_count", "is": "2"}, _match("type", "m.room.message")],
            ["notify", SOUND],
        ),
        _rule(".m.rule.message", [_match("type", "m.room.message")], ["notify"]),
        _rule(".m.rule.encrypted", [_match("type", "m.room.encrypted")], ["notify"]),
    ]
    return {"override": override, "content": [], "room": [], "sender": [], "underride": underride}


def merge_rules(user_id: str, custom: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The user's full ruleset: their rules first within each kind, then the
    defaults, with the user's enabled/actions changes to defaults applied.

    ``custom`` is ``{"rules": {kind: [rule, ...]}, "defaults": {rule_id: {"enabled", "actions"}}}``.
    Override rules the user added come *before* the defaults except
    ``.m.rule.master``, which always comes first (as the spec lists it).
    """
    defaults = default_rules(user_id)
    changes = custom.get("defaults", {})
    for rules in defaults.values():
        for rule in rules:
            change = changes.get(rule["rule_id"], {})
            if "enabled" in change:
                rule["enabled"] = change["enabled"]
            if "actions" in change:
                rule["actions"] = change["actions"]
    user_rules = custom.get("rules", {})
    merged: dict[str, list[dict[str, Any]]] = {}
    for kind in KINDS:
        own = [dict(r, default=False) for r in user_rules.get(kind, [])]
        if kind == "override":
            merged[kind] = defaults[kind][:1] + own + defaults[kind][1:]
        else:
            merged[kind] = own + defaults[kind]
    return merged


@dataclass(frozen=True)
class PushContext:
    """What the conditions need beyond the event itself."""

    user_id: str
    member_count: int
    display_name: str | None
    sender_power_level: float
    notification_levels: Mapping[str, int]


@dataclass(frozen=True)
class PushDecision:
    notify: bool
    highlight: bool
    actions: tuple[Any, ...]


def evaluate(
    ruleset: Mapping[str, Sequence[Mapping[str, Any]]],
    event: Mapping[str, Any],
    ctx: PushContext,
    budget: Budget | None = None,
) -> PushDecision:
    """The actions of the first enabled rule (in kind order) that matches the event,
    within ``budget`` (:data:`RULESET_BUDGET` steps unless given)."""
    budget = budget or Budget(RULESET_BUDGET)
    try:
        for kind in KINDS:
            for rule in ruleset.get(kind, ()):
                budget.spend()
                if not rule.get("enabled", True):
                    continue
                if _rule_matches(kind, rule, event, ctx, budget):
                    actions = tuple(a for a in rule.get("actions", ()) if not (isinstance(a, str) and a in HISTORICAL_ACTIONS))
                    return PushDecision("notify" in actions, _highlight(actions), actions)
    except OutOfSteps:
        pass
    return PushDecision(False, False, ())


def pattern_allowed(pattern: str) -> bool:
    """Whether a rule may hold this glob (see :data:`MAX_PATTERN_LENGTH`)."""
    return len(pattern) <= MAX_PATTERN_LENGTH


def _highlight(actions: Sequence[Any]) -> bool:
    for action in actions:
        if isinstance(action, Mapping) and action.get("set_tweak") == "highlight":
            return action.get("value", True) is True
    return False


def _rule_matches(kind: str, rule: Mapping[str, Any], event: Mapping[str, Any], ctx: PushContext, budget: Budget) -> bool:
    if kind == "room":
        return event.get("room_id") == rule.get("rule_id")
    if kind == "sender":
        return event.get("sender") == rule.get("rule_id")
    if kind == "content":
        pattern = rule.get("pattern")
        return isinstance(pattern, str) and _condition_matches(
            {"kind": "event_match", "key": "content.body", "pattern": pattern}, event, ctx, budget
        )
    return all(_condition_matches(c, event, ctx, budget) for c in rule.get("conditions", ()))


def _condition_matches(condition: Mapping[str, Any], event: Mapping[str, Any], ctx: PushContext, budget: Budget) -> bool:
    budget.spend()
    kind = condition.get("kind")
    if kind == "event_match":
        key, pattern = condition.get("key"), condition.get("pattern")
        if not isinstance(pattern, str) or not pattern_allowed(pattern):
            return False
        value = _property(event, key)
        if not isinstance(value, str):
            return False
        if key == "content.body":
            return matches_words(compile_glob(pattern), value, MAX_TEXT_LENGTH, budget)
        return len(value) <= MAX_TEXT_LENGTH and matches(compile_glob(pattern), value, budget)
    if kind == "event_property_is":
        value = _property(event, condition.get("key"))
        return _is_simple(value) and _is_simple(condition.get("value")) and _same(value, condition.get("value"))
    if kind == "event_property_contains":
        value = _property(event, condition.get("key"))
        wanted = condition.get("value")
        if not isinstance(value, list) or not _is_simple(wanted):
            return False
        budget.spend(len(value) // SCAN_UNIT)
        return any(_is_simple(v) and _same(v, wanted) for v in value)
    if kind == "contains_display_name":
        body = _property(event, "content.body")
        name = ctx.display_name
        if not isinstance(body, str) or not name:
            return False
        return matches_words(compile_glob(name, wildcards=""), body, MAX_TEXT_LENGTH, budget)
    if kind == "room_member_count":
        return _member_count_matches(condition.get("is"), ctx.member_count)
    if kind == "sender_notification_permission":
        key = condition.get("key")
        if not isinstance(key, str):
            return False
        return ctx.sender_power_level >= ctx.notification_levels.get(key, 50)
    return False  # unrecognised conditions never match


def _property(event: Mapping[str, Any], dotted: Any) -> Any:
    """The value at a dot-separated path, where ``\\.`` is a literal dot and ``\\\\`` a backslash
    (``None`` for a path that is not a string of at most :data:`MAX_PATTERN_LENGTH`)."""
    if not isinstance(dotted, str) or len(dotted) > MAX_PATTERN_LENGTH:
        return None
    value: Any = event
    for part in _split_path(dotted):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


@lru_cache(maxsize=1024)
def _split_path(dotted: str) -> tuple[str, ...]:
    parts, current, i = [], [], 0
    while i < len(dotted):
        char = dotted[i]
        if char == "\\" and i + 1 < len(dotted) and dotted[i + 1] in ".\\":
            current.append(dotted[i + 1])
            i += 2
            continue
        if char == ".":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    parts.append("".join(current))
    return tuple(parts)


def _is_simple(value: Any) -> bool:
    if value is None or isinstance(value, (str, bool)):
        return True
    return isinstance(value, int) and MIN_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def _member_count_matches(spec: Any, count: int) -> bool:
    if not isinstance(spec, str):
        return False
    match = re.fullmatch(r"(==|<=|>=|<|>)?([0-9]{1,16})", spec.strip())
    if not match:
        return False
    op, number = match.group(1) or "==", int(match.group(2))
    return {
        "==": count == number,
        "<": count < number,
        ">": count > number,
        "<=": count <= number,
        ">=": count >= number,
    }[op]
