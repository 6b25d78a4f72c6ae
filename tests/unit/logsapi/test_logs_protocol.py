"""Decision 0186's JSON 1.1 protocol in process: botocore's requests (``X-Amz-Target:
Logs_20140328.<Op>``, signed for ``logs``) answered in AWS's shapes; every error
``{"__type", "message"}`` with a request id, never a 500; AWS's operations not served
answer 501 in the same shape; an IAM user without a policy is refused; control calls are
audited and data calls are not; the calls and the bytes ingested are metered."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import botocore.session
import pytest

from andromede.api_routing import api_service
from andromede.billing.model import parse_month
from andromede.db.database import open_database
from andromede.log_export_delivery import BucketExportDestination
from andromede.logs.export_tasks import ExportService
from andromede.logs.exports_sql import SqlExportStore
from andromede.logs.service import LogsLimits
from andromede.logs.store_sql import SqlLogStore
from andromede.logsapi.actions import ACTIONS
from andromede.storage.blob_local import LocalBlobStore
from andromede.storage.regions import RegionalBlobs
from andromede.storage.service import ObjectService
from andromede.storage.store_sql import SqlMetadataStore
from support.batch_world import LIMITS
from support.keys import cipher_in
from support.kmskit import REGION
from support.logsapp import NOW, Harness, LogsWorld, harness_over, logs_world
from support.schema import migrated_sqlite


@pytest.fixture
def world(tmp_path: Path) -> Iterator[LogsWorld]:
    yield from logs_world(tmp_path / "w", LogsLimits(page=2))


@pytest.fixture
async def logs(world: LogsWorld, tmp_path: Path) -> AsyncIterator[Harness]:
    harness = await harness_over(world, tmp_path)
    world.clock.now = NOW
    try:
        yield harness
    finally:
        await harness.audit.close()
        await harness.billing.close()


async def test_groups_streams_events_in_aws_shapes(logs: Harness) -> None:
    arn = f"arn:aws:logs:eu-fr-1:{logs.tenant_id}:log-group:/app/web"
    assert await logs.ok("CreateLogGroup", {"logGroupName": "/app/web", "tags": {"a": "1"}}) == {}
    await logs.ok("PutRetentionPolicy", {"logGroupName": "/app/web", "retentionInDays": 7})
    await logs.ok("CreateLogStream", {"logGroupName": "/app/web", "logStreamName": "i-1"})
    put = await logs.ok(
        "PutLogEvents",
        {
            "logGroupName": "/app/web",
            "logStreamName": "i-1",
            "sequenceToken": "ignored",
            "logEvents": [
                {"timestamp": NOW - 2, "message": "GET / 200"},
                {"timestamp": NOW - 1, "message": '{"status": 500}'},
                {"timestamp": NOW + 3 * 3_600_000, "message": "from the future"},
            ],
        },
    )
    assert put == {"rejectedLogEventsInfo": {"tooNewLogEventStartIndex": 2}}
    [group] = (await logs.ok("DescribeLogGroups", {"logGroupNamePrefix": "/app"}))["logGroups"]
    assert group == {
        "logGroupName": "/app/web",
        "creationTime": NOW,
        "retentionInDays": 7,
        "metricFilterCount": 0,
        "arn": arn + ":*",
        "logGroupArn": arn,
        "storedBytes": len("GET / 200") + len('{"status": 500}'),
        "logGroupClass": "STANDARD",
        "deletionProtectionEnabled": False,
    }
    [stream] = (await logs.ok("DescribeLogStreams", {"logGroupIdentifier": arn}))["logStreams"]
    assert stream["firstEventTimestamp"] == NOW - 2 and stream["lastEventTimestamp"] == NOW - 1
    assert stream["arn"] == arn + ":log-stream:i-1"
    got = await logs.ok(
        "GetLogEvents", {"logGroupName": "/app/web", "logStreamName": "i-1", "startFromHead": True}
    )
    assert [e["message"] for e in got["events"]] == ["GET / 200", '{"status": 500}']
    assert got["events"][0] == {"timestamp": NOW - 2, "message": "GET / 200", "ingestionTime": NOW}
    again = await logs.ok(
        "GetLogEvents",
        {"logGroupName": "/app/web", "logStreamName": "i-1", "nextToken": got["nextForwardToken"]},
    )
    assert again["events"] == [] and again["nextForwardToken"] == got["nextForwardToken"]
    found = await logs.ok(
        "FilterLogEvents", {"logGroupName": "/app/web", "filterPattern": "{ $.status >= 500 }"}
    )
    assert [(e["logStreamName"], e["message"]) for e in found["events"]] == [
        ("i-1", '{"status": 500}')
    ]
    assert "nextToken" not in found
    assert (await logs.ok("ListTagsForResource", {"resourceArn": arn}))["tags"] == {"a": "1"}
    await logs.ok("TagResource", {"resourceArn": arn, "tags": {"b": "2"}})
    await logs.ok("UntagLogGroup", {"logGroupName": "/app/web", "tags": ["a"]})
    assert (await logs.ok("ListTagsLogGroup", {"logGroupName": "/app/web"}))["tags"] == {"b": "2"}
    await logs.ok("DeleteRetentionPolicy", {"logGroupName": "/app/web"})
    await logs.ok("DeleteLogStream", {"logGroupName": "/app/web", "logStreamName": "i-1"})
    await logs.ok("DeleteLogGroup", {"logGroupName": "/app/web"})
    assert (await logs.ok("DescribeLogGroups", {}))["logGroups"] == []


@pytest.mark.parametrize(
    ("operation", "params", "error_type", "status"),
    [
        ("CreateLogGroup", {"logGroupName": "bad name"}, "InvalidParameterException", 400),
        ("CreateLogGroup", {"logGroupName": 5}, "InvalidParameterException", 400),
        ("CreateLogGroup", {}, "InvalidParameterException", 400),
        (
            "CreateLogGroup",
            {"logGroupName": "x", "logGroupClass": "DELIVERY"},
            "InvalidParameterException",
            400,
        ),
        ("DeleteLogGroup", {"logGroupName": "missing"}, "ResourceNotFoundException", 400),
        (
            "PutLogEvents",
            {"logGroupName": "g", "logStreamName": "missing", "logEvents": []},
            "ResourceNotFoundException",
            400,
        ),
        (
            "PutLogEvents",
            {"logGroupName": "g", "logStreamName": "s", "logEvents": [{"timestamp": "x"}]},
            "InvalidParameterException",
            400,
        ),
        (
            "GetLogEvents",
            {"logGroupName": "g", "logStreamName": "s", "nextToken": "nope"},
            "InvalidParameterException",
            400,
        ),
        (
            "FilterLogEvents",
            {"logGroupName": "g", "filterPattern": "%ERROR%"},
            "InvalidParameterException",
            400,
        ),
        (
            "PutRetentionPolicy",
            {"logGroupName": "g", "retentionInDays": 2},
            "InvalidParameterException",
            400,
        ),
        ("DescribeLogGroups", {"limit": 51}, "InvalidParameterException", 400),
        (
            "AssociateKmsKey",
            {"logGroupName": "g", "kmsKeyId": "arn:aws:kms:eu-fr-1:000000000000:key/x"},
            "InvalidParameterException",
            400,
        ),
        ("CreateLogGroup", {"logGroupName": "g"}, "ResourceAlreadyExistsException", 400),
        ("DescribeDestinations", {}, "UnsupportedOperationException", 501),
        ("StartQuery", {"logGroupName": "g"}, "InvalidParameterException", 400),
        ("GetQueryResults", {"queryId": "nope"}, "ResourceNotFoundException", 400),
        ("PutDestination", {}, "UnsupportedOperationException", 501),
        (
            "PutMetricFilter",
            {"logGroupName": "g", "filterName": "f", "filterPattern": "%x%"},
            "InvalidParameterException",
            400,
        ),
        (
            "DeleteMetricFilter",
            {"logGroupName": "g", "filterName": "f"},
            "ResourceNotFoundException",
            400,
        ),
        ("TestMetricFilter", {"filterPattern": "x"}, "InvalidParameterException", 400),
        ("Nonsense", {}, "UnknownOperationException", 400),
    ],
)
async def test_errors_in_logs_words(
    logs: Harness, operation: str, params: dict[str, object], error_type: str, status: int
) -> None:
    await logs.ok("CreateLogGroup", {"logGroupName": "g"})
    await logs.ok("CreateLogStream", {"logGroupName": "g", "logStreamName": "s"})
    reply = await logs.call(operation, params)
    assert (reply.status, reply.error_fields()["__type"]) == (status, error_type), reply.body
    assert reply.headers["x-amzn-requestid"]


async def test_bad_json_and_unsigned(logs: Harness) -> None:
    reply = await logs.call("DescribeLogGroups", b"{not json")
    assert reply.error_fields()["__type"] == "SerializationException"
    reply = await logs.anonymous().call("DescribeLogGroups", {})
    assert reply.error_fields()["__type"] == "MissingAuthenticationTokenException"


async def test_iam_user_refused_and_audit_of_control_calls_only(logs: Harness) -> None:
    user = await logs.iam_user("dev")
    reply = await user.call("CreateLogGroup", {"logGroupName": "denied"})
    fields = reply.error_fields()
    assert (
        fields["__type"] == "AccessDeniedException" and "logs:CreateLogGroup" in fields["message"]
    )
    reply = await user.call("GetLogEvents", {"logGroupName": "denied", "logStreamName": "s"})
    assert reply.error_fields()["__type"] == "AccessDeniedException"
    await logs.ok("CreateLogGroup", {"logGroupName": "audited"})
    await logs.ok("CreateLogStream", {"logGroupName": "audited", "logStreamName": "s"})
    await logs.ok(
        "PutLogEvents",
        {
            "logGroupName": "audited",
            "logStreamName": "s",
            "logEvents": [{"timestamp": NOW, "message": "x" * 74}],
        },
    )
    await logs.ok("GetLogEvents", {"logGroupName": "audited", "logStreamName": "s"})
    await logs.audit.flush()
    events = [e for _, e in await logs.audit_store.list_events(None, after_id=0, limit=100)]
    actions = [(e.action, e.resource, e.outcome.value) for e in events]
    group = f"arn:aws:logs:eu-fr-1:{logs.tenant_id}:log-group:"
    assert ("logs:CreateLogGroup", group + "denied", "failure") in actions
    assert ("logs:CreateLogGroup", group + "audited", "success") in actions
    assert ("logs:CreateLogStream", group + "audited:log-stream:s", "success") in actions
    # Data calls are not audited, unless refused.
    assert ("logs:GetLogEvents", group + "denied:log-stream:s", "failure") in actions
    assert not [
        a
        for a in actions
        if a[0] == "logs:PutLogEvents" or (a[2] == "success" and a[0] == "logs:GetLogEvents")
    ]
    await logs.billing.flush()
    month = parse_month(datetime.now(UTC).strftime("%Y-%m"))
    report = await logs.billing.usage_report(logs.tenant_id, month)
    usage = {line.meter: line.quantity for line in report.lines}
    assert usage["logs.requests"] == 4 and usage["logs.ingested"] == 100


def test_the_shared_port_routes_logs_by_scope_and_unsigned_target() -> None:
    signed = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "query_string": b"",
        "headers": [
            (
                b"authorization",
                b"AWS4-HMAC-SHA256 Credential=AKIA/20261205/eu-fr-1/logs/aws4_request, "
                b"SignedHeaders=host, Signature=00",
            )
        ],
    }
    assert api_service(signed) == "logs"
    unsigned = {**signed, "headers": [(b"x-amz-target", b"Logs_20140328.DescribeLogGroups")]}
    assert api_service(unsigned) == "logs"
    assert api_service({**signed, "headers": []}) == "s3"


_MODEL = botocore.session.get_session().get_service_model("logs")
_ODD_VALUES: list[object] = [
    None,
    0,
    -1,
    2**70,
    True,
    "",
    "x" * 600,
    "a:b*",
    [],
    ["x"],
    {},
    {"a": 1},
]


async def test_no_odd_parameter_reaches_a_500(tmp_path: Path) -> None:
    """Every served operation, each of its parameters given each odd value, over the
    SQLite store: the answer is Logs' own error (or a success), never a fault."""
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    try:
        blobs = RegionalBlobs({REGION: LocalBlobStore(tmp_path / "blobs", fsync=False)}, REGION)
        objects = ObjectService(SqlMetadataStore(db), blobs, LIMITS, cipher_in(tmp_path / "k"))
        for world in logs_world(tmp_path / "w", store=SqlLogStore(db)):
            # Session 49: the export tasks served too, into a bucket of another account.
            await objects.create_bucket(
                "odd-bucket", tenant_id="other", owner_id="o", region=REGION
            )
            destination = BucketExportDestination(objects, REGION)
            exports = ExportService(world.service, SqlExportStore(db), destination)
            harness = await harness_over(world, tmp_path, exports)
            try:
                await _odd_parameters(harness)
            finally:
                await harness.audit.close()
                await harness.billing.close()
    finally:
        await db.close()


