"""Full-text search over message bodies, room names and topics.

The one store whose SQL differs by backend: SQLite uses an FTS5 table ranked
with bm25, PostgreSQL a ``tsvector`` column with a GIN index ranked with
``ts_rank``. Both receive the same list of words from the service and match
events containing all of them (prefix matching on the last word).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from homeserver.core.events import Event
from storage.database import Database
from storage.events import EventSelection

#: Which content field of which event type is searchable, under which key.
SEARCHABLE = {
    "m.room.message": ("content.body", "body"),
    "m.room.name": ("content.name", "name"),
    "m.room.topic": ("content.topic", "topic"),
}

_WORD = re.compile(r"\w+", re.UNICODE)


def search_words(term: str) -> list[str]:
    """The words of a search term, lower-cased (punctuation and operators dropped)."""
    return [w.lower() for w in _WORD.findall(term)][:20]


@dataclass(frozen=True)
class SearchHit:
    event_id: str
    room_id: str
    stream_ordering: int
    rank: float


class SearchStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def index(self, event: Event, stream_ordering: int) -> None:
        """Index a new event if it has searchable text (inside its transaction)."""
        spec = SEARCHABLE.get(event.type)
        if spec is None or (event.type != "m.room.message" and event.state_key != ""):
            return
        key, field = spec
        value = event.content.get(field)
        if not isinstance(value, str) or not value.strip():
            return
        if self.db.dialect == "sqlite":
            await self.db.execute(
                "INSERT INTO event_search (event_id, room_id, key, stream_ordering, value) VALUES ($1, $2, $3, $4, $5)",
                event.event_id, event.room_id, key, stream_ordering, value,
            )
        else:
            await self.db.execute(
                "INSERT INTO event_search (event_id, room_id, key, stream_ordering, value, vector)"
                " VALUES ($1, $2, $3, $4, $5, to_tsvector('simple', $5))",
                event.event_id, event.room_id, key, stream_ordering, value,
            )

    async def forget(self, event_id: str) -> None:
        """A redacted event leaves the index."""
        await self.db.execute("DELETE FROM event_search WHERE event_id = $1", event_id)

    async def search(
        self,
        words: list[str],
        room_ids: list[str],
        keys: list[str],
        *,
        order_by_rank: bool,
        before: int | None,
        offset: int,
        limit: int,
        selection: EventSelection | None = None,
    ) -> tuple[list[SearchHit], int]:
        """Matching events (newest or best first, of ``selection``'s types and senders
        when given) and how many match in total."""
        if not words or not room_ids or not keys:
            return [], 0
        args: list[object] = []
        if self.db.dialect == "sqlite":
            query = " ".join(f'"{w}"' for w in words[:-1]) + f' "{words[-1]}"*'
            args.append(query.strip())
            match = "event_search MATCH $1"
            rank = "bm25(event_search)"
            rank_order = "rank_value ASC"  # bm25: lower is better
        else:
            query = " & ".join(words[:-1] + [words[-1] + ":*"])
            args.append(query)
            match = "vector @@ to_tsquery('simple', $1)"
            rank = "ts_rank(vector, to_tsquery('simple', $1))"
            rank_order = "rank_value DESC"
        room_list = ", ".join(f"${len(args) + i + 1}" for i in range(len(room_ids)))
        args.extend(room_ids)
        key_list = ", ".join(f"${len(args) + i + 1}" for i in range(len(keys)))
        args.extend(keys)
        where = f"{match} AND room_id IN ({room_list}) AND key IN ({key_list})"
        if selection is not None:
            selected, selected_args = selection.sql(len(args) + 1)
            if selected:
                where += f" AND EXISTS (SELECT 1 FROM events e WHERE e.event_id = event_search.event_id{selected})"
                args.extend(selected_args)
        total = await self.db.fetchval(f"SELECT COUNT(*) AS n FROM event_search WHERE {where}", *args)
        if before is not None:
            args.append(before)
            where += f" AND stream_ordering < ${len(args)}"
        args.extend([limit, offset])
        order = f"{rank_order}, stream_ordering DESC" if order_by_rank else "stream_ordering DESC"
        rows = await self.db.fetch(
            f"SELECT event_id, room_id, stream_ordering, {rank} AS rank_value FROM event_search"
            f" WHERE {where} ORDER BY {order} LIMIT ${len(args) - 1} OFFSET ${len(args)}",
            *args,
        )
        hits = [SearchHit(r["event_id"], r["room_id"], int(r["stream_ordering"]), float(r["rank_value"])) for r in rows]
        return hits, int(total or 0)
