"""Decision 0190 through the in-process Secrets Manager app, signed as boto3 signs: the life
of a secret (create, read, new versions and their labels, deletion and restore), idempotent
tokens, names and ARNs, listing, tags, resource policies and another account's access,
IAM's condition keys, the KMS envelope's refusals, GetRandomPassword and
BatchGetSecretValue, and the calls refused in AWS's words."""

from __future__ import annotations

import asyncio
import base64
import json
import string

from andromede.audit.model import Outcome
from support.secretsapp import Harness

TOKEN_1 = "a" * 32
TOKEN_2 = "b" * 32


async def test_life_of_a_secret(sm: Harness) -> None:
    made = await sm.ok(
        "CreateSecret",
        {"Name": "prod/db", "SecretString": "hunter2", "ClientRequestToken": TOKEN_1},
    )
    arn = made["ARN"]
    assert made == {"ARN": arn, "Name": "prod/db", "VersionId": TOKEN_1}
    got = await sm.ok("GetSecretValue", {"SecretId": "prod/db"})
    assert (got["SecretString"], got["VersionId"], got["VersionStages"]) == (
        "hunter2",
        TOKEN_1,
        ["AWSCURRENT"],
    )
    put = await sm.ok(
        "PutSecretValue", {"SecretId": arn, "SecretString": "s3cr3t", "ClientRequestToken": TOKEN_2}
    )
    assert put["VersionStages"] == ["AWSCURRENT"]
    assert (await sm.ok("GetSecretValue", {"SecretId": arn}))["SecretString"] == "s3cr3t"
    previous = await sm.ok("GetSecretValue", {"SecretId": arn, "VersionStage": "AWSPREVIOUS"})
    assert previous["SecretString"] == "hunter2"
    by_id = await sm.ok("GetSecretValue", {"SecretId": arn, "VersionId": TOKEN_1})
    assert by_id["VersionStages"] == ["AWSPREVIOUS"]
    described = await sm.ok("DescribeSecret", {"SecretId": arn})
    assert described["VersionIdsToStages"] == {TOKEN_1: ["AWSPREVIOUS"], TOKEN_2: ["AWSCURRENT"]}
    assert "LastAccessedDate" in described and "DeletedDate" not in described
    # Back to the first version, as a rollback does.
    await sm.ok(
        "UpdateSecretVersionStage",
        {
            "SecretId": arn,
            "VersionStage": "AWSCURRENT",
            "MoveToVersionId": TOKEN_1,
            "RemoveFromVersionId": TOKEN_2,
        },
    )
    assert (await sm.ok("GetSecretValue", {"SecretId": arn}))["SecretString"] == "hunter2"
    versions = await sm.ok("ListSecretVersionIds", {"SecretId": arn})
    assert {v["VersionId"]: v["VersionStages"] for v in versions["Versions"]} == {
        TOKEN_1: ["AWSCURRENT"],
        TOKEN_2: ["AWSPREVIOUS"],
    }
    # Deleted: readable no more, described with its date, restored.
    deleted = await sm.ok("DeleteSecret", {"SecretId": arn, "RecoveryWindowInDays": 7})
    assert deleted["DeletionDate"] > described["CreatedDate"] + 6 * 86400
    message = await sm.fails("GetSecretValue", {"SecretId": arn}, "InvalidRequestException")
    assert "marked for deletion" in message
    await sm.fails(
        "PutSecretValue", {"SecretId": arn, "SecretString": "x"}, "InvalidRequestException"
    )
    assert "DeletedDate" in await sm.ok("DescribeSecret", {"SecretId": arn})
    await sm.ok("RestoreSecret", {"SecretId": arn})
    assert (await sm.ok("GetSecretValue", {"SecretId": "prod/db"}))["SecretString"] == "hunter2"
    await sm.ok("DeleteSecret", {"SecretId": arn, "ForceDeleteWithoutRecovery": True})
    await sm.fails("DescribeSecret", {"SecretId": arn}, "ResourceNotFoundException")


