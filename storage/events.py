"""Events, the DAG edges between them, and each room's forward extremities."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from homeserver.core.events import Event
from homeserver.core.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion
from storage.database import Database, Row
from storage.read_cache import MISSING, ReadCache

EVENTS_STREAM = "events"
BACKFILL_STREAM = "backfill"


@dataclass(frozen=True)
class StoredEvent:
    """An event with what this server knows about it."""

    event: Event
    stream_ordering: int
    received_ts: int
    outlier: bool
    soft_failed: bool
    rejected: str | None
    redacted_by: str | None
    replaces_state: str | None

    @property
    def event_id(self) -> str:
        return self.event.event_id


_COLUMNS = (
    "e.event_id, e.json, e.stream_ordering, e.received_ts, e.outlier, e.soft_failed,"
    " e.rejected, e.redacted_by, e.replaces_state, r.room_version"
)


def _stored(row: Row, versions: dict[str, RoomVersion]) -> StoredEvent:
    return StoredEvent(
        event=Event(orjson.loads(row["json"]), versions[row["room_version"]], event_id=row["event_id"]),
        stream_ordering=row["stream_ordering"],
        received_ts=row["received_ts"],
        outlier=bool(row["outlier"]),
        soft_failed=bool(row["soft_failed"]),
        rejected=row["rejected"],
        redacted_by=row["redacted_by"],
        replaces_state=row["replaces_state"],
    )


_EVENT_CACHE_SIZE = 20_000

#: Longest list of types or senders a timeline query puts in its SQL (longer lists
#: are left to the caller's own check of each event).
_MAX_SELECTION_TERMS = 100


@dataclass(frozen=True)
class EventSelection:
    """Event types (``*`` matching any run of characters) and senders a timeline
    query keeps. The query may return more than matches (the caller checks each
    event again), never less."""

    types: tuple[str, ...] | None = None
    not_types: tuple[str, ...] = ()
    senders: tuple[str, ...] | None = None
    not_senders: tuple[str, ...] = ()

    def sql(self, first_placeholder: int) -> tuple[str, list[str]]:
        """`` AND ...`` conditions on ``e.type`` and ``e.sender``, and their parameters
        (numbered from ``first_placeholder``)."""
        args: list[str] = []

        def param(value: str) -> str:
            args.append(value)
            return f"${first_placeholder + len(args) - 1}"

        conditions = []
        if self.types is not None and len(self.types) <= _MAX_SELECTION_TERMS:
            exact = [t for t in self.types if "*" not in t]
            # LIKE is case-insensitive on SQLite: a superset, which is allowed.
            terms = [f"e.type LIKE {param(_like_pattern(t))} ESCAPE '\\'" for t in self.types if "*" in t]
            if exact:
                terms.append(f"e.type IN ({', '.join(param(t) for t in exact)})")
            conditions.append(f"({' OR '.join(terms)})" if terms else "1 = 0")
        not_types = [t for t in self.not_types if "*" not in t]
        if not_types and len(not_types) <= _MAX_SELECTION_TERMS:
            conditions.append(f"e.type NOT IN ({', '.join(param(t) for t in not_types)})")
        if self.senders is not None and len(self.senders) <= _MAX_SELECTION_TERMS:
            conditions.append(
                f"e.sender IN ({', '.join(param(s) for s in self.senders)})" if self.senders else "1 = 0"
            )
        if self.not_senders and len(self.not_senders) <= _MAX_SELECTION_TERMS:
            conditions.append(f"e.sender NOT IN ({', '.join(param(s) for s in self.not_senders)})")
        return "".join(f" AND {c}" for c in conditions), args


def _like_pattern(pattern: str) -> str:
    """A type pattern with ``*`` wildcards as a LIKE pattern (escaping ``\\``, ``%``, ``_``)."""
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%")


class EventStore:
    """Events by ID are cached in memory: they only change when redacted (or
    when an outlier joins the timeline), and those writes drop the entry."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._versions = KNOWN_ROOM_VERSIONS
        self._cache: ReadCache[str, StoredEvent] = ReadCache(db, "events", _EVENT_CACHE_SIZE)

    # -- reads --------------------------------------------------------------------------

    async def get_event(self, event_id: str) -> StoredEvent | None:
        events = await self.get_events([event_id])
        return events.get(event_id)

    async def get_events(self, event_ids: Iterable[str]) -> dict[str, StoredEvent]:
        """The events among ``event_ids`` that are stored, by ID."""
        found: dict[str, StoredEvent] = {}
        missing = []
        for event_id in dict.fromkeys(event_ids):
            cached = self._cache.get(event_id)
            if cached is not MISSING:
                found[event_id] = cached  # type: ignore[assignment]
            else:
                missing.append(event_id)
        for chunk in _chunks(missing, 500):
            ticket = self._cache.ticket()
            placeholders = ", ".join(f"${i + 1}" for i in range(len(chunk)))
            rows = await self.db.fetch(
                f"SELECT {_COLUMNS} FROM events e JOIN rooms r ON r.room_id = e.room_id"
                f" WHERE e.event_id IN ({placeholders})",
                *chunk,
            )
            for row in rows:
                item = _stored(row, self._versions)
                found[row["event_id"]] = item
                self._cache.fill(ticket, item.event_id, item)
        return found

    async def have_events(self, event_ids: Iterable[str]) -> set[str]:
        ids = list(dict.fromkeys(event_ids))
        have: set[str] = set()
        for chunk in _chunks(ids, 500):
            placeholders = ", ".join(f"${i + 1}" for i in range(len(chunk)))
            rows = await self.db.fetch(
                f"SELECT event_id FROM events WHERE event_id IN ({placeholders})", *chunk
            )
            have.update(r["event_id"] for r in rows)
        return have

    async def room_events_between(
        self,
        room_id: str,
        *,
        after: int,
        up_to: int,
        limit: int,
        newest_first: bool = True,
        include_outliers: bool = False,
        selection: EventSelection | None = None,
    ) -> list[StoredEvent]:
        """Timeline events of a room with ``after < stream_ordering <= up_to`` (of
        ``selection``'s types and senders, when given)."""
        order = "DESC" if newest_first else "ASC"
        timeline_only = "" if include_outliers else " AND NOT e.outlier AND NOT e.soft_failed AND e.rejected IS NULL"
        selected, selection_args = selection.sql(5) if selection is not None else ("", [])
        rows = await self.db.fetch(
            f"SELECT {_COLUMNS} FROM events e JOIN rooms r ON r.room_id = e.room_id"
            " WHERE e.room_id = $1 AND e.stream_ordering > $2 AND e.stream_ordering <= $3"
            f"{timeline_only}{selected} ORDER BY e.stream_ordering {order} LIMIT $4",
            room_id,
            after,
            up_to,
            limit,
            *selection_args,
        )
        return [_stored(r, self._versions) for r in rows]

    async def events_in_rooms_between(
        self, room_ids: Sequence[str], *, after: int, up_to: int, limit: int
    ) -> list[StoredEvent]:
        """The first ``limit`` timeline events of any of ``room_ids`` with
        ``after < stream_ordering <= up_to``, oldest first."""
        found: list[StoredEvent] = []
        ids = sorted(set(room_ids))
        for chunk in _chunks(ids, 500):
            placeholders = ", ".join(f"${i + 4}" for i in range(len(chunk)))
            rows = await self.db.fetch(
                f"SELECT {_COLUMNS} FROM events e JOIN rooms r ON r.room_id = e.room_id"
                " WHERE e.stream_ordering > $1 AND e.stream_ordering <= $2"
                f" AND e.room_id IN ({placeholders})"
                " AND NOT e.outlier AND NOT e.soft_failed AND e.rejected IS NULL"
                " ORDER BY e.stream_ordering LIMIT $3",
                after,
                up_to,
                limit,
                *chunk,
            )
            found += [_stored(r, self._versions) for r in rows]
        found.sort(key=lambda e: e.stream_ordering)
        return found[:limit]

    async def rooms_with_events_between(self, after: int, up_to: int) -> set[str]:
        """Rooms that got timeline events with ``after < stream_ordering <= up_to``."""
        rows = await self.db.fetch(
            "SELECT DISTINCT room_id FROM events WHERE stream_ordering > $1 AND stream_ordering <= $2"
            " AND NOT outlier",
            after,
            up_to,
        )
        return {r["room_id"] for r in rows}

    async def oldest_timeline_event(self, room_id: str) -> StoredEvent | None:
        """The room's event with the lowest stream position that is in the timeline."""
        row = await self.db.fetchrow(
            f"SELECT {_COLUMNS} FROM events e JOIN rooms r ON r.room_id = e.room_id"
            " WHERE e.room_id = $1 AND NOT e.outlier ORDER BY e.stream_ordering LIMIT 1",
            room_id,
        )
        return _stored(row, self._versions) if row else None

    async def closest_by_timestamp(self, room_id: str, ts: int, forwards: bool) -> StoredEvent | None:
        """The timeline event nearest to ``ts``: the first at or after it, or the last at or before it."""
        comparison, order = (">=", "ASC") if forwards else ("<=", "DESC")
        row = await self.db.fetchrow(
            f"SELECT {_COLUMNS} FROM events e JOIN rooms r ON r.room_id = e.room_id"
            f" WHERE e.room_id = $1 AND e.origin_server_ts {comparison} $2"
            " AND NOT e.outlier AND NOT e.soft_failed AND e.rejected IS NULL"
            f" ORDER BY e.origin_server_ts {order}, e.stream_ordering {order} LIMIT 1",
            room_id,
            ts,
        )
        return _stored(row, self._versions) if row else None

    async def get_extremities(self, room_id: str) -> list[str]:
        rows = await self.db.fetch(
            "SELECT event_id FROM room_extremities WHERE room_id = $1 ORDER BY event_id", room_id
        )
        return [r["event_id"] for r in rows]

    async def max_depth(self, event_ids: Sequence[str]) -> int:
        if not event_ids:
            return 0
        placeholders = ", ".join(f"${i + 1}" for i in range(len(event_ids)))
        value = await self.db.fetchval(
            f"SELECT MAX(depth) AS d FROM events WHERE event_id IN ({placeholders})", *event_ids
        )
        return int(value or 0)

    # -- writes (inside the caller's transaction) ------------------------------------------

    async def insert_event(
        self,
        event: Event,
        *,
        stream_ordering: int,
        received_ts: int,
        outlier: bool = False,
        soft_failed: bool = False,
        rejected: str | None = None,
        replaces_state: str | None = None,
    ) -> None:
        await self.db.execute(
            "INSERT INTO events (event_id, room_id, stream_ordering, depth, type, state_key,"
            " sender, origin_server_ts, received_ts, json, outlier, soft_failed, rejected,"
            " replaces_state)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
            event.event_id,
            event.room_id,
            stream_ordering,
            event.depth,
            event.type,
            event.state_key,
            event.sender,
            event.origin_server_ts,
            received_ts,
            orjson.dumps(event.pdu()).decode(),
            outlier,
            soft_failed,
            rejected,
            replaces_state,
        )
        if event.prev_event_ids:
            await self.db.executemany(
                "INSERT INTO event_edges (event_id, prev_event_id) VALUES ($1, $2)"
                " ON CONFLICT DO NOTHING",
                [(event.event_id, p) for p in event.prev_event_ids],
            )
        if event.auth_event_ids:
            await self.db.executemany(
                "INSERT INTO event_auth (event_id, auth_event_id) VALUES ($1, $2)"
                " ON CONFLICT DO NOTHING",
                [(event.event_id, a) for a in event.auth_event_ids],
            )

    async def replace_extremities(self, room_id: str, removed: Iterable[str], added: Iterable[str]) -> None:
        """New local events replace their prev events as forward extremities (write-only, batchable)."""
        gone = [(room_id, event_id) for event_id in removed]
        if gone:
            await self.db.executemany("DELETE FROM room_extremities WHERE room_id = $1 AND event_id = $2", gone)
        await self.db.executemany(
            "INSERT INTO room_extremities (room_id, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            [(room_id, event_id) for event_id in added],
        )

    async def promote_outlier(self, event_id: str, stream_ordering: int, *, replaces_state: str | None = None) -> None:
        """An event known only as state or auth joins the timeline (history filled in later)."""
        await self.db.execute(
            "UPDATE events SET outlier = FALSE, stream_ordering = $2, replaces_state = $3 WHERE event_id = $1 AND outlier",
            event_id, stream_ordering, replaces_state,
        )
        self._cache.invalidate([event_id])

    async def set_redacted(self, event_id: str, pruned_pdu: dict[str, Any], redacted_by: str) -> None:
        self._cache.invalidate([event_id])
        await self.db.execute(
            "UPDATE events SET json = $2, redacted_by = $3 WHERE event_id = $1",
            event_id,
            orjson.dumps(pruned_pdu).decode(),
            redacted_by,
        )


    # -- redactions that arrived before their event ---------------------------------------

    async def add_pending_redaction(self, redaction_id: str, redacts: str, room_id: str) -> None:
        await self.db.execute(
            "INSERT INTO pending_redactions (event_id, redacts, room_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            redaction_id, redacts, room_id,
        )

    async def take_pending_redactions(self, event_ids: list[str]) -> dict[str, list[str]]:
        """The redactions waiting for each of ``event_ids`` (forgotten as they are returned)."""
        waiting: dict[str, list[str]] = {}
        for chunk in _chunks(list(dict.fromkeys(event_ids)), 500):
            placeholders = ", ".join(f"${i + 1}" for i in range(len(chunk)))
            rows = await self.db.fetch(
                f"SELECT event_id, redacts FROM pending_redactions WHERE redacts IN ({placeholders})"
                " ORDER BY event_id", *chunk,
            )
            if rows:
                await self.db.execute(f"DELETE FROM pending_redactions WHERE redacts IN ({placeholders})", *chunk)
            for row in rows:
                waiting.setdefault(row["redacts"], []).append(row["event_id"])
        return waiting


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
