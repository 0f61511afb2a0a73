"""Guards for the HTTP listeners against slow and greedy clients.

Design note: four rules, each enforced where aiohttp gives a hook for it.

* **Request heads.** A connection must send a complete request head within
  ``listen.header_timeout`` of opening, or of its previous response ending.
  aiohttp's keep-alive timer starts at exactly those moments and closes a
  connection still waiting for a complete head, so the runner sets that timer
  to the header timeout (idle keep-alive connections close then too).
* **Request bodies.** Once a head has arrived, its body must arrive by
  ``body_timeout`` seconds plus one second per ``body_min_rate`` bytes
  received so far: a steady upload keeps earning time, a trickle runs out. A
  timer checks the deadline (no task per request); when it passes, the
  request fails with ``408`` and the connection closes (a handler that is not
  reading its body is cancelled: it cannot finish without it).
* **Connections per address.** The low-level server counts open connections
  per client address and closes any beyond ``max_connections_per_address`` as
  soon as it is accepted (not behind ``listen.x_forwarded``, where every
  connection comes from the proxy).
* **Disconnects.** A long-poll (``/sync``, media waiting for an upload) runs
  inside :meth:`ConnectionGuard.cancelled_on_disconnect`: when its client's
  connection closes, the work is cancelled instead of running to its timeout
  for nobody. Other requests finish what they started (a send whose client
  left still commits, notifies and federates).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import structlog
from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from homeserver.config import ListenConfig
from homeserver.errors import MatrixError

logger = structlog.get_logger(__name__)

#: Seconds a handler has to answer ``408`` once its request body is late.
CLOSE_GRACE_S = 1.0


def _gone() -> MatrixError:
    """What a long-poll whose client left answers (to no one; the request log shows ``499``)."""
    return MatrixError("M_UNKNOWN", "The client disconnected", status=499)


@dataclass(frozen=True)
class ListenerLimits:
    header_timeout: float
    body_timeout: float
    body_min_rate: int
    #: ``None``: no cap (behind a reverse proxy).
    max_connections_per_address: int | None

    @classmethod
    def for_listener(cls, listen: ListenConfig, *, behind_proxy: bool) -> ListenerLimits:
        return cls(
            header_timeout=listen.header_timeout,
            body_timeout=listen.body_timeout,
            body_min_rate=listen.body_min_rate,
            max_connections_per_address=None if behind_proxy else listen.max_connections_per_address,
        )


class ConnectionGuard:
    """One listener's connections: counted per address, with their long-polls."""

    def __init__(self, limits: ListenerLimits) -> None:
        self.limits = limits
        self._per_address: dict[str, int] = {}
        self._address_of: dict[RequestHandler, str] = {}
        self._long_polls: dict[RequestHandler, set[asyncio.Task[Any]]] = {}
        self._disconnected: set[asyncio.Task[Any]] = set()

    # -- connections (called by the guarded server) ----------------------------------------

    def opened(self, protocol: RequestHandler, transport: asyncio.Transport) -> bool:
        """Count a new connection; ``False`` if its address already has its share."""
        peer = transport.get_extra_info("peername")
        cap = self.limits.max_connections_per_address
        if cap is None or not peer:
            return True
        address = str(peer[0])
        count = self._per_address.get(address, 0)
        if count >= cap:
            return False
        if count + 1 == cap:
            logger.info("connections_per_address_reached", ip=address, limit=cap)
        self._per_address[address] = count + 1
        self._address_of[protocol] = address
        return True

    def closed(self, protocol: RequestHandler) -> None:
        address = self._address_of.pop(protocol, None)
        if address is not None:
            left = self._per_address[address] - 1
            if left:
                self._per_address[address] = left
            else:
                del self._per_address[address]
        for task in self._long_polls.pop(protocol, ()):
            self._disconnected.add(task)
            task.cancel()

    # -- long-polls (used by routes) ----------------------------------------------------------

    @contextmanager
    def cancelled_on_disconnect(self, request: web.Request) -> Iterator[None]:
        """Run the block, cancelling it if the client disconnects (then ``499``, to no one)."""
        task = asyncio.current_task()
        assert task is not None
        if request.transport is None:
            raise _gone()
        polls = self._long_polls.setdefault(request.protocol, set())
        polls.add(task)
        try:
            yield
        except asyncio.CancelledError:
            if task not in self._disconnected:
                raise
            self._disconnected.discard(task)
            task.uncancel()
            raise _gone() from None
        finally:
            polls.discard(task)
            if not polls and self._long_polls.get(request.protocol) is polls:
                del self._long_polls[request.protocol]

    # -- request bodies (called by the guarded server) ------------------------------------------

    def watch_body(self, request: web.BaseRequest) -> _BodyDeadline | None:
        """Start the body deadline of a request that has a body (cancel it when the request is done)."""
        return _BodyDeadline(request, self.limits) if request.body_exists else None