async def test_tokens_are_idempotent(sm: Harness) -> None:
    create = {"Name": "app", "SecretString": "v1", "ClientRequestToken": TOKEN_1}
    first = await sm.ok("CreateSecret", create)
    assert await sm.ok("CreateSecret", create) == first
    await sm.fails("CreateSecret", {**create, "SecretString": "v2"}, "ResourceExistsException")
    await sm.fails(
        "CreateSecret", {**create, "ClientRequestToken": TOKEN_2}, "ResourceExistsException"
    )
    put = {"SecretId": "app", "SecretString": "v2", "ClientRequestToken": TOKEN_2}
    assert (await sm.ok("PutSecretValue", put))["VersionId"] == TOKEN_2
    assert (await sm.ok("PutSecretValue", put))["VersionId"] == TOKEN_2
    message = await sm.fails(
        "PutSecretValue", {**put, "SecretString": "v3"}, "ResourceExistsException"
    )
    assert "existing version" in message
    listed = await sm.ok("ListSecretVersionIds", {"SecretId": "app"})
    assert len(listed["Versions"]) == 2


async def test_names_arns_and_values(sm: Harness) -> None:
    await sm.fails("CreateSecret", {"Name": "bad name"}, "InvalidParameterException")
    await sm.fails("CreateSecret", {"Name": "x" * 513}, "ValidationException")
    raw = bytes(range(256))
    made = await sm.ok(
        "CreateSecret", {"Name": "bin", "SecretBinary": base64.b64encode(raw).decode()}
    )
    arn = made["ARN"]
    got = await sm.ok("GetSecretValue", {"SecretId": arn})
    assert base64.b64decode(got["SecretBinary"]) == raw and "SecretString" not in got
    partial = arn.rsplit("-", 1)[0]
    assert (await sm.ok("DescribeSecret", {"SecretId": partial}))["ARN"] == arn
    await sm.fails("DescribeSecret", {"SecretId": partial + "-zzzzzz"}, "ResourceNotFoundException")
    await sm.fails(
        "CreateSecret", {"Name": "big", "SecretString": "x" * 1025}, "ValidationException"
    )
    await sm.fails(
        "CreateSecret",
        {"Name": "both", "SecretString": "a", "SecretBinary": "YQ=="},
        "InvalidParameterException",
    )
    no_value = await sm.ok("CreateSecret", {"Name": "empty"})
    assert "VersionId" not in no_value
    await sm.fails("GetSecretValue", {"SecretId": "empty"}, "ResourceNotFoundException")
    await sm.fails("PutSecretValue", {"SecretId": "empty"}, "InvalidRequestException")


async def test_versions_beyond_the_limit_are_removed(sm: Harness) -> None:
    await sm.ok("CreateSecret", {"Name": "rolling", "SecretString": "0"})
    for n in range(1, 6):
        await sm.ok("PutSecretValue", {"SecretId": "rolling", "SecretString": str(n)})
    listed = await sm.ok("ListSecretVersionIds", {"SecretId": "rolling", "IncludeDeprecated": True})
    assert len(listed["Versions"]) == 4  # the harness keeps 4
    stages = sorted(s for v in listed["Versions"] for s in v["VersionStages"])
    assert stages == ["AWSCURRENT", "AWSPREVIOUS"]


async def test_list_filters_pages_and_planned_deletion(sm: Harness) -> None:
    for name, team in (("a/one", "pay"), ("a/two", "ops"), ("b/three", "pay")):
        await sm.ok("CreateSecret", {"Name": name, "Tags": [{"Key": "team", "Value": team}]})
    await sm.ok("DeleteSecret", {"SecretId": "a/two"})
    names = [s["Name"] for s in (await sm.ok("ListSecrets"))["SecretList"]]
    assert sorted(names) == ["a/one", "b/three"]
    every = await sm.ok("ListSecrets", {"IncludePlannedDeletion": True})
    assert len(every["SecretList"]) == 3
    pay = await sm.ok("ListSecrets", {"Filters": [{"Key": "tag-value", "Values": ["pay"]}]})
    assert sorted(s["Name"] for s in pay["SecretList"]) == ["a/one", "b/three"]
    named = await sm.ok(
        "ListSecrets",
        {"Filters": [{"Key": "name", "Values": ["a/"]}], "IncludePlannedDeletion": True},
    )
    assert sorted(s["Name"] for s in named["SecretList"]) == ["a/one", "a/two"]
    page = await sm.ok("ListSecrets", {"MaxResults": 1})
    rest = await sm.ok("ListSecrets", {"MaxResults": 1, "NextToken": page["NextToken"]})
    assert "NextToken" not in rest
    assert {page["SecretList"][0]["Name"], rest["SecretList"][0]["Name"]} == {"a/one", "b/three"}
    await sm.fails("ListSecrets", {"NextToken": "garbage!"}, "InvalidNextTokenException")
    await sm.fails(
        "ListSecrets", {"Filters": [{"Key": "colour", "Values": ["x"]}]}, "ValidationException"
    )


