"""AWS Signer's listings in the stores (decision 0409), one contract for the memory twin,
SQLite and PostgreSQL: ``profile_page`` and ``job_page`` answer, page after page by keyset,
exactly the rows each filter admits in the listing's order (profiles by name, jobs newest
first then by id, ties on ``created`` included), the account's own and the jobs it invoked
with another's profiles, never another account's; a change of a job or a profile (revoked,
canceled, succeeded) moves it between filters, as the SQL stores' columns follow it."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.signer.listing import JobFilter, JobKey, ProfileFilter, job_key
from andromede.signer.model import (
    JobStatus,
    ProfileStatus,
    SigningJob,
    SigningProfile,
    Validity,
)
from andromede.signer.store import MemorySignerStore, SignerStore
from andromede.signer.store_sql import SqlSignerStore
from support.store_backends import BACKENDS, backend_database

OWNER = "123456789012"
PARTNER = "111122223333"
STRANGER = "999999999999"
PLATFORM = "AWSLambda-SHA384-ECDSA"


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SignerStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemorySignerStore() if db is None else SqlSignerStore(db)


def _profile(tenant_id: str, name: str, status: ProfileStatus, platform: str) -> SigningProfile:
    return SigningProfile(
        tenant_id=tenant_id, name=name, version="abcdefghij", platform_id=platform,
        validity=Validity(), sealed_key=b"sealed", public_key=b"public", created=1,
        status=status,
    )  # fmt: skip


def _job(n: int, tenant_id: str = OWNER, invoker: str = "") -> SigningJob:
    """The n-th job: its members spread so that every filter splits the set."""
    status = [JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.IN_PROGRESS][n % 3]
    signed = status == JobStatus.SUCCEEDED
    return SigningJob(
        job_id=f"job-{n:03d}", tenant_id=tenant_id, profile_name="p", profile_version="v",
        platform_id=PLATFORM if n % 4 else "Other", source_bucket="b", source_key="k",
        source_version="1", destination_bucket="d", destination_prefix="",
        requested_by=f"user{n % 2}", created=1000 + n // 3,  # ties of three on created
        status=status, expires=2000 + n * 10 if signed else None,
        revoked_at=3000 if signed and n % 2 else None, invoker=invoker,
    )  # fmt: skip


async def _all_profiles(store: SignerStore, wanted: ProfileFilter, size: int) -> list[str]:
    found: list[str] = []
    after: str | None = None
    for _ in range(100):
        page = await store.profile_page(OWNER, wanted, after, size)
        assert len(page) <= size
        found.extend(p.name for p in page)
        if len(page) < size:
            return found
        after = page[-1].name
    raise AssertionError("the pages never ended")


async def _all_jobs(store: SignerStore, tenant_id: str, wanted: JobFilter, size: int) -> list[str]:
    found: list[str] = []
    after: JobKey | None = None
    for _ in range(100):
        page = await store.job_page(tenant_id, wanted, after, size)
        assert len(page) <= size
        found.extend(j.job_id for j in page)
        if len(page) < size:
            return found
        after = job_key(page[-1])
    raise AssertionError("the pages never ended")


async def test_profiles_pages_answer_what_each_filter_admits(store: SignerStore) -> None:
    made: list[SigningProfile] = []
    statuses = itertools.cycle(ProfileStatus)
    for n in range(13):
        profile = _profile(OWNER, f"p_{n:02d}", next(statuses), PLATFORM if n % 5 else "Other")
        made.append(profile)
        assert await store.create_profile(profile)
    assert await store.create_profile(_profile(STRANGER, "p_00", ProfileStatus.ACTIVE, PLATFORM))
    filters = [
        ProfileFilter(),
        ProfileFilter(include_canceled=True),
        ProfileFilter(statuses=frozenset({ProfileStatus.REVOKED})),
        ProfileFilter(statuses=frozenset({ProfileStatus.CANCELED, ProfileStatus.ACTIVE})),
        ProfileFilter(platform_id=PLATFORM, include_canceled=True),
        ProfileFilter(platform_id="Other"),
        ProfileFilter(platform_id="None"),
    ]
    for wanted, size in itertools.product(filters, (1, 2, 5, 25)):
        expected = [p.name for p in made if wanted.admits(p)]
        assert await _all_profiles(store, wanted, size) == expected, (wanted, size)

    # A profile canceled moves out of the default listing, into the canceled one.
    active = next(p for p in made if p.status == ProfileStatus.ACTIVE)
    await store.change_profile(
        OWNER, active.name, lambda p: p.replaced(status=ProfileStatus.CANCELED)
    )
    assert active.name not in await _all_profiles(store, ProfileFilter(), 3)
    canceled = ProfileFilter(statuses=frozenset({ProfileStatus.CANCELED}))
    assert active.name in await _all_profiles(store, canceled, 3)


async def test_jobs_pages_answer_what_each_filter_admits(store: SignerStore) -> None:
    made = [_job(n) for n in range(20)]
    made += [_job(n, tenant_id=PARTNER) for n in range(20, 24)]  # the partner's own
    made += [_job(n, invoker=PARTNER) for n in range(24, 29)]  # the partner invoked
    made += [_job(n, tenant_id=STRANGER) for n in range(29, 31)]
    for job in made:
        assert await store.create_job(job) == job
    newest_first = sorted(made, key=lambda j: (-j.created, j.job_id))
    filters = [
        JobFilter(),
        JobFilter(status=JobStatus.SUCCEEDED),
        JobFilter(status=JobStatus.FAILED, platform_id=PLATFORM),
        JobFilter(platform_id="Other"),
        JobFilter(requested_by="user1"),
        JobFilter(revoked=True),
        JobFilter(revoked=False, status=JobStatus.SUCCEEDED),
        JobFilter(invoker=PARTNER),
        JobFilter(invoker=OWNER),
        JobFilter(expires_before=2105.5),
        JobFilter(expires_after=2100, expires_before=2250),
        JobFilter(expires_after=1e300),
    ]
    for tenant_id in (OWNER, PARTNER):
        mine = [j for j in newest_first if tenant_id in (j.tenant_id, j.invoker)]
        for wanted, size in itertools.product(filters, (1, 4, 25)):
            expected = [j.job_id for j in mine if wanted.admits(j)]
            found = await _all_jobs(store, tenant_id, wanted, size)
            assert found == expected, (tenant_id, wanted, size)
    assert set(await _all_jobs(store, PARTNER, JobFilter(), 3)) == {
        j.job_id for j in made if PARTNER in (j.tenant_id, j.invoker)
    }

    # A job that succeeds, then is revoked, moves between the filters as it changes.
    running = next(j for j in made if j.status == JobStatus.IN_PROGRESS and j.tenant_id == OWNER)
    succeeded = running.replaced(status=JobStatus.SUCCEEDED, expires=2_000_000_000)
    await store.put_job(succeeded)
    assert running.job_id in await _all_jobs(store, OWNER, JobFilter(expires_after=1e9), 2)
    assert running.job_id in await _all_jobs(store, OWNER, JobFilter(revoked=False), 2)
    await store.put_job(succeeded.replaced(revoked_at=4000))
    assert running.job_id in await _all_jobs(store, OWNER, JobFilter(revoked=True), 2)
    assert running.job_id not in await _all_jobs(store, OWNER, JobFilter(revoked=False), 2)
