"""What the hosts are told of IPv6 (decision 0217): a subnet's /64 in its network's spec, an
instance's addresses in its NIC, and its security groups' IPv6 ranges in its firewall —
confined to its VPC's IPv6 blocks (no route leads IPv6 beyond), a group's members named by
their IPv6 addresses too."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.compute.driver_memory import MemoryDriver
from andromede.compute.driver_network import FirewallRule
from andromede.compute.images import ImageFiles
from andromede.compute.model import Image
from andromede.compute.security_group_model import parse_rule
from andromede.compute.service import ComputeService, RunRequest
from andromede.compute.store_memory import MemoryComputeStore
from support.computekit import TENANT, MemoryDiskKeys, limits


@pytest.fixture
async def compute(tmp_path: Path, driver: MemoryDriver) -> AsyncIterator[ComputeService]:
    service = ComputeService(
        MemoryComputeStore(),
        [driver],
        MemoryDiskKeys(),
        limits(ipv6_pool="fd00:ab::/48"),
        ImageFiles(tmp_path / "images", max_size=1024**3),
    )
    yield service
    await service.close()


@pytest.fixture
def driver() -> MemoryDriver:
    return MemoryDriver(vcpus=8, memory_mib=4096)


@pytest.fixture
async def image(compute: ComputeService, tmp_path: Path) -> Image:
    source = tmp_path / "disk.raw"
    source.write_bytes(b"\0" * 4096)
    return await compute.import_image_file(source, name="debian-test", owner_id=None)


async def test_the_host_is_told_the_subnets_block_the_nics_addresses_and_ipv6_rules(
    compute: ComputeService, driver: MemoryDriver, image: Image
) -> None:
    vpc = await compute.create_vpc(TENANT, "10.7.0.0/16", ipv6=True)
    [block] = vpc.ipv6_blocks
    slash64 = block.cidr.replace("/56", "/64")
    subnet = await compute.create_subnet(TENANT, vpc.vpc_id, "10.7.1.0/24", ipv6_cidr=slash64)
    group = await compute.create_security_group(TENANT, "web", "d", vpc_id=vpc.vpc_id)
    await compute.authorize(
        TENANT,
        group.group_id,
        [
            parse_rule("tcp", 80, 80, "::/0"),
            parse_rule("tcp", 443, 443, "", group_id=group.group_id),
        ],
        ingress=True,
    )
    request = RunRequest(
        image.image_id, "t3.nano", subnet_id=subnet.subnet_id,
        security_group_ids=(group.group_id,), ipv6_address_count=1,
    )  # fmt: skip
    [launched] = await compute.run_instances(TENANT, request)
    await compute.settle()
    held = driver.instances[launched.instance_id]
    nic = held.spec.nic
    assert nic is not None and nic.network.ipv6_cidr == slash64
    [address] = nic.ipv6_addresses
    assert ipaddress.IPv6Address(address) in ipaddress.IPv6Network(slash64)
    ingress = set(held.firewall.ingress)
    # ::/0 confined to the VPC's /56: nothing beyond it routes IPv6 here.
    assert FirewallRule("tcp", 80, 80, block.cidr) in ingress
    # The group's member by its IPv4 and its IPv6 address.
    assert FirewallRule("tcp", 443, 443, f"{launched.private_ip}/32") in ingress
    assert FirewallRule("tcp", 443, 443, f"{address}/128") in ingress


async def test_a_vpc_without_ipv6_tells_its_hosts_no_ipv6_range(
    compute: ComputeService, driver: MemoryDriver, image: Image
) -> None:
    """A group's ``::/0`` rule (``terraform-aws-modules`` adds one) in a VPC without an IPv6
    block reaches no host: an agent older than decision 0217 would refuse it."""
    vpc = await compute.create_vpc(TENANT, "10.8.0.0/16")
    subnet = await compute.create_subnet(TENANT, vpc.vpc_id, "10.8.1.0/24")
    group = await compute.create_security_group(TENANT, "web", "d", vpc_id=vpc.vpc_id)
    await compute.authorize(
        TENANT, group.group_id, [parse_rule("tcp", 80, 80, "::/0")], ingress=True
    )
    await compute.authorize(
        TENANT, group.group_id, [parse_rule("-1", -1, -1, "::/0")], ingress=False
    )
    request = RunRequest(
        image.image_id, "t3.nano", subnet_id=subnet.subnet_id,
        security_group_ids=(group.group_id,),
    )  # fmt: skip
    [launched] = await compute.run_instances(TENANT, request)
    await compute.settle()
    held = driver.instances[launched.instance_id]
    told = (*held.firewall.ingress, *held.firewall.egress)
    assert told and not any(":" in rule.cidr for rule in told)
