"""Small protocols through which services reach the edges (federation) without
importing them. ``federation/`` implements them; ``homeserver/app.py`` passes
the implementations in."""

from __future__ import annotations

from typing import Protocol

from homeserver.core.events import Event


class OutboundFederation(Protocol):
    """Delivers locally created events to the other servers in a room."""

    async def enqueue_pdu(self, event: Event, destinations: set[str]) -> None:
        """Queue durably, inside the caller's transaction (it commits with the event)."""

    def wake(self) -> None:
        """After commit: start delivering what was queued."""


class NoFederation:
    """Used while federation is disabled: events stay on this server."""

    async def enqueue_pdu(self, event: Event, destinations: set[str]) -> None:
        return None

    def wake(self) -> None:
        return None
