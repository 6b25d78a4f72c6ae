"""Decision 0222 on the wire: log group classes — made STANDARD or INFREQUENT_ACCESS (DELIVERY
and anything else refused in Logs' words), listed and filtered by class, never changed; an
Infrequent Access group refusing metric filters, Live Tail, data protection and the Insights
commands its class lacks (a query over a Standard and an IA group too), its ingestion metered
apart — and deletion protection: put at creation or by PutLogGroupDeletionProtection, shown,
refusing DeleteLogGroup and DeleteLogStream with AWS's ValidationException while on, audited
and authorised as its neighbours, and no bar to the account's closure."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from andromede.billing.model import parse_month
from support.logsapp import NOW, Harness, LogsWorld, harness_over, logs_world

IA = "INFREQUENT_ACCESS"
EMAIL = "jane.doe@example.fr"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[LogsWorld]:
    yield from logs_world(tmp_path / "w")


@pytest.fixture
async def logs(world: LogsWorld, tmp_path: Path) -> AsyncIterator[Harness]:
    harness = await harness_over(world, tmp_path)
    try:
        await harness.ok("CreateLogGroup", {"logGroupName": "std"})
        await harness.ok("CreateLogGroup", {"logGroupName": "cold", "logGroupClass": IA})
        for group in ("std", "cold"):
            await harness.ok("CreateLogStream", {"logGroupName": group, "logStreamName": "s"})
        yield harness
    finally:
        assert harness.insights is not None
        await harness.insights.close()
        await harness.audit.close()
        await harness.billing.close()


def arn(logs: Harness, group: str) -> str:
    return f"arn:aws:logs:eu-fr-1:{logs.tenant_id}:log-group:{group}"


async def usage(logs: Harness) -> dict[str, float]:
    await logs.billing.flush()
    month = parse_month(datetime.now(UTC).strftime("%Y-%m"))
    report = await logs.billing.usage_report(logs.tenant_id, month)
    return {line.meter: line.quantity for line in report.lines}


async def put(logs: Harness, group: str, *messages: str) -> None:
    events = [{"timestamp": NOW - 10 + n, "message": m} for n, m in enumerate(messages)]
    await logs.ok(
        "PutLogEvents", {"logGroupName": group, "logStreamName": "s", "logEvents": events}
    )


async def test_classes_shown_filtered_and_refused_in_logs_words(logs: Harness) -> None:
    groups = (await logs.ok("DescribeLogGroups", {}))["logGroups"]
    assert [(g["logGroupName"], g["logGroupClass"]) for g in groups] == [
        ("cold", IA),
        ("std", "STANDARD"),
    ]
    only = await logs.ok("DescribeLogGroups", {"logGroupClass": IA})
    assert [g["logGroupName"] for g in only["logGroups"]] == ["cold"]
    only = await logs.ok("DescribeLogGroups", {"logGroupClass": "STANDARD", "limit": 1})
    assert [g["logGroupName"] for g in only["logGroups"]] == ["std"] and "nextToken" not in only
    for params, error in [
        ({"logGroupName": "d", "logGroupClass": "DELIVERY"}, "DELIVERY log class"),
        ({"logGroupName": "d", "logGroupClass": "COLD"}, "enum value set"),
        ({"logGroupName": "d", "logGroupClass": 3}, ""),
    ]:
        reply = await logs.call("CreateLogGroup", params)
        fields = reply.error_fields()
        assert (reply.status, fields["__type"]) == (400, "InvalidParameterException")
        assert error in fields["message"] and reply.headers["x-amzn-requestid"]
    assert (await logs.ok("DescribeLogGroups", {"logGroupClass": "DELIVERY"}))["logGroups"] == []
    reply = await logs.call("DescribeLogGroups", {"logGroupClass": "COLD"})
    assert reply.error_fields()["__type"] == "InvalidParameterException"
    # The class is never changed: a retention, a tag or a key leave it.
    await logs.ok("PutRetentionPolicy", {"logGroupName": "cold", "retentionInDays": 7})
    await logs.ok("TagLogGroup", {"logGroupName": "cold", "tags": {"a": "1"}})
    [cold] = (await logs.ok("DescribeLogGroups", {"logGroupNamePrefix": "cold"}))["logGroups"]
    assert cold["logGroupClass"] == IA and cold["retentionInDays"] == 7


async def test_an_infrequent_access_group_refuses_what_its_class_lacks(logs: Harness) -> None:
    transformation = [{"metricName": "m", "metricNamespace": "App", "metricValue": "1"}]
    for group in ("std", "cold"):
        reply = await logs.call(
            "PutMetricFilter",
            {
                "logGroupName": group,
                "filterName": "f",
                "filterPattern": "ERROR",
                "metricTransformations": transformation,
            },
        )
        expected = (200, None) if group == "std" else (400, "InvalidParameterException")
        kind = reply.error_fields()["__type"] if reply.status != 200 else None
        assert (reply.status, kind) == expected, reply.body
    reply = await logs.call("StartLiveTail", {"logGroupIdentifiers": [arn(logs, "cold")]})
    fields = reply.error_fields()
    assert fields["__type"] == "InvalidParameterException" and "Live Tail" in fields["message"]
    document = json.dumps(
        {
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
    )
    reply = await logs.call(
        "PutDataProtectionPolicy", {"logGroupIdentifier": "cold", "policyDocument": document}
    )
    assert reply.error_fields()["__type"] == "InvalidParameterException"
    # The account's policy masks the Standard group's events, not the IA group's.
    await logs.ok(
        "PutAccountPolicy",
        {"policyName": "acct", "policyDocument": document, "policyType": "DATA_PROTECTION_POLICY"},
    )
    for group in ("std", "cold"):
        await put(logs, group, f"mail {EMAIL}")
    shown = {}
    for group in ("std", "cold"):
        found = await logs.ok("FilterLogEvents", {"logGroupName": group})
        shown[group] = [e["message"] for e in found["events"]]
    assert shown == {"std": ["mail " + "*" * len(EMAIL)], "cold": [f"mail {EMAIL}"]}


@pytest.mark.parametrize(
    ("query", "word", "column"),
    [
        ("pattern @message", "pattern", 1),
        ("fields @message | diff", "diff", 19),
        ("filterIndex x = 1", "filterIndex", 1),
        ("fields @message | unmask(@message)", "unmask", 19),
        ("fields unmask(@message) as m", "unmask", 8),
    ],
)
async def test_insights_commands_refused_if_any_group_is_infrequent_access(
    logs: Harness, query: str, word: str, column: int
) -> None:
    params: dict[str, Any] = {"startTime": 0, "endTime": NOW // 1000, "queryString": query}
    reply = await logs.call("StartQuery", {**params, "logGroupNames": ["std", "cold"]})
    fields = reply.json()  # with its queryCompileError: where the query went wrong
    assert (reply.status, fields["__type"]) == (400, "MalformedQueryException"), reply.body
    assert fields["message"].startswith(word)
    assert f"line 1 and position {column}" in fields["message"]
    assert fields["queryCompileError"]["location"]["startCharOffset"] == column - 1
    if word != "filterIndex":  # refused for every class: field indexes are not served
        assert "INFREQUENT_ACCESS" in fields["message"]
        assert "queryId" in await logs.ok("StartQuery", {**params, "logGroupNames": ["std"]})
    # What the class has runs, over both groups, and a field named like a command is no command.
    both = {**params, "logGroupNames": ["std", "cold"]}
    for allowed in ("fields @message | stats count(*)", "fields pattern, diff"):
        assert "queryId" in await logs.ok("StartQuery", {**both, "queryString": allowed})


async def test_ingestion_metered_by_class(logs: Harness) -> None:
    await put(logs, "std", "x" * 74)
    await put(logs, "cold", "y" * 24, "z" * 24)
    metered = await usage(logs)
    assert metered["logs.ingested"] == 100
    assert metered["logs.ingested.infrequent-access"] == 100
    # Each class's events read back alike.
    got = await logs.ok("GetLogEvents", {"logGroupName": "cold", "logStreamName": "s"})
    assert [e["message"] for e in got["events"]] == ["y" * 24, "z" * 24]


async def test_deletion_protection(logs: Harness) -> None:
    await logs.ok("CreateLogGroup", {"logGroupName": "kept", "deletionProtectionEnabled": True})
    await logs.ok("CreateLogStream", {"logGroupName": "kept", "logStreamName": "s"})
    [kept] = (await logs.ok("DescribeLogGroups", {"logGroupNamePrefix": "kept"}))["logGroups"]
    assert kept["deletionProtectionEnabled"] is True
    for operation, params, words in [
        ("DeleteLogGroup", {"logGroupName": "kept"}, "Cannot delete log group with deletion"),
        (
            "DeleteLogStream",
            {"logGroupName": "kept", "logStreamName": "s"},
            "Cannot delete log stream in a log group with deletion",
        ),
    ]:
        reply = await logs.call(operation, params)
        fields = reply.error_fields()
        assert (reply.status, fields["__type"]) == (400, "ValidationException"), reply.body
        assert fields["message"].startswith(words) and reply.headers["x-amzn-requestid"]
    # A stream or group that does not exist is still not found.
    reply = await logs.call("DeleteLogStream", {"logGroupName": "kept", "logStreamName": "no"})
    assert reply.error_fields()["__type"] == "ResourceNotFoundException"
    # Put by name or ARN; off, the group goes.
    await logs.ok(
        "PutLogGroupDeletionProtection",
        {"logGroupIdentifier": arn(logs, "std"), "deletionProtectionEnabled": True},
    )
    [std] = (await logs.ok("DescribeLogGroups", {"logGroupNamePrefix": "std"}))["logGroups"]
    assert std["deletionProtectionEnabled"] is True
    reply = await logs.call("DeleteLogGroup", {"logGroupName": "std"})
    assert reply.error_fields()["__type"] == "ValidationException"
    await logs.ok(
        "PutLogGroupDeletionProtection",
        {"logGroupIdentifier": "kept", "deletionProtectionEnabled": False},
    )
    await logs.ok("DeleteLogStream", {"logGroupName": "kept", "logStreamName": "s"})
    await logs.ok("DeleteLogGroup", {"logGroupName": "kept"})
    for params, error in [
        ({"logGroupIdentifier": "nope", "deletionProtectionEnabled": True}, "ResourceNotFound"),
        ({"logGroupIdentifier": "std"}, "InvalidParameter"),
        ({"logGroupIdentifier": "std", "deletionProtectionEnabled": "yes"}, "InvalidParameter"),
        ({"logGroupIdentifier": "bad name", "deletionProtectionEnabled": True}, "InvalidParam"),
        ({"deletionProtectionEnabled": True}, "InvalidParameter"),
    ]:
        reply = await logs.call("PutLogGroupDeletionProtection", params)
        assert reply.error_fields()["__type"].startswith(error), (params, reply.body)
    # The account's closure removes the protected group with the rest.
    assert await logs.world.service.forget_tenant(logs.tenant_id) == 2
    assert (await logs.ok("DescribeLogGroups", {}))["logGroups"] == []


async def test_deletion_protection_authorised_and_audited(logs: Harness) -> None:
    user = await logs.iam_user("dev")
    params = {"logGroupIdentifier": "std", "deletionProtectionEnabled": True}
    reply = await user.call("PutLogGroupDeletionProtection", params)
    fields = reply.error_fields()
    assert fields["__type"] == "AccessDeniedException"
    assert "logs:PutLogGroupDeletionProtection" in fields["message"]
    await logs.ok("PutLogGroupDeletionProtection", params)
    await logs.audit.flush()
    events = [e for _, e in await logs.audit_store.list_events(None, after_id=0, limit=100)]
    actions = [(e.action, e.resource, e.outcome.value) for e in events]
    group = arn(logs, "std")
    assert ("logs:PutLogGroupDeletionProtection", group, "failure") in actions
    assert ("logs:PutLogGroupDeletionProtection", group, "success") in actions


async def test_terraform_aws_cloudwatch_log_group_calls(logs: Harness) -> None:
    """What the provider's ``aws_cloudwatch_log_group`` sends and reads: CreateLogGroup with
    ``logGroupClass`` and ``deletionProtectionEnabled``; its read, DescribeLogGroups by prefix
    matched on the name (``log_group_class``, ``deletion_protection_enabled``); an update of
    the protection through PutLogGroupDeletionProtection naming the group's ``logGroupArn``;
    then its destroy."""
    await logs.ok(
        "CreateLogGroup",
        {"logGroupName": "tf", "logGroupClass": IA, "deletionProtectionEnabled": True},
    )
    listed = (await logs.ok("DescribeLogGroups", {"logGroupNamePrefix": "tf"}))["logGroups"]
    [group] = [g for g in listed if g["logGroupName"] == "tf"]
    assert (group["logGroupClass"], group["deletionProtectionEnabled"]) == (IA, True)
    assert group["logGroupArn"] == arn(logs, "tf")
    await logs.ok(
        "PutLogGroupDeletionProtection",
        {"logGroupIdentifier": group["logGroupArn"], "deletionProtectionEnabled": False},
    )
    [group] = (await logs.ok("DescribeLogGroups", {"logGroupNamePrefix": "tf"}))["logGroups"]
    assert group["deletionProtectionEnabled"] is False
    await logs.ok("DeleteLogGroup", {"logGroupName": "tf"})
