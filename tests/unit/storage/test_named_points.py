"""The shared memory twin of the access-point-like stores (decision 0405): its refusals in
the SQL store's order — the name, the quota, then the alias — each the kind's own error."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from andromede.storage.model import PublicAccessBlock
from andromede.storage.multi_region_access_points import (
    MemoryMultiRegionAccessPointStore,
    MultiRegionAccessPoint,
    MultiRegionAccessPointExists,
    MultiRegionAccessPointQuotaExceeded,
)
from andromede.storage.named_points import PointExists, PointQuotaExceeded, random_alias

ACCOUNT = "111111111111"


def point(name: str, alias: str) -> MultiRegionAccessPoint:
    return MultiRegionAccessPoint(ACCOUNT, name, alias, (), PublicAccessBlock(), datetime.now(UTC))


async def test_the_name_then_the_quota_then_the_alias() -> None:
    store = MemoryMultiRegionAccessPointStore()
    await store.create(point("one", "aaaaaaaaaaaaa.mrap"), quota=2)
    with pytest.raises(MultiRegionAccessPointExists):
        await store.create(point("one", "bbbbbbbbbbbbb.mrap"), quota=2)
    with pytest.raises(MultiRegionAccessPointExists, match=r"aaaaaaaaaaaaa\.mrap"):
        await store.create(point("two", "aaaaaaaaaaaaa.mrap"), quota=2)
    # At the quota, an alias taken is refused as the quota.
    with pytest.raises(MultiRegionAccessPointQuotaExceeded):
        await store.create(point("two", "aaaaaaaaaaaaa.mrap"), quota=1)
    assert issubclass(MultiRegionAccessPointExists, PointExists)
    assert issubclass(MultiRegionAccessPointQuotaExceeded, PointQuotaExceeded)


async def test_a_change_of_no_such_point_is_false() -> None:
    store = MemoryMultiRegionAccessPointStore()
    assert not await store.set_policy(ACCOUNT, "none", "{}")
    assert not await store.set_routes(ACCOUNT, "none", ())


def test_random_alias_keeps_the_name_s_head_without_a_trailing_hyphen() -> None:
    alias = random_alias("ab-" + "c" * 60, prefix=3, random=14, suffix="--ol-s3")
    assert alias.startswith("ab-") and alias.endswith("--ol-s3")
    assert len(alias) == len("ab") + 1 + 14 + len("--ol-s3")
