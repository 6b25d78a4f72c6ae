"""Decision 0395's name servers per delegation set, over real UDP and TCP sockets on
127.0.0.2, 127.0.0.3 and 127.0.0.4: an address answers as the name servers
``route53_name_server_addresses`` gives it, so only the zones whose servers (their reusable
delegation set's, else every configured one) include one of them, REFUSED for the others as
an authoritative server answers a zone it does not serve; of two zones of one name on
different servers, each address answers the one it serves; an address no name maps to
answers every zone, as before."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import dns.asyncquery
import dns.flags
import dns.message
import dns.rcode
import pytest

from andromede.route53.delegation_sets import (
    DelegationSetLimits,
    DelegationSetService,
    MemoryDelegationSetStore,
)
from andromede.route53.memory import MemoryZoneStore
from andromede.route53.model import Change, RecordSet
from andromede.route53.public_zones import PublicZones
from andromede.route53.service import Route53Limits, Route53Service
from andromede.route53api.public_dns import DnsLimits, PublicNameServer
from andromede.settings import Settings
from andromede.wiring.route53 import public_name_server

SERVERS = tuple(f"ns{i}.dns.example.net" for i in range(1, 9))
A1, A2 = "111111111111", "222222222222"
INSIDE, OUTSIDE, EVERY = "127.0.0.2", "127.0.0.3", "127.0.0.4"


async def _no_vpc(tenant: str, region: str, vpc: str) -> bool:
    return False


@dataclass
class Served:
    server: PublicNameServer
    ports: dict[str, int]
    set_servers: tuple[str, ...]


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    now = [1_800_000_000.0]

    def wall() -> float:  # each zone made a second after the one before
        now[0] += 1
        return now[0]

    service = Route53Service(MemoryZoneStore(), Route53Limits(SERVERS), _no_vpc, clock=wall)
    set_store = MemoryDelegationSetStore()
    sets = DelegationSetService(service, set_store, SERVERS, DelegationSetLimits())
    chosen = await sets.create(A1, "set-1", None)
    assert len(chosen.name_servers) == 4  # four of the eight
    outside = next(s for s in SERVERS if s not in chosen.name_servers)

    async def zone(tenant: str, name: str, address: str, set_id: str | None = None) -> None:
        made, _ = await service.create_zone(tenant, name, f"ref-{name}-{tenant}", "", False,
                                            None, set_id)  # fmt: skip
        record = RecordSet(f"www.{name}.", "A", 60, (address,))
        await service.change_records(tenant, made.zone_id, [Change("CREATE", record)])

    await zone(A1, "on-set.test", "192.0.2.1", chosen.set_id)
    await zone(A1, "default.test", "192.0.2.2")
    await zone(A1, "twice.test", "192.0.2.3", chosen.set_id)  # made first: on the set
    await zone(A2, "twice.test", "192.0.2.4")  # every configured server

    async def set_servers(tenant_id: str, set_id: str) -> tuple[str, ...] | None:
        found = await set_store.get(tenant_id, set_id)
        return None if found is None else found.name_servers

    zones = PublicZones(service, SERVERS, 60.0, set_servers=set_servers)
    server = PublicNameServer(
        zones,
        DnsLimits(rate_limit=0),
        served={
            f"{INSIDE}:0": frozenset({chosen.name_servers[0] + "."}),
            f"{OUTSIDE}:0": frozenset({outside + "."}),
        },
    )
    bound = await server.start((f"{INSIDE}:0", f"{OUTSIDE}:0", f"{EVERY}:0"))
    try:
        yield Served(server, dict(bound), chosen.name_servers)
    finally:
        server.close()


async def _ask(served: Served, host: str, name: str, tcp: bool) -> dns.message.Message:
    query = dns.message.make_query(name, "A")
    port = served.ports[host]
    if tcp:
        return await dns.asyncquery.tcp(query, host, timeout=5, port=port)
    return await dns.asyncquery.udp(query, host, timeout=5, port=port)


def _address(answer: dns.message.Message) -> str | None:
    assert answer.rcode() == dns.rcode.NOERROR
    assert answer.flags & dns.flags.AA
    return answer.answer[0][0].to_text() if answer.answer else None


@pytest.mark.parametrize("tcp", [False, True])
async def test_an_address_answers_only_the_zones_of_its_name_servers(
    served: Served, tcp: bool
) -> None:
    inside = await _ask(served, INSIDE, "www.on-set.test", tcp)
    assert _address(inside) == "192.0.2.1"
    refused = await _ask(served, OUTSIDE, "www.on-set.test", tcp)
    assert refused.rcode() == dns.rcode.REFUSED
    assert not refused.answer and not refused.flags & dns.flags.AA
    for host in (INSIDE, OUTSIDE, EVERY):  # a zone without a set: every server's
        assert _address(await _ask(served, host, "www.default.test", tcp)) == "192.0.2.2"
    assert _address(await _ask(served, EVERY, "www.on-set.test", tcp)) == "192.0.2.1"


@pytest.mark.parametrize("tcp", [False, True])
async def test_two_zones_of_one_name_are_each_answered_by_their_own_servers(
    served: Served, tcp: bool
) -> None:
    assert _address(await _ask(served, INSIDE, "www.twice.test", tcp)) == "192.0.2.3"
    assert _address(await _ask(served, OUTSIDE, "www.twice.test", tcp)) == "192.0.2.4"
    # An address serving every name: the zone made first, as decision 0289 answers.
    assert _address(await _ask(served, EVERY, "www.twice.test", tcp)) == "192.0.2.3"


def test_the_setting_maps_names_to_listen_addresses() -> None:
    shared = {SERVERS[0]: "127.0.0.2:53", "NS2.dns.example.net.": "127.0.0.2:53"}
    settings = Settings(
        route53_dns_listen=("127.0.0.2:53", "127.0.0.3:53"),
        route53_name_servers=SERVERS[:2],
        route53_name_server_addresses=shared,
    )
    assert settings.route53_name_server_addresses[SERVERS[0]] == "127.0.0.2:53"
    with pytest.raises(ValueError, match="not an address of route53_dns_listen"):
        Settings(route53_dns_listen=("127.0.0.2:53",),
                 route53_name_server_addresses={SERVERS[0]: "127.0.0.9:53"})  # fmt: skip
    with pytest.raises(ValueError, match="is no host name"):
        Settings(route53_dns_listen=("127.0.0.2:53",),
                 route53_name_server_addresses={"": "127.0.0.2:53"})  # fmt: skip
    service = Route53Service(MemoryZoneStore(), Route53Limits(SERVERS), vpc_exists=_no_vpc)
    server = public_name_server(service, settings, None)
    assert server.served == {
        "127.0.0.2:53": frozenset({"ns1.dns.example.net.", "ns2.dns.example.net."})
    }
