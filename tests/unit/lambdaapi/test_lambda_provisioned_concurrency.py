"""Decision 0314's provisioned concurrency operations through botocore's ``lambda`` model in
process: Put (202, IN_PROGRESS), Get, List with pages, Delete; AWS's refusals ($LATEST, a
missing version or alias, fewer than one execution, an alias and the version it names both,
beyond the function's reserve or the account's unreserved 100); GetAccountSettings' and
PutFunctionConcurrency's counts; the configurations gone with their alias, version and
function; ``lambda:<Action>`` authorised on the qualified ARN and audited. The sandboxes
themselves are ``test_lambda_provisioned_sandboxes``'."""

from __future__ import annotations

import json
from pathlib import Path

from support.lambdaapp import World, lambda_world


async def _published(world: World, name: str) -> None:
    await world.function(name)
    await world.client("PublishVersion", FunctionName=name)
    await world.client("CreateAlias", FunctionName=name, Name="live", FunctionVersion="1")


async def _another_version(world: World, name: str, description: str) -> None:
    await world.client("UpdateFunctionConfiguration", FunctionName=name, Description=description)
    await world.client("PublishVersion", FunctionName=name)


async def test_put_get_list_and_delete(world: World) -> None:
    await _published(world, "warm")
    put = await world.client("PutProvisionedConcurrencyConfig", FunctionName="warm",
        Qualifier="live", ProvisionedConcurrentExecutions=2)  # fmt: skip
    assert put["RequestedProvisionedConcurrentExecutions"] == 2
    assert put["AllocatedProvisionedConcurrentExecutions"] == 0
    assert put["Status"] == "IN_PROGRESS" and "StatusReason" not in put
    assert put["LastModified"].endswith("+0000")
    got = await world.client(
        "GetProvisionedConcurrencyConfig", FunctionName="warm:live", Qualifier="live"
    )
    assert got == put
    await _another_version(world, "warm", "two")
    await world.client("PutProvisionedConcurrencyConfig", FunctionName="warm", Qualifier="2",
        ProvisionedConcurrentExecutions=1)  # fmt: skip
    first = await world.client("ListProvisionedConcurrencyConfigs", FunctionName="warm",
        MaxItems=1)  # fmt: skip
    tenant = world.tenant_id
    assert [c["FunctionArn"] for c in first["ProvisionedConcurrencyConfigs"]] == [
        f"arn:aws:lambda:eu-fr-1:{tenant}:function:warm:2"]  # fmt: skip
    rest = await world.client("ListProvisionedConcurrencyConfigs", FunctionName="warm",
        Marker=first["NextMarker"])  # fmt: skip
    assert [c["FunctionArn"] for c in rest["ProvisionedConcurrencyConfigs"]] == [
        f"arn:aws:lambda:eu-fr-1:{tenant}:function:warm:live"]  # fmt: skip
    assert rest["ProvisionedConcurrencyConfigs"][0]["Status"] == "IN_PROGRESS"
    await world.client("DeleteProvisionedConcurrencyConfig", FunctionName="warm", Qualifier="2")
    not_found = "ProvisionedConcurrencyConfigNotFoundException"
    missing = await world.fails("GetProvisionedConcurrencyConfig", not_found,
        FunctionName="warm", Qualifier="2")  # fmt: skip
    assert missing.status == 404
    assert missing.message == "No Provisioned Concurrency Config found for this function"
    await world.fails("DeleteProvisionedConcurrencyConfig", not_found,
        FunctionName="warm", Qualifier="2")  # fmt: skip
    await world.fails("GetProvisionedConcurrencyConfig", "ResourceNotFoundException",
        FunctionName="nothing", Qualifier="1")  # fmt: skip


