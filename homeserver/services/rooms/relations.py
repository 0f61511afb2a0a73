"""Reading relationships: ``/relations`` and ``/threads`` (spec: Client-Server
API, "Relationships API", "Threading")."""

from __future__ import annotations

from typing import Any

from homeserver.errors import MatrixError
from homeserver.parsing import parse_token
from homeserver.services.auth import Requester
from homeserver.services.rooms.timeline import TimelineService
from storage.events import EventStore
from storage.relations import Relation, RelationStore

MAX_LIMIT = 100
MAX_RECURSION = 3


def _token(raw: str | None) -> int | None:
    return None if raw is None else parse_token(raw, "r", "pagination token")


class RelationsService:
    def __init__(self, relations: RelationStore, events: EventStore, timeline: TimelineService) -> None:
        self._relations = relations
        self._events = events
        self._timeline = timeline

    async def relations(
        self,
        requester: Requester,
        room_id: str,
        parent_id: str,
        *,
        rel_type: str | None,
        event_type: str | None,
        from_token: str | None,
        to_token: str | None,
        limit: int,
        direction: str,
        recurse: bool,
    ) -> dict[str, Any]:
        if direction not in ("b", "f"):
            raise MatrixError("M_INVALID_PARAM", "dir must be 'b' or 'f'")
        # Not found, or not the user's to read: 404 either way (spec: relations).
        await self._timeline.readable_event(requester.user_id, room_id, parent_id)
        limit = max(1, min(limit, MAX_LIMIT))
        newest_first = direction == "b"
        start, end = _token(from_token), _token(to_token)
        before, after = (start, end) if newest_first else (end, start)
        depth = 0
        found: list[Relation] = await self._relations.page(
            parent_id, rel_type=rel_type, event_type=event_type, before=before, after=after,
            limit=limit + 1, newest_first=newest_first,
        )
        if recurse:
            frontier = [r.event_id for r in found]
            while frontier and depth < MAX_RECURSION - 1:
                depth += 1
                deeper = [
                    r for r in await self._relations.children(frontier)
                    if (rel_type is None or r.rel_type == rel_type) and (event_type is None or r.type == event_type)
                ]
                found.extend(deeper)
                frontier = [r.event_id for r in deeper]
            found.sort(key=lambda r: r.stream_ordering, reverse=newest_first)
            found = [
                r for r in found
                if (before is None or r.stream_ordering < before) and (after is None or r.stream_ordering > after)
            ]
        more = len(found) > limit
        found = found[:limit]
        stored = await self._events.get_events(r.event_id for r in found)
        visible = await self._timeline.filter_visible(requester.user_id, [stored[r.event_id] for r in found if r.event_id in stored])
        body: dict[str, Any] = {"chunk": await self._timeline.serialize(requester, visible)}
        if more and found:
            body["next_batch"] = f"r{found[-1].stream_ordering}"
        if from_token is not None:
            body["prev_batch"] = from_token
        if recurse:
            body["recursion_depth"] = depth + 1
        return body

    async def threads(
        self, requester: Requester, room_id: str, *, include: str, from_token: str | None, limit: int
    ) -> dict[str, Any]:
        if include not in ("all", "participated"):
            raise MatrixError("M_INVALID_PARAM", "include must be all or participated")
        await self._timeline.access(requester.user_id, room_id)
        limit = max(1, min(limit, MAX_LIMIT))
        before = _token(from_token)
        chunk: list[Any] = []
        next_batch = None
        while len(chunk) < limit:
            rows = await self._relations.threads(room_id, before=before, limit=limit * 2)
            if not rows:
                break
            roots = await self._events.get_events(thread_id for thread_id, _ in rows)
            participants = await self._relations.participants([t for t, _ in rows]) if include == "participated" else {}
            for thread_id, latest in rows:
                before = latest
                root = roots.get(thread_id)
                if root is None:
                    continue
                if include == "participated" and requester.user_id not in participants.get(thread_id, set()) and root.event.sender != requester.user_id:
                    continue
                chunk.extend(await self._timeline.filter_visible(requester.user_id, [root]))
                if len(chunk) == limit:
                    next_batch = f"r{latest}"
                    break
            if len(rows) < limit * 2:
                break
        body: dict[str, Any] = {"chunk": await self._timeline.serialize(requester, chunk)}
        if next_batch is not None:
            body["next_batch"] = next_batch
        return body
