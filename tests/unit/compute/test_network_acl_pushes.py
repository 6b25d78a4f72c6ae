"""Network ACLs on the hosts (decision 0128): what a subnet's hosts are told to enforce — the
pure conversion of an ACL's entries, then the service over two in-memory hosts, each told the
ACLs of the VPCs it holds instances of, and none of the others."""

from __future__ import annotations

from pathlib import Path

import pytest

from andromede.compute.driver_memory import MemoryDriver
from andromede.compute.driver_network import (
    AclEntry,
    SubnetAcl,
)
from andromede.compute.errors import InvalidParameterValue, MissingParameter, Unsupported
from andromede.compute.images import ImageFiles
from andromede.compute.network import Vpc
from andromede.compute.network_acl import (
    NetworkAcl,
    default_network_acl,
    entry,
    protocol_number,
    shown_entries,
    subnet_acl,
)
from andromede.compute.service import ComputeService, RunRequest
from andromede.compute.store_memory import MemoryComputeStore
from support.computekit import OTHER, TENANT, MemoryDiskKeys, limits

ANYWHERE = "0.0.0.0/0"


def test_protocols_are_ec2s_numbers() -> None:
    assert [protocol_number(p) for p in ("-1", "all", "TCP", "6", "udp", "17", "icmp", "1")] == [
        "-1", "-1", "6", "6", "17", "17", "1", "1",
    ]  # fmt: skip
    with pytest.raises(Unsupported):
        protocol_number("58")
    with pytest.raises(InvalidParameterValue):
        protocol_number("256")


def test_an_entry_keeps_what_its_protocol_uses() -> None:
    # Ports for TCP and UDP only; all protocols match every port, as EC2 says.
    assert entry(1, egress=False, action="allow", protocol="-1", cidr=ANYWHERE, ports=(1, 2)) == (
        entry(1, egress=False, action="allow", protocol="all", cidr=ANYWHERE)
    )
    made = entry(2, egress=True, action="DENY", protocol="udp", cidr="10.1.2.3/16", ports=(53, 53))
    assert (made.action, made.cidr, made.from_port, made.to_port) == ("deny", "10.1.0.0/16", 53, 53)
    icmp = entry(3, egress=False, action="allow", protocol="icmp", cidr=ANYWHERE, icmp=(-1, -1))
    assert (icmp.icmp_type, icmp.icmp_code, icmp.from_port) == (-1, -1, None)
    with pytest.raises(MissingParameter):
        entry(4, egress=False, action="allow", protocol="tcp", cidr=ANYWHERE)
    # An ICMP type and code (decision 0130), required for ICMP, -1 for all, a code only with a
    # type, as EC2 takes them.
    echo = entry(4, egress=False, action="allow", protocol="1", cidr=ANYWHERE, icmp=(8, 0))
    assert (echo.icmp_type, echo.icmp_code) == (8, 0)
    with pytest.raises(MissingParameter, match=r"icmpTypeCode\.type"):
        entry(4, egress=False, action="allow", protocol="icmp", cidr=ANYWHERE)
    for icmp, message in (
        ((256, -1), r"\(256\) for parameter icmpTypeCode\.type"),
        ((8, 256), r"\(256\) for parameter icmpTypeCode\.code"),
        ((-2, -1), r"\(-2\) for parameter icmpTypeCode\.type"),
        ((-1, 0), r"\(0\) for parameter icmpTypeCode\.code .* All ICMP types"),
    ):
        with pytest.raises(InvalidParameterValue, match=message):
            entry(4, egress=False, action="allow", protocol="icmp", cidr=ANYWHERE, icmp=icmp)
    for number in (0, 32767):
        with pytest.raises(InvalidParameterValue):
            entry(number, egress=False, action="allow", protocol="-1", cidr=ANYWHERE)


