"""The IAM policy simulator (decision 0193) in process, through botocore's serializer and parser:
SimulateCustomPolicy and SimulatePrincipalPolicy decide with the request path's engine and say
why (matched statements and where they are, missing context keys, boundary and resource-policy
details); GetContextKeysFor*Policy list the condition keys."""

from __future__ import annotations

import json
from typing import Any

import pytest

from support.queryapp import ApiError, Client, World

S3_READ = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
            {
                "Sid": "NoDeleteOutside",
                "Effect": "Deny",
                "Action": "s3:DeleteObject",
                "Resource": "*",
                "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
            },
            {
                "Effect": "Allow",
                "Action": "s3:DeleteObject",
                "Resource": "arn:aws:s3:::media/*",
                "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
            },
        ],
    },
    indent=2,
)


def decisions(answer: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [
        (r["EvalActionName"], r["EvalResourceName"], r["EvalDecision"])
        for r in answer["EvaluationResults"]
    ]


async def test_custom_policy_deny_condition_and_missing_keys(root: Client) -> None:
    answer = await root.call(
        "iam",
        "SimulateCustomPolicy",
        PolicyInputList=[S3_READ],
        ActionNames=["s3:GetObject", "s3:DeleteObject", "s3:PutObject"],
    )
    assert decisions(answer) == [
        ("s3:GetObject", "*", "allowed"),
        # aws:SourceIp is not given: NotIpAddress holds, the deny applies.
        ("s3:DeleteObject", "*", "explicitDeny"),
        ("s3:PutObject", "*", "implicitDeny"),
    ]
    read, delete, put = answer["EvaluationResults"]
    (matched,) = read["MatchedStatements"]
    assert matched["SourcePolicyId"] == "PolicyInputList.1"
    assert matched["SourcePolicyType"] == "none"
    # json.dumps(indent=2): the first statement's "{" on line 4 at column 5, "}" on line 9.
    assert matched["StartPosition"] == {"Line": 4, "Column": 5}
    assert matched["EndPosition"] == {"Line": 9, "Column": 5}
    assert [m["StartPosition"]["Line"] for m in delete["MatchedStatements"]] == [10]
    assert sorted(delete["MissingContextValues"]) == [
        "aws:MultiFactorAuthPresent",
        "aws:SourceIp",
    ]
    assert put["MatchedStatements"] == [] and put["MissingContextValues"] == []
    assert "OrganizationsDecisionDetail" not in read
    assert "PermissionsBoundaryDecisionDetail" not in read


async def test_custom_policy_context_entries_with_their_types(root: Client) -> None:
    answer = await root.call(
        "iam",
        "SimulateCustomPolicy",
        PolicyInputList=[S3_READ],
        ActionNames=["s3:DeleteObject"],
        ResourceArns=["arn:aws:s3:::media/cat.jpg", "arn:aws:s3:::other/cat.jpg"],
        ContextEntries=[
            {"ContextKeyName": "aws:SourceIp", "ContextKeyValues": ["10.1.2.3"],
             "ContextKeyType": "ip"},
            {"ContextKeyName": "aws:MultiFactorAuthPresent", "ContextKeyValues": ["true"],
             "ContextKeyType": "boolean"},
        ],
    )  # fmt: skip
    assert decisions(answer) == [
        ("s3:DeleteObject", "arn:aws:s3:::media/cat.jpg", "allowed"),
        ("s3:DeleteObject", "arn:aws:s3:::other/cat.jpg", "implicitDeny"),
    ]
    first = answer["EvaluationResults"][0]
    assert first["MissingContextValues"] == []
    (specific,) = first["ResourceSpecificResults"]
    assert specific["EvalResourceName"] == "arn:aws:s3:::media/cat.jpg"
    assert specific["EvalResourceDecision"] == "allowed"
    assert specific["MatchedStatements"][0]["StartPosition"] == {"Line": 21, "Column": 5}
    assert specific["MatchedStatements"][0]["EndPosition"] == {"Line": 30, "Column": 5}


async def test_custom_policy_pages_and_boundary(root: Client) -> None:
    boundary = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:List*", "Resource": "*"}],
        }
    )
    everything = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
        }
    )
    params: dict[str, Any] = {
        "PolicyInputList": [everything],
        "PermissionsBoundaryPolicyInputList": [boundary],
        "ActionNames": ["s3:ListBucket", "s3:GetObject", "s3:ListAllMyBuckets"],
        "MaxItems": 2,
    }
    first = await root.call("iam", "SimulateCustomPolicy", **params)
    assert first["IsTruncated"] is True
    second = await root.call("iam", "SimulateCustomPolicy", Marker=first["Marker"], **params)
    assert second["IsTruncated"] is False
    results = first["EvaluationResults"] + second["EvaluationResults"]
    assert [(r["EvalActionName"], r["EvalDecision"]) for r in results] == [
        ("s3:ListBucket", "allowed"),
        ("s3:GetObject", "implicitDeny"),
        ("s3:ListAllMyBuckets", "allowed"),
    ]
    allowed = [
        r["PermissionsBoundaryDecisionDetail"]["AllowedByPermissionsBoundary"] for r in results
    ]
    assert allowed == [True, False, True]


