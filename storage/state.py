"""Room state: immutable state groups stored as deltas, and current state.

Design note: a state group is a full state map ``(type, state_key) -> event_id``
stored as the entries that differ from ``prev_group``. Reading a group walks its
chain back to a full snapshot (``prev_group`` NULL); :data:`MAX_CHAIN_LENGTH`
bounds that walk by writing a full snapshot when a chain gets long. Groups never
change once written, so resolved maps are cached in memory by group ID (safe to
share between workers, since nothing is ever updated in place).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from types import MappingProxyType

from storage.database import Database

StateMap = Mapping[tuple[str, str], str]

MAX_CHAIN_LENGTH = 50
_CACHE_SIZE = 256


class StateStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._cache: OrderedDict[int, dict[tuple[str, str], str]] = OrderedDict()
        #: event ID -> state group (never changes once written)
        self._event_groups: OrderedDict[str, int] = OrderedDict()

    async def get_state(self, state_group: int) -> StateMap:
        """The full state map of a group (read-only: copy it before changing it)."""
        cached = self._cache.get(state_group)
        if cached is not None:
            self._cache.move_to_end(state_group)
            return MappingProxyType(cached)
        rows = await self.db.fetch(
            "WITH RECURSIVE chain(id, prev_group, n) AS ("
            "  SELECT id, prev_group, 0 FROM state_groups WHERE id = $1"
            "  UNION ALL"
            "  SELECT g.id, g.prev_group, c.n + 1 FROM state_groups g"
            "  JOIN chain c ON g.id = c.prev_group"
            ") SELECT c.n, e.type, e.state_key, e.event_id FROM chain c"
            " JOIN state_group_entries e ON e.state_group = c.id ORDER BY c.n DESC",
            state_group,
        )
        state: dict[tuple[str, str], str] = {}
        for row in rows:  # oldest snapshot first, newer deltas override
            state[(row["type"], row["state_key"])] = row["event_id"]
        self._remember(state_group, state)
        return MappingProxyType(state)

    async def create_group(
        self,
        room_id: str,
        state: StateMap,
        *,
        prev_group: int | None,
        prev_state: StateMap | None = None,
    ) -> int:
        """Store ``state`` as a new group (as a delta on ``prev_group`` when given).

        ``prev_state`` is ``prev_group``'s map when the caller already has it.
        """
        chain_length = 0
        if prev_group is not None:
            chain_length = int(
                await self.db.fetchval(
                    "SELECT chain_length FROM state_groups WHERE id = $1", prev_group
                )
            ) + 1
            if chain_length > MAX_CHAIN_LENGTH:
                prev_group, chain_length = None, 0
        if prev_group is not None:
            base = prev_state if prev_state is not None else await self.get_state(prev_group)
            entries = {k: v for k, v in state.items() if base.get(k) != v}
            if any(k not in state for k in base):
                # State keys never disappear in Matrix, but be correct if they did.
                prev_group, chain_length, entries = None, 0, dict(state)
        else:
            entries = dict(state)
        group = int(
            await self.db.fetchval(
                "INSERT INTO state_groups (room_id, prev_group, chain_length)"
                " VALUES ($1, $2, $3) RETURNING id",
                room_id,
                prev_group,
                chain_length,
            )
        )
        if entries:
            await self.db.executemany(
                "INSERT INTO state_group_entries (state_group, type, state_key, event_id)"
                " VALUES ($1, $2, $3, $4)",
                [(group, t, sk, eid) for (t, sk), eid in entries.items()],
            )
        self._remember(group, dict(state))
        return group

    async def set_event_state_group(self, event_id: str, state_group: int) -> None:
        self.db.after_commit(lambda: self._remember_event_group(event_id, state_group))
        await self.db.execute(
            "INSERT INTO event_state_groups (event_id, state_group) VALUES ($1, $2)"
            " ON CONFLICT (event_id) DO NOTHING",
            event_id,
            state_group,
        )

    async def get_event_state_groups(self, event_ids: list[str]) -> dict[str, int]:
        found = {e: self._event_groups[e] for e in event_ids if e in self._event_groups}
        missing = [e for e in event_ids if e not in found]
        if not missing:
            return found
        placeholders = ", ".join(f"${i + 1}" for i in range(len(missing)))
        rows = await self.db.fetch(
            f"SELECT event_id, state_group FROM event_state_groups WHERE event_id IN ({placeholders})",
            *missing,
        )
        for row in rows:
            found[row["event_id"]] = row["state_group"]
            if not self.db.in_transaction:
                self._remember_event_group(row["event_id"], row["state_group"])
        return found

    def _remember_event_group(self, event_id: str, state_group: int) -> None:
        self._event_groups[event_id] = state_group
        if len(self._event_groups) > 100_000:
            self._event_groups.popitem(last=False)

    # -- current state ----------------------------------------------------------------

    async def get_current_state(self, room_id: str) -> dict[tuple[str, str], str]:
        rows = await self.db.fetch(
            "SELECT type, state_key, event_id FROM current_state WHERE room_id = $1", room_id
        )
        return {(r["type"], r["state_key"]): r["event_id"] for r in rows}

    async def get_current_state_event_id(self, room_id: str, event_type: str, state_key: str) -> str | None:
        return await self.db.fetchval(
            "SELECT event_id FROM current_state WHERE room_id = $1 AND type = $2 AND state_key = $3",
            room_id,
            event_type,
            state_key,
        )

    async def update_current_state(
        self, room_id: str, changes: Mapping[tuple[str, str], str], state_group: int
    ) -> None:
        """Apply changed entries to the current state and record its group."""
        if changes:
            await self.db.executemany(
                "INSERT INTO current_state (room_id, type, state_key, event_id)"
                " VALUES ($1, $2, $3, $4) ON CONFLICT (room_id, type, state_key)"
                " DO UPDATE SET event_id = EXCLUDED.event_id",
                [(room_id, t, sk, eid) for (t, sk), eid in changes.items()],
            )
        await self.db.execute(
            "UPDATE rooms SET current_state_group = $2 WHERE room_id = $1", room_id, state_group
        )

    def _remember(self, group: int, state: dict[tuple[str, str], str]) -> None:
        self._cache[group] = state
        self._cache.move_to_end(group)
        while len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
