"""Decision 0280's part 2: a private hosted zone associated with a VPC is answered by that
VPC's resolver. What the resolver answers of overlapping zones (the most specific wins, no
fallthrough), dnsmasq's arguments for each served type, and the control plane telling the
VPC's hosts again (the memory hypervisor) when a zone's records or VPCs change."""

from __future__ import annotations

from pathlib import Path

import pytest

from andromede.compute.driver_network import VpcDns
from andromede.hypervisor.vpc_dns import resolver_command, zone_record_args
from andromede.route53.memory import MemoryZoneStore
from andromede.route53.model import Change, HostedZone, RecordSet, made_records, resolver_view
from andromede.route53.service import Route53Limits, Route53Service
from support.ec2app import World, ec2_world


def test_the_most_specific_zone_answers_its_names() -> None:
    parent = (
        RecordSet("db.team.corp.internal.", "A", 60, ("10.0.0.9",)),
        RecordSet("www.corp.internal.", "A", 60, ("10.0.0.5",)),
    )
    child = (RecordSet("api.team.corp.internal.", "CNAME", 60, ("www.corp.internal",)),)
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
    zones, records = resolver_view(service_zones)
    assert zones == ("corp.internal", "team.corp.internal")
    # db.team.corp.internal is under the more specific zone, which does not hold it: not
    # answered (no fallthrough to corp.internal); SOA and NS are the zones' own.
    assert records == (
        ("api.team.corp.internal", "CNAME", "www.corp.internal"),
        ("www.corp.internal", "A", "10.0.0.5"),
    )


def test_dnsmasq_answers_each_served_type() -> None:
    args = zone_record_args(
        [
            ("www.corp.internal", "A", "10.0.0.5"),
            ("www.corp.internal", "AAAA", "fd00::5"),
            ("api.corp.internal", "CNAME", "www.corp.internal."),
            ("corp.internal", "MX", "10 mail.corp.internal."),
            ("_sip._tcp.corp.internal", "SRV", "1 10 5060 sip.corp.internal."),
            ("5.0.0.10.in-addr.arpa", "PTR", "www.corp.internal."),
            ("corp.internal", "TXT", '"v=spf1 -all" "a, b"'),
            ("corp.internal", "CAA", '0 issue "letsencrypt.org"'),
        ]
    )
    assert args == [
        "--host-record=www.corp.internal,10.0.0.5",
        "--host-record=www.corp.internal,fd00::5",
        "--cname=api.corp.internal,www.corp.internal",
        "--mx-host=corp.internal,mail.corp.internal,10",
        "--srv-host=_sip._tcp.corp.internal,sip.corp.internal,5060,1,10",
        "--ptr-record=5.0.0.10.in-addr.arpa,www.corp.internal",
        '--txt-record=corp.internal,"v=spf1 -all","a, b"',
        "--caa-record=corp.internal,0,issue,letsencrypt.org",
    ]
    dns = VpcDns(
        private_zones=("corp.internal",),
        zone_records=(("www.corp.internal", "A", "10.0.0.5"),),
    )
    command = resolver_command(
        pidfile=Path("/run/x.pid"), vpc_cidr="10.0.0.0/16", dns=dns, upstream=["192.0.2.53"]
    )
    assert command is not None
    assert "--local=/corp.internal/" in command
    assert "--host-record=www.corp.internal,10.0.0.5" in command
    with pytest.raises(ValueError, match="line break"):
        VpcDns(private_zones=("a.b",), zone_records=(("x.a.b", "TXT", '"a"\n--server=1.1.1.1'),))
    with pytest.raises(ValueError, match="no record"):
        VpcDns(private_zones=("a.b",), zone_records=(("x,y.a.b", "A", "10.0.0.1"),))


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
    assert told.zone_records == (("db.corp.internal", "A", "10.9.4.20"),)
    await service.change_records(
        world.tenant_id,
        zone.zone_id,
        [Change("DELETE", RecordSet("db.corp.internal.", "A", 60, ("10.9.4.20",)))],
    )
    assert world.driver.vpc_dns[vpc_id].zone_records == ()
    await service.delete_zone(world.tenant_id, zone.zone_id)
    assert world.driver.vpc_dns[vpc_id].private_zones == ()
