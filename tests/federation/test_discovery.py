"""Server name resolution, step by step, with fake well-known and SRV answers."""

from __future__ import annotations

import pytest

from federation.discovery import Endpoint, ServerResolver, UnresolvableServer
from homeserver.clock import FakeClock


def _resolver(well_known=None, srv=None, overrides=None, calls=None):
    async def fetch(host):
        if calls is not None:
            calls.append(host)
        answer = (well_known or {}).get(host)
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def lookup(name):
        return (srv or {}).get(name, [])

    return ServerResolver(well_known=fetch, srv=lookup, overrides=overrides, clock=FakeClock())


@pytest.mark.parametrize("name, expected", [
    ("1.2.3.4", Endpoint("1.2.3.4", 8448, "1.2.3.4", "1.2.3.4")),
    ("1.2.3.4:99", Endpoint("1.2.3.4", 99, "1.2.3.4:99", "1.2.3.4")),
    ("[::1]:99", Endpoint("::1", 99, "[::1]:99", "::1")),
    ("example.org:99", Endpoint("example.org", 99, "example.org:99", "example.org")),
])
async def test_ip_literals_and_explicit_ports_skip_discovery(name, expected):
    calls: list[str] = []
    assert await _resolver(calls=calls).resolve(name) == expected
    assert calls == []


async def test_well_known_delegation():
    resolver = _resolver(
        well_known={
            "a.org": {"m.server": "matrix.a.org:443"},
            "b.org": {"m.server": "10.0.0.1"},
            "c.org": {"m.server": "fed.c.org"},
            "d.org": {"m.server": "fed.d.org"},
        },
        srv={"_matrix-fed._tcp.fed.c.org": [(10, 0, 8009, "host.c.org.")]},
    )
    assert await resolver.resolve("a.org") == Endpoint("matrix.a.org", 443, "matrix.a.org:443", "matrix.a.org")
    assert await resolver.resolve("b.org") == Endpoint("10.0.0.1", 8448, "10.0.0.1", "10.0.0.1")
    assert await resolver.resolve("c.org") == Endpoint("host.c.org", 8009, "fed.c.org", "fed.c.org")
    assert await resolver.resolve("d.org") == Endpoint("fed.d.org", 8448, "fed.d.org", "fed.d.org")


async def test_without_delegation_srv_then_the_default_port():
    resolver = _resolver(
        well_known={"e.org": OSError("connection refused")},
        srv={
            "_matrix-fed._tcp.e.org": [(20, 0, 1, "slow.e.org."), (10, 5, 8010, "fast.e.org.")],
            "_matrix._tcp.g.org": [(10, 0, 8011, "legacy.g.org.")],
        },
    )
    assert await resolver.resolve("e.org") == Endpoint("fast.e.org", 8010, "e.org", "e.org")
    assert await resolver.resolve("g.org") == Endpoint("legacy.g.org", 8011, "g.org", "g.org")
    assert await resolver.resolve("f.org") == Endpoint("f.org", 8448, "f.org", "f.org")


async def test_results_are_cached_and_overrides_win():
    calls: list[str] = []
    resolver = _resolver(well_known={"a.org": {"m.server": "x.a.org:1"}}, calls=calls,
                         overrides={"test.local": "127.0.0.1:8449"})
    await resolver.resolve("a.org")
    await resolver.resolve("a.org")
    assert calls == ["a.org"]
    assert await resolver.resolve("test.local") == Endpoint("127.0.0.1", 8449, "test.local", "test.local")
    with pytest.raises(UnresolvableServer):
        await resolver.resolve("not a server name")