async def test_deletion_windows(sm: Harness) -> None:
    await sm.ok("CreateSecret", {"Name": "w", "SecretString": "v"})
    for days in (6, 31):
        await sm.fails(
            "DeleteSecret",
            {"SecretId": "w", "RecoveryWindowInDays": days},
            "InvalidParameterException",
        )
    await sm.fails(
        "DeleteSecret",
        {"SecretId": "w", "RecoveryWindowInDays": 7, "ForceDeleteWithoutRecovery": True},
        "InvalidParameterException",
    )
    deleted = await sm.ok("DeleteSecret", {"SecretId": "w"})  # 30 days by default
    described = await sm.ok("DescribeSecret", {"SecretId": "w"})
    assert round((deleted["DeletionDate"] - described["LastChangedDate"]) / 86400) == 30
    message = await sm.fails("CreateSecret", {"Name": "w"}, "InvalidRequestException")
    assert "scheduled for deletion" in message


async def test_tags(sm: Harness) -> None:
    await sm.ok("CreateSecret", {"Name": "t", "Tags": [{"Key": "a", "Value": "1"}]})
    await sm.ok(
        "TagResource",
        {"SecretId": "t", "Tags": [{"Key": "b", "Value": "2"}, {"Key": "a", "Value": "3"}]},
    )
    described = await sm.ok("DescribeSecret", {"SecretId": "t"})
    assert described["Tags"] == [{"Key": "a", "Value": "3"}, {"Key": "b", "Value": "2"}]
    await sm.fails(
        "TagResource",
        {"SecretId": "t", "Tags": [{"Key": k, "Value": ""} for k in "cd"]},
        "LimitExceededException",
    )
    await sm.fails(
        "TagResource", {"SecretId": "t", "Tags": [{"Key": "aws:x", "Value": ""}]},
        "InvalidParameterException",
    )  # fmt: skip
    await sm.ok("UntagResource", {"SecretId": "t", "TagKeys": ["a"]})
    assert (await sm.ok("DescribeSecret", {"SecretId": "t"}))["Tags"] == [
        {"Key": "b", "Value": "2"}
    ]


def _grant(account: str, arn: str, action: str = "secretsmanager:GetSecretValue") -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                    "Action": action,
                    "Resource": arn,
                }
            ],
        }
    )


async def test_resource_policies_and_another_account(sm: Harness) -> None:
    other = await sm.other_tenant("other")
    key = await sm.keys.create_key(sm.key_caller())
    key_policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{sm.tenant_id}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                },
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{other.tenant_id}:root"},
                    "Action": "kms:Decrypt",
                    "Resource": "*",
                },
            ],
        }
    )
    await sm.keys.put_key_policy(sm.key_caller(), key.key_id, "default", key_policy)
    shared = (
        await sm.ok(
            "CreateSecret", {"Name": "shared", "SecretString": "for you", "KmsKeyId": key.arn}
        )
    )["ARN"]
    mine = (await sm.ok("CreateSecret", {"Name": "mine", "SecretString": "default key"}))["ARN"]
    # No policy: the other account is refused, by ARN; by name it sees its own (none).
    await other.fails("GetSecretValue", {"SecretId": shared}, "AccessDeniedException")
    await other.fails("GetSecretValue", {"SecretId": "shared"}, "ResourceNotFoundException")
    await sm.fails(
        "PutResourcePolicy", {"SecretId": shared, "ResourcePolicy": "{"},
        "MalformedPolicyDocumentException",
    )  # fmt: skip
    public = _grant("*", shared).replace('{"AWS": "arn:aws:iam::*:root"}', '"*"')
    await sm.fails(
        "PutResourcePolicy", {"SecretId": shared, "ResourcePolicy": public},
        "PublicPolicyException",
    )  # fmt: skip
    checked = await sm.ok("ValidateResourcePolicy", {"ResourcePolicy": public})
    assert checked["PolicyValidationPassed"] is False
    assert checked["ValidationErrors"][0]["CheckName"] == "PUBLIC_POLICY"
    for arn in (shared, mine):
        await sm.ok(
            "PutResourcePolicy", {"SecretId": arn, "ResourcePolicy": _grant(other.tenant_id, arn)}
        )
    got = await other.ok("GetSecretValue", {"SecretId": shared})
    assert got["SecretString"] == "for you"
    # The AWS-managed key serves its own account only, as on AWS.
    message = await other.fails("GetSecretValue", {"SecretId": mine}, "AccessDeniedException")
    assert message == "Access to KMS is not allowed"
    # What the policy does not grant stays refused.
    await other.fails("DescribeSecret", {"SecretId": shared}, "AccessDeniedException")
    policy = await sm.ok("GetResourcePolicy", {"SecretId": shared})
    assert json.loads(policy["ResourcePolicy"])["Statement"][0]["Action"].endswith("Value")
    await sm.ok("DeleteResourcePolicy", {"SecretId": shared})
    await other.fails("GetSecretValue", {"SecretId": shared}, "AccessDeniedException")


