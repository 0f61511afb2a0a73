"""Running Hearth: listeners, signals and graceful shutdown.

Once listening, the objects that live as long as the process (modules, routes,
config) are moved out of the garbage collector's sight (``gc.freeze``), so
full collections stay short and out of request tail latency.

On SIGTERM or SIGINT the listeners stop accepting connections, in-flight
requests get up to :data:`SHUTDOWN_GRACE` seconds to finish (their database
writes commit or roll back as a whole), then the cleanup hooks close the
database.

Both listeners run behind the slow-client guards of :mod:`homeserver.connections`.
"""

from __future__ import annotations

import asyncio
import gc
import signal
import ssl
from dataclasses import dataclass

import structlog
from aiohttp import web

from homeserver.app import CONNECTIONS_KEY, HEARTH_KEY, create_app, create_federation_app
from homeserver.config import Config, ConfigError
from homeserver.connections import GuardedAppRunner

logger = structlog.get_logger(__name__)

SHUTDOWN_GRACE = 10.0


async def serve(config: Config, *, install_signal_handlers: bool = False, ready: asyncio.Event | None = None) -> None:
    """Serve until cancelled or signalled."""
    tls = server_tls_context(config) if config.federation.enabled else None  # bad files stop startup here
    stop = asyncio.Event()
    if install_signal_handlers:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
    listeners = await open_listeners(config, create_app(config), tls)
    try:
        logger.info(
            "hearth_started",
            server_name=config.server_name,
            listen=[f"{h}:{config.listen.port}" for h in config.listen.bind_addresses],
            federation=[f"{h}:{config.federation.port}" for h in config.federation.bind_addresses]
            if config.federation.enabled else None,
            database=config.database.url.split(":", 1)[0],
        )
        _tune_garbage_collector()
        if ready is not None:
            ready.set()
        await stop.wait()
        logger.info("hearth_stopping")
    finally:
        await listeners.close()
        logger.info("hearth_stopped")


@dataclass
class Listeners:
    """The running listeners of one application (client, then federation if enabled)."""

    runners: list[web.AppRunner]

    async def close(self) -> None:
        """Stop the listeners, federation first: the client application's cleanup closes the database."""
        for runner in reversed(self.runners):
            await runner.cleanup()


async def open_listeners(config: Config, app: web.Application, tls: ssl.SSLContext | None) -> Listeners:
    """Start ``app`` (from :func:`create_app`) on the client listener and, with ``tls``, the federation one."""
    runner = GuardedAppRunner(app, app[CONNECTIONS_KEY], shutdown_timeout=SHUTDOWN_GRACE)
    await runner.setup()
    listeners = Listeners([runner])
    try:
        for host in config.listen.bind_addresses:
            await web.TCPSite(runner, host, config.listen.port, reuse_address=True).start()
        if tls is not None:
            federation_app = create_federation_app(app[HEARTH_KEY])
            federation_runner = GuardedAppRunner(
                federation_app, federation_app[CONNECTIONS_KEY], shutdown_timeout=SHUTDOWN_GRACE
            )
            await federation_runner.setup()
            listeners.runners.append(federation_runner)
            for host in config.federation.bind_addresses:
                await web.TCPSite(
                    federation_runner, host, config.federation.port, ssl_context=tls, reuse_address=True
                ).start()
    except BaseException:
        await listeners.close()
        raise
    return listeners


def _tune_garbage_collector() -> None:
    gc.collect()
    gc.freeze()


def server_tls_context(config: Config) -> ssl.SSLContext:
    """The federation listener's TLS context, from the configured certificate and key."""
    assert config.federation.tls_certificate_path and config.federation.tls_private_key_path
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(
            config.path(config.federation.tls_certificate_path), config.path(config.federation.tls_private_key_path)
        )
    except (OSError, ssl.SSLError) as e:
        raise ConfigError(f"federation.tls_certificate_path: cannot load the certificate and key: {e}") from None
    return context
