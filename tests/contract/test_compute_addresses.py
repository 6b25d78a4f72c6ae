"""Two gateways (two compute services, each with its own placement lock) launching into one
tenant's subnet at once, over one database (SQLite, PostgreSQL): no address and no MAC is ever
given twice; the loser of a race retries on fresh addresses; a client token launches once.
Subnets made at once in one VPC never overlap, and a VPC deleted while a subnet is made keeps
no orphan subnet (decision 0100). A DHCP options set deleted while a VPC is associated with it,
the deletion having counted no VPC associated, is refused (decision 0143)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from andromede.compute.dhcp_options import DhcpOptions
from andromede.compute.driver_memory import MemoryDriver
from andromede.compute.errors import (
    IdempotentParameterMismatch,
    NotFound,
    ResourceInUse,
)
from andromede.compute.images import ImageFiles
from andromede.compute.model import Instance, Volume, VolumeState
from andromede.compute.network import NetworkInterface, Subnet, Vpc
from andromede.compute.service import ComputeService, RunRequest
from andromede.compute.store_sql import SqlComputeStore
from andromede.db.database import Database
from support.computekit import OTHER, TENANT, MemoryDiskKeys, limits
from support.store_backends import SQL_BACKENDS, sql_database


@pytest.fixture(params=SQL_BACKENDS)
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    async with sql_database(request, tmp_path) as db:
        yield db


def gateways_over(
    database: Database, tmp_path: Path, drivers: list[MemoryDriver], **limit_changes: int
) -> list[ComputeService]:
    """One compute service per driver (a gateway each, with its own placement lock), over one
    database, sharing the disk keys and the image library."""
    keys = MemoryDiskKeys()
    return [
        ComputeService(
            SqlComputeStore(database),
            [driver],
            keys,
            limits(**limit_changes),
            ImageFiles(tmp_path / "images", max_size=1024**3),
        )
        for driver in drivers
    ]


async def test_two_gateways_never_share_an_address(database: Database, tmp_path: Path) -> None:
    drivers = [MemoryDriver(f"host-{n}", vcpus=64, memory_mib=65536) for n in range(2)]
    gateways = gateways_over(
        database, tmp_path, drivers, max_instances_per_tenant=200, max_vcpus_per_tenant=400
    )
    source = tmp_path / "disk.raw"
    source.write_bytes(b"\0" * 4096)
    image = await gateways[0].import_image_file(source, name="debian", owner_id=None)
    request = RunRequest(image.image_id, "t3.nano", min_count=4, max_count=4)
    try:
        batches = await asyncio.gather(
            *(gateway.run_instances(TENANT, request) for gateway in gateways for _ in range(3))
        )
        for gateway in gateways:
            await gateway.settle()
        launched = [i for batch in batches for i in batch]
        assert len(launched) == 24
        addresses = [i.private_ip for i in launched]
        assert len(set(addresses)) == 24
        assert len({i.mac for i in launched}) == 24
        held = await gateways[0].store.list(NetworkInterface, TENANT)
        assert sorted(i.private_ip or "" for i in held) == sorted(a or "" for a in addresses)
        # One default network for the tenant, whichever gateway created it.
        assert len({i.vpc_id for i in launched}) == 1
        assert len({i.security_group_ids for i in launched}) == 1
    finally:
        for gateway in gateways:
            await gateway.close()


async def test_a_client_token_launches_once_whichever_gateway_gets_it(
    database: Database, tmp_path: Path
) -> None:
    """The same tokened RunInstances on two gateways at once (a retry overtaking a slow first
    attempt): one reservation, which both answer with; reused with other parameters, the
    token is a mismatch; another account's same token is its own."""
    drivers = [MemoryDriver(f"host-{n}", vcpus=64, memory_mib=65536) for n in range(2)]
    gateways = gateways_over(database, tmp_path, drivers)
    source = tmp_path / "disk.raw"
    source.write_bytes(b"\0" * 4096)
    image = await gateways[0].import_image_file(source, name="debian", owner_id=None)
    request = RunRequest(image.image_id, "t3.nano", min_count=2, max_count=2, client_token="tok-1")
    try:
        answers = await asyncio.gather(
            *(gateway.run_instances(TENANT, request) for gateway in gateways for _ in range(2))
        )
        for gateway in gateways:
            await gateway.settle()
        assert len({tuple(i.instance_id for i in answer) for answer in answers}) == 1
        assert len({answer[0].reservation_id for answer in answers}) == 1
        live = await gateways[0].store.list(Instance, TENANT)
        assert sorted(i.instance_id for i in live) == sorted(i.instance_id for i in answers[0])
        assert {i.client_token for i in live} == {"tok-1"}
        assert len(await gateways[0].store.list(NetworkInterface, TENANT)) == 2
        again = await gateways[1].run_instances(TENANT, request)  # after the fact: the same
        assert [i.instance_id for i in again] == [i.instance_id for i in answers[0]]
        with pytest.raises(IdempotentParameterMismatch):
            await gateways[1].run_instances(TENANT, replace(request, instance_type="t3.micro"))
        theirs = await gateways[0].run_instances(OTHER, request)
        assert not {i.instance_id for i in theirs} & {i.instance_id for i in live}
    finally:
        for gateway in gateways:
            await gateway.close()