def test_the_hosts_are_told_the_entries_without_the_catch_all() -> None:
    vpc = Vpc("vpc-1", TENANT, "10.9.0.0/16", is_default=False)
    # The default ACL is what a host holds by default: everything through.
    assert subnet_acl(default_network_acl(vpc, ())) == SubnetAcl()
    # No stored ACL yet (a VPC from before decision 0128): what its derived ACL did.
    assert subnet_acl(None) == SubnetAcl()
    acl = NetworkAcl(
        "acl-1",
        TENANT,
        vpc.vpc_id,
        (
            entry(100, egress=False, action="allow", protocol="6", cidr=ANYWHERE, ports=(22, 22)),
            entry(90, egress=True, action="deny", protocol="1", cidr=ANYWHERE, icmp=(-1, -1)),
            entry(80, egress=True, action="allow", protocol="1", cidr=ANYWHERE, icmp=(0, -1)),
            entry(70, egress=False, action="allow", protocol="1", cidr=ANYWHERE, icmp=(8, 0)),
        ),
    )
    assert subnet_acl(acl) == SubnetAcl(
        ingress=(
            AclEntry(100, True, "tcp", ANYWHERE, 22, 22),
            AclEntry(70, True, "icmp", ANYWHERE, icmp_type=8, icmp_code=0),
        ),
        egress=(
            AclEntry(90, False, "icmp", ANYWHERE),
            AclEntry(80, True, "icmp", ANYWHERE, icmp_type=0),
        ),
    )
    # An ICMP entry stored without its type and code is all ICMP (none is: EC2 needs them).
    stored = NetworkAcl(
        "acl-3",
        TENANT,
        vpc.vpc_id,
        (entry(60, egress=False, action="allow", protocol="icmp", cidr=ANYWHERE, icmp=(-1, -1)),),
    )
    assert subnet_acl(stored).ingress == (AclEntry(60, True, "icmp", ANYWHERE),)
    # A new ACL denies everything: no entry at all on the host; the * rule is shown only.
    empty = NetworkAcl("acl-2", TENANT, vpc.vpc_id)
    assert subnet_acl(empty) == SubnetAcl(ingress=(), egress=())
    assert [(e.rule_number, e.egress, e.action) for e in shown_entries(empty)] == [
        (32767, True, "deny"),
        (32767, False, "deny"),
    ]


@pytest.fixture
async def two_hosts(tmp_path: Path) -> tuple[ComputeService, MemoryDriver, MemoryDriver]:
    one = MemoryDriver("h1", vcpus=8, memory_mib=4096, underlay_address="192.0.2.1")
    two = MemoryDriver("h2", vcpus=8, memory_mib=4096, underlay_address="192.0.2.2")
    compute = ComputeService(
        MemoryComputeStore(), [one, two], MemoryDiskKeys(), limits(),
        ImageFiles(tmp_path / "images", max_size=1024**3),
    )  # fmt: skip
    return compute, one, two


async def test_every_host_holding_instances_of_the_vpc_is_told(
    two_hosts: tuple[ComputeService, MemoryDriver, MemoryDriver], tmp_path: Path
) -> None:
    compute, one, two = two_hosts
    try:
        source = tmp_path / "disk.raw"
        source.write_bytes(b"\0" * 4096)
        image = await compute.import_image_file(source, name="debian", owner_id=None)
        # A VPC of two subnets; two instances in the first, one on each host.
        vpc = await compute.create_vpc(TENANT, "10.9.0.0/16")
        web = await compute.create_subnet(TENANT, vpc.vpc_id, "10.9.1.0/24")
        db = await compute.create_subnet(TENANT, vpc.vpc_id, "10.9.2.0/24")
        request = RunRequest(image.image_id, "t3.nano", min_count=2, max_count=2,
                             subnet_id=web.subnet_id)  # fmt: skip
        launched = await compute.run_instances(TENANT, request)
        await compute.settle()
        assert {i.host for i in await compute.describe_instances(TENANT, [
            i.instance_id for i in launched])} == {"h1", "h2"}  # fmt: skip
        # Another tenant's instance on a host: none of this VPC's ACLs for it.
        await compute.run_instances(OTHER, RunRequest(image.image_id, "t3.nano"))
        await compute.settle()
        [default] = [a for a in await compute.describe_network_acls(TENANT, []) if a.vpc_id ==
                     vpc.vpc_id]  # fmt: skip
        closed = entry(100, egress=False, action="deny", protocol="-1", cidr="192.0.2.0/24")
        await compute.replace_network_acl_entry(TENANT, default.network_acl_id, closed)
        await compute.settle()
        told = SubnetAcl(ingress=(AclEntry(100, False, "-1", "192.0.2.0/24"),))
        # Both hosts, for both subnets: a VPC's hosts route all its subnets.
        for host in (one, two):
            assert (host.acls[web.subnet_id], host.acls[db.subnet_id]) == (told, told)
        theirs = (await compute.default_network(OTHER)).subnet.subnet_id
        assert {host.acls.get(theirs, SubnetAcl()) for host in (one, two)} == {SubnetAcl()}
        # A VPC with no instance anywhere: no host is told.
        idle = await compute.create_vpc(TENANT, "10.8.0.0/16")
        idle_subnet = await compute.create_subnet(TENANT, idle.vpc_id, "10.8.1.0/24")
        [idle_acl] = [a for a in await compute.describe_network_acls(TENANT, []) if a.vpc_id ==
                      idle.vpc_id]  # fmt: skip
        await compute.replace_network_acl_entry(TENANT, idle_acl.network_acl_id, closed)
        await compute.settle()
        assert idle_subnet.subnet_id not in one.acls and idle_subnet.subnet_id not in two.acls
        # A lost push is made good at start-up (reconcile), as the peers are.
        one.acls.pop(db.subnet_id)
        two.acls[web.subnet_id] = SubnetAcl()
        await compute.reconcile()
        assert (one.acls[db.subnet_id], two.acls[web.subnet_id]) == (told, told)
    finally:
        await compute.close()