class _BodyDeadline:
    """When one request's body must have arrived (see the module note); a timer, no task.

    When it passes, the body's reader fails with ``408`` (the handler answers it
    the usual way) and the connection closes once that answer is written; a
    handler that does not get there within :data:`CLOSE_GRACE_S` is cancelled
    and its connection closed without an answer.
    """

    def __init__(self, request: web.BaseRequest, limits: ListenerLimits) -> None:
        self.expired = False
        self._request = request
        self._limits = limits
        self._loop = asyncio.get_running_loop()
        self._started = self._loop.time()
        self._timer = self._loop.call_at(self._started + limits.body_timeout, self._check)

    def cancel(self) -> None:
        self._timer.cancel()

    def _check(self) -> None:
        request, content = self._request, self._request.content
        if content.is_eof() or request.transport is None:
            return
        deadline = self._started + self._limits.body_timeout + content.total_bytes / self._limits.body_min_rate
        if self._loop.time() < deadline:
            self._timer = self._loop.call_at(deadline, self._check)
            return
        logger.info("request_body_timeout", ip=request.remote, path=request.path, received=content.total_bytes)
        self.expired = True
        content.set_exception(web.HTTPRequestTimeout(text="The request body did not arrive in time"))
        self._timer = self._loop.call_later(CLOSE_GRACE_S, self._abandon)

    def _abandon(self) -> None:
        self._request.protocol.force_close()
        self._request.task.cancel()

    async def answer_and_close(self, response: web.StreamResponse) -> None:
        try:
            await response.prepare(self._request)
            await response.write_eof()
        except ConnectionError:
            pass
        self._request.protocol.force_close()


class _GuardedServer(web.Server):
    """aiohttp's low-level server, reporting connections and request bodies to a guard."""

    def __init__(self, handler: Any, *, guard: ConnectionGuard, **kwargs: Any) -> None:
        async def guarded(request: web.BaseRequest) -> web.StreamResponse:
            deadline = guard.watch_body(request)
            if deadline is None:
                return await handler(request)
            try:
                response = await handler(request)
            finally:
                deadline.cancel()
            if deadline.expired:
                await deadline.answer_and_close(response)
            return response

        super().__init__(guarded, **kwargs)
        self._guard = guard

    def connection_made(self, handler: RequestHandler, transport: asyncio.Transport) -> None:
        super().connection_made(handler, transport)
        if not self._guard.opened(handler, transport):
            transport.abort()

    def connection_lost(self, handler: RequestHandler, exc: BaseException | None = None) -> None:
        self._guard.closed(handler)
        super().connection_lost(handler, exc)


class GuardedAppRunner(web.AppRunner):
    """An :class:`aiohttp.web.AppRunner` whose connections ``guard`` watches (no access log:
    Hearth's middleware logs requests)."""

    __slots__ = ("_guard",)

    def __init__(self, app: web.Application, guard: ConnectionGuard, *, shutdown_timeout: float) -> None:
        super().__init__(
            app, handle_signals=False, shutdown_timeout=shutdown_timeout, access_log=None,
            keepalive_timeout=guard.limits.header_timeout,
        )
        self._guard = guard

    async def _make_server(self) -> web.Server:
        plain = await super()._make_server()  # starts the application
        return _GuardedServer(
            plain.request_handler, guard=self._guard, request_factory=plain.request_factory,
            loop=asyncio.get_running_loop(), access_log=None, keepalive_timeout=self._guard.limits.header_timeout,
        )