async def test_a_client_token_makes_one_volume_whichever_gateway_gets_it(
    database: Database, tmp_path: Path
) -> None:
    """CreateVolume with one token on two gateways at once: one record and one disk, on one
    host; the loser never touched its host."""
    drivers = [MemoryDriver(f"host-{n}", vcpus=8, memory_mib=8192) for n in range(2)]
    gateways = gateways_over(database, tmp_path, drivers)

    async def create(gateway: ComputeService, size: int = 4) -> Volume:
        return await gateway.create_volume(
            TENANT,
            size_gib=size,
            snapshot_id=None,
            availability_zone="eu-fr-1a",
            client_token="vol-token",
        )

    try:
        answers = await asyncio.gather(*(create(gateway) for gateway in gateways for _ in range(2)))
        assert len({v.volume_id for v in answers}) == 1
        [stored] = await gateways[0].store.list(Volume, TENANT)
        assert stored.volume_id == answers[0].volume_id
        assert stored.state is VolumeState.AVAILABLE
        assert sum(stored.volume_id in driver.volumes for driver in drivers) == 1
        assert (await create(gateways[1])).volume_id == stored.volume_id
        with pytest.raises(IdempotentParameterMismatch):
            await create(gateways[1], size=8)
    finally:
        for gateway in gateways:
            await gateway.close()


class _MeetingStore(SqlComputeStore):
    """The SQL store, whose first listing of subnets waits until every gateway has made its
    own: both have then read the VPC's subnets before either writes, the race's worst order."""

    def __init__(self, database: Database, barrier: asyncio.Barrier) -> None:
        super().__init__(database)
        self._barrier: asyncio.Barrier | None = barrier

    async def list(self, kind: Any, tenant_id: str | None) -> Any:
        found = await super().list(kind, tenant_id)
        if kind is Subnet and tenant_id is not None and self._barrier is not None:
            barrier, self._barrier = self._barrier, None
            await barrier.wait()
        return found


