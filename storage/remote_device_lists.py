"""Cached device lists of users on other servers (see the 0015 migration)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from storage.database import Database


@dataclass(frozen=True)
class RemoteDevice:
    device_id: str
    display_name: str | None
    keys: dict[str, Any] | None


@dataclass(frozen=True)
class RemoteDeviceList:
    user_id: str
    stream_id: int
    devices: dict[str, RemoteDevice]
    master_key: dict[str, Any] | None
    self_signing_key: dict[str, Any] | None


def _dumps(value: Any) -> str | None:
    return orjson.dumps(value).decode() if value is not None else None


def _loads(raw: str | None) -> Any:
    return orjson.loads(raw) if raw is not None else None


def _shares_a_room(user: str, since: str = "") -> str:
    """An ``EXISTS`` test: ``user`` (an SQL expression) is joined to a room a local user is
    joined to (both since at most ``since``, an SQL expression, when given)."""
    earlier = f" AND theirs.stream_ordering <= {since} AND ours.stream_ordering <= {since}" if since else ""
    return (
        "EXISTS (SELECT 1 FROM current_memberships theirs"
        " JOIN current_memberships ours ON ours.room_id = theirs.room_id"
        " JOIN users u ON u.user_id = ours.user_id"
        f" WHERE theirs.user_id = {user} AND theirs.membership = 'join' AND ours.membership = 'join'{earlier})"
    )


class RemoteDeviceListStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def current(self, user_ids: list[str]) -> dict[str, RemoteDeviceList]:
        """The cached lists among ``user_ids`` that are still current: the user shares a
        room with a local user in which both have been joined since the list was fetched
        (so no update can have been missed while nobody here shared a room with them)."""
        if not user_ids:
            return {}
        placeholders = ", ".join(f"${i + 1}" for i in range(len(user_ids)))
        rows = await self.db.fetch(
            "SELECT r.user_id, r.stream_id, r.master_key, r.self_signing_key FROM remote_device_lists r"
            f" WHERE r.user_id IN ({placeholders}) AND {_shares_a_room('r.user_id', 'r.cached_at_stream')}",
            *user_ids,
        )
        if not rows:
            return {}
        found = [r["user_id"] for r in rows]
        placeholders = ", ".join(f"${i + 1}" for i in range(len(found)))
        device_rows = await self.db.fetch(
            f"SELECT user_id, device_id, display_name, keys FROM remote_devices WHERE user_id IN ({placeholders})",
            *found,
        )
        devices: dict[str, dict[str, RemoteDevice]] = {u: {} for u in found}
        for d in device_rows:
            devices[d["user_id"]][d["device_id"]] = RemoteDevice(d["device_id"], d["display_name"], _loads(d["keys"]))
        return {
            r["user_id"]: RemoteDeviceList(
                r["user_id"], int(r["stream_id"]), devices[r["user_id"]],
                _loads(r["master_key"]), _loads(r["self_signing_key"]),
            )
            for r in rows
        }

    async def stream_id(self, user_id: str) -> int | None:
        """The stream_id the user's cached list is at (``None``: not cached)."""
        value = await self.db.fetchval("SELECT stream_id FROM remote_device_lists WHERE user_id = $1", user_id)
        return int(value) if value is not None else None

    async def master_key(self, user_id: str) -> dict[str, Any] | None:
        """The cached master key of the user, if any."""
        return _loads(await self.db.fetchval("SELECT master_key FROM remote_device_lists WHERE user_id = $1", user_id))

    async def shares_room_with_local_user(self, user_ids: list[str]) -> set[str]:
        """Which of ``user_ids`` are joined to a room a local user is joined to."""
        if not user_ids:
            return set()
        placeholders = ", ".join(f"${i + 1}" for i in range(len(user_ids)))
        rows = await self.db.fetch(
            f"SELECT DISTINCT user_id FROM current_memberships WHERE user_id IN ({placeholders})"
            f" AND {_shares_a_room('current_memberships.user_id')}",
            *user_ids,
        )
        return {r["user_id"] for r in rows}

    async def replace(self, device_list: RemoteDeviceList, cached_at_stream: int) -> None:
        """Store a freshly fetched list in place of whatever was cached."""
        async with self.db.transaction("cache_remote_device_list"):
            await self.forget(device_list.user_id)
            await self.db.execute(
                "INSERT INTO remote_device_lists (user_id, stream_id, master_key, self_signing_key, cached_at_stream)"
                " VALUES ($1, $2, $3, $4, $5)",
                device_list.user_id, device_list.stream_id, _dumps(device_list.master_key),
                _dumps(device_list.self_signing_key), cached_at_stream,
            )
            await self.db.executemany(
                "INSERT INTO remote_devices (user_id, device_id, display_name, keys) VALUES ($1, $2, $3, $4)",
                [(device_list.user_id, d.device_id, d.display_name, _dumps(d.keys)) for d in device_list.devices.values()],
            )

    async def update_device(self, user_id: str, stream_id: int, device: RemoteDevice, *, deleted: bool) -> None:
        """Apply one ``m.device_list_update`` to a cached list (inside a transaction)."""
        await self.db.execute("UPDATE remote_device_lists SET stream_id = $2 WHERE user_id = $1", user_id, stream_id)
        if deleted:
            await self.db.execute(
                "DELETE FROM remote_devices WHERE user_id = $1 AND device_id = $2", user_id, device.device_id
            )
            return
        await self.db.execute(
            "INSERT INTO remote_devices (user_id, device_id, display_name, keys) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (user_id, device_id) DO UPDATE SET display_name = EXCLUDED.display_name,"
            " keys = EXCLUDED.keys",
            user_id, device.device_id, device.display_name, _dumps(device.keys),
        )

    async def update_cross_signing(self, user_id: str, usage: str, key: dict[str, Any]) -> None:
        """Replace a cached user's master or self-signing key."""
        column = {"master": "master_key", "self_signing": "self_signing_key"}[usage]
        await self.db.execute(
            f"UPDATE remote_device_lists SET {column} = $2 WHERE user_id = $1", user_id, _dumps(key)
        )

    async def forget_unshared(self) -> None:
        """Drop the copies of users who share no room with a local user any more: their
        server stops sending updates, so a copy would go stale (it is fetched again if
        they share a room once more)."""
        async with self.db.transaction("forget_unshared_device_lists"):
            await self.db.execute(
                f"DELETE FROM remote_device_lists WHERE NOT {_shares_a_room('remote_device_lists.user_id')}"
            )
            await self.db.execute(
                "DELETE FROM remote_devices WHERE user_id NOT IN (SELECT user_id FROM remote_device_lists)"
            )

    async def forget(self, user_id: str) -> None:
        """Drop a user's cached list (it will be fetched again when needed)."""
        async with self.db.transaction("forget_remote_device_list"):
            await self.db.execute("DELETE FROM remote_devices WHERE user_id = $1", user_id)
            await self.db.execute("DELETE FROM remote_device_lists WHERE user_id = $1", user_id)
