"""Decision 0278 through the API, boto3's calls built by botocore's model: Contributor
Insights turned on for a table (four managed CloudWatch rules with a sort key, two without,
two in ``THROTTLED_KEYS`` mode) and a global index, described and listed page by page, the
keys of the item calls counted into the rules' report (sealed minutes, no log event), the
throttled keys into the ``T`` rules, the matched events billed; off again, or the table
deleted, and the rules are gone; the refusals in AWS's words; IAM on the table."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from andromede.dynamodb.contributor_insights import ContributorInsights
from andromede.dynamodb.throttling import ThroughputGate, ThroughputLimits
from andromede.metrics.insight_service import InsightLimits, InsightRuleService
from andromede.metrics.insight_store import MemoryInsightRuleStore
from andromede.wiring.dynamodb_insights import InsightRulesPort
from andromede.wiring.insight_rules import (
    INSIGHT_RULE_EVENTS,
    AccountRingSealer,
    meter_matched_events,
)
from andromede.wiring.logs import LogKeySealer
from support.dynamodbapp import World

PREFIX = "DynamoDBContributorInsights-"


@pytest.fixture
async def rules(world: World) -> AsyncIterator[InsightRuleService]:
    service = InsightRuleService(
        MemoryInsightRuleStore(),
        AccountRingSealer(LogKeySealer(world.keys, None)),
        "eu-fr-1",
        InsightLimits(max_per_account=6),
    )
    meter_matched_events(service, world.billing, "eu-fr-1")
    insights = ContributorInsights(InsightRulesPort(service), cache_ms=0)
    world.app.contributor_insights = insights
    world.dynamodb.insights = insights
    yield service


def item(pk: str, sk: str | None = None) -> dict[str, Any]:
    return {"pk": {"S": pk}} | ({} if sk is None else {"sk": {"N": sk}})


async def report(rules: InsightRuleService, tenant: str, name: str) -> list[tuple[Any, float]]:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    params = {"RuleName": name, "StartTime": now - timedelta(minutes=2),
              "EndTime": now + timedelta(minutes=2), "Period": 60}  # fmt: skip
    _, found = await rules.report(tenant, params)
    return [(keys, total) for keys, total, _ in found.contributors]


def named(listed: list[str], kind: str) -> str:
    return next(n for n in listed if n.startswith(f"{PREFIX}{kind}-"))


async def test_turned_on_the_item_calls_keys_are_counted_into_its_rules(
    world: World, rules: InsightRuleService
) -> None:
    await world.table("music", sort="sk", kind="N")
    off = await world.client("DescribeContributorInsights", TableName="music")
    assert off["ContributorInsightsStatus"] == "DISABLED"
    assert off["ContributorInsightsRuleList"] == []
    answer = await world.client("UpdateContributorInsights", TableName="music",
                                ContributorInsightsAction="ENABLE")  # fmt: skip
    assert answer == {"TableName": "music", "ContributorInsightsStatus": "ENABLING",
                      "ContributorInsightsMode": "ACCESSED_AND_THROTTLED_KEYS"}  # fmt: skip
    on = await world.client("DescribeContributorInsights", TableName="music")
    assert on["ContributorInsightsStatus"] == "ENABLED"
    assert on["ContributorInsightsMode"] == "ACCESSED_AND_THROTTLED_KEYS"
    listed = on["ContributorInsightsRuleList"]
    assert sorted(n[len(PREFIX) : len(PREFIX) + 4] for n in listed) == [
        "PKC-", "PKT-", "SKC-", "SKT-"]  # fmt: skip
    stamp = int(listed[0].rsplit("-", 1)[1])
    assert listed[0] == f"{PREFIX}{listed[0][len(PREFIX) : len(PREFIX) + 3]}-music-{stamp}"
    assert abs(on["LastUpdateDateTime"].timestamp() * 1000 - stamp) < 5_000
    # The rules are CloudWatch's, managed: an account's DescribeInsightRules lists them.
    held = await rules.managed(world.tenant_id)
    assert sorted(r.name for r in held) == sorted(listed)
    assert {r.managed_by for r in held} == {
        f"arn:aws:dynamodb:eu-fr-1:{world.tenant_id}:table/music"}  # fmt: skip
    for pk, sk in (("a", "1"), ("a", "2"), ("b", "1")):
        await world.client("PutItem", TableName="music", Item=item(pk, sk))
    await world.client("GetItem", TableName="music", Key=item("a", "1"))
    await world.client("UpdateItem", TableName="music", Key=item("b", "1"))
    await world.client("DeleteItem", TableName="music", Key=item("a", "2"))
    await world.client("Query", TableName="music", KeyConditionExpression="pk = :p",
                       ExpressionAttributeValues={":p": {"S": "a"}})  # fmt: skip
    # A batch's and a transaction's items are counted each as its own call; a statement
    # read as a query, its partition key alone, as a Query's.
    await world.client("BatchWriteItem", RequestItems={"music": [
        {"PutRequest": {"Item": item("c", "1")}}]})  # fmt: skip
    await world.client("BatchGetItem", RequestItems={"music": {"Keys": [item("c", "1")]}})
    await world.client("TransactWriteItems", TransactItems=[
        {"Put": {"TableName": "music", "Item": item("d", "1")}}])  # fmt: skip
    await world.client("ExecuteStatement",
                       Statement="SELECT * FROM music WHERE pk = 'c' AND sk = 1")  # fmt: skip
    tenant = world.tenant_id
    assert await report(rules, tenant, named(listed, "PKC")) == [
        (("a",), 5.0), (("c",), 3.0), (("b",), 2.0), (("d",), 1.0)]  # fmt: skip
    assert await report(rules, tenant, named(listed, "SKC")) == [
        (("a", "1"), 2.0), (("a", "2"), 2.0), (("b", "1"), 2.0), (("c", "1"), 2.0),
        (("d", "1"), 1.0)]  # fmt: skip
    assert await report(rules, tenant, named(listed, "PKT")) == []  # nothing throttled
    # Each matched event is billed to the account, as AWS bills a rule's events.
    assert await world.usage(INSIGHT_RULE_EVENTS) == 20
    # The contributors are sealed: the stored minutes hold no key in the clear.
    stored = await rules.store.minutes(tenant, named(listed, "PKC"), 0, 2**40)
    assert stored and all(b'"a"' not in part.sealed for part in stored)
    # Turned off, its rules are gone and nothing more is counted.
    answer = await world.client("UpdateContributorInsights", TableName="music",
                                ContributorInsightsAction="DISABLE")  # fmt: skip
    assert answer == {"TableName": "music", "ContributorInsightsStatus": "DISABLING"}
    assert await rules.managed(tenant) == []
    again = await world.client("DescribeContributorInsights", TableName="music")
    assert again["ContributorInsightsStatus"] == "DISABLED"
    await world.client("GetItem", TableName="music", Key=item("a", "1"))


async def test_throttled_keys_feed_the_throttled_rules_alone_in_their_mode(
    world: World, rules: InsightRuleService
) -> None:
    world.dynamodb.throttle = ThroughputGate(ThroughputLimits(burst_seconds=1.0), lambda: 50.0)
    await world.client(
        "CreateTable",
        TableName="hot",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PROVISIONED",
        ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
    )
    answer = await world.client("UpdateContributorInsights", TableName="hot",
                                ContributorInsightsAction="ENABLE",
                                ContributorInsightsMode="THROTTLED_KEYS")  # fmt: skip
    assert answer["ContributorInsightsMode"] == "THROTTLED_KEYS"
    described = await world.client("DescribeContributorInsights", TableName="hot")
    assert described["ContributorInsightsMode"] == "THROTTLED_KEYS"
    (only,) = described["ContributorInsightsRuleList"]
    assert only.startswith(f"{PREFIX}PKT-hot-")
    await world.client("PutItem", TableName="hot", Item=item("calm"))
    for _ in range(2):
        await world.fails("PutItem", "ProvisionedThroughputExceededException",
                          TableName="hot", Item=item("busy"))  # fmt: skip
    assert await report(rules, world.tenant_id, only) == [(("busy",), 2.0)]
    # Turned to both kinds of keys: the rules are replaced, the mode told.
    await world.client("UpdateContributorInsights", TableName="hot",
                       ContributorInsightsAction="ENABLE")  # fmt: skip
    described = await world.client("DescribeContributorInsights", TableName="hot")
    assert described["ContributorInsightsMode"] == "ACCESSED_AND_THROTTLED_KEYS"
    assert len(described["ContributorInsightsRuleList"]) == 2


async def test_an_index_has_its_own_rules_listed_and_gone_with_the_table(
    world: World, rules: InsightRuleService
) -> None:
    await world.client(
        "CreateTable",
        TableName="songs",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "artist", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[{
            "IndexName": "by-artist",
            "KeySchema": [{"AttributeName": "artist", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"},
        }],
        BillingMode="PAY_PER_REQUEST",
    )  # fmt: skip
    await world.table("other")
    for table, index in (("songs", "by-artist"), ("songs", None), ("other", None)):
        extra = {} if index is None else {"IndexName": index}
        answer = await world.client("UpdateContributorInsights", TableName=table,
                                    ContributorInsightsAction="ENABLE", **extra)  # fmt: skip
        assert answer.get("IndexName") == index
    on = await world.client("DescribeContributorInsights", TableName="songs",
                            IndexName="by-artist")  # fmt: skip
    assert on["IndexName"] == "by-artist" and on["ContributorInsightsStatus"] == "ENABLED"
    (pkc,) = [n for n in on["ContributorInsightsRuleList"] if "-PKC-" in n]
    assert pkc.startswith(f"{PREFIX}PKC-songs-by-artist-")
    await world.client("PutItem", TableName="songs",
                       Item={"pk": {"S": "s1"}, "artist": {"S": "nina"}})  # fmt: skip
    await world.client("Query", TableName="songs", IndexName="by-artist",
                       KeyConditionExpression="artist = :a",
                       ExpressionAttributeValues={":a": {"S": "nina"}})  # fmt: skip
    assert await report(rules, world.tenant_id, pkc) == [(("nina",), 1.0)]
    page = await world.client("ListContributorInsights", MaxResults=2)
    assert [(s["TableName"], s.get("IndexName")) for s in
            page["ContributorInsightsSummaries"]] == [("other", None), ("songs", None)]  # fmt: skip
    assert all(s["ContributorInsightsStatus"] == "ENABLED"
               for s in page["ContributorInsightsSummaries"])  # fmt: skip
    rest = await world.client("ListContributorInsights", NextToken=page["NextToken"])
    assert [(s["TableName"], s.get("IndexName")) for s in
            rest["ContributorInsightsSummaries"]] == [("songs", "by-artist")]  # fmt: skip
    assert "NextToken" not in rest
    one = await world.client("ListContributorInsights", TableName="songs")
    assert len(one["ContributorInsightsSummaries"]) == 2
    await world.client("DeleteTable", TableName="songs")
    assert {r.managed_by.rsplit("/", 1)[1] for r in await rules.managed(world.tenant_id)} == {
        "other"}  # fmt: skip
    listed = await world.client("ListContributorInsights")
    assert [s["TableName"] for s in listed["ContributorInsightsSummaries"]] == ["other"]


async def test_refusals_in_aws_words_and_the_account_quota(
    world: World, rules: InsightRuleService
) -> None:
    await world.table("tab1")
    await world.fails("UpdateContributorInsights", "ResourceNotFoundException",
                      TableName="nope", ContributorInsightsAction="ENABLE")  # fmt: skip
    message = await world.fails("UpdateContributorInsights", "ResourceNotFoundException",
                                TableName="tab1", IndexName="nope",
                                ContributorInsightsAction="ENABLE")  # fmt: skip
    assert "Index: nope not found" in message
    wrong = {"TableName": "tab1", "ContributorInsightsAction": "START"}
    reply = await world.raw("UpdateContributorInsights", wrong)
    body = json.loads(reply.body)
    assert reply.status == 400 and body["__type"].endswith("#ValidationException")
    assert "enum value set: [ENABLE, DISABLE]" in body["message"]
    reply = await world.raw("UpdateContributorInsights", {"TableName": "tab1"})
    assert "contributorInsightsAction" in json.loads(reply.body)["message"]
    await world.fails("ListContributorInsights", "ValidationException", NextToken="%%%")
    # The account's quota of insight rules (6 here) counts the managed rules.
    await world.table("tab2")
    await world.table("tab3")
    for name in ("tab1", "tab2"):
        await world.client("UpdateContributorInsights", TableName=name,
                           ContributorInsightsAction="ENABLE")  # fmt: skip
    await rules.put(world.tenant_id, "mine", None, _rule(), None, None)  # 5 of 6
    message = await world.fails("UpdateContributorInsights", "LimitExceededException",
                                TableName="tab3", ContributorInsightsAction="ENABLE")  # fmt: skip
    assert "rule limit reached" in message
    assert len(await rules.managed(world.tenant_id)) == 4  # none of tab3's kept
    status = await world.client("DescribeContributorInsights", TableName="tab3")
    assert status["ContributorInsightsStatus"] == "DISABLED"


def _rule() -> str:
    return json.dumps({"Schema": {"Name": "CloudWatchLogRule", "Version": 1},
                       "LogGroupNames": ["g"], "LogFormat": "JSON",
                       "Contribution": {"Keys": ["$.ip"]}, "AggregateOn": "Count"})  # fmt: skip


async def test_iam_decides_on_the_table_and_updates_are_audited(
    world: World, rules: InsightRuleService
) -> None:
    await world.table("tab1")
    user = await world.iam_user("ops")
    message = await user.fails("UpdateContributorInsights", "AccessDeniedException",
                               TableName="tab1", ContributorInsightsAction="ENABLE")  # fmt: skip
    assert "dynamodb:UpdateContributorInsights" in message and "table/tab1" in message
    await user.fails("ListContributorInsights", "AccessDeniedException")
    policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Action": ["dynamodb:DescribeContributorInsights", "dynamodb:ListContributorInsights"],
        "Resource": "*"}]}  # fmt: skip
    await world.identity.put_user_policy(world.tenant_id, "ops", "p", json.dumps(policy))
    await user.client("DescribeContributorInsights", TableName="tab1")
    await user.client("ListContributorInsights")
    assert await rules.managed(world.tenant_id) == []
    await world.client("UpdateContributorInsights", TableName="tab1",
                       ContributorInsightsAction="ENABLE")  # fmt: skip
    audited = await world.audited()
    assert ("dynamodb:UpdateContributorInsights", "failure") in audited
    assert ("dynamodb:UpdateContributorInsights", "success") in audited
