"""AWS Signer's stores (decisions 0394, 0403), one contract for the memory twin, SQLite and
PostgreSQL, with writers at once: a profile change reads and writes in one step, so eight
AddProfilePermission calls made together keep all eight statements (each on the revision the
one before left) and tags added together are all kept; two first StartSigningJob calls with
the same ``clientRequestToken`` start one job and both answer it; a job is found by its id
and by its token, and listed to the account that started it with another's profile."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.service import KeyService
from andromede.signer.errors import SignerConflict
from andromede.signer.listing import JobFilter
from andromede.signer.model import SigningJob
from andromede.signer.service import SignerService
from andromede.signer.store import MemorySignerStore, SignerStore
from andromede.signer.store_sql import SqlSignerStore
from andromede.wiring.queues import KeySealer
from support.dict_objects import DictObjects
from support.lambda_functions import handler_zip
from support.store_backends import BACKENDS, backend_database

OWNER = "123456789012"
PARTNER = "111122223333"
PLATFORM = {"platformId": "AWSLambda-SHA384-ECDSA"}
ARN = f"arn:aws:signer:eu-fr-1:{OWNER}:/signing-profiles/shared"


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SignerStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemorySignerStore() if db is None else SqlSignerStore(db)


@pytest.fixture
async def signer(store: SignerStore, tmp_path: Path) -> AsyncIterator[SignerService]:
    keys = KeyService(LocalKeyFileProvider(tmp_path / "keys"))
    objects = DictObjects()
    objects.kept[("src", "app.zip")] = handler_zip()
    try:
        yield SignerService(store, "eu-fr-1", KeySealer(keys), objects)
    finally:
        keys.close()


async def _jobs(store: SignerStore, tenant_id: str) -> list[SigningJob]:
    """Every job the account lists (no filter, one page larger than any here)."""
    return await store.job_page(tenant_id, JobFilter(), None, 1000)


def _job(token: str, owner: str | None = None) -> dict[str, Any]:
    job: dict[str, Any] = {
        "profileName": "shared",
        "source": {"s3": {"bucketName": "src", "key": "app.zip", "version": "1"}},
        "destination": {"s3": {"bucketName": "dst", "prefix": ""}},
        "clientRequestToken": token,
    }
    if owner is not None:
        job["profileOwner"] = owner
    return job


async def test_permissions_added_at_once_lose_none(signer: SignerService) -> None:
    await signer.put_profile(OWNER, "shared", PLATFORM)

    async def grant(n: int) -> str:
        params = {
            "action": "signer:GetSigningProfile",
            "principal": PARTNER,
            "statementId": f"s{n}",
        }
        return await signer.add_permission(OWNER, "shared", params)

    revisions = await asyncio.gather(*(grant(n) for n in range(8)))
    kept = await signer.profile(OWNER, "shared")
    assert sorted(p.statement_id for p in kept.permissions) == [f"s{n}" for n in range(8)]
    assert len(set(revisions)) == 8 and kept.policy_revision in revisions


async def test_a_revision_given_is_checked_on_the_profile_as_stored(signer: SignerService) -> None:
    """Two changes made at once on the same revision: one lands, the other is a conflict
    (never both, the second over the first)."""
    await signer.put_profile(OWNER, "shared", PLATFORM)
    base = await signer.add_permission(
        OWNER, "shared", {"action": "signer:StartSigningJob", "principal": PARTNER,
                          "statementId": "base"}
    )  # fmt: skip

    async def grant(n: int) -> str | None:
        params = {"action": "signer:GetSigningProfile", "principal": PARTNER,
                  "statementId": f"s{n}", "revisionId": base}  # fmt: skip
        try:
            return await signer.add_permission(OWNER, "shared", params)
        except SignerConflict:
            return None

    landed = [r for r in await asyncio.gather(*(grant(n) for n in range(4))) if r is not None]
    kept = await signer.profile(OWNER, "shared")
    assert len(landed) == 1 and len(kept.permissions) == 2 and kept.policy_revision == landed[0]


async def test_tags_added_at_once_lose_none(signer: SignerService) -> None:
    await signer.put_profile(OWNER, "shared", PLATFORM)
    await asyncio.gather(*(signer.tag_profile(OWNER, ARN, {f"k{n}": "v"}) for n in range(8)))
    assert (await signer.profile(OWNER, "shared")).tags == {f"k{n}": "v" for n in range(8)}


@pytest.mark.parametrize("invoker", [OWNER, PARTNER])
async def test_first_calls_at_once_with_one_token_start_one_job(
    signer: SignerService, store: SignerStore, invoker: str
) -> None:
    await signer.put_profile(OWNER, "shared", PLATFORM)
    await signer.add_permission(
        OWNER, "shared", {"action": "signer:StartSigningJob", "principal": PARTNER,
                          "statementId": "partner"}
    )  # fmt: skip
    token = uuid.uuid4().hex
    params = _job(token, None if invoker == OWNER else OWNER)
    started = await asyncio.gather(
        *(signer.start_job(object(), invoker, params, f"arn:aws:iam::{invoker}:root")
          for _ in range(4))
    )  # fmt: skip
    assert len({job.job_id for job in started}) == 1
    listed = [j for j in await _jobs(store, OWNER) if j.client_token == token]
    assert len(listed) == 1
    [job] = listed
    assert await store.job_by_token(OWNER, job.invoker, token) == job
    assert await store.job_by_id(job.job_id) == job
    # The same token from another invoker is another job.
    other = PARTNER if invoker == OWNER else OWNER
    again = await signer.start_job(
        object(), other, _job(token, None if other == OWNER else OWNER), "x"
    )
    assert again.job_id != job.job_id


async def test_a_created_job_answers_an_earlier_one_of_its_token(
    signer: SignerService, store: SignerStore
) -> None:
    await signer.put_profile(OWNER, "shared", PLATFORM)
    first = await signer.start_job(object(), OWNER, _job("t"), "me")
    racing = first.replaced(job_id=str(uuid.uuid4()))
    assert await store.create_job(racing) == first  # the token's job, nothing written
    assert await store.job(OWNER, racing.job_id) is None
    untokened = first.replaced(job_id=str(uuid.uuid4()), client_token="")
    assert await store.create_job(untokened) == untokened
    assert await store.create_job(untokened.replaced(job_id=str(uuid.uuid4()))) != untokened


async def test_the_invoker_lists_the_jobs_it_started(
    signer: SignerService, store: SignerStore
) -> None:
    await signer.put_profile(OWNER, "shared", PLATFORM)
    await signer.add_permission(
        OWNER, "shared", {"action": "signer:StartSigningJob", "principal": PARTNER,
                          "statementId": "partner"}
    )  # fmt: skip
    own = await signer.start_job(object(), OWNER, _job("a"), "me")
    theirs = await signer.start_job(object(), PARTNER, _job("b", OWNER), "them")
    assert {j.job_id for j in await _jobs(store, OWNER)} == {own.job_id, theirs.job_id}
    assert [j.job_id for j in await _jobs(store, PARTNER)] == [theirs.job_id]
    assert await _jobs(store, "999999999999") == []
    assert await store.forget_tenant(OWNER) == 3  # its profile and both jobs
    assert await _jobs(store, PARTNER) == []
    assert await store.change_profile(OWNER, "shared", lambda p: p) is None
