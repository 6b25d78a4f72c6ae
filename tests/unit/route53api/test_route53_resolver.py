"""Decisions 0280 and 0284: a private hosted zone associated with a VPC is answered by that
VPC's zone responder, to which its resolver forwards the zone. What the responder answers of
overlapping zones (the most specific wins, no fallthrough), the resolver's arguments, and the
control plane telling the VPC's hosts again (the memory hypervisor) when a zone's records or
VPCs change."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path

import dns.message
import dns.rcode
import pytest

from andromede.compute.driver_network import VpcDns
from andromede.hypervisor.vpc_dns import forwarder_command, resolver_command
from andromede.route53.answers import ZoneAnswers
from andromede.route53.memory import MemoryZoneStore
from andromede.route53.model import AliasTarget, Change, HostedZone, RecordSet, made_records
from andromede.route53.responder_data import responder_document
from andromede.route53.service import Route53Limits, Route53Service
from support.ec2app import World, ec2_world


def test_the_most_specific_zone_answers_its_names() -> None:
    parent = (
        RecordSet("db.team.corp.internal.", "A", 60, ("10.0.0.9",)),
        RecordSet("www.corp.internal.", "A", 60, ("10.0.0.5",)),
    )
    child = (RecordSet("api.team.corp.internal.", "CNAME", 30, ("www.corp.internal",)),)
    service_zones = [
        HostedZone(
            "t", zone_id, name, zone_id, "", True, 0,
            records=made_records(name, ("ns.example",)) + records,
        )
        for zone_id, name, records in (
            ("Z1", "corp.internal.", parent),
            ("Z2", "team.corp.internal.", child),
        )
    ]  # fmt: skip
    answers = ZoneAnswers(responder_document(service_zones, {}, {}))
    assert answers.zones == ("team.corp.internal.", "corp.internal.")
    # db.team.corp.internal is under the more specific zone, which does not hold it: not
    # answered (no fallthrough to corp.internal).
    missing = answers.respond(dns.message.make_query("db.team.corp.internal", "A"))
    assert missing.rcode() == dns.rcode.NXDOMAIN and not missing.answer
    assert missing.authority[0].name.to_text() == "team.corp.internal."
    chained = answers.respond(dns.message.make_query("api.team.corp.internal", "A"))
    assert [(r.name.to_text(), r.ttl, [d.to_text() for d in r]) for r in chained.answer] == [
        ("api.team.corp.internal.", 30, ["www.corp.internal."]),
        ("www.corp.internal.", 60, ["10.0.0.5"]),
    ]


def test_the_resolver_forwards_each_private_zone_to_the_responder_only() -> None:
    dns_settings = VpcDns(private_zones=("corp.internal", "team.corp.internal"), zone_document="{}")
    command = resolver_command(
        pidfile=Path("/run/x.pid"), vpc_cidr="10.0.0.0/16", dns=dns_settings,
        upstream=["192.0.2.53"],
    )  # fmt: skip
    assert command is not None
    assert "--server=/corp.internal/127.0.0.1#5300" in command
    assert "--server=/team.corp.internal/127.0.0.1#5300" in command
    assert not any(arg.startswith("--local=/corp") for arg in command)
    # Decision 0353: the instance's address reaches the responder as a client subnet.
    assert "--add-subnet=32,128" in command
    without = resolver_command(
        pidfile=Path("/run/x.pid"), vpc_cidr="10.0.0.0/16", dns=VpcDns(), upstream=["192.0.2.53"]
    )
    assert without is not None and "--add-subnet=32,128" not in without
    assert without[-1] == "--server=192.0.2.53"
    with pytest.raises(ValueError, match="no zone name"):
        VpcDns(private_zones=("a,b",))


def test_other_names_reach_the_upstream_resolvers_without_the_client_subnet() -> None:
    """Decision 0373: while the resolver adds the instance's address to what it forwards, it
    forwards other names to the router's forwarder only, which strips the subnet before asking
    the upstream resolvers; without private zones (no subnet added) or without upstream
    resolvers, there is no forwarder."""
    zoned = VpcDns(private_zones=("corp.internal",), zone_document="{}")
    upstream = ["192.0.2.53", "192.0.2.54"]
    command = resolver_command(
        pidfile=Path("/run/r.pid"), vpc_cidr="10.0.0.0/16", dns=zoned, upstream=upstream
    )
    assert command is not None
    servers = [arg for arg in command if arg.startswith("--server=")]
    assert servers == ["--server=/corp.internal/127.0.0.1#5300", "--server=127.0.0.1#5301"]
    forwarder = forwarder_command(pidfile=Path("/run/f.pid"), dns=zoned, upstream=upstream)
    assert forwarder == [
        "dnsmasq", "--pid-file=/run/f.pid", "--port=5301", "--bind-interfaces",
        "--listen-address=127.0.0.1", "--no-hosts", "--no-resolv", "--strip-subnet",
        "--server=192.0.2.53", "--server=192.0.2.54",
    ]  # fmt: skip
    assert "--add-subnet=32,128" not in forwarder
    # No upstream: other names are refused, as without private zones; no forwarder.
    alone = resolver_command(
        pidfile=Path("/run/r.pid"), vpc_cidr="10.0.0.0/16", dns=zoned, upstream=[]
    )
    assert alone is not None
    assert [arg for arg in alone if arg.startswith("--server=")] == [servers[0]]
    assert forwarder_command(pidfile=Path("/run/f.pid"), dns=zoned, upstream=[]) is None
    plain = VpcDns()
    assert forwarder_command(pidfile=Path("/run/f.pid"), dns=plain, upstream=upstream) is None
    off = VpcDns(support=False, private_zones=("corp.internal",))
    assert forwarder_command(pidfile=Path("/run/f.pid"), dns=off, upstream=upstream) is None


async def test_a_zones_change_is_told_to_its_vpcs_hosts(tmp_path: Path) -> None:
    async with ec2_world(tmp_path) as world:
        await _told(world)


async def _told(world: World) -> None:
    vpc = await world.root.call("CreateVpc", CidrBlock="10.9.0.0/16")
    vpc_id = vpc["Vpc"]["VpcId"]
    subnet = await world.root.call("CreateSubnet", VpcId=vpc_id, CidrBlock="10.9.4.0/24")
    await world.root.call(
        "RunInstances", ImageId=world.image.image_id, InstanceType="t3.nano", MinCount=1,
        MaxCount=1, SubnetId=subnet["Subnet"]["SubnetId"],
    )  # fmt: skip
    await world.compute.settle()
    compute = world.compute

    async def vpc_exists(tenant_id: str, region: str, wanted: str) -> bool:
        return await compute.owns_vpc(tenant_id, wanted)

    service = Route53Service(
        MemoryZoneStore(),
        Route53Limits(name_servers=("ns.example",)),
        vpc_exists,
        vpcs_changed=compute.push_vpc_dns,
    )
    compute.private_zones = service.vpc_zones
    zone, _ = await service.create_zone(
        world.tenant_id, "corp.internal", "r", "", True, ("eu-fr-1", vpc_id)
    )
    await service.change_records(
        world.tenant_id,
        zone.zone_id,
        [Change("CREATE", RecordSet("db.corp.internal.", "A", 60, ("10.9.4.20",)))],
    )
    told = world.driver.vpc_dns[vpc_id]
    assert told.private_zones == ("corp.internal",)
    db = ZoneAnswers(told.zone_document).answer("db.corp.internal.", "A").answer
    assert [(r.ttl, [d.to_text() for d in r]) for r in db] == [(60, ["10.9.4.20"])]
    await service.change_records(
        world.tenant_id,
        zone.zone_id,
        [Change("DELETE", RecordSet("db.corp.internal.", "A", 60, ("10.9.4.20",)))],
    )
    assert "db.corp.internal" not in world.driver.vpc_dns[vpc_id].zone_document
    await _health_and_load_balancers(world, service, zone.zone_id, vpc_id)
    await service.delete_zone(world.tenant_id, zone.zone_id)
    assert world.driver.vpc_dns[vpc_id].private_zones == ()


class Statuses:
    """A ``HealthLookup`` the test flips, as decision 0285's checks would."""

    def __init__(self) -> None:
        self.status: dict[str, bool] = {}
        self.asked: list[tuple[str, set[str]]] = []

    async def healthy(self, tenant_id: str, ids: Collection[str]) -> Mapping[str, bool]:
        self.asked.append((tenant_id, set(ids)))
        return {i: self.status[i] for i in ids if i in self.status}


