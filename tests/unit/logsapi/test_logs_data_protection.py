"""Decision 0211's data protection policies through Logs' JSON protocol in process: a group's
policy and the account's, in AWS's shapes and with its refusals; sensitive terms found at
ingestion masked at every reading (GetLogEvents, FilterLogEvents and its patterns, Logs
Insights, metric filters), shown by ``unmask`` only to a caller allowed ``logs:Unmask``; the
findings reports written into the findings group and ``LogEventsWithFindings`` counted;
events ingested before a policy left as they were."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from andromede.logs.service import LogsLimits
from support.logsapp import NOW, Harness, LogsWorld, harness_over, logs_world

EMAIL = "jane.doe@example.fr"
CARD = "4111 1111 1111 1111"
ARN = "arn:aws:dataprotection::aws:data-identifier/"


def policy(*identifiers: str, findings: str | None = None, custom: Any = None) -> str:
    names = [i if i.startswith("Emp") else ARN + i for i in identifiers]
    destination = {} if findings is None else {"CloudWatchLogs": {"LogGroup": findings}}
    document: dict[str, Any] = {
        "Name": "protect",
        "Description": "PII",
        "Version": "2021-06-01",
        "Statement": [
            {
                "Sid": "audit",
                "DataIdentifier": names,
                "Operation": {"Audit": {"FindingsDestination": destination}},
            },
            {
                "Sid": "redact",
                "DataIdentifier": names,
                "Operation": {"Deidentify": {"MaskConfig": {}}},
            },
        ],
    }
    if custom is not None:
        document["Configuration"] = {"CustomDataIdentifier": custom}
    return json.dumps(document)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[LogsWorld]:
    yield from logs_world(tmp_path / "w", LogsLimits())


@pytest.fixture
async def logs(world: LogsWorld, tmp_path: Path) -> AsyncIterator[Harness]:
    harness = await harness_over(world, tmp_path)
    world.clock.now = NOW
    for group in ("app", "findings"):
        await harness.ok("CreateLogGroup", {"logGroupName": group})
    await harness.ok("CreateLogStream", {"logGroupName": "app", "logStreamName": "s"})
    try:
        yield harness
    finally:
        await harness.audit.close()
        await harness.billing.close()


async def put(logs: Harness, *messages: str, group: str = "app") -> None:
    events = [{"timestamp": NOW + i, "message": m} for i, m in enumerate(messages)]
    params = {"logGroupName": group, "logStreamName": "s", "logEvents": events}
    await logs.ok("PutLogEvents", params)
    logs.world.clock.now += 10


async def messages(logs: Harness, **extra: Any) -> list[str]:
    read = await logs.ok(
        "GetLogEvents",
        {"logGroupName": "app", "logStreamName": "s", "startFromHead": True, **extra},
    )
    return [e["message"] for e in read["events"]]


async def test_a_groups_policy_put_read_and_deleted_in_aws_shapes(logs: Harness) -> None:
    document = policy("EmailAddress", findings="findings")
    put_answer = await logs.ok(
        "PutDataProtectionPolicy", {"logGroupIdentifier": "app", "policyDocument": document}
    )
    assert put_answer == {
        "logGroupIdentifier": "app",
        "policyDocument": document,
        "lastUpdatedTime": NOW,
    }
    arn = f"arn:aws:logs:eu-fr-1:{logs.tenant_id}:log-group:app"
    got = await logs.ok("GetDataProtectionPolicy", {"logGroupIdentifier": arn})
    assert got == {"logGroupIdentifier": arn, "policyDocument": document, "lastUpdatedTime": NOW}
    groups = (await logs.ok("DescribeLogGroups", {}))["logGroups"]
    assert {g["logGroupName"]: g.get("dataProtectionStatus") for g in groups} == {
        "app": "ACTIVATED",
        "findings": None,
    }
    assert await logs.ok("DeleteDataProtectionPolicy", {"logGroupIdentifier": "app"}) == {}
    assert await logs.ok("GetDataProtectionPolicy", {"logGroupIdentifier": "app"}) == {
        "logGroupIdentifier": "app"
    }
    again = await logs.call("DeleteDataProtectionPolicy", {"logGroupIdentifier": "app"})
    assert again.error_fields()["__type"] == "ResourceNotFoundException"


@pytest.mark.parametrize(
    ("document", "error"),
    [
        ("not json", "InvalidParameterException"),
        (
            json.dumps({"Name": "x", "Version": "2021-06-01", "Statement": []}),
            "InvalidParameterException",
        ),
        (policy("EmailAddress").replace("2021-06-01", "2012-10-17"), "InvalidParameterException"),
        (policy("NoSuchIdentifier"), "InvalidParameterException"),
        (policy("Name"), "InvalidParameterException"),  # AWS's, needing its ML: refused by name
        (policy("EmailAddress", findings="absent"), "ResourceNotFoundException"),
        (
            policy("EmailAddress").replace(
                '"FindingsDestination": {}', '"FindingsDestination": {"Firehose": {"D": "d"}}'
            ),
            "InvalidParameterException",
        ),
        (  # a deployment without buckets: S3 destinations refused (session-51 addendum)
            policy("EmailAddress").replace(
                '"FindingsDestination": {}', '"FindingsDestination": {"S3": {"Bucket": "bkt"}}'
            ),
            "InvalidParameterException",
        ),
        (
            policy("EmpId", custom=[{"Name": "EmpId", "Regex": "(unclosed"}]),
            "InvalidParameterException",
        ),
        (
            policy("EmpId", custom=[{"Name": "EmpId", "Regex": "a" * 201}]),
            "InvalidParameterException",
        ),
        (
            policy("EmpId", custom=[{"Name": "EmailAddress", "Regex": "x"}]),
            "InvalidParameterException",
        ),
        ("x" * 30_721, "InvalidParameterException"),
    ],
)
async def test_documents_aws_refuses_are_refused(logs: Harness, document: str, error: str) -> None:
    reply = await logs.call(
        "PutDataProtectionPolicy", {"logGroupIdentifier": "app", "policyDocument": document}
    )
    assert reply.error_fields()["__type"] == error, reply.body
    assert reply.status == 400


async def test_audit_and_deidentify_must_list_the_same_identifiers(logs: Harness) -> None:
    document = json.loads(policy("EmailAddress", "CreditCardNumber"))
    document["Statement"][1]["DataIdentifier"] = [ARN + "EmailAddress"]
    reply = await logs.call(
        "PutDataProtectionPolicy",
        {"logGroupIdentifier": "app", "policyDocument": json.dumps(document)},
    )
    assert "must match" in reply.error_fields()["message"]


async def test_terms_are_masked_at_every_reading_and_unmasked_on_request(logs: Harness) -> None:
    await put(logs, f"before the policy {EMAIL}")
    document = policy(
        "EmailAddress",
        "CreditCardNumber",
        "EmpId",
        custom=[{"Name": "EmpId", "Regex": "EmployeeID-\\d{9}"}],
    )
    await logs.ok(
        "PutDataProtectionPolicy", {"logGroupIdentifier": "app", "policyDocument": document}
    )
    await put(logs, f"user {EMAIL} paid with {CARD}", "EmployeeID-123456789 logged in", "nothing")
    masked = [
        f"before the policy {EMAIL}",  # ingested before: never masked, as on AWS
        f"user {'*' * len(EMAIL)} paid with {'*' * len(CARD)}",
        f"{'*' * 20} logged in",
        "nothing",
    ]
    assert await messages(logs) == masked
    assert await messages(logs, unmask=True) == [
        f"before the policy {EMAIL}",
        f"user {EMAIL} paid with {CARD}",
        "EmployeeID-123456789 logged in",
        "nothing",
    ]
    # FilterLogEvents shows and matches what is shown: the address is not there to find.
    found = await logs.ok("FilterLogEvents", {"logGroupName": "app", "filterPattern": '"jane"'})
    assert [e["message"] for e in found["events"]] == [f"before the policy {EMAIL}"]
    found = await logs.ok(
        "FilterLogEvents", {"logGroupName": "app", "filterPattern": '"jane"', "unmask": True}
    )
    assert len(found["events"]) == 2
    # A Logs Insights query reads them masked too.
    assert logs.insights is not None
    started = await logs.ok(
        "StartQuery",
        {
            "logGroupName": "app",
            "startTime": NOW // 1000 - 60,
            "endTime": NOW // 1000 + 60,
            "queryString": "fields @message | sort @timestamp asc",
        },
    )
    result: dict[str, Any] = {}
    for _ in range(100):
        result = await logs.ok("GetQueryResults", {"queryId": started["queryId"]})
        if result["status"] == "Complete":
            break
        import asyncio

        await asyncio.sleep(0.02)
    shown = [dict((f["field"], f["value"]) for f in row)["@message"] for row in result["results"]]
    assert shown == masked


async def test_unmask_needs_its_own_permission(logs: Harness) -> None:
    await logs.ok(
        "PutDataProtectionPolicy",
        {"logGroupIdentifier": "app", "policyDocument": policy("EmailAddress")},
    )
    await put(logs, f"to {EMAIL}")
    user = await logs.iam_user("reader")
    reader = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["logs:GetLogEvents", "logs:FilterLogEvents"],
                "Resource": "*",
            }
        ],
    }
    await logs.identity.put_user_policy(logs.tenant_id, "reader", "read", json.dumps(reader))
    read = await user.ok("GetLogEvents", {"logGroupName": "app", "logStreamName": "s"})
    assert [e["message"] for e in read["events"]] == [f"to {'*' * len(EMAIL)}"]
    for operation, params in [
        ("GetLogEvents", {"logGroupName": "app", "logStreamName": "s", "unmask": True}),
        ("FilterLogEvents", {"logGroupName": "app", "unmask": True}),
    ]:
        refused = await user.call(operation, params)
        fields = refused.error_fields()
        assert fields["__type"] == "AccessDeniedException" and "logs:Unmask" in fields["message"]
    unmasker = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "logs:Unmask", "Resource": "*"}],
    }
    await logs.identity.put_user_policy(logs.tenant_id, "reader", "unmask", json.dumps(unmasker))
    read = await user.ok(
        "GetLogEvents", {"logGroupName": "app", "logStreamName": "s", "unmask": True}
    )
    assert [e["message"] for e in read["events"]] == [f"to {EMAIL}"]


async def test_findings_reports_and_the_findings_metric(logs: Harness) -> None:
    await logs.ok(
        "PutDataProtectionPolicy",
        {
            "logGroupIdentifier": "app",
            "policyDocument": policy("EmailAddress", "CreditCardNumber", findings="findings"),
        },
    )
    logs.world.service.drain_metrics()
    await put(logs, f"{EMAIL} and {EMAIL}", "clean", f"card {CARD}")
    streams = await logs.ok("DescribeLogStreams", {"logGroupName": "findings"})
    assert [s["logStreamName"] for s in streams["logStreams"]] == ["app"]
    read = await logs.ok(
        "GetLogEvents",
        {"logGroupName": "findings", "logStreamName": "app", "startFromHead": True},
    )
    reports = [json.loads(e["message"]) for e in read["events"]]
    arn = f"arn:aws:logs:eu-fr-1:{logs.tenant_id}:log-group:app:*"
    assert reports[0] == {
        "auditTimestamp": "2027-01-15T08:00:00Z",
        "resourceArn": arn,
        "dataIdentifiers": [
            {
                "name": "EmailAddress",
                "count": 2,
                "detections": [
                    {"start": 0, "end": len(EMAIL)},
                    {"start": len(EMAIL) + 5, "end": 2 * len(EMAIL) + 5},
                ],
            }
        ],
    }
    assert [r["dataIdentifiers"][0]["name"] for r in reports] == [
        "EmailAddress",
        "CreditCardNumber",
    ]
    assert EMAIL not in json.dumps(reports) and "4111" not in json.dumps(reports)
    counted = [s for s in logs.world.service.drain_metrics() if s.name == "LogEventsWithFindings"]
    assert [(s.namespace, s.dimensions, s.values) for s in counted] == [
        ("AWS/Logs", (("LogGroupName", "app"),), ((1.0, 2.0),))
    ]


async def test_metric_filters_see_the_masked_text(logs: Harness) -> None:
    await logs.ok(
        "PutDataProtectionPolicy",
        {"logGroupIdentifier": "app", "policyDocument": policy("EmailAddress")},
    )
    await logs.ok(
        "PutMetricFilter",
        {
            "logGroupName": "app",
            "filterName": "jane",
            "filterPattern": '"jane"',
            "metricTransformations": [
                {"metricName": "Jane", "metricNamespace": "App", "metricValue": "1"}
            ],
        },
    )
    logs.world.service.drain_metrics()
    await put(logs, f"mail {EMAIL}")
    assert [s.name for s in logs.world.service.drain_metrics() if s.namespace == "App"] == []


async def test_the_accounts_policy_applies_to_every_group(logs: Harness) -> None:
    document = policy("EmailAddress")
    params = {"policyName": "acct", "policyDocument": document, "dryRun": True}
    await logs.ok("PutAccountPolicy", {**params, "policyType": "DATA_PROTECTION_POLICY"})
    kept = await logs.ok("DescribeAccountPolicies", {"policyType": "DATA_PROTECTION_POLICY"})
    assert kept == {"accountPolicies": []}  # a dry run checks and keeps nothing
    answer = await logs.ok(
        "PutAccountPolicy",
        {"policyName": "acct", "policyDocument": document, "policyType": "DATA_PROTECTION_POLICY"},
    )
    assert answer == {
        "accountPolicy": {
            "policyName": "acct",
            "policyDocument": document,
            "lastUpdatedTime": NOW,
            "policyType": "DATA_PROTECTION_POLICY",
            "scope": "ALL",
            "accountId": logs.tenant_id,
        }
    }
    described = await logs.ok("DescribeAccountPolicies", {"policyType": "DATA_PROTECTION_POLICY"})
    assert described == {"accountPolicies": [answer["accountPolicy"]]}
    # Cumulative with the group's own: both identifiers masked.
    await logs.ok(
        "PutDataProtectionPolicy",
        {"logGroupIdentifier": "app", "policyDocument": policy("CreditCardNumber")},
    )
    await put(logs, f"{EMAIL} {CARD}")
    assert await messages(logs) == [f"{'*' * len(EMAIL)} {'*' * len(CARD)}"]
    second = await logs.call(
        "PutAccountPolicy",
        {"policyName": "other", "policyDocument": document, "policyType": "DATA_PROTECTION_POLICY"},
    )
    assert second.error_fields()["__type"] == "LimitExceededException"
    for kind, error in [
        ("SUBSCRIPTION_FILTER_POLICY", "InvalidParameterException"),
        ("NOPE", "InvalidParameterException"),
    ]:
        reply = await logs.call(
            "PutAccountPolicy", {"policyName": "p", "policyDocument": "{}", "policyType": kind}
        )
        assert reply.error_fields()["__type"] == error
    await logs.ok(
        "DeleteAccountPolicy", {"policyName": "acct", "policyType": "DATA_PROTECTION_POLICY"}
    )
    gone = await logs.call(
        "DeleteAccountPolicy", {"policyName": "acct", "policyType": "DATA_PROTECTION_POLICY"}
    )
    assert gone.error_fields()["__type"] == "ResourceNotFoundException"
    await put(logs, f"{EMAIL} {CARD}")
    assert (await messages(logs))[-1] == f"{EMAIL} {'*' * len(CARD)}"


async def test_another_account_neither_sees_nor_sets_the_policy(logs: Harness) -> None:
    await logs.ok(
        "PutDataProtectionPolicy",
        {"logGroupIdentifier": "app", "policyDocument": policy("EmailAddress")},
    )
    await logs.ok(
        "PutAccountPolicy",
        {
            "policyName": "a",
            "policyDocument": policy("EmailAddress"),
            "policyType": "DATA_PROTECTION_POLICY",
        },
    )
    other = await logs.other_tenant("other")
    arn = f"arn:aws:logs:eu-fr-1:{logs.tenant_id}:log-group:app"
    for operation in ("GetDataProtectionPolicy", "DeleteDataProtectionPolicy"):
        reply = await other.call(operation, {"logGroupIdentifier": arn})
        assert reply.error_fields()["__type"] == "ResourceNotFoundException"
    described = await other.ok("DescribeAccountPolicies", {"policyType": "DATA_PROTECTION_POLICY"})
    assert described == {"accountPolicies": []}
    # Its own group is not masked by this account's policy.
    await other.ok("CreateLogGroup", {"logGroupName": "app"})
    await other.ok("CreateLogStream", {"logGroupName": "app", "logStreamName": "s"})
    await other.ok(
        "PutLogEvents",
        {
            "logGroupName": "app",
            "logStreamName": "s",
            "logEvents": [{"timestamp": NOW, "message": EMAIL}],
        },
    )
    read = await other.ok("GetLogEvents", {"logGroupName": "app", "logStreamName": "s"})
    assert [e["message"] for e in read["events"]] == [EMAIL]
