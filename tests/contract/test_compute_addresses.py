"""Two gateways (two compute services, each with its own placement lock) launching into one
tenant's subnet at once, over one database (SQLite, PostgreSQL): no address and no MAC is ever
given twice; the loser of a race retries on fresh addresses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.compute.driver_memory import MemoryDriver
from andromede.compute.images import ImageFiles
from andromede.compute.network import NetworkInterface
from andromede.compute.service import ComputeService, RunRequest
from andromede.compute.store_sql import SqlComputeStore
from andromede.db.database import Database, open_database
from andromede.db.migrate import upgrade
from support.computekit import TENANT, MemoryDiskKeys, limits


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


async def test_two_gateways_never_share_an_address(database: Database, tmp_path: Path) -> None:
    keys = MemoryDiskKeys()
    gateways = [
        ComputeService(
            SqlComputeStore(database),
            [MemoryDriver(f"host-{n}", vcpus=64, memory_mib=65536)],
            keys,
            limits(max_instances_per_tenant=200, max_vcpus_per_tenant=400),
            ImageFiles(tmp_path / "images", max_size=1024**3),
        )
        for n in range(2)
    ]
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