async def _health_and_load_balancers(
    world: World, service: Route53Service, zone_id: str, vpc_id: str
) -> None:
    """Decision 0284: the VPC's document carries each set's health as the lookup says it, and
    a status flip told with ``health_changed`` reaches the VPC's hosts; an alias to a load
    balancer is its addresses, TTL 60."""
    statuses = Statuses()
    service.health = statuses

    async def balancers(tenant: str, target: AliasTarget, kind: str) -> tuple[str, ...] | None:
        return ("10.9.4.50",) if target.hosted_zone_id == "ZELB" else None

    service.alias_targets = balancers
    lb = AliasTarget("ZELB", "web-1.elb.eu-fr-1.example.test.", False)
    await service.change_records(
        world.tenant_id,
        zone_id,
        [
            Change("CREATE", RecordSet("app.corp.internal.", "A", 20, ("10.9.4.21",),
                   set_identifier="main", failover="PRIMARY", health_check_id="hc-1")),
            Change("CREATE", RecordSet("app.corp.internal.", "A", 20, ("10.9.4.22",),
                   set_identifier="spare", failover="SECONDARY")),
            Change("CREATE", RecordSet("lb.corp.internal.", "A", 0, (), alias=lb)),
        ],
    )  # fmt: skip

    def answered(name: str) -> list[tuple[int, list[str]]]:
        document = world.driver.vpc_dns[vpc_id].zone_document
        found = ZoneAnswers(document).answer(name, "A").answer
        return [(r.ttl, [d.to_text() for d in r]) for r in found]

    assert answered("app.corp.internal.") == [(20, ["10.9.4.21"])]
    assert answered("lb.corp.internal.") == [(60, ["10.9.4.50"])]
    assert (world.tenant_id, {"hc-1"}) in statuses.asked
    statuses.status["hc-1"] = False
    assert answered("app.corp.internal.") == [(20, ["10.9.4.21"])]  # not told yet
    await service.health_changed(world.tenant_id, ["hc-other"])
    assert answered("app.corp.internal.") == [(20, ["10.9.4.21"])]  # no zone names it
    await service.health_changed(world.tenant_id, ["hc-1"])
    assert answered("app.corp.internal.") == [(20, ["10.9.4.22"])]
    await service.change_records(
        world.tenant_id,
        zone_id,
        [
            Change("DELETE", RecordSet("app.corp.internal.", "A", 20, ("10.9.4.21",),
                   set_identifier="main", failover="PRIMARY", health_check_id="hc-1")),
            Change("DELETE", RecordSet("app.corp.internal.", "A", 20, ("10.9.4.22",),
                   set_identifier="spare", failover="SECONDARY")),
            Change("DELETE", RecordSet("lb.corp.internal.", "A", 0, (), alias=lb)),
        ],
    )  # fmt: skip