async def test_iam_condition_keys(sm: Harness) -> None:
    await sm.ok(
        "CreateSecret",
        {"Name": "pay/a", "SecretString": "1", "Tags": [{"Key": "team", "Value": "pay"}]},
    )
    await sm.ok("CreateSecret", {"Name": "ops/b", "SecretString": "2"})
    user = await sm.iam_user("reader")
    await user.fails("GetSecretValue", {"SecretId": "pay/a"}, "AccessDeniedException")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                "Resource": "*",
                "Condition": {"StringEquals": {"secretsmanager:ResourceTag/team": "pay"}},
            },
            {
                "Effect": "Allow",
                "Action": "secretsmanager:CreateSecret",
                "Resource": "*",
                "Condition": {"StringLike": {"secretsmanager:Name": "pay/*"}},
            },
        ],
    }
    await sm.identity.put_user_policy(sm.tenant_id, "reader", "p", json.dumps(policy))
    assert (await user.ok("GetSecretValue", {"SecretId": "pay/a"}))["SecretString"] == "1"
    await user.fails("GetSecretValue", {"SecretId": "ops/b"}, "AccessDeniedException")
    await user.ok("CreateSecret", {"Name": "pay/new"})
    await user.fails("CreateSecret", {"Name": "ops/new"}, "AccessDeniedException")


async def test_kms_refusals_map_to_secrets_manager_errors(sm: Harness) -> None:
    key = await sm.keys.create_key(sm.key_caller())
    await sm.ok("CreateSecret", {"Name": "k", "SecretString": "v", "KmsKeyId": key.key_id})
    await sm.keys.disable_key(sm.key_caller(), key.key_id)
    await sm.fails("GetSecretValue", {"SecretId": "k"}, "DecryptionFailure")
    await sm.fails("PutSecretValue", {"SecretId": "k", "SecretString": "w"}, "EncryptionFailure")
    await sm.fails(
        "CreateSecret",
        {"Name": "nokey", "SecretString": "v", "KmsKeyId": "alias/none"},
        "EncryptionFailure",
    )
    await sm.keys.enable_key(sm.key_caller(), key.key_id)
    assert (await sm.ok("GetSecretValue", {"SecretId": "k"}))["SecretString"] == "v"
    # The account's AWS-managed key is made on first use, and used after.
    await sm.ok("CreateSecret", {"Name": "d", "SecretString": "v"})
    managed, made_now = await sm.keys.aws_managed_key(sm.tenant_id, "secretsmanager")
    assert made_now is False
    assert managed.key_manager == "AWS"


async def test_audit_records_reads_and_key_uses(sm: Harness) -> None:
    arn = (await sm.ok("CreateSecret", {"Name": "aud", "SecretString": "v"}))["ARN"]
    reply = await sm.call("GetSecretValue", {"SecretId": arn})
    await sm.fails("GetSecretValue", {"SecretId": "nope"}, "ResourceNotFoundException")
    await sm.audit.flush()
    records = [e for _, e in await sm.audit_store.list_events(None, after_id=0, limit=500)]
    reads = [e for e in records if e.action == "secretsmanager:GetSecretValue"]
    assert [(e.resource, e.outcome) for e in reads] == [
        (arn, Outcome.SUCCESS),
        ("*", Outcome.FAILURE),
    ]
    assert reads[0].request_id == reply.headers["x-amzn-requestid"]
    uses = [e for e in records if e.action in ("kms:GenerateDataKey", "kms:Decrypt")]
    assert [e.action for e in uses] == ["kms:GenerateDataKey", "kms:Decrypt"]
    assert uses[1].details["SecretARN"] == arn