async def _odd_parameters(logs: Harness) -> None:
    await logs.ok("CreateLogGroup", {"logGroupName": "g"})
    await logs.ok("CreateLogStream", {"logGroupName": "g", "logStreamName": "s"})
    base = {"logGroupName": "g", "logStreamName": "s"}
    for operation in ACTIONS:
        # Each member of the operation's input in AWS's model.
        for name in _MODEL.operation_model(operation).input_shape.members:
            for value in _ODD_VALUES:
                reply = await logs.call(operation, {**base, name: value})
                assert reply.status < 500, (operation, name, value, reply.body)


async def test_a_policy_on_group_arns_allows_those_groups_and_their_streams(logs: Harness) -> None:
    """The common policy: ``logs:*`` on ``…:log-group:app-*`` (the groups) and
    ``…:log-group:app-*:*`` (their streams); another group stays refused."""
    user = await logs.iam_user("writer")
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": [
                    "arn:aws:logs:*:*:log-group:app-*",
                    "arn:aws:logs:*:*:log-group:app-*:log-stream:*",
                ],
            }
        ],
    }
    await logs.identity.put_user_policy(logs.tenant_id, "writer", "logs", json.dumps(document))
    await user.ok("CreateLogGroup", {"logGroupName": "app-1"})
    await user.ok("CreateLogStream", {"logGroupName": "app-1", "logStreamName": "s"})
    await user.ok(
        "PutLogEvents",
        {
            "logGroupName": "app-1",
            "logStreamName": "s",
            "logEvents": [{"timestamp": NOW, "message": "allowed"}],
        },
    )
    refused = await user.call("CreateLogGroup", {"logGroupName": "other"})
    assert refused.error_fields()["__type"] == "AccessDeniedException"
    refused = await user.call("GetLogEvents", {"logGroupName": "app-1", "logStreamName": "s"})
    assert refused.error_fields()["__type"] == "AccessDeniedException"


