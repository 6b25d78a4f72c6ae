"""Decision 0233's metric stream operations on the wire, each built by botocore's own
serializer of the protocol and read by its parser: put (create, then update keeping state,
creation date and tags), get, list in pages, start and stop, delete, tags on the stream's
ARN; the refusals in CloudWatch's codes whatever the protocol; IAM on the stream's ARN and
``iam:PassRole`` on its role; the changes audited; other accounts' streams invisible."""

from __future__ import annotations

import json
from typing import Any

import pytest

from andromede.audit.model import Outcome
from support.cloudwatchapp import PROTOCOLS, REGION, Harness


def stream(cw: Harness, name: str = "to-s3", **extra: Any) -> dict[str, Any]:
    return {
        "Name": name,
        "FirehoseArn": f"arn:aws:firehose:{REGION}:{cw.tenant_id}:deliverystream/metrics",
        "RoleArn": f"arn:aws:iam::{cw.tenant_id}:role/streams",
        "OutputFormat": "json",
        **extra,
    }


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_streams_life_in_every_protocol(cloudwatch: Harness, protocol: str) -> None:
    cw = cloudwatch.speaking(protocol)
    statistics = [{
        "IncludeMetrics": [{"Namespace": "App", "MetricName": "Latency"}],
        "AdditionalStatistics": ["p99", "p50"],
    }]  # fmt: skip
    put = await cw.ok(
        "PutMetricStream",
        stream(cw, IncludeFilters=[{"Namespace": "App", "MetricNames": ["Latency"]},
                                   {"Namespace": "AWS/EC2"}],
               StatisticsConfigurations=statistics, Tags=[{"Key": "team", "Value": "ops"}]),
    )  # fmt: skip
    arn = f"arn:aws:cloudwatch:{REGION}:{cw.tenant_id}:metric-stream/to-s3"
    assert put["Arn"] == arn
    got = await cw.ok("GetMetricStream", {"Name": "to-s3"})
    assert (got["Arn"], got["State"], got["OutputFormat"]) == (arn, "running", "json")
    assert got["IncludeFilters"] == [
        {"Namespace": "App", "MetricNames": ["Latency"]},
        {"Namespace": "AWS/EC2"},
    ]
    assert got["StatisticsConfigurations"] == statistics
    assert got["IncludeLinkedAccountsMetrics"] is False
    created = got["CreationDate"]
    await cw.ok("StopMetricStreams", {"Names": ["to-s3", "not-there"]})
    # An update keeps the state, the creation date and the tags (AWS ignores its Tags).
    await cw.ok("PutMetricStream", stream(cw, ExcludeFilters=[{"Namespace": "AWS/EC2"}],
                                          Tags=[{"Key": "x", "Value": "y"}]))  # fmt: skip
    got = await cw.ok("GetMetricStream", {"Name": "to-s3"})
    assert (got["State"], got["CreationDate"]) == ("stopped", created)
    assert got.get("IncludeFilters", []) == [] and got["ExcludeFilters"] == [
        {"Namespace": "AWS/EC2"}
    ]
    tags = await cw.ok("ListTagsForResource", {"ResourceARN": arn})
    assert tags["Tags"] == [{"Key": "team", "Value": "ops"}]
    await cw.ok("TagResource", {"ResourceARN": arn, "Tags": [{"Key": "env", "Value": "prod"}]})
    await cw.ok("UntagResource", {"ResourceARN": arn, "TagKeys": ["team"]})
    tags = await cw.ok("ListTagsForResource", {"ResourceARN": arn})
    assert tags["Tags"] == [{"Key": "env", "Value": "prod"}]
    await cw.ok("StartMetricStreams", {"Names": ["to-s3"]})
    await cw.ok("PutMetricStream", stream(cw, "b"))
    await cw.ok("PutMetricStream", stream(cw, "a"))
    page = await cw.ok("ListMetricStreams", {})
    assert [(e["Name"], e["State"]) for e in page["Entries"]] == [
        ("a", "running"),
        ("b", "running"),
    ]
    assert page["Entries"][0]["FirehoseArn"].endswith(":deliverystream/metrics")
    page = await cw.ok("ListMetricStreams", {"NextToken": page["NextToken"]})
    assert [e["Name"] for e in page["Entries"]] == ["to-s3"] and "NextToken" not in page
    page = await cw.ok("ListMetricStreams", {"MaxResults": 1})
    assert [e["Name"] for e in page["Entries"]] == ["a"]
    await cw.ok("DeleteMetricStream", {"Name": "to-s3"})
    await cw.ok("DeleteMetricStream", {"Name": "to-s3"})  # as AWS: no error
    reply = await cw.call("GetMetricStream", {"Name": "to-s3"})
    assert (reply.status, reply.code) == (404, "ResourceNotFoundException")
    reply = await cw.call("ListTagsForResource", {"ResourceARN": arn})
    assert (reply.status, reply.code) == (404, "ResourceNotFoundException")
    audited = [e for e in await cloudwatch.audited() if "MetricStream" in e.action]
    assert {e.action for e in audited} == {
        "cloudwatch:PutMetricStream", "cloudwatch:StopMetricStreams",
        "cloudwatch:StartMetricStreams", "cloudwatch:DeleteMetricStream",
    }  # fmt: skip
    assert arn in {e.resource for e in audited}
    assert all(e.outcome is Outcome.SUCCESS for e in audited)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_refusals_in_cloudwatchs_codes(cloudwatch: Harness, protocol: str) -> None:
    cw = cloudwatch.speaking(protocol)
    cases: list[tuple[dict[str, Any], str]] = [
        (stream(cw, "a b"), "InvalidParameterValue"),
        (stream(cw, OutputFormat="opentelemetry1.0"), "InvalidParameterValue"),
        (stream(cw, OutputFormat="opentelemetry0.7"), "InvalidParameterValue"),
        (stream(cw, OutputFormat="csv"), "InvalidParameterValue"),
        (stream(cw, FirehoseArn="arn:aws:firehose:elsewhere:1:deliverystream/x"),
         "InvalidParameterValue"),
        (stream(cw, RoleArn="arn:aws:iam::999999999999:role/r"), "InvalidParameterValue"),
        (stream(cw, IncludeFilters=[{"Namespace": "A"}], ExcludeFilters=[{"Namespace": "B"}]),
         "InvalidParameterCombination"),
        (stream(cw, IncludeFilters=[{"MetricNames": ["x"]}]), "MissingParameter"),
        (stream(cw, IncludeFilters=[{"Namespace": "A", "MetricNames": ["1", "2", "3", "4", "5"]}]),
         "InvalidParameterValue"),
        (stream(cw, IncludeLinkedAccountsMetrics=True), "InvalidParameterValue"),
        (stream(cw, StatisticsConfigurations=[{
            "IncludeMetrics": [{"Namespace": "A", "MetricName": "m"}],
            "AdditionalStatistics": ["tm98"]}]), "InvalidParameterValue"),
        (stream(cw, StatisticsConfigurations=[{
            "IncludeMetrics": [{"Namespace": "A", "MetricName": m} for m in "xyz"],
            "AdditionalStatistics": ["p90"]}]), "InvalidParameterValue"),
    ]  # fmt: skip
    for params, code in cases:
        reply = await cw.call("PutMetricStream", params)
        assert (reply.status, reply.code) == (400, code), params
        assert reply.headers["x-amzn-requestid"]
    reply = await cw.call("ListMetricStreams", {"NextToken": "@@"})
    assert (reply.status, reply.code) == (400, "InvalidNextToken")
    reply = await cw.call("StartMetricStreams", {"Names": []})
    assert (reply.status, reply.code) == (400, "MissingParameter")
    for name in ("a", "b", "c"):
        await cw.ok("PutMetricStream", stream(cw, name))
    reply = await cw.call("PutMetricStream", stream(cw, "d"))
    assert (reply.status, reply.code) == (400, "LimitExceeded")
    await cw.ok("PutMetricStream", stream(cw, "c"))  # an update is no new stream


