"""Decision 0289's public name servers over real UDP and TCP sockets on 127.0.0.1, asked with
dnspython: every account's public zones answered authoritatively (AA, RA clear), NXDOMAIN and
NODATA with the zone's SOA (negative TTL its minimum), REFUSED outside them and for zone
transfers, referrals for a delegation with its glue, ANY answered with one set, EDNS0 and
truncation past the UDP size, TCP framing, the first-created zone of a name answering, a
zone inside another's answered only when delegated to these servers, changes and health
flips answered at the next query, the rate limit's drops and slips, queries counted per
account, FORMERR for a malformed query; a zone's queries written as lines of AWS's query log
into its CloudWatch Logs group (decision 0305)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import socket
import struct
import time
from collections.abc import AsyncIterator, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import dns.asyncquery
import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from andromede.route53.memory import MemoryZoneStore
from andromede.route53.model import Change, HostedZone, RecordSet
from andromede.route53.public_zones import PublicZones, reachable_zones
from andromede.route53.query_log_lines import QueryLogBuffer
from andromede.route53.query_logging import MemoryQueryLogStore, QueryLoggingService
from andromede.route53.service import Route53Limits, Route53Service
from andromede.route53_query_logs import LogsQueryLogGroups, LogsQueryLogWriter
from andromede.route53api.public_dns import (
    DnsLimits,
    PublicNameServer,
    SourceRateLimit,
    Verdict,
    listen_address,
)
from andromede.wiring.route53 import query_log_targets
from support.kmskit import REGION
from support.logsapp import LogsWorld, logs_world

SERVERS = ("ns1.dns.example.net", "ns2.dns.example.net")
A1, A2 = "111111111111", "222222222222"


class Health:
    def __init__(self) -> None:
        self.status: dict[str, bool] = {}

    async def healthy(self, tenant_id: str, ids: Collection[str]) -> Mapping[str, bool]:
        return {i: self.status[i] for i in ids if i in self.status}


@dataclass
class World:
    service: Route53Service
    server: PublicNameServer
    port: int
    health: Health
    counted: list[str] = field(default_factory=list)
    clock: list[float] = field(default_factory=lambda: [1000.0])


async def make_world(
    rate: int = 0, max_age: float = 60.0, tcp: int = 256, query_logs: QueryLogBuffer | None = None
) -> World:
    now = [1_800_000_000.0]

    def wall() -> float:
        now[0] += 1
        return now[0]

    service = Route53Service(MemoryZoneStore(), Route53Limits(SERVERS), vpc_exists=_no_vpc,
                             clock=wall)  # fmt: skip
    health = Health()
    service.health = health
    clock = [1000.0]
    zones = PublicZones(service, SERVERS, max_age, clock=lambda: clock[0])
    service.public_changed = zones.invalidate
    counted: list[str] = []
    server = PublicNameServer(
        zones, DnsLimits(rate_limit=rate, max_udp_size=1232, max_tcp_connections=tcp),
        counted.append,
        clock=lambda: clock[0],
        query_logs=query_logs,
    )  # fmt: skip
    (_, port), *_ = await server.start(("127.0.0.1:0",))
    return World(service, server, port, health, counted, clock)


async def _no_vpc(tenant: str, region: str, vpc: str) -> bool:
    return False


async def zone(world: World, tenant: str, name: str, *records: RecordSet) -> HostedZone:
    made, _ = await world.service.create_zone(tenant, name, f"ref-{name}-{tenant}", "", False,
                                              None)  # fmt: skip
    if records:
        changes = [Change("CREATE", r) for r in records]
        await world.service.change_records(tenant, made.zone_id, changes)
    return made


@pytest.fixture
async def world() -> AsyncIterator[World]:
    made = await make_world()
    await zone(
        made, A1, "example.com",
        RecordSet("www.example.com.", "A", 60, ("192.0.2.1",)),
        RecordSet("api.example.com.", "CNAME", 30, ("www.example.com",)),
        RecordSet("*.apps.example.com.", "A", 20, ("192.0.2.7",)),
        RecordSet("big.example.com.", "TXT", 60, tuple(f'"{i:03d}{"x" * 90}"' for i in range(40))),
        RecordSet("lab.example.com.", "NS", 3600, ("ns.lab.example.com", "ns.other.test")),
        RecordSet("ns.lab.example.com.", "A", 3600, ("198.51.100.53",)),
        RecordSet("app.example.com.", "A", 30, ("192.0.2.10",), set_identifier="main",
                  failover="PRIMARY", health_check_id="hc-1"),
        RecordSet("app.example.com.", "A", 30, ("192.0.2.20",), set_identifier="spare",
                  failover="SECONDARY"),
    )  # fmt: skip
    try:
        yield made
    finally:
        made.server.close()


async def ask(
    world: World, name: str, kind: str = "A", tcp: bool = False, **make: object
) -> dns.message.Message:
    query = dns.message.make_query(name, kind, **make)  # type: ignore[arg-type]
    if tcp:
        return await dns.asyncquery.tcp(query, "127.0.0.1", timeout=3, port=world.port)
    return await dns.asyncquery.udp(query, "127.0.0.1", timeout=3, port=world.port)


def texts(message: dns.message.Message, section: str = "answer") -> list[tuple[str, str, int, str]]:
    return [
        (r.name.to_text(), dns.rdatatype.to_text(r.rdtype), r.ttl, d.to_text())
        for r in getattr(message, section)
        for d in r
    ]


async def test_a_public_zone_is_answered_authoritatively_without_recursion(world: World) -> None:
    answer = await ask(world, "www.example.com")
    assert answer.rcode() == dns.rcode.NOERROR
    assert answer.flags & dns.flags.AA and not answer.flags & dns.flags.RA
    assert texts(answer) == [("www.example.com.", "A", 60, "192.0.2.1")]
    chained = await ask(world, "api.example.com")
    assert texts(chained) == [
        ("api.example.com.", "CNAME", 30, "www.example.com."),
        ("www.example.com.", "A", 60, "192.0.2.1"),
    ]
    wild = await ask(world, "x.y.apps.example.com")
    assert texts(wild) == [("x.y.apps.example.com.", "A", 20, "192.0.2.7")]
    apex = await ask(world, "example.com", "NS")
    assert sorted(d for *_, d in texts(apex)) == ["ns1.dns.example.net.", "ns2.dns.example.net."]
    soa = await ask(world, "example.com", "SOA")
    assert texts(soa)[0][3].startswith("ns1.dns.example.net. awsdns-hostmaster.amazon.com. 1")


async def test_nxdomain_and_nodata_carry_the_soa_with_its_minimum_as_ttl(world: World) -> None:
    missing = await ask(world, "nope.example.com")
    assert missing.rcode() == dns.rcode.NXDOMAIN and missing.flags & dns.flags.AA
    assert not missing.answer
    ((name, kind, ttl, _),) = texts(missing, "authority")
    # The SOA's TTL is 900, its minimum 86400: the negative TTL is the lesser (RFC 2308).
    assert (name, kind, ttl) == ("example.com.", "SOA", 900)
    nodata = await ask(world, "www.example.com", "AAAA")
    assert nodata.rcode() == dns.rcode.NOERROR and not nodata.answer
    assert [k for _, k, _, _ in texts(nodata, "authority")] == ["SOA"]


async def test_names_outside_the_zones_and_transfers_are_refused(world: World) -> None:
    outside = await ask(world, "www.example.org")
    assert outside.rcode() == dns.rcode.REFUSED and not outside.flags & dns.flags.AA
    assert not outside.flags & dns.flags.RA
    for kind in ("AXFR", "IXFR"):
        transfer = await ask(world, "example.com", kind, tcp=True)
        assert transfer.rcode() == dns.rcode.REFUSED and not transfer.answer


async def test_a_delegation_inside_a_zone_is_answered_as_a_referral(world: World) -> None:
    for name in ("lab.example.com", "deep.host.lab.example.com"):
        referral = await ask(world, name)
        assert referral.rcode() == dns.rcode.NOERROR
        assert not referral.flags & dns.flags.AA and not referral.answer
        assert sorted(texts(referral, "authority")) == [
            ("lab.example.com.", "NS", 3600, "ns.lab.example.com."),
            ("lab.example.com.", "NS", 3600, "ns.other.test."),
        ]
        # Only the name server inside the cut needs its address (glue).
        assert texts(referral, "additional") == [
            ("ns.lab.example.com.", "A", 3600, "198.51.100.53")
        ]


async def test_any_is_answered_with_one_set(world: World) -> None:
    apex = await ask(world, "example.com", "ANY")
    assert apex.flags & dns.flags.AA
    assert len(apex.answer) == 1 and apex.answer[0].rdtype == dns.rdatatype.NS
    missing = await ask(world, "nope.example.com", "ANY")
    assert missing.rcode() == dns.rcode.NXDOMAIN


async def test_edns_truncation_and_tcp(world: World) -> None:
    plain = await ask(world, "big.example.com", "TXT")
    assert plain.flags & dns.flags.TC and not plain.answer
    # The client's 4096 is more than the servers send: 1232 still truncates 40 sets of 94 bytes.
    edns = await ask(world, "big.example.com", "TXT", use_edns=0, payload=4096)
    assert edns.flags & dns.flags.TC and edns.edns == 0 and edns.payload == 1232
    small = await ask(world, "www.example.com", use_edns=0, payload=4096)
    assert small.edns == 0 and not small.flags & dns.flags.TC and small.answer
    whole = await ask(world, "big.example.com", "TXT", tcp=True)
    assert not whole.flags & dns.flags.TC and len(list(whole.answer[0])) == 40
    badvers = await ask(world, "www.example.com", use_edns=1)
    assert badvers.rcode() == dns.rcode.BADVERS


async def test_several_queries_on_one_tcp_connection(world: World) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", world.port)
    try:
        for name in ("www.example.com", "nope.example.com"):
            wire = dns.message.make_query(name, "A").to_wire()
            writer.write(struct.pack("!H", len(wire)) + wire)
            await writer.drain()
            (size,) = struct.unpack("!H", await reader.readexactly(2))
            reply = dns.message.from_wire(await reader.readexactly(size))
            assert reply.question[0].name.to_text() == name + "."
    finally:
        writer.close()


async def test_a_malformed_query_is_answered_formerr(world: World) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.settimeout(3)
        udp.sendto(
            b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xff\xff", ("127.0.0.1", world.port)
        )
        reply, _ = await asyncio.to_thread(udp.recvfrom, 512)
    assert reply[:2] == b"\x12\x34" and reply[2] & 0x80 and reply[3] & 0x0F == dns.rcode.FORMERR
    still = await ask(world, "www.example.com")
    assert still.answer


async def test_the_first_zone_of_a_name_answers_and_changes_are_seen_at_once(
    world: World,
) -> None:
    other = await zone(
        world, A2, "example.com", RecordSet("www.example.com.", "A", 60, ("203.0.113.9",))
    )
    assert texts(await ask(world, "www.example.com"))[0][3] == "192.0.2.1"
    first = next(z for z in await world.service.store.zones(A1))
    await world.service.change_records(
        A1, first.zone_id,
        [Change("UPSERT", RecordSet("www.example.com.", "A", 60, ("192.0.2.99",)))],
    )  # fmt: skip
    # The cache's 60 seconds have not passed: the change invalidated it.
    assert texts(await ask(world, "www.example.com"))[0][3] == "192.0.2.99"
    assert other.zone_id != first.zone_id


async def test_a_change_made_elsewhere_is_seen_after_the_cache_age(world: World) -> None:
    assert await ask(world, "new.example.com") is not None
    first = next(z for z in await world.service.store.zones(A1))
    added = first.replaced(
        records=(*first.records, RecordSet("new.example.com.", "A", 5, ("192.0.2.5",)))
    )
    await world.service.store.replace(added)  # another gateway's write: not told here
    assert (await ask(world, "new.example.com")).rcode() == dns.rcode.NXDOMAIN
    world.clock[0] += 61
    assert texts(await ask(world, "new.example.com"))[0][3] == "192.0.2.5"


async def test_failover_follows_health_checks(world: World) -> None:
    assert texts(await ask(world, "app.example.com"))[0][3] == "192.0.2.10"
    world.health.status["hc-1"] = False
    await world.service.health_changed(A1, ["hc-1"])
    assert texts(await ask(world, "app.example.com"))[0][3] == "192.0.2.20"


async def test_a_zone_inside_another_answers_only_when_delegated_here(world: World) -> None:
    await zone(
        world, A2, "shop.example.com", RecordSet("www.shop.example.com.", "A", 60, ("203.0.113.1",))
    )
    # example.com (account A1) does not delegate shop.example.com: A2 cannot take its names.
    assert (await ask(world, "www.shop.example.com")).rcode() == dns.rcode.NXDOMAIN
    first = next(z for z in await world.service.store.zones(A1))
    delegation = RecordSet("shop.example.com.", "NS", 172800, (SERVERS[0] + ".",))
    await world.service.change_records(A1, first.zone_id, [Change("CREATE", delegation)])
    answer = await ask(world, "www.shop.example.com")
    assert answer.flags & dns.flags.AA
    assert texts(answer) == [("www.shop.example.com.", "A", 60, "203.0.113.1")]
    # Decision 0324: the child's DS is the parent's, answered and counted for A1.
    ds = RecordSet("shop.example.com.", "DS", 3600, ("2371 13 2 " + "0A" * 32,))
    await world.service.change_records(A1, first.zone_id, [Change("CREATE", ds)])
    world.counted.clear()
    ds_answer = await ask(world, "shop.example.com", "DS")
    assert ds_answer.flags & dns.flags.AA
    assert [(name, kind) for name, kind, *_ in texts(ds_answer)] == [("shop.example.com.", "DS")]
    await ask(world, "shop.example.com", "SOA")
    assert world.counted == [A1, A2]


def test_reachable_zones_rules() -> None:
    def made(zone_id: str, name: str, created: int, *records: RecordSet) -> HostedZone:
        return HostedZone(A1, zone_id, name, zone_id, "", False, created, records=records)

    zones = [
        made("Z2", "example.com.", 2),
        made("Z1", "example.com.", 1, RecordSet("a.example.com.", "NS", 60, ("ns.elsewhere.",))),
        made("Z3", "a.example.com.", 3),
        made("Z4", "other.test.", 4),
    ]
    assert sorted(z.zone_id for z in reachable_zones(zones, SERVERS)) == ["Z1", "Z4"]


async def test_queries_are_counted_for_the_zones_account(world: World) -> None:
    await ask(world, "www.example.com")
    await ask(world, "nope.example.com")
    await ask(world, "www.example.org")  # refused: nobody's
    assert world.counted == [A1, A1]


async def test_the_rate_limit_drops_and_slips_beyond_its_rate() -> None:
    made = await make_world(rate=2)
    try:
        await zone(made, A1, "example.com", RecordSet("www.example.com.", "A", 60, ("192.0.2.1",)))
        for _ in range(2):
            assert (await ask(made, "www.example.com")).answer
        # The third is dropped (no answer), the fourth slips: empty with TC.
        with pytest.raises(dns.exception.Timeout):
            query = dns.message.make_query("www.example.com", "A")
            await dns.asyncquery.udp(query, "127.0.0.1", timeout=0.5, port=made.port)
        slipped = await ask(made, "www.example.com")
        assert slipped.flags & dns.flags.TC and not slipped.answer
        # TCP is not limited: a forged source cannot open a connection.
        assert (await ask(made, "www.example.com", tcp=True)).answer
        made.clock[0] += 1
        assert (await ask(made, "www.example.com")).answer
    finally:
        made.server.close()


def test_the_rate_limit_is_per_source_and_off_at_zero() -> None:
    now = [0.0]
    limit = SourceRateLimit(1, clock=lambda: now[0])
    assert limit.judge("192.0.2.1") is Verdict.ANSWER
    assert limit.judge("192.0.2.1") is Verdict.DROP
    assert limit.judge("192.0.2.2") is Verdict.ANSWER
    assert limit.judge("192.0.2.1") is Verdict.SLIP
    now[0] += 1
    assert limit.judge("192.0.2.1") is Verdict.ANSWER
    unlimited = SourceRateLimit(0)
    assert all(unlimited.judge("192.0.2.1") is Verdict.ANSWER for _ in range(100))


def test_listen_addresses() -> None:
    assert listen_address("127.0.0.1:5353") == ("127.0.0.1", 5353)
    assert listen_address("[::1]:53") == ("::1", 53)


async def test_tcp_connections_beyond_the_bound_are_closed() -> None:
    made = await make_world(tcp=1)
    try:
        await zone(made, A1, "example.com", RecordSet("www.example.com.", "A", 60, ("192.0.2.1",)))
        held_reader, held = await asyncio.open_connection("127.0.0.1", made.port)
        await asyncio.sleep(0.05)
        reader, writer = await asyncio.open_connection("127.0.0.1", made.port)
        assert await asyncio.wait_for(reader.read(2), 3) == b""  # closed at once
        writer.close()
        held.close()
        await held.wait_closed()
        await asyncio.sleep(0.05)
        assert (await ask(made, "www.example.com", tcp=True)).answer
        assert held_reader is not None
    finally:
        made.server.close()


@pytest.fixture
def logs(tmp_path: Path) -> Iterator[LogsWorld]:
    yield from logs_world(tmp_path / "logs")


async def test_a_zones_queries_land_as_query_log_lines_in_its_group(logs: LogsWorld) -> None:
    buffer = QueryLogBuffer(100, REGION)
    world = await make_world(query_logs=buffer)
    logs.clock.now = int(time.time() * 1000)
    www = RecordSet("www.example.com.", "A", 60, ("192.0.2.1",))
    made = await zone(world, A1, "example.com", www)
    await zone(world, A2, "example.org", RecordSet("www.example.org.", "A", 60, ("192.0.2.2",)))
    group = "/aws/route53/example.com"
    await logs.service.create_group(A1, group, None, {})
    allow = {
        "Effect": "Allow",
        "Principal": {"Service": "route53.amazonaws.com"},
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": f"arn:aws:logs:{REGION}:{A1}:log-group:/aws/route53/*",
    }
    document = json.dumps({"Version": "2012-10-17", "Statement": [allow]})
    await logs.service.put_resource_policy(A1, "r53", document)
    groups = LogsQueryLogGroups(lambda: logs.service, REGION, REGION)
    store = MemoryQueryLogStore()
    configs = QueryLoggingService(world.service, store, groups, REGION)
    world.service.zone_deleted = configs.zone_deleted

    async def changed() -> None:
        await query_log_targets(store, buffer)

    configs.changed = changed
    metered: list[tuple[str, int, str]] = []
    writer = LogsQueryLogWriter(groups, lambda: logs.service,
                                lambda t, n, m: metered.append((t, n, m)))  # fmt: skip
    try:
        await ask(world, "www.example.com")  # before the configuration: not logged
        await configs.create(A1, made.zone_id, f"arn:aws:logs:{REGION}:{A1}:log-group:{group}")
        subnet = dns.edns.ECSOption("203.0.113.0", 24)
        assert (await ask(world, "WWW.example.com", use_edns=0, options=[subnet])).answer
        await ask(world, "nope.example.com", "AAAA", tcp=True)
        await ask(world, "www.example.org")  # another account's zone, not logging
        await ask(world, "elsewhere.test")  # REFUSED: no zone's
        assert await buffer.flush(writer) == 2
        events, _, _ = await logs.service.get_events(
            A1, group, f"{made.zone_id}/{REGION}", start=None, end=None,
            start_from_head=True, limit=None, token=None,
        )  # fmt: skip
        fields = [e.message.split(" ") for e in events]
        assert [f[0] for f in fields] == ["1.0", "1.0"]
        assert [f[2:] for f in fields] == [
            [made.zone_id, "WWW.example.com", "A", "NOERROR", "UDP", REGION, "127.0.0.1",
             "203.0.113.0/24"],
            [made.zone_id, "nope.example.com", "AAAA", "NXDOMAIN", "TCP", REGION,
             "127.0.0.1", "-"],
        ]  # fmt: skip
        assert all(f[1].endswith("Z") and "T" in f[1] for f in fields)
        assert [m[0] for m in metered] == [A1]
        await world.service.change_records(A1, made.zone_id, [Change("DELETE", www)])
        await world.service.delete_zone(A1, made.zone_id)  # its configuration goes with it
        assert await store.every() == []
        assert not buffer.logs(made.zone_id)
    finally:
        world.server.close()


async def test_the_workers_of_one_serve_share_the_name_servers_port(world: World) -> None:
    """Every worker of a ``serve`` listens on ``route53_dns_listen`` (SO_REUSEPORT): a second
    server on the same port starts, where it used to fail with "address already in use" and
    leave the port to the first worker alone; both answer."""
    twins = [
        PublicNameServer(
            PublicZones(world.service, SERVERS, 0.0),
            DnsLimits(rate_limit=0, max_udp_size=1232, max_tcp_connections=8),
            lambda tenant: None,
        )
        for _ in range(2)
    ]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    try:
        for twin in twins:
            assert await twin.start((f"127.0.0.1:{port}",)) == [("127.0.0.1", port)]
        shared = dataclasses.replace(world, port=port)
        for _ in range(8):  # whichever of the two the kernel gives each query to
            for tcp in (False, True):
                answer = await ask(shared, "www.example.com", tcp=tcp)
                assert texts(answer) == [("www.example.com.", "A", 60, "192.0.2.1")]
    finally:
        for twin in twins:
            twin.close()
