"""Push rule evaluation, with the spec's own condition examples."""

from __future__ import annotations

import pytest

from homeserver.core.glob import Budget
from homeserver.core.push_rules import RULESET_BUDGET, PushContext, default_rules, evaluate, merge_rules
from homeserver.core.push_rules import _condition_matches as _condition_in_budget

ME = "@me:example.org"
CTX = PushContext(user_id=ME, member_count=5, display_name="Me", sender_power_level=0, notification_levels={"room": 50})


def _condition_matches(condition, event, ctx):
    return _condition_in_budget(condition, event, ctx, Budget(RULESET_BUDGET))


def _match(key, pattern):
    return {"kind": "event_match", "key": key, "pattern": pattern}


@pytest.mark.parametrize(
    ("topic", "expected"),
    [("Lunch plans", True), ("LUNCH", True), (" lunch", False), ("lunc", False), (None, False)],
)
def test_spec_event_match_example(topic, expected):
    event = {"type": "m.room.topic", "content": {"topic": topic}}
    assert _condition_matches(_match("content.topic", "lunc?*"), event, CTX) is expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [("An example event.", True), ("exple", True), ("An exciting triple-whammy", True), ("notexample", False)],
)
def test_spec_body_word_boundary_example(body, expected):
    assert _condition_matches(_match("content.body", "ex*ple"), {"content": {"body": body}}, CTX) is expected


def test_spec_event_property_examples():
    create = {"content": {"m.federate": True}}
    assert _condition_matches({"kind": "event_property_is", "key": "content.m\\.federate", "value": True}, create, CTX)
    for wrong in ("true", 1):
        assert not _condition_matches({"kind": "event_property_is", "key": "content.m\\.federate", "value": True}, {"content": {"m.federate": wrong}}, CTX)
    aliases = {"content": {"alt_aliases": ["#somewhere:example.org", "#myroom:example.com"]}}
    cond = {"kind": "event_property_contains", "key": "content.alt_aliases", "value": "#myroom:example.com"}
    assert _condition_matches(cond, aliases, CTX)
    assert not _condition_matches({**cond, "value": ":example.com"}, aliases, CTX)


@pytest.mark.parametrize(("spec", "count", "expected"), [("2", 2, True), ("==2", 3, False), ("<3", 2, True), (">=5", 5, True), ("bad", 2, False)])
def test_room_member_count(spec, count, expected):
    ctx = PushContext(ME, count, None, 0, {})
    assert _condition_matches({"kind": "room_member_count", "is": spec}, {}, ctx) is expected


def test_unknown_condition_never_matches():
    assert not _condition_matches({"kind": "org.example.magic"}, {}, CTX)


def test_defaults_for_messages_mentions_and_notices():
    rules = default_rules(ME)
    message = evaluate(rules, {"type": "m.room.message", "content": {"body": "hi", "msgtype": "m.text"}}, CTX)
    assert message.notify and not message.highlight
    notice = evaluate(rules, {"type": "m.room.message", "content": {"body": "bot", "msgtype": "m.notice"}}, CTX)
    assert not notice.notify
    mention = evaluate(rules, {"type": "m.room.message", "content": {"body": "hey", "m.mentions": {"user_ids": [ME]}}}, CTX)
    assert mention.notify and mention.highlight
    dm = evaluate(rules, {"type": "m.room.message", "content": {"body": "hi"}}, PushContext(ME, 2, None, 0, {}))
    assert {"set_tweak": "sound", "value": "default"} in dm.actions
    invite = evaluate(rules, {"type": "m.room.member", "state_key": ME, "content": {"membership": "invite"}}, CTX)
    assert invite.notify
    edit = evaluate(rules, {"type": "m.room.message", "content": {"body": "x", "m.relates_to": {"rel_type": "m.replace"}}}, CTX)
    assert not edit.notify


def test_room_mention_needs_permission():
    rules = default_rules(ME)
    event = {"type": "m.room.message", "content": {"body": "@room", "m.mentions": {"room": True}}}
    assert not evaluate(rules, event, CTX).highlight
    assert evaluate(rules, event, PushContext(ME, 5, None, 50, {"room": 50})).highlight


def test_user_rules_and_master_switch():
    custom = {"rules": {"room": [{"rule_id": "!quiet:example.org", "enabled": True, "actions": []}]},
              "defaults": {}}
    rules = merge_rules(ME, custom)
    quiet = evaluate(rules, {"type": "m.room.message", "room_id": "!quiet:example.org", "content": {"body": "x"}}, CTX)
    assert not quiet.notify
    muted = merge_rules(ME, {"defaults": {".m.rule.master": {"enabled": True}}})
    assert not evaluate(muted, {"type": "m.room.message", "content": {"body": "x"}}, CTX).notify


def test_historical_actions_are_stripped():
    custom = {"rules": {"sender": [{"rule_id": "@bob:example.org", "enabled": True, "actions": ["dont_notify"]}]}}
    decision = evaluate(merge_rules(ME, custom), {"type": "m.room.message", "sender": "@bob:example.org", "content": {}}, CTX)
    assert decision.actions == () and not decision.notify


def test_each_ruleset_spends_at_most_its_budget():
    """Thousands of costly rules on a long body: evaluation stops at the budget and the
    rules after it do not match; an ordinary ruleset stays far below it."""
    body = "a" * 16_000
    costly = [{"rule_id": f"r{i}", "enabled": True, "pattern": "a?" * 60 + "b", "actions": ["notify"]} for i in range(2_000)]
    ruleset = merge_rules(ME, {"rules": {"content": costly}})
    event = {"type": "m.room.message", "content": {"body": body}}
    budget = Budget(RULESET_BUDGET)
    assert evaluate(ruleset, event, CTX, budget) == evaluate(ruleset, event, CTX, Budget(RULESET_BUDGET))
    assert budget.exhausted and budget.left > -1_000  # it stopped as soon as it ran out
    assert not evaluate(ruleset, event, CTX, budget).notify  # the message rule was never reached
    ordinary = Budget(RULESET_BUDGET)
    keywords = [{"rule_id": w, "enabled": True, "pattern": w, "actions": ["notify"]} for w in ("lunch", "deploy", "hearth")]
    assert evaluate(merge_rules(ME, {"rules": {"content": keywords}}), event, CTX, ordinary).notify
    assert RULESET_BUDGET - ordinary.left < RULESET_BUDGET // 20


def test_patterns_and_keys_over_the_limit_never_match():
    event = {"content": {"body": "x" * 300, "k" * 300: "v"}}
    assert not _condition_matches(_match("content.body", "x" * 256), event, CTX)
    assert _condition_matches(_match("content.body", "x*"), event, CTX)
    assert not _condition_matches({"kind": "event_property_is", "key": "content." + "k" * 300, "value": "v"}, event, CTX)
    assert not _condition_matches({"kind": "event_property_is", "key": 5, "value": "v"}, event, CTX)
