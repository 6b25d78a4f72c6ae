"""The condition keys AWS Signer's calls give an IAM user's policies (decision 0409), through
botocore's model of the service: ``aws:RequestTag/<key>`` and ``aws:TagKeys`` on
PutSigningProfile and TagResource, ``aws:TagKeys`` on UntagResource, the profile's
``aws:ResourceTag/<key>`` on the calls on its ARN, ``signer:ProfileVersion`` on those the
service authorization reference gives it to (RevokeSignature: the job's profile's)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from support.lambda_functions import handler_zip
from support.signerapp import CallFailed, World, signer_world

PLATFORM = "AWSLambda-SHA384-ECDSA"


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async for made in signer_world(tmp_path):
        yield made


async def _user(world: World, name: str, *statements: dict[str, Any]) -> World:
    user = await world.iam_user(name)
    policy = {"Version": "2012-10-17", "Statement": list(statements)}
    await world.identity.put_user_policy(world.tenant_id, name, "p", json.dumps(policy))
    return user


def _arn(world: World, name: str) -> str:
    return f"arn:aws:signer:eu-fr-1:{world.tenant_id}:/signing-profiles/{name}"


async def test_tags_set_are_governed_by_request_tag_and_tag_keys(world: World) -> None:
    user = await _user(
        world,
        "tagger",
        {
            "Effect": "Allow",
            "Action": ["signer:PutSigningProfile", "signer:TagResource"],
            "Resource": "*",
            "Condition": {
                "StringEquals": {"aws:RequestTag/team": "blue"},
                "ForAllValues:StringEquals": {"aws:TagKeys": ["team"]},
            },
        },
        {
            "Effect": "Allow",
            "Action": "signer:UntagResource",
            "Resource": "*",
            "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["note"]}},
        },
    )
    await user.client("PutSigningProfile", profileName="blue", platformId=PLATFORM,
                      tags={"team": "blue"})  # fmt: skip
    for tags in ({"team": "red"}, {"team": "blue", "admin": "yes"}, None):
        extra = {} if tags is None else {"tags": tags}
        await user.fails("PutSigningProfile", "AccessDeniedException",
                         profileName=f"p{uuid.uuid4().hex[:8]}", platformId=PLATFORM,
                         **extra)  # fmt: skip
    await user.client("TagResource", resourceArn=_arn(world, "blue"), tags={"team": "blue"})
    await user.fails("TagResource", "AccessDeniedException", resourceArn=_arn(world, "blue"),
                     tags={"team": "red"})  # fmt: skip
    await world.client("TagResource", resourceArn=_arn(world, "blue"), tags={"note": "x"})
    await user.fails("UntagResource", "AccessDeniedException", resourceArn=_arn(world, "blue"),
                     tagKeys=["team"])  # fmt: skip
    await user.client("UntagResource", resourceArn=_arn(world, "blue"), tagKeys=["note"])
    tags = await world.client("ListTagsForResource", resourceArn=_arn(world, "blue"))
    assert tags["tags"] == {"team": "blue"}


async def test_calls_on_a_profile_follow_its_tags_and_version(world: World) -> None:
    world.objects.kept[("src", "app.zip")] = handler_zip()
    await world.client("PutSigningProfile", profileName="blue", platformId=PLATFORM,
                       tags={"team": "blue"})  # fmt: skip
    made = await world.client("PutSigningProfile", profileName="red", platformId=PLATFORM,
                              tags={"team": "red"})  # fmt: skip
    user = await _user(
        world,
        "blue_dev",
        {
            "Effect": "Allow",
            "Action": [
                "signer:GetSigningProfile",
                "signer:ListTagsForResource",
                "signer:StartSigningJob",
                "signer:CancelSigningProfile",
            ],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:ResourceTag/team": "blue"}},
        },
        {
            "Effect": "Allow",
            "Action": "signer:RevokeSignature",
            "Resource": "*",
            "Condition": {"StringEquals": {"signer:ProfileVersion": made["profileVersion"]}},
        },
    )
    assert (await user.client("GetSigningProfile", profileName="blue"))["tags"] == {"team": "blue"}
    await user.fails("GetSigningProfile", "AccessDeniedException", profileName="red")
    await user.client("ListTagsForResource", resourceArn=_arn(world, "blue"))
    await user.fails("ListTagsForResource", "AccessDeniedException",
                     resourceArn=_arn(world, "red"))  # fmt: skip

    async def start(caller: World, profile: str) -> str:
        job = {
            "source": {"s3": {"bucketName": "src", "key": "app.zip", "version": "1"}},
            "destination": {"s3": {"bucketName": "dst", "prefix": ""}},
            "clientRequestToken": uuid.uuid4().hex,
            "profileName": profile,
        }
        return str((await caller.client("StartSigningJob", **job))["jobId"])

    await start(user, "blue")
    with pytest.raises(CallFailed) as refused:
        await start(user, "red")
    assert refused.value.code == "AccessDeniedException"
    blue_job, red_job = await start(world, "blue"), await start(world, "red")
    await user.fails("RevokeSignature", "AccessDeniedException", jobId=blue_job, reason="x")
    await user.client("RevokeSignature", jobId=red_job, reason="leaked")
    await user.fails("CancelSigningProfile", "AccessDeniedException", profileName="red")
    await user.client("CancelSigningProfile", profileName="blue")
