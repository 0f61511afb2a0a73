"""Client-API benchmark: Hearth against Synapse on the same machine.

For each server (Hearth and Synapse, on SQLite and on PostgreSQL) it measures,
speaking only the Client-Server API:

* send throughput: 10 and 50 concurrent senders in one room (messages/s);
* send-to-receive latency: one user sends, another long-polls ``/sync``;
  p50/p95/p99 over ``--latency-messages`` messages (ms);
* initial sync: a user in ``--rooms`` rooms with ``--events`` events each (s);
* the server's resident memory afterwards (MiB).

It prints one JSON line with every figure and the Hearth/Synapse ratios
(throughput: higher is better; latency, sync time and memory: lower is better).

    .venv/bin/python -m bench.client_bench [--backends sqlite,postgres] [--no-synapse] [--only latency,...]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.servers import SHARED_SECRET, RunningServer, start_hearth, start_synapse


class Client:
    def __init__(self, session: aiohttp.ClientSession, url: str, token: str | None = None) -> None:
        self.session = session
        self.url = url
        self.token = token
        self.user_id = ""
        self._txn = 0

    async def call(self, method: str, path: str, body: Any = None, params: dict[str, str] | None = None) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        async with self.session.request(method, self.url + path, json=body, params=params, headers=headers) as resp:
            data = await resp.json(content_type=None)
            if resp.status != 200:
                raise RuntimeError(f"{method} {path} -> {resp.status} {data}")
            return data

    async def send(self, room_id: str, text: str) -> str:
        self._txn += 1
        data = await self.call(
            "PUT", f"/_matrix/client/v3/rooms/{room_id}/send/m.room.message/{self.user_id}-{self._txn}",
            {"msgtype": "m.text", "body": text},
        )
        return data["event_id"]


async def register(session: aiohttp.ClientSession, url: str, name: str) -> Client:
    """Shared-secret registration, exactly as Synapse's register_new_matrix_user does it."""
    async with session.get(url + "/_synapse/admin/v1/register") as resp:
        nonce = (await resp.json())["nonce"]
    password = "bench password 123"
    mac = hmac.new(SHARED_SECRET.encode(), b"\x00".join([nonce.encode(), name.encode(), password.encode(), b"notadmin"]), hashlib.sha1)
    body = {"nonce": nonce, "username": name, "password": password, "admin": False, "mac": mac.hexdigest()}
    async with session.post(url + "/_synapse/admin/v1/register", json=body) as resp:
        data = await resp.json()
        if resp.status != 200:
            raise RuntimeError(f"registration failed: {data}")
    client = Client(session, url, data["access_token"])
    client.user_id = data["user_id"]
    return client


async def public_room(owner: Client, members: list[Client]) -> str:
    room_id = (await owner.call("POST", "/_matrix/client/v3/createRoom", {"preset": "public_chat"}))["room_id"]
    for member in members:
        await member.call("POST", f"/_matrix/client/v3/join/{room_id}", {})
    return room_id