async def test_random_passwords(sm: Harness) -> None:
    default = (await sm.ok("GetRandomPassword"))["RandomPassword"]
    assert len(default) == 32
    digits = await sm.ok(
        "GetRandomPassword",
        {"PasswordLength": 64, "ExcludeLowercase": True, "ExcludeUppercase": True,
         "ExcludePunctuation": True, "ExcludeCharacters": "01"},
    )  # fmt: skip
    assert set(digits["RandomPassword"]) <= set("23456789")
    each = (await sm.ok("GetRandomPassword", {"PasswordLength": 4}))["RandomPassword"]
    for group in (string.ascii_lowercase, string.ascii_uppercase, string.digits):
        assert any(c in group for c in each)
    await sm.fails("GetRandomPassword", {"PasswordLength": 4097}, "ValidationException")
    await sm.fails(
        "GetRandomPassword",
        {"ExcludeLowercase": True, "ExcludeUppercase": True, "ExcludeNumbers": True,
         "ExcludePunctuation": True},
        "InvalidParameterException",
    )  # fmt: skip


async def test_batch_get(sm: Harness) -> None:
    a = (await sm.ok("CreateSecret", {"Name": "x/a", "SecretString": "1"}))["ARN"]
    await sm.ok("CreateSecret", {"Name": "x/b", "SecretString": "2"})
    batch = await sm.ok("BatchGetSecretValue", {"SecretIdList": [a, "x/b", "x/none"]})
    assert [v["SecretString"] for v in batch["SecretValues"]] == ["1", "2"]
    assert batch["Errors"][0]["SecretId"] == "x/none"
    assert batch["Errors"][0]["ErrorCode"] == "ResourceNotFoundException"
    filtered = await sm.ok("BatchGetSecretValue", {"Filters": [{"Key": "name", "Values": ["x/b"]}]})
    assert [v["Name"] for v in filtered["SecretValues"]] == ["x/b"]
    await sm.fails("BatchGetSecretValue", {}, "InvalidParameterException")


async def test_refused_and_unknown_calls(sm: Harness) -> None:
    await sm.ok("CreateSecret", {"Name": "r", "SecretString": "v"})
    message = await sm.fails("RotateSecret", {"SecretId": "r"}, "InvalidRequestException")
    assert "Lambda" in message
    arn = (await sm.ok("DescribeSecret", {"SecretId": "r"}))["ARN"]
    intruder = await sm.other_tenant("intruder")  # learns nothing of another's secret
    await intruder.fails("CancelRotateSecret", {"SecretId": arn}, "AccessDeniedException")
    # Replication (decision 0207): a region this deployment does not declare is refused.
    message = await sm.fails(
        "ReplicateSecretToRegions",
        {"SecretId": "r", "AddReplicaRegions": [{"Region": "us-east-1"}]},
        "InvalidParameterException",
    )
    assert "us-east-1" in message
    await sm.fails(
        "ReplicateSecretToRegions",
        {"SecretId": "r", "AddReplicaRegions": [{"Region": "x"}]},
        "ValidationException",
    )
    await sm.fails("Nonsense", {}, "UnknownOperationException")
    reply = await sm.anonymous().call("ListSecrets", {})
    assert reply.status == 400
    assert reply.error_type == "MissingAuthenticationTokenException"
    bad = await sm.call("ListSecrets", b"{not json")
    assert bad.status == 400 and bad.error_type == "SerializationException"


async def test_calls_are_metered_to_the_caller(sm: Harness) -> None:
    await sm.ok("CreateSecret", {"Name": "m", "SecretString": "v"})
    await sm.ok("GetSecretValue", {"SecretId": "m"})
    await sm.fails("GetSecretValue", {"SecretId": "none"}, "ResourceNotFoundException")
    await sm.fails("Nonsense", {}, "UnknownOperationException")  # no action: not counted
    assert await sm.usage("secretsmanager.requests") == 3


async def test_concurrent_writers_leave_one_current(sm: Harness) -> None:
    await sm.ok("CreateSecret", {"Name": "race", "SecretString": "0"})
    puts = [
        sm.ok("PutSecretValue", {"SecretId": "race", "SecretString": str(n)}) for n in range(1, 4)
    ]
    written = await asyncio.gather(*puts)
    listed = await sm.ok("ListSecretVersionIds", {"SecretId": "race"})
    stages = sorted(s for v in listed["Versions"] for s in v["VersionStages"])
    assert stages == ["AWSCURRENT", "AWSPREVIOUS"]
    current = (await sm.ok("GetSecretValue", {"SecretId": "race"}))["VersionId"]
    assert current in {w["VersionId"] for w in written}
