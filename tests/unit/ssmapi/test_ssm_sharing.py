"""Decision 0249 through the in-process Parameter Store app, signed as boto3 signs: resource
policies (PutResourcePolicy, GetResourcePolicies, DeleteResourcePolicy) with their hashes,
AWS's refusals (a Standard parameter, the AWS-managed key, principals, actions, resources,
sizes, counts), and a shared parameter read from another account by its ARN — only as both
its policy and the reader's IAM allow, read-only, a SecureString through a customer-managed key
the reader may use, listed by DescribeParameters ``Shared`` — and audited in both trails."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from pydantic import ValidationError

from andromede.settings import Settings
from andromede.wiring.ssm import parameter_limits
from support.ssmapp import Harness


async def advanced(ssm: Harness, name: str, value: str = "v", **extra: object) -> str:
    await ssm.ok(
        "PutParameter",
        {"Name": name, "Value": value, "Type": "String", "Tier": "Advanced", **extra},
    )
    return f"arn:aws:ssm:eu-fr-1:{ssm.tenant_id}:parameter/{name.removeprefix('/')}"


def grant(arn: str, *accounts: str, actions: object = None) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": [f"arn:aws:iam::{a}:root" for a in accounts]},
                    "Action": actions or ["ssm:GetParameter", "ssm:GetParameters"],
                    "Resource": arn,
                }
            ],
        }
    )


async def refused(ssm: Harness, action: str, payload: dict[str, Any], error: str) -> dict[str, Any]:
    reply = await ssm.call(action, payload)
    assert reply.status == 400, reply.body
    body: dict[str, Any] = reply.json()
    assert body["__type"] == error, body
    return body


async def test_a_policy_written_read_changed_and_deleted_against_its_hash(ssm: Harness) -> None:
    arn = await advanced(ssm, "/shared/db")
    put = await ssm.ok("PutResourcePolicy", {"ResourceArn": arn, "Policy": grant(arn, "1" * 12)})
    assert set(put) == {"PolicyId", "PolicyHash"}
    second = await ssm.ok("PutResourcePolicy", {"ResourceArn": arn, "Policy": grant(arn, "2" * 12)})
    listed = await ssm.ok("GetResourcePolicies", {"ResourceArn": arn})
    assert [(p["PolicyId"], p["PolicyHash"]) for p in listed["Policies"]] == [
        (put["PolicyId"], put["PolicyHash"]),
        (second["PolicyId"], second["PolicyHash"]),
    ]
    assert listed["Policies"][0]["Policy"] == grant(arn, "1" * 12)
    first_page = await ssm.ok("GetResourcePolicies", {"ResourceArn": arn, "MaxResults": 1})
    assert len(first_page["Policies"]) == 1
    rest = await ssm.ok(
        "GetResourcePolicies",
        {"ResourceArn": arn, "MaxResults": 1, "NextToken": first_page["NextToken"]},
    )
    assert rest["Policies"][0]["PolicyId"] == second["PolicyId"] and "NextToken" not in rest
    # A change names the hash it read; once changed, that hash is stale.
    changed = await ssm.ok(
        "PutResourcePolicy",
        {"ResourceArn": arn, "Policy": grant(arn, "3" * 12), "PolicyId": put["PolicyId"],
         "PolicyHash": put["PolicyHash"]},
    )  # fmt: skip
    assert changed["PolicyId"] == put["PolicyId"] and changed["PolicyHash"] != put["PolicyHash"]
    stale = {"ResourceArn": arn, "PolicyId": put["PolicyId"], "PolicyHash": put["PolicyHash"]}
    await ssm.fails(
        "PutResourcePolicy", {**stale, "Policy": grant(arn, "4" * 12)},
        "ResourcePolicyConflictException",
    )  # fmt: skip
    await ssm.fails("DeleteResourcePolicy", stale, "ResourcePolicyConflictException")
    await ssm.fails(
        "DeleteResourcePolicy", {**stale, "PolicyId": "nope"}, "ResourcePolicyNotFoundException"
    )
    body = await refused(
        ssm,
        "PutResourcePolicy",
        {"ResourceArn": arn, "Policy": grant(arn, "4" * 12), "PolicyId": put["PolicyId"]},
        "ResourcePolicyInvalidParameterException",
    )
    assert body["ParameterNames"] == ["PolicyHash"]
    await ssm.ok(
        "DeleteResourcePolicy",
        {"ResourceArn": arn, "PolicyId": put["PolicyId"], "PolicyHash": changed["PolicyHash"]},
    )
    listed = await ssm.ok("GetResourcePolicies", {"ResourceArn": arn})
    assert [p["PolicyId"] for p in listed["Policies"]] == [second["PolicyId"]]
    # A deleted parameter's policies go with it: made again, it is not shared.
    await ssm.ok("DeleteParameter", {"Name": "/shared/db"})
    await ssm.fails("GetResourcePolicies", {"ResourceArn": arn}, "ResourceNotFoundException")
    await advanced(ssm, "/shared/db")
    assert (await ssm.ok("GetResourcePolicies", {"ResourceArn": arn}))["Policies"] == []


async def test_what_a_parameter_policy_may_not_be(ssm: Harness) -> None:
    await ssm.ok("PutParameter", {"Name": "std", "Value": "v", "Type": "String"})
    std = f"arn:aws:ssm:eu-fr-1:{ssm.tenant_id}:parameter/std"
    body = await refused(
        ssm, "PutResourcePolicy", {"ResourceArn": std, "Policy": grant(std, "1" * 12)},
        "ResourcePolicyInvalidParameterException",
    )  # fmt: skip
    assert body["ParameterNames"] == ["ResourceArn"] and "advanced" in body["message"]
    await ssm.ok("PutParameter", {"Name": "/p/sec", "Value": "s", "Type": "SecureString",
                                  "Tier": "Advanced"})  # fmt: skip
    sec = f"arn:aws:ssm:eu-fr-1:{ssm.tenant_id}:parameter/p/sec"
    body = await refused(
        ssm, "PutResourcePolicy", {"ResourceArn": sec, "Policy": grant(sec, "1" * 12)},
        "ResourcePolicyInvalidParameterException",
    )  # fmt: skip
    assert "alias/aws/ssm" in body["message"]
    arn = await advanced(ssm, "/p/adv")
    gone = arn.replace("/adv", "/gone")
    await ssm.fails(
        "PutResourcePolicy", {"ResourceArn": gone, "Policy": grant(gone, "1" * 12)},
        "ResourceNotFoundException",
    )  # fmt: skip
    ops = f"arn:aws:ssm:eu-fr-1:{ssm.tenant_id}:opsitemgroup/default"
    await refused(
        ssm, "PutResourcePolicy", {"ResourceArn": ops, "Policy": grant(ops, "1" * 12)},
        "ResourcePolicyInvalidParameterException",
    )  # fmt: skip
    everyone = grant(arn, "1" * 12).replace('["arn:aws:iam::111111111111:root"]', '"*"')
    user = grant(arn, "1" * 12).replace(":root", ":user/alice")
    service = grant(arn, "1" * 12).replace(
        '{"AWS": ["arn:aws:iam::111111111111:root"]}', '{"Service": "ssm.amazonaws.com"}'
    )
    for policy in (
        everyone,
        user,
        service,
        grant(arn, "1" * 12, actions="ssm:PutParameter"),
        grant(arn, "1" * 12, actions="ssm:GetParameter*"),
        grant(arn.replace("/adv", "/other"), "1" * 12),
        "{not json",
        grant(arn, "1" * 12, actions="ssm:GetParamter"),  # not an ssm action (the catalogue)
    ):
        await ssm.fails(
            "PutResourcePolicy", {"ResourceArn": arn, "Policy": policy},
            "MalformedResourcePolicyDocumentException",
        )  # fmt: skip
    # An account id alone is an account too.
    await ssm.ok(
        "PutResourcePolicy",
        {"ResourceArn": arn, "Policy": grant(arn, "1" * 12).replace(
            '["arn:aws:iam::111111111111:root"]', '"111111111111"')},
    )  # fmt: skip
    big = grant(arn, *[f"{n:012d}" for n in range(30)])
    body = await refused(
        ssm, "PutResourcePolicy", {"ResourceArn": arn, "Policy": big},
        "ResourcePolicyLimitExceededException",
    )  # fmt: skip
    assert (body["Limit"], body["LimitType"]) == (1024, "Size")
    for n in range(9):
        await ssm.ok(
            "PutResourcePolicy", {"ResourceArn": arn, "Policy": grant(arn, f"{n + 2:012d}")}
        )
    body = await refused(
        ssm, "PutResourcePolicy", {"ResourceArn": arn, "Policy": grant(arn, "9" * 12)},
        "ResourcePolicyLimitExceededException",
    )  # fmt: skip
    assert (body["Limit"], body["LimitType"]) == (10, "PolicyCount")
    await ssm.fails(
        "PutResourcePolicy", {"ResourceArn": arn, "Policy": "  "}, "ValidationException"
    )


async def test_a_shared_parameter_is_read_by_its_arn_only_as_both_accounts_allow(
    ssm: Harness,
) -> None:
    reader = await ssm.other_tenant("reader")
    stranger = await ssm.other_tenant("stranger")
    arn = await advanced(ssm, "/team/db-url", "one")
    await ssm.ok("PutParameter", {"Name": "/team/db-url", "Value": "two", "Overwrite": True})
    # Not shared yet: refused by its ARN; by its name the reader sees its own (none).
    await reader.fails("GetParameter", {"Name": arn}, "AccessDeniedException")
    await reader.fails("GetParameter", {"Name": "/team/db-url"}, "ParameterNotFound")
    policy = grant(arn, reader.tenant_id, actions=[
        "ssm:GetParameter", "ssm:GetParameters", "ssm:DescribeParameters"])  # fmt: skip
    await ssm.ok("PutResourcePolicy", {"ResourceArn": arn, "Policy": policy})
    got = (await reader.ok("GetParameter", {"Name": arn}))["Parameter"]
    assert (got["Value"], got["Version"], got["ARN"]) == ("two", 2, arn)
    old = (await reader.ok("GetParameter", {"Name": f"{arn}:1"}))["Parameter"]
    assert (old["Value"], old["Selector"]) == ("one", ":1")
    many = await reader.ok("GetParameters", {"Names": [arn, "/nope"]})
    assert [p["ARN"] for p in many["Parameters"]] == [arn]
    assert many["InvalidParameters"] == ["/nope"]
    # What the policy does not grant stays refused: the history, and every write.
    message = await reader.fails("GetParameterHistory", {"Name": arn}, "AccessDeniedException")
    assert "resource-based policy" in message
    await reader.fails("PutParameter", {"Name": arn, "Value": "x", "Overwrite": True},
                       "AccessDeniedException")  # fmt: skip
    await reader.fails("DeleteParameter", {"Name": arn}, "AccessDeniedException")
    deleted = await reader.call("DeleteParameters", {"Names": [arn]})
    assert deleted.json()["__type"] == "AccessDeniedException"
    await reader.fails("LabelParameterVersion", {"Name": arn, "Labels": ["x"]},
                       "AccessDeniedException")  # fmt: skip
    await reader.fails(
        "AddTagsToResource",
        {"ResourceType": "Parameter", "ResourceId": arn, "Tags": [{"Key": "k", "Value": "v"}]},
        "AccessDeniedException",
    )
    await reader.fails("PutResourcePolicy", {"ResourceArn": arn, "Policy": policy},
                       "AccessDeniedException")  # fmt: skip
    await reader.fails("GetResourcePolicies", {"ResourceArn": arn}, "AccessDeniedException")
    assert (await ssm.ok("GetParameter", {"Name": "/team/db-url"}))["Parameter"]["Value"] == "two"
    # Another account the policy does not name is refused.
    await stranger.fails("GetParameter", {"Name": arn}, "AccessDeniedException")
    # A user of the reader's account needs its own IAM policy too.
    user = await reader.iam_user("app")
    await user.fails("GetParameter", {"Name": arn}, "AccessDeniedException")
    allow = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": arn}]}  # fmt: skip
    await reader.identity.put_user_policy(reader.tenant_id, "app", "p", json.dumps(allow))
    assert (await user.ok("GetParameter", {"Name": arn}))["Parameter"]["Value"] == "two"
    # Its policy deleted, the parameter is the owner's alone again.
    held = (await ssm.ok("GetResourcePolicies", {"ResourceArn": arn}))["Policies"][0]
    await ssm.ok("DeleteResourcePolicy", {"ResourceArn": arn, "PolicyId": held["PolicyId"],
                                          "PolicyHash": held["PolicyHash"]})  # fmt: skip
    await reader.fails("GetParameter", {"Name": arn}, "AccessDeniedException")
    await user.fails("GetParameter", {"Name": arn}, "AccessDeniedException")


async def test_history_and_the_shared_listing(ssm: Harness) -> None:
    reader = await ssm.other_tenant("reader")
    stranger = await ssm.other_tenant("stranger")
    arn = await advanced(ssm, "/app/a", "1", Description="first")
    other = await advanced(ssm, "/app/b")
    await advanced(ssm, "/app/unshared")
    await reader.ok("PutParameter", {"Name": "/mine", "Value": "m", "Type": "String"})
    everything = ["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParameterHistory",
                  "ssm:DescribeParameters"]  # fmt: skip
    await ssm.ok(
        "PutResourcePolicy",
        {"ResourceArn": arn, "Policy": grant(arn, reader.tenant_id, actions=everything)},
    )
    await ssm.ok("PutResourcePolicy", {"ResourceArn": other, "Policy": grant(
        other, reader.tenant_id, stranger.tenant_id, actions=everything)})  # fmt: skip
    history = (await reader.ok("GetParameterHistory", {"Name": arn}))["Parameters"]
    assert [(h["Version"], h["Value"], h["Description"]) for h in history] == [(1, "1", "first")]
    shared = (await reader.ok("DescribeParameters", {"Shared": True}))["Parameters"]
    assert [(p["Name"], p["ARN"], p["Tier"]) for p in shared] == [
        ("/app/a", arn, "Advanced"),
        ("/app/b", other, "Advanced"),
    ]
    named = await reader.ok(
        "DescribeParameters",
        {"Shared": True, "ParameterFilters": [{"Key": "Name", "Values": ["/app/b"]}]},
    )
    assert [p["ARN"] for p in named["Parameters"]] == [other]
    paged = await reader.ok("DescribeParameters", {"Shared": True, "MaxResults": 1})
    assert len(paged["Parameters"]) == 1 and paged["NextToken"]
    assert [p["Name"] for p in (await reader.ok("DescribeParameters"))["Parameters"]] == ["/mine"]
    assert [p["ARN"] for p in (await stranger.ok("DescribeParameters", {"Shared": True}))[
        "Parameters"]] == [other]  # fmt: skip
    assert (await ssm.ok("DescribeParameters", {"Shared": True}))["Parameters"] == []
    # A user of the reader's account lists only what its own IAM lets it describe.
    user = await reader.iam_user("lister")
    await user.fails("DescribeParameters", {"Shared": True}, "AccessDeniedException")
    only_b = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ssm:DescribeParameters", "Resource": "*",
         "Condition": {"StringNotLike": {"aws:ResourceTag/hidden": "*"}}},
        {"Effect": "Deny", "Action": "ssm:DescribeParameters", "Resource": arn}]}  # fmt: skip
    await reader.identity.put_user_policy(reader.tenant_id, "lister", "p", json.dumps(only_b))
    listed = (await user.ok("DescribeParameters", {"Shared": True}))["Parameters"]
    assert [p["ARN"] for p in listed] == [other]


async def test_a_secure_string_is_shared_under_a_customer_managed_key(ssm: Harness) -> None:
    reader = await ssm.other_tenant("reader")
    key = await ssm.keys.create_key(ssm.key_caller())
    await ssm.ok("PutParameter", {"Name": "/p/s", "Value": "secret", "Type": "SecureString",
                                  "KeyId": key.arn, "Tier": "Advanced"})  # fmt: skip
    arn = f"arn:aws:ssm:eu-fr-1:{ssm.tenant_id}:parameter/p/s"
    await ssm.ok("PutResourcePolicy", {"ResourceArn": arn, "Policy": grant(arn, reader.tenant_id)})
    # The key is not shared yet: the ciphertext only, and no decryption.
    got = (await reader.ok("GetParameter", {"Name": arn}))["Parameter"]
    assert got["Type"] == "SecureString" and got["Value"] != "secret"
    await reader.fails("GetParameter", {"Name": arn, "WithDecryption": True},
                       "AccessDeniedException")  # fmt: skip
    key_policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ssm.tenant_id}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{reader.tenant_id}:root"},
         "Action": "kms:Decrypt", "Resource": "*"}]}  # fmt: skip
    await ssm.keys.put_key_policy(ssm.key_caller(), key.key_id, "default", json.dumps(key_policy))
    got = (await reader.ok("GetParameter", {"Name": arn, "WithDecryption": True}))["Parameter"]
    assert got["Value"] == "secret"


async def test_a_shared_read_is_in_both_accounts_trails(ssm: Harness) -> None:
    reader = await ssm.other_tenant("reader")
    arn = await advanced(ssm, "/x/audited", "do-not-log-me")
    await ssm.ok("PutResourcePolicy", {"ResourceArn": arn, "Policy": grant(arn, reader.tenant_id)})
    await reader.ok("GetParameter", {"Name": arn})
    await ssm.audit.flush()
    records = [e for _, e in await ssm.audit_store.list_events(None, after_id=0, limit=500)]
    reads = [(e.tenant_id, e.principal, e.resource) for e in records
             if e.action == "ssm:GetParameter"]  # fmt: skip
    reader_root = f"arn:aws:iam::{reader.tenant_id}:root"
    assert sorted(reads) == sorted([(reader.tenant_id, reader_root, arn),
                                    (ssm.tenant_id, reader_root, arn)])  # fmt: skip
    puts = [e for e in records if e.action == "ssm:PutResourcePolicy"]
    assert [(e.tenant_id, e.resource) for e in puts] == [(ssm.tenant_id, arn)]
    assert "do-not-log-me" not in repr(records)


def test_the_policy_limits_are_settings(tmp_path: Path) -> None:
    limits = parameter_limits(
        Settings(data_dir=tmp_path, ssm_max_resource_policy_size=300, ssm_max_resource_policies=2)
    )
    assert (limits.max_resource_policy_size, limits.max_resource_policies) == (300, 2)
    defaults = parameter_limits(Settings(data_dir=tmp_path))
    assert (defaults.max_resource_policy_size, defaults.max_resource_policies) == (1024, 10)
    with pytest.raises(ValidationError):
        Settings(data_dir=tmp_path, ssm_max_resource_policies=0)


async def test_no_odd_parameter_of_a_policy_call_reaches_a_500(ssm: Harness) -> None:
    """Each member of the three calls' input shapes (botocore's model) given each odd value:
    AWS's error or a success, never a fault."""
    model = botocore.session.get_session().get_service_model("ssm")
    arn = await advanced(ssm, "/odd/p")
    base = {"ResourceArn": arn, "Policy": grant(arn, "1" * 12), "PolicyId": "x",
            "PolicyHash": "y"}  # fmt: skip
    odd: list[object] = [None, 0, -1, 2**70, True, "", " ", "x" * 3000, "arn:aws:ssm:::", [],
                         ["x"], {}, {"a": 1}]  # fmt: skip
    for operation in ("PutResourcePolicy", "GetResourcePolicies", "DeleteResourcePolicy"):
        members = list(model.operation_model(operation).input_shape.members)
        for member in members:
            for value in odd:
                payload = {k: v for k, v in base.items() if k in members}
                payload[member] = value
                reply = await ssm.call(operation, payload)
                assert reply.status in (200, 400), (operation, member, value, reply.body)
