"""Secrets Manager rotation through a Lambda function end to end (decision 0303), on the
session's ``andromede serve`` (no server of its own): a real Python rotation function — AWS's
four steps, written as AWS's templates are, a new password from GetRandomPassword — runs in
the server's bubblewrap sandbox and calls Secrets Manager back with boto3 and its role's
credentials through the sandbox's loopback relay; GetSecretValue then answers the new value.
A testSecret that fails leaves the old value ``AWSCURRENT`` and the new one ``AWSPENDING``,
and a second rotation is refused meanwhile. ``RotateImmediately`` false runs testSecret alone
and refuses the call when it fails (decision 0308)."""

from __future__ import annotations

import io
import json
import shutil
import time
import uuid
import zipfile
from typing import Any

import pytest
from botocore.exceptions import ClientError

from e2e.iam_helpers import client_for, new_tenant
from support.server import ServerProcess

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed"),
]

ROTATOR = """
import os
import boto3

def handler(event, context):
    arn, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
    client = boto3.client("secretsmanager")
    versions = client.describe_secret(SecretId=arn)["VersionIdsToStages"]
    if token not in versions:
        raise ValueError("Secret version %s has no stage for rotation" % token)
    if "AWSCURRENT" in versions[token]:
        return
    if "AWSPENDING" not in versions[token]:
        raise ValueError("Secret version %s not set as AWSPENDING" % token)
    print("STEP", step)
    if step == "createSecret":
        client.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")
        try:
            client.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")
        except client.exceptions.ResourceNotFoundException:
            password = client.get_random_password(ExcludePunctuation=True)["RandomPassword"]
            client.put_secret_value(SecretId=arn, ClientRequestToken=token,
                                    SecretString=password, VersionStages=["AWSPENDING"])
    elif step == "testSecret" and os.environ.get("FAIL_TEST"):
        raise RuntimeError("the new password does not work")
    elif step == "finishSecret":
        current = next(v for v, stages in versions.items() if "AWSCURRENT" in stages)
        client.update_secret_version_stage(SecretId=arn, VersionStage="AWSCURRENT",
                                           MoveToVersionId=token, RemoveFromVersionId=current)
"""
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
# AWS's policy for a rotation function's execution role.
ROLE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "secretsmanager:DescribeSecret",
                "secretsmanager:GetSecretValue",
                "secretsmanager:PutSecretValue",
                "secretsmanager:UpdateSecretVersionStage",
            ],
            "Resource": "*",
        },
        {"Effect": "Allow", "Action": "secretsmanager:GetRandomPassword", "Resource": "*"},
    ],
}


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("rotator.py", ROTATOR)
    return buffer.getvalue()


