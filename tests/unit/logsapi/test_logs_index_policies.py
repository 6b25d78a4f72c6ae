"""Decision 0232's field index policies through Logs' JSON protocol in process: a group's own
(PutIndexPolicy, DescribeIndexPolicies, DeleteIndexPolicy) and the account's
(PutAccountPolicy of ``FIELD_INDEX_POLICY``), in AWS's shapes, with AWS's precedence (the
group's own first, then the account policy whose prefix matches, then the one without
criteria) and refusals (documents, overlapping prefixes, one policy without criteria,
Infrequent Access groups); another account untouched; Logs Insights' results unchanged."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from andromede.logs.field_indexes import check_prefix_selection, overlapping
from andromede.logs.service import LogsLimits
from support.logsapp import NOW, Harness, LogsWorld, harness_over, logs_world

KIND = "FIELD_INDEX_POLICY"
FIELDS = json.dumps({"Fields": ["requestId"], "FieldsV2": {"status": {"type": "FACET"}}})


@pytest.fixture
def world(tmp_path: Path) -> Iterator[LogsWorld]:
    yield from logs_world(tmp_path / "w", LogsLimits())


@pytest.fixture
async def logs(world: LogsWorld, tmp_path: Path) -> AsyncIterator[Harness]:
    harness = await harness_over(world, tmp_path)
    world.clock.now = NOW
    for group in ("/app/web", "/app/api", "/jobs/nightly", "/other"):
        await harness.ok("CreateLogGroup", {"logGroupName": group})
    try:
        yield harness
    finally:
        assert harness.insights is not None
        await harness.insights.close()
        await harness.audit.close()
        await harness.billing.close()


def arn(logs: Harness, group: str) -> str:
    return f"arn:aws:logs:eu-fr-1:{logs.tenant_id}:log-group:{group}"


async def described(logs: Harness, group: str) -> list[dict[str, Any]]:
    answer = await logs.ok("DescribeIndexPolicies", {"logGroupIdentifiers": [group]})
    return list(answer["indexPolicies"])


async def fails(logs: Harness, operation: str, params: dict[str, Any], code: str) -> str:
    reply = await logs.call(operation, params)
    error = reply.error_fields()
    assert error["__type"] == code, error
    return str(error["message"])


async def test_a_groups_own_policy_put_described_and_deleted(logs: Harness) -> None:
    answer = await logs.ok(
        "PutIndexPolicy", {"logGroupIdentifier": "/app/web", "policyDocument": FIELDS}
    )
    own = {
        "logGroupIdentifier": arn(logs, "/app/web"),
        "lastUpdateTime": NOW,
        "policyDocument": FIELDS,
        "source": "LOG_GROUP",
    }
    assert answer == {"indexPolicy": own}
    assert await described(logs, arn(logs, "/app/web")) == [own]  # by ARN as by name
    assert await described(logs, "/app/api") == []
    await logs.ok("DeleteIndexPolicy", {"logGroupIdentifier": "/app/web"})
    assert await described(logs, "/app/web") == []
    await fails(
        logs, "DeleteIndexPolicy", {"logGroupIdentifier": "/app/web"}, "ResourceNotFoundException"
    )
    await fails(
        logs, "DescribeIndexPolicies", {"logGroupIdentifiers": ["/nope"]},
        "ResourceNotFoundException",
    )  # fmt: skip
    await fails(
        logs, "DescribeIndexPolicies", {"logGroupIdentifiers": ["/app/web", "/app/api"]},
        "InvalidParameterException",
    )  # fmt: skip
    # The group's deletion takes its policy: made again, it has none.
    await logs.ok("PutIndexPolicy", {"logGroupIdentifier": "/other", "policyDocument": FIELDS})
    await logs.ok("DeleteLogGroup", {"logGroupName": "/other"})
    await logs.ok("CreateLogGroup", {"logGroupName": "/other"})
    assert await described(logs, "/other") == []


@pytest.mark.parametrize(
    ("document", "words"),
    [
        ("not json", "not JSON"),
        ('["a"]', "JSON object"),
        ("{}", "at least one field"),
        ('{"Fields": []}', "at least one field"),
        ('{"Fields": ["a"], "Other": 1}', "unknown field 'Other'"),
        ('{"Fields": "a"}', "Fields is a list"),
        ('{"Fields": [""]}', "1 to 100 characters"),
        (json.dumps({"Fields": ["x" * 101]}), "1 to 100 characters"),
        (json.dumps({"Fields": [f"f{i}" for i in range(21)]}), "at most 20 fields"),
        ('{"Fields": ["a"], "FieldsV2": {"a": {"type": "FACET"}}}', "both Fields and FieldsV2"),
        ('{"FieldsV2": {"a": {"type": "BTREE"}}}', "FIELD_INDEX"),
    ],
)
async def test_documents_refused_as_aws(logs: Harness, document: str, words: str) -> None:
    message = await fails(
        logs,
        "PutIndexPolicy",
        {"logGroupIdentifier": "/app/web", "policyDocument": document},
        "InvalidParameterException",
    )
    assert words in message
    assert await described(logs, "/app/web") == []


async def test_infrequent_access_groups_have_none(logs: Harness) -> None:
    await logs.ok("CreateLogGroup", {"logGroupName": "/ia", "logGroupClass": "INFREQUENT_ACCESS"})
    message = await fails(
        logs,
        "PutIndexPolicy",
        {"logGroupIdentifier": "/ia", "policyDocument": FIELDS},
        "InvalidParameterException",
    )
    assert "INFREQUENT_ACCESS" in message


def account_policy(name: str, criteria: str | None = None, fields: str = FIELDS) -> dict[str, Any]:
    params = {"policyName": name, "policyType": KIND, "policyDocument": fields}
    return params if criteria is None else params | {"selectionCriteria": criteria}


async def test_the_account_policies_and_their_precedence(logs: Harness) -> None:
    everywhere = json.dumps({"Fields": ["traceId"]})
    apps = json.dumps({"Fields": ["userId"]})
    made = await logs.ok("PutAccountPolicy", account_policy("all", fields=everywhere))
    assert made["accountPolicy"] == {
        "policyName": "all",
        "policyDocument": everywhere,
        "lastUpdatedTime": NOW,
        "policyType": KIND,
        "scope": "ALL",
        "accountId": logs.tenant_id,
    }
    criteria = 'LogGroupNamePrefix IN ["/app/"]'
    scoped = await logs.ok("PutAccountPolicy", account_policy("apps", criteria, apps))
    assert scoped["accountPolicy"]["selectionCriteria"] == criteria
    await logs.ok("PutIndexPolicy", {"logGroupIdentifier": "/app/api", "policyDocument": FIELDS})
    # The group's own first, then the matching prefix, then the policy without criteria.
    assert [(p["source"], p["policyDocument"]) for p in await described(logs, "/app/api")] == [
        ("LOG_GROUP", FIELDS)
    ]
    [by_prefix] = await described(logs, "/app/web")
    assert by_prefix == {
        "logGroupIdentifier": arn(logs, "/app/web"),
        "lastUpdateTime": NOW,
        "policyDocument": apps,
        "policyName": "apps",
        "source": "ACCOUNT",
    }
    [(name, source)] = [(p["policyName"], p["source"]) for p in await described(logs, "/other")]
    assert (name, source) == ("all", "ACCOUNT")
    listed = await logs.ok("DescribeAccountPolicies", {"policyType": KIND})
    assert [p["policyName"] for p in listed["accountPolicies"]] == ["all", "apps"]
    # AWS's rules: one policy without criteria, prefixes that overlap no other policy's.
    message = await fails(
        logs, "PutAccountPolicy", account_policy("second"), "LimitExceededException"
    )
    assert "only one account-level field index policy" in message
    for overlapping_criteria in ('["/app/web"]', '["/"]', '["/app/"]'):
        message = await fails(
            logs,
            "PutAccountPolicy",
            account_policy("more", f"LogGroupNamePrefix IN {overlapping_criteria}"),
            "InvalidParameterException",
        )
        assert "overlaps" in message and "apps" in message
    await logs.ok("PutAccountPolicy", account_policy("jobs", 'LogGroupNamePrefix IN ["/jobs"]'))
    # Replacing a policy by its name is not overlapping itself.
    await logs.ok("PutAccountPolicy", account_policy("apps", 'LogGroupNamePrefix IN ["/app/w"]'))
    assert (await described(logs, "/app/web"))[0]["policyName"] == "apps"
    assert (await described(logs, "/jobs/nightly"))[0]["policyName"] == "jobs"
    await logs.ok("DeleteAccountPolicy", {"policyName": "all", "policyType": KIND})
    assert await described(logs, "/other") == []
    await fails(
        logs, "DeleteAccountPolicy", {"policyName": "all", "policyType": KIND},
        "ResourceNotFoundException",
    )  # fmt: skip
    # DeleteIndexPolicy is the group's own only, as AWS's.
    await fails(
        logs, "DeleteIndexPolicy", {"logGroupIdentifier": "/app/web"}, "ResourceNotFoundException"
    )
    other = await logs.other_tenant("other")
    assert (await other.ok("DescribeAccountPolicies", {"policyType": KIND}))[
        "accountPolicies"
    ] == []
    await other.ok("CreateLogGroup", {"logGroupName": "/app/web"})
    assert await described(other, "/app/web") == []
    await logs.world.service.forget_tenant(logs.tenant_id)
    assert (await logs.ok("DescribeAccountPolicies", {"policyType": KIND}))["accountPolicies"] == []


@pytest.mark.parametrize(
    ("criteria", "words"),
    [
        ('LogGroupName NOT IN ["/a"]', "LogGroupNamePrefix IN"),
        ("LogGroupNamePrefix IN []", "LogGroupNamePrefix IN"),
        ('DataSourceName = "amazon_vpc" AND DataSourceType = "flow"', "data sources"),
        ("LogGroupNamePrefix IN " + json.dumps([f"/p{i}/" for i in range(21)]), "at most 20"),
    ],
)
async def test_account_criteria_refused(logs: Harness, criteria: str, words: str) -> None:
    message = await fails(
        logs, "PutAccountPolicy", account_policy("p", criteria), "InvalidParameterException"
    )
    assert words in message


async def test_the_permissions_aws_asks_for(logs: Harness) -> None:
    user = await logs.iam_user("dev")
    statement = {"Effect": "Allow", "Action": ["logs:PutAccountPolicy"], "Resource": "*"}
    document = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    await logs.identity.put_user_policy(logs.tenant_id, "dev", "p", document)
    message = await fails(user, "PutAccountPolicy", account_policy("p"), "AccessDeniedException")
    assert "logs:PutIndexPolicy" in message


async def test_logs_insights_reads_the_same_with_or_without_a_policy(logs: Harness) -> None:
    await logs.ok("CreateLogStream", {"logGroupName": "/app/web", "logStreamName": "s"})
    events = [
        {"timestamp": NOW + i, "message": json.dumps({"requestId": f"r{i % 3}"})} for i in range(9)
    ]
    await logs.ok(
        "PutLogEvents", {"logGroupName": "/app/web", "logStreamName": "s", "logEvents": events}
    )

    async def rows() -> Any:
        started = await logs.ok(
            "StartQuery",
            {
                "logGroupName": "/app/web",
                "startTime": NOW // 1000 - 60,
                "endTime": NOW // 1000 + 60,
                "queryString": 'filter requestId = "r1" | stats count(*) as n',
            },
        )
        for _ in range(300):
            answer = await logs.ok("GetQueryResults", {"queryId": started["queryId"]})
            if answer["status"] not in ("Scheduled", "Running"):
                return answer["status"], answer["results"], answer["statistics"]["recordsScanned"]
            await asyncio.sleep(0.01)
        raise AssertionError("the query did not end")

    before = await rows()
    assert before[:2] == ("Complete", [[{"field": "n", "value": "3"}]])
    await logs.ok("PutIndexPolicy", {"logGroupIdentifier": "/app/web", "policyDocument": FIELDS})
    assert await rows() == before  # the same events scanned: nothing is indexed here


def test_prefixes_overlap_when_one_starts_the_other() -> None:
    assert overlapping(["/app/"], ["/app/web"]) == "/app/web"
    assert overlapping(["/app/web"], ["/app/"]) == "/app/"
    assert overlapping(["/app/"], ["/apps", "/jobs"]) is None
    assert check_prefix_selection(' LogGroupNamePrefix  IN\n["/a", "/a"] ') == ("/a",)
    assert check_prefix_selection(None) is None
