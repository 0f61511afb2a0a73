"""Rooms of a space that live on other servers: asked for with the federation
``/hierarchy`` and kept briefly in memory.

Design note: a client's ``/hierarchy`` walk restarts from its root for every
page, so each checked answer is kept for ``CACHE_TTL_S`` (long enough to page
through a space, short enough that a renamed room soon shows its new name), at
most ``CACHE_SIZE`` of them, the oldest dropped first. Only usable answers are
kept: a server that failed is asked again next time. The servers of a room's
``via`` are tried in turn, at most ``MAX_SERVERS_TRIED`` of them; one that is
unreachable, refuses or answers nonsense is skipped.

A room asked about without a ``via`` (the root of a walk) is asked of the
server in its ID (room versions before 12) and of the ``via`` it was last
reached through in a walk, remembered for up to ``CACHE_SIZE`` rooms: a
client opening a subspace it saw in its parent's hierarchy finds it again.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import structlog

from homeserver.clock import Clock
from homeserver.core.identifiers import get_domain_from_id, is_valid_server_name
from homeserver.core.spaces import RemoteSpace, parse_hierarchy_answer
from homeserver.errors import MatrixError
from homeserver.services.ports import FederationQueries, RemoteUnavailable

logger = structlog.get_logger(__name__)

CACHE_TTL_S = 60.0
CACHE_SIZE = 1000
MAX_SERVERS_TRIED = 5


class RemoteSpaces:
    """What other servers say about the rooms of a space this server is not in."""

    def __init__(self, federation: FederationQueries, clock: Clock, server_name: str) -> None:
        self._federation = federation
        self._clock = clock
        self._server_name = server_name
        self._cache: OrderedDict[tuple[str, bool], tuple[float, RemoteSpace]] = OrderedDict()
        self._routes: OrderedDict[str, tuple[str, ...]] = OrderedDict()

    async def room(
        self, room_id: str, via: Sequence[str] | None, *, suggested_only: bool, hint: dict[str, Any] | None = None
    ) -> RemoteSpace | None:
        """A room this server is not in, with its children; ``None`` if no server could tell.

        ``via`` are the servers the event naming the room gave (``None`` for a
        walk's root). ``hint`` is the summary the parent space's server gave:
        enough for a room that is no space, or one whose ``children_state`` came with it.
        """
        if via is None:
            via = self._servers_for(room_id)
        else:
            _remember(self._routes, room_id, tuple(via))
        if hint is not None and (hint.get("room_type") != "m.space" or "children_state" in hint):
            return RemoteSpace({"children_state": []} | hint, {}, frozenset())
        space = await self._ask(room_id, via, suggested_only)
        if space is None and hint is not None:
            return RemoteSpace(hint | {"children_state": []}, {}, frozenset())
        return space

    def _servers_for(self, room_id: str) -> list[str]:
        servers = [get_domain_from_id(room_id)] if ":" in room_id else []
        return servers + list(self._routes.get(room_id, ()))

    async def _ask(self, room_id: str, via: Sequence[str], suggested_only: bool) -> RemoteSpace | None:
        key = (room_id, suggested_only)
        cached = self._cache.get(key)
        if cached is not None and cached[0] > self._clock.monotonic():
            return cached[1]
        self._cache.pop(key, None)
        servers = [s for s in dict.fromkeys(via) if s != self._server_name and is_valid_server_name(s)]
        for destination in servers[:MAX_SERVERS_TRIED]:
            try:
                answer = await self._federation.hierarchy(destination, room_id, suggested_only)
            except (RemoteUnavailable, MatrixError) as e:
                logger.info("remote_hierarchy_failed", destination=destination, room_id=room_id, error=str(e))
                continue
            space = parse_hierarchy_answer(room_id, answer)
            if space is None:
                logger.info("remote_hierarchy_malformed", destination=destination, room_id=room_id)
                continue
            _remember(self._cache, key, (self._clock.monotonic() + CACHE_TTL_S, space))
            return space
        return None


def _remember(entries: OrderedDict[Any, Any], key: Any, value: Any) -> None:
    """Keep ``value`` as the newest entry, dropping the oldest beyond ``CACHE_SIZE``."""
    entries[key] = value
    entries.move_to_end(key)
    while len(entries) > CACHE_SIZE:
        entries.popitem(last=False)
