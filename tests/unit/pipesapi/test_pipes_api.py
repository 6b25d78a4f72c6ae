"""Decision 0258's Pipes API through botocore's own rest-json model: a pipe made CREATING and
settled RUNNING or STOPPED by the runner, described in AWS's shape, listed with its filters and
pages, updated, stopped, started, tagged and deleted; conflicts in a transitional state; the
sources, targets and enrichments not served refused by name; IAM (pipes:* and iam:PassRole)
deciding; errors with their status, type header and members; audit as the neighbours."""

from __future__ import annotations

from typing import Any

from support.pipesapp import World, allow


async def make(world: World, name: str = "orders", **params: Any) -> dict[str, Any]:
    source = await world.queue(f"{name}-in")
    target = await world.queue(f"{name}-out")
    role = await world.role(f"{name}-role")
    return await world.client(
        "CreatePipe",
        Name=name,
        Source=source,
        Target=target,
        RoleArn=role,
        **params,
    )


async def test_a_pipe_is_made_settled_and_described(world: World) -> None:
    made = await make(
        world,
        Tags={"team": "shop"},
        Description="orders to billing",
        SourceParameters={"SqsQueueParameters": {"BatchSize": 5}},
    )
    arn = f"arn:aws:pipes:eu-fr-1:{world.tenant_id}:pipe/orders"
    assert made["Arn"] == arn
    assert (made["CurrentState"], made["DesiredState"]) == ("CREATING", "RUNNING")
    await world.fails("StopPipe", "ConflictException", Name="orders")
    await world.runner.run_pass()
    described = await world.client("DescribePipe", Name="orders")
    assert described["CurrentState"] == "RUNNING"
    assert described["Source"].endswith(":orders-in")
    assert described["SourceParameters"] == {
        "SqsQueueParameters": {"BatchSize": 5, "MaximumBatchingWindowInSeconds": 0}
    }
    assert described["Tags"] == {"team": "shop"}
    assert described["Description"] == "orders to billing"
    assert described["CreationTime"] <= described["LastModifiedTime"]
    failed = await world.fails(
        "CreatePipe",
        "ConflictException",
        Name="orders",
        Source=described["Source"],
        Target=described["Target"],
        RoleArn=described["RoleArn"],
    )
    assert failed.status == 409 and failed.body["resourceId"] == "orders"
    missing = await world.fails("DescribePipe", "NotFoundException", Name="nothing")
    assert missing.status == 404
    other = await world.other_tenant("other")
    await other.fails("DescribePipe", "NotFoundException", Name="orders")


async def test_stop_start_update_and_delete(world: World) -> None:
    await make(world, DesiredState="STOPPED")
    await world.runner.run_pass()
    assert (await world.client("DescribePipe", Name="orders"))["CurrentState"] == "STOPPED"
    started = await world.client("StartPipe", Name="orders")
    assert (started["CurrentState"], started["DesiredState"]) == ("STARTING", "RUNNING")
    await world.runner.run_pass()
    assert (await world.client("DescribePipe", Name="orders"))["CurrentState"] == "RUNNING"
    stopped = await world.client("StopPipe", Name="orders")
    assert stopped["CurrentState"] == "STOPPING"
    await world.runner.run_pass()
    role = (await world.client("DescribePipe", Name="orders"))["RoleArn"]
    updated = await world.client(
        "UpdatePipe",
        Name="orders",
        RoleArn=role,
        DesiredState="RUNNING",
        SourceParameters={"FilterCriteria": {"Filters": [{"Pattern": '{"body": {"a": [1]}}'}]}},
        TargetParameters={"InputTemplate": '{"x": <$.body.a>}'},
    )
    assert updated["CurrentState"] == "UPDATING"
    await world.runner.run_pass()
    described = await world.client("DescribePipe", Name="orders")
    assert described["CurrentState"] == "RUNNING"
    assert described["SourceParameters"]["FilterCriteria"] == {
        "Filters": [{"Pattern": '{"body": {"a": [1]}}'}]
    }
    # The batch size stays as it was made.
    assert described["SourceParameters"]["SqsQueueParameters"]["BatchSize"] == 10
    assert described["TargetParameters"] == {"InputTemplate": '{"x": <$.body.a>}'}
    deleted = await world.client("DeletePipe", Name="orders")
    assert (deleted["CurrentState"], deleted["DesiredState"]) == ("DELETING", "DELETED")
    await world.fails("DescribePipe", "NotFoundException", Name="orders")