def _wait(check: Any, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "the rotation did not end in time"
        time.sleep(0.5)


def test_a_rotation_function_rotates_a_secret(server: ServerProcess) -> None:
    tenant = new_tenant(server, "rotation")
    keys = (tenant.access_key_id, tenant.secret_access_key)
    iam: Any = client_for(server, "iam", *keys)
    role = iam.create_role(RoleName="rotator", AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.put_role_policy(RoleName="rotator", PolicyName="rotation",
        PolicyDocument=json.dumps(ROLE_POLICY))  # fmt: skip
    functions: Any = client_for(server, "lambda", *keys)
    arn = functions.create_function(FunctionName="rotator", Runtime="python3.11",
        Role=role["Role"]["Arn"], Handler="rotator.handler", Code={"ZipFile": _zip()},
        Timeout=60, MemorySize=512)["FunctionArn"]  # fmt: skip
    secrets: Any = client_for(server, "secretsmanager", *keys)
    secret = secrets.create_secret(Name="db-password", SecretString="initial")["ARN"]

    with pytest.raises(ClientError) as refused:  # the function's policy lets nobody in yet
        secrets.rotate_secret(SecretId=secret, RotationLambdaARN=arn,
            RotationRules={"AutomaticallyAfterDays": 30})  # fmt: skip
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "secretsmanager.amazonaws.com" in refused.value.response["Error"]["Message"]
    functions.add_permission(FunctionName="rotator", StatementId="sm",
        Principal="secretsmanager.amazonaws.com", Action="lambda:InvokeFunction")  # fmt: skip

    token = str(uuid.uuid4())
    answer = secrets.rotate_secret(SecretId=secret, RotationLambdaARN=arn,
        ClientRequestToken=token, RotationRules={"AutomaticallyAfterDays": 30})  # fmt: skip
    assert answer["VersionId"] == token
    _wait(lambda: secrets.get_secret_value(SecretId=secret)["VersionId"] == token)
    value = secrets.get_secret_value(SecretId=secret)
    assert value["SecretString"] != "initial" and len(value["SecretString"]) == 32
    assert value["VersionStages"] == ["AWSCURRENT"]
    described = secrets.describe_secret(SecretId=secret)
    assert described["RotationEnabled"] is True and described["RotationLambdaARN"] == arn
    assert described["RotationRules"]["AutomaticallyAfterDays"] == 30
    assert "LastRotatedDate" in described and "NextRotationDate" in described
    assert sorted(described["VersionIdsToStages"].values()) == [["AWSCURRENT"], ["AWSPREVIOUS"]]
    assert (
        secrets.get_secret_value(SecretId=secret, VersionStage="AWSPREVIOUS")["SecretString"]
        == "initial"
    )

    # A testSecret that fails: the old value stays AWSCURRENT, the new one AWSPENDING.
    functions.update_function_configuration(FunctionName="rotator",
        Environment={"Variables": {"FAIL_TEST": "1"}})  # fmt: skip
    rotated = value["SecretString"]
    failing = str(uuid.uuid4())
    secrets.rotate_secret(SecretId=secret, ClientRequestToken=failing)
    logs: Any = client_for(server, "logs", *keys)

    def failed() -> bool:
        found = logs.filter_log_events(logGroupName="/aws/lambda/rotator",
            filterPattern='"the new password does not work"')["events"]  # fmt: skip
        return bool(found)

    _wait(failed)
    time.sleep(1)  # the rotation's outcome is recorded right after the step's answer
    assert secrets.get_secret_value(SecretId=secret)["SecretString"] == rotated
    pending = secrets.get_secret_value(
        SecretId=secret, VersionId=failing, VersionStage="AWSPENDING"
    )
    assert pending["SecretString"] != rotated
    with pytest.raises(ClientError) as again:
        secrets.rotate_secret(SecretId=secret)
    assert again.value.response["Error"]["Code"] == "InvalidRequestException"
    assert "previous rotation isn't complete" in again.value.response["Error"]["Message"]
    cancelled = secrets.cancel_rotate_secret(SecretId=secret)
    assert cancelled["VersionId"] == failing
    assert secrets.describe_secret(SecretId=secret)["RotationEnabled"] is False

    # RotateImmediately false tests the configuration with the function's testSecret (decision
    # 0308): failing, the call is refused and rotation stays off; passing, it is on, nothing
    # rotated, the test's version gone.
    secrets.update_secret_version_stage(SecretId=secret, VersionStage="AWSPENDING",
        RemoveFromVersionId=failing)  # fmt: skip
    with pytest.raises(ClientError) as tested:
        secrets.rotate_secret(SecretId=secret, RotateImmediately=False)
    assert tested.value.response["Error"]["Code"] == "InvalidRequestException"
    assert "the new password does not work" in tested.value.response["Error"]["Message"]
    assert secrets.describe_secret(SecretId=secret)["RotationEnabled"] is False
    functions.update_function_configuration(FunctionName="rotator",
        Environment={"Variables": {}})  # fmt: skip
    secrets.rotate_secret(SecretId=secret, RotateImmediately=False)
    described = secrets.describe_secret(SecretId=secret)
    assert described["RotationEnabled"] is True
    labelled = sorted(s for s in described["VersionIdsToStages"].values() if s)
    assert labelled == [["AWSCURRENT"], ["AWSPREVIOUS"]]  # the test's version gone
    assert secrets.get_secret_value(SecretId=secret)["SecretString"] == rotated