async def test_aws_refusals(world: World) -> None:
    await _published(world, "strict")
    latest = await world.fails("PutProvisionedConcurrencyConfig", "InvalidParameterValueException",
        FunctionName="strict", Qualifier="$LATEST", ProvisionedConcurrentExecutions=1)  # fmt: skip
    assert latest.message == (
        "Provisioned Concurrency Configs cannot be applied to unpublished function versions."
    )
    gone = await world.fails("PutProvisionedConcurrencyConfig", "ResourceNotFoundException",
        FunctionName="strict", Qualifier="9", ProvisionedConcurrentExecutions=1)  # fmt: skip
    assert gone.message.endswith(":function:strict:9")
    await world.fails("PutProvisionedConcurrencyConfig", "ResourceNotFoundException",
        FunctionName="strict", Qualifier="stage", ProvisionedConcurrentExecutions=1)  # fmt: skip
    # Fewer than one execution, sent as a client without botocore's own check would.
    reply = await world.raw("PUT", "/2019-09-30/functions/strict/provisioned-concurrency",
        json.dumps({"ProvisionedConcurrentExecutions": 0}).encode(), "Qualifier=live")  # fmt: skip
    assert reply.status == 400
    assert reply.headers["x-amzn-errortype"] == "InvalidParameterValueException"
    assert "greater than or equal to 1" in json.loads(reply.body)["message"]
    reply = await world.raw("PUT", "/2019-09-30/functions/strict/provisioned-concurrency",
        json.dumps({"ProvisionedConcurrentExecutions": 1}).encode())  # fmt: skip
    assert reply.status == 400  # no Qualifier
    await world.client("PutProvisionedConcurrencyConfig", FunctionName="strict", Qualifier="1",
        ProvisionedConcurrentExecutions=1)  # fmt: skip
    await world.fails("PutProvisionedConcurrencyConfig", "ResourceConflictException",
        FunctionName="strict", Qualifier="live", ProvisionedConcurrentExecutions=1)  # fmt: skip
    await world.client("DeleteProvisionedConcurrencyConfig", FunctionName="strict", Qualifier="1")
    await world.client("PutProvisionedConcurrencyConfig", FunctionName="strict", Qualifier="live",
        ProvisionedConcurrentExecutions=1)  # fmt: skip
    await world.fails("PutProvisionedConcurrencyConfig", "ResourceConflictException",
        FunctionName="strict", Qualifier="1", ProvisionedConcurrentExecutions=1)  # fmt: skip
    assert [c.qualifier for c in await world.provisioned.configs(world.tenant_id)] == ["live"]


async def test_within_the_reserve_and_the_accounts_unreserved(world: World) -> None:
    await _published(world, "counted")
    settings = await world.client("GetAccountSettings")
    assert settings["AccountLimit"]["UnreservedConcurrentExecutions"] == 1000
    await world.client("PutProvisionedConcurrencyConfig", FunctionName="counted",
        Qualifier="live", ProvisionedConcurrentExecutions=300)  # fmt: skip
    settings = await world.client("GetAccountSettings")
    assert settings["AccountLimit"]["UnreservedConcurrentExecutions"] == 700
    await _published(world, "neighbour")
    refused = await world.fails("PutProvisionedConcurrencyConfig",
        "InvalidParameterValueException", FunctionName="neighbour", Qualifier="1",
        ProvisionedConcurrentExecutions=601)  # fmt: skip
    assert "below its minimum value of [100]" in refused.message
    await world.client(
        "PutProvisionedConcurrencyConfig",
        FunctionName="counted",
        Qualifier="live",
        ProvisionedConcurrentExecutions=900,
    )  # replaces its own 300
    low = await world.fails("PutFunctionConcurrency", "InvalidParameterValueException",
        FunctionName="counted", ReservedConcurrentExecutions=10)  # fmt: skip
    assert "provisioned concurrency [900]" in low.message
    await world.client("PutProvisionedConcurrencyConfig", FunctionName="counted",
        Qualifier="live", ProvisionedConcurrentExecutions=5)  # fmt: skip
    await world.client("PutFunctionConcurrency", FunctionName="counted",
        ReservedConcurrentExecutions=10)  # fmt: skip
    settings = await world.client("GetAccountSettings")
    assert settings["AccountLimit"]["UnreservedConcurrentExecutions"] == 990  # the reserve only
    beyond = await world.fails("PutProvisionedConcurrencyConfig",
        "InvalidParameterValueException", FunctionName="counted", Qualifier="live",
        ProvisionedConcurrentExecutions=11)  # fmt: skip
    assert beyond.message == (
        "Requested Provisioned Concurrency should not be greater than the "
        "reservedConcurrentExecution for function")  # fmt: skip


