"""Decision 0190, session 49: AWS's retention of versions, with a fake clock, through the
service over the real KMS sealer. Beyond ``max_versions``, the oldest versions without a
label are removed only once ``version_grace`` has passed since their creation (AWS: "it
does not remove versions created less than 24 hours ago"): a write removes what it can, the
sweeper's pass the rest; a labelled version is never removed; and a secret the grace keeps
too full refuses a new version (``LimitExceeded``) rather than grow without bound; the
sweeper loop of ``serve`` makes the pass."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from andromede.iam.model import Principal, PrincipalKind
from andromede.iam.secrets import SecretSealer as IamSecretSealer
from andromede.iam.service import IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.kms.customer_keys import CustomerKeyService
from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.keys_store import MemoryCustomerKeyStore
from andromede.kms.service import KeyService
from andromede.kmsapi.authorise import KmsAuthoriser
from andromede.secrets.errors import LimitExceeded
from andromede.secrets.memory import MemorySecretStore
from andromede.secrets.model import CURRENT, PREVIOUS, Secret
from andromede.secrets.service import Actor, SecretLimits, SecretService, SecretValue
from andromede.secretsapi.authorise import KeyUser
from andromede.settings import Settings
from andromede.wiring.secrets import KmsSecretSealer, secrets_upkeep

T0 = datetime(2026, 12, 5, 12, tzinfo=UTC)
REGION = "eu-fr-1"
ACCOUNT = "111122223333"


async def _anyone(action: str, secret: Secret | None) -> None:
    return None


@pytest.fixture
def customer_keys(tmp_path: Path) -> Iterator[CustomerKeyService]:
    identity = IdentityService(MemoryIdentityStore(), IamSecretSealer(os.urandom(32)))
    keys = KeyService(LocalKeyFileProvider(tmp_path / "keys"))
    authoriser = KmsAuthoriser(identity.policies_for, REGION)
    yield CustomerKeyService(MemoryCustomerKeyStore(), keys, authoriser, region=REGION)
    keys.close()


async def test_versions_are_kept_a_day_then_removed_beyond_the_limit(
    customer_keys: CustomerKeyService,
) -> None:
    now = [T0]
    service = SecretService(
        MemorySecretStore(),
        KmsSecretSealer(customer_keys, REGION),
        SecretLimits(max_versions=3, version_grace=86400, max_versions_held=6),
        clock=lambda: now[0],
    )
    root = Principal(ACCOUNT, None, None, PrincipalKind.ROOT, f"arn:aws:iam::{ACCOUNT}:root")
    actor = Actor(ACCOUNT, REGION, _anyone, KeyUser(root, None, False, "r1"))

    async def put(n: int, stages: list[str] | None = None) -> str:
        """Value ``v<n>`` made at T0 + n minutes (the first day), else now."""
        if now[0] < T0 + timedelta(hours=1):
            now[0] = T0 + timedelta(minutes=n)
        _, version_id, _ = await service.put_value(
            actor, "s", SecretValue(f"v{n}".encode(), binary=False), stages=stages
        )
        return version_id

    async def labels() -> dict[str, tuple[str, ...]]:
        _, versions = await service.list_versions(actor, "s")
        return {v.version_id: v.stages for v in versions}

    _, first = await service.create(actor, "s", SecretValue(b"v0", binary=False))
    assert first is not None
    ids = [first, await put(1, ["keep"])] + [await put(n) for n in range(2, 6)]
    # v0, v2 and v3 have lost their labels; all six are younger than a day: none removed,
    # and a seventh would hold more than the secret may: refused.
    assert len(await labels()) == 6
    with pytest.raises(LimitExceeded, match="only 86400 seconds after their creation"):
        await put(6)
    assert len(await labels()) == 6

    # A day later v0..v2 are past their grace (v3, made at T0 + 3 min, not yet): the write
    # removes the two unlabelled ones, never v1 and its label of the caller's.
    now[0] = T0 + timedelta(days=1, minutes=2, seconds=30)
    ids.append(await put(6))
    held = await labels()
    assert list(held) == [ids[1], ids[3], ids[4], ids[5], ids[6]]
    assert held[ids[1]] == ("keep",)

    # The sweeper's pass removes the rest once their grace is over; a second pass nothing.
    assert await service.prune_versions() == 0  # v3 and v4 are still within the grace
    now[0] = T0 + timedelta(days=1, hours=1)
    assert await service.prune_versions() == 2
    assert await service.prune_versions() == 0
    assert await labels() == {ids[1]: ("keep",), ids[5]: (PREVIOUS,), ids[6]: (CURRENT,)}
    got = await service.get_value(actor, "s", version_id=ids[1])
    assert got[2] == b"v1"


async def test_no_grace_removes_at_once(customer_keys: CustomerKeyService) -> None:
    service = SecretService(
        MemorySecretStore(),
        KmsSecretSealer(customer_keys, REGION),
        SecretLimits(max_versions=2, version_grace=0, max_versions_held=2),
        clock=lambda: T0,
    )
    root = Principal(ACCOUNT, None, None, PrincipalKind.ROOT, f"arn:aws:iam::{ACCOUNT}:root")
    actor = Actor(ACCOUNT, REGION, _anyone, KeyUser(root, None, False, "r1"))
    await service.create(actor, "s", SecretValue(b"v0", binary=False))
    for n in range(1, 5):
        await service.put_value(actor, "s", SecretValue(b"v%d" % n, binary=False))
    _, versions = await service.list_versions(actor, "s")
    # Two versions made at the same instant list in their ids' order: compare as a set.
    assert sorted(v.stages for v in versions) == [(CURRENT,), (PREVIOUS,)]


async def test_the_sweeper_removes_the_ripe_versions(
    customer_keys: CustomerKeyService, tmp_path: Path
) -> None:
    now = [T0]
    service = SecretService(
        MemorySecretStore(),
        KmsSecretSealer(customer_keys, REGION),
        SecretLimits(max_versions=2, version_grace=86400, max_versions_held=10),
        clock=lambda: now[0],
    )
    root = Principal(ACCOUNT, None, None, PrincipalKind.ROOT, f"arn:aws:iam::{ACCOUNT}:root")
    actor = Actor(ACCOUNT, REGION, _anyone, KeyUser(root, None, False, "r1"))
    await service.create(actor, "s", SecretValue(b"v0", binary=False))
    for n in range(1, 4):
        await service.put_value(actor, "s", SecretValue(b"v%d" % n, binary=False))
    now[0] = T0 + timedelta(days=1)
    sweeper = asyncio.create_task(
        secrets_upkeep(Settings(data_dir=tmp_path, secrets_sweep_interval=3600), service)
    )
    try:
        for _ in range(100):  # one pass, then the sweeper sleeps an hour
            _, versions = await service.list_versions(actor, "s")
            if len(versions) == 2:
                break
            await asyncio.sleep(0)
    finally:
        sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeper
    assert sorted(v.stages for v in versions) == [(CURRENT,), (PREVIOUS,)]
