"""Glob matching in linear time (spec: Appendices, "Glob-style matching": ``*``
matches zero or more characters, ``?`` exactly one).

Design note: a glob is cut at its stars into segments of literal characters
and ``?``. A whole-value match puts the first segment at the start of the text,
the last at its end, and each segment between at its leftmost place after the
one before: a leftmost place never leaves less room for the segments after it,
so no choice is ever revisited, and the text is read once per segment instead
of once per way of splitting it (what a backtracking regex such as
``.*a.*a.*b`` does, in time that grows with a power of the text's length).
Push rules on ``content.body`` match a substring that starts and ends at word
boundaries: the leftmost start is again never worse, and only the last
segment scans on for an end at a boundary.

Within a segment, its longest literal run is found with ``str.find`` and the
other runs are compared in place. Every call to ``find`` and every comparison
costs steps of a :class:`Budget` (a scan of :data:`SCAN_UNIT` characters
counts as one step), so callers can bound the total work of many matches;
once the budget is spent, every further match fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

#: Characters of scanning that cost one step.
SCAN_UNIT = 256

_WORD = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


class Budget:
    """Steps of matching work left; shared by many matches."""

    def __init__(self, steps: int) -> None:
        self.left = steps

    @property
    def exhausted(self) -> bool:
        return self.left < 0

    def spend(self, steps: int = 1) -> None:
        """Take ``steps``; raise :class:`OutOfSteps` once there are none left."""
        self.left -= steps
        if self.left < 0:
            raise OutOfSteps


class OutOfSteps(Exception):
    """A budget ran out in the middle of a match."""


@dataclass(frozen=True)
class _Segment:
    """A run of the pattern between stars: ``length`` characters, the literal
    runs among them as ``(offset, text)``, the longest of them first."""

    length: int
    pieces: tuple[tuple[int, str], ...]


@dataclass(frozen=True)
class Glob:
    """A compiled glob: its segments (one more than it has stars)."""

    segments: tuple[_Segment, ...]
    fold_case: bool


def fold(text: str) -> str:
    """Lower-case ``text`` character by character (the length never changes, so
    positions in the folded text are positions in ``text``)."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


@lru_cache(maxsize=16)
def _folded(text: str) -> str:
    # One event's body is matched against many members' rules: fold it once.
    return fold(text)


@lru_cache(maxsize=4096)
def compile_glob(pattern: str, *, wildcards: str = "*?", fold_case: bool = True) -> Glob:
    """Compile ``pattern``; only the characters in ``wildcards`` (``*``, ``?``) are special."""
    if fold_case:
        pattern = fold(pattern)
    parts = pattern.split("*") if "*" in wildcards else [pattern]
    return Glob(tuple(_segment(part, "?" in wildcards) for part in parts), fold_case)


def _segment(part: str, question_mark: bool) -> _Segment:
    if not question_mark:
        return _Segment(len(part), ((0, part),) if part else ())
    pieces: list[tuple[int, str]] = []
    offset = 0
    for run in part.split("?"):
        if run:
            pieces.append((offset, run))
        offset += len(run) + 1
    pieces.sort(key=lambda piece: -len(piece[1]))
    return _Segment(len(part), tuple(pieces))


def matches(glob: Glob, text: str, budget: Budget | None = None) -> bool:
    """Whether the glob matches the whole of ``text``."""
    folded = _folded(text) if glob.fold_case else text
    try:
        return _whole(glob.segments, folded, budget or Budget(_UNLIMITED))
    except OutOfSteps:
        return False


def matches_words(glob: Glob, text: str, limit: int, budget: Budget | None = None) -> bool:
    """Whether the glob matches a substring of ``text`` that starts and ends at a
    word boundary (the start or end of the text, or a character other than
    ``[A-Za-z0-9_]``) within the first ``limit`` characters."""
    folded = _folded(text) if glob.fold_case else text
    try:
        return _words(glob.segments, folded, text, min(limit, len(text)), budget or Budget(_UNLIMITED))
    except OutOfSteps:
        return False


_UNLIMITED = 1 << 62


def _at(segment: _Segment, text: str, position: int, limit: int, budget: Budget) -> bool:
    """Whether ``segment`` matches ``text`` at ``position`` (ending by ``limit``)."""
    if position < 0 or position + segment.length > limit:
        return False
    budget.spend(1 + len(segment.pieces))
    return all(text.startswith(piece, position + offset) for offset, piece in segment.pieces)


def _find(segment: _Segment, text: str, start: int, limit: int, budget: Budget) -> int:
    """The leftmost position at or after ``start`` where ``segment`` matches and
    ends by ``limit``; ``-1`` if there is none."""
    if start + segment.length > limit:
        return -1
    if not segment.pieces:
        budget.spend()
        return start
    offset, anchor = segment.pieces[0]
    others = segment.pieces[1:]
    anchor_limit = limit - (segment.length - offset - len(anchor))
    position = start + offset
    while True:
        hit = text.find(anchor, position, anchor_limit)
        budget.spend(1 + ((hit if hit >= 0 else anchor_limit) - position) // SCAN_UNIT + len(others))
        if hit < 0:
            return -1
        candidate = hit - offset
        if all(text.startswith(piece, candidate + off) for off, piece in others):
            return candidate
        position = hit + 1


def _whole(segments: tuple[_Segment, ...], text: str, budget: Budget) -> bool:
    n = len(text)
    first, last = segments[0], segments[-1]
    if len(segments) == 1:
        return first.length == n and _at(first, text, 0, n, budget)
    if not _at(first, text, 0, n, budget):
        return False
    position = first.length
    last_start = n - last.length
    for segment in segments[1:-1]:
        hit = _find(segment, text, position, last_start, budget)
        if hit < 0:
            return False
        position = hit + segment.length
    return position <= last_start and _at(last, text, last_start, n, budget)


def _words(segments: tuple[_Segment, ...], text: str, original: str, limit: int, budget: Budget) -> bool:
    # Boundaries are read from the original text: folding may turn a non-word
    # character into a word character (KELVIN SIGN into "k").
    def starts_word(i: int) -> bool:
        return i == 0 or original[i - 1] not in _WORD

    def ends_word(j: int) -> bool:
        return j == len(original) or original[j] not in _WORD

    first, last = segments[0], segments[-1]
    if len(segments) == 1:
        position = 0
        while (hit := _find(first, text, position, limit, budget)) >= 0:
            if starts_word(hit) and ends_word(hit + first.length):
                return True
            position = hit + 1
        return False
    position = 0
    while True:  # the leftmost start at a boundary
        hit = _find(first, text, position, limit, budget)
        if hit < 0:
            return False
        if starts_word(hit):
            break
        position = hit + 1
    position = hit + first.length
    for segment in segments[1:-1]:
        hit = _find(segment, text, position, limit, budget)
        if hit < 0:
            return False
        position = hit + segment.length
    if not last.pieces and limit == len(original):
        return position + last.length <= limit  # the text's end is a boundary
    while (hit := _find(last, text, position, limit, budget)) >= 0:
        if ends_word(hit + last.length):
            return True
        position = hit + 1
    return False
