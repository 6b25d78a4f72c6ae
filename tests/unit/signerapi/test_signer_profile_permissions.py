"""A signing profile's cross-account permissions (decision 0394), through the restJson1 wire
as botocore sends and parses it: AddProfilePermission, ListProfilePermissions and
RemoveProfilePermission with their ``revisionId`` checks; another account signing with the
profile (``profileOwner``) only while a statement grants it ``signer:StartSigningJob``, and
only as its IAM policies allow; each action granted on its own; the setting's bound."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from andromede.signer.permissions import ProfilePermission, grants
from support.lambda_functions import handler_zip
from support.signerapp import World, signer_world

PLATFORM = "AWSLambda-SHA384-ECDSA"


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async for made in signer_world(tmp_path):
        yield made


def _job(owner: str) -> dict[str, Any]:
    return {
        "source": {"s3": {"bucketName": "theirs", "key": "app.zip", "version": "1"}},
        "destination": {"s3": {"bucketName": "theirs-signed", "prefix": ""}},
        "profileName": "shared",
        "profileOwner": owner,
        "clientRequestToken": uuid.uuid4().hex,
    }


async def test_another_account_signs_only_when_permitted(world: World) -> None:
    await world.client("PutSigningProfile", profileName="shared", platformId=PLATFORM)
    partner = await world.other_tenant("partner")
    world.objects.kept[("theirs", "app.zip")] = handler_zip()
    owner = world.tenant_id
    refused = await partner.fails("StartSigningJob", "AccessDeniedException", **_job(owner))
    assert refused.status == 403
    await partner.fails("GetSigningProfile", "AccessDeniedException", profileName="shared",
                        profileOwner=owner)  # fmt: skip
    # A name the owner does not hold answers the same: a stranger learns nothing.
    await partner.fails("GetSigningProfile", "AccessDeniedException", profileName="nothing",
                        profileOwner=owner)  # fmt: skip
    added = await world.client(
        "AddProfilePermission",
        profileName="shared",
        action="signer:StartSigningJob",
        principal=partner.tenant_id,
        statementId="partner-signs",
    )
    started = await partner.client("StartSigningJob", **_job(owner))
    assert started["jobOwner"] == owner
    described = await partner.client("DescribeSigningJob", jobId=started["jobId"])
    assert described["status"] == "Succeeded", described.get("statusReason")
    assert described["jobOwner"] == owner and described["jobInvoker"] == partner.tenant_id
    signed = world.objects.kept[("theirs-signed", f"{started['jobId']}.zip")]
    proven = await world.signer.verify(signed)
    assert proven is not None and proven.job_arn.endswith(started["jobId"])
    assert f":{owner}:/signing-profiles/shared/" in proven.profile_version_arn
    # Only the action granted: no GetSigningProfile, no RevokeSignature.
    await partner.fails("GetSigningProfile", "AccessDeniedException", profileName="shared",
                        profileOwner=owner)  # fmt: skip
    await partner.fails("RevokeSignature", "AccessDeniedException", jobId=started["jobId"],
                        jobOwner=owner, reason="mine")  # fmt: skip
    # IAM still applies: the partner's user without a policy is refused.
    user = await partner.iam_user("bob")
    await user.fails("StartSigningJob", "AccessDeniedException", **_job(owner))
    listed = await world.client("ListProfilePermissions", profileName="shared")
    assert listed["revisionId"] == added["revisionId"]
    assert listed["permissions"] == [
        {"action": "signer:StartSigningJob", "principal": partner.tenant_id,
         "statementId": "partner-signs"}
    ]  # fmt: skip
    assert listed["policySizeBytes"] > 0
    # A second grant on the revision read; a stale revision, a statement id taken: conflicts.
    second = await world.client(
        "AddProfilePermission", profileName="shared", action="signer:GetSigningProfile",
        principal=f"arn:aws:iam::{partner.tenant_id}:root", statementId="partner-reads",
        revisionId=added["revisionId"],
    )  # fmt: skip
    got = await partner.client("GetSigningProfile", profileName="shared", profileOwner=owner)
    assert got["profileName"] == "shared"
    stale = await world.fails(
        "AddProfilePermission", "ConflictException", profileName="shared",
        action="signer:RevokeSignature", principal=partner.tenant_id, statementId="x",
        revisionId=added["revisionId"],
    )  # fmt: skip
    assert stale.status == 409
    await world.fails("AddProfilePermission", "ConflictException", profileName="shared",
                      action="signer:RevokeSignature", principal=partner.tenant_id,
                      statementId="partner-signs")  # fmt: skip
    await world.fails("AddProfilePermission", "ValidationException", profileName="shared",
                      action="signer:PutSigningProfile", principal=partner.tenant_id,
                      statementId="y")  # fmt: skip
    await world.fails("AddProfilePermission", "ValidationException", profileName="shared",
                      action="signer:StartSigningJob", principal="everyone",
                      statementId="y")  # fmt: skip
    await world.fails("RemoveProfilePermission", "ConflictException", profileName="shared",
                      statementId="partner-signs", revisionId=added["revisionId"])  # fmt: skip
    await world.fails("RemoveProfilePermission", "ResourceNotFoundException",
                      profileName="shared", statementId="absent",
                      revisionId=second["revisionId"])  # fmt: skip
    removed = await world.client(
        "RemoveProfilePermission",
        profileName="shared",
        statementId="partner-signs",
        revisionId=second["revisionId"],
    )
    assert removed["revisionId"] not in (added["revisionId"], second["revisionId"])
    await partner.fails("StartSigningJob", "AccessDeniedException", **_job(owner))
    # The permissions are the owner's: the partner neither lists nor changes them.
    await partner.fails("ListProfilePermissions", "ResourceNotFoundException",
                        profileName="shared")  # fmt: skip


async def test_revoke_signature_when_granted(world: World) -> None:
    await world.client("PutSigningProfile", profileName="shared", platformId=PLATFORM)
    partner = await world.other_tenant("partner")
    world.objects.kept[("theirs", "app.zip")] = handler_zip()
    for action in ("signer:StartSigningJob", "signer:RevokeSignature"):
        await world.signer.add_permission(
            world.tenant_id,
            "shared",
            {"action": action, "principal": partner.tenant_id, "statementId": action[7:]},
        )
    started = await partner.client("StartSigningJob", **_job(world.tenant_id))
    await partner.client("RevokeSignature", jobId=started["jobId"], jobOwner=world.tenant_id,
                         reason="leaked")  # fmt: skip
    described = await world.client("DescribeSigningJob", jobId=started["jobId"])
    assert described["revocationRecord"]["reason"] == "leaked"


def test_a_statement_naming_a_principal_grants_it_only() -> None:
    user = "arn:aws:iam::111122223333:user/bob"
    given = (ProfilePermission("s", "signer:StartSigningJob", user, "v1"),)
    assert grants(given, "signer:StartSigningJob", "111122223333", user, "v1")
    assert not grants(given, "signer:StartSigningJob", "111122223333",
                      "arn:aws:iam::111122223333:user/eve", "v1")  # fmt: skip
    assert not grants(given, "signer:StartSigningJob", "111122223333", user, "v2")
    assert not grants(given, "signer:SignPayload", "111122223333", user, "v1")


async def test_the_setting_bounds_a_profiles_permissions(tmp_path: Path) -> None:
    async for world in signer_world(tmp_path, signer_max_profile_permissions=1):
        await world.client("PutSigningProfile", profileName="shared", platformId=PLATFORM)
        await world.client("AddProfilePermission", profileName="shared",
                           action="signer:StartSigningJob", principal="111122223333",
                           statementId="a")  # fmt: skip
        failed = await world.fails("AddProfilePermission", "ServiceLimitExceededException",
                                   profileName="shared", action="signer:StartSigningJob",
                                   principal="111122223333", statementId="b")  # fmt: skip
        assert "at most 1 permissions" in failed.message


async def test_an_owner_member_authorises_only_where_the_model_has_it(world: World) -> None:
    """A ``profileOwner`` slipped into another operation's call must not move the ARN its
    caller's policies are judged on: the call acts on the caller's own profile."""
    await world.client("PutSigningProfile", profileName="ci_signer", platformId=PLATFORM)
    user = await world.iam_user("dev")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "signer:CancelSigningProfile",
                "Resource": "arn:aws:signer:*:999999999999:/signing-profiles/*",
            }
        ],
    }
    await world.identity.put_user_policy(world.tenant_id, "dev", "other", json.dumps(policy))
    reply = await user.raw(
        "DELETE", "/signing-profiles/ci_signer", query="profileOwner=999999999999"
    )
    assert reply.status == 403, reply.body
    got = await world.client("GetSigningProfile", profileName="ci_signer")
    assert got["status"] == "Active"
