"""Wakes long-polling ``/sync`` requests when something they care about changes.

Design note: every change is announced *after* its transaction commits, as
``notify(stream, position, users)``: the stream that moved, its new position,
and the local users who should hear about it. Each waiting request registers
an :class:`asyncio.Event` under its user; a notification sets the events of the
named users only, so a message in a small room does not wake every syncing
client on the server. A woken request re-reads the stores from its ``since``
token, so a notification carries no data and a duplicated one is harmless.

The notifier also remembers, per user, the newest position of each stream a
notification named them at (for the most recently notified users; forgotten
users fall back to a floor), so a long-poll whose ``since`` token is past all
of them can start waiting without reading the stores first: nothing can be
new for that user. This is the seam where several worker processes will later relay
notifications to each other (PostgreSQL LISTEN/NOTIFY or Redis pub/sub).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager

from homeserver import metrics

#: Users whose latest notified positions are remembered.
USER_MARKS_SIZE = 20_000


class Notifier:
    def __init__(self) -> None:
        self._positions: dict[str, int] = defaultdict(int)
        self._waiters: dict[str, set[asyncio.Event]] = defaultdict(set)
        # Requests waiting on rooms rather than on their user (peeking).
        self._room_waiters: dict[str, set[asyncio.Event]] = defaultdict(set)
        # Where each room's and user's membership last changed (events stream),
        # for changes announced since ``_tracked_from``: sync uses them to skip
        # database reads when nothing changed.
        self._tracked_from: int | None = None
        self._room_changes: dict[str, int] = {}
        self._membership_changes: dict[str, int] = {}
        self._room_membership_changes: dict[str, int] = {}
        # Per user: the newest position of each stream a notification named them at.
        # ``_marks_floor`` covers users forgotten since, and everything before startup.
        self._user_marks: OrderedDict[str, dict[str, int]] = OrderedDict()
        self._marks_floor: dict[str, int] = {}

    def start_tracking(self, events_stream: str) -> None:
        """Start remembering room changes and whom notifications name, from the
        positions reached now (startup: what happened before is unknown)."""
        self._tracked_from = self._positions[events_stream]
        self._marks_floor = dict(self._positions)

    def room_changed(self, room_id: str, position: int, membership_of: str | None) -> None:
        """An event at ``position`` in ``room_id`` (changing ``membership_of``'s membership)."""
        self._room_changes[room_id] = max(position, self._room_changes.get(room_id, 0))
        for event in self._room_waiters.get(room_id, ()):
            event.set()
        if membership_of is not None:
            self._membership_changes[membership_of] = max(position, self._membership_changes.get(membership_of, 0))
            self._room_membership_changes[room_id] = max(position, self._room_membership_changes.get(room_id, 0))

    def rooms_changed_since(self, room_ids: Iterable[str], since: int) -> set[str] | None:
        """Which of ``room_ids`` had events after ``since``; ``None`` if unknown."""
        if self._tracked_from is None or since < self._tracked_from:
            return None
        return {r for r in room_ids if self._room_changes.get(r, 0) > since}

    def rooms_with_membership_changes_since(self, room_ids: Iterable[str], since: int) -> set[str] | None:
        """Which of ``room_ids`` had membership changes after ``since``; ``None`` if unknown."""
        if self._tracked_from is None or since < self._tracked_from:
            return None
        return {r for r in room_ids if self._room_membership_changes.get(r, 0) > since}

    def membership_changed_since(self, user_id: str, since: int) -> bool | None:
        """Whether the user's membership changed anywhere after ``since``; ``None`` if unknown."""
        if self._tracked_from is None or since < self._tracked_from:
            return None
        return self._membership_changes.get(user_id, 0) > since

    def position(self, stream: str) -> int:
        """The newest position announced on ``stream``."""
        return self._positions[stream]

    def advance(self, stream: str, position: int) -> None:
        """Record a stream position without waking anyone (startup, outliers)."""
        if position > self._positions[stream]:
            self._positions[stream] = position

    def notify(self, stream: str, position: int, users: Iterable[str]) -> None:
        """Announce that ``stream`` reached ``position`` with news for ``users``."""
        self.advance(stream, position)
        for user_id in users:
            self._mark(user_id, stream, position)
            for event in self._waiters.get(user_id, ()):
                if not event.is_set():
                    metrics.SYNC_WAKEUPS.inc()
                event.set()

    def _mark(self, user_id: str, stream: str, position: int) -> None:
        marks = self._user_marks.get(user_id)
        if marks is None:
            marks = self._user_marks[user_id] = {}
            if len(self._user_marks) > USER_MARKS_SIZE:
                _, forgotten = self._user_marks.popitem(last=False)
                for name, mark in forgotten.items():
                    self._marks_floor[name] = max(mark, self._marks_floor.get(name, 0))
        else:
            self._user_marks.move_to_end(user_id)
        if position > marks.get(stream, 0):
            marks[stream] = position

    def nothing_new_since(self, user_id: str, since: Mapping[str, int]) -> bool:
        """Whether no notification has named ``user_id`` after the positions in ``since``
        (stream -> position); ``False`` when that cannot be known."""
        if self._tracked_from is None:
            return False
        marks = self._user_marks.get(user_id, {})
        for stream, position in since.items():
            if position > self._positions[stream]:
                return False  # a token from another run of the server, or another server
            if max(marks.get(stream, 0), self._marks_floor.get(stream, 0)) > position:
                return False
        return True

    @contextmanager
    def listen(self, user_id: str, rooms: Iterable[str] = ()) -> Iterator[asyncio.Event]:
        """An event set by the next notification for ``user_id`` (or the next event in
        one of ``rooms``, which a user peeking into them is not told of).

        Start listening *before* reading the stores, then wait on the event if
        nothing new was found: a notification in between is not lost.
        """
        event = asyncio.Event()
        registrations = [(self._waiters, user_id)] + [(self._room_waiters, room_id) for room_id in rooms]
        for table, key in registrations:
            table[key].add(event)
        try:
            yield event
        finally:
            for table, key in registrations:
                waiters = table.get(key)
                if waiters is not None:
                    waiters.discard(event)
                    if not waiters:
                        table.pop(key, None)


async def wait_for(event: asyncio.Event, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for ``event``; ``True`` if it was set."""
    if event.is_set():
        return True
    if timeout <= 0:
        return False
    try:
        await asyncio.wait_for(event.wait(), timeout)
    except asyncio.TimeoutError:
        return False
    return True
