"""The outbound IP policy: which addresses Hearth's own requests may connect to.

Design note: the check sits where a socket connects, not where a name is
parsed. aiohttp's connector hands every address it is about to connect to to
:meth:`OutboundPolicy.socket_factory`: after DNS resolution, and for IP
literals, SRV targets, ``.well-known`` delegations, redirects and configured
``federation.server_addresses`` alike. So a name that resolves to 127.0.0.1 is
refused just like the literal, and a DNS answer that changes between a check
and the connection (rebinding) cannot slip past. An address is refused when it
falls in ``outbound.deny_ranges`` and not in ``outbound.allow_ranges``; an
IPv4-mapped IPv6 address is judged as the IPv4 address it maps. Every outbound
HTTP client (federation, key and media fetches, and any later push gateway,
URL preview or appservice client) builds its connector with
:meth:`OutboundPolicy.connector`.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

import aiohttp

from homeserver.config import OutboundConfig

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class DeniedAddress(OSError):
    """A connection to an address the outbound policy refuses (nothing was sent)."""


class OutboundPolicy:
    def __init__(self, *, deny: Iterable[str], allow: Iterable[str] = ()) -> None:
        self._deny: tuple[Network, ...] = tuple(ipaddress.ip_network(r) for r in deny)
        self._allow: tuple[Network, ...] = tuple(ipaddress.ip_network(r) for r in allow)

    @classmethod
    def from_config(cls, config: OutboundConfig) -> OutboundPolicy:
        return cls(deny=config.deny_ranges, allow=config.allow_ranges)

    def permits(self, address: str) -> bool:
        """Whether a connection to the IP ``address`` is allowed (a non-IP never is)."""
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone index
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if any(ip in network for network in self._allow):
            return True
        return not any(ip in network for network in self._deny)

    def socket_factory(self, addr_info: tuple[Any, ...]) -> socket.socket:
        """aiohttp's ``socket_factory``: a socket for ``addr_info``, if its address is allowed."""
        family, type_, proto, _, sockaddr = addr_info
        if not self.permits(str(sockaddr[0])):
            raise DeniedAddress(errno.EACCES, f"{sockaddr[0]} is refused by the outbound IP policy")
        return socket.socket(family=family, type=type_, proto=proto)

    def connector(self, **kwargs: Any) -> aiohttp.TCPConnector:
        """A TCP connector (``aiohttp.TCPConnector`` arguments) that only connects where allowed."""
        return aiohttp.TCPConnector(socket_factory=self.socket_factory, **kwargs)


def refused_by_policy(error: BaseException) -> bool:
    """Whether a client error came from the outbound policy refusing every address."""
    cause = getattr(error, "os_error", None) or error.__cause__
    return isinstance(cause, DeniedAddress) or "refused by the outbound IP policy" in str(cause or "")
