"""ListSigningJobs through the restJson1 wire as botocore sends it (decision 0403): the jobs
an account started with another account's profile are listed to it as to the profile's
owner, a stranger sees none of them; the model's filters ``jobInvoker``,
``signatureExpiresBefore`` / ``signatureExpiresAfter``, ``isRevoked``, ``requestedBy`` and
``status`` each narrow the list; a filter out of its shape is a ValidationException."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from support.lambda_functions import handler_zip
from support.signerapp import World, signer_world

PLATFORM = "AWSLambda-SHA384-ECDSA"


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async for made in signer_world(tmp_path):
        yield made


def _job(profile: str, owner: str | None = None) -> dict[str, Any]:
    job: dict[str, Any] = {
        "source": {"s3": {"bucketName": "src", "key": "app.zip", "version": "1"}},
        "destination": {"s3": {"bucketName": "dst", "prefix": ""}},
        "profileName": profile,
        "clientRequestToken": uuid.uuid4().hex,
    }
    if owner is not None:
        job["profileOwner"] = owner
    return job


async def _ids(client: World, **filters: Any) -> set[str]:
    listed = await client.client("ListSigningJobs", **filters)
    return {j["jobId"] for j in listed["jobs"]}


async def test_the_invoker_lists_the_jobs_it_started_with_shared_profiles(world: World) -> None:
    owner = world.tenant_id
    world.objects.kept[("src", "app.zip")] = handler_zip()
    await world.client("PutSigningProfile", profileName="shared", platformId=PLATFORM,
                       signatureValidityPeriod={"value": 10, "type": "DAYS"})  # fmt: skip
    await world.client("PutSigningProfile", profileName="own", platformId=PLATFORM)
    partner = await world.other_tenant("partner")
    stranger = await world.other_tenant("stranger")
    await world.client("AddProfilePermission", profileName="shared",
                       action="signer:StartSigningJob", principal=partner.tenant_id,
                       statementId="partner")  # fmt: skip
    mine = (await world.client("StartSigningJob", **_job("own")))["jobId"]
    theirs = (await partner.client("StartSigningJob", **_job("shared", owner)))["jobId"]

    assert await _ids(world) == {mine, theirs}  # the owner sees both
    assert await _ids(partner) == {theirs}  # the invoker sees the one it started
    assert await _ids(stranger) == set()
    [listed] = (await partner.client("ListSigningJobs"))["jobs"]
    assert (listed["jobOwner"], listed["jobInvoker"]) == (owner, partner.tenant_id)

    assert await _ids(world, jobInvoker=partner.tenant_id) == {theirs}
    assert await _ids(world, jobInvoker=owner) == {mine}
    soon = datetime.now(UTC) + timedelta(days=100)
    assert await _ids(world, signatureExpiresBefore=soon) == {theirs}  # 10 days' validity
    assert await _ids(world, signatureExpiresAfter=soon) == {mine}  # 135 months'
    assert await _ids(partner, requestedBy=f"arn:aws:iam::{partner.tenant_id}:root") == {theirs}
    assert await _ids(world, status="Succeeded") == {mine, theirs}
    assert await _ids(world, status="Failed") == set()

    await world.client("RevokeSignature", jobId=theirs, reason="leaked")
    assert await _ids(partner, isRevoked=True) == {theirs}
    assert await _ids(world, isRevoked=False) == {mine}


async def test_filters_out_of_shape_are_refused(world: World) -> None:
    for query in ("jobInvoker=someone", "signatureExpiresBefore=soon", "isRevoked=maybe",
                  "status=Done"):  # fmt: skip
        reply = await world.raw("GET", "/signing-jobs", query=query)
        assert reply.status == 400, (query, reply.body)
        assert b"ValidationException" in reply.body
