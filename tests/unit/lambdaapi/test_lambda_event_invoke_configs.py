"""Decision 0300's asynchronous invocation configurations through botocore's ``lambda``
model in process: Put (every member replaced), Update (only the ones given; none to update
is ``ResourceNotFoundException``), Get, List with pages, Delete; per qualifier (a version,
an alias, ``$LATEST``); AWS's bounds and destinations checked (a queue, topic, bus or
function of the account and Region, never the function itself); the configurations gone
with their function, version or alias; ``lambda:<Action>`` authorised and audited; and the
function's ``DeadLetterConfig`` kept, shown, changed and refused as AWS."""

from __future__ import annotations

import json

import pytest

from support.lambdaapp import World, handler_zip

QUEUE = "arn:aws:sqs:eu-fr-1:{}:failed"
TOPIC = "arn:aws:sns:eu-fr-1:{}:done"
BUS = "arn:aws:events:eu-fr-1:{}:event-bus/default"


async def test_put_get_update_list_and_delete(world: World) -> None:
    await world.function("worker")
    tenant = world.tenant_id
    put = await world.client(
        "PutFunctionEventInvokeConfig", FunctionName="worker", MaximumRetryAttempts=1,
        MaximumEventAgeInSeconds=600,
        DestinationConfig={"OnFailure": {"Destination": QUEUE.format(tenant)}},
    )  # fmt: skip
    assert put["FunctionArn"] == f"arn:aws:lambda:eu-fr-1:{tenant}:function:worker:$LATEST"
    assert (put["MaximumRetryAttempts"], put["MaximumEventAgeInSeconds"]) == (1, 600)
    assert put["DestinationConfig"] == {
        "OnSuccess": {}, "OnFailure": {"Destination": QUEUE.format(tenant)}}  # fmt: skip
    updated = await world.client(
        "UpdateFunctionEventInvokeConfig", FunctionName="worker",
        DestinationConfig={"OnSuccess": {"Destination": TOPIC.format(tenant)}},
    )  # fmt: skip
    assert updated["MaximumRetryAttempts"] == 1  # kept: Update changes what it names
    assert updated["DestinationConfig"]["OnFailure"]["Destination"] == QUEUE.format(tenant)
    assert updated["DestinationConfig"]["OnSuccess"]["Destination"] == TOPIC.format(tenant)
    replaced = await world.client(
        "PutFunctionEventInvokeConfig", FunctionName="worker", MaximumRetryAttempts=0
    )
    assert "MaximumEventAgeInSeconds" not in replaced  # Put resets what it does not name
    assert replaced["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {}}
    got = await world.client("GetFunctionEventInvokeConfig", FunctionName="worker")
    assert got["MaximumRetryAttempts"] == 0
    await world.client("PublishVersion", FunctionName="worker")
    await world.client("CreateAlias", FunctionName="worker", Name="live", FunctionVersion="1")
    await world.client("PutFunctionEventInvokeConfig", FunctionName="worker", Qualifier="1",
        MaximumRetryAttempts=2)  # fmt: skip
    await world.client("PutFunctionEventInvokeConfig", FunctionName="worker:live",
        DestinationConfig={"OnSuccess": {"Destination": BUS.format(tenant)}})  # fmt: skip
    first = await world.client("ListFunctionEventInvokeConfigs", FunctionName="worker", MaxItems=2)
    assert [c["FunctionArn"].rsplit(":", 1)[1] for c in first["FunctionEventInvokeConfigs"]] == [
        "$LATEST", "1"]  # fmt: skip
    rest = await world.client("ListFunctionEventInvokeConfigs", FunctionName="worker",
        Marker=first["NextMarker"])  # fmt: skip
    assert [c["FunctionArn"] for c in rest["FunctionEventInvokeConfigs"]] == [
        f"arn:aws:lambda:eu-fr-1:{tenant}:function:worker:live"]  # fmt: skip
    assert "NextMarker" not in rest
    await world.client("DeleteFunctionEventInvokeConfig", FunctionName="worker", Qualifier="1")
    missing = await world.fails("GetFunctionEventInvokeConfig", "ResourceNotFoundException",
        FunctionName="worker", Qualifier="1")  # fmt: skip
    assert missing.message == (
        f"The function arn:aws:lambda:eu-fr-1:{tenant}:function:worker:1 doesn't have an "
        "EventInvokeConfig")  # fmt: skip
    await world.fails("UpdateFunctionEventInvokeConfig", "ResourceNotFoundException",
        FunctionName="worker", Qualifier="1", MaximumRetryAttempts=1)  # fmt: skip
    await world.fails("PutFunctionEventInvokeConfig", "ResourceNotFoundException",
        FunctionName="worker", Qualifier="7", MaximumRetryAttempts=1)  # fmt: skip
    await world.fails("GetFunctionEventInvokeConfig", "ResourceNotFoundException",
        FunctionName="nothing")  # fmt: skip


async def test_gone_with_the_alias_the_version_and_the_function(world: World) -> None:
    await world.function("brief")
    await world.client("PublishVersion", FunctionName="brief")
    await world.client("CreateAlias", FunctionName="brief", Name="live", FunctionVersion="1")
    for qualifier in ("$LATEST", "1", "live"):
        await world.client("PutFunctionEventInvokeConfig", FunctionName="brief",
            Qualifier=qualifier, MaximumRetryAttempts=0)  # fmt: skip
    await world.client("DeleteAlias", FunctionName="brief", Name="live")
    assert {c.qualifier for c in await world.configs.configs(world.tenant_id, "brief")} == {
        "$LATEST", "1"}  # fmt: skip
    await world.client("DeleteFunction", FunctionName="brief", Qualifier="1")
    assert [c.qualifier for c in await world.configs.configs(world.tenant_id, "brief")] == [
        "$LATEST"]  # fmt: skip
    await world.client("DeleteFunction", FunctionName="brief")
    assert await world.configs.configs(world.tenant_id, "brief") == []
    await world.function("brief")  # made again: nothing of the old one's
    await world.fails("GetFunctionEventInvokeConfig", "ResourceNotFoundException",
        FunctionName="brief")  # fmt: skip


@pytest.mark.parametrize(
    ("params", "wording"),
    [
        ({"MaximumRetryAttempts": 3}, "Member must have value less than or equal to 2"),
        ({"MaximumEventAgeInSeconds": 59}, "Member must have value greater than or equal to 60"),
        ({"MaximumEventAgeInSeconds": 21601}, "less than or equal to 21600"),
        (
            {"DestinationConfig": {"OnSuccess": {"Destination": "arn:aws:s3:::bucket"}}},
            "The destination ARN arn:aws:s3:::bucket is invalid.",
        ),
        ({"DestinationConfig": {"OnFailure": {"Destination": "not-an-arn"}}}, "is invalid"),
        (
            {
                "DestinationConfig": {
                    "OnFailure": {"Destination": "arn:aws:sqs:eu-fr-1:999999999999:theirs"}
                }
            },
            "must be of this account and Region",
        ),
        (
            {
                "DestinationConfig": {
                    "OnFailure": {"Destination": "arn:aws:sqs:us-east-1:{tenant}:elsewhere"}
                }
            },
            "must be of this account and Region",
        ),
        (
            {
                "DestinationConfig": {
                    "OnSuccess": {
                        "Destination": "arn:aws:lambda:eu-fr-1:{tenant}:function:checked:live"
                    }
                }
            },
            "You can't specify the function as a destination for itself.",
        ),
    ],
)
async def test_refused_as_aws_refuses(
    world: World, params: dict[str, object], wording: str
) -> None:
    await world.function("checked")
    given = _formatted(params, world.tenant_id)
    # botocore checks the bounds before it sends: the server's own check is what is tested.
    if "DestinationConfig" in given:
        refused = await world.fails("PutFunctionEventInvokeConfig",
            "InvalidParameterValueException", FunctionName="checked", **given)  # fmt: skip
    else:
        reply = await world.raw(
            "PUT", "/2019-09-25/functions/checked/event-invoke-config",
            body=json.dumps(given).encode(),
        )  # fmt: skip
        assert reply.status == 400
        assert reply.headers["x-amzn-errortype"].startswith("InvalidParameterValueException")
        refused_message = json.loads(reply.body)["message"]
        assert wording in refused_message
        return
    assert wording in refused.message
    assert await world.configs.configs(world.tenant_id, "checked") == []


def _formatted(params: dict[str, object], tenant: str) -> dict[str, object]:
    return dict(json.loads(json.dumps(params).replace("{tenant}", tenant)))


async def test_authorised_on_the_qualified_arn_and_audited(world: World) -> None:
    await world.function("guarded")
    user = await world.iam_user("dev")
    await user.fails("PutFunctionEventInvokeConfig", "AccessDeniedException",
        FunctionName="guarded", MaximumRetryAttempts=0)  # fmt: skip
    await world.identity.put_user_policy(world.tenant_id, "dev", "async", json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": [
            "lambda:PutFunctionEventInvokeConfig", "lambda:GetFunctionEventInvokeConfig"],
            "Resource": f"arn:aws:lambda:eu-fr-1:{world.tenant_id}:function:guarded:$LATEST"}],
    }))  # fmt: skip
    await user.client("PutFunctionEventInvokeConfig", FunctionName="guarded",
        Qualifier="$LATEST", MaximumRetryAttempts=0)  # fmt: skip
    await user.fails(
        "PutFunctionEventInvokeConfig",
        "AccessDeniedException",
        FunctionName="guarded",
        MaximumRetryAttempts=0,
    )  # the unqualified ARN: not granted
    await user.fails("DeleteFunctionEventInvokeConfig", "AccessDeniedException",
        FunctionName="guarded", Qualifier="$LATEST")  # fmt: skip
    other = await world.other_tenant("other")
    await other.fails("GetFunctionEventInvokeConfig", "AccessDeniedException",
        FunctionName=f"arn:aws:lambda:eu-fr-1:{world.tenant_id}:function:guarded")  # fmt: skip
    await world.audit.flush()
    listed = await world.audit_store.list_events(None, after_id=0, limit=500)
    events = [e for _, e in listed if e.action == "lambda:PutFunctionEventInvokeConfig"]
    assert len(events) == 3
    assert events[1].resource.endswith(":function:guarded:$LATEST")


