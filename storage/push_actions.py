"""Notification actions: who each event notifies, unread counts and the notifications list.

Design note: most members of a room take an event the same way (the spec's
predefined rules, evaluated alike for everyone the event does not single
out), so that shared decision is stored once, in a row for :data:`EVERYONE`
with the event's sender: it stands for every local member joined to the room
when the event was sent, but the sender. A member whose own rules or a
mention decide otherwise gets a row of their own, which replaces the shared
one for them: ``notify`` false in it means "not notified" (the shared row
would have said yes). So a message costs a row or two, however big the room.

Reading: a user's notifications are their own ``notify`` rows, plus the
shared rows sent while they were joined (their membership log gives the
spans) by someone else, for events without a row of their own.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, NamedTuple

import orjson

from storage.database import Database

#: The ``user_id`` of a shared row.
EVERYONE = ""
#: Rooms whose unread counts are remembered (users x rooms synced recently).
_UNREAD_CACHE_SIZE = 50_000
#: Rows from which PostgreSQL gets them grouped by what they share.
_GROUPED_ROWS = 16

Counts = dict[str, tuple[int, int]]
#: Spans of stream positions ``(after, up_to]`` (``up_to`` None: still joined).
Spans = list[tuple[int, int | None]]


class PushAction(NamedTuple):
    """How one event notifies one user (or, for :data:`EVERYONE`, the room's members)."""

    user_id: str
    event_id: str
    room_id: str
    stream_ordering: int
    thread_id: str
    highlight: bool
    actions: Sequence[Any]
    notify: bool = True
    #: The event's sender (on shared rows: the one member they do not stand for).
    sender: str | None = None


_COLUMNS = "event_id, user_id, room_id, stream_ordering, thread_id, highlight, actions, notify, sender"


class NotificationStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        #: (user, room) -> (read positions and membership, up_to, counts, joined spans)
        self._unread: OrderedDict[tuple[str, str], tuple[Any, int, Counts, Spans]] = OrderedDict()

    # -- writing -------------------------------------------------------------------------

    async def add(self, actions: Sequence[PushAction]) -> None:
        """Store notification actions (inside their events' transaction)."""
        # Actions of one decision share one actions object: encode each once.
        encoded: dict[int, str] = {}
        for a in actions:
            if id(a.actions) not in encoded:
                encoded[id(a.actions)] = orjson.dumps(a.actions).decode()
        rows = [
            (a.event_id, a.user_id, a.room_id, a.stream_ordering, a.thread_id, a.highlight, encoded[id(a.actions)],
             a.notify, a.sender)
            for a in actions
        ]
        if self.db.dialect == "postgres" and len(rows) >= _GROUPED_ROWS:
            await self._add_grouped(rows)
            return
        await self.db.executemany(
            f"INSERT INTO event_push_actions ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
            " ON CONFLICT DO NOTHING",
            rows,
        )

    async def _add_grouped(self, rows: list[tuple[Any, ...]]) -> None:
        """Many rows as one PostgreSQL statement: what an event's rows share is sent once
        per group, with the users as one array pointing at their group."""
        groups: dict[tuple[Any, ...], int] = {}
        users: list[str] = []
        member_of: list[int] = []
        for event_id, user_id, *shared in rows:
            users.append(user_id)
            member_of.append(groups.setdefault((event_id, *shared), len(groups) + 1))
        columns = [list(c) for c in zip(*groups)]
        await self.db.execute(
            f"INSERT INTO event_push_actions ({_COLUMNS})"
            " SELECT g.event_id, u.user_id, g.room_id, g.stream_ordering, g.thread_id, g.highlight, g.actions,"
            " g.notify, g.sender FROM unnest($1::text[], $2::int4[]) AS u(user_id, grp)"
            " JOIN unnest($3::text[], $4::text[], $5::int8[], $6::text[], $7::bool[], $8::text[], $9::bool[],"
            " $10::text[]) WITH ORDINALITY"
            " AS g(event_id, room_id, stream_ordering, thread_id, highlight, actions, notify, sender, grp) USING (grp)"
            " ON CONFLICT DO NOTHING",
            users, member_of, *columns,
        )

    # -- unread counts -------------------------------------------------------------------

    async def unread_counts(
        self, user_id: str, room_id: str, after: int, thread_after: dict[str, int], up_to: int, membership: int
    ) -> Counts:
        """``thread_id -> (notifications, highlights)`` after the read position, up to
        ``up_to`` (a position every notification at or below has committed).

        ``after`` is the unthreaded read-up-to position; ``thread_after`` the
        threaded receipts' positions, which can only move a thread further on;
        ``membership`` the position of the user's latest membership change in the
        room. The counts are remembered: while those stay, the next call only counts
        the notifications after the last ``up_to``.
        """
        key = (user_id, room_id)
        read = (after, tuple(sorted(thread_after.items())), membership)
        known = self._unread.get(key)
        if known is not None and known[0] == read and known[1] <= up_to:
            counts, spans = dict(known[2]), known[3]
            if known[1] < up_to:
                new = await self._unread_between(user_id, room_id, max(after, known[1]), thread_after, up_to, spans)
                for thread_id, (n, h) in new.items():
                    old_n, old_h = counts.get(thread_id, (0, 0))
                    counts[thread_id] = (old_n + n, old_h + h)
        else:
            spans = (await self._joined_spans(user_id, [room_id])).get(room_id, [])
            counts = await self._unread_between(user_id, room_id, after, thread_after, up_to, spans)
        if not self.db.in_transaction:
            self._unread[key] = (read, up_to, counts, spans)
            self._unread.move_to_end(key)
            if len(self._unread) > _UNREAD_CACHE_SIZE:
                self._unread.popitem(last=False)
        return dict(counts)  # the caller's own copy

    async def _unread_between(
        self, user_id: str, room_id: str, after: int, thread_after: dict[str, int], up_to: int, spans: Spans
    ) -> Counts:
        counts = await self._count(user_id, room_id, after, up_to, spans)
        for thread_id, position in thread_after.items():
            if position <= after or thread_id not in counts:
                continue
            read = await self._count(user_id, room_id, after, min(position, up_to), spans, thread_id)
            n, h = counts[thread_id]
            read_n, read_h = read.get(thread_id, (0, 0))
            counts[thread_id] = (n - read_n, h - read_h)
        return {t: c for t, c in counts.items() if c[0] > 0}

    async def _count(
        self, user_id: str, room_id: str, after: int, up_to: int, spans: Spans, thread_id: str | None = None
    ) -> Counts:
        """Notifications of the user in ``(after, up_to]`` by thread (one thread if given),
        in one query: their own rows, and the shared ones of the spans they were joined."""
        args: list[Any] = [user_id, room_id, after, up_to]
        in_thread = ""
        if thread_id is not None:
            args.append(thread_id)
            in_thread = f" AND thread_id = ${len(args)}"
        parts = [
            "SELECT thread_id, highlight FROM event_push_actions WHERE user_id = $1 AND room_id = $2"
            f" AND stream_ordering > $3 AND stream_ordering <= $4 AND notify{in_thread}"
        ]
        for low, high in _clip(spans, after, up_to):
            args += [low, high]
            parts.append(
                f"SELECT thread_id, highlight FROM event_push_actions s WHERE {_SHARED_FOR_USER} AND room_id = $2"
                f" AND stream_ordering > ${len(args) - 1} AND stream_ordering <= ${len(args)}{in_thread}"
            )
        rows = await self.db.fetch(
            "SELECT thread_id, COUNT(*) AS n, SUM(CASE WHEN highlight THEN 1 ELSE 0 END) AS h"
            f" FROM ({' UNION ALL '.join(parts)}) AS notified GROUP BY thread_id",
            *args,
        )
        return {r["thread_id"]: (int(r["n"]), int(r["h"] or 0)) for r in rows}

    async def _joined_spans(self, user_id: str, room_ids: list[str] | None = None) -> dict[str, Spans]:
        """The spans of stream positions the user was joined to each room (every room the
        user was ever in, unless ``room_ids`` narrows them), from their membership log."""
        where = ""
        if room_ids is not None:
            where = " AND room_id IN (" + ", ".join(f"${i + 2}" for i in range(len(room_ids))) + ")"
        rows = await self.db.fetch(
            f"SELECT room_id, membership, stream_ordering FROM room_memberships WHERE user_id = $1{where}"
            " ORDER BY stream_ordering",
            user_id, *(room_ids or []),
        )
        spans: dict[str, Spans] = {}
        joined_since: dict[str, int] = {}
        for row in rows:
            room_id, position = row["room_id"], int(row["stream_ordering"])
            if row["membership"] == "join":
                joined_since.setdefault(room_id, position)
            elif room_id in joined_since:
                # The event ending a membership was sent while the user was still a member.
                spans.setdefault(room_id, []).append((joined_since.pop(room_id), position))
        for room_id, position in joined_since.items():
            spans.setdefault(room_id, []).append((position, None))
        return spans

    # -- the notifications list ---------------------------------------------------------------

    async def notifications(self, user_id: str, before: int | None, limit: int, only_highlight: bool) -> list[PushAction]:
        """The user's latest notifications (before ``before``), newest first."""
        args: list[Any] = [user_id, limit]
        rows = list(await self.db.fetch(
            f"SELECT {_COLUMNS} FROM event_push_actions WHERE user_id = $1 AND notify"
            f"{_page(args, before, only_highlight)} ORDER BY stream_ordering DESC LIMIT $2",
            *args,
        ))
        for room_id, spans in (await self._joined_spans(user_id)).items():
            for low, high in spans:
                args = [user_id, limit, room_id, low]
                upper = ""
                if high is not None:
                    args.append(high)
                    upper = f" AND stream_ordering <= ${len(args)}"
                rows += await self.db.fetch(
                    f"SELECT {_COLUMNS} FROM event_push_actions s WHERE {_SHARED_FOR_USER} AND room_id = $3"
                    f" AND stream_ordering > $4{upper}{_page(args, before, only_highlight)}"
                    " ORDER BY stream_ordering DESC LIMIT $2",
                    *args,
                )
        found = sorted((_action(r, user_id) for r in rows), key=lambda a: -a.stream_ordering)
        return found[:limit]


#: Shared rows (alias ``s``) that stand for the user ``$1``: sent by someone else, about
#: an event that gave the user no row of their own.
_SHARED_FOR_USER = (
    f"s.user_id = '{EVERYONE}' AND s.sender <> $1"
    " AND NOT EXISTS (SELECT 1 FROM event_push_actions o WHERE o.event_id = s.event_id AND o.user_id = $1)"
)


def _page(args: list[Any], before: int | None, only_highlight: bool) -> str:
    """The conditions of a notifications page (appending their parameters to ``args``)."""
    sql = ""
    if before is not None:
        args.append(before)
        sql += f" AND stream_ordering < ${len(args)}"
    if only_highlight:
        sql += " AND highlight"
    return sql


def _action(row: Any, user_id: str) -> PushAction:
    """A stored row as the action for ``user_id`` (a shared row, as it stands for them)."""
    return PushAction(
        user_id=user_id, event_id=row["event_id"], room_id=row["room_id"],
        stream_ordering=int(row["stream_ordering"]), thread_id=row["thread_id"], highlight=bool(row["highlight"]),
        actions=orjson.loads(row["actions"]), notify=bool(row["notify"]), sender=row["sender"],
    )


def _clip(spans: Spans, after: int, up_to: int) -> list[tuple[int, int]]:
    """The parts of ``spans`` inside ``(after, up_to]``."""
    clipped = []
    for low, high in spans:
        start, end = max(low, after), up_to if high is None else min(high, up_to)
        if start < end:
            clipped.append((start, end))
    return clipped
