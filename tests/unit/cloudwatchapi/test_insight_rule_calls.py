"""Decision 0272's Contributor Insights operations on the wire, each built by botocore's own
serializer of the protocol and read by its parser: a rule put (created, then updated keeping
its tags), described in pages, disabled and enabled, deleted with AWS's ``Failures`` for the
names not found; its report over the log events fed to it; tags on the rule's ARN; the
refusals in CloudWatch's codes whatever the protocol; IAM on the rule's ARN; the changes
audited; other accounts' rules invisible; the managed rules ``NotImplemented``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from andromede.audit.model import Outcome
from andromede.metrics.alarm_reading import read_periods
from support.cloudwatchapp import PROTOCOLS, REGION, Harness
from support.insight_rules import definition

SUM_RULE = definition(
    LogGroupNames=["api-*"],
    Contribution={
        "Keys": ["$.ip", "$.path"],
        "ValueOf": "$.bytes",
        "Filters": [{"Match": "$.status", "GreaterThan": 399}],
    },
    AggregateOn="Sum",
)


def start_of_minute(minutes_ago: int) -> datetime:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    return now - timedelta(minutes=minutes_ago)


def event(at: datetime, ip: str, path: str, size: int, status: int = 500) -> tuple[int, str]:
    body = {"ip": ip, "path": path, "bytes": size, "status": status}
    return int(at.timestamp() * 1000), json.dumps(body)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_rules_life_in_every_protocol(cloudwatch: Harness, protocol: str) -> None:
    cw = cloudwatch.speaking(protocol)
    tags = [{"Key": "team", "Value": "ops"}]
    await cw.ok("PutInsightRule", {"RuleName": "errors", "RuleDefinition": SUM_RULE, "Tags": tags})
    off = {"RuleName": "b-off", "RuleDefinition": definition(), "RuleState": "DISABLED"}
    await cw.ok("PutInsightRule", {**off, "ApplyOnTransformedLogs": True})
    await cw.ok("PutInsightRule", {"RuleName": "a", "RuleDefinition": definition()})
    page = await cw.ok("DescribeInsightRules", {})
    assert [(r["Name"], r["State"]) for r in page["InsightRules"]] == [
        ("a", "ENABLED"),
        ("b-off", "DISABLED"),
    ]
    first = page["InsightRules"][1]
    assert first["Schema"] == "CloudWatchLogRule/1" and first["ManagedRule"] is False
    assert first["ApplyOnTransformedLogs"] is True
    assert first["Definition"] == definition()  # as given, byte for byte
    rest = await cw.ok("DescribeInsightRules", {"NextToken": page["NextToken"]})
    assert [r["Name"] for r in rest["InsightRules"]] == ["errors"] and "NextToken" not in rest
    assert [r["Name"] for r in (await cw.ok("DescribeInsightRules", {"MaxResults": 1}))[
        "InsightRules"]] == ["a"]  # fmt: skip
    arn = f"arn:aws:cloudwatch:{REGION}:{cw.tenant_id}:insight-rule/errors"
    # An update's Tags are ignored, as AWS's; TagResource changes them.
    await cw.ok("PutInsightRule", {"RuleName": "errors", "RuleDefinition": SUM_RULE,
                                   "Tags": [{"Key": "x", "Value": "y"}]})  # fmt: skip
    assert (await cw.ok("ListTagsForResource", {"ResourceARN": arn}))["Tags"] == tags
    await cw.ok("TagResource", {"ResourceARN": arn, "Tags": [{"Key": "env", "Value": "prod"}]})
    # An ARN without its account is the caller's (Terraform's, skip_requesting_account_id).
    unowned = f"arn:aws:cloudwatch:{REGION}::insight-rule/errors"
    await cw.ok("UntagResource", {"ResourceARN": unowned, "TagKeys": ["team"]})
    assert (await cw.ok("ListTagsForResource", {"ResourceARN": arn}))["Tags"] == [
        {"Key": "env", "Value": "prod"}
    ]
    failed = await cw.ok("DisableInsightRules", {"RuleNames": ["a", "nope"]})
    assert failed["Failures"] == [{
        "FailureResource": "nope", "ExceptionType": "ResourceNotFoundException",
        "FailureCode": "ResourceNotFound", "FailureDescription": "Rule nope does not exist.",
    }]  # fmt: skip
    assert (await cw.ok("EnableInsightRules", {"RuleNames": ["b-off"]})).get("Failures", []) == []
    states = {r["Name"]: r["State"] for r in (await cw.ok("DescribeInsightRules", {}))[
        "InsightRules"]}  # fmt: skip
    assert states == {"a": "DISABLED", "b-off": "ENABLED"}
    deleted = await cw.ok("DeleteInsightRules", {"RuleNames": ["a", "b-off", "a", "gone"]})
    assert [f["FailureResource"] for f in deleted["Failures"]] == ["gone"]
    assert [r["Name"] for r in (await cw.ok("DescribeInsightRules", {}))["InsightRules"]] == [
        "errors"
    ]
    audited = [e for e in await cloudwatch.audited() if "InsightRule" in e.action]
    assert {e.action for e in audited} == {
        "cloudwatch:PutInsightRule", "cloudwatch:DisableInsightRules",
        "cloudwatch:EnableInsightRules", "cloudwatch:DeleteInsightRules",
    }  # fmt: skip
    assert arn in {e.resource for e in audited}
    assert all(e.outcome is Outcome.SUCCESS for e in audited)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_the_report_of_the_events_fed(cloudwatch: Harness, protocol: str) -> None:
    cw = cloudwatch.speaking(protocol)
    await cw.ok("PutInsightRule", {"RuleName": "errors", "RuleDefinition": SUM_RULE})
    assert cw.insights is not None
    early, late = start_of_minute(3), start_of_minute(2)
    await cw.insights.observe(cw.tenant_id, "api-eu", [
        event(early, "10.0.0.1", "/a", 100),
        event(early, "10.0.0.2", "/a", 300),
        event(early, "10.0.0.1", "/a", 50, status=200),  # filtered out
        event(late, "10.0.0.1", "/a", 400),
        (int(late.timestamp() * 1000), "not json"),
    ])  # fmt: skip
    await cw.insights.observe(cw.tenant_id, "web", [event(late, "9.9.9.9", "/a", 999)])
    other = await cloudwatch.other_tenant("other")
    await cw.insights.observe(other.tenant_id, "api-eu", [event(late, "8.8.8.8", "/a", 999)])
    found = await cw.ok("GetInsightRuleReport", {
        "RuleName": "errors", "StartTime": early, "EndTime": late + timedelta(minutes=1),
        "Period": 60, "MaxContributorCount": 5, "OrderBy": "Sum",
        "Metrics": ["UniqueContributors", "SampleCount", "Sum", "MaxContributorValue",
                    "Maximum", "Minimum", "Average"],
    })  # fmt: skip
    assert found["KeyLabels"] == ["$.ip", "$.path"]
    assert found["AggregationStatistic"] == "Sum"
    assert found["AggregateValue"] == 800.0
    assert found["ApproximateUniqueCount"] == 2
    contributors = [(c["Keys"], c["ApproximateAggregateValue"]) for c in found["Contributors"]]
    assert contributors == [(["10.0.0.1", "/a"], 500.0), (["10.0.0.2", "/a"], 300.0)]
    points = found["Contributors"][0]["Datapoints"]
    assert [(p["Timestamp"], p["ApproximateValue"]) for p in points] == [
        (early, 100.0),
        (late, 400.0),
    ]
    first, second = found["MetricDatapoints"]
    assert first == {
        "Timestamp": early, "UniqueContributors": 2.0, "SampleCount": 2.0, "Sum": 400.0,
        "MaxContributorValue": 300.0, "Maximum": 300.0, "Minimum": 100.0, "Average": 200.0,
    }  # fmt: skip
    assert second["Timestamp"] == late and second["Sum"] == 400.0
    wide = await cw.ok("GetInsightRuleReport", {
        "RuleName": "errors", "StartTime": early, "EndTime": late + timedelta(minutes=1),
        "Period": 120, "MaxContributorCount": 1, "Metrics": ["Sum"],
    })  # fmt: skip
    assert [c["Keys"] for c in wide["Contributors"]] == [["10.0.0.1", "/a"]]
    assert [p["Sum"] for p in wide["MetricDatapoints"]] == [800.0]
    # The matched events are metered, each once.
    assert await cloudwatch.usage("cloudwatch.insight-rule-events") == 3


async def test_a_disabled_rule_sees_nothing_new(cloudwatch: Harness) -> None:
    await cloudwatch.ok("PutInsightRule", {"RuleName": "r", "RuleDefinition": SUM_RULE,
                                           "RuleState": "DISABLED"})  # fmt: skip
    assert cloudwatch.insights is not None
    at = start_of_minute(1)
    await cloudwatch.insights.observe(cloudwatch.tenant_id, "api-x", [event(at, "1.1.1.1", "/", 5)])
    end = at + timedelta(minutes=1)
    params = {"RuleName": "r", "StartTime": at, "EndTime": end, "Period": 60}
    found = await cloudwatch.ok("GetInsightRuleReport", params)
    assert found["AggregateValue"] == 0.0 and found["Contributors"] == []


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_refusals_in_cloudwatchs_codes(cloudwatch: Harness, protocol: str) -> None:
    cw = cloudwatch.speaking(protocol)
    good = {"RuleName": "r", "RuleDefinition": definition()}
    cases: list[tuple[str, dict[str, Any], int, str]] = [
        ("PutInsightRule", {**good, "RuleDefinition": definition(LogFormat="XML")}, 400,
         "InvalidParameterValue"),
        ("PutInsightRule", {**good, "RuleDefinition": "{"}, 400, "InvalidParameterValue"),
        ("PutInsightRule", {**good, "RuleState": "ON"}, 400, "InvalidParameterValue"),
        ("PutInsightRule", {**good, "Tags": [{"Key": "aws:x", "Value": "v"}]}, 400,
         "InvalidParameterValue"),
        ("DescribeInsightRules", {"NextToken": "%%%"}, 400, "InvalidNextToken"),
        ("DescribeInsightRules", {"MaxResults": 3}, 400, "InvalidParameterValue"),
        ("GetInsightRuleReport", {"RuleName": "nope", "StartTime": start_of_minute(5),
                                  "EndTime": start_of_minute(0), "Period": 60}, 404,
         "ResourceNotFoundException"),
        ("ListTagsForResource",
         {"ResourceARN": f"arn:aws:cloudwatch:{REGION}:{cw.tenant_id}:insight-rule/nope"}, 404,
         "ResourceNotFoundException"),
        ("PutManagedInsightRules", {"ManagedRules": [{"TemplateName": "t",
                                                      "ResourceARN": "arn:aws:x"}]}, 501,
         "NotImplemented"),
        ("ListManagedInsightRules", {"ResourceARN": "arn:aws:x"}, 501, "NotImplemented"),
    ]  # fmt: skip
    for operation, params, status, code in cases:
        reply = await cw.call(operation, params)
        assert (reply.status, reply.code) == (status, code), (operation, params, reply.body)
    await cw.ok("PutInsightRule", good)
    report = {"RuleName": "r", "StartTime": start_of_minute(5), "EndTime": start_of_minute(0)}
    for changes in (
        {"Period": 30},
        {"Period": 90},
        {"Period": 60, "EndTime": start_of_minute(6)},
        {"Period": 60, "StartTime": start_of_minute(61)},  # 61 periods, the harness allows 60
        {"Period": 60, "MaxContributorCount": 101},
        {"Period": 60, "MaxContributorCount": 0},
        {"Period": 60, "Metrics": ["p99"]},
        {"Period": 60, "OrderBy": "Average"},
    ):
        reply = await cw.call("GetInsightRuleReport", {**report, **changes})
        assert (reply.status, reply.code) == (400, "InvalidParameterValue"), changes
    for name in ("r2", "r3"):
        await cw.ok("PutInsightRule", {**good, "RuleName": name})
    reply = await cw.call("PutInsightRule", {**good, "RuleName": "r4"})
    assert (reply.status, reply.code) == (400, "LimitExceededException")
    await cw.ok("PutInsightRule", {**good, "RuleState": "DISABLED"})  # an update passes


async def test_other_accounts_rules_are_invisible(cloudwatch: Harness) -> None:
    await cloudwatch.ok("PutInsightRule", {"RuleName": "mine", "RuleDefinition": definition()})
    other = await cloudwatch.other_tenant("other")
    assert (await other.ok("DescribeInsightRules", {}))["InsightRules"] == []
    failed = await other.ok("DeleteInsightRules", {"RuleNames": ["mine"]})
    assert [f["FailureResource"] for f in failed["Failures"]] == ["mine"]
    arn = f"arn:aws:cloudwatch:{REGION}:{cloudwatch.tenant_id}:insight-rule/mine"
    reply = await other.call("ListTagsForResource", {"ResourceARN": arn})
    assert reply.code in ("AccessDenied", "ResourceNotFoundException")
    assert len((await cloudwatch.ok("DescribeInsightRules", {}))["InsightRules"]) == 1


async def test_iam_on_the_rules_arn(cloudwatch: Harness) -> None:
    user = await cloudwatch.iam_user("analyst")
    arn = f"arn:aws:cloudwatch:{REGION}:{cloudwatch.tenant_id}:insight-rule/allowed"
    await cloudwatch.identity.put_user_policy(cloudwatch.tenant_id, "analyst", "p", json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "cloudwatch:PutInsightRule", "Resource": arn}],
    }))  # fmt: skip
    await user.ok("PutInsightRule", {"RuleName": "allowed", "RuleDefinition": definition()})
    reply = await user.call("PutInsightRule", {"RuleName": "other", "RuleDefinition": definition()})
    assert (reply.status, reply.code) == (403, "AccessDenied")
    reply = await user.call("DeleteInsightRules", {"RuleNames": ["allowed"]})
    assert (reply.status, reply.code) == (403, "AccessDenied")
    refused = [e for e in await cloudwatch.audited() if e.outcome is Outcome.FAILURE]
    assert {e.action for e in refused} >= {"cloudwatch:PutInsightRule",
                                           "cloudwatch:DeleteInsightRules"}  # fmt: skip


async def test_insight_rule_metric_in_metric_math(cloudwatch: Harness) -> None:
    await cloudwatch.ok("PutInsightRule", {"RuleName": "Errors", "RuleDefinition": SUM_RULE})
    assert cloudwatch.insights is not None
    early, late = start_of_minute(3), start_of_minute(2)
    await cloudwatch.insights.observe(cloudwatch.tenant_id, "api-1", [
        event(early, "a", "/", 10), event(early, "b", "/", 5), event(late, "a", "/", 1),
    ])  # fmt: skip

    def query(qid: str, expression: str) -> dict[str, Any]:
        return {"Id": qid, "Expression": expression, "Period": 60}

    found = await cloudwatch.ok("GetMetricData", {
        "MetricDataQueries": [
            query("sum", "INSIGHT_RULE_METRIC(Errors, Sum)"),
            query("unique", "INSIGHT_RULE_METRIC('Errors', 'UniqueContributors') * 10"),
        ],
        "StartTime": early, "EndTime": late + timedelta(minutes=1),
    })  # fmt: skip
    results = {r["Id"]: r for r in found["MetricDataResults"]}
    assert results["sum"]["Timestamps"] == [late, early]  # newest first, GetMetricData's default
    assert results["sum"]["Values"] == [1.0, 15.0]
    assert results["unique"]["Values"] == [10.0, 20.0]
    for expression in ("INSIGHT_RULE_METRIC(Nope, Sum)", "INSIGHT_RULE_METRIC(Errors, p99)",
                       "INSIGHT_RULE_METRIC(Errors)"):  # fmt: skip
        reply = await cloudwatch.call("GetMetricData", {
            "MetricDataQueries": [query("e", expression)],
            "StartTime": early, "EndTime": late + timedelta(minutes=1),
        })  # fmt: skip
        assert (reply.status, reply.code) == (400, "InvalidParameterValue"), expression


async def test_a_metric_math_alarm_reads_a_rules_metric(cloudwatch: Harness) -> None:
    await cloudwatch.ok("PutInsightRule", {"RuleName": "errors", "RuleDefinition": SUM_RULE})
    assert cloudwatch.insights is not None and cloudwatch.alarms is not None
    at = start_of_minute(2)
    await cloudwatch.insights.observe(cloudwatch.tenant_id, "api-1", [event(at, "a", "/", 7)])
    expression = {"Id": "e1", "Expression": "INSIGHT_RULE_METRIC(errors, MaxContributorValue)",
                  "Period": 60, "ReturnData": True}  # fmt: skip
    await cloudwatch.ok("PutMetricAlarm", {
        "AlarmName": "noisy", "Metrics": [expression], "EvaluationPeriods": 1, "Threshold": 5.0,
        "ComparisonOperator": "GreaterThanThreshold",
    })  # fmt: skip
    alarm = await cloudwatch.alarms.store.get(cloudwatch.tenant_id, "noisy")
    assert alarm is not None
    start = int(at.timestamp()) - 60
    assert await read_periods(cloudwatch.metrics, alarm, start, 3) == [None, 7.0, None]
