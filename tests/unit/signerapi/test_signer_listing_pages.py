"""ListSigningProfiles and ListSigningJobs paged through botocore's model (decision 0409):
botocore's paginators walk every page with the filters kept, each page at most
``maxResults``; a ``maxResults`` out of the model's 1 to 25, a ``nextToken`` the listing did
not answer, a filter out of its shape are ValidationException, never a 500."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from support.lambda_functions import handler_zip
from support.signerapp import World, signer_world

PLATFORM = "AWSLambda-SHA384-ECDSA"


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async for made in signer_world(tmp_path, signer_max_profiles=40):
        yield made


async def _walk(world: World, operation: str, member: str, **asked: object) -> list[str]:
    """Every page's items' ids, as botocore's paginator asks for them."""
    key = "profileName" if member == "profiles" else "jobId"
    found: list[str] = []
    token = None
    for _ in range(50):
        page = await world.client(
            operation, **asked, **({"nextToken": token} if token is not None else {})
        )
        assert len(page[member]) <= int(str(asked.get("maxResults", 25)))
        found.extend(item[key] for item in page[member])
        token = page.get("nextToken")
        if token is None:
            return found
    raise AssertionError("the listing never ended")


async def test_profiles_are_paged_with_their_filters(world: World) -> None:
    names = [f"p{n:02d}" for n in range(30)]
    for name in names:
        await world.client("PutSigningProfile", profileName=name, platformId=PLATFORM)
    for name in names[::3]:
        await world.client("CancelSigningProfile", profileName=name)
    active = [n for i, n in enumerate(names) if i % 3]
    assert await _walk(world, "ListSigningProfiles", "profiles", maxResults=4) == active
    assert await _walk(world, "ListSigningProfiles", "profiles") == active  # 25 then the rest
    assert (
        await _walk(world, "ListSigningProfiles", "profiles", maxResults=7, includeCanceled=True)
        == names
    )
    assert (
        await _walk(world, "ListSigningProfiles", "profiles", maxResults=3, statuses=["Canceled"])
        == names[::3]
    )
    assert await _walk(world, "ListSigningProfiles", "profiles", platformId="Other") == []


async def test_jobs_are_paged_newest_first_with_their_filters(world: World) -> None:
    world.objects.kept[("src", "app.zip")] = handler_zip()
    await world.client("PutSigningProfile", profileName="signer", platformId=PLATFORM)
    job = {
        "source": {"s3": {"bucketName": "src", "key": "app.zip", "version": "1"}},
        "destination": {"s3": {"bucketName": "dst", "prefix": ""}},
        "profileName": "signer",
    }
    started = [
        (await world.client("StartSigningJob", **job, clientRequestToken=uuid.uuid4().hex))["jobId"]
        for _ in range(9)
    ]
    for job_id in started[::2]:
        await world.client("RevokeSignature", jobId=job_id, reason="leaked")
    every = await _walk(world, "ListSigningJobs", "jobs", maxResults=2)
    assert sorted(every) == sorted(started) and len(every) == 9
    revoked = await _walk(world, "ListSigningJobs", "jobs", maxResults=2, isRevoked=True)
    assert sorted(revoked) == sorted(started[::2])
    assert revoked == [j for j in every if j in revoked]  # the same order, newest first
    kept = await _walk(world, "ListSigningJobs", "jobs", maxResults=3, isRevoked=False,
                       status="Succeeded")  # fmt: skip
    assert sorted(kept) == sorted(started[1::2])


@pytest.mark.parametrize("path", ["/signing-profiles", "/signing-jobs"])
@pytest.mark.parametrize(
    "query",
    [
        "maxResults=26",
        "maxResults=0",
        "maxResults=-1",
        "maxResults=ten",
        "maxResults=99999999999999999999999",
        "nextToken=25",
        "nextToken=not-a-token",
        "nextToken=" + "A" * 2000,
        "nextToken=eyJjIjoxZTk5OTksImoiOiJ4In0",  # {"c":1e9999,"j":"x"}
        "nextToken=eyJjIjo5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OSwiaiI6IngifQ",  # c beyond BIGINT
        "nextToken=eyJwIjoiYVx1MDAwMGIifQ",  # {"p":"a\u0000b"}
        "nextToken=W10",  # []
    ],
)
async def test_a_page_out_of_the_model_is_a_validation_error(
    world: World, path: str, query: str
) -> None:
    await world.client("PutSigningProfile", profileName="signer", platformId=PLATFORM)
    reply = await world.raw("GET", path, query=query)
    assert reply.status == 400, (query, reply.body)
    assert reply.headers["x-amzn-errortype"] == "ValidationException"


@pytest.mark.parametrize(
    "query",
    ["includeCanceled=maybe", "statuses=Active&statuses=Gone", "platformId=a%00b"],
)
async def test_profile_filters_out_of_shape_are_refused(world: World, query: str) -> None:
    reply = await world.raw("GET", "/signing-profiles", query=query)
    assert reply.status == 400, (query, reply.body)
    assert reply.headers["x-amzn-errortype"] == "ValidationException"


async def test_job_bounds_out_of_range_are_refused(world: World) -> None:
    for query in ("signatureExpiresBefore=inf", "signatureExpiresAfter=nan",
                  "signatureExpiresBefore=1e400", "requestedBy=me%00"):  # fmt: skip
        reply = await world.raw("GET", "/signing-jobs", query=query)
        assert reply.status == 400, (query, reply.body)
    huge = await world.raw("GET", "/signing-jobs", query="signatureExpiresBefore=1e300")
    assert huge.status == 200, huge.body
