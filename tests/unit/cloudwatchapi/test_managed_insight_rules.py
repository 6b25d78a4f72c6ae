"""Decision 0278's managed rules on CloudWatch's wire, in every protocol: a rule DynamoDB made
for a table is listed by DescribeInsightRules as ``ManagedRule``, its report read as any
rule's (its events counted by DynamoDB, not matched in log events); deleting, disabling,
enabling or replacing it is refused (AWS's managed rules are their service's), the account's
own rules beside it unaffected; its events billed as a rule's."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from support.cloudwatchapp import PROTOCOLS, REGION, Harness
from support.insight_rules import definition

NAME = "DynamoDBContributorInsights-PKC-music-1800000000000"


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_managed_rule_is_listed_reported_and_kept(
    cloudwatch: Harness, protocol: str
) -> None:
    cw = cloudwatch.speaking(protocol)
    assert cw.insights is not None
    table = f"arn:aws:dynamodb:{REGION}:{cw.tenant_id}:table/music"
    rule = definition(LogGroupNames=[table], Contribution={"Keys": ["$.PartitionKey"]})
    assert await cw.insights.put_managed(cw.tenant_id, table, [(NAME, rule)])
    await cw.ok("PutInsightRule", {"RuleName": "mine", "RuleDefinition": definition()})
    listed = {r["Name"]: r for r in (await cw.ok("DescribeInsightRules", {}))["InsightRules"]}
    assert listed[NAME]["ManagedRule"] is True and listed[NAME]["State"] == "ENABLED"
    assert listed["mine"]["ManagedRule"] is False
    # A log group named as the table's ARN feeds nothing: the rule is DynamoDB's to feed.
    now = datetime.now(UTC)
    at = int(now.timestamp() * 1000)
    await cw.insights.observe(cw.tenant_id, table, [(at, json.dumps({"PartitionKey": "x"}))])
    cw.insights.contribute(cw.tenant_id, NAME, at, ("song-1",))
    cw.insights.contribute(cw.tenant_id, NAME, at, ("song-1",))
    start = now.replace(second=0, microsecond=0)
    found = await cw.ok("GetInsightRuleReport", {"RuleName": NAME, "StartTime": start,
                        "EndTime": start + timedelta(minutes=1), "Period": 60})  # fmt: skip
    assert found["KeyLabels"] == ["$.PartitionKey"]
    assert [(c["Keys"], c["ApproximateAggregateValue"]) for c in found["Contributors"]] == [
        (["song-1"], 2.0)]  # fmt: skip
    assert await cw.usage("cloudwatch.insight-rule-events") == 2
    for operation in ("DisableInsightRules", "EnableInsightRules", "DeleteInsightRules"):
        failed = await cw.ok(operation, {"RuleNames": [NAME, "mine"]})
        assert [(f["FailureResource"], f["ExceptionType"]) for f in failed["Failures"]] == [
            (NAME, "AccessDeniedException")], operation  # fmt: skip
    reply = await cw.call("PutInsightRule", {"RuleName": NAME, "RuleDefinition": definition()})
    assert (reply.status, reply.code) == (400, "InvalidParameterValue")
    names = [r["Name"] for r in (await cw.ok("DescribeInsightRules", {}))["InsightRules"]]
    assert names == [NAME]  # "mine" deleted by the batch, the managed rule kept
    await cw.insights.delete_managed(cw.tenant_id, [NAME])
    assert (await cw.ok("DescribeInsightRules", {}))["InsightRules"] == []