async def throughput(session: aiohttp.ClientSession, url: str, senders: int, messages: int, tag: str) -> float:
    clients = [await register(session, url, f"{tag}s{i}") for i in range(senders)]
    room_id = await public_room(clients[0], clients[1:])
    per_sender = max(1, messages // senders)

    async def run(client: Client) -> None:
        for n in range(per_sender):
            await client.send(room_id, f"message {n}")

    started = time.perf_counter()
    await asyncio.gather(*(run(c) for c in clients))
    return per_sender * senders / (time.perf_counter() - started)


async def latency(session: aiohttp.ClientSession, url: str, messages: int, tag: str) -> dict[str, float]:
    sender = await register(session, url, f"{tag}sender")
    receiver = await register(session, url, f"{tag}receiver")
    room_id = await public_room(sender, [receiver])
    flt = json.dumps({"room": {"timeline": {"limit": 50}}, "presence": {"types": []}})
    since = (await receiver.call("GET", "/_matrix/client/v3/sync", params={"filter": flt}))["next_batch"]
    samples = []
    for n in range(messages):
        poll = asyncio.create_task(_wait_for(receiver, room_id, since, flt))
        await asyncio.sleep(0)  # let the long-poll start
        started = time.perf_counter()
        event_id = await sender.send(room_id, f"ping {n}")
        since = await poll_until(poll, receiver, room_id, flt, event_id)
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {
        "p50_ms": round(_percentile(samples, 50), 2),
        "p95_ms": round(_percentile(samples, 95), 2),
        "p99_ms": round(_percentile(samples, 99), 2),
    }


async def _wait_for(receiver: Client, room_id: str, since: str, flt: str) -> tuple[dict[str, Any], str]:
    data = await receiver.call("GET", "/_matrix/client/v3/sync", params={"since": since, "timeout": "30000", "filter": flt})
    return data, data["next_batch"]


async def poll_until(poll: asyncio.Task, receiver: Client, room_id: str, flt: str, event_id: str) -> str:
    """Wait for the long-poll, re-polling until it returns the event."""
    while True:
        data, since = await poll
        events = data.get("rooms", {}).get("join", {}).get(room_id, {}).get("timeline", {}).get("events", [])
        if any(e.get("event_id") == event_id for e in events):
            return since
        poll = asyncio.create_task(_wait_for(receiver, room_id, since, flt))


def _percentile(sorted_samples: list[float], pct: float) -> float:
    index = min(len(sorted_samples) - 1, max(0, round(pct / 100 * (len(sorted_samples) - 1))))
    return sorted_samples[index]


async def initial_sync(session: aiohttp.ClientSession, url: str, rooms: int, events: int, tag: str) -> float:
    user = await register(session, url, f"{tag}reader")
    writer = await register(session, url, f"{tag}writer")

    async def fill(index: int) -> None:
        room_id = await public_room(writer, [user])
        for n in range(events):
            await writer.send(room_id, f"room {index} message {n}")

    for start in range(0, rooms, 10):
        await asyncio.gather(*(fill(i) for i in range(start, min(rooms, start + 10))))
    timings = []
    for attempt in range(3):
        # A distinct (but equivalent) filter each time, so no server can answer from a response cache.
        flt = json.dumps({"account_data": {"not_types": [f"bench.nonce.{attempt}"]}})
        started = time.perf_counter()
        await user.call("GET", "/_matrix/client/v3/sync", params={"filter": flt})
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


async def measure(server: RunningServer, args: argparse.Namespace) -> dict[str, Any]:
    timeout = aiohttp.ClientTimeout(total=600)
    connector = aiohttp.TCPConnector(limit=200)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        result: dict[str, Any] = {}
        if "throughput" in args.only:
            result["throughput_10_msgs_per_s"] = round(await throughput(session, server.url, 10, args.messages, "a"), 1)
            result["throughput_50_msgs_per_s"] = round(await throughput(session, server.url, 50, args.messages, "b"), 1)
        if "latency" in args.only:
            result["latency"] = await latency(session, server.url, args.latency_messages, "c")
        if "sync" in args.only:
            result["initial_sync_s"] = round(await initial_sync(session, server.url, args.rooms, args.events, "d"), 3)
        result["rss_mib"] = round(server.rss_bytes() / 2**20, 1)
    return result


def ratios(hearth: dict[str, Any], synapse: dict[str, Any]) -> dict[str, float]:
    """Hearth against Synapse, for the figures both runs measured."""
    result: dict[str, float] = {}
    if "throughput_10_msgs_per_s" in hearth:
        result["throughput_10"] = round(hearth["throughput_10_msgs_per_s"] / synapse["throughput_10_msgs_per_s"], 2)
        result["throughput_50"] = round(hearth["throughput_50_msgs_per_s"] / synapse["throughput_50_msgs_per_s"], 2)
    if "latency" in hearth:
        for pct in ("p50", "p95", "p99"):
            result[f"latency_{pct}_speedup"] = round(synapse["latency"][f"{pct}_ms"] / hearth["latency"][f"{pct}_ms"], 2)
    if "initial_sync_s" in hearth:
        result["initial_sync_speedup"] = round(synapse["initial_sync_s"] / hearth["initial_sync_s"], 2)
    result["memory_ratio"] = round(hearth["rss_mib"] / synapse["rss_mib"], 2)
    return result


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    report: dict[str, Any] = {"benchmark": "client_api", "settings": {
        "messages": args.messages, "latency_messages": args.latency_messages, "rooms": args.rooms, "events": args.events,
    }}
    with tempfile.TemporaryDirectory(prefix="hearth-bench-") as tmp:
        workdir = Path(tmp)
        for backend in args.backends:
            starters = [("hearth", start_hearth)] + ([("synapse", start_synapse)] if args.synapse else [])
            figures: dict[str, Any] = {}
            for name, start in starters:
                server = await start(workdir, backend)
                try:
                    figures[name] = await measure(server, args)
                finally:
                    await server.stop()
            entry: dict[str, Any] = dict(figures)
            if "synapse" in figures:
                entry["ratios"] = ratios(figures["hearth"], figures["synapse"])
            report[backend] = entry
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default="sqlite,postgres", type=lambda s: s.split(","))
    parser.add_argument("--no-synapse", dest="synapse", action="store_false")
    parser.add_argument("--only", default="throughput,latency,sync", type=lambda s: s.split(","),
                        help="which measurements to run (throughput, latency, sync)")
    parser.add_argument("--messages", type=int, default=1000, help="messages per throughput run")
    parser.add_argument("--latency-messages", type=int, default=500)
    parser.add_argument("--rooms", type=int, default=100)
    parser.add_argument("--events", type=int, default=100)
    args = parser.parse_args(argv)
    print(json.dumps(asyncio.run(main_async(args))))


if __name__ == "__main__":
    main()