async def test_accounts_iam_and_passrole(cloudwatch: Harness) -> None:
    await cloudwatch.ok("PutMetricStream", stream(cloudwatch, "ops"))
    other = await cloudwatch.other_tenant("other")
    assert (await other.ok("ListMetricStreams", {}))["Entries"] == []
    assert (await other.call("GetMetricStream", {"Name": "ops"})).status == 404
    user = await cloudwatch.iam_user("streamer")
    base = f"arn:aws:cloudwatch:{REGION}:{cloudwatch.tenant_id}:metric-stream"
    policy = {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": ["cloudwatch:PutMetricStream", "cloudwatch:GetMetricStream",
                       "cloudwatch:StopMetricStreams"],
            "Resource": f"{base}/ops*",
        }],
    }  # fmt: skip
    await cloudwatch.identity.put_user_policy(
        cloudwatch.tenant_id, "streamer", "streams", json.dumps(policy)
    )
    await cloudwatch.ok("PutMetricStream", stream(cloudwatch, "secret"))
    assert (await user.call("GetMetricStream", {"Name": "ops"})).status == 200
    reply = await user.call("GetMetricStream", {"Name": "secret"})
    assert (reply.status, reply.code) == (403, "AccessDenied")
    reply = await user.call("StopMetricStreams", {"Names": ["ops", "secret"]})
    assert (reply.status, reply.code) == (403, "AccessDenied")
    assert (await cloudwatch.ok("GetMetricStream", {"Name": "ops"}))["State"] == "running"
    # The stream's own action is not enough: the role is passed too.
    reply = await user.call("PutMetricStream", stream(cloudwatch, "ops-2"))
    assert (reply.status, reply.code) == (403, "AccessDenied")
    assert "iam:PassRole" in reply.parsed["Error"]["Message"]
    policy["Statement"].append(
        {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}  # type: ignore[attr-defined]
    )
    await cloudwatch.identity.put_user_policy(
        cloudwatch.tenant_id, "streamer", "streams", json.dumps(policy)
    )
    assert (await user.call("PutMetricStream", stream(cloudwatch, "ops-2"))).status == 200
    denied = [e for e in await cloudwatch.audited() if e.outcome is Outcome.FAILURE]
    assert {e.resource for e in denied} >= {f"{base}/secret"}