async def test_another_account_sees_none_of_the_groups(logs: Harness) -> None:
    await logs.ok("CreateLogGroup", {"logGroupName": "mine", "tags": {"k": "v"}})
    await logs.ok("CreateLogStream", {"logGroupName": "mine", "logStreamName": "s"})
    other = await logs.other_tenant("other")
    assert (await other.ok("DescribeLogGroups", {}))["logGroups"] == []
    arn = f"arn:aws:logs:eu-fr-1:{logs.tenant_id}:log-group:mine"
    for operation, params in [
        ("ListTagsForResource", {"resourceArn": arn}),
        ("GetLogEvents", {"logGroupIdentifier": arn, "logStreamName": "s"}),
        ("GetLogEvents", {"logGroupName": "mine", "logStreamName": "s"}),
        ("DeleteLogGroup", {"logGroupName": "mine"}),
    ]:
        reply = await other.call(operation, params)
        assert reply.error_fields()["__type"] == "ResourceNotFoundException", operation
    await other.ok("CreateLogGroup", {"logGroupName": "mine"})  # its own, of the same name
    assert (await logs.ok("ListTagsLogGroup", {"logGroupName": "mine"}))["tags"] == {"k": "v"}


async def test_metric_filters_in_aws_shapes_and_audited(logs: Harness) -> None:
    await logs.ok("CreateLogGroup", {"logGroupName": "web"})
    transformation = {
        "metricName": "Bytes",
        "metricNamespace": "App",
        "metricValue": "$size",
        "dimensions": {"Status": "$status"},
        "unit": "Bytes",
    }
    put = {
        "logGroupName": "web",
        "filterName": "4xx-bytes",
        "filterPattern": "[ip, ..., status = 4*, size]",
        "metricTransformations": [transformation],
    }
    assert await logs.ok("PutMetricFilter", put) == {}
    [described] = (await logs.ok("DescribeMetricFilters", {"logGroupName": "web"}))["metricFilters"]
    assert described == {
        "filterName": "4xx-bytes",
        "filterPattern": "[ip, ..., status = 4*, size]",
        "metricTransformations": [transformation],
        "creationTime": NOW,
        "logGroupName": "web",
        "applyOnTransformedLogs": False,
    }
    [group] = (await logs.ok("DescribeLogGroups", {}))["logGroups"]
    assert group["metricFilterCount"] == 1
    tested = await logs.ok(
        "TestMetricFilter",
        {
            "filterPattern": "[ip, ..., status = 4*, size]",
            "logEventMessages": ["1.2.3.4 x 404 9", "nope"],
        },
    )
    assert tested == {
        "matches": [
            {
                "eventNumber": 1,
                "eventMessage": "1.2.3.4 x 404 9",
                "extractedValues": {"$ip": "1.2.3.4", "$status": "404", "$size": "9"},
            }
        ]
    }
    await logs.ok("DeleteMetricFilter", {"logGroupName": "web", "filterName": "4xx-bytes"})
    assert (await logs.ok("DescribeMetricFilters", {}))["metricFilters"] == []
    await logs.audit.flush()
    events = [e for _, e in await logs.audit_store.list_events(None, after_id=0, limit=100)]
    actions = {(e.action, e.resource) for e in events}
    arn = f"arn:aws:logs:eu-fr-1:{logs.tenant_id}:log-group:web"
    assert {("logs:PutMetricFilter", arn), ("logs:DeleteMetricFilter", arn)} <= actions


