"""Running Hearth: listeners, signals and graceful shutdown.

Once listening, the objects that live as long as the process (modules, routes,
config) are moved out of the garbage collector's sight (``gc.freeze``), so
full collections stay short and out of request tail latency.

On SIGTERM or SIGINT the listeners stop accepting connections, in-flight
requests get up to :data:`SHUTDOWN_GRACE` seconds to finish (their database
writes commit or roll back as a whole), then the cleanup hooks close the
database.
"""

from __future__ import annotations

import asyncio
import gc
import signal

import structlog
from aiohttp import web

from homeserver.app import create_app
from homeserver.config import Config

logger = structlog.get_logger(__name__)

SHUTDOWN_GRACE = 10.0


async def serve(config: Config, *, install_signal_handlers: bool = False, ready: asyncio.Event | None = None) -> None:
    """Serve until cancelled or signalled."""
    app = create_app(config)
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=SHUTDOWN_GRACE, access_log=None)
    await runner.setup()
    stop = asyncio.Event()
    if install_signal_handlers:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
    try:
        for host in config.listen.bind_addresses:
            site = web.TCPSite(runner, host, config.listen.port, reuse_address=True)
            await site.start()
        logger.info(
            "hearth_started",
            server_name=config.server_name,
            listen=[f"{h}:{config.listen.port}" for h in config.listen.bind_addresses],
            database=config.database.url.split(":", 1)[0],
        )
        _tune_garbage_collector()
        if ready is not None:
            ready.set()
        await stop.wait()
        logger.info("hearth_stopping")
    finally:
        await runner.cleanup()
        logger.info("hearth_stopped")


def _tune_garbage_collector() -> None:
    gc.collect()
    gc.freeze()
