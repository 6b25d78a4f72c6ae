"""The default VPC deleted while another call makes it on first need (decision 0137): the first
need's insert carries the tenant's DefaultVpcState, so it fails against the record the deletion
wrote, and the deleted VPC is not made again behind the tenant's back."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from andromede.compute.driver_memory import MemoryDriver
from andromede.compute.images import ImageFiles
from andromede.compute.network import DefaultVpcState, Subnet, Vpc, default_ids
from andromede.compute.routing import default_internet_gateway_id
from andromede.compute.service import ComputeService
from andromede.compute.store import Record
from andromede.compute.store_memory import MemoryComputeStore
from support.computekit import OTHER, TENANT, MemoryDiskKeys, limits


class _RacedStore(MemoryComputeStore):
    """The memory store, running ``before_first_default`` once, just before the first insert
    of a default VPC — as another gateway's calls landing between a first need's reads and
    its write."""

    def __init__(self) -> None:
        super().__init__()
        self.before_first_default: Callable[[], Awaitable[None]] | None = None

    async def insert(self, *records: Record) -> None:
        hook = self.before_first_default
        if hook is not None and any(isinstance(r, Vpc) and r.is_default for r in records):
            self.before_first_default = None
            await hook()
        await super().insert(*records)


@pytest.fixture
async def raced(tmp_path: Path) -> AsyncIterator[tuple[ComputeService, _RacedStore]]:
    store = _RacedStore()
    service = ComputeService(
        store,
        [MemoryDriver(vcpus=8, memory_mib=4096)],
        MemoryDiskKeys(),
        limits(),
        ImageFiles(tmp_path / "images", max_size=1024**3),
    )
    yield service, store
    await service.close()


async def test_a_first_need_racing_the_deletion_does_not_make_the_vpc_again(
    raced: tuple[ComputeService, _RacedStore],
) -> None:
    compute, store = raced
    ids = default_ids(TENANT)

    async def made_and_deleted_meanwhile() -> None:
        await compute.default_network(TENANT)  # the other gateway's first need wins
        await compute.delete_subnet(TENANT, ids.subnet_id)
        gateway_id = default_internet_gateway_id(TENANT)
        await compute.detach_internet_gateway(TENANT, gateway_id, ids.vpc_id)
        await compute.delete_internet_gateway(TENANT, gateway_id)
        await compute.delete_vpc(TENANT, ids.vpc_id)

    store.before_first_default = made_and_deleted_meanwhile
    # This call read no record and no VPC, then lost the race: it finds the deletion.
    assert await compute.default_network_if_any(TENANT) is None
    assert store.before_first_default is None  # the race did happen
    assert await store.get(Vpc, ids.vpc_id) is None
    assert await store.list(Subnet, TENANT) == []
    assert await store.get(DefaultVpcState, TENANT) == DefaultVpcState(TENANT, None, revision=1)
    # Another tenant's first need is untouched by it.
    assert (await compute.default_network(OTHER)).vpc.vpc_id == default_ids(OTHER).vpc_id


async def test_a_tenant_whose_default_vpc_predates_the_record_deletes_it_likewise(
    raced: tuple[ComputeService, _RacedStore],
) -> None:
    """A default VPC made before decision 0137 has no record: it is found by its derived ids,
    and its deletion inserts the record saying none."""
    compute, store = raced
    ids = default_ids(TENANT)
    await compute.default_network(TENANT)
    await store.delete(DefaultVpcState, TENANT)  # as written before the record existed
    assert (await compute.default_network(TENANT)).vpc.vpc_id == ids.vpc_id
    assert await store.get(DefaultVpcState, TENANT) is None  # no write on read
    await compute.delete_subnet(TENANT, ids.subnet_id)
    gateway_id = default_internet_gateway_id(TENANT)
    await compute.detach_internet_gateway(TENANT, gateway_id, ids.vpc_id)
    await compute.delete_internet_gateway(TENANT, gateway_id)
    await compute.delete_vpc(TENANT, ids.vpc_id)
    assert await store.get(DefaultVpcState, TENANT) == DefaultVpcState(TENANT, None)
    assert await compute.default_network_if_any(TENANT) is None
