"""Logs Insights' operations in process (decision 0186, session-48 and -49 addenda): botocore's
StartQuery, GetQueryResults, StopQuery and DescribeQueries answered in AWS's shapes; a
malformed query's ``queryCompileError``; StartQuery authorised on each group's ARN; Start
and Stop audited, the polls not; the bytes a query read metered in ``logs.scanned``; saved
query definitions put, replaced, listed by prefix and page, deleted."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from andromede.billing.model import parse_month
from support.logsapp import NOW, Harness, LogsWorld, harness_over, logs_world


@pytest.fixture
def world(tmp_path: Path) -> Iterator[LogsWorld]:
    yield from logs_world(tmp_path / "w")


@pytest.fixture
async def logs(world: LogsWorld, tmp_path: Path) -> AsyncIterator[Harness]:
    harness = await harness_over(world, tmp_path)
    try:
        yield harness
    finally:
        assert harness.insights is not None
        await harness.insights.close()
        await harness.audit.close()
        await harness.billing.close()


async def results(logs: Harness, query_id: str) -> dict[str, Any]:
    for _ in range(300):
        answer = await logs.ok("GetQueryResults", {"queryId": query_id})
        if answer["status"] not in ("Scheduled", "Running"):
            return answer
        await asyncio.sleep(0.01)
    raise AssertionError("the query did not end")


async def test_queries_in_aws_shapes_audited_and_metered(logs: Harness) -> None:
    group = f"arn:aws:logs:eu-fr-1:{logs.tenant_id}:log-group:/app"
    await logs.ok("CreateLogGroup", {"logGroupName": "/app"})
    await logs.ok("CreateLogStream", {"logGroupName": "/app", "logStreamName": "s"})
    events = [{"timestamp": NOW - 10 + n, "message": json.dumps({"n": n})} for n in range(4)]
    await logs.ok(
        "PutLogEvents", {"logGroupName": "/app", "logStreamName": "s", "logEvents": events}
    )
    started = await logs.ok(
        "StartQuery",
        {
            "logGroupIdentifiers": [group],
            "startTime": NOW // 1000 - 60,
            "endTime": NOW // 1000,
            "queryString": "fields n | filter n > 1 | sort n desc",
            "limit": 10,
        },
    )
    answer = await results(logs, started["queryId"])
    assert answer["status"] == "Complete" and answer["queryLanguage"] == "CWLI"
    assert [[f["field"] for f in row] for row in answer["results"]] == [["n", "@ptr"]] * 2
    assert [row[0]["value"] for row in answer["results"]] == ["3", "2"]
    assert answer["statistics"]["recordsScanned"] == 4.0
    assert answer["statistics"]["bytesScanned"] == sum(len(e["message"]) + 26 for e in events)
    listed = await logs.ok("DescribeQueries", {"logGroupName": "/app", "maxResults": 5})
    [query] = listed["queries"]
    assert query == {
        "queryLanguage": "CWLI",
        "queryId": started["queryId"],
        "queryString": "fields n | filter n > 1 | sort n desc",
        "status": "Complete",
        "createTime": NOW,
        "logGroupName": "/app",
    }
    assert await logs.ok("StopQuery", {"queryId": started["queryId"]}) == {"success": False}
    await logs.audit.flush()
    events_seen = [e for _, e in await logs.audit_store.list_events(None, after_id=0, limit=100)]
    actions = [(e.action, e.resource) for e in events_seen]
    assert ("logs:StartQuery", group) in actions
    assert ("logs:StopQuery", "*") in actions
    assert not [a for a in actions if a[0] == "logs:GetQueryResults"]
    await logs.billing.flush()
    month = parse_month(datetime.now(UTC).strftime("%Y-%m"))
    report = await logs.billing.usage_report(logs.tenant_id, month)
    usage = {line.meter: line.quantity for line in report.lines}
    assert usage["logs.scanned"] == answer["statistics"]["bytesScanned"]


async def test_a_malformed_query_and_bad_parameters(logs: Harness) -> None:
    await logs.ok("CreateLogGroup", {"logGroupName": "/app"})
    reply = await logs.call(
        "StartQuery",
        {"logGroupName": "/app", "startTime": 0, "endTime": 1, "queryString": "fields a | nope"},
    )
    # AWS's model gives this error a member beside the message: queryCompileError.
    fields = reply.json()
    assert set(fields) == {"__type", "message", "queryCompileError"}
    assert fields["__type"] == "MalformedQueryException" and reply.status == 400
    assert fields["message"] == "unexpected symbol found nope at line 1 and position 12"
    assert fields["queryCompileError"]["location"] == {"startCharOffset": 11, "endCharOffset": 14}
    # Session 49's refusals (an arity, a second stats reading what the first did not make)
    # travel the same way, with their location, as do the commands refused by name.
    for query, start in (
        ("fields substr(a)", 7),
        ("stats count(*) as c | stats sum(n)", 0),
        ("fields a | unmask(a)", 18),
        ('SOURCE logGroups(namePrefix: ["/app"]) | fields a', 0),
    ):
        reply = await logs.call(
            "StartQuery",
            {"logGroupName": "/app", "startTime": 0, "endTime": 1, "queryString": query},
        )
        fields = reply.json()
        assert (fields["__type"], reply.status) == ("MalformedQueryException", 400), query
        assert fields["queryCompileError"]["location"]["startCharOffset"] == start
    for params in (
        {"startTime": 0, "endTime": 1, "queryString": "fields a"},  # no group
        {"logGroupName": "/app", "logGroupNames": ["/app"], "startTime": 0, "endTime": 1,
         "queryString": "fields a"},
        {"logGroupName": "/app", "endTime": 1, "queryString": "fields a"},
        {"logGroupName": "/app", "startTime": 0, "endTime": 1, "queryString": "fields a",
         "queryLanguage": "SQL"},
    ):  # fmt: skip
        reply = await logs.call("StartQuery", params)
        assert reply.error_fields()["__type"] == "InvalidParameterException", params
    reply = await logs.call("StopQuery", {"queryId": "missing"})
    assert reply.error_fields()["__type"] == "ResourceNotFoundException"


async def test_start_query_is_authorised_on_each_group(logs: Harness) -> None:
    for name in ("/open", "/closed"):
        await logs.ok("CreateLogGroup", {"logGroupName": name})
    arn = f"arn:aws:logs:eu-fr-1:{logs.tenant_id}:log-group:/open"
    user = await logs.iam_user("dev")
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "logs:StartQuery", "Resource": arn},
            {"Effect": "Allow", "Action": "logs:GetQueryResults", "Resource": "*"},
        ],
    }
    await logs.identity.put_user_policy(logs.tenant_id, "dev", "q", json.dumps(document))
    params = {"startTime": 0, "endTime": 1, "queryString": "fields @message"}
    reply = await user.call("StartQuery", {"logGroupNames": ["/open", "/closed"], **params})
    fields = reply.error_fields()
    assert fields["__type"] == "AccessDeniedException" and "/closed" in fields["message"]
    reply = await user.call("StartQuery", {"logGroupNames": ["/open"], **params})
    assert reply.status == 200
    assert (await results(user, reply.json()["queryId"]))["status"] == "Complete"


async def test_query_definitions(logs: Harness) -> None:
    made = await logs.ok(
        "PutQueryDefinition",
        {"name": "ops/errors", "queryString": "filter level = 'ERROR'", "logGroupNames": ["/a"]},
    )
    definition_id = made["queryDefinitionId"]
    await logs.ok("PutQueryDefinition", {"name": "ops/latency", "queryString": "stats avg(t)"})
    await logs.ok(
        "PutQueryDefinition",
        {"name": "ops/errors", "queryString": "fields a", "queryDefinitionId": definition_id},
    )
    page = await logs.ok(
        "DescribeQueryDefinitions", {"queryDefinitionNamePrefix": "ops/", "maxResults": 1}
    )
    assert page["queryDefinitions"] == [
        {
            "queryLanguage": "CWLI",
            "queryDefinitionId": definition_id,
            "name": "ops/errors",
            "queryString": "fields a",
            "lastModified": NOW,
            "logGroupNames": [],
        }
    ]
    rest = await logs.ok("DescribeQueryDefinitions", {"nextToken": page["nextToken"]})
    assert [d["name"] for d in rest["queryDefinitions"]] == ["ops/latency"]
    assert "nextToken" not in rest
    assert await logs.ok("DeleteQueryDefinition", {"queryDefinitionId": definition_id}) == {
        "success": True
    }
    missing = "ResourceNotFoundException"
    invalid = "InvalidParameterException"
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("DeleteQueryDefinition", {"queryDefinitionId": definition_id}, missing),
        (
            "PutQueryDefinition",
            {"name": "x", "queryString": "fields a", "queryDefinitionId": "gone"},
            missing,
        ),
        ("PutQueryDefinition", {"name": "", "queryString": "fields a"}, invalid),
        ("DescribeQueryDefinitions", {"nextToken": "bad"}, invalid),
    ]
    for operation, params, error in cases:
        reply = await logs.call(operation, params)
        assert reply.error_fields()["__type"] == error, (operation, params)
    reply = await logs.call("PutQueryDefinition", {"name": "x", "queryString": "nope"})
    assert reply.json()["__type"] == "MalformedQueryException"
