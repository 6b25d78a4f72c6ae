"""AWS Signer's tag operations and StartSigningJob's idempotency (decision 0394), through the
restJson1 wire as botocore sends and parses it: TagResource, UntagResource and
ListTagsForResource on a profile's ARN with AWS's bounds (200 tags, TagKey's pattern, no
``aws:`` prefix) and errors (NotFoundException, BadRequestException); the same
``clientRequestToken`` answering the same job, another request under it refused."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
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


def _job(token: str, key: str = "app.zip") -> dict[str, Any]:
    return {
        "source": {"s3": {"bucketName": "src", "key": key, "version": "1"}},
        "destination": {"s3": {"bucketName": "dst", "prefix": "out/"}},
        "profileName": "ci_signer",
        "clientRequestToken": token,
    }


async def test_tags_on_a_profile(world: World) -> None:
    made = await world.client(
        "PutSigningProfile", profileName="ci_signer", platformId=PLATFORM, tags={"team": "ci"}
    )
    arn = made["arn"]
    await world.client("TagResource", resourceArn=arn, tags={"env": "prod", "team1": "a"})
    listed = await world.client("ListTagsForResource", resourceArn=arn)
    assert listed["tags"] == {"team": "ci", "env": "prod", "team1": "a"}
    await world.client("UntagResource", resourceArn=arn, tagKeys=["team", "absent"])
    listed = await world.client("ListTagsForResource", resourceArn=arn)
    assert listed["tags"] == {"env": "prod", "team1": "a"}
    got = await world.client("GetSigningProfile", profileName="ci_signer")
    assert got["tags"] == {"env": "prod", "team1": "a"}
    # AWS's bounds: no aws: prefix, TagKey's characters, at most 200 tags on the profile.
    failed = await world.fails("TagResource", "BadRequestException", resourceArn=arn,
                               tags={"aws:owner": "x"})  # fmt: skip
    assert failed.status == 400
    await world.fails("TagResource", "BadRequestException", resourceArn=arn,
                      tags={"my team": "x"})  # fmt: skip
    await world.fails("TagResource", "BadRequestException", resourceArn=arn,
                      tags={"k": "v" * 257})  # fmt: skip
    await world.fails("TagResource", "BadRequestException", resourceArn=arn,
                      tags={f"k{i}": "v" for i in range(199)})  # fmt: skip
    await world.fails("PutSigningProfile", "ValidationException", profileName="other",
                      platformId=PLATFORM, tags={"aws:x": "y"})  # fmt: skip
    # Another account's profile, or one that does not exist, is not found.
    stranger = await world.other_tenant("stranger")
    failed = await stranger.fails("ListTagsForResource", "NotFoundException", resourceArn=arn)
    assert failed.status == 404
    await stranger.fails("TagResource", "NotFoundException", resourceArn=arn, tags={"a": "b"})
    await world.fails("ListTagsForResource", "NotFoundException",
                      resourceArn=arn.replace("ci_signer", "nobody"))  # fmt: skip
    assert (await world.client("ListTagsForResource", resourceArn=arn))["tags"] == {
        "env": "prod",
        "team1": "a",
    }


async def test_tagging_a_canceled_profile_is_a_bad_request(world: World) -> None:
    """Decision 0417: the reference's BadRequestException "when you call a tagging API on a
    cancelled signing profile", a 400 for TagResource, UntagResource and ListTagsForResource
    alike, the tags unchanged; GetSigningProfile still shows them."""
    made = await world.client(
        "PutSigningProfile", profileName="gone", platformId=PLATFORM, tags={"team": "ci"}
    )
    arn = made["arn"]
    await world.client("CancelSigningProfile", profileName="gone")
    failed = await world.fails("TagResource", "BadRequestException", resourceArn=arn,
                               tags={"env": "prod"})  # fmt: skip
    assert failed.status == 400
    failed = await world.fails("UntagResource", "BadRequestException", resourceArn=arn,
                               tagKeys=["team"])  # fmt: skip
    assert failed.status == 400
    failed = await world.fails("ListTagsForResource", "BadRequestException", resourceArn=arn)
    assert failed.status == 400
    got = await world.client("GetSigningProfile", profileName="gone")
    assert got["status"] == "Canceled" and got["tags"] == {"team": "ci"}
    # Another account still learns nothing: not found, not "canceled".
    stranger = await world.other_tenant("stranger")
    await stranger.fails("TagResource", "NotFoundException", resourceArn=arn, tags={"a": "b"})


async def test_the_same_client_request_token_answers_the_same_job(world: World) -> None:
    await world.client("PutSigningProfile", profileName="ci_signer", platformId=PLATFORM)
    world.objects.kept[("src", "app.zip")] = handler_zip()
    world.objects.kept[("src", "other.zip")] = handler_zip("X = 1\n")
    token = uuid.uuid4().hex
    first = await world.client("StartSigningJob", **_job(token))
    again = await world.client("StartSigningJob", **_job(token))
    assert again["jobId"] == first["jobId"]
    listed = await world.client("ListSigningJobs")
    assert [j["jobId"] for j in listed["jobs"]] == [first["jobId"]]
    failed = await world.fails("StartSigningJob", "ValidationException",
                               **_job(token, "other.zip"))  # fmt: skip
    assert "clientRequestToken" in failed.message
    other = await world.client("StartSigningJob", **_job(uuid.uuid4().hex))
    assert other["jobId"] != first["jobId"]
    # A token is the account's: another account's same token starts its own job.
    stranger = await world.other_tenant("stranger")
    await stranger.client("PutSigningProfile", profileName="ci_signer", platformId=PLATFORM)
    theirs = await stranger.client("StartSigningJob", **_job(token))
    assert theirs["jobId"] != first["jobId"]


async def test_notations_operations_say_why_they_are_not_served(world: World) -> None:
    await world.client("PutSigningProfile", profileName="ci_signer", platformId=PLATFORM)
    failed = await world.fails(
        "SignPayload",
        "ValidationException",
        profileName="ci_signer",
        payload=b"{}",
        payloadFormat="application/vnd.oci.descriptor.v1+json",
    )
    assert "Notation-OCI-SHA384-ECDSA" in failed.message and failed.status == 400
    failed = await world.fails(
        "GetRevocationStatus",
        "ValidationException",
        signatureTimestamp=1_800_000_000,
        platformId=PLATFORM,
        profileVersionArn="arn:aws:signer:eu-fr-1:123456789012:/signing-profiles/a/b",
        jobArn="arn:aws:signer:eu-fr-1:123456789012:/signing-jobs/c",
        certificateHashes=["00"],
    )
    assert "Notation-OCI-SHA384-ECDSA" in failed.message
