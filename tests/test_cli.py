"""The ``hearth`` command, run as a real subprocess."""

from __future__ import annotations

import asyncio
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest
import yaml

from tests.support.ports import free_port
from tests.support import databases

HEARTH = [sys.executable, "-m", "homeserver"]


def hearth(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([*HEARTH, *args], capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"hearth {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def _cheap_hashing(config_path: Path) -> None:
    data = yaml.safe_load(config_path.read_text())
    data["auth"] = {"password_hashing": {"time_cost": 1, "memory_kib": 1024, "parallelism": 1}}
    config_path.write_text(yaml.safe_dump(data))


def test_init_writes_config_key_and_database(tmp_path):
    data = tmp_path / "data"
    out = hearth("init", "--server-name", "example.test", "--data-dir", str(data), "--open-registration")
    assert "hearth run -c" in out.stdout
    config_path = data / "config.yaml"
    config = yaml.safe_load(config_path.read_text())
    assert config["server_name"] == "example.test"
    assert config["registration"]["open"] is True
    assert len(config["registration"]["shared_secret"]) >= 32
    assert stat.S_IMODE(config_path.stat().st_mode) == 0o600
    assert stat.S_IMODE((data / "signing.key").stat().st_mode) == 0o600
    assert (data / "signing.key").read_text().startswith("ed25519 ")
    assert (data / "hearth.db").exists()
    assert "federation" not in config

    other = tmp_path / "other"
    hearth("init", "--server-name", "example.test", "--data-dir", str(other))
    second = yaml.safe_load((other / "config.yaml").read_text())
    assert second["registration"]["shared_secret"] != config["registration"]["shared_secret"]
    assert second["registration"]["open"] is False


def test_init_refuses_to_overwrite(tmp_path):
    hearth("init", "--server-name", "example.test", "--data-dir", str(tmp_path))
    again = hearth("init", "--server-name", "example.test", "--data-dir", str(tmp_path), check=False)
    assert again.returncode == 1
    assert "already exists" in again.stderr


def test_init_with_federation_port_writes_certificate(tmp_path):
    hearth("init", "--server-name", "example.test", "--data-dir", str(tmp_path), "--federation-port", "8449")
    config = yaml.safe_load((tmp_path / "config.yaml").read_text())
    assert config["federation"]["enabled"] is True
    assert config["federation"]["port"] == 8449
    assert "outbound" not in config  # federating servers keep the default outbound IP policy
    from cryptography import x509

    cert = x509.load_pem_x509_certificate((tmp_path / "tls.crt").read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "example.test" in names.get_values_for_type(x509.DNSName)


def test_config_errors_are_one_line_without_traceback(tmp_path):
    bad = tmp_path / "config.yaml"
    bad.write_text("server_name: example.test\nlisten:\n  port: eighty\n")
    result = hearth("run", "-c", str(bad), check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == "hearth: config error: listen.port: expected an integer, got 'eighty'"
    missing = hearth("run", "-c", str(tmp_path / "nope.yaml"), check=False)
    assert missing.returncode == 2
    assert "cannot read config file" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_admin_register_and_tokens(tmp_path):
    hearth("init", "--server-name", "example.test", "--data-dir", str(tmp_path))
    config = str(tmp_path / "config.yaml")
    _cheap_hashing(tmp_path / "config.yaml")
    out = hearth("admin", "register", "alice", "--password", "long enough pw", "--admin", "-c", config)
    assert "@alice:example.test" in out.stdout
    dup = hearth("admin", "register", "alice", "--password", "long enough pw", "-c", config, check=False)
    assert dup.returncode == 1
    assert "M_USER_IN_USE" in dup.stderr
    token = hearth("admin", "token", "create", "--uses", "3", "-c", config).stdout.strip()
    listed = hearth("admin", "token", "list", "-c", config).stdout
    assert token in listed and "uses_allowed=3" in listed
    hearth("admin", "token", "delete", token, "-c", config)
    assert token not in hearth("admin", "token", "list", "-c", config).stdout
    assert "up to date" in hearth("migrate", "-c", config).stdout


async def _wait_healthy(url: str, proc: subprocess.Popen) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(100):
            if proc.poll() is not None:
                raise AssertionError(f"hearth exited early: {proc.stderr.read()}")
            try:
                async with session.get(url + "/health") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("hearth did not become healthy")


async def test_run_serves_and_stops_cleanly(tmp_path):
    port = free_port()
    hearth("init", "--server-name", "example.test", "--data-dir", str(tmp_path), "--port", str(port))
    config = str(tmp_path / "config.yaml")
    _cheap_hashing(tmp_path / "config.yaml")
    hearth("admin", "register", "bob", "--password", "long enough pw", "-c", config)
    proc = subprocess.Popen([*HEARTH, "run", "-c", config], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        await _wait_healthy(url, proc)
        async with aiohttp.ClientSession() as session:
            body = {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "bob"}, "password": "long enough pw"}
            async with session.post(url + "/_matrix/client/v3/login", json=body) as resp:
                assert resp.status == 200
                assert (await resp.json())["user_id"] == "@bob:example.test"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        assert "hearth_stopped" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_init_on_postgres(tmp_path):
    name = databases.create_empty_pg_database()
    try:
        url = databases.postgres_url(name)
        hearth("init", "--server-name", "example.test", "--data-dir", str(tmp_path), "--database", url)
        _cheap_hashing(tmp_path / "config.yaml")
        config = str(tmp_path / "config.yaml")
        hearth("admin", "register", "carol", "--password", "long enough pw", "-c", config)
        assert "up to date" in hearth("migrate", "-c", config).stdout
        assert not (tmp_path / "hearth.db").exists()
    finally:
        databases.drop_pg_database(name)


async def test_run_serves_federation_over_tls(tmp_path):
    port, federation_port = free_port(), free_port()
    hearth("init", "--server-name", "localhost", "--data-dir", str(tmp_path), "--port", str(port),
           "--federation-port", str(federation_port))
    _cheap_hashing(tmp_path / "config.yaml")
    proc = subprocess.Popen([*HEARTH, "run", "-c", str(tmp_path / "config.yaml")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        await _wait_healthy(f"http://127.0.0.1:{port}", proc)
        import ssl

        from homeserver.core.server_keys import parse_key_response

        trust = ssl.create_default_context(cafile=str(tmp_path / "tls.crt"))  # the generated self-signed certificate
        async with aiohttp.ClientSession() as session:
            async with session.get(f"https://localhost:{federation_port}/_matrix/key/v2/server", ssl=trust) as resp:
                assert resp.status == 200
                parse_key_response(await resp.json(), "localhost")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_unreadable_certificate_stops_startup(tmp_path):
    hearth("init", "--server-name", "example.test", "--data-dir", str(tmp_path), "--federation-port", str(free_port()))
    (tmp_path / "tls.crt").write_text("not a certificate")
    result = subprocess.run([*HEARTH, "run", "-c", str(tmp_path / "config.yaml")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "federation.tls_certificate_path" in result.stderr
    assert "Traceback" not in result.stderr


def test_turn_config_prints_a_coturn_config_matching_the_turn_section(tmp_path):
    hearth("init", "--server-name", "example.org", "--data-dir", str(tmp_path / "data"))
    config_path = tmp_path / "data" / "config.yaml"
    missing = hearth("turn-config", "-c", str(config_path), check=False)
    assert missing.returncode == 2 and "turn: set uris and shared_secret" in missing.stderr
    config = yaml.safe_load(config_path.read_text())
    config["turn"] = {"uris": ["turn:turn.example.org:3479?transport=udp"], "shared_secret": "s3cret"}
    config_path.write_text(yaml.safe_dump(config))
    lines = hearth("turn-config", "-c", str(config_path)).stdout.splitlines()
    for line in ("use-auth-secret", "static-auth-secret=s3cret", "realm=example.org", "listening-port=3479",
                 "denied-peer-ip=127.0.0.0-127.255.255.255", "denied-peer-ip=10.0.0.0-10.255.255.255",
                 "denied-peer-ip=fc00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "no-multicast-peers"):
        assert line in lines
    assert "allow-loopback-peers" not in lines and not any(x.startswith("allowed-peer-ip") for x in lines)
