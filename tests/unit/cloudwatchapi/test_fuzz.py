"""Bad input never makes a 500 (decision 0172): each operation's valid request with one member
at a time — at any depth — replaced by values of the wrong type, shape or range, sent as CBOR
and as JSON, and arbitrary CBOR documents, answer a CloudWatch error of the 4xx family in the
protocol's shape (or a success, for a value that happens to be valid)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.cloudwatchapp import Harness, raw_request

NOW = datetime.now(UTC).replace(microsecond=0)
CBOR_PATH = "/service/GraniteServiceVersion20100801/operation/"
_DIMS = [{"Name": "Host", "Value": "a"}]
VALID: dict[str, dict[str, Any]] = {
    # Decision 0177's alarms: the definition's every member, and a listing's.
    "PutMetricAlarm": {
        "AlarmName": "fuzzed",
        "Namespace": "App",
        "MetricName": "M",
        "Dimensions": _DIMS,
        "Statistic": "Average",
        "Period": 60,
        "EvaluationPeriods": 2,
        "DatapointsToAlarm": 1,
        "Threshold": 1.5,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "ignore",
        "Unit": "Count",
        "ActionsEnabled": True,
        "Tags": [{"Key": "k", "Value": "v"}],
    },
    "DescribeAlarms": {"AlarmNamePrefix": "f", "StateValue": "OK", "MaxRecords": 10},
    # Decision 0185.
    "PutDashboard": {"DashboardName": "f", "DashboardBody": '{"widgets": []}'},
    "ListDashboards": {"DashboardNamePrefix": "f"},
    "PutMetricData": {
        "Namespace": "App",
        "MetricData": [
            {
                "MetricName": "M",
                "Dimensions": _DIMS,
                "Timestamp": NOW,
                "Values": [1.0, 2.0],
                "Counts": [1.0, 3.0],
                "Unit": "Count",
                "StorageResolution": 60,
            },
            {
                "MetricName": "S",
                "StatisticValues": {"SampleCount": 2, "Sum": 3, "Minimum": 1, "Maximum": 2},
            },
        ],
    },
    "GetMetricStatistics": {
        "Namespace": "App",
        "MetricName": "M",
        "Dimensions": _DIMS,
        "StartTime": NOW - timedelta(hours=1),
        "EndTime": NOW,
        "Period": 60,
        "Statistics": ["Sum"],
        "Unit": "Count",
    },
    "GetMetricData": {
        "MetricDataQueries": [
            {
                "Id": "m1",
                "MetricStat": {
                    "Metric": {"Namespace": "App", "MetricName": "M", "Dimensions": _DIMS},
                    "Period": 60,
                    "Stat": "p90",
                    "Unit": "Count",
                },
                "Label": "l",
                "ReturnData": True,
            }
        ],
        "StartTime": NOW - timedelta(hours=1),
        "EndTime": NOW,
        "ScanBy": "TimestampAscending",
        "MaxDatapoints": 10,
    },
    "ListMetrics": {
        "Namespace": "App",
        "MetricName": "M",
        "Dimensions": [{"Name": "Host"}],
        "RecentlyActive": "PT3H",
    },
}
WRONG: list[Any] = [
    None, 7, -1, 2**70, 10**400, 1.5, 1e308, True, "", "ø" * 2000, [], ["x"], [None], {}, {"a": 1},
    b"\x00\xff", NOW.replace(year=9999), cbor2.CBORTag(99, "x"),
]  # fmt: skip


def _paths(document: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(document, dict):
        for key, value in document.items():
            yield (*path, key)
            yield from _paths(value, (*path, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            yield (*path, index)
            yield from _paths(value, (*path, index))


def _replaced(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy: Any = dict(document) if isinstance(document, dict) else list(document)
    copy[path[0]] = _replaced(document[path[0]], path[1:], value)
    return copy


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


async def _send(cloudwatch: Harness, wire: str, operation: str, document: Any) -> int:
    if wire == "cbor":
        headers = {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"}
        path = CBOR_PATH + operation
        body = cbor2.dumps(document, datetime_as_timestamp=True, timezone=UTC)
    else:
        headers = {
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": f"GraniteServiceVersion20100801.{operation}",
        }
        path = "/"
        body = json.dumps(document, default=_json_default).encode()
    status, answer, content = await raw_request(
        cloudwatch.app,
        path=path,
        query=b"",
        headers=headers,
        body=body,
        credentials=cloudwatch.credentials,
    )
    if status >= 400:
        error = cbor2.loads(content) if wire == "cbor" else json.loads(content)
        assert error["__type"].startswith("com.amazonaws.cloudwatch#") and error["message"]
        assert answer["x-amzn-query-error"].endswith(";Sender")
    return status


@pytest.mark.parametrize("operation", sorted(VALID))
@pytest.mark.parametrize("wire", ["cbor", "json"])
async def test_wrong_members_are_cloudwatch_errors(
    cloudwatch: Harness, operation: str, wire: str
) -> None:
    valid = VALID[operation]
    assert await _send(cloudwatch, wire, operation, valid) == 200
    for path in _paths(valid):
        for wrong in WRONG:
            status = await _send(cloudwatch, wire, operation, _replaced(valid, path, wrong))
            assert status in (200, 400), (operation, path, wrong, status)


_CBOR = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
    | st.binary(max_size=8),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)  # fmt: skip


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    document=st.dictionaries(
        st.sampled_from(sorted({k for v in VALID.values() for k in v})), _CBOR, max_size=4
    )
)
async def test_arbitrary_cbor_documents_never_fail_the_server(
    cloudwatch: Harness, document: dict[str, Any]
) -> None:  # fmt: skip
    for operation in VALID:
        assert await _send(cloudwatch, "cbor", operation, document) in (200, 400)


_QUERY_KEYS = st.sampled_from(
    [
        "Namespace", "MetricName", "MetricData", "MetricData.member", "MetricData.member.1",
        "MetricData.member.1.MetricName", "MetricData.member.x.Value", "MetricData.member.1.Value",
        "MetricData.member.1.Values.member.1", "MetricData.member.1.Counts.member.2",
        "MetricData.member.1.Dimensions.member.1.Name", "MetricData.member.1.Timestamp",
        "MetricData.member.1.StatisticValues.Sum", "MetricData.member.1.StorageResolution",
        "StartTime", "EndTime", "Period", "Statistics.member.1", "ExtendedStatistics",
        "MetricDataQueries.member.1.Id", "MetricDataQueries.member.1.MetricStat.Period",
        "MetricDataQueries.member.1.ReturnData", "Dimensions.member.1.Name", "NextToken",
        "MaxDatapoints",
    ]
)  # fmt: skip
_QUERY_VALUES = st.sampled_from(
    ["", "1", "-1", "1e999", "nan", "true", "x", "99999999999999999999", "2026-12-05T10:00:00Z",
     "PT3H", "p99", "Sum", "Count", "ø" * 300]
)  # fmt: skip


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(params=st.dictionaries(_QUERY_KEYS, _QUERY_VALUES, max_size=6))
async def test_arbitrary_query_parameters_never_fail_the_server(
    cloudwatch: Harness, params: dict[str, str]
) -> None:
    for operation in VALID:
        body = urlencode({"Action": operation, "Version": "2010-08-01", **params}).encode()
        status, _, content = await raw_request(
            cloudwatch.app,
            path="/",
            query=b"",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            body=body,
            credentials=cloudwatch.credentials,
        )
        assert status in (200, 400), (operation, params, content)
        if status == 400:
            assert b"<ErrorResponse" in content and b"<RequestId>" in content