async def test_two_gateways_never_make_overlapping_subnets(
    database: Database, tmp_path: Path
) -> None:
    """Each subnet is inserted by a change of its VPC (decision 0100): of two overlapping
    subnets made at once on two gateways, both having seen none, one is made and the other
    sees it."""
    barrier = asyncio.Barrier(2)
    gateways = [
        ComputeService(
            _MeetingStore(database, barrier),
            [MemoryDriver(f"host-{n}")],
            MemoryDiskKeys(),
            limits(),
            ImageFiles(tmp_path / "images", max_size=1024**3),
        )
        for n in range(2)
    ]
    vpc = await SqlComputeStore(database).get(Vpc, (await _vpc(database, tmp_path)).vpc_id)
    assert vpc is not None
    results = await asyncio.gather(
        gateways[0].create_subnet(TENANT, vpc.vpc_id, "10.9.0.0/24"),
        gateways[1].create_subnet(TENANT, vpc.vpc_id, "10.9.0.0/25"),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["CidrConflict", "Subnet"], results
    held = [s for s in await gateways[0].store.list(Subnet, TENANT) if s.vpc_id == vpc.vpc_id]
    assert [s.subnet_id for s in held] == [r.subnet_id for r in results if isinstance(r, Subnet)]


async def _vpc(database: Database, tmp_path: Path) -> Vpc:
    plain = ComputeService(
        SqlComputeStore(database),
        [],
        MemoryDiskKeys(),
        limits(),
        ImageFiles(tmp_path / "images", max_size=1024**3),
    )
    return await plain.create_vpc(TENANT, "10.9.0.0/16")


async def test_a_vpc_deleted_while_a_subnet_is_made_keeps_no_orphan(
    database: Database, tmp_path: Path
) -> None:
    drivers = [MemoryDriver(f"host-{n}") for n in range(2)]
    gateways = gateways_over(database, tmp_path, drivers)
    for _ in range(3):
        vpc = await gateways[0].create_vpc(TENANT, "10.9.0.0/16")
        results = await asyncio.gather(
            gateways[0].delete_vpc(TENANT, vpc.vpc_id),
            gateways[1].create_subnet(TENANT, vpc.vpc_id, "10.9.1.0/24"),
            return_exceptions=True,
        )
        deleted, subnet = results
        subnets = await gateways[0].store.list(Subnet, TENANT)
        if isinstance(subnet, Subnet):
            # The subnet came first: the deletion saw it.
            assert isinstance(deleted, ResourceInUse), results
            assert subnet.subnet_id in {s.subnet_id for s in subnets}
            await gateways[0].delete_subnet(TENANT, subnet.subnet_id)
            await gateways[0].delete_vpc(TENANT, vpc.vpc_id)
        else:
            # The VPC went first: no subnet of it was made.
            assert deleted is None and isinstance(subnet, NotFound), results
            assert not [s for s in subnets if s.vpc_id == vpc.vpc_id]
        assert await gateways[0].store.get(Vpc, vpc.vpc_id) is None


class _HeldStore(SqlComputeStore):
    """The SQL store whose first listing of VPCs, once ``armed``, says so and waits until
    ``go`` is set: the other gateway writes in between."""

    def __init__(self, database: Database) -> None:
        super().__init__(database)
        self.armed = False
        self.listed = asyncio.Event()
        self.go = asyncio.Event()

    async def list(self, kind: Any, tenant_id: str | None) -> Any:
        found = await super().list(kind, tenant_id)
        if kind is Vpc and self.armed:
            self.armed = False
            self.listed.set()
            await self.go.wait()
        return found


async def test_a_set_deleted_while_associated_is_refused(
    database: Database, tmp_path: Path
) -> None:
    held = _HeldStore(database)
    deleter = ComputeService(
        held,
        [MemoryDriver("host-0")],
        MemoryDiskKeys(),
        limits(),
        ImageFiles(tmp_path / "images", max_size=1024**3),
    )
    [associator] = gateways_over(database, tmp_path, [MemoryDriver("host-1")])
    try:
        vpc = await associator.create_vpc(TENANT, "10.9.0.0/16")
        options = await associator.create_dhcp_options(TENANT, [("domain-name", ["x.test"])])
        held.armed = True
        deletion = asyncio.ensure_future(
            deleter.delete_dhcp_options(TENANT, options.dhcp_options_id)
        )
        await held.listed.wait()  # the deletion counted no VPC associated
        await associator.associate_dhcp_options(TENANT, options.dhcp_options_id, vpc.vpc_id)
        held.go.set()
        outcome = await asyncio.gather(deletion, return_exceptions=True)
        assert isinstance(outcome[0], ResourceInUse), outcome
        assert await associator.store.get(DhcpOptions, options.dhcp_options_id) is not None
        stored = await associator.store.get(Vpc, vpc.vpc_id)
        assert stored is not None and stored.dhcp_options_id == options.dhcp_options_id
    finally:
        await deleter.close()
        await associator.close()
