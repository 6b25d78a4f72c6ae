"""Decision 0286's aliases, resource-based policies, tags and reserved concurrency through
botocore's ``lambda`` model in process — a policy granting another account evaluated with
that account's identity policies, as the IAM engine evaluates the other resource
policies."""

from __future__ import annotations

import json

from support.lambdaapp import World


async def test_aliases(world: World) -> None:
    await world.function("al", Publish=True)
    made = await world.client(
        "CreateAlias", FunctionName="al", Name="live", FunctionVersion="1", Description="prod"
    )
    assert made["AliasArn"].endswith(":function:al:live") and made["FunctionVersion"] == "1"
    await world.fails("CreateAlias", "ResourceConflictException",
        FunctionName="al", Name="live", FunctionVersion="1")  # fmt: skip
    await world.fails("CreateAlias", "ResourceNotFoundException",
        FunctionName="al", Name="next", FunctionVersion="9")  # fmt: skip
    by_alias = await world.client("GetFunctionConfiguration", FunctionName="al", Qualifier="live")
    assert by_alias["Version"] == "1"
    await world.fails("UpdateAlias", "PreconditionFailedException",
        FunctionName="al", Name="live", RevisionId="stale")  # fmt: skip
    updated = await world.client(
        "UpdateAlias", FunctionName="al", Name="live", FunctionVersion="$LATEST",
        RevisionId=made["RevisionId"],
    )  # fmt: skip
    assert updated["FunctionVersion"] == "$LATEST" and updated["Description"] == "prod"
    await world.client("CreateAlias", FunctionName="al", Name="beta", FunctionVersion="1")
    await world.fails("DeleteFunction", "ResourceConflictException",
        FunctionName="al", Qualifier="1")  # fmt: skip
    listed = await world.client("ListAliases", FunctionName="al", MaxItems=1)
    assert [a["Name"] for a in listed["Aliases"]] == ["beta"]
    rest = await world.client("ListAliases", FunctionName="al", Marker=listed["NextMarker"])
    assert [a["Name"] for a in rest["Aliases"]] == ["live"]
    assert (await world.client("GetAlias", FunctionName="al", Name="beta"))["Name"] == "beta"
    await world.client("DeleteAlias", FunctionName="al", Name="beta")
    await world.fails("GetAlias", "ResourceNotFoundException", FunctionName="al", Name="beta")


async def test_resource_policy_grants_another_account(world: World) -> None:
    made = await world.function("shared")
    other = await world.other_tenant("partner")
    await other.fails("GetFunction", "AccessDeniedException", FunctionName=made["FunctionArn"])
    await world.fails("GetPolicy", "ResourceNotFoundException", FunctionName="shared")
    added = await world.client(
        "AddPermission", FunctionName="shared", StatementId="partner",
        Action="lambda:GetFunction", Principal=other.tenant_id,
    )  # fmt: skip
    statement = json.loads(added["Statement"])
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{other.tenant_id}:root"}
    assert statement["Resource"] == made["FunctionArn"]
    await world.fails("AddPermission", "ResourceConflictException", FunctionName="shared",
        StatementId="partner", Action="lambda:GetFunction", Principal=other.tenant_id)  # fmt: skip
    await world.client(
        "AddPermission", FunctionName="shared", StatementId="s3",
        Action="lambda:InvokeFunction", Principal="s3.amazonaws.com",
        SourceArn="arn:aws:s3:::bucket", SourceAccount=world.tenant_id,
    )  # fmt: skip
    policy = json.loads((await world.client("GetPolicy", FunctionName="shared"))["Policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["partner", "s3"]
    assert policy["Statement"][1]["Condition"] == {
        "StringEquals": {"AWS:SourceAccount": world.tenant_id},
        "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::bucket"},
    }
    got = await other.client("GetFunction", FunctionName=made["FunctionArn"])
    assert got["Configuration"]["FunctionName"] == "shared"
    # The other account's own users still need their identity policies to allow it.
    partner_user = await other.iam_user("dev")
    await partner_user.fails("GetFunction", "AccessDeniedException",
        FunctionName=made["FunctionArn"])  # fmt: skip
    # Not granted: the other account may not change the function.
    await other.fails("DeleteFunction", "AccessDeniedException", FunctionName=made["FunctionArn"])
    await world.client("RemovePermission", FunctionName="shared", StatementId="partner")
    await other.fails("GetFunction", "AccessDeniedException", FunctionName=made["FunctionArn"])
    await world.fails("RemovePermission", "ResourceNotFoundException",
        FunctionName="shared", StatementId="partner")  # fmt: skip
    await world.fails("AddPermission", "InvalidParameterValueException", FunctionName="shared",
        StatementId="x", Action="s3:GetObject", Principal="*")  # fmt: skip


async def test_policy_size_bounded(world: World) -> None:
    await world.function("big")
    for n in range(200):
        try:
            await world.client("AddPermission", FunctionName="big", StatementId=f"s{n}",
                Action="lambda:InvokeFunction", Principal="events.amazonaws.com",
                SourceArn=f"arn:aws:events:eu-fr-1:{world.tenant_id}:rule/r{n}")  # fmt: skip
        except Exception as exc:
            assert getattr(exc, "code", None) == "PolicyLengthExceededException"
            assert n > 10
            return
    raise AssertionError("the policy grew past 20 KB")


async def test_tags(world: World) -> None:
    made = await world.function("tagged", Tags={"a": "1"})
    arn = made["FunctionArn"]
    await world.client("TagResource", Resource=arn, Tags={"b": "2"})
    assert (await world.client("ListTags", Resource=arn))["Tags"] == {"a": "1", "b": "2"}
    await world.client("UntagResource", Resource=arn, TagKeys=["a"])
    assert (await world.client("ListTags", Resource=arn))["Tags"] == {"b": "2"}
    await world.fails("TagResource", "InvalidParameterValueException",
        Resource=arn, Tags={"aws:x": "1"})  # fmt: skip


async def test_reserved_concurrency(world: World) -> None:
    await world.function("c1")
    await world.function("c2")
    assert await world.client("GetFunctionConcurrency", FunctionName="c1") == {}
    put = await world.client("PutFunctionConcurrency", FunctionName="c1",
        ReservedConcurrentExecutions=800)  # fmt: skip
    assert put["ReservedConcurrentExecutions"] == 800
    got = await world.client("GetFunctionConcurrency", FunctionName="c1")
    assert got["ReservedConcurrentExecutions"] == 800
    refused = await world.fails("PutFunctionConcurrency", "InvalidParameterValueException",
        FunctionName="c2", ReservedConcurrentExecutions=101)  # fmt: skip
    assert "minimum value of [100]" in refused.message
    await world.client("PutFunctionConcurrency", FunctionName="c2",
        ReservedConcurrentExecutions=100)  # fmt: skip
    fn = await world.client("GetFunction", FunctionName="c1")
    assert fn["Concurrency"] == {"ReservedConcurrentExecutions": 800}
    await world.client("DeleteFunctionConcurrency", FunctionName="c1")
    assert await world.client("GetFunctionConcurrency", FunctionName="c1") == {}
    settings = await world.client("GetAccountSettings")
    assert settings["AccountLimit"]["UnreservedConcurrentExecutions"] == 900
    assert settings["AccountUsage"]["FunctionCount"] == 2
