"""The outbound IP policy: which addresses are refused, and that the connector asks it."""

from __future__ import annotations

import socket

import aiohttp
import pytest

from homeserver.config import OutboundConfig
from homeserver.outbound import DeniedAddress, OutboundPolicy, refused_by_policy
from tests.support.sockets import tcp_targets

DEFAULT = OutboundPolicy.from_config(OutboundConfig())


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.255.0.9", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254",
    "100.64.0.1", "0.0.0.0", "0.1.2.3", "192.0.0.8", "198.18.0.1", "224.0.0.1", "255.255.255.255", "240.0.0.1",
    "::1", "::", "fe80::1", "fe80::1%eth0", "fc00::1", "fd12:3456::1", "fec0::1", "ff02::1", "2001:db8::1",
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::127.0.0.1", "64:ff9b::7f00:1", "2002:7f00:1::", "2001:0:4136::1",
    "not-an-ip", "",
])
def test_the_default_refuses_special_addresses(address):
    assert not DEFAULT.permits(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "172.32.0.1", "2001:4860:4860::8888", "::ffff:8.8.8.8"])
def test_the_default_allows_public_addresses(address):
    assert DEFAULT.permits(address)


def test_allow_ranges_win_over_deny_ranges():
    policy = OutboundPolicy(deny=OutboundConfig().deny_ranges, allow=["127.0.0.0/8"])
    assert policy.permits("127.0.0.1") and policy.permits("::ffff:127.0.0.2")
    assert not policy.permits("::1") and not policy.permits("10.0.0.1")


def test_the_socket_factory_refuses_before_a_socket_exists():
    with pytest.raises(DeniedAddress):
        DEFAULT.socket_factory((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 80)))
    allowed = DEFAULT.socket_factory((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("8.8.8.8", 80)))
    allowed.close()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_the_connector_checks_the_resolved_address(host):
    async with tcp_targets("plain_http") as [target]:
        async with aiohttp.ClientSession(connector=DEFAULT.connector()) as session:
            with pytest.raises(aiohttp.ClientConnectorError) as e:
                await session.get(f"http://{host}:{target.port}/")
        assert refused_by_policy(e.value)
        allowing = OutboundPolicy(deny=OutboundConfig().deny_ranges, allow=["127.0.0.0/8", "::1/128"])
        async with aiohttp.ClientSession(connector=allowing.connector()) as session:
            async with session.get(f"http://127.0.0.1:{target.port}/") as resp:
                assert resp.status == 404
    assert target.connections == 1
