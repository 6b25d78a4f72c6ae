"""What compute tells metering is held (decision 0169): snapshots' GiB, public IPv4 addresses
and NAT gateways per tenant, over a real ComputeService on the memory hypervisor."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from andromede.compute.driver_memory import MemoryDriver
from andromede.compute.images import ImageFiles
from andromede.compute.model import Image
from andromede.compute.nat_gateway import NatGateway, NatGatewayState
from andromede.compute.service import ComputeService, RunRequest
from andromede.compute.store_memory import MemoryComputeStore
from support.computekit import OTHER, TENANT, MemoryDiskKeys, limits


@pytest.fixture
async def compute(tmp_path: Path, driver: MemoryDriver) -> AsyncIterator[ComputeService]:
    service = ComputeService(
        MemoryComputeStore(),
        [driver],
        MemoryDiskKeys(),
        limits(elastic_ip_cidr="100.66.0.0/24"),
        ImageFiles(tmp_path / "images", max_size=1024**3),
    )
    yield service
    await service.close()


async def test_snapshots_are_held_by_their_volume_size_failed_ones_not(
    compute: ComputeService,
) -> None:
    volume = await compute.create_volume(
        TENANT, size_gib=3, snapshot_id=None, availability_zone="eu-fr-1a"
    )
    other = await compute.create_volume(
        OTHER, size_gib=5, snapshot_id=None, availability_zone="eu-fr-1a"
    )
    await compute.settle()
    first = await compute.create_snapshot(TENANT, volume.volume_id)
    await compute.create_snapshot(TENANT, volume.volume_id)
    await compute.create_snapshot(OTHER, other.volume_id)
    await compute.settle()
    # A full copy each (no backing chain): two snapshots of a 3 GiB volume hold 6 GiB.
    assert await compute.snapshot_gib_by_tenant() == {TENANT: 6, OTHER: 5}
    failed = replace(first, snapshot_id="snap-0failed00000000", state="error")
    await compute.store.insert(failed)
    assert await compute.snapshot_gib_by_tenant() == {TENANT: 6, OTHER: 5}
    await compute.delete_snapshot(TENANT, first.snapshot_id)
    assert await compute.snapshot_gib_by_tenant() == {TENANT: 3, OTHER: 5}


async def test_public_addresses_idle_elastic_ips_and_running_instances_own(
    compute: ComputeService, image: Image
) -> None:
    assert await compute.public_ipv4_by_tenant() == {}
    idle = await compute.allocate_address(OTHER)  # never associated: billed all the same
    [with_own] = await compute.run_instances(TENANT, RunRequest(image.image_id, "t3.nano"))
    [private] = await compute.run_instances(
        TENANT, RunRequest(image.image_id, "t3.nano", associate_public_ip=False)
    )
    await compute.settle()
    assert await compute.public_ipv4_by_tenant() == {TENANT: 1, OTHER: 1}
    # An Elastic IP stands in for the instance's own address: still one address.
    address = await compute.allocate_address(TENANT)
    await compute.associate_address(
        TENANT, allocation_id=address.allocation_id, instance_id=with_own.instance_id
    )
    assert await compute.public_ipv4_by_tenant() == {TENANT: 1, OTHER: 1}
    # Stopped: its own address goes (as on EC2), its Elastic IP stays held.
    await compute.stop_instances(TENANT, [with_own.instance_id, private.instance_id])
    await compute.settle()
    await compute.disassociate_address(TENANT, public_ip=address.public_ip)
    assert await compute.public_ipv4_by_tenant() == {TENANT: 1, OTHER: 1}
    await compute.release_address(OTHER, allocation_id=idle.allocation_id)
    assert await compute.public_ipv4_by_tenant() == {TENANT: 1}


async def test_nat_gateways_are_held_until_deleted_or_failed(compute: ComputeService) -> None:
    def gateway(n: int, tenant: str, state: NatGatewayState) -> NatGateway:
        return NatGateway(
            f"nat-0{n:016x}", tenant, "vpc-1", "subnet-1", f"eipalloc-{n}", f"eipassoc-{n}",
            f"100.66.0.{n}", f"eni-{n}", f"10.0.0.{n}", datetime(2026, 12, 5, tzinfo=UTC),
            state=state,
        )  # fmt: skip

    for n, tenant, state in [
        (1, TENANT, NatGatewayState.PENDING),
        (2, TENANT, NatGatewayState.AVAILABLE),
        (3, TENANT, NatGatewayState.DELETED),
        (4, OTHER, NatGatewayState.DELETING),
        (5, OTHER, NatGatewayState.FAILED),
    ]:
        await compute.store.insert(gateway(n, tenant, state))
    assert await compute.nat_gateways_by_tenant() == {TENANT: 2, OTHER: 1}
