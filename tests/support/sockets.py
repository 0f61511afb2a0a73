"""Raw TCP for tests: a listener that counts who connects, and a client socket that
can send a request piece by piece."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from typing import Literal

Behaviour = Literal["hang", "hang_up", "plain_http"]


class TcpTarget:
    """A loopback listener standing for an internal service: counts connections.

    ``hang`` keeps connections open without answering (a slow host),
    ``hang_up`` closes them at once, ``plain_http`` answers one plain-HTTP 404.
    """

    def __init__(self, behaviour: Behaviour = "hang") -> None:
        self.behaviour = behaviour
        self.connections = 0
        self.open = 0
        self.most_open = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        self._writers.add(writer)
        try:
            if self.behaviour == "plain_http":
                await reader.read(1024)
                writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                await writer.drain()
            elif self.behaviour == "hang":
                while await reader.read(65536):
                    pass
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self.open -= 1
            self._writers.discard(writer)
            writer.close()

    async def start(self) -> TcpTarget:
        self._server = await asyncio.start_server(self._on_connect, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 5)


@contextlib.asynccontextmanager
async def tcp_targets(*behaviours: Behaviour) -> AsyncIterator[list[TcpTarget]]:
    targets = [await TcpTarget(b).start() for b in behaviours]
    try:
        yield targets
    finally:
        for target in targets:
            await target.close()


async def closed_by_server(reader: asyncio.StreamReader, within: float) -> bool:
    """Whether the other end closes the connection within ``within`` seconds
    (whatever it sends first is read and dropped)."""
    try:
        async with asyncio.timeout(within):
            while await reader.read(65536):
                pass
    except TimeoutError:
        return False
    except ConnectionError:
        return True
    return True


async def open_raw(
    host: str, port: int, *, tls: ssl.SSLContext | None = None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(host, port, ssl=tls, server_hostname=None if tls is None else host)
