"""CloudWatch's three protocols in process (decision 0172): each call built by botocore's own
serializer (RPC v2 CBOR, JSON 1.0, Query) and read by its own parser; the same answers and
the same error codes whichever protocol; malformed bodies answered in the protocol's own
error shape with a request id; signatures, accounts and IAM."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import cbor2
import pytest

from andromede.audit.model import Outcome
from andromede.cloudwatchapi.protocol import is_cloudwatch_call
from support.cloudwatchapp import PROTOCOLS, Harness, raw_request

NOW = datetime.now(UTC).replace(second=0, microsecond=0)
CBOR_PATH = "/service/GraniteServiceVersion20100801/operation/"


def datum(name: str = "Latency", **extra: object) -> dict[str, object]:
    return {"MetricName": name, "Dimensions": [{"Name": "Host", "Value": "a"}], **extra}


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_put_then_read_back_in_every_protocol(cloudwatch: Harness, protocol: str) -> None:
    cw = cloudwatch.speaking(protocol)
    at = NOW - timedelta(minutes=5)
    await cw.ok(
        "PutMetricData",
        {
            "Namespace": "App",
            "MetricData": [
                datum(Timestamp=at, Value=10.0, Unit="Milliseconds"),
                datum(Timestamp=at, Values=[1.0, 2.0, 30.0], Counts=[1, 2, 1], Unit="Milliseconds"),
                datum(
                    Timestamp=at + timedelta(minutes=1),
                    StatisticValues={"SampleCount": 2, "Sum": 8, "Minimum": 3, "Maximum": 5},
                    Unit="Milliseconds",
                ),
            ],
        },
    )
    asked = {
        "Namespace": "App",
        "MetricName": "Latency",
        "Dimensions": [{"Name": "Host", "Value": "a"}],
        "StartTime": at,
        "EndTime": at + timedelta(minutes=2),
        "Period": 60,
    }
    stats = await cw.ok(
        "GetMetricStatistics",
        {**asked, "Statistics": ["SampleCount", "Sum", "Average", "Minimum", "Maximum"]},
    )
    first, second = sorted(stats["Datapoints"], key=lambda d: d["Timestamp"])
    assert first["Timestamp"] == at
    assert (first["SampleCount"], first["Sum"], first["Minimum"], first["Maximum"]) == (
        5.0, 45.0, 1.0, 30.0,
    )  # fmt: skip
    assert first["Average"] == 9.0 and first["Unit"] == "Milliseconds"
    assert second["SampleCount"] == 2.0
    stats = await cw.ok("GetMetricStatistics", {**asked, "ExtendedStatistics": ["p50", "p100"]})
    first, second = sorted(stats["Datapoints"], key=lambda d: d["Timestamp"])
    assert first["ExtendedStatistics"]["p100"] == 30.0
    assert abs(first["ExtendedStatistics"]["p50"] - 2.0) <= 0.1
    # A statistic set of unequal values has no percentiles (as on AWS).
    assert "ExtendedStatistics" not in second
    listed = await cw.ok("ListMetrics", {"Namespace": "App"})
    assert listed["Metrics"] == [
        {
            "Namespace": "App",
            "MetricName": "Latency",
            "Dimensions": [{"Name": "Host", "Value": "a"}],
        }
    ]
    data = await cw.ok(
        "GetMetricData",
        {
            "MetricDataQueries": [
                {
                    "Id": "m1",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": "App",
                            "MetricName": "Latency",
                            "Dimensions": [{"Name": "Host", "Value": "a"}],
                        },
                        "Period": 120,
                        "Stat": "Sum",
                    },
                }
            ],
            "StartTime": at,
            "EndTime": at + timedelta(minutes=2),
        },
    )
    [result] = data["MetricDataResults"]
    assert result["Id"] == "m1" and result["StatusCode"] == "Complete"
    assert result["Values"] == [53.0] and result["Timestamps"] == [at]
    # Metric math (decision 0183): an expression over a hidden MetricStat, and its messages.
    stat = {
        "Metric": {
            "Namespace": "App",
            "MetricName": "Latency",
            "Dimensions": datum()["Dimensions"],
        },
        "Period": 60,
        "Stat": "Sum",
    }
    data = await cw.ok(
        "GetMetricData",
        {
            "MetricDataQueries": [
                {"Id": "m1", "MetricStat": stat, "ReturnData": False},
                {"Id": "e1", "Expression": "100 * m1 / (m1 - 45)", "Label": "Odd"},
            ],
            "StartTime": at,
            "EndTime": at + timedelta(minutes=2),
            "ScanBy": "TimestampAscending",
        },
    )
    [result] = data["MetricDataResults"]
    assert (result["Id"], result["Label"], result["StatusCode"]) == ("e1", "Odd", "Complete")
    assert result["Values"] == [pytest.approx(-800 / 37)] and result["Timestamps"] == [
        at + timedelta(minutes=1)
    ]
    assert result["Messages"][0]["Code"] == "ArithmeticError"


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_errors_have_the_same_codes_in_every_protocol(
    cloudwatch: Harness, protocol: str
) -> None:
    cw = cloudwatch.speaking(protocol)
    cases = [
        ("PutMetricData", {"Namespace": "AWS/EC2", "MetricData": [datum(Value=1.0)]},
         "InvalidParameterValue"),
        ("PutMetricData", {"Namespace": "App", "MetricData": [datum(Value=1.0, Unit="Parsecs")]},
         "InvalidParameterValue"),
        ("PutMetricData", {"Namespace": "App",
                           "MetricData": [datum(Value=1.0, Values=[1.0])]},
         "InvalidParameterCombination"),
        ("PutMetricData", {"Namespace": "App", "MetricData": [datum()]}, "MissingParameter"),
        ("PutMetricData", {"Namespace": "App",
                           "MetricData": [datum(Value=1.0)] * 21}, "InvalidParameterValue"),
        ("PutMetricData", {"Namespace": "App", "MetricData": [datum(
            Value=1.0, Timestamp=NOW - timedelta(days=15))]}, "InvalidParameterValue"),
        ("GetMetricStatistics", {"Namespace": "App", "MetricName": "X", "StartTime": NOW,
                                 "EndTime": NOW - timedelta(hours=1), "Period": 60,
                                 "Statistics": ["Sum"]}, "InvalidParameterValue"),
        ("GetMetricStatistics", {"Namespace": "App", "MetricName": "X",
                                 "StartTime": NOW - timedelta(days=1), "EndTime": NOW,
                                 "Period": 60, "Statistics": ["Sum"]},
         "InvalidParameterCombination"),
        ("GetMetricStatistics", {"Namespace": "App", "MetricName": "X",
                                 "StartTime": NOW - timedelta(hours=1), "EndTime": NOW,
                                 "Period": 61, "Statistics": ["Sum"]}, "InvalidParameterValue"),
        ("GetMetricData", {"MetricDataQueries": [{"Id": "e1", "Expression": "SUM(METRICS("}],
                           "StartTime": NOW - timedelta(hours=1), "EndTime": NOW},
         "InvalidParameterValue"),
        ("GetMetricData", {"MetricDataQueries": [{"Id": "m1", "MetricStat": {
            "Metric": {"Namespace": "App", "MetricName": "X"}, "Period": 60, "Stat": "Sum"}}],
                           "StartTime": NOW - timedelta(hours=1), "EndTime": NOW,
                           "NextToken": "garbage"}, "InvalidNextToken"),
        ("GetMetricStatistics", {"Namespace": "App", "MetricName": "X",
                                 "StartTime": NOW - timedelta(hours=1), "EndTime": NOW,
                                 "Period": 600, "Statistics": ["Sum"],
                                 "ExtendedStatistics": ["p99"]}, "InvalidParameterCombination"),
        ("ListMetrics", {"RecentlyActive": "PT1H"}, "InvalidParameterValue"),
        ("PutMetricAlarm", {"AlarmName": "a", "EvaluationPeriods": 1,
                            "ComparisonOperator": "GreaterThanThreshold"}, "MissingParameter"),
        ("PutDashboard", {"DashboardName": "d", "DashboardBody": "{}"}, "InvalidParameterInput"),
        ("ListManagedInsightRules", {"ResourceARN": "arn:aws:x"}, "NotImplemented"),
    ]  # fmt: skip
    for operation, params, code in cases:
        reply = await cw.call(operation, params)
        unserved = code == "NotImplemented"
        assert (reply.code, reply.status) == (code, 501 if unserved else 400), reply.body
        if protocol != "query":
            fault = "Receiver" if unserved else "Sender"
            assert reply.headers["x-amzn-query-error"] == f"{code};{fault}"


async def test_malformed_bodies_get_each_protocols_error_shape(cloudwatch: Harness) -> None:
    cbor_headers = {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"}
    for body in (b"\xff\x00", cbor2.dumps([1, 2]), cbor2.dumps({"Namespace": 5})):
        status, headers, content = await raw_request(
            cloudwatch.app,
            path=CBOR_PATH + "PutMetricData",
            query=b"",
            headers=cbor_headers,
            body=body,
            credentials=cloudwatch.credentials,
        )
        error = cbor2.loads(content)
        assert status == 400 and headers["smithy-protocol"] == "rpc-v2-cbor"
        assert error["__type"].endswith("#SerializationException") and error["message"]
    # Without the protocol header a CBOR body is refused, too.
    status, _, content = await raw_request(
        cloudwatch.app,
        path=CBOR_PATH + "ListMetrics",
        query=b"",
        headers={"Content-Type": "application/cbor"},
        body=cbor2.dumps({}),
        credentials=cloudwatch.credentials,
    )
    assert status == 400 and cbor2.loads(content)["__type"].endswith("#SerializationException")
    json_headers = {
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": "GraniteServiceVersion20100801.PutMetricData",
    }
    for body in (b"{nope", b"[]", json.dumps({"MetricData": "x"}).encode()):
        status, headers, content = await raw_request(
            cloudwatch.app,
            path="/",
            query=b"",
            headers=json_headers,
            body=body,
            credentials=cloudwatch.credentials,
        )
        assert status == 400 and json.loads(content)["__type"].endswith("#SerializationException")
        assert headers["x-amzn-query-error"] == "SerializationException;Sender"
    status, headers, content = await raw_request(
        cloudwatch.app,
        path="/",
        query=b"",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=b"Action=PutMetricData&Version=2010-08-01&Namespace=App"
        b"&MetricData.member.1.MetricName=X&MetricData.member.1.Value=ten",
        credentials=cloudwatch.credentials,
    )
    assert status == 400 and b"<Code>InvalidParameterValue</Code>" in content
    assert b"<RequestId>" in content and headers["content-type"] == "text/xml"
    status, _, content = await raw_request(
        cloudwatch.app,
        path="/",
        query=b"Action=DescribeNothing&Version=2010-08-01",
        headers={},
        body=b"",
        credentials=cloudwatch.credentials,
        method="GET",
    )
    assert status == 400 and b"<Code>InvalidAction</Code>" in content


async def test_unsigned_and_badly_signed_calls_are_refused(cloudwatch: Harness) -> None:
    reply = await cloudwatch.anonymous().call("ListMetrics", {})
    assert (reply.status, reply.code) == (403, "MissingAuthenticationToken")
    status, _, content = await raw_request(
        cloudwatch.app,
        path=CBOR_PATH + "ListMetrics",
        query=b"",
        headers={"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"},
        body=cbor2.dumps({}),
        credentials=cloudwatch.credentials.__class__("AKIDNOTAKEY000000000", "secret"),
    )
    assert status == 403 and cbor2.loads(content)["__type"].endswith("#InvalidClientTokenId")
    failures = [e for e in await cloudwatch.audited() if e.outcome is Outcome.FAILURE]
    assert failures and failures[-1].action == "cloudwatch:ListMetrics"


async def test_an_account_sees_only_its_own_metrics(cloudwatch: Harness) -> None:
    await cloudwatch.ok("PutMetricData", {"Namespace": "App", "MetricData": [datum(Value=1.0)]})
    other = await cloudwatch.other_tenant("other")
    assert (await other.ok("ListMetrics", {}))["Metrics"] == []
    stats = await other.ok(
        "GetMetricStatistics",
        {
            "Namespace": "App",
            "MetricName": "Latency",
            "Dimensions": [{"Name": "Host", "Value": "a"}],
            "StartTime": NOW - timedelta(minutes=10),
            "EndTime": NOW + timedelta(minutes=10),
            "Period": 60,
            "Statistics": ["Sum"],
        },
    )
    assert stats["Datapoints"] == []
    assert len((await cloudwatch.ok("ListMetrics", {}))["Metrics"]) == 1


async def test_iam_users_need_an_allow_and_the_namespace_condition_holds(
    cloudwatch: Harness,
) -> None:
    user = await cloudwatch.iam_user("agent")
    reply = await user.call("ListMetrics", {})
    assert (reply.status, reply.code) == (403, "AccessDenied")
    denied = [e for e in await cloudwatch.audited() if e.action == "cloudwatch:ListMetrics"]
    assert denied and denied[-1].outcome is Outcome.FAILURE
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "cloudwatch:PutMetricData",
                "Resource": "*",
                "Condition": {"StringEquals": {"cloudwatch:namespace": "Agent"}},
            }
        ],
    }
    await cloudwatch.identity.put_user_policy(
        cloudwatch.tenant_id, "agent", "metrics", json.dumps(policy)
    )
    assert (
        await user.call("PutMetricData", {"Namespace": "Agent", "MetricData": [datum(Value=1.0)]})
    ).status == 200
    reply = await user.call("PutMetricData", {"Namespace": "Other", "MetricData": [datum(Value=1)]})
    assert (reply.status, reply.code) == (403, "AccessDenied")


async def test_requests_are_metered_except_refusals(cloudwatch: Harness) -> None:
    await cloudwatch.ok("ListMetrics", {})
    await cloudwatch.call("PutMetricData", {"Namespace": "AWS/X", "MetricData": [datum(Value=1)]})
    user = await cloudwatch.iam_user("nobody")
    await user.call("ListMetrics", {})
    assert await cloudwatch.usage("cloudwatch.requests") == 2


async def test_a_body_over_the_limit_is_refused_and_the_connection_closed(
    cloudwatch: Harness,
) -> None:
    big = cbor2.dumps({"Namespace": "App", "MetricData": [{"MetricName": "x" * 70_000}]})
    status, headers, content = await raw_request(
        cloudwatch.app,
        path=CBOR_PATH + "PutMetricData",
        query=b"",
        headers={"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"},
        body=big,
        credentials=cloudwatch.credentials,
    )
    assert status == 413 and headers["connection"] == "close"
    assert cbor2.loads(content)["__type"].endswith("#RequestEntityTooLarge")


def test_unsigned_calls_told_apart_from_s3() -> None:
    cbor = [(b"smithy-protocol", b"rpc-v2-cbor")]
    assert is_cloudwatch_call(CBOR_PATH + "ListMetrics", cbor)
    assert is_cloudwatch_call("/", [(b"X-Amz-Target", b"GraniteServiceVersion20100801.X")])
    # An S3 object of bucket "service" under that key, or another API's target, is not.
    assert not is_cloudwatch_call(CBOR_PATH + "ListMetrics", [])
    assert not is_cloudwatch_call("/bucket/key", cbor)
    assert not is_cloudwatch_call("/", [(b"x-amz-target", b"TrentService.Encrypt")])
