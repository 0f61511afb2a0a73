"""The metrics listener: off by default; when enabled, ``hearth run`` serves
Prometheus metrics at ``/metrics`` on a listener of its own and stops it on exit."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
from pathlib import Path

import aiohttp
import pytest
import yaml

from homeserver.config import parse_config
from tests.support import databases
from tests.support.ports import free_port
from tests.test_cli import HEARTH, _cheap_hashing, _wait_healthy, hearth


@pytest.fixture(params=["sqlite", "postgres"])
def data_dir(request, tmp_path):
    """A directory initialised by ``hearth init`` on either database."""
    port = free_port()
    if request.param == "sqlite":
        hearth("init", "--server-name", "example.test", "--data-dir", str(tmp_path), "--port", str(port))
        yield tmp_path, port
        return
    name = databases.create_empty_pg_database()
    try:
        hearth("init", "--server-name", "example.test", "--data-dir", str(tmp_path), "--port", str(port),
               "--database", databases.postgres_url(name))
        yield tmp_path, port
    finally:
        databases.drop_pg_database(name)


def _configure(path, metrics: dict) -> None:
    _cheap_hashing(path)
    data = yaml.safe_load(path.read_text())
    data["metrics"] = metrics
    path.write_text(yaml.safe_dump(data))


def test_metrics_are_off_by_default():
    assert parse_config({"server_name": "example.test"}).metrics.enabled is False


async def _run(data_dir, metrics: dict):
    tmp_path, port = data_dir
    _configure(tmp_path / "config.yaml", metrics)
    proc = subprocess.Popen([*HEARTH, "run", "-c", str(tmp_path / "config.yaml")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    await _wait_healthy(f"http://127.0.0.1:{port}", proc)
    return proc, f"http://127.0.0.1:{port}"


async def _stop(proc) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            assert proc.wait(timeout=20) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


async def test_enabled_metrics_are_served_on_their_own_listener(data_dir):
    metrics_port = free_port()
    proc, url = await _run(data_dir, {"enabled": True, "bind_addresses": ["127.0.0.1"], "port": metrics_port})
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(url + "/_matrix/client/versions") as resp:
                assert resp.status == 200
            async with session.get(f"http://127.0.0.1:{metrics_port}/metrics") as resp:
                assert resp.status == 200
                assert resp.headers["Content-Type"].startswith("text/plain")
                text = await resp.text()
            assert 'hearth_http_requests_total{method="GET",route="/_matrix/client/versions",status="200"}' in text
            assert "hearth_http_request_seconds_bucket" in text
            # Every metric the Grafana dashboard plots is exported.
            for name in _dashboard_metrics():
                assert f"# TYPE {name} " in text, name
            assert 'hearth_db_connections{state="open"}' in text
            async with session.get(url + "/metrics") as resp:
                assert resp.status == 404  # not on the client listener
        await _stop(proc)
        with pytest.raises(aiohttp.ClientConnectionError):
            async with aiohttp.ClientSession() as session:
                await session.get(f"http://127.0.0.1:{metrics_port}/metrics")
    finally:
        await _stop(proc)


def _dashboard_metrics() -> set[str]:
    """The metric families the dashboard's queries name (histogram series by their family)."""
    dashboard = json.loads((Path(__file__).parents[1] / "docs" / "grafana" / "hearth.json").read_text())
    names = {m for panel in dashboard["panels"] for target in panel["targets"]
             for m in re.findall(r"\bhearth_[a-z_]+", target["expr"])}
    return {re.sub(r"_(bucket|sum|count)$", "", n) for n in names}


def _value(name: str, **labels: str) -> float:
    from homeserver import metrics

    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def _counters() -> tuple[float, float, float]:
    return (_value("hearth_events_persisted_total", origin="local"), _value("hearth_sync_wakeups_total"),
            _value("hearth_cache_lookups_total", cache="access_tokens", result="hit"))


async def test_events_caches_and_wakeups_are_counted(make_server):
    """The counters behind the dashboard move when a message is sent and a long-poll woken."""
    server = await make_server()
    alice = await server.client.register("alice")
    room = (await alice.post("/_matrix/client/v3/createRoom", {})).body["room_id"]
    since = (await alice.get("/_matrix/client/v3/sync")).body["next_batch"]
    before = _counters()
    poll = asyncio.ensure_future(alice.get(f"/_matrix/client/v3/sync?since={since}&timeout=10000"))
    await asyncio.sleep(0.3)
    sent = await alice.put(f"/_matrix/client/v3/rooms/{room}/send/m.room.message/t1", {"msgtype": "m.text", "body": "hi"})
    assert sent.status == 200
    await poll
    after = _counters()
    assert after[0] == before[0] + 1 and after[1] > before[1] and after[2] > before[2]
    assert _value("hearth_event_write_seconds_count") > 0


async def test_nothing_listens_for_metrics_unless_enabled(data_dir):
    metrics_port = free_port()
    proc, url = await _run(data_dir, {"port": metrics_port})
    try:
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.ClientConnectionError):
                await session.get(f"http://127.0.0.1:{metrics_port}/metrics")
            async with session.get(url + "/metrics") as resp:
                assert resp.status == 404
    finally:
        await _stop(proc)
