"""Push rules, notification actions and pushers."""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, NamedTuple

import orjson

from storage.database import Database

#: Rooms whose unread counts are remembered (users x rooms synced recently).
_UNREAD_CACHE_SIZE = 50_000
#: Actions from which PostgreSQL gets them grouped by what their rows share.
_GROUPED_ROWS = 16


class PushAction(NamedTuple):
    """One user notified by one event (a tuple: an event makes one for every member)."""

    user_id: str
    event_id: str
    room_id: str
    stream_ordering: int
    thread_id: str
    highlight: bool
    actions: Sequence[Any]


class PushStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        #: (user, room) -> (read positions, up_to, counts) of the last unread count
        self._unread: OrderedDict[tuple[str, str], tuple[Any, int, dict[str, tuple[int, int]]]] = OrderedDict()

    # -- rules --------------------------------------------------------------------------

    async def get_custom_rules(self, user_id: str) -> dict[str, Any]:
        raw = await self.db.fetchval("SELECT rules FROM push_rules WHERE user_id = $1", user_id)
        return json.loads(raw) if raw else {}

    async def set_custom_rules(self, user_id: str, rules: dict[str, Any]) -> None:
        await self.db.execute(
            "INSERT INTO push_rules (user_id, rules) VALUES ($1, $2)"
            " ON CONFLICT (user_id) DO UPDATE SET rules = EXCLUDED.rules",
            user_id,
            json.dumps(rules),
        )

    # -- notifications ------------------------------------------------------------------

    async def add_actions(self, actions: Sequence[PushAction]) -> None:
        # Most users of a room share one decision (one actions object): encode each once.
        encoded: dict[int, str] = {}
        for a in actions:
            if id(a.actions) not in encoded:
                encoded[id(a.actions)] = orjson.dumps(a.actions).decode()
        if self.db.dialect == "postgres" and len(actions) >= _GROUPED_ROWS:
            await self._add_grouped(actions, encoded)
            return
        await self.db.executemany(
            "INSERT INTO event_push_actions"
            " (event_id, user_id, room_id, stream_ordering, thread_id, highlight, actions)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            [
                (a.event_id, a.user_id, a.room_id, a.stream_ordering, a.thread_id, a.highlight, encoded[id(a.actions)])
                for a in actions
            ],
        )

    async def _add_grouped(self, actions: Sequence[PushAction], encoded: dict[int, str]) -> None:
        """Many actions as one PostgreSQL statement: what an event's notified users share
        (event, room, position, thread, decision) is sent once per group, with the users
        as one array pointing at their group, instead of every column for every user."""
        groups: dict[tuple[Any, ...], int] = {}
        users: list[str] = []
        members_of: list[int] = []
        for a in actions:
            key = (a.event_id, a.room_id, a.stream_ordering, a.thread_id, a.highlight, encoded[id(a.actions)])
            users.append(a.user_id)
            members_of.append(groups.setdefault(key, len(groups) + 1))
        columns = list(zip(*groups)) if groups else [[]] * 6
        await self.db.execute(
            "INSERT INTO event_push_actions"
            " (event_id, user_id, room_id, stream_ordering, thread_id, highlight, actions)"
            " SELECT g.event_id, u.user_id, g.room_id, g.stream_ordering, g.thread_id, g.highlight, g.actions"
            " FROM unnest($1::text[], $2::int4[]) AS u(user_id, grp)"
            " JOIN unnest($3::text[], $4::text[], $5::int8[], $6::text[], $7::bool[], $8::text[]) WITH ORDINALITY"
            " AS g(event_id, room_id, stream_ordering, thread_id, highlight, actions, grp) USING (grp)"
            " ON CONFLICT DO NOTHING",
            users, members_of, *(list(c) for c in columns),
        )

    async def unread_counts(
        self, user_id: str, room_id: str, after: int, thread_after: dict[str, int], up_to: int
    ) -> dict[str, tuple[int, int]]:
        """``thread_id -> (notifications, highlights)`` after the read position, up to
        ``up_to`` (a position every notification at or below has committed).

        ``after`` is the unthreaded read-up-to position; ``thread_after`` the
        threaded receipts' positions, which can only move a thread further on.
        The counts are remembered: while the read positions stay, the next call
        only counts the notifications after the last ``up_to``.
        """
        key = (user_id, room_id)
        read = (after, tuple(sorted(thread_after.items())))
        known = self._unread.get(key)
        if known is not None and known[0] == read and known[1] <= up_to:
            counts = dict(known[2])
            if known[1] < up_to:
                for thread_id, (n, h) in (await self._count(user_id, room_id, max(after, known[1]), thread_after, up_to)).items():
                    old_n, old_h = counts.get(thread_id, (0, 0))
                    counts[thread_id] = (old_n + n, old_h + h)
        else:
            counts = await self._count(user_id, room_id, after, thread_after, up_to)
        if not self.db.in_transaction:
            self._unread[key] = (read, up_to, counts)
            self._unread.move_to_end(key)
            if len(self._unread) > _UNREAD_CACHE_SIZE:
                self._unread.popitem(last=False)
        return dict(counts)  # the caller's own copy

    async def _count(
        self, user_id: str, room_id: str, after: int, thread_after: dict[str, int], up_to: int
    ) -> dict[str, tuple[int, int]]:
        rows = await self.db.fetch(
            "SELECT thread_id, COUNT(*) AS n, SUM(CASE WHEN highlight THEN 1 ELSE 0 END) AS h"
            " FROM event_push_actions WHERE user_id = $1 AND room_id = $2 AND stream_ordering > $3"
            " AND stream_ordering <= $4 GROUP BY thread_id",
            user_id, room_id, after, up_to,
        )
        counts = {r["thread_id"]: (int(r["n"]), int(r["h"] or 0)) for r in rows}
        for thread_id, position in thread_after.items():
            if position <= after or thread_id not in counts:
                continue
            read = await self.db.fetchrow(
                "SELECT COUNT(*) AS n, SUM(CASE WHEN highlight THEN 1 ELSE 0 END) AS h FROM event_push_actions"
                " WHERE user_id = $1 AND room_id = $2 AND thread_id = $3 AND stream_ordering > $4"
                " AND stream_ordering <= $5",
                user_id, room_id, thread_id, after, min(position, up_to),
            )
            n, h = counts[thread_id]
            counts[thread_id] = (n - int(read["n"]), h - int(read["h"] or 0)) if read else (n, h)
        return {t: c for t, c in counts.items() if c[0] > 0}

    async def notifications(self, user_id: str, before: int | None, limit: int, only_highlight: bool) -> list[PushAction]:
        conditions = ["user_id = $1"]
        args: list[Any] = [user_id]
        if before is not None:
            args.append(before)
            conditions.append(f"stream_ordering < ${len(args)}")
        if only_highlight:
            conditions.append("highlight")
        args.append(limit)
        rows = await self.db.fetch(
            "SELECT user_id, event_id, room_id, stream_ordering, thread_id, highlight, actions"
            f" FROM event_push_actions WHERE {' AND '.join(conditions)}"
            f" ORDER BY stream_ordering DESC LIMIT ${len(args)}",
            *args,
        )
        return [
            PushAction(
                user_id=r["user_id"], event_id=r["event_id"], room_id=r["room_id"],
                stream_ordering=r["stream_ordering"], thread_id=r["thread_id"],
                highlight=bool(r["highlight"]), actions=json.loads(r["actions"]),
            )
            for r in rows
        ]

    # -- pushers ---------------------------------------------------------------------------

    async def set_pusher(
        self, user_id: str, app_id: str, pushkey: str, kind: str, data: dict[str, Any], device_id: str, now_ms: int,
        *, append: bool,
    ) -> None:
        async with self.db.transaction("set_pusher"):
            if not append:
                # Without append, a pushkey belongs to one user only.
                await self.db.execute(
                    "DELETE FROM pushers WHERE app_id = $1 AND pushkey = $2 AND user_id != $3",
                    app_id, pushkey, user_id,
                )
            await self.db.execute(
                "INSERT INTO pushers (user_id, app_id, pushkey, kind, data, device_id, created_ts)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (app_id, pushkey, user_id)"
                " DO UPDATE SET kind = EXCLUDED.kind, data = EXCLUDED.data, device_id = EXCLUDED.device_id",
                user_id, app_id, pushkey, kind, json.dumps(data), device_id, now_ms,
            )

    async def delete_pusher(self, user_id: str, app_id: str, pushkey: str) -> None:
        await self.db.execute(
            "DELETE FROM pushers WHERE user_id = $1 AND app_id = $2 AND pushkey = $3", user_id, app_id, pushkey
        )

    async def pushers(self, user_id: str) -> list[dict[str, Any]]:
        rows = await self.db.fetch(
            "SELECT app_id, pushkey, kind, data, device_id FROM pushers WHERE user_id = $1 ORDER BY created_ts", user_id
        )
        return [{**json.loads(r["data"]), "app_id": r["app_id"], "pushkey": r["pushkey"], "kind": r["kind"]} for r in rows]
