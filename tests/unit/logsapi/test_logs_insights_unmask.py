"""Logs Insights' ``unmask(@message)`` (decision 0211, session-51 addendum) through Logs' JSON
protocol in process: as a command and as a function it shows the message as ingested to a
caller allowed ``logs:Unmask`` on every queried group — refused before any event is read
otherwise —, while every other field (a JSON message's discovered fields above all) and every
other function still reads the masked text."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from andromede.logs.service import LogsLimits
from support.logsapp import NOW, Harness, LogsWorld, harness_over, logs_world

EMAIL = "jane.doe@example.fr"
HIDDEN = "*" * len(EMAIL)
ARN = "arn:aws:dataprotection::aws:data-identifier/EmailAddress"
POLICY = json.dumps(
    {
        "Name": "protect",
        "Version": "2021-06-01",
        "Statement": [
            {
                "DataIdentifier": [ARN],
                "Operation": {"Audit": {"FindingsDestination": {}}},
            },
            {"DataIdentifier": [ARN], "Operation": {"Deidentify": {"MaskConfig": {}}}},
        ],
    }
)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[LogsWorld]:
    yield from logs_world(tmp_path / "w", LogsLimits())


@pytest.fixture
async def logs(world: LogsWorld, tmp_path: Path) -> AsyncIterator[Harness]:
    harness = await harness_over(world, tmp_path)
    world.clock.now = NOW
    for group in ("app", "other"):
        await harness.ok("CreateLogGroup", {"logGroupName": group})
        await harness.ok("CreateLogStream", {"logGroupName": group, "logStreamName": "s"})
        await harness.ok(
            "PutDataProtectionPolicy", {"logGroupIdentifier": group, "policyDocument": POLICY}
        )
    events = [
        {"timestamp": NOW, "message": json.dumps({"user": EMAIL, "n": 1})},
        {"timestamp": NOW + 1, "message": "no term here"},
    ]
    await harness.ok(
        "PutLogEvents", {"logGroupName": "app", "logStreamName": "s", "logEvents": events}
    )
    try:
        yield harness
    finally:
        assert harness.insights is not None
        await harness.insights.close()
        await harness.audit.close()
        await harness.billing.close()


def _params(query: str, *groups: str) -> dict[str, Any]:
    return {
        "logGroupNames": list(groups or ("app",)),
        "startTime": NOW // 1000 - 60,
        "endTime": NOW // 1000 + 60,
        "queryString": query,
    }


async def rows(caller: Harness, query: str, *groups: str) -> list[dict[str, str]]:
    started = await caller.ok("StartQuery", _params(query, *groups))
    for _ in range(300):
        answer = await caller.ok("GetQueryResults", {"queryId": started["queryId"]})
        if answer["status"] == "Complete":
            return [{f["field"]: f["value"] for f in row} for row in answer["results"]]
        assert answer["status"] in ("Scheduled", "Running"), answer
        await asyncio.sleep(0.01)
    raise AssertionError("the query did not end")


async def test_the_unmask_command_shows_the_message_but_no_discovered_field(
    logs: Harness,
) -> None:
    masked = json.dumps({"user": HIDDEN, "n": 1})
    plain = json.dumps({"user": EMAIL, "n": 1})
    query = "fields @message, user | sort @timestamp asc"
    assert [(r["@message"], r.get("user")) for r in await rows(logs, query)] == [
        (masked, HIDDEN),
        ("no term here", None),
    ]
    query = "fields @message, user | unmask(@message) | sort @timestamp asc"
    # The message as ingested; the field discovered in it still from the masked text.
    assert [(r["@message"], r.get("user")) for r in await rows(logs, query)] == [
        (plain, HIDDEN),
        ("no term here", None),
    ]
    # Commands before unmask and other functions read the masked text.
    query = "filter @message like /jane/ | unmask(@message)"
    assert await rows(logs, query) == []
    query = "unmask(@message) | filter @message like /jane/ | fields strlen(user) as n"
    assert [r["n"] for r in await rows(logs, query)] == [str(len(EMAIL))]


async def test_the_unmask_function_beside_the_masked_message(logs: Harness) -> None:
    query = (
        "fields unmask(@message) as plain, @message, toupper(@message) as upper "
        "| filter unmask(@message) like /jane/"
    )
    [row] = await rows(logs, query)
    assert row["plain"] == json.dumps({"user": EMAIL, "n": 1})
    assert row["@message"] == json.dumps({"user": HIDDEN, "n": 1})
    assert EMAIL.upper() not in row["upper"]
    # Named by its text when not renamed, as AWS names a computed column; stats over it.
    [row] = await rows(logs, "fields unmask(@message) | filter n = 1")
    assert row["unmask(@message)"] == json.dumps({"user": EMAIL, "n": 1})
    query = "stats count(*) as c by unmask(@message) as m | sort m desc | limit 1"
    [row] = await rows(logs, query)
    assert row == {"c": "1", "m": json.dumps({"user": EMAIL, "n": 1})}


async def test_a_query_without_unmask_holds_no_unmasked_text(logs: Harness) -> None:
    # No column lists every field of a row: the unmasked text is not among them, nor can a
    # quoted name reach where a query that unmasks would hold it.
    for row in await rows(logs, "filter n = 1"):
        assert all(EMAIL not in value for value in row.values()), row
        assert all("\x00" not in name for name in row), row
    [row] = await rows(logs, "filter n = 1 | fields `\x00unmasked` as x, @message")
    assert "x" not in row and EMAIL not in row["@message"]


async def test_unmask_needs_logs_unmask_on_every_group_before_any_scan(logs: Harness) -> None:
    user = await logs.iam_user("analyst")
    querying = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["logs:StartQuery", "logs:GetQueryResults", "logs:DescribeQueries"],
                "Resource": "*",
            }
        ],
    }
    await logs.identity.put_user_policy(logs.tenant_id, "analyst", "q", json.dumps(querying))
    [row] = await rows(user, "fields @message | filter n = 1")
    assert EMAIL not in row["@message"]
    for query in ("fields unmask(@message)", "fields a | unmask(@message)"):
        refused = await user.call("StartQuery", _params(query))
        fields = refused.error_fields()
        assert fields["__type"] == "AccessDeniedException", fields
        assert "logs:Unmask" in fields["message"]
    # Refused before a query was made: only the plain one is listed.
    listed = await user.ok("DescribeQueries", {})
    assert len(listed["queries"]) == 1
    # Allowed on one group only: a query over both is refused, over that one served.
    unmasking = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "logs:Unmask",
                "Resource": f"arn:aws:logs:*:{logs.tenant_id}:log-group:app",
            }
        ],
    }
    await logs.identity.put_user_policy(logs.tenant_id, "analyst", "u", json.dumps(unmasking))
    refused = await user.call("StartQuery", _params("fields unmask(@message)", "app", "other"))
    assert refused.error_fields()["__type"] == "AccessDeniedException"
    [row] = await rows(user, "fields unmask(@message) as m | filter n = 1", "app")
    assert row["m"] == json.dumps({"user": EMAIL, "n": 1})


async def test_get_log_record_unmasks_every_field_for_a_caller_allowed(logs: Harness) -> None:
    [row] = await rows(logs, "filter n = 1")
    pointer = {"logRecordPointer": row["@ptr"]}
    record = (await logs.ok("GetLogRecord", pointer))["logRecord"]
    assert (record["user"], record["@message"]) == (HIDDEN, json.dumps({"user": HIDDEN, "n": 1}))
    record = (await logs.ok("GetLogRecord", {**pointer, "unmask": True}))["logRecord"]
    assert (record["user"], record["@message"]) == (EMAIL, json.dumps({"user": EMAIL, "n": 1}))
    user = await logs.iam_user("reader")
    reading = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "logs:GetLogRecord", "Resource": "*"}],
    }
    await logs.identity.put_user_policy(logs.tenant_id, "reader", "r", json.dumps(reading))
    assert (await user.ok("GetLogRecord", pointer))["logRecord"]["user"] == HIDDEN
    refused = await user.call("GetLogRecord", {**pointer, "unmask": True})
    fields = refused.error_fields()
    assert fields["__type"] == "AccessDeniedException" and "logs:Unmask" in fields["message"]
