"""Server-side search (spec: Client-Server API, "Server Side Search") and the
user directory (spec: "User Directory")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from homeserver.errors import MatrixError
from homeserver.parsing import parse_token
from homeserver.services.auth import Requester
from homeserver.services.filters import EventFilter, parse_event_filter
from homeserver.services.rooms.timeline import TimelineService
from storage.accounts import AccountStore
from storage.events import EventStore
from storage.rooms import RoomStore
from storage.search import SearchStore, search_words

DEFAULT_KEYS = ["content.body", "content.name", "content.topic"]
PAGE = 10
#: Most events of context on each side of a result.
MAX_CONTEXT = 20


class SearchService:
    def __init__(self, *, search: SearchStore, events: EventStore, rooms: RoomStore, timeline: TimelineService) -> None:
        self._search = search
        self._events = events
        self._rooms = rooms
        self._timeline = timeline

    async def search(self, requester: Requester, body: dict[str, Any], next_batch: str | None) -> dict[str, Any]:
        categories = body.get("search_categories")
        if not isinstance(categories, dict) or not isinstance(categories.get("room_events"), dict):
            raise MatrixError("M_BAD_JSON", "search_categories.room_events is required")
        criteria = categories["room_events"]
        term = criteria.get("search_term")
        if not isinstance(term, str):
            raise MatrixError("M_BAD_JSON", "search_term must be a string")
        keys = criteria.get("keys", DEFAULT_KEYS)
        if not isinstance(keys, list) or not all(k in DEFAULT_KEYS for k in keys):
            raise MatrixError("M_BAD_JSON", f"keys must be a subset of {DEFAULT_KEYS}")
        order_by = criteria.get("order_by", "rank")
        if order_by not in ("rank", "recent"):
            raise MatrixError("M_BAD_JSON", "order_by must be rank or recent")
        event_filter = parse_event_filter(criteria.get("filter"), "filter.")
        context = _event_context(criteria.get("event_context"))
        group_keys = _group_keys(criteria.get("groupings"))

        room_ids = [
            r for r in await self._rooms.rooms_for_user(requester.user_id, "join")
            if (event_filter.rooms is None or r in event_filter.rooms) and r not in event_filter.not_rooms
        ]
        limit = min(event_filter.limit or PAGE, 100)
        before, offset = _parse_batch(next_batch)
        words = search_words(term)
        hits, total = await self._search.search(
            words, room_ids, keys, order_by_rank=order_by == "rank",
            before=before if order_by == "recent" else None, offset=offset if order_by == "rank" else 0,
            limit=limit, selection=event_filter.selection(),
        )
        stored = await self._events.get_events(h.event_id for h in hits)
        candidates = [
            stored[h.event_id] for h in hits
            if h.event_id in stored and event_filter.matches(
                stored[h.event_id].event.type, stored[h.event_id].event.sender, content=dict(stored[h.event_id].event.content)
            )
        ]
        visible = {e.event_id for e in await self._timeline.filter_visible(requester.user_id, candidates, drop_erased=True)}
        serialized = {e["event_id"]: e for e in await self._timeline.serialize(requester, [c for c in candidates if c.event_id in visible])}
        results = []
        for hit in hits:
            if hit.event_id not in serialized:
                continue
            result: dict[str, Any] = {"rank": hit.rank, "result": serialized[hit.event_id]}
            if context is not None:
                result["context"] = await self._context(requester, hit.room_id, hit.event_id, context)
            results.append(result)
        room_events: dict[str, Any] = {"results": results, "count": total, "highlights": words}
        if len(hits) == limit:
            room_events["next_batch"] = (
                f"t{hits[-1].stream_ordering}" if order_by == "recent" else f"o{offset + limit}"
            )
        if group_keys:
            room_events["groups"] = _groups(results, group_keys)
        if criteria.get("include_state"):
            room_events["state"] = {
                room_id: await self._timeline.state_events(requester, room_id)
                for room_id in {r["result"]["room_id"] for r in results}
            }
        return {"search_categories": {"room_events": room_events}}

    async def _context(self, requester: Requester, room_id: str, event_id: str, spec: _Context) -> dict[str, Any]:
        before, after = spec.before, spec.after
        ctx = await self._timeline.context(requester, room_id, event_id, before * 2, EventFilter())
        result = {
            "events_before": ctx["events_before"][:before],
            "events_after": ctx["events_after"][:after],
            "start": ctx["start"],
            "end": ctx["end"],
        }
        if spec.include_profile:
            senders = {e["sender"] for e in [*result["events_before"], *result["events_after"]]}
            members = {s["state_key"]: s["content"] for s in ctx["state"] if s["type"] == "m.room.member"}
            result["profile_info"] = {
                s: {k: members.get(s, {}).get(k) for k in ("displayname", "avatar_url")} for s in senders
            }
        return result


def _parse_batch(raw: str | None) -> tuple[int | None, int]:
    if raw is None:
        return None, 0
    if raw.startswith("o"):
        return None, parse_token(raw, "o", "next_batch token", minimum=0)
    return parse_token(raw, "t", "next_batch token"), 0


@dataclass(frozen=True)
class _Context:
    """``event_context``: how many events around each result, and their senders' profiles."""

    before: int
    after: int
    include_profile: bool


