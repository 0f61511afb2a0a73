"""Loopback ports for servers a test must name before they start (federation
address maps, real ``hearth run`` processes).

A port the kernel hands out for ``bind(0)`` comes from the ephemeral range,
which every outgoing connection on the machine draws from too, so it can be
taken again before the server binds it. Ports are therefore drawn at random
from below the ephemeral range, where only listeners live, and checked free.
"""

from __future__ import annotations

import random
import socket

_LOW, _HIGH = 20_000, 32_000


def _ephemeral_floor() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def free_port() -> int:
    """A loopback TCP port nothing listens on, outside the ephemeral range."""
    high = min(_HIGH, _ephemeral_floor() - 1)
    for _ in range(200):
        port = random.randint(_LOW, high)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free loopback port below the ephemeral range")
