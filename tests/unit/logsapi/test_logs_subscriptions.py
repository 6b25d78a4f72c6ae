"""CloudWatch Logs subscription filters into Firehose (decision 0225) through Logs' JSON
protocol in process, calls made through botocore's model of ``logs``, over a real Firehose
service whose deliverer writes into an in-memory object service: PutSubscriptionFilter's
checks and its CONTROL_MESSAGE, the matching events of a batch as one gzip DATA_MESSAGE
record landing in the bucket, masked under a data protection policy; the two filters' quota,
DescribeSubscriptionFilters' pages, DeleteSubscriptionFilter; refused destinations, roles
and classes; the outbox's retries, its give-up after the retry duration and its bound, never
silent; a deleted group's filters gone with it; data protection's Firehose findings
destination (decision 0211's, served since 0225), one record a report."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from andromede.firehoseapi.app import FirehoseApp
from andromede.logs.subscriptions import MemorySubscriptionStore, OutboxEntry
from andromede.wiring.logs import FirehoseOfServe
from support.batch_world import read
from support.firehoseapp import REGION
from support.logsapp import NOW
from support.logsubscriptions import (
    EMAIL,
    LOGS_TRUST,
    Wire,
    put_records_policy,
    subscription_wire,
)


@pytest.fixture
async def wire(tmp_path: Path) -> AsyncIterator[Wire]:
    async for found in subscription_wire(tmp_path):
        yield found


async def test_matching_events_land_as_one_gzip_data_message(wire: Wire) -> None:
    await wire.subscribe()
    [control] = await wire.landed()  # put synchronously, as AWS's health check
    assert control["messageType"] == "CONTROL_MESSAGE"
    assert control["owner"] == "CloudwatchLogs"
    assert control["logEvents"][0]["message"].startswith("CWL CONTROL MESSAGE")
    await wire.put("ERROR one", "fine", "ERROR two")
    assert await wire.landed() == [control]  # PutLogEvents waited on nothing
    assert await wire.subscriptions.deliver_once("gw-a") == 1
    assert await wire.subscriptions.deliver_once("gw-a") == 0
    [(events, size, ok)] = wire.attempts  # what the wiring counts into AWS/Logs
    assert (events, ok) == (2, True) and size > 0
    [data] = await wire.data()
    assert data["messageType"] == "DATA_MESSAGE"
    assert data["owner"] == wire.logs.tenant_id
    assert (data["logGroup"], data["logStream"]) == ("/app/web", "s")
    assert data["subscriptionFilters"] == ["errors"]
    assert [(e["timestamp"], e["message"]) for e in data["logEvents"]] == [
        (NOW, "ERROR one"),
        (NOW + 2, "ERROR two"),
    ]
    ids = [e["id"] for e in data["logEvents"]]
    assert len(set(ids)) == 2 and all(i.isdigit() and len(i) == 56 for i in ids)
    await wire.logs.audit.flush()
    found = await wire.logs.audit_store.list_events(None, after_id=0, limit=100)
    audited = {(e.action, e.outcome.value) for _, e in found}
    assert ("logs:PutSubscriptionFilter", "success") in audited
    assert ("logs:PutLogEvents", "success") not in audited  # a data event


def protection_policy(destination: dict[str, Any]) -> str:
    return json.dumps(
        {
            "Name": "p",
            "Version": "2021-06-01",
            "Statement": [
                {
                    "DataIdentifier": ["arn:aws:dataprotection::aws:data-identifier/EmailAddress"],
                    "Operation": {"Audit": {"FindingsDestination": destination}},
                },
                {
                    "DataIdentifier": ["arn:aws:dataprotection::aws:data-identifier/EmailAddress"],
                    "Operation": {"Deidentify": {"MaskConfig": {}}},
                },
            ],
        }
    )


async def test_findings_reports_go_into_a_firehose_stream(wire: Wire) -> None:
    apis = {FirehoseApp.name: wire.firehose.app}
    wire.logs.world.service.protection.streams = FirehoseOfServe(
        apis, wire.firehose.identity, REGION
    )
    message = await wire.fails(
        "PutDataProtectionPolicy", "ResourceNotFoundException", logGroupIdentifier="/app/web",
        policyDocument=protection_policy({"Firehose": {"DeliveryStream": "nope"}}),
    )  # fmt: skip
    assert "nope does not exist" in message
    await wire.client(
        "PutDataProtectionPolicy",
        logGroupIdentifier="/app/web",
        policyDocument=protection_policy({"Firehose": {"DeliveryStream": "logs"}}),
    )
    await wire.put(f"to {EMAIL}", "nothing", f"{EMAIL} twice {EMAIL}")
    await wire.firehose.deliverer.run_pass()
    listing = await wire.firehose.objects.list_objects("landing", prefix="", max_keys=100)
    bodies = [await read(wire.firehose.objects, "landing", o.key) for o in listing.objects]
    lines = b"".join(bodies).decode().splitlines()
    reports = [json.loads(line) for line in lines]
    group = f"arn:aws:logs:{REGION}:{wire.logs.tenant_id}:log-group:/app/web:*"
    assert [r["resourceArn"] for r in reports] == [group, group]
    assert EMAIL not in "".join(lines)
    # The stream gone: the findings are dropped, the ingestion never fails for its audit.
    await wire.firehose.client("DeleteDeliveryStream", DeliveryStreamName="logs")
    await wire.put(f"again {EMAIL}")


async def test_masked_under_a_data_protection_policy(wire: Wire) -> None:
    document = {
        "Name": "p",
        "Version": "2021-06-01",
        "Statement": [
            {
                "DataIdentifier": ["arn:aws:dataprotection::aws:data-identifier/EmailAddress"],
                "Operation": {"Audit": {"FindingsDestination": {}}},
            },
            {
                "DataIdentifier": ["arn:aws:dataprotection::aws:data-identifier/EmailAddress"],
                "Operation": {"Deidentify": {"MaskConfig": {}}},
            },
        ],
    }
    await wire.client(
        "PutDataProtectionPolicy",
        logGroupIdentifier="/app/web",
        policyDocument=json.dumps(document),
    )
    await wire.subscribe(pattern="")
    await wire.put(f"mail {EMAIL}")
    await wire.subscriptions.deliver_once("gw-a")
    [data] = await wire.data()
    [event] = data["logEvents"]
    assert EMAIL not in event["message"] and event["message"].startswith("mail ***")


async def test_two_filters_a_group_described_by_pages_and_deleted(wire: Wire) -> None:
    await wire.subscribe("a")
    await wire.subscribe("b", distribution="Random")
    await wire.subscribe("a", pattern="WARN")  # replaced, not a third
    message = await wire.fails(
        "PutSubscriptionFilter", "LimitExceededException", logGroupName="/app/web",
        filterName="c", filterPattern="", destinationArn=wire.stream_arn, roleArn=wire.role_arn,
    )  # fmt: skip
    assert message == "Resource limit exceeded."
    controls = [m for m in await wire.landed() if m["messageType"] == "CONTROL_MESSAGE"]
    assert len(controls) == 3  # a, b, a again: none for the refused third
    page = await wire.client("DescribeSubscriptionFilters", logGroupName="/app/web", limit=1)
    [first] = page["subscriptionFilters"]
    assert (first["filterName"], first["filterPattern"]) == ("a", "WARN")
    assert first["destinationArn"] == wire.stream_arn and first["roleArn"] == wire.role_arn
    assert first["distribution"] == "ByLogStream" and first["creationTime"] == NOW
    rest = await wire.client(
        "DescribeSubscriptionFilters",
        logGroupName="/app/web",
        limit=1,
        nextToken=page["nextToken"],
    )
    assert [(f["filterName"], f["distribution"]) for f in rest["subscriptionFilters"]] == [
        ("b", "Random")
    ]
    assert "nextToken" not in rest
    prefixed = await wire.client(
        "DescribeSubscriptionFilters", logGroupName="/app/web", filterNamePrefix="b"
    )
    assert [f["filterName"] for f in prefixed["subscriptionFilters"]] == ["b"]
    await wire.client("DeleteSubscriptionFilter", logGroupName="/app/web", filterName="a")
    await wire.fails(
        "DeleteSubscriptionFilter", "ResourceNotFoundException",
        logGroupName="/app/web", filterName="a",
    )  # fmt: skip
    await wire.fails(
        "DescribeSubscriptionFilters", "ResourceNotFoundException", logGroupName="/nope"
    )
    # The group's deletion takes its filters: a group made again under its name has none.
    await wire.client("DeleteLogGroup", logGroupName="/app/web")
    await wire.client("CreateLogGroup", logGroupName="/app/web")
    again = await wire.client("DescribeSubscriptionFilters", logGroupName="/app/web")
    assert again["subscriptionFilters"] == []


@pytest.mark.parametrize(
    ("destination", "words"),
    [
        # A function of the account is served (decision 0304); this one does not exist.
        ("arn:aws:lambda:eu-fr-1:{account}:function:f", "Could not execute the lambda function"),
        ("arn:aws:lambda:eu-fr-1:999999999999:function:f", "own account and Region"),
        ("arn:aws:kinesis:eu-fr-1:999999999999:stream/k", "own account and Region"),
        ("arn:aws:kinesis:eu-fr-1:{account}:deliverystream/k", "Invalid destinationArn"),
        ("arn:aws:es:eu-fr-1:{account}:domain/d", "OpenSearch Service domains are not served"),
        ("arn:aws:firehose:eu-fr-1:999999999999:deliverystream/x", "own account and Region"),
        ("arn:aws:firehose:eu-west-9:{account}:deliverystream/x", "own account and Region"),
    ],
)
async def test_other_destinations_are_refused_honestly(
    wire: Wire, destination: str, words: str
) -> None:
    message = await wire.fails(
        "PutSubscriptionFilter", "InvalidParameterException", logGroupName="/app/web",
        filterName="f", filterPattern="", roleArn=wire.role_arn,
        destinationArn=destination.format(account=wire.logs.tenant_id),
    )  # fmt: skip
    assert words in message


async def test_roles_and_classes_refused(wire: Wire) -> None:
    test_failed = "Could not deliver test message to specified Firehose stream."
    plain = await wire.firehose.identity.create_role(wire.logs.tenant_id, "plain", LOGS_TRUST)
    for role in (plain.arn, await wire.firehose.role("fh")):  # may not put / trusts Firehose
        message = await wire.fails(
            "PutSubscriptionFilter", "InvalidParameterException", logGroupName="/app/web",
            filterName="f", filterPattern="", destinationArn=wire.stream_arn, roleArn=role,
        )  # fmt: skip
        assert message.startswith(test_failed)
    missing = wire.stream_arn.replace("/logs", "/nope")
    message = await wire.fails(
        "PutSubscriptionFilter", "InvalidParameterException", logGroupName="/app/web",
        filterName="f", filterPattern="", destinationArn=missing, roleArn=wire.role_arn,
    )  # fmt: skip
    assert message.startswith(test_failed)
    await wire.client("CreateLogGroup", logGroupName="/ia", logGroupClass="INFREQUENT_ACCESS")
    standard_only = "This operation is only supported on the Standard log class."
    message = await wire.fails(
        "PutSubscriptionFilter", "ValidationException", logGroupName="/ia",
        filterName="f", filterPattern="", destinationArn=wire.stream_arn, roleArn=wire.role_arn,
    )  # fmt: skip
    assert message == standard_only
    message = await wire.fails(
        "DescribeSubscriptionFilters", "ValidationException", logGroupName="/ia"
    )
    assert message == standard_only
    message = await wire.fails(
        "DeleteSubscriptionFilter", "ValidationException", logGroupName="/ia", filterName="f"
    )
    assert message == standard_only
    described = await wire.client("DescribeSubscriptionFilters", logGroupName="/app/web")
    assert described["subscriptionFilters"] == []


async def test_failing_records_are_retried_then_given_up_loudly(wire: Wire) -> None:
    await wire.subscribe()
    await wire.firehose.identity.delete_role_policy(wire.logs.tenant_id, "cwl", "put")
    await wire.put("ERROR lost")
    clock = wire.logs.world.clock
    assert await wire.subscriptions.deliver_once("gw-a") == 0  # refused: retried later
    assert await wire.subscriptions.deliver_once("gw-a") == 0  # not due yet
    assert wire.dropped == []
    clock.now += 2000
    assert await wire.subscriptions.deliver_once("gw-b") == 0  # due again, still refused
    clock.now += 86_400_000
    await wire.subscriptions.deliver_once("gw-b")
    [(entry, why)] = wire.dropped
    assert (entry.group, entry.filter_name) == ("/app/web", "errors")
    assert "may not put" in why
    clock.now += 2000
    assert await wire.subscriptions.store.claim("gw-c", clock.now, clock.now + 10, 10) == []


async def test_a_record_comes_back_once_its_fixed_and_the_outbox_is_bounded(wire: Wire) -> None:
    await wire.subscribe(pattern="")
    policy = put_records_policy(wire.stream_arn)
    await wire.firehose.identity.delete_role_policy(wire.logs.tenant_id, "cwl", "put")
    await wire.put("first")
    assert await wire.subscriptions.deliver_once("gw-a") == 0
    await wire.firehose.identity.put_role_policy(wire.logs.tenant_id, "cwl", "put", policy)
    wire.logs.world.clock.now += 1000
    assert await wire.subscriptions.deliver_once("gw-a") == 1
    [data] = await wire.data()
    assert data["logEvents"][0]["message"] == "first"
    # Past the account's bound (64 KiB here) matches are given up, loudly; the call succeeds.
    big = "x" * 200_000  # incompressible enough once with its neighbours
    await wire.put(*[os.urandom(40_000).hex() for _ in range(2)], big)
    assert wire.dropped and all("outbox is full" in why for _, why in wire.dropped)


class BrokenOutbox(MemorySubscriptionStore):
    async def enqueue(self, entries: Sequence[OutboxEntry], max_bytes: int) -> bool:
        raise RuntimeError("the database is gone")


async def test_an_outbox_failing_never_fails_the_ingestion(wire: Wire) -> None:
    await wire.subscribe(pattern="")
    broken = BrokenOutbox()
    for found in await wire.subscriptions.store.list_filters(
        wire.logs.tenant_id, "/app/web", "", "", 10
    ):
        await broken.put_filter(found, 2)
    wire.subscriptions.store = broken
    await wire.put("kept all the same")  # PutLogEvents answers 200
    [(entry, why)] = wire.dropped
    assert entry.filter_name == "errors" and "outbox refused it (RuntimeError)" in why
    events = await wire.client("GetLogEvents", logGroupName="/app/web", logStreamName="s")
    assert [e["message"] for e in events["events"]] == ["kept all the same"]


def allow(*actions: str) -> str:
    statement = {"Effect": "Allow", "Action": list(actions), "Resource": "*"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


async def test_the_caller_needs_pass_role_on_the_role(wire: Wire) -> None:
    user = dataclasses.replace(wire, logs=await wire.logs.iam_user("dev"))
    identity = wire.firehose.identity
    await identity.put_user_policy(wire.logs.tenant_id, "dev", "p", allow("logs:*"))
    message = await user.fails(
        "PutSubscriptionFilter", "AccessDeniedException", logGroupName="/app/web",
        filterName="f", filterPattern="", destinationArn=wire.stream_arn, roleArn=wire.role_arn,
    )  # fmt: skip
    assert "iam:PassRole" in message
    described = await user.client("DescribeSubscriptionFilters", logGroupName="/app/web")
    assert described["subscriptionFilters"] == []
    await identity.put_user_policy(wire.logs.tenant_id, "dev", "p", allow("logs:*", "iam:PassRole"))
    await user.subscribe("f")


async def test_a_trust_fenced_to_the_accounts_groups_is_assumed_for_them(wire: Wire) -> None:
    # Decision 0321: Logs assumes the role with the group's ARN as aws:SourceArn and its
    # account as aws:SourceAccount — AWS's documented trust policy for subscription roles.
    account, identity = wire.logs.tenant_id, wire.firehose.identity

    def fenced_to(groups: str) -> str:
        condition = {
            "StringEquals": {"aws:SourceAccount": account},
            "StringLike": {"aws:SourceArn": f"arn:aws:logs:{REGION}:{account}:{groups}"},
        }
        return json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": "logs.amazonaws.com"},
                           "Action": "sts:AssumeRole", "Condition": condition}],
        })  # fmt: skip

    for name, groups in (("app", "log-group:/app/*"), ("db", "log-group:/db/*")):
        await identity.create_role(account, name, fenced_to(groups))
        await identity.put_role_policy(account, name, "put", put_records_policy(wire.stream_arn))
    app, db = (f"arn:aws:iam::{account}:role/{name}" for name in ("app", "db"))
    message = await wire.fails(
        "PutSubscriptionFilter", "InvalidParameterException", logGroupName="/app/web",
        filterName="f", filterPattern="", destinationArn=wire.stream_arn, roleArn=db,
    )  # fmt: skip
    assert message.startswith("Could not deliver test message to specified Firehose stream.")
    await wire.subscribe(roleArn=app)
    await wire.put("ERROR one")
    assert await wire.subscriptions.deliver_once("gw-a") == 1
    assert [e["message"] for d in await wire.data() for e in d["logEvents"]] == ["ERROR one"]
