"""The public name servers' UDP and TCP sockets (``route53.dns_sockets``, decision 0357): a
port drawn by the kernel for UDP and taken over TCP is given up and another drawn; a port
asked for is not redrawn; nothing is left open behind a failure. The zone responder's side
is ``tests/unit/hypervisor/test_zone_responder.py``."""

from __future__ import annotations

import errno

import pytest

from andromede.route53.dns_sockets import PORT_DRAWS
from andromede.route53.memory import MemoryZoneStore
from andromede.route53.public_zones import PublicZones
from andromede.route53.service import Route53Limits, Route53Service
from andromede.route53api.public_dns import DnsLimits, PublicNameServer
from support.dns_ports import tcp_refusing, udp_port_free

SERVERS = ("ns-1.example.net", "ns-2.example.net")


async def _no_vpc(tenant: str, region: str, vpc: str) -> bool:
    return False


def _name_server() -> PublicNameServer:
    service = Route53Service(MemoryZoneStore(), Route53Limits(SERVERS), vpc_exists=_no_vpc)
    return PublicNameServer(PublicZones(service, SERVERS, 60.0), DnsLimits())


async def test_a_drawn_port_taken_over_tcp_is_given_up_and_another_drawn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tried = tcp_refusing(monkeypatch, refusals=1)
    server = _name_server()
    try:
        (host, port), *_ = await server.start(("127.0.0.1:0",))
        assert (host, len(tried)) == ("127.0.0.1", 2)
        assert port == tried[1] and tried[0] != tried[1]
        assert udp_port_free(tried[0])  # the first draw's UDP socket was closed
    finally:
        server.close()


async def test_the_last_draw_s_failure_is_raised_with_nothing_left_open(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tried = tcp_refusing(monkeypatch, refusals=PORT_DRAWS)
    with pytest.raises(OSError, match="already in use"):
        await _name_server().start(("127.0.0.1:0",))
    assert len(tried) == PORT_DRAWS
    assert all(udp_port_free(port) for port in tried)


async def test_another_failure_is_not_redrawn(monkeypatch: pytest.MonkeyPatch) -> None:
    tried = tcp_refusing(monkeypatch, refusals=1, code=errno.EACCES)
    with pytest.raises(OSError, match="Permission denied"):
        await _name_server().start(("127.0.0.1:0",))
    assert len(tried) == 1
    assert udp_port_free(tried[0])
