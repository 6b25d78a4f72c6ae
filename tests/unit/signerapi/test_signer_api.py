"""AWS Signer's restJson1 wire (decision 0386), as botocore sends and parses it: profiles put,
read, listed, canceled and revoked; a job started, described, listed and its signature
revoked; the platform; errors in Signer's shape (``x-amzn-ErrorType``, ``message`` and
``code``); an IAM user without a policy refused; each call audited."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from andromede.iam.policy import known_action
from andromede.signerapi.actions import ACTIONS
from support.lambda_functions import handler_zip
from support.signerapp import World, signer_world

PLATFORM = "AWSLambda-SHA384-ECDSA"


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async for made in signer_world(tmp_path):
        yield made


def _job(profile: str = "ci_signer", key: str = "app.zip") -> dict[str, Any]:
    return {
        "source": {"s3": {"bucketName": "src", "key": key, "version": "1"}},
        "destination": {"s3": {"bucketName": "dst", "prefix": "out/"}},
        "profileName": profile,
        "clientRequestToken": uuid.uuid4().hex,
    }


async def test_profiles(world: World) -> None:
    made = await world.client(
        "PutSigningProfile",
        profileName="ci_signer",
        platformId=PLATFORM,
        signatureValidityPeriod={"value": 12, "type": "MONTHS"},
        tags={"team": "ci"},
    )
    arn = f"arn:aws:signer:eu-fr-1:{world.tenant_id}:/signing-profiles/ci_signer"
    assert made["arn"] == arn
    assert made["profileVersionArn"] == f"{arn}/{made['profileVersion']}"
    got = await world.client("GetSigningProfile", profileName="ci_signer")
    assert got["status"] == "Active" and got["platformDisplayName"] == "AWS Lambda"
    assert got["signatureValidityPeriod"] == {"value": 12, "type": "MONTHS"}
    assert got["tags"] == {"team": "ci"}
    conflict = await world.fails(
        "PutSigningProfile", "ConflictException", profileName="ci_signer", platformId=PLATFORM
    )
    assert conflict.status == 409
    assert conflict.headers["x-amzn-errortype"] == "ConflictException"
    assert conflict.body["code"] == "ConflictException"
    await world.fails("PutSigningProfile", "ValidationException", profileName="iot",
                      platformId="AmazonFreeRTOS-Default")  # fmt: skip
    await world.client("PutSigningProfile", profileName="second", platformId=PLATFORM)
    listed = await world.client("ListSigningProfiles", maxResults=1)
    assert [p["profileName"] for p in listed["profiles"]] == ["ci_signer"]
    rest = await world.client("ListSigningProfiles", nextToken=listed["nextToken"])
    assert [p["profileName"] for p in rest["profiles"]] == ["second"]
    await world.client("CancelSigningProfile", profileName="second")
    listed = await world.client("ListSigningProfiles")
    assert [p["profileName"] for p in listed["profiles"]] == ["ci_signer"]
    listed = await world.client("ListSigningProfiles", statuses=["Canceled"])
    assert [p["profileName"] for p in listed["profiles"]] == ["second"]
    await world.client(
        "RevokeSigningProfile",
        profileName="ci_signer",
        profileVersion=made["profileVersion"],
        reason="key rotation",
        effectiveTime=1_700_000_000,
    )
    revoked = await world.client("GetSigningProfile", profileName="ci_signer")
    assert revoked["status"] == "Revoked" and revoked["statusReason"] == "key rotation"
    assert revoked["revocationRecord"]["revocationEffectiveFrom"].timestamp() == 1_700_000_000
    missing = await world.fails("GetSigningProfile", "ResourceNotFoundException",
                                profileName="nope")  # fmt: skip
    assert missing.status == 404


async def test_jobs(world: World) -> None:
    world.objects.kept[("src", "app.zip")] = handler_zip()
    await world.client("PutSigningProfile", profileName="ci_signer", platformId=PLATFORM)
    started = await world.client("StartSigningJob", **_job())
    assert started["jobOwner"] == world.tenant_id
    job = await world.client("DescribeSigningJob", jobId=started["jobId"])
    assert job["status"] == "Succeeded" and job["statusReason"] == "Signing Succeeded"
    assert job["signedObject"] == {
        "s3": {"bucketName": "dst", "key": f"out/{started['jobId']}.zip"}
    }
    assert job["signatureExpiresAt"] > job["createdAt"]
    assert ("dst", f"out/{started['jobId']}.zip") in world.objects.kept
    failed = await world.client("StartSigningJob", **_job(key="missing.zip"))
    described = await world.client("DescribeSigningJob", jobId=failed["jobId"])
    assert described["status"] == "Failed" and "cannot be read" in described["statusReason"]
    assert "signedObject" not in described
    jobs = await world.client("ListSigningJobs", status="Succeeded")
    assert [j["jobId"] for j in jobs["jobs"]] == [started["jobId"]]
    await world.client("RevokeSignature", jobId=started["jobId"], reason="leaked")
    revoked = await world.client("ListSigningJobs", isRevoked=True)
    assert [j["jobId"] for j in revoked["jobs"]] == [started["jobId"]]
    described = await world.client("DescribeSigningJob", jobId=started["jobId"])
    assert described["revocationRecord"]["reason"] == "leaked"
    await world.fails("DescribeSigningJob", "ResourceNotFoundException", jobId="nope")
    await world.fails("StartSigningJob", "ResourceNotFoundException", **_job(profile="nope"))
    # Another account neither sees nor revokes the job.
    other = await world.other_tenant("stranger")
    await other.fails("DescribeSigningJob", "ResourceNotFoundException", jobId=started["jobId"])


async def test_platforms(world: World) -> None:
    got = await world.client("GetSigningPlatform", platformId=PLATFORM)
    assert got["revocationSupported"] is True
    assert got["signingConfiguration"]["encryptionAlgorithmOptions"]["defaultValue"] == "ECDSA"
    listed = await world.client("ListSigningPlatforms")
    assert [p["platformId"] for p in listed["platforms"]] == [PLATFORM]
    await world.fails("GetSigningPlatform", "ResourceNotFoundException", platformId="Other")


async def test_access_audit_and_unknown_operations(world: World) -> None:
    user = await world.iam_user("dev")
    refused = await user.fails("PutSigningProfile", "AccessDeniedException",
                               profileName="mine", platformId=PLATFORM)  # fmt: skip
    assert refused.status == 403
    await world.client("PutSigningProfile", profileName="audited", platformId=PLATFORM)
    await world.audit.flush()
    events = [e for _, e in await world.audit_store.list_events(None, after_id=0, limit=500)]
    assert any(
        e.action == "signer:PutSigningProfile" and e.resource.endswith("/signing-profiles/audited")
        for e in events
    )
    reply = await world.raw("POST", "/nowhere")
    assert (reply.status, reply.headers["x-amzn-errortype"]) == (404, "UnknownOperationException")
    unsigned = await world.anonymous().raw("GET", "/signing-profiles")
    assert unsigned.status == 403


async def test_the_settings_bound_profiles_and_signed_objects(tmp_path: Path) -> None:
    async for world in signer_world(tmp_path, signer_max_profiles=1, signer_max_object_bytes=64):
        await world.client("PutSigningProfile", profileName="only", platformId=PLATFORM)
        await world.fails("PutSigningProfile", "ServiceLimitExceededException",
                          profileName="more", platformId=PLATFORM)  # fmt: skip
        world.objects.kept[("src", "app.zip")] = handler_zip()  # more than 64 bytes
        started = await world.client("StartSigningJob", **_job(profile="only"))
        job = await world.client("DescribeSigningJob", jobId=started["jobId"])
        assert job["status"] == "Failed" and "larger than 64 bytes" in job["statusReason"]


def test_every_action_authorised_is_catalogued() -> None:
    """A policy naming the action a Signer operation is authorised with must parse; a typo is
    refused as IAM refuses it (decision 0386)."""
    for name in ACTIONS:
        assert known_action("signer", name), name
    assert not known_action("signer", "StartSigningJobs")