async def test_gone_with_the_alias_the_version_and_the_function(world: World) -> None:
    await _published(world, "brief")
    await _another_version(world, "brief", "two")
    await world.client("PutProvisionedConcurrencyConfig", FunctionName="brief", Qualifier="live",
        ProvisionedConcurrentExecutions=1)  # fmt: skip
    await world.client("PutProvisionedConcurrencyConfig", FunctionName="brief", Qualifier="2",
        ProvisionedConcurrentExecutions=1)  # fmt: skip
    await world.client("DeleteAlias", FunctionName="brief", Name="live")
    assert [c.qualifier for c in await world.provisioned.configs(world.tenant_id)] == ["2"]
    await world.client("DeleteFunction", FunctionName="brief", Qualifier="2")
    assert await world.provisioned.configs(world.tenant_id) == []
    await _another_version(world, "brief", "three")
    await world.client("PutProvisionedConcurrencyConfig", FunctionName="brief", Qualifier="3",
        ProvisionedConcurrentExecutions=1)  # fmt: skip
    await world.client("DeleteFunction", FunctionName="brief")
    assert await world.provisioned.configs(world.tenant_id) == []


async def test_a_configuration_whose_target_went_another_way_is_dropped(world: World) -> None:
    """A version deleted by another path (a gateway of an older release): the next pass of
    the provisioning task deletes its configuration."""
    await _published(world, "orphan")
    await world.client("PutProvisionedConcurrencyConfig", FunctionName="orphan", Qualifier="1",
        ProvisionedConcurrentExecutions=1)  # fmt: skip
    await world.functions.store.delete(world.tenant_id, "orphan")
    assert world.provisioning is not None
    await world.provisioning.reconcile()
    assert await world.provisioned.configs(world.tenant_id) == []


async def test_authorised_on_the_qualified_arn_and_audited(world: World) -> None:
    await _published(world, "guarded")
    user = await world.iam_user("dev")
    await user.fails("PutProvisionedConcurrencyConfig", "AccessDeniedException",
        FunctionName="guarded", Qualifier="live", ProvisionedConcurrentExecutions=1)  # fmt: skip
    arn = f"arn:aws:lambda:eu-fr-1:{world.tenant_id}:function:guarded"
    await world.identity.put_user_policy(world.tenant_id, "dev", "warm", json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": [
            "lambda:PutProvisionedConcurrencyConfig", "lambda:GetProvisionedConcurrencyConfig"],
            "Resource": f"{arn}:live"}],
    }))  # fmt: skip
    await user.client("PutProvisionedConcurrencyConfig", FunctionName="guarded",
        Qualifier="live", ProvisionedConcurrentExecutions=1)  # fmt: skip
    await user.client("GetProvisionedConcurrencyConfig", FunctionName="guarded", Qualifier="live")
    await user.fails("PutProvisionedConcurrencyConfig", "AccessDeniedException",
        FunctionName="guarded", Qualifier="1", ProvisionedConcurrentExecutions=1)  # fmt: skip
    await user.fails("ListProvisionedConcurrencyConfigs", "AccessDeniedException",
        FunctionName="guarded")  # fmt: skip
    other = await world.other_tenant("other")
    await other.fails("GetProvisionedConcurrencyConfig", "AccessDeniedException",
        FunctionName=arn, Qualifier="live")  # fmt: skip
    await world.audit.flush()
    listed = await world.audit_store.list_events(None, after_id=0, limit=500)
    events = [e for _, e in listed if e.action == "lambda:PutProvisionedConcurrencyConfig"]
    assert len(events) == 3
    assert events[1].resource == f"{arn}:live"


async def test_the_gateways_sandboxes_are_a_setting(tmp_path: Path) -> None:
    async for world in lambda_world(tmp_path, lambda_max_provisioned_sandboxes=0):
        assert world.provisioning is not None
        await _published(world, "none")
        await world.client("PutProvisionedConcurrencyConfig", FunctionName="none",
            Qualifier="live", ProvisionedConcurrentExecutions=1)  # fmt: skip
        await world.provisioning.reconcile()
        got = await world.client("GetProvisionedConcurrencyConfig", FunctionName="none",
            Qualifier="live")  # fmt: skip
        assert got["Status"] == "FAILED"
        assert got["StatusReason"].startswith("INSUFFICIENT_CAPACITY: 0 of 1")
        assert got["AllocatedProvisionedConcurrentExecutions"] == 0
