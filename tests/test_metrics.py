"""The metrics listener: off by default; when enabled, ``hearth run`` serves
Prometheus metrics at ``/metrics`` on a listener of its own and stops it on exit."""

from __future__ import annotations

import signal
import subprocess

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
            async with session.get(url + "/metrics") as resp:
                assert resp.status == 404  # not on the client listener
        await _stop(proc)
        with pytest.raises(aiohttp.ClientConnectionError):
            async with aiohttp.ClientSession() as session:
                await session.get(f"http://127.0.0.1:{metrics_port}/metrics")
    finally:
        await _stop(proc)


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
