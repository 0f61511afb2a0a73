"""Server-side search (spec: Client-Server API, "Server Side Search") and the
user directory (spec: "User Directory")."""

from __future__ import annotations

from typing import Any

from homeserver.errors import MatrixError
from homeserver.services.auth import Requester
from homeserver.services.filters import EventFilter, parse_event_filter
from homeserver.services.rooms.timeline import TimelineService
from storage.accounts import AccountStore
from storage.events import EventStore
from storage.rooms import RoomStore
from storage.search import SearchStore, search_words

DEFAULT_KEYS = ["content.body", "content.name", "content.topic"]
PAGE = 10


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
        context = criteria.get("event_context")
        if context is not None and not isinstance(context, dict):
            raise MatrixError("M_BAD_JSON", "event_context must be an object")

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
            limit=limit,
        )
        stored = await self._events.get_events(h.event_id for h in hits)
        candidates = [
            stored[h.event_id] for h in hits
            if h.event_id in stored and event_filter.matches(stored[h.event_id].event.type, stored[h.event_id].event.sender)
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
        groupings = (criteria.get("groupings") or {}).get("group_by") or []
        group_keys = {g.get("key") for g in groupings if isinstance(g, dict)}
        if group_keys:
            room_events["groups"] = _groups(results, group_keys)
        if criteria.get("include_state"):
            room_events["state"] = {
                room_id: await self._timeline.state_events(requester, room_id)
                for room_id in {r["result"]["room_id"] for r in results}
            }
        return {"search_categories": {"room_events": room_events}}

    async def _context(self, requester: Requester, room_id: str, event_id: str, spec: dict[str, Any]) -> dict[str, Any]:
        before = min(int(spec.get("before_limit", 5)), 20)
        after = min(int(spec.get("after_limit", 5)), 20)
        ctx = await self._timeline.context(requester, room_id, event_id, before * 2, EventFilter())
        result = {
            "events_before": ctx["events_before"][:before],
            "events_after": ctx["events_after"][:after],
            "start": ctx["start"],
            "end": ctx["end"],
        }
        if spec.get("include_profile"):
            senders = {e["sender"] for e in [*result["events_before"], *result["events_after"]]}
            members = {s["state_key"]: s["content"] for s in ctx["state"] if s["type"] == "m.room.member"}
            result["profile_info"] = {
                s: {k: members.get(s, {}).get(k) for k in ("displayname", "avatar_url")} for s in senders
            }
        return result


def _parse_batch(raw: str | None) -> tuple[int | None, int]:
    if raw is None:
        return None, 0
    if raw[:1] in ("t", "o") and raw[1:].isdigit():
        value = int(raw[1:])
        return (value, 0) if raw[0] == "t" else (None, value)
    raise MatrixError("M_INVALID_PARAM", "Invalid next_batch token")


def _groups(results: list[dict[str, Any]], keys: set[Any]) -> dict[str, Any]:
    groups: dict[str, Any] = {}
    for key in keys:
        if key not in ("room_id", "sender"):
            raise MatrixError("M_BAD_JSON", "Groups can be by room_id or sender")
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