def _event_context(spec: Any) -> _Context | None:
    if spec is None:
        return None
    if not isinstance(spec, dict):
        raise MatrixError("M_BAD_JSON", "event_context must be an object")
    limits = []
    for key in ("before_limit", "after_limit"):
        value = spec.get(key, 5)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise MatrixError("M_BAD_JSON", f"event_context.{key} must be a non-negative integer")
        limits.append(min(value, MAX_CONTEXT))
    include_profile = spec.get("include_profile", False)
    if not isinstance(include_profile, bool):
        raise MatrixError("M_BAD_JSON", "event_context.include_profile must be a boolean")
    return _Context(limits[0], limits[1], include_profile)


def _group_keys(groupings: Any) -> set[str]:
    """The keys of ``groupings.group_by`` (``room_id`` and/or ``sender``)."""
    if groupings is None:
        return set()
    group_by = groupings.get("group_by", []) if isinstance(groupings, dict) else None
    if not isinstance(group_by, list) or not all(isinstance(g, dict) for g in group_by):
        raise MatrixError("M_BAD_JSON", "groupings.group_by must be an array of objects")
    keys = [g.get("key") for g in group_by]
    if not all(key in ("room_id", "sender") for key in keys):
        raise MatrixError("M_BAD_JSON", "Groups can be by room_id or sender")
    return set(keys)


def _groups(results: list[dict[str, Any]], keys: set[str]) -> dict[str, Any]:
    groups: dict[str, Any] = {}
    for key in keys:
        by_value: dict[str, Any] = {}
        for order, result in enumerate(results):
            value = result["result"][key]
            group = by_value.setdefault(value, {"results": [], "order": order})
            group["results"].append(result["result"]["event_id"])
        groups[key] = by_value
    return groups


class UserDirectoryService:
    def __init__(self, *, rooms: RoomStore, accounts: AccountStore) -> None:
        self._rooms = rooms
        self._accounts = accounts

    async def search(self, requester: Requester, term: str, limit: int) -> dict[str, Any]:
        """Users who share a room with the requester or sit in a public room, by ID or display name."""
        needle = term.lower().strip()
        candidates = await self._rooms.users_sharing_rooms(requester.user_id)
        candidates |= await self._rooms.users_in_public_rooms()
        matches = []
        for user_id in sorted(candidates):
            profile = await self._accounts.get_profile(user_id)
            name = profile.get("displayname") if isinstance(profile.get("displayname"), str) else None
            if needle in user_id.lower() or (name and needle in name.lower()):
                entry: dict[str, Any] = {"user_id": user_id, "display_name": name}
                if isinstance(profile.get("avatar_url"), str):
                    entry["avatar_url"] = profile["avatar_url"]
                matches.append(entry)
        return {"results": matches[:limit], "limited": len(matches) > limit}