async def test_list_filters_and_pages(world: World) -> None:
    await make(world, "alpha")
    await make(world, "beta", DesiredState="STOPPED")
    await make(world, "gamma")
    await world.runner.run_pass()
    names = [p["Name"] for p in (await world.client("ListPipes"))["Pipes"]]
    assert names == ["alpha", "beta", "gamma"]
    first = await world.client("ListPipes", Limit=2)
    assert [p["Name"] for p in first["Pipes"]] == ["alpha", "beta"]
    second = await world.client("ListPipes", Limit=2, NextToken=first["NextToken"])
    assert [p["Name"] for p in second["Pipes"]] == ["gamma"] and "NextToken" not in second
    stopped = await world.client("ListPipes", CurrentState="STOPPED")
    assert [p["Name"] for p in stopped["Pipes"]] == ["beta"]
    assert [p["Name"] for p in (await world.client("ListPipes", NamePrefix="g"))["Pipes"]] == [
        "gamma"
    ]
    source = (await world.client("DescribePipe", Name="alpha"))["Source"]
    by_source = await world.client("ListPipes", SourcePrefix=source)
    assert [p["Name"] for p in by_source["Pipes"]] == ["alpha"]
    target_prefix = source.rsplit(":", 1)[0] + ":beta"
    assert [
        p["Name"] for p in (await world.client("ListPipes", TargetPrefix=target_prefix))["Pipes"]
    ] == ["beta"]
    quota = await world.fails(
        "CreatePipe",
        "ServiceQuotaExceededException",
        Name="delta",
        Source=source,
        Target=source,
        RoleArn=(await world.client("DescribePipe", Name="alpha"))["RoleArn"],
    )
    assert quota.status == 402


async def test_tags(world: World) -> None:
    arn = (await make(world, Tags={"a": "1"}))["Arn"]
    await world.client("TagResource", resourceArn=arn, tags={"b": "2"})
    assert (await world.client("ListTagsForResource", resourceArn=arn))["tags"] == {
        "a": "1",
        "b": "2",
    }
    await world.client("UntagResource", resourceArn=arn, tagKeys=["a"])
    assert (await world.client("ListTagsForResource", resourceArn=arn))["tags"] == {"b": "2"}
    await world.fails(
        "ListTagsForResource", "NotFoundException", resourceArn=arn.replace("orders", "none")
    )


async def test_what_is_not_served_is_refused_by_name(world: World) -> None:
    source = await world.queue("in")
    role = await world.role()
    lam = f"arn:aws:ecs:eu-fr-1:{world.tenant_id}:cluster/c"
    refused = await world.fails(
        "CreatePipe", "ValidationException", Name="p", Source=source, Target=lam, RoleArn=role
    )
    assert "not supported" in refused.message and refused.body["fieldList"]
    refused = await world.fails(
        "CreatePipe",
        "ValidationException",
        Name="p",
        Source=source,
        Target=source,
        RoleArn=role,
        Enrichment=lam,
    )
    assert "Enrichment" in refused.message
    mq = f"arn:aws:mq:eu-fr-1:{world.tenant_id}:broker:b:b-1"
    await world.fails(
        "CreatePipe", "ValidationException", Name="p", Source=mq, Target=source, RoleArn=role
    )
    foreign = source.replace(world.tenant_id, "999999999999")
    await world.fails(
        "CreatePipe", "ValidationException", Name="p", Source=foreign, Target=source, RoleArn=role
    )
    refused = await world.fails(
        "CreatePipe",
        "ValidationException",
        Name="p",
        Source=source,
        Target=source,
        RoleArn=role,
        SourceParameters={"FilterCriteria": {"Filters": [{"Pattern": "{nope"}]}},
    )
    assert "filter pattern" in refused.message
    stream = f"arn:aws:kinesis:eu-fr-1:{world.tenant_id}:stream/s"
    refused = await world.fails(
        "CreatePipe", "ValidationException", Name="p", Source=stream, Target=source, RoleArn=role
    )
    assert "KinesisStreamParameters" in refused.message
    await world.fails(
        "CreatePipe", "ValidationException", Name="p", Source=source, Target=stream, RoleArn=role
    )  # a Kinesis target needs its PartitionKey


async def test_iam_decides_and_calls_are_audited(world: World) -> None:
    source = await world.queue("in")
    role = await world.role()
    user = await world.iam_user("dev")
    await user.fails(
        "CreatePipe", "AccessDeniedException", Name="p", Source=source, Target=source, RoleArn=role
    )
    await world.identity.put_user_policy(
        world.tenant_id, "dev", "pipes", allow("pipes:CreatePipe", "pipes:DescribePipe")
    )
    denied = await user.fails(
        "CreatePipe", "AccessDeniedException", Name="p", Source=source, Target=source, RoleArn=role
    )
    assert "iam:PassRole" in denied.message and denied.status == 403
    await world.identity.put_user_policy(world.tenant_id, "dev", "pass", allow("iam:PassRole"))
    await user.client("CreatePipe", Name="p", Source=source, Target=source, RoleArn=role)
    await user.client("DescribePipe", Name="p")
    await user.fails("DeletePipe", "AccessDeniedException", Name="p")
    await world.audit.flush()
    events = [e for _, e in await world.audit_store.list_events(None, after_id=0, limit=500)]
    actions = [(e.action, e.outcome.value) for e in events]
    assert ("pipes:CreatePipe", "success") in actions
    assert ("pipes:DeletePipe", "failure") in actions
    reply = await world.anonymous().raw("GET", "/v1/pipes")
    assert reply.status == 403 and reply.headers["x-amzn-errortype"] == (
        "MissingAuthenticationTokenException"
    )
