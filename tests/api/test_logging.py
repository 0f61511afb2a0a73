"""Logs carry request IDs and never contain passwords or tokens."""

from __future__ import annotations

import io

import structlog

from homeserver.logging import configure_logging


async def test_secrets_never_logged(client, monkeypatch):
    out = io.StringIO()
    configure_logging("debug", "json")
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(out))
    try:
        alice = await client.register("alice", password="s3cret-passphrase")
        await client.login("alice", "s3cret-passphrase")
        await client.get("/_matrix/client/v3/account/whoami", params={"access_token": alice.token}, token=None)
    finally:
        configure_logging("warning", "console")
    logged = out.getvalue()
    assert '"request_id"' in logged
    assert "/_matrix/client/v3/register" in logged
    assert "s3cret-passphrase" not in logged
    assert alice.token not in logged


async def test_startup_warns_when_rate_limits_are_off(make_server):
    out = io.StringIO()
    configure_logging("info", "json")
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(out))
    try:
        await make_server(rate_limits={"enabled": False})
    finally:
        configure_logging("warning", "console")
    assert "rate_limits_disabled" in out.getvalue()