async def test_principal_policy_of_a_user_with_groups_and_boundary(
    root: Client, world: World
) -> None:
    account = world.tenant_id
    await root.call("iam", "CreateUser", UserName="dana", Path="/team/")
    await root.call("iam", "CreateGroup", GroupName="readers")
    await root.call("iam", "AddUserToGroup", GroupName="readers", UserName="dana")
    await root.call(
        "iam", "PutGroupPolicy", GroupName="readers", PolicyName="read", PolicyDocument=S3_READ
    )
    write = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["s3:PutObject", "iam:GetUser"],
                    "Resource": ["arn:aws:s3:::media/${aws:username}/*", "*"],
                }
            ],
        }
    )
    arn = (await root.call("iam", "CreatePolicy", PolicyName="writer", PolicyDocument=write))[
        "Policy"
    ]["Arn"]
    await root.call("iam", "AttachUserPolicy", UserName="dana", PolicyArn=arn)
    source = f"arn:aws:iam::{account}:user/team/dana"
    answer = await root.call(
        "iam",
        "SimulatePrincipalPolicy",
        PolicySourceArn=source,
        ActionNames=["s3:GetObject", "s3:PutObject"],
    )
    read, put = answer["EvaluationResults"]
    assert read["EvalDecision"] == "allowed"
    assert (read["MatchedStatements"][0]["SourcePolicyId"], read["MatchedStatements"][0][
        "SourcePolicyType"]) == ("read", "group")  # fmt: skip
    assert put["EvalDecision"] == "allowed"
    assert put["MatchedStatements"][0]["SourcePolicyType"] == "user-managed"
    # With a boundary that allows only reads, the write is refused.
    boundary = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}],
        }
    )
    barn = (await root.call("iam", "CreatePolicy", PolicyName="cap", PolicyDocument=boundary))[
        "Policy"
    ]["Arn"]
    await root.call("iam", "PutUserPermissionsBoundary", UserName="dana", PermissionsBoundary=barn)
    bounded = await root.call(
        "iam",
        "SimulatePrincipalPolicy",
        PolicySourceArn=source,
        ActionNames=["s3:GetObject", "s3:PutObject"],
    )
    assert decisions(bounded) == [
        ("s3:GetObject", "*", "allowed"),
        ("s3:PutObject", "*", "implicitDeny"),
    ]
    assert [
        r["PermissionsBoundaryDecisionDetail"]["AllowedByPermissionsBoundary"]
        for r in bounded["EvaluationResults"]
    ] == [True, False]
    keys = await root.call("iam", "GetContextKeysForPrincipalPolicy", PolicySourceArn=source)
    assert sorted(keys["ContextKeyNames"]) == ["aws:MultiFactorAuthPresent", "aws:SourceIp"]


async def test_resource_policy_needs_a_caller_and_details_each_side(
    root: Client, world: World
) -> None:
    account = world.tenant_id
    await root.call("iam", "CreateUser", UserName="eve")
    bucket_policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account}:user/eve"},
                    "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3:::media/*",
                }
            ],
        }
    )
    nothing = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "sqs:ListQueues", "Resource": "*"}],
        }
    )
    params: dict[str, Any] = {
        "PolicyInputList": [nothing],
        "ActionNames": ["s3:GetObject"],
        "ResourceArns": ["arn:aws:s3:::media/a.txt"],
        "ResourcePolicy": bucket_policy,
    }
    with pytest.raises(ApiError) as caught:
        await root.call("iam", "SimulateCustomPolicy", **params)
    assert (caught.value.status, caught.value.code) == (400, "InvalidInput")
    answer = await root.call(
        "iam",
        "SimulateCustomPolicy",
        CallerArn=f"arn:aws:iam::{account}:user/eve",
        ResourceOwner=f"arn:aws:iam::{account}:root",
        **params,
    )
    (result,) = answer["EvaluationResults"]
    assert result["EvalDecision"] == "allowed"
    assert result["MatchedStatements"][0]["SourcePolicyType"] == "resource"
    assert result["EvalDecisionDetails"] == {
        "IAM Policy": "implicitDeny",
        "Resource Policy": "allowed",
    }


async def test_context_keys_for_custom_policy(root: Client) -> None:
    answer = await root.call("iam", "GetContextKeysForCustomPolicy", PolicyInputList=[S3_READ])
    assert answer["ContextKeyNames"] == ["aws:SourceIp", "aws:MultiFactorAuthPresent"]


@pytest.mark.parametrize(
    ("params", "code"),
    [
        (
            {"ContextEntries": [{"ContextKeyName": "aws:EpochTime", "ContextKeyValues": ["x"],
                                 "ContextKeyType": "numeric"}]},
            "InvalidInput",
        ),
        (
            {"ContextEntries": [{"ContextKeyName": "s3:prefix", "ContextKeyValues": ["a", "b"],
                                 "ContextKeyType": "string"}]},
            "InvalidInput",
        ),
        ({"PolicyInputList": ['{"Statement": []}']}, "MalformedPolicyDocument"),
        ({"ActionNames": [f"s3:Get{n}" for n in range(40)], "ResourceArns": ["*"] * 30},
         "InvalidInput"),
        ({"CallerArn": "arn:aws:iam::123456789012:role/x"}, "InvalidInput"),
        ({"ResourceHandlingOption": "EC2-VPC-InstanceStore"}, "InvalidParameterValue"),
    ],
)  # fmt: skip
async def test_simulation_input_errors(root: Client, params: dict[str, Any], code: str) -> None:
    base: dict[str, Any] = {"PolicyInputList": [S3_READ], "ActionNames": ["s3:GetObject"]}
    with pytest.raises(ApiError) as caught:
        await root.call("iam", "SimulateCustomPolicy", **(base | params))
    assert (caught.value.status, caught.value.code) == (400, code)


async def test_principal_simulation_of_nobody(root: Client, world: World) -> None:
    with pytest.raises(ApiError) as caught:
        await root.call(
            "iam",
            "SimulatePrincipalPolicy",
            PolicySourceArn=f"arn:aws:iam::{world.tenant_id}:user/ghost",
            ActionNames=["s3:GetObject"],
        )
    assert (caught.value.status, caught.value.code) == (404, "NoSuchEntity")
