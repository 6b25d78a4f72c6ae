"""Two gateways (two compute services, each with its own placement lock) launching into one
tenant's subnet at once, over one database (SQLite, PostgreSQL): no address and no MAC is ever
given twice; the loser of a race retries on fresh addresses; a client token launches once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from andromede.compute.driver_memory import MemoryDriver
from andromede.compute.errors import IdempotentParameterMismatch
from andromede.compute.images import ImageFiles
from andromede.compute.model import Instance, Volume, VolumeState
from andromede.compute.network import NetworkInterface
from andromede.compute.service import ComputeService, RunRequest
from andromede.compute.store_sql import SqlComputeStore
from andromede.db.database import Database, open_database
from andromede.db.migrate import upgrade
from support.computekit import OTHER, TENANT, MemoryDiskKeys, limits


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
    else:
        url = f"sqlite:///{tmp_path / 'meta.db'}"
        upgrade(url)
    db = open_database(url)
    try:
        yield db
    finally:
        await db.close()


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
