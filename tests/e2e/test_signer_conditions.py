"""AWS Signer's IAM condition keys and listings end to end (decision 0409), on the session's
``andromede serve`` with boto3's ``signer`` client: an IAM user whose policy allows
PutSigningProfile and TagResource only with ``team=blue`` (``aws:RequestTag/team``,
``aws:TagKeys``) makes and tags that profile and is refused any other tag; UntagResource is
governed by the keys it removes; GetSigningProfile follows the profile's own tags
(``aws:ResourceTag/team``). botocore's paginators walk ListSigningProfiles and
ListSigningJobs page by page with their filters; a ``maxResults`` beyond 25 or a forged
``nextToken`` is a ValidationException; a canceled profile's tagging calls are a
BadRequestException (decision 0417)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from e2e.iam_helpers import client_for, new_tenant
from support.server import ServerProcess

pytestmark = [pytest.mark.e2e]

PLATFORM = "AWSLambda-SHA384-ECDSA"


def _code(caught: pytest.ExceptionInfo[ClientError]) -> str:
    return str(caught.value.response["Error"]["Code"])


def _user(iam: Any, server: ServerProcess, name: str, *statements: dict[str, Any]) -> Any:
    iam.create_user(UserName=name)
    document = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
    iam.put_user_policy(UserName=name, PolicyName="signer", PolicyDocument=document)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return client_for(server, "signer", key["AccessKeyId"], key["SecretAccessKey"])


def test_tag_conditions_govern_signer_calls(server: ServerProcess) -> None:
    tenant = new_tenant(server, "signer-tags")
    keys = (tenant.access_key_id, tenant.secret_access_key)
    iam: Any = client_for(server, "iam", *keys)
    root: Any = client_for(server, "signer", *keys)
    blue_only = {
        "StringEquals": {"aws:RequestTag/team": "blue"},
        "ForAllValues:StringEquals": {"aws:TagKeys": ["team"]},
    }
    user = _user(
        iam,
        server,
        "blue-admin",
        {"Effect": "Allow", "Action": ["signer:PutSigningProfile", "signer:TagResource"],
         "Resource": "*", "Condition": blue_only},
        {"Effect": "Allow", "Action": "signer:UntagResource", "Resource": "*",
         "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["note"]}}},
        {"Effect": "Allow", "Action": "signer:GetSigningProfile", "Resource": "*",
         "Condition": {"StringEquals": {"aws:ResourceTag/team": "blue"}}},
    )  # fmt: skip

    arn = user.put_signing_profile(profileName="blue_p", platformId=PLATFORM,
                                   tags={"team": "blue"})["arn"]  # fmt: skip
    for tags in ({"team": "red"}, {"team": "blue", "owner": "eve"}):
        with pytest.raises(ClientError) as caught:
            user.put_signing_profile(profileName="other_p", platformId=PLATFORM, tags=tags)
        assert _code(caught) == "AccessDeniedException", tags
    with pytest.raises(ClientError) as caught:  # no tag at all: aws:RequestTag/team absent
        user.put_signing_profile(profileName="bare_p", platformId=PLATFORM)
    assert _code(caught) == "AccessDeniedException"

    user.tag_resource(resourceArn=arn, tags={"team": "blue"})
    with pytest.raises(ClientError) as caught:
        user.tag_resource(resourceArn=arn, tags={"team": "red"})
    assert _code(caught) == "AccessDeniedException"
    root.tag_resource(resourceArn=arn, tags={"note": "kept"})
    with pytest.raises(ClientError) as caught:
        user.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert _code(caught) == "AccessDeniedException"
    user.untag_resource(resourceArn=arn, tagKeys=["note"])
    assert root.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "blue"}

    assert user.get_signing_profile(profileName="blue_p")["tags"] == {"team": "blue"}
    root.put_signing_profile(profileName="red_p", platformId=PLATFORM, tags={"team": "red"})
    with pytest.raises(ClientError) as caught:
        user.get_signing_profile(profileName="red_p")
    assert _code(caught) == "AccessDeniedException"


def test_listings_page_with_their_filters(server: ServerProcess) -> None:
    tenant = new_tenant(server, "signer-pages")
    keys = (tenant.access_key_id, tenant.secret_access_key)
    signer: Any = client_for(server, "signer", *keys)
    s3: Any = client_for(server, "s3", *keys)
    names = [f"p{n:02d}" for n in range(7)]
    for name in names:
        signer.put_signing_profile(profileName=name, platformId=PLATFORM)
    signer.cancel_signing_profile(profileName="p03")
    pages = signer.get_paginator("list_signing_profiles").paginate(PaginationConfig={"PageSize": 2})
    listed = [[p["profileName"] for p in page["profiles"]] for page in pages]
    assert all(len(page) <= 2 for page in listed) and len(listed) >= 3
    assert [n for page in listed for n in page] == [n for n in names if n != "p03"]
    canceled = signer.get_paginator("list_signing_profiles").paginate(
        includeCanceled=True, PaginationConfig={"PageSize": 3}
    )
    assert [p["profileName"] for page in canceled for p in page["profiles"]] == names
    # Decision 0417: a canceled profile's tagging calls are bad requests, as the reference says.
    gone = signer.get_signing_profile(profileName="p03")["arn"]
    with pytest.raises(ClientError) as caught:
        signer.tag_resource(resourceArn=gone, tags={"team": "blue"})
    assert _code(caught) == "BadRequestException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as caught:
        signer.list_tags_for_resource(resourceArn=gone)
    assert _code(caught) == "BadRequestException"

    bucket = f"sign-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    version = s3.put_object(Bucket=bucket, Key="not-a-zip", Body=b"plain")["VersionId"]
    started = [
        signer.start_signing_job(
            source={"s3": {"bucketName": bucket, "key": "not-a-zip", "version": version}},
            destination={"s3": {"bucketName": bucket, "prefix": "signed/"}},
            profileName="p00",
            clientRequestToken=uuid.uuid4().hex,
        )["jobId"]
        for _ in range(5)
    ]
    failed = signer.get_paginator("list_signing_jobs").paginate(
        status="Failed", PaginationConfig={"PageSize": 2}
    )
    assert sorted(j["jobId"] for page in failed for j in page["jobs"]) == sorted(started)
    succeeded = signer.list_signing_jobs(status="Succeeded")
    assert succeeded["jobs"] == [] and "nextToken" not in succeeded

    for asked in ({"maxResults": 26}, {"nextToken": "forged"}):
        for call in (signer.list_signing_profiles, signer.list_signing_jobs):
            with pytest.raises(ClientError) as caught:
                call(**asked)
            assert _code(caught) == "ValidationException", asked
            assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