async def test_a_functions_dead_letter_config(world: World) -> None:
    tenant = world.tenant_id
    made = await world.function("lettered", DeadLetterConfig={"TargetArn": QUEUE.format(tenant)})
    assert made["DeadLetterConfig"] == {"TargetArn": QUEUE.format(tenant)}
    got = await world.client("GetFunctionConfiguration", FunctionName="lettered")
    assert got["DeadLetterConfig"]["TargetArn"] == QUEUE.format(tenant)
    changed = await world.client("UpdateFunctionConfiguration", FunctionName="lettered",
        DeadLetterConfig={"TargetArn": TOPIC.format(tenant)})  # fmt: skip
    assert changed["DeadLetterConfig"]["TargetArn"] == TOPIC.format(tenant)
    published = await world.client("PublishVersion", FunctionName="lettered")
    assert published["DeadLetterConfig"]["TargetArn"] == TOPIC.format(tenant)
    cleared = await world.client("UpdateFunctionConfiguration", FunctionName="lettered",
        DeadLetterConfig={})  # fmt: skip
    assert "DeadLetterConfig" not in cleared
    for target in (BUS.format(tenant), "arn:aws:sqs:eu-fr-1:999999999999:theirs", "queue"):
        refused = await world.fails("UpdateFunctionConfiguration",
            "InvalidParameterValueException", FunctionName="lettered",
            DeadLetterConfig={"TargetArn": target})  # fmt: skip
        assert "a dead-letter queue is an SQS queue or SNS topic" in refused.message
    await world.fails("CreateFunction", "InvalidParameterValueException", FunctionName="bad",
        Runtime="python3.11", Role=made["Role"], Handler="app.handler",
        Code={"ZipFile": handler_zip()},
        DeadLetterConfig={"TargetArn": BUS.format(tenant)})  # fmt: skip
    assert "bad" not in {f["FunctionName"] for f in (await world.client("ListFunctions"))[
        "Functions"]}  # fmt: skip
