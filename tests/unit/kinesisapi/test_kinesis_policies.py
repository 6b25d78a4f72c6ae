"""Decision 0248's Kinesis resource policies through botocore's own model: PutResourcePolicy,
GetResourcePolicy and DeleteResourcePolicy on a stream or a consumer, the checks a policy
passes (grammar, actions a Kinesis policy may share, size), and their use: another account's
principal, allowed by the policy AND its own identity policies, puts and reads the stream by
its ARN (its iterators bound to the owner's stream, records sealed under the owner's keys, put
units charged to the owner, the call in both accounts' trails), and only the shared calls."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from support.kinesisapp import World, kinesis_world


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async for made in kinesis_world(tmp_path, kinesis_max_policy_size=600):
        yield made


def arn_of(world: World, name: str = "s") -> str:
    return f"arn:aws:kinesis:eu-fr-1:{world.tenant_id}:stream/{name}"


def grant(principal: str, resource: str, *actions: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": principal},
                    "Action": [f"kinesis:{a}" for a in actions],
                    "Resource": resource,
                }
            ],
        }
    )


async def trail(world: World, tenant_id: str) -> list[tuple[str, str, dict[str, str]]]:
    await world.audit.flush()
    listed = await world.audit_store.list_events(None, after_id=0, limit=1000)
    return [
        (e.action, e.outcome.value, dict(e.details)) for _, e in listed if e.tenant_id == tenant_id
    ]


async def test_policies_put_read_and_deleted_on_streams_and_consumers(world: World) -> None:
    await world.client("CreateStream", StreamName="s", ShardCount=1)
    arn = arn_of(world)
    assert (await world.client("GetResourcePolicy", ResourceARN=arn)) == {"Policy": "{}"}
    await world.fails("DeleteResourcePolicy", "ResourceNotFoundException", ResourceARN=arn)
    policy = grant("111122223333", arn, "PutRecord", "DescribeStreamSummary")
    await world.client("PutResourcePolicy", ResourceARN=arn, Policy=policy)
    assert (await world.client("GetResourcePolicy", ResourceARN=arn))["Policy"] == policy
    made = await world.client("RegisterStreamConsumer", StreamARN=arn, ConsumerName="app")
    consumer = made["Consumer"]["ConsumerARN"]
    assert (await world.client("GetResourcePolicy", ResourceARN=consumer))["Policy"] == "{}"
    shared = grant("111122223333", consumer, "SubscribeToShard", "DescribeStreamConsumer")
    await world.client("PutResourcePolicy", ResourceARN=consumer, Policy=shared)
    assert (await world.client("GetResourcePolicy", ResourceARN=consumer))["Policy"] == shared
    # The stream's policy is its own: the consumer's changed nothing of it.
    assert (await world.client("GetResourcePolicy", ResourceARN=arn))["Policy"] == policy
    await world.client("DeleteResourcePolicy", ResourceARN=arn)
    assert (await world.client("GetResourcePolicy", ResourceARN=arn))["Policy"] == "{}"
    assert (await world.client("GetResourcePolicy", ResourceARN=consumer))["Policy"] == shared
    # A consumer deregistered and registered again comes back without its policy.
    await world.client("DeregisterStreamConsumer", ConsumerARN=consumer)
    again = await world.client("RegisterStreamConsumer", StreamARN=arn, ConsumerName="app")
    fresh = again["Consumer"]["ConsumerARN"]
    assert (await world.client("GetResourcePolicy", ResourceARN=fresh))["Policy"] == "{}"
    missing = arn_of(world, "nope")
    await world.fails("GetResourcePolicy", "ResourceNotFoundException", ResourceARN=missing)
    await world.fails("PutResourcePolicy", "ResourceNotFoundException", ResourceARN=missing,
                      Policy=policy)  # fmt: skip
    events = await trail(world, world.tenant_id)
    assert ("kinesis:PutResourcePolicy", "success") in [(a, o) for a, o, _ in events]


async def test_a_policy_is_checked_as_aws_checks_it(world: World) -> None:
    await world.client("CreateStream", StreamName="s", ShardCount=1)
    arn = arn_of(world)
    made = await world.client("RegisterStreamConsumer", StreamARN=arn, ConsumerName="app")
    consumer = made["Consumer"]["ConsumerARN"]
    refused: list[tuple[str, str]] = [
        (arn, "{not json"),
        (arn, json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "kinesis:PutRecord", "Resource": arn}]})),  # no Principal
        (arn, grant("111122223333", arn, "DeleteStream")),  # not shareable
        (arn, grant("111122223333", arn, "SubscribeToShard")),  # a consumer's, not a stream's
        (consumer, grant("111122223333", consumer, "PutRecord")),  # a stream's, not a consumer's
        (arn, grant("111122223333", arn, *["PutRecords"] * 40)),  # past 600 bytes
    ]  # fmt: skip
    for resource, text in refused:
        await world.fails("PutResourcePolicy", "InvalidArgumentException", ResourceARN=resource,
                          Policy=text)  # fmt: skip
    assert (await world.client("GetResourcePolicy", ResourceARN=arn))["Policy"] == "{}"
    # Wildcards are fine when they name an action a Kinesis policy shares.
    await world.client("PutResourcePolicy", ResourceARN=arn,
                       Policy=grant("111122223333", arn, "Get*"))  # fmt: skip
    await world.client("PutResourcePolicy", ResourceARN=consumer,
                       Policy=grant("111122223333", consumer, "*"))  # fmt: skip


async def test_another_account_uses_a_shared_stream_by_its_arn(world: World) -> None:
    await world.client("CreateStream", StreamName="s", ShardCount=2)
    arn = arn_of(world)
    other = await world.other_tenant("other")
    put: dict[str, Any] = {"StreamARN": arn, "Data": b"hello", "PartitionKey": "k"}
    message = await other.fails("PutRecord", "AccessDeniedException", **put)
    assert "resource-based policy" in message
    # A refused data call on another's stream is in both accounts' trails.
    owner_events = await trail(world, world.tenant_id)
    assert any(
        a == "kinesis:PutRecord" and o == "failure" and d.get("caller_account") == other.tenant_id
        for a, o, d in owner_events
    )
    assert ("kinesis:PutRecord", "failure") in [(a, o) for a, o, _ in
                                                await trail(world, other.tenant_id)]  # fmt: skip
    root = f"arn:aws:iam::{other.tenant_id}:root"
    actions = ("PutRecord", "PutRecords", "DescribeStreamSummary", "ListShards",
               "GetShardIterator", "GetRecords")  # fmt: skip
    await world.client("PutResourcePolicy", ResourceARN=arn, Policy=grant(root, arn, *actions))
    before = await world.usage("kinesis.put-units")
    taken = await other.client("PutRecord", **put)
    await other.client("PutRecords", StreamARN=arn,
                       Records=[{"Data": b"x" * 30_000, "PartitionKey": "p"}])  # fmt: skip
    # Metering is the owner's, as AWS charges the stream's account.
    assert await world.usage("kinesis.put-units") == before + 1 + 2
    assert await other.usage("kinesis.put-units") == 0
    summary = await other.client("DescribeStreamSummary", StreamARN=arn)
    assert summary["StreamDescriptionSummary"]["StreamARN"] == arn
    shards = await other.client("ListShards", StreamARN=arn, MaxResults=1)
    assert [s["ShardId"] for s in shards["Shards"]] == ["shardId-000000000000"]
    rest = await other.client("ListShards", NextToken=shards["NextToken"])
    assert [s["ShardId"] for s in rest["Shards"]] == ["shardId-000000000001"]
    start = {"ShardId": taken["ShardId"], "ShardIteratorType": "TRIM_HORIZON"}
    iterator = (await other.client("GetShardIterator", StreamARN=arn, **start))["ShardIterator"]
    # The iterator is the owner's stream's: read with or without the ARN, by the owner too.
    for reader, extra in ((other, {"StreamARN": arn}), (other, {}), (world, {})):
        read = await reader.client("GetRecords", ShardIterator=iterator, **extra)
        assert read["Records"][0]["Data"] == b"hello"
    # The records are the owner's, sealed under its keys: the owner reads them by name.
    mine = (await world.client("GetShardIterator", StreamName="s", **start))["ShardIterator"]
    assert (await world.client("GetRecords", ShardIterator=mine))["Records"][0]["Data"] == b"hello"
    # Only what AWS lets a policy share: management calls stay the owner's.
    for operation, params in (("DescribeStream", {"StreamARN": arn}),
                              ("AddTagsToStream", {"StreamARN": arn, "Tags": {"a": "b"}}),
                              ("GetResourcePolicy", {"ResourceARN": arn}),
                              ("PutResourcePolicy", {"ResourceARN": arn, "Policy": "{}"}),
                              ("DeleteStream", {"StreamARN": arn})):  # fmt: skip
        await other.fails(operation, "AccessDeniedException", **params)
    # A stream name is always the caller's own.
    await other.fails("DescribeStreamSummary", "ResourceNotFoundException", StreamName="s")
    # The management call a policy shares is in both trails, the owner's naming the caller.
    owner_events = await trail(world, world.tenant_id)
    assert ("kinesis:DescribeStreamSummary", "success", other.tenant_id) in [
        (a, o, d.get("caller_account")) for a, o, d in owner_events
    ]
    assert ("kinesis:ListShards", "success") in [(a, o) for a, o, _ in
                                                 await trail(world, other.tenant_id)]  # fmt: skip
    await world.client("DeleteResourcePolicy", ResourceARN=arn)
    await other.fails("PutRecord", "AccessDeniedException", **put)
    await other.fails("GetRecords", "AccessDeniedException", ShardIterator=iterator)


async def test_across_accounts_both_policies_must_allow(world: World) -> None:
    await world.client("CreateStream", StreamName="s", ShardCount=1)
    arn = arn_of(world)
    other = await world.other_tenant("other")
    user = await other.iam_user("producer")
    user_arn = f"arn:aws:iam::{other.tenant_id}:user/producer"
    await world.client("PutResourcePolicy", ResourceARN=arn,
                       Policy=grant(user_arn, arn, "PutRecord"))  # fmt: skip
    put: dict[str, Any] = {"StreamARN": arn, "Data": b"x", "PartitionKey": "k"}
    # The stream's policy names the user, but its own account has not allowed it.
    await user.fails("PutRecord", "AccessDeniedException", **put)
    identity = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "kinesis:PutRecord", "Resource": "*"}]}  # fmt: skip
    await other.identity.put_user_policy(other.tenant_id, "producer", "p", json.dumps(identity))
    await user.client("PutRecord", **put)
    # The account's root is not named by the stream's policy: refused.
    await other.fails("PutRecord", "AccessDeniedException", **put)
    # An explicit deny in the stream's policy wins over its own grant.
    denied = json.loads(grant(user_arn, arn, "PutRecord"))
    denied["Statement"].append({**denied["Statement"][0], "Effect": "Deny"})
    await world.client("PutResourcePolicy", ResourceARN=arn, Policy=json.dumps(denied))
    await user.fails("PutRecord", "AccessDeniedException", **put)


async def test_within_the_account_the_streams_policy_may_allow_alone(world: World) -> None:
    await world.client("CreateStream", StreamName="s", ShardCount=1)
    arn = arn_of(world)
    user = await world.iam_user("writer")
    put: dict[str, Any] = {"StreamName": "s", "Data": b"x", "PartitionKey": "k"}
    await user.fails("PutRecord", "AccessDeniedException", **put)
    writer = f"arn:aws:iam::{world.tenant_id}:user/writer"
    await world.client("PutResourcePolicy", ResourceARN=arn,
                       Policy=grant(writer, arn, "PutRecord"))  # fmt: skip
    await user.client("PutRecord", **put)


async def test_a_shared_consumer_is_described_and_registered_across_accounts(
    world: World,
) -> None:
    await world.client("CreateStream", StreamName="s", ShardCount=1)
    arn = arn_of(world)
    other = await world.other_tenant("other")
    root = f"arn:aws:iam::{other.tenant_id}:root"
    await other.fails("RegisterStreamConsumer", "AccessDeniedException", StreamARN=arn,
                      ConsumerName="theirs")  # fmt: skip
    await world.client("PutResourcePolicy", ResourceARN=arn,
                       Policy=grant(root, arn, "RegisterStreamConsumer"))  # fmt: skip
    made = await other.client("RegisterStreamConsumer", StreamARN=arn, ConsumerName="theirs")
    consumer = made["Consumer"]["ConsumerARN"]
    assert consumer.startswith(f"{arn}/consumer/theirs:")
    listed = await world.client("ListStreamConsumers", StreamARN=arn)
    assert [c["ConsumerName"] for c in listed["Consumers"]] == ["theirs"]
    # The stream's policy does not share its consumers: the consumer's own does.
    await other.fails("DescribeStreamConsumer", "AccessDeniedException", ConsumerARN=consumer)
    await world.client("PutResourcePolicy", ResourceARN=consumer,
                       Policy=grant(root, consumer, "DescribeStreamConsumer"))  # fmt: skip
    described = await other.client("DescribeStreamConsumer", ConsumerARN=consumer)
    assert described["ConsumerDescription"]["StreamARN"] == arn
    await other.fails("DeregisterStreamConsumer", "AccessDeniedException", ConsumerARN=consumer)
    await other.fails("ListStreamConsumers", "AccessDeniedException", StreamARN=arn)


async def test_a_stale_consumer_arn_is_not_shared_by_its_successors_policy(
    world: World,
) -> None:
    await world.client("CreateStream", StreamName="s", ShardCount=1)
    arn = arn_of(world)
    other = await world.other_tenant("other")
    first = await world.client("RegisterStreamConsumer", StreamARN=arn, ConsumerName="app")
    stale = first["Consumer"]["ConsumerARN"].rsplit(":", 1)[0] + ":1"
    await world.client("DeregisterStreamConsumer", ConsumerARN=first["Consumer"]["ConsumerARN"])
    made = await world.client("RegisterStreamConsumer", StreamARN=arn, ConsumerName="app")
    consumer = made["Consumer"]["ConsumerARN"]
    everything = f"{arn}/consumer/*"
    await world.client("PutResourcePolicy", ResourceARN=consumer, Policy=grant(
        f"arn:aws:iam::{other.tenant_id}:root", everything, "DescribeStreamConsumer"))  # fmt: skip
    await other.client("DescribeStreamConsumer", ConsumerARN=consumer)
    await other.fails("DescribeStreamConsumer", "AccessDeniedException", ConsumerARN=stale)
    await world.fails("DescribeStreamConsumer", "ResourceNotFoundException", ConsumerARN=stale)


async def test_a_policy_grants_only_the_calls_it_may_share(world: World) -> None:
    await world.client("CreateStream", StreamName="s", ShardCount=1)
    arn = arn_of(world)
    user = await world.iam_user("writer")
    writer = f"arn:aws:iam::{world.tenant_id}:user/writer"
    await world.client("PutResourcePolicy", ResourceARN=arn, Policy=grant(writer, arn, "*"))
    await user.client("PutRecord", StreamName="s", Data=b"x", PartitionKey="k")
    await user.client("DescribeStreamSummary", StreamName="s")
    for operation in ("DescribeStream", "DeleteStream", "GetResourcePolicy"):
        await user.fails(operation, "AccessDeniedException",
                         **({"ResourceARN": arn} if "Policy" in operation
                            else {"StreamName": "s"}))  # fmt: skip
    # Its denials hold for every call, those it cannot share too.
    identity = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "kinesis:DescribeStream", "Resource": "*"}]}  # fmt: skip
    await world.identity.put_user_policy(world.tenant_id, "writer", "p", json.dumps(identity))
    await user.client("DescribeStream", StreamName="s")
    denied = json.loads(grant(writer, arn, "*"))
    denied["Statement"][0]["Effect"] = "Deny"
    await world.client("PutResourcePolicy", ResourceARN=arn, Policy=json.dumps(denied))
    await user.fails("DescribeStream", "AccessDeniedException", StreamName="s")
    await user.fails("PutRecord", "AccessDeniedException", StreamName="s", Data=b"x",
                     PartitionKey="k")  # fmt: skip
