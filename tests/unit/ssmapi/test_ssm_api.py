"""Decision 0229 through the in-process Parameter Store app, signed as boto3 signs: a
parameter's life (versions, selectors, history, labels, deletion), the listing calls and
their filters and pages, AWS's rules and errors for names, tiers, sizes, data types and
patterns, the history's bound, tags, Expiration policies and their upkeep, SecureString under
KMS keys (the caller's kms:Decrypt, a disabled key), every value sealed at rest, IAM, tenant
isolation and the audit trail."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

from andromede.ssm.public import PublicImage
from andromede.ssm.service import ParameterService, ValueSealer
from support.ssmapp import Harness


def sealer_of(service: ParameterService) -> ValueSealer:
    return service._sealer  # the same sealer, under another clock


async def put(ssm: Harness, name: str, value: str = "v", **extra: object) -> dict[str, object]:
    return await ssm.ok("PutParameter", {"Name": name, "Value": value, "Type": "String", **extra})


async def test_life_of_a_parameter(ssm: Harness) -> None:
    assert await put(ssm, "/app/db/url", "one") == {"Version": 1, "Tier": "Standard"}
    got = (await ssm.ok("GetParameter", {"Name": "/app/db/url"}))["Parameter"]
    assert got["Value"] == "one" and got["Version"] == 1 and got["Type"] == "String"
    assert got["ARN"] == f"arn:aws:ssm:eu-fr-1:{ssm.tenant_id}:parameter/app/db/url"
    assert got["DataType"] == "text"
    message = await ssm.fails(
        "PutParameter", {"Name": "/app/db/url", "Value": "x", "Type": "String"},
        "ParameterAlreadyExists",
    )  # fmt: skip
    assert "overwrite" in message
    two = await ssm.ok("PutParameter", {"Name": "/app/db/url", "Value": "two", "Overwrite": True})
    assert two["Version"] == 2
    assert (await ssm.ok("GetParameter", {"Name": "/app/db/url"}))["Parameter"]["Value"] == "two"
    first = (await ssm.ok("GetParameter", {"Name": "/app/db/url:1"}))["Parameter"]
    assert (first["Value"], first["Selector"]) == ("one", ":1")
    await ssm.fails("GetParameter", {"Name": "/app/db/url:9"}, "ParameterVersionNotFound")
    by_arn = await ssm.ok("GetParameter", {"Name": got["ARN"]})
    assert by_arn["Parameter"]["Value"] == "two"
    history = (await ssm.ok("GetParameterHistory", {"Name": "/app/db/url"}))["Parameters"]
    assert [(h["Version"], h["Value"], h["Labels"]) for h in history] == [
        (1, "one", []),
        (2, "two", []),
    ]
    assert history[0]["LastModifiedUser"].endswith(":root")
    many = await ssm.ok("GetParameters", {"Names": ["/app/db/url", "/nope", "/app/db/url:1"]})
    assert [p["Value"] for p in many["Parameters"]] == ["two", "one"]
    assert many["InvalidParameters"] == ["/nope"]
    await ssm.ok("DeleteParameter", {"Name": "/app/db/url"})
    await ssm.fails("GetParameter", {"Name": "/app/db/url"}, "ParameterNotFound")
    await ssm.fails("DeleteParameter", {"Name": "/app/db/url"}, "ParameterNotFound")
    await put(ssm, "a")
    deleted = await ssm.ok("DeleteParameters", {"Names": ["a", "b"]})
    assert deleted == {"DeletedParameters": ["a"], "InvalidParameters": ["b"]}


async def test_labels(ssm: Harness) -> None:
    await put(ssm, "/l", "1")
    await ssm.ok("PutParameter", {"Name": "/l", "Value": "2", "Overwrite": True})
    labelled = await ssm.ok(
        "LabelParameterVersion",
        {"Name": "/l", "ParameterVersion": 1, "Labels": ["prod", "9bad", "awsy", "ok.1"]},
    )
    assert labelled == {"InvalidLabels": ["9bad", "awsy"], "ParameterVersion": 1}
    assert (await ssm.ok("GetParameter", {"Name": "/l:prod"}))["Parameter"]["Value"] == "1"
    # A label names one version: labelling version 2 moves it.
    moved = await ssm.ok("LabelParameterVersion", {"Name": "/l", "Labels": ["prod"]})
    assert moved["ParameterVersion"] == 2
    assert (await ssm.ok("GetParameter", {"Name": "/l:prod"}))["Parameter"]["Value"] == "2"
    history = (await ssm.ok("GetParameterHistory", {"Name": "/l"}))["Parameters"]
    assert [h["Labels"] for h in history] == [["ok.1"], ["prod"]]
    await ssm.fails("GetParameter", {"Name": "/l:nolabel"}, "ParameterNotFound")
    many = [f"l{i}" for i in range(10)]
    await ssm.fails(
        "LabelParameterVersion", {"Name": "/l", "ParameterVersion": 1, "Labels": many},
        "ParameterVersionLabelLimitExceeded",
    )  # fmt: skip
    removed = await ssm.ok(
        "UnlabelParameterVersion", {"Name": "/l", "ParameterVersion": 2, "Labels": ["prod", "x"]}
    )
    assert removed == {"RemovedLabels": ["prod"], "InvalidLabels": ["x"]}
    await ssm.fails(
        "LabelParameterVersion", {"Name": "/l", "ParameterVersion": 7, "Labels": ["a"]},
        "ParameterVersionNotFound",
    )  # fmt: skip


async def test_history_keeps_the_newest_versions_unless_the_oldest_is_labelled(
    ssm: Harness,
) -> None:
    await put(ssm, "/h", "1")
    for value in ("2", "3", "4"):  # max_versions is 3 in the harness
        await ssm.ok("PutParameter", {"Name": "/h", "Value": value, "Overwrite": True})
    history = (await ssm.ok("GetParameterHistory", {"Name": "/h"}))["Parameters"]
    assert [h["Version"] for h in history] == [2, 3, 4]
    await ssm.ok("LabelParameterVersion", {"Name": "/h", "ParameterVersion": 2, "Labels": ["k"]})
    message = await ssm.fails(
        "PutParameter", {"Name": "/h", "Value": "5", "Overwrite": True},
        "ParameterMaxVersionLimitExceeded",
    )  # fmt: skip
    assert "Version 2, the oldest version" in message


async def test_listing_by_path_and_filters(ssm: Harness) -> None:
    for name in ("/p/a", "/p/b", "/p/q/c", "/p/q/r/d", "/other", "flat"):
        await put(ssm, name, name)
    await ssm.ok("PutParameter", {"Name": "/p/s", "Value": "x", "Type": "SecureString"})
    one = await ssm.ok("GetParametersByPath", {"Path": "/p"})
    assert [p["Name"] for p in one["Parameters"]] == ["/p/a", "/p/b", "/p/s"]
    deep = await ssm.ok("GetParametersByPath", {"Path": "/p/", "Recursive": True})
    assert [p["Name"] for p in deep["Parameters"]] == [
        "/p/a", "/p/b", "/p/q/c", "/p/q/r/d", "/p/s",
    ]  # fmt: skip
    typed = await ssm.ok(
        "GetParametersByPath",
        {"Path": "/p", "Recursive": True,
         "ParameterFilters": [{"Key": "Type", "Values": ["SecureString"]}]},
    )  # fmt: skip
    assert [p["Name"] for p in typed["Parameters"]] == ["/p/s"]
    await ssm.fails(
        "GetParametersByPath",
        {"Path": "/p", "ParameterFilters": [{"Key": "Name", "Values": ["x"]}]},
        "InvalidFilterKey",
    )
    # A Label filter picks, of each parameter, its newest version carrying the label.
    await ssm.ok("PutParameter", {"Name": "/p/a", "Value": "a2", "Overwrite": True})
    await ssm.ok("LabelParameterVersion", {"Name": "/p/a", "ParameterVersion": 1, "Labels": ["v1"]})
    labelled = await ssm.ok(
        "GetParametersByPath",
        {"Path": "/p", "ParameterFilters": [{"Key": "Label", "Values": ["v1"]}]},
    )
    assert [(p["Name"], p["Value"], p["Version"]) for p in labelled["Parameters"]] == [
        ("/p/a", "/p/a", 1)
    ]
    await ssm.fails(
        "DescribeParameters",
        {"ParameterFilters": [{"Key": "Label", "Values": ["v1"]}]},
        "InvalidFilterKey",
    )
    await ssm.fails("GetParametersByPath", {"Path": "p"}, "ValidationException")
    # Pages of MaxResults.
    first = await ssm.ok("GetParametersByPath", {"Path": "/p", "Recursive": True, "MaxResults": 2})
    second = await ssm.ok(
        "GetParametersByPath",
        {"Path": "/p", "Recursive": True, "MaxResults": 2, "NextToken": first["NextToken"]},
    )
    assert [p["Name"] for p in second["Parameters"]] == ["/p/q/c", "/p/q/r/d"]
    await ssm.fails("GetParametersByPath", {"Path": "/p", "NextToken": "!!"}, "InvalidNextToken")
    described = await ssm.ok(
        "DescribeParameters",
        {"ParameterFilters": [{"Key": "Path", "Option": "Recursive", "Values": ["/p/q"]}]},
    )
    assert [p["Name"] for p in described["Parameters"]] == ["/p/q/c", "/p/q/r/d"]
    begins = await ssm.ok(
        "DescribeParameters",
        {"ParameterFilters": [{"Key": "Name", "Option": "BeginsWith", "Values": ["/p/q"]}]},
    )
    assert len(begins["Parameters"]) == 2
    secure = await ssm.ok(
        "DescribeParameters", {"ParameterFilters": [{"Key": "KeyId", "Values": ["alias/aws/ssm"]}]}
    )
    assert [(p["Name"], p["KeyId"]) for p in secure["Parameters"]] == [("/p/s", "alias/aws/ssm")]
    legacy = await ssm.ok("DescribeParameters", {"Filters": [{"Key": "Name", "Values": ["fl"]}]})
    assert [p["Name"] for p in legacy["Parameters"]] == ["flat"]
    await ssm.fails(
        "DescribeParameters",
        {"ParameterFilters": [{"Key": "Tier", "Values": ["Gold"]}]},
        "InvalidFilterValue",
    )
    await ssm.fails(
        "DescribeParameters",
        {"ParameterFilters": [{"Key": "Type", "Option": "Contains", "Values": ["String"]}]},
        "InvalidFilterOption",
    )
    paged = await ssm.ok("DescribeParameters", {"MaxResults": 3})
    assert len(paged["Parameters"]) == 3 and "NextToken" in paged


async def test_names_tiers_sizes_and_rules(ssm: Harness) -> None:
    await ssm.fails("PutParameter", {"Name": "awsx", "Value": "v", "Type": "String"},
                    "ValidationException")  # fmt: skip
    await ssm.fails("PutParameter", {"Name": "/SSM/x", "Value": "v", "Type": "String"},
                    "ValidationException")  # fmt: skip
    await ssm.fails("PutParameter", {"Name": "/aws/x/y", "Value": "v", "Type": "String"},
                    "AccessDeniedException")  # fmt: skip
    await ssm.fails("PutParameter", {"Name": "a/b", "Value": "v", "Type": "String"},
                    "ValidationException")  # fmt: skip
    await ssm.fails("PutParameter", {"Name": "/a b", "Value": "v", "Type": "String"},
                    "ValidationException")  # fmt: skip
    deep = "/" + "/".join(f"l{i}" for i in range(16))
    await ssm.fails("PutParameter", {"Name": deep, "Value": "v", "Type": "String"},
                    "HierarchyLevelLimitExceededException")  # fmt: skip
    await put(ssm, "/" + "/".join(f"l{i}" for i in range(15)))
    await ssm.fails("PutParameter", {"Name": "/t", "Value": "v"}, "ValidationException")
    await ssm.fails("PutParameter", {"Name": "/t", "Value": "", "Type": "String"},
                    "ValidationException")  # fmt: skip
    await ssm.fails("PutParameter", {"Name": "/t", "Value": "v", "Type": "Number"},
                    "ValidationException")  # fmt: skip
    # Sizes: the harness's standard tier holds 64 bytes, the advanced 128.
    big = "x" * 100
    message = await ssm.fails("PutParameter", {"Name": "/big", "Value": big, "Type": "String"},
                              "ValidationException")  # fmt: skip
    assert "advanced-parameter tier" in message
    assert (await put(ssm, "/big", big, Tier="Intelligent-Tiering"))["Tier"] == "Advanced"
    assert (await put(ssm, "/small", "s", Tier="Intelligent-Tiering"))["Tier"] == "Standard"
    await ssm.fails("PutParameter", {"Name": "/bigger", "Value": "x" * 200, "Type": "String",
                                     "Tier": "Advanced"}, "ValidationException")  # fmt: skip
    message = await ssm.fails(
        "PutParameter", {"Name": "/big", "Value": "s", "Overwrite": True, "Tier": "Standard"},
        "ValidationException",
    )  # fmt: skip
    assert "downgrade" in message
    # Tags with Overwrite, data types, AllowedPattern.
    await ssm.fails(
        "PutParameter",
        {"Name": "/small", "Value": "s", "Overwrite": True, "Tags": [{"Key": "k", "Value": "v"}]},
        "ValidationException",
    )
    await ssm.fails("PutParameter", {"Name": "/d", "Value": "v", "Type": "String",
                                     "DataType": "Text"}, "ValidationException")  # fmt: skip
    not_ami = {"Name": "/ami", "Value": "nope", "Type": "String", "DataType": "aws:ec2:image"}
    await ssm.fails("PutParameter", not_ami, "ValidationException")
    ami = await put(ssm, "/ami", "ami-0123456789abcdef0", DataType="aws:ec2:image")
    assert ami["Version"] == 1
    await ssm.fails("PutParameter", {"Name": "/n", "Value": "abc", "Type": "String",
                                     "AllowedPattern": "^\\d+$"},
                    "ParameterPatternMismatchException")  # fmt: skip
    await ssm.fails("PutParameter", {"Name": "/n", "Value": "1", "Type": "String",
                                     "AllowedPattern": "("},
                    "InvalidAllowedPatternException")  # fmt: skip
    await put(ssm, "/n", "123", AllowedPattern="^\\d+$")
    await ssm.fails("PutParameter", {"Name": "/s", "Value": "1", "Type": "String",
                                     "KeyId": "alias/x"}, "ValidationException")  # fmt: skip


async def test_parameters_per_account_are_bounded(ssm: Harness) -> None:
    for i in range(8):  # max_standard_parameters is 8 in the harness
        await put(ssm, f"/c{i}")
    await ssm.fails("PutParameter", {"Name": "/c8", "Value": "v", "Type": "String"},
                    "ParameterLimitExceeded")  # fmt: skip
    await ssm.ok("PutParameter", {"Name": "/c0", "Value": "w", "Overwrite": True})
    other = await ssm.other_tenant("other")
    await put(other, "/c8")  # another account's own bound


async def test_tags(ssm: Harness) -> None:
    await put(ssm, "/t", Tags=[{"Key": "team", "Value": "pay"}])
    ref = {"ResourceType": "Parameter", "ResourceId": "/t"}
    assert (await ssm.ok("ListTagsForResource", ref))["TagList"] == [
        {"Key": "team", "Value": "pay"}
    ]
    await ssm.ok("AddTagsToResource", {**ref, "Tags": [{"Key": "env", "Value": "prod"}]})
    await ssm.ok("RemoveTagsFromResource", {**ref, "TagKeys": ["team"]})
    assert (await ssm.ok("ListTagsForResource", ref))["TagList"] == [
        {"Key": "env", "Value": "prod"}
    ]
    tagged = await ssm.ok(
        "DescribeParameters", {"ParameterFilters": [{"Key": "tag:env", "Values": ["prod"]}]}
    )
    assert [p["Name"] for p in tagged["Parameters"]] == ["/t"]
    many = [{"Key": f"k{i}", "Value": "v"} for i in range(3)]
    await ssm.fails("AddTagsToResource", {**ref, "Tags": many}, "TooManyTagsError")
    await ssm.fails("ListTagsForResource", {**ref, "ResourceId": "/none"}, "InvalidResourceId")
    await ssm.fails("ListTagsForResource", {**ref, "ResourceType": "Document"},
                    "InvalidResourceType")  # fmt: skip


async def test_secure_strings_under_kms_keys(ssm: Harness) -> None:
    await ssm.ok("PutParameter", {"Name": "/s", "Value": "hunter2", "Type": "SecureString"})
    hidden = (await ssm.ok("GetParameter", {"Name": "/s"}))["Parameter"]["Value"]
    assert "hunter2" not in hidden
    shown = await ssm.ok("GetParameter", {"Name": "/s", "WithDecryption": True})
    assert shown["Parameter"]["Value"] == "hunter2"
    managed, made_now = await ssm.keys.aws_managed_key(ssm.tenant_id, "ssm")
    assert not made_now  # made on first use
    key = await ssm.keys.create_key(ssm.key_caller())
    await ssm.ok("PutParameter", {"Name": "/k", "Value": "v", "Type": "SecureString",
                                  "KeyId": key.key_id})  # fmt: skip
    described = await ssm.ok(
        "DescribeParameters", {"ParameterFilters": [{"Key": "Name", "Values": ["/k"]}]}
    )
    assert described["Parameters"][0]["KeyId"] == key.key_id
    await ssm.keys.disable_key(ssm.key_caller(), key.key_id)
    await ssm.fails("GetParameter", {"Name": "/k", "WithDecryption": True}, "InvalidKeyId")
    await ssm.fails("PutParameter", {"Name": "/k", "Value": "w", "Overwrite": True},
                    "InvalidKeyId")  # fmt: skip
    await ssm.ok("GetParameter", {"Name": "/k"})  # no KMS use without decryption
    await ssm.fails("PutParameter", {"Name": "/x", "Value": "v", "Type": "SecureString",
                                     "KeyId": "alias/none"}, "InvalidKeyId")  # fmt: skip
    # Each key use is audited with AWS's context, never the value.
    await ssm.audit.flush()
    records = [e for _, e in await ssm.audit_store.list_events(None, after_id=0, limit=500)]
    uses = [e for e in records if e.action == "kms:Decrypt"]
    assert uses and all(e.details["invoked_by"] == "ssm.amazonaws.com" for e in uses)
    assert uses[0].resource == managed.arn


async def test_every_value_is_sealed_at_rest(ssm: Harness) -> None:
    await put(ssm, "/plain", "visible-nowhere")
    await ssm.ok("PutParameter", {"Name": "/sec", "Value": "hidden-too", "Type": "SecureString"})
    for name in ("/plain", "/sec"):
        for version in await ssm.store.versions(ssm.tenant_id, "eu-fr-1", name):
            assert b"visible-nowhere" not in version.sealed
            assert b"hidden-too" not in version.sealed


async def test_iam_decides_and_accounts_are_apart(ssm: Harness) -> None:
    await put(ssm, "/team/a", "1")
    await put(ssm, "/ops/b", "2")
    key = await ssm.keys.create_key(ssm.key_caller())  # its policy defers to IAM
    await ssm.ok("PutParameter", {"Name": "/team/s", "Value": "3", "Type": "SecureString",
                                  "KeyId": key.key_id})  # fmt: skip
    user = await ssm.iam_user("reader")
    await user.fails("GetParameter", {"Name": "/team/a"}, "AccessDeniedException")
    arn = f"arn:aws:ssm:eu-fr-1:{ssm.tenant_id}:parameter/team/*"
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "ssm:GetParameter*", "Resource": arn}],
    }
    await ssm.identity.put_user_policy(ssm.tenant_id, "reader", "p", json.dumps(policy))
    assert (await user.ok("GetParameter", {"Name": "/team/a"}))["Parameter"]["Value"] == "1"
    await user.fails("GetParameter", {"Name": "/ops/b"}, "AccessDeniedException")
    await user.ok("GetParameter", {"Name": "/team/s"})
    # The key's policy leaves kms:Decrypt to IAM, and this user's policies do not allow it.
    await user.fails("GetParameter", {"Name": "/team/s", "WithDecryption": True},
                     "AccessDeniedException")  # fmt: skip
    other = await ssm.other_tenant("other")
    await other.fails("GetParameter", {"Name": "/team/a"}, "ParameterNotFound")
    assert (await other.ok("DescribeParameters"))["Parameters"] == []


async def test_audit_and_unknown_operations(ssm: Harness) -> None:
    await put(ssm, "/audited", "do-not-log-me")
    await ssm.ok("GetParameter", {"Name": "/audited"})
    reply = await ssm.call("SendCommand", {"DocumentName": "AWS-RunShellScript"})
    assert reply.status == 400 and reply.json()["__type"] == "UnknownOperationException"
    await ssm.audit.flush()
    records = [e for _, e in await ssm.audit_store.list_events(None, after_id=0, limit=500)]
    events = [e for e in records if e.action.startswith("ssm:")]
    arn = f"arn:aws:ssm:eu-fr-1:{ssm.tenant_id}:parameter/audited"
    assert [(e.action, e.resource) for e in events] == [
        ("ssm:PutParameter", arn),
        ("ssm:GetParameter", arn),
    ]
    assert "do-not-log-me" not in repr(records)


def expiration(when: str) -> str:
    return json.dumps([{"Type": "Expiration", "Version": "1.0", "Attributes": {"Timestamp": when}}])


async def test_expiration_policies(ssm: Harness) -> None:
    later = expiration("2099-01-01T00:00:00.000Z")
    await ssm.fails("PutParameter", {"Name": "/e", "Value": "v", "Type": "String",
                                     "Policies": later}, "ValidationException")  # fmt: skip
    made = await put(ssm, "/e", Tier="Intelligent-Tiering", Policies=later)
    assert made["Tier"] == "Advanced"  # policies need the advanced tier
    [described] = (await ssm.ok("DescribeParameters"))["Parameters"]
    [policy] = described["Policies"]
    assert (policy["PolicyType"], policy["PolicyStatus"]) == ("Expiration", "Pending")
    assert json.loads(policy["PolicyText"])["Attributes"]["Timestamp"].startswith("2099")
    # Kept by a version that does not name policies, removed by "[]".
    await ssm.ok("PutParameter", {"Name": "/e", "Value": "w", "Overwrite": True})
    history = (await ssm.ok("GetParameterHistory", {"Name": "/e"}))["Parameters"]
    assert [len(h["Policies"]) for h in history] == [1, 1]
    await ssm.ok("PutParameter", {"Name": "/e", "Value": "x", "Overwrite": True, "Policies": "[]"})
    [described] = (await ssm.ok("DescribeParameters"))["Parameters"]
    assert described["Policies"] == []
    refused = [
        (expiration("2001-01-01T00:00:00Z"), "InvalidPolicyAttributeException"),
        (expiration("soon"), "InvalidPolicyAttributeException"),
        ("not json", "InvalidPolicyAttributeException"),
        (json.dumps([{"Type": "NoChangeNotification", "Version": "1.0",
                      "Attributes": {"After": "2", "Unit": "Weeks"}}]),
         "InvalidPolicyAttributeException"),
        (json.dumps([{"Type": "ExpirationNotification", "Version": "1.0",
                      "Attributes": {"Before": "0", "Unit": "Days"}}]),
         "InvalidPolicyAttributeException"),
        (json.dumps([{"Type": "Nope"}]), "InvalidPolicyTypeException"),
        (json.dumps(json.loads(later) * 2), "IncompatiblePolicyException"),
        (json.dumps(json.loads(later) * 11), "PoliciesLimitExceededException"),
    ]  # fmt: skip
    for policies, error in refused:
        asked = {"Name": "/f", "Value": "v", "Type": "String", "Tier": "Advanced"}
        await ssm.fails("PutParameter", {**asked, "Policies": policies}, error)


async def test_an_expired_parameter_is_deleted_by_the_upkeep(ssm: Harness) -> None:
    service = ssm.app.service
    soon = datetime.now(UTC) + timedelta(seconds=1)
    await put(ssm, "/gone", Tier="Advanced", Policies=expiration(soon.isoformat()))
    await put(ssm, "/kept", Tier="Advanced", Policies=expiration("2099-01-01T00:00:00Z"))
    assert await service.expire_due() == []
    clock = datetime.now(UTC) + timedelta(seconds=5)
    late = ParameterService(service.store, sealer_of(service), service.limits, lambda: clock)
    arn = f"arn:aws:ssm:eu-fr-1:{ssm.tenant_id}:parameter/gone"
    assert await late.expire_due() == [arn]
    await ssm.fails("GetParameter", {"Name": "/gone"}, "ParameterNotFound")
    await ssm.ok("GetParameter", {"Name": "/kept"})


async def test_iam_condition_keys(ssm: Harness) -> None:
    await put(ssm, "/pay/a", "1", Tags=[{"Key": "team", "Value": "pay"}])
    await put(ssm, "/ops/b", "2", Tags=[{"Key": "team", "Value": "ops"}])
    user = await ssm.iam_user("writer")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "ssm:GetParameter",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:ResourceTag/team": "pay"}},
            },
            {
                "Effect": "Allow",
                "Action": "ssm:PutParameter",
                "Resource": "*",
                "Condition": {"StringEquals": {"ssm:Overwrite": "false"}},
            },
            {
                "Effect": "Allow",
                "Action": "ssm:GetParametersByPath",
                "Resource": "*",
                "Condition": {"Bool": {"ssm:Recursive": "false"}},
            },
        ],
    }
    await ssm.identity.put_user_policy(ssm.tenant_id, "writer", "p", json.dumps(policy))
    await user.ok("GetParameter", {"Name": "/pay/a"})
    await user.fails("GetParameter", {"Name": "/ops/b"}, "AccessDeniedException")
    await user.ok("PutParameter", {"Name": "/new", "Value": "v", "Type": "String",
                                   "Overwrite": False})  # fmt: skip
    await user.fails("PutParameter", {"Name": "/new", "Value": "w", "Overwrite": True},
                     "AccessDeniedException")  # fmt: skip
    await user.ok("GetParametersByPath", {"Path": "/pay", "Recursive": False})
    await user.fails("GetParametersByPath", {"Path": "/pay", "Recursive": True},
                     "AccessDeniedException")  # fmt: skip


async def test_a_value_is_bound_to_its_parameter(ssm: Harness) -> None:
    await put(ssm, "/one", "1")
    await put(ssm, "/two", "2")
    [one] = await ssm.store.versions(ssm.tenant_id, "eu-fr-1", "/one")
    held = await ssm.store.get(ssm.tenant_id, "eu-fr-1", "/two")
    assert held is not None
    # /one's sealed value moved into /two's row does not open there.
    swapped = dataclasses.replace(held.latest, version=2, sealed=one.sealed)
    await ssm.store.write(dataclasses.replace(held, latest=swapped), held.revision)
    await ssm.fails("GetParameter", {"Name": "/two"}, "InvalidKeyId")
    assert (await ssm.ok("GetParameter", {"Name": "/two:1"}))["Parameter"]["Value"] == "2"


async def test_public_parameters_read_through_from_the_image_library(ssm: Harness) -> None:
    """Decision 0241: every account reads /aws/service/… (the operator's public images);
    nobody writes there."""
    service = ssm.app.service
    made = datetime(2026, 3, 1, tzinfo=UTC)

    async def images() -> list[PublicImage]:
        return [PublicImage("ami-0123456789abcdef0", "debian-12", "x86_64", made)]

    name = "/aws/service/debian/release/12/latest/amd64"
    await ssm.fails("GetParameter", {"Name": name}, "ParameterNotFound")  # no library yet
    service.public_images = images
    got = (await ssm.ok("GetParameter", {"Name": name}))["Parameter"]
    assert got == {
        "Name": name, "Type": "String", "Value": "ami-0123456789abcdef0", "Version": 1,
        "LastModifiedDate": made.timestamp(), "DataType": "aws:ec2:image",
        "ARN": f"arn:aws:ssm:eu-fr-1::parameter{name}",
    }  # fmt: skip
    assert (await ssm.ok("GetParameter", {"Name": got["ARN"]}))["Parameter"]["Name"] == name
    assert (await ssm.ok("GetParameter", {"Name": name + ":1"}))["Parameter"]["Selector"] == ":1"
    await ssm.fails("GetParameter", {"Name": name + ":2"}, "ParameterVersionNotFound")
    many = await ssm.ok("GetParameters", {"Names": [name, "/aws/service/debian/none"]})
    assert [p["Value"] for p in many["Parameters"]] == ["ami-0123456789abcdef0"]
    assert many["InvalidParameters"] == ["/aws/service/debian/none"]
    listed = await ssm.ok("GetParametersByPath", {"Path": "/aws/service/debian", "Recursive": True})
    assert sorted(p["Name"] for p in listed["Parameters"]) == [
        name, "/aws/service/debian/release/bookworm/latest/amd64",
    ]  # fmt: skip
    shallow = await ssm.ok("GetParametersByPath", {"Path": "/aws/service/debian"})
    assert shallow["Parameters"] == []
    history = (await ssm.ok("GetParameterHistory", {"Name": name}))["Parameters"]
    assert [h["Value"] for h in history] == ["ami-0123456789abcdef0"]
    # Read-only: AWS's errors for the reserved prefix.
    await ssm.fails("PutParameter", {"Name": name, "Value": "ami-0123456789abcdef1",
                                     "Type": "String", "Overwrite": True},
                    "AccessDeniedException")  # fmt: skip
    assert (await ssm.ok("DescribeParameters"))["Parameters"] == []  # not in the account
    # Every account reads them; IAM decides on the ARN with an empty account.
    other = await ssm.other_tenant("other")
    assert (await other.ok("GetParameter", {"Name": name}))["Parameter"]["Version"] == 1
    user = await ssm.iam_user("reader")
    await user.fails("GetParameter", {"Name": name}, "AccessDeniedException")
    policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "ssm:GetParameter",
        "Resource": "arn:aws:ssm:*::parameter/aws/service/debian/*",
    }]}  # fmt: skip
    await ssm.identity.put_user_policy(ssm.tenant_id, "reader", "p", json.dumps(policy))
    assert (await user.ok("GetParameter", {"Name": name}))["Parameter"]["Name"] == name
    await user.fails("GetParameter", {"Name": "/aws/service/andromede/images/debian-12"},
                     "AccessDeniedException")  # fmt: skip
