"""Reading a room's timeline through a filter and the history-visibility rules:
the filter is applied first (its types and senders in the database query, the
rest to each event read), then the count, so a filter for a rare event type
finds it behind any number of other events.

Design note: the scan reads batches in stream order, growing from the count
asked for, and stops once it has the count, at the end of the range, or after
:data:`MAX_SCANNED` events (visibility and ``contains_url`` are judged per
event, so a range of hidden events could otherwise be read to the end); the
caller continues from ``next_position`` when it wants more.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from homeserver.services.filters import EventFilter
from storage.events import EventStore, StoredEvent

#: Events one scan reads at most before answering with what it found.
MAX_SCANNED = 2000
#: Largest batch read at once.
MAX_BATCH = 500

Visible = Callable[[Sequence[StoredEvent]], Awaitable[list[StoredEvent]]]


@dataclass(frozen=True)
class Scan:
    #: Matching, visible events in scan order, at most the count asked for.
    events: list[StoredEvent]
    #: Where a further scan in the same direction starts (``up_to`` going backwards,
    #: ``after`` going forwards); ``None`` once the range is exhausted.
    next_position: int | None
    #: Whether an event read was left out by the filter or by visibility.
    dropped: bool
    #: How far the scan read (where it would continue even when exhausted).
    reached: int


async def scan_timeline(
    events: EventStore,
    room_id: str,
    *,
    after: int,
    up_to: int,
    newest_first: bool,
    count: int,
    event_filter: EventFilter,
    visible: Visible,
) -> Scan:
    """Up to ``count`` events with ``after < stream_ordering <= up_to`` that pass
    ``event_filter`` and ``visible``, newest or oldest first."""
    if count <= 0:
        return Scan([], up_to if newest_first else after, False, up_to if newest_first else after)
    if not event_filter.includes_room(room_id):
        return Scan([], None, True, after if newest_first else up_to)
    selection = event_filter.selection()
    found: list[StoredEvent] = []
    dropped = False
    scanned = 0
    batch_size = max(1, min(count, MAX_BATCH))
    while True:
        batch = await events.room_events_between(
            room_id, after=after, up_to=up_to, limit=batch_size, newest_first=newest_first, selection=selection
        )
        scanned += len(batch)
        wanted = [
            e for e in batch
            if event_filter.matches(e.event.type, e.event.sender, room_id, dict(e.event.content))
        ]
        shown = await visible(wanted) if wanted else []
        dropped = dropped or len(shown) < len(batch)
        found.extend(shown)
        if len(found) >= count:
            last = found[count - 1]
            position = last.stream_ordering - 1 if newest_first else last.stream_ordering
            return Scan(found[:count], position, dropped, position)
        if batch:
            if newest_first:
                up_to = batch[-1].stream_ordering - 1
            else:
                after = batch[-1].stream_ordering
        position = up_to if newest_first else after
        if len(batch) < batch_size:
            return Scan(found, None, dropped, position)
        if scanned >= MAX_SCANNED:
            return Scan(found, position, dropped, position)
        batch_size = min(batch_size * 2, MAX_BATCH)