async def test_account_resource_policies(logs: Harness) -> None:
    document = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                    "Resource": "*",
                }
            ],
        }
    )
    put = await logs.ok("PutResourcePolicy", {"policyName": "events", "policyDocument": document})
    assert put == {
        "resourcePolicy": {
            "policyName": "events",
            "policyDocument": document,
            "lastUpdatedTime": NOW,
            "policyScope": "ACCOUNT",
        }
    }
    await logs.ok("PutResourcePolicy", {"policyName": "other", "policyDocument": document})
    first = await logs.ok("DescribeResourcePolicies", {"limit": 1})
    assert [p["policyName"] for p in first["resourcePolicies"]] == ["events"]
    rest = await logs.ok("DescribeResourcePolicies", {"nextToken": first["nextToken"]})
    assert [p["policyName"] for p in rest["resourcePolicies"]] == ["other"]
    assert "nextToken" not in rest
    for params in (
        {"policyName": "x", "policyDocument": "not json"},
        {"policyName": "x", "policyDocument": "[]"},
        {"policyName": "x", "policyDocument": "x" * 5121},
        {"policyName": "", "policyDocument": document},
        {"policyName": "x", "policyDocument": document, "resourceArn": "arn:aws:logs:x"},
    ):
        reply = await logs.call("PutResourcePolicy", params)
        assert reply.error_fields()["__type"] == "InvalidParameterException", params
    await logs.ok("DeleteResourcePolicy", {"policyName": "events"})
    reply = await logs.call("DeleteResourcePolicy", {"policyName": "events"})
    assert reply.error_fields()["__type"] == "ResourceNotFoundException"
    await logs.audit.flush()
    events = [e for _, e in await logs.audit_store.list_events(None, after_id=0, limit=100)]
    assert {"logs:PutResourcePolicy", "logs:DeleteResourcePolicy"} <= {e.action for e in events}
