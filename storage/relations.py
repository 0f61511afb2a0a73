"""Event relationships and threads."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from homeserver.core.events import Event
from storage.database import Database

RELATION_COLUMNS = "event_id, relates_to_id, rel_type, aggregation_key, room_id, sender, type, stream_ordering"


@dataclass(frozen=True)
class Relation:
    event_id: str
    relates_to_id: str
    rel_type: str
    aggregation_key: str | None
    room_id: str
    sender: str
    type: str
    stream_ordering: int


def relation_of(event: Event) -> tuple[str, str, str | None] | None:
    """``(parent_id, rel_type, key)`` from ``content.m.relates_to``, if it is a relationship."""
    relates = event.content.get("m.relates_to")
    if not isinstance(relates, dict):
        return None
    parent, rel_type = relates.get("event_id"), relates.get("rel_type")
    if not isinstance(parent, str) or not isinstance(rel_type, str):
        return None
    key = relates.get("key")
    return parent, rel_type, key if isinstance(key, str) else None


class RelationStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(self, event: Event, stream_ordering: int) -> None:
        """Record the event's relationship, if any (inside the event's transaction)."""
        relation = relation_of(event)
        if relation is None:
            return
        parent, rel_type, key = relation
        await self.db.execute(
            f"INSERT INTO event_relations ({RELATION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            " ON CONFLICT (event_id) DO NOTHING",
            event.event_id, parent, rel_type, key, event.room_id, event.sender, event.type, stream_ordering,
        )
        if rel_type == "m.thread":
            await self.db.execute(
                "INSERT INTO threads (room_id, thread_id, latest_event_id, latest_stream) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (room_id, thread_id) DO UPDATE SET latest_event_id = EXCLUDED.latest_event_id,"
                " latest_stream = EXCLUDED.latest_stream WHERE threads.latest_stream < EXCLUDED.latest_stream",
                event.room_id, parent, event.event_id, stream_ordering,
            )

    async def remove(self, event_id: str) -> None:
        """A redacted child no longer relates to anything."""
        await self.db.execute("DELETE FROM event_relations WHERE event_id = $1", event_id)

    async def children(
        self,
        parent_ids: Iterable[str],
        *,
        rel_types: Iterable[str] | None = None,
    ) -> list[Relation]:
        ids = list(dict.fromkeys(parent_ids))
        if not ids:
            return []
        args: list[Any] = list(ids)
        where = f"relates_to_id IN ({', '.join(f'${i + 1}' for i in range(len(ids)))})"
        if rel_types is not None:
            types = list(rel_types)
            where += f" AND rel_type IN ({', '.join(f'${len(args) + i + 1}' for i in range(len(types)))})"
            args.extend(types)
        rows = await self.db.fetch(
            f"SELECT {RELATION_COLUMNS} FROM event_relations WHERE {where} ORDER BY stream_ordering", *args
        )
        return [Relation(**dict(r)) for r in rows]

    async def page(
        self,
        parent_id: str,
        *,
        rel_type: str | None,
        event_type: str | None,
        before: int | None,
        after: int | None,
        limit: int,
        newest_first: bool,
    ) -> list[Relation]:
        args: list[Any] = [parent_id]
        conditions = ["relates_to_id = $1"]
        for column, value in (("rel_type", rel_type), ("type", event_type)):
            if value is not None:
                args.append(value)
                conditions.append(f"{column} = ${len(args)}")
        if before is not None:
            args.append(before)
            conditions.append(f"stream_ordering < ${len(args)}")
        if after is not None:
            args.append(after)
            conditions.append(f"stream_ordering > ${len(args)}")
        args.append(limit)
        order = "DESC" if newest_first else "ASC"
        rows = await self.db.fetch(
            f"SELECT {RELATION_COLUMNS} FROM event_relations WHERE {' AND '.join(conditions)}"
            f" ORDER BY stream_ordering {order} LIMIT ${len(args)}",
            *args,
        )
        return [Relation(**dict(r)) for r in rows]

    async def threads(self, room_id: str, *, before: int | None, limit: int) -> list[tuple[str, int]]:
        """``(thread_id, latest_stream)`` of the room's threads, most recently active first."""
        args: list[Any] = [room_id]
        condition = ""
        if before is not None:
            args.append(before)
            condition = f" AND latest_stream < ${len(args)}"
        args.append(limit)
        rows = await self.db.fetch(
            f"SELECT thread_id, latest_stream FROM threads WHERE room_id = $1{condition}"
            f" ORDER BY latest_stream DESC LIMIT ${len(args)}",
            *args,
        )
        return [(r["thread_id"], r["latest_stream"]) for r in rows]

    async def participants(self, thread_ids: list[str]) -> dict[str, set[str]]:
        """Who replied in each thread."""
        children = await self.children(thread_ids, rel_types=["m.thread"])
        result: dict[str, set[str]] = {}
        for relation in children:
            result.setdefault(relation.relates_to_id, set()).add(relation.sender)
        return result
