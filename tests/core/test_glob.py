"""Linear-time glob matching: the same answers as a reference matcher, and work
that stays proportional to the text on patterns that make a backtracking regex
explode."""

from __future__ import annotations

import fnmatch
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from homeserver.core.glob import Budget, compile_glob, matches, matches_words

#: Few letters, so that patterns and texts meet often; no ``[``, which fnmatch treats specially.
TEXTS = st.text(alphabet="abAB -_", max_size=12)
PATTERNS = st.text(alphabet="abAB -_?*", max_size=8)

_WORD = re.compile(r"[A-Za-z0-9_]")


def _reference(pattern: str, text: str) -> bool:
    return re.match(fnmatch.translate(pattern), text, re.IGNORECASE | re.DOTALL) is not None


def _reference_words(pattern: str, text: str, limit: int | None = None) -> bool:
    """The spec's definition read literally: some substring (within the first
    ``limit`` characters) that starts and ends at a word boundary matches the
    whole pattern."""
    cut = len(text) if limit is None else min(limit, len(text))

    def boundary_before(i: int) -> bool:
        return i == 0 or not _WORD.fullmatch(text[i - 1])

    def boundary_after(j: int) -> bool:
        return j == len(text) or not _WORD.fullmatch(text[j])

    return any(
        boundary_before(i) and boundary_after(j) and _reference(pattern, text[i:j])
        for i in range(cut + 1)
        for j in range(i, cut + 1)
    )


@settings(max_examples=1500)
@given(PATTERNS, TEXTS)
def test_whole_value_matching_agrees_with_fnmatch(pattern, text):
    assert matches(compile_glob(pattern), text) is _reference(pattern, text)


@settings(max_examples=1500)
@given(PATTERNS, TEXTS)
def test_word_matching_agrees_with_the_spec_definition(pattern, text):
    assert matches_words(compile_glob(pattern), text, len(text)) is _reference_words(pattern, text)


@given(PATTERNS, TEXTS, st.integers(min_value=0, max_value=12))
def test_word_matching_examines_only_the_limit(pattern, text, limit):
    """Within the limit, a match still ends at a word boundary of the whole text."""
    assert matches_words(compile_glob(pattern), text, limit) is _reference_words(pattern, text, limit)


@given(st.text(alphabet="ab*?", max_size=6), st.text(alphabet="ab*?", max_size=10))
def test_literal_and_star_only_globs(pattern, text):
    assert matches(compile_glob(pattern, wildcards=""), text) is (pattern.lower() == text.lower())
    star_only = re.fullmatch(".*".join(re.escape(part) for part in pattern.split("*")), text, re.DOTALL)
    assert matches(compile_glob(pattern, wildcards="*", fold_case=False), text) is (star_only is not None)


def test_case_folding_keeps_positions():
    assert matches(compile_glob("straße"), "STRAßE")
    assert matches(compile_glob("i?x"), "İax") is False  # İ lower-cases to two characters: it stays itself
    assert matches(compile_glob("?ax"), "İax")
    # KELVIN SIGN folds to "k" but is no word character: it still bounds a word.
    assert matches_words(compile_glob("cat"), "\u212acat", 10)


def _steps(run) -> int:
    budget = Budget(1 << 40)
    run(budget)
    return (1 << 40) - budget.left


def test_pathological_patterns_cost_steps_in_proportion_to_the_text():
    """``*a*a*a*...b`` on a run of ``a`` is what makes a backtracking regex take
    time growing with a power of the length; here it is one scan per segment."""
    text = "a" * 50_000
    stars = "*a" * 20 + "*b"
    assert not matches_words(compile_glob(stars), text, len(text))
    assert _steps(lambda b: matches_words(compile_glob(stars), text, len(text), b)) < 2 * 22 * (1 + len(text) // 256)
    assert _steps(lambda b: matches(compile_glob(stars), text, b)) < 2 * 22 * (1 + len(text) // 256)
    assert matches_words(compile_glob(stars), text + "b", len(text) + 1)
    # Question marks: at worst one candidate per position, each compared piece by piece.
    questions = "a?" * 40 + "b"
    spent = _steps(lambda b: matches_words(compile_glob(questions), text, len(text), b))
    assert spent <= (len(text) + 1) * (2 + 41)


def test_a_spent_budget_ends_the_match_as_no_match():
    text = "a" * 50_000
    budget = Budget(1_000)
    assert not matches_words(compile_glob("a?" * 40 + "a"), text + " ", len(text) + 1, budget)
    assert budget.exhausted
    assert not matches(compile_glob("a"), "a", budget)  # nothing is left for later matches


@given(st.text(alphabet="ab?*", max_size=30), st.text(alphabet="ab ", max_size=300))
def test_work_is_bounded_by_text_and_pattern(pattern, text):
    glob = compile_glob(pattern)
    bound = (len(text) + 2) * (len(glob.segments) + 1) * (2 + len(pattern))
    assert _steps(lambda b: matches_words(glob, text, len(text), b)) <= bound
    assert _steps(lambda b: matches(glob, text, b)) <= bound
