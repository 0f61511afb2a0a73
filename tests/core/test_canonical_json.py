"""Canonical JSON and the strict value rules of room versions 6+."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from homeserver.core.canonical_json import MAX_JSON_DEPTH, InvalidJSON, check_json_value, encode_canonical_json


def test_spec_examples():
    # spec: Appendices, "Canonical JSON", examples
    assert encode_canonical_json({}) == b"{}"
    assert encode_canonical_json({"one": 1, "two": "Two"}) == b'{"one":1,"two":"Two"}'
    assert encode_canonical_json({"b": "2", "a": "1"}) == b'{"a":"1","b":"2"}'
    assert encode_canonical_json({"auth": {"success": True, "mxid": "@john.doe:example.com",
                                           "profile": {"display_name": "John Doe", "three_pids": [
                                               {"medium": "email", "address": "john.doe@example.org"},
                                               {"medium": "msisdn", "address": "123456789"}]}}}) == (
        b'{"auth":{"mxid":"@john.doe:example.com","profile":{"display_name":"John Doe",'
        b'"three_pids":[{"address":"john.doe@example.org","medium":"email"},'
        b'{"address":"123456789","medium":"msisdn"}]},"success":true}}'
    )
    assert encode_canonical_json({"a": "日本語"}) == '{"a":"日本語"}'.encode()
    assert encode_canonical_json({"本": 2, "日": 1}) == '{"日":1,"本":2}'.encode()
    assert encode_canonical_json({"a": "\u65E5"}) == '{"a":"日"}'.encode()
    assert encode_canonical_json({"a": None}) == b'{"a":null}'
    assert encode_canonical_json({"a": -0}) == b'{"a":0}'
    assert encode_canonical_json({"a": "\\"}) == b'{"a":"\\\\"}'


@pytest.mark.parametrize("value", [1.5, 2**53, -(2**53), {"a": [1, {"b": 0.1}]}])
def test_strict_rejects_floats_and_big_integers(value):
    with pytest.raises(InvalidJSON):
        check_json_value(value, safe_integers=True, floats=False)


def test_lenient_accepts_floats_and_big_integers():
    check_json_value({"a": 1.5, "b": 2**60}, safe_integers=False)
    with pytest.raises(InvalidJSON):
        check_json_value({"a": float("nan")}, safe_integers=False)


def test_strict_error_names_the_path():
    with pytest.raises(InvalidJSON, match=r"content.a\[1\]"):
        check_json_value({"content": {"a": [0, 1.5]}}, floats=False)


def _nested(levels: int) -> dict:
    value: dict = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def test_nesting_is_limited_without_recursion():
    check_json_value(_nested(MAX_JSON_DEPTH))
    with pytest.raises(InvalidJSON, match="nested more than"):
        check_json_value(_nested(MAX_JSON_DEPTH + 1))
    deep: list = []
    for _ in range(100_000):  # far beyond the recursion limit
        deep = [deep]
    with pytest.raises(InvalidJSON, match="nested"):
        check_json_value(deep)
    check_json_value(_nested(300), max_depth=512)


@pytest.mark.parametrize("value", [
    "a\x00b", {"k": "\x00"}, {"k\x00": 1}, ["x", ["\x00"]], "\ud800", {"\udc00": 1}, "é\udfff",
])
def test_nul_and_lone_surrogates_are_refused(value):
    with pytest.raises(InvalidJSON):
        check_json_value(value)


def test_nul_may_be_allowed_where_items_are_checked_one_by_one():
    check_json_value({"pdus": [{"body": "a\x00b"}]}, allow_nul=True)
    with pytest.raises(InvalidJSON, match="surrogate"):
        check_json_value({"pdus": ["\ud800"]}, allow_nul=True)


def test_client_json_integers_are_within_the_safe_range():
    check_json_value({"n": 2**53 - 1, "m": -(2**53) + 1, "f": 1.5})
    for n in (2**53, -(2**53), 2**63, 2**70):
        with pytest.raises(InvalidJSON, match="out of range"):
            check_json_value({"n": n})


def test_values_that_are_not_json():
    for value in ({1: "a"}, {"a": {1, 2}}, b"bytes"):
        with pytest.raises(InvalidJSON):
            check_json_value(value)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=25,
)


@given(st.dictionaries(st.text(max_size=6), json_values, max_size=6), st.randoms())
def test_stable_under_key_reordering(obj, rnd):
    items = list(obj.items())
    rnd.shuffle(items)
    assert encode_canonical_json(dict(items)) == encode_canonical_json(obj)
    assert json.loads(encode_canonical_json(obj)) == obj


@given(st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=30,
))
def test_fast_encoder_matches_the_reference(value):
    from canonicaljson import encode_canonical_json as reference

    assert encode_canonical_json(value) == reference(value)


def test_values_beyond_the_fast_encoder():
    assert encode_canonical_json({"big": 2**70}) == b'{"big":1180591620717411303424}'
