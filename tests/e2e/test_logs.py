"""CloudWatch Logs end to end (decision 0186): one real ``andromede serve`` driven by boto3's
``logs`` client (groups, streams, PutLogEvents with AWS's rejected events, GetLogEvents'
paginator stopping on AWS's repeated token, FilterLogEvents with a JSON pattern, tags, a
group under a customer-managed KMS key), by the aws CLI's ``aws logs`` (awscli v1 has no
``tail``: ``filter-log-events`` is what it runs, see the decision), an unsigned call refused
in Logs' words, the retention sweep (every half second here) emptying a group, no event
in clear anywhere in the data folder, and (session 48) a metric filter over space-delimited
lines whose values CloudWatch's GetMetricStatistics reads back, and an account's resource
policy; (session 49) a group exported into a bucket under its policy and read back;
(session 50) a pattern query and a live tail session; (session 52) an Infrequent Access group
under deletion protection (decision 0222)."""

from __future__ import annotations

import base64
import gzip
import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from e2e.clients import aws_cli
from support.delivery_streams import active_stream
from support.server import REGION, ServerProcess, running_server
from support.service_roles import service_role

pytestmark = pytest.mark.e2e

CANARY = "canary-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("logs") / "data"
    env = {
        "ANDROMEDE_WORKERS": "1",
        "ANDROMEDE_LOGS_RETENTION_INTERVAL": "0.5",
        "ANDROMEDE_LOGS_METRIC_FLUSH_INTERVAL": "0.5",
    }
    with running_server(data_dir, extra_env=env) as started:
        yield started


def client(server: ServerProcess, service: str) -> Any:
    access_key, secret_key = server.credentials()
    make: Any = boto3.client
    return make(
        service,
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=Config(retries={"max_attempts": 1}),
    )


def now_ms() -> int:
    return int(time.time() * 1000)


def test_boto3_groups_streams_events_and_filters(server: ServerProcess) -> None:
    logs = client(server, "logs")
    logs.create_log_group(logGroupName="/app/web", tags={"team": "web"})
    with pytest.raises(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName="/app/web")
    logs.put_retention_policy(logGroupName="/app/web", retentionInDays=30)
    logs.create_log_stream(logGroupName="/app/web", logStreamName="i-1")
    start = now_ms() - 60_000
    events = [
        {
            "timestamp": start + n,
            "message": json.dumps({"n": n, "level": "ERROR" if n % 3 else "INFO"}),
        }
        for n in range(25)
    ]
    events.append({"timestamp": now_ms() + 3 * 3_600_000, "message": "from the future"})
    answer = logs.put_log_events(logGroupName="/app/web", logStreamName="i-1", logEvents=events)
    assert answer["rejectedLogEventsInfo"] == {"tooNewLogEventStartIndex": 25}
    [group] = logs.describe_log_groups(logGroupNamePrefix="/app")["logGroups"]
    assert group["retentionInDays"] == 30 and group["storedBytes"] > 0
    assert group["arn"].endswith(":log-group:/app/web:*")
    # What the CLI and SDK loops do: stop when the token comes back unchanged, as on AWS.
    read: list[int] = []
    token = None
    while True:
        page = logs.get_log_events(
            logGroupName="/app/web",
            logStreamName="i-1",
            startFromHead=True,
            limit=10,
            **({"nextToken": token} if token else {}),
        )
        read += [json.loads(e["message"])["n"] for e in page["events"]]
        if page["nextForwardToken"] == token:
            break
        token = page["nextForwardToken"]
    assert read == list(range(25))
    found = logs.filter_log_events(
        logGroupName="/app/web", filterPattern='{ $.level = "INFO" && $.n > 10 }'
    )["events"]
    assert [json.loads(e["message"])["n"] for e in found] == [12, 15, 18, 21, 24]
    pages = logs.get_paginator("filter_log_events").paginate(
        logGroupName="/app/web", filterPattern="ERROR", PaginationConfig={"PageSize": 4}
    )
    assert len([e for page in pages for e in page["events"]]) == 16
    assert logs.list_tags_for_resource(resourceArn=group["logGroupArn"])["tags"] == {"team": "web"}
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.filter_log_events(logGroupName="/app/web", filterPattern="%ERROR%")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.get_log_events(logGroupName="/app/web", logStreamName="missing")
    # A call not served (cross-account destinations) is 501, never a 500 (subscription
    # filters, the example before, are served since decision 0225).
    with pytest.raises(ClientError) as caught:
        logs.describe_destinations()
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501


def test_a_logs_insights_query(server: ServerProcess) -> None:
    """Session 48: boto3's start_query, get_query_results polled to Complete, a malformed
    query refused in AWS's words, DescribeQueries and StopQuery; session 49: a query of
    functions, new aggregations and two stats."""
    logs = client(server, "logs")
    logs.create_log_group(logGroupName="/app/insights")
    logs.create_log_stream(logGroupName="/app/insights", logStreamName="s")
    minute = (now_ms() // 60_000 - 5) * 60_000
    events = [
        {
            "timestamp": minute + (n // 4) * 60_000 + n,
            "message": json.dumps({"status": 500 if n % 2 else 200, "path": f"/p{n % 3}"}),
        }
        for n in range(8)
    ]
    logs.put_log_events(logGroupName="/app/insights", logStreamName="s", logEvents=events)
    query_id = logs.start_query(
        logGroupName="/app/insights",
        startTime=minute // 1000 - 60,
        endTime=now_ms() // 1000,
        queryString="fields @timestamp, @message | filter status >= 500 "
        "| stats count(*) by bin(1m)",
    )["queryId"]
    deadline = time.monotonic() + 30
    while True:
        answer = logs.get_query_results(queryId=query_id)
        if answer["status"] not in ("Scheduled", "Running") or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert answer["status"] == "Complete"
    stamp = datetime.fromtimestamp(minute / 1000, UTC).strftime("%Y-%m-%d %H:%M:00.000")
    later = datetime.fromtimestamp(minute / 1000 + 60, UTC).strftime("%Y-%m-%d %H:%M:00.000")
    assert answer["results"] == [
        [{"field": "bin(1m)", "value": stamp}, {"field": "count(*)", "value": "2"}],
        [{"field": "bin(1m)", "value": later}, {"field": "count(*)", "value": "2"}],
    ]
    assert answer["statistics"]["recordsScanned"] == 8
    assert answer["statistics"]["recordsMatched"] == 4
    # Session 49: functions, the new aggregations and a second stats over the first's rows.
    query_id = logs.start_query(
        logGroupName="/app/insights",
        startTime=minute // 1000 - 60,
        endTime=now_ms() // 1000,
        queryString='fields concat(toupper(substr(path, 1)), "-", status) as key '
        '| filter isIpInSubnet("10.0.0.1", "10.0.0.0/8") and status ^ 1 >= 200 '
        "| stats count_distinct(key) as keys, stddev(status) as sd by bin(1m) "
        "| stats sum(keys) as total, max(sd) as worst",
    )["queryId"]
    for _ in range(300):
        answer = logs.get_query_results(queryId=query_id)
        if answer["status"] not in ("Scheduled", "Running"):
            break
        time.sleep(0.1)
    assert answer["results"] == [
        [{"field": "total", "value": "8"}, {"field": "worst", "value": "173.20508075688772"}]
    ]
    # Session 50: the events' patterns.
    query_id = logs.start_query(
        logGroupName="/app/insights",
        startTime=minute // 1000 - 60,
        endTime=now_ms() // 1000,
        queryString="pattern @message | sort @sampleCount desc",
    )["queryId"]
    for _ in range(300):
        answer = logs.get_query_results(queryId=query_id)
        if answer["status"] not in ("Scheduled", "Running"):
            break
        time.sleep(0.1)
    rows = [{f["field"]: f["value"] for f in row} for row in answer["results"]]
    assert [(r["@pattern"], r["@sampleCount"], r["@ratio"]) for r in rows] == [
        ('{"status": <*> "path": <*>', "8", "1")
    ]
    with pytest.raises(logs.exceptions.MalformedQueryException) as caught:
        logs.start_query(
            logGroupName="/app/insights", startTime=0, endTime=1, queryString="fields | oops"
        )
    assert "unexpected symbol found |" in caught.value.response["Error"]["Message"]
    listed = logs.describe_queries(logGroupName="/app/insights")["queries"]
    assert [q["status"] for q in listed] == ["Complete"] * 3
    assert listed[0]["queryId"] == query_id
    assert logs.stop_query(queryId=query_id)["success"] is False


def test_a_live_tail_session(server: ServerProcess) -> None:
    """Session 50: boto3's start_live_tail (host prefix injection off, as any endpoint
    that is not AWS's needs): sessionStart, then the events put meanwhile that match the
    filter pattern in a sessionUpdate, read from the event stream until the client closes
    it; a missing group refused in AWS's words."""
    access_key, secret_key = server.credentials()
    make: Any = boto3.client
    logs = make(
        "logs",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=Config(retries={"max_attempts": 1}, inject_host_prefix=False),
    )
    logs.create_log_group(logGroupName="/app/tail")
    logs.create_log_stream(logGroupName="/app/tail", logStreamName="web-1")
    arn = logs.describe_log_groups(logGroupNamePrefix="/app/tail")["logGroups"][0]["arn"]
    stream = logs.start_live_tail(
        logGroupIdentifiers=[arn.removesuffix(":*")],
        logStreamNamePrefixes=["web-"],
        logEventFilterPattern="ERROR",
    )["responseStream"]
    found: list[dict[str, Any]] = []
    started: dict[str, Any] = {}
    deadline = time.monotonic() + 20
    for item in stream:
        if "sessionStart" in item:
            started = item["sessionStart"]
            logs.put_log_events(
                logGroupName="/app/tail",
                logStreamName="web-1",
                logEvents=[
                    {"timestamp": now_ms(), "message": "ERROR upstream timed out"},
                    {"timestamp": now_ms(), "message": "INFO all good"},
                ],
            )
        elif "sessionUpdate" in item:
            found += item["sessionUpdate"]["sessionResults"]
        if found or time.monotonic() > deadline:
            break
    stream.close()
    assert started["logStreamNamePrefixes"] == ["web-"] and started["sessionId"]
    assert [(e["logStreamName"], e["message"]) for e in found] == [
        ("web-1", "ERROR upstream timed out")
    ]
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.start_live_tail(logGroupIdentifiers=["/app/none"])


def test_a_group_under_a_customer_key(server: ServerProcess) -> None:
    logs, kms = client(server, "logs"), client(server, "kms")
    key = kms.create_key()["KeyMetadata"]
    logs.create_log_group(logGroupName="sealed", kmsKeyId=key["Arn"])
    logs.create_log_stream(logGroupName="sealed", logStreamName="s")
    logs.put_log_events(
        logGroupName="sealed",
        logStreamName="s",
        logEvents=[{"timestamp": now_ms(), "message": CANARY + "-kms"}],
    )
    [group] = logs.describe_log_groups(logGroupNamePrefix="sealed")["logGroups"]
    assert group["kmsKeyId"] == key["Arn"]
    got = logs.get_log_events(logGroupName="sealed", logStreamName="s")["events"]
    assert [e["message"] for e in got] == [CANARY + "-kms"]
    kms.disable_key(KeyId=key["KeyId"])
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.get_log_events(logGroupName="sealed", logStreamName="s")
    kms.enable_key(KeyId=key["KeyId"])
    logs.disassociate_kms_key(logGroupName="sealed")
    assert "kmsKeyId" not in logs.describe_log_groups(logGroupNamePrefix="sealed")["logGroups"][0]


def test_an_infrequent_access_group_and_deletion_protection(server: ServerProcess) -> None:
    """Decision 0222 through boto3: the class shown and filtered by, what IA lacks refused,
    and a protected group refused its deletion until the protection is off."""
    logs = client(server, "logs")
    logs.create_log_group(
        logGroupName="/cold/audit",
        logGroupClass="INFREQUENT_ACCESS",
        deletionProtectionEnabled=True,
    )
    [group] = logs.describe_log_groups(logGroupClass="INFREQUENT_ACCESS")["logGroups"]
    assert group["logGroupName"] == "/cold/audit" and group["logGroupClass"] == "INFREQUENT_ACCESS"
    assert group["deletionProtectionEnabled"] is True
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.put_metric_filter(
            logGroupName="/cold/audit",
            filterName="f",
            filterPattern="ERROR",
            metricTransformations=[
                {"metricName": "m", "metricNamespace": "App", "metricValue": "1"}
            ],
        )
    with pytest.raises(ClientError) as caught:
        logs.delete_log_group(logGroupName="/cold/audit")
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    logs.put_log_group_deletion_protection(
        logGroupIdentifier="/cold/audit", deletionProtectionEnabled=False
    )
    logs.delete_log_group(logGroupName="/cold/audit")


def test_aws_cli(server: ServerProcess, tmp_path: Path) -> None:
    aws = aws_cli(server, tmp_path)
    aws("logs", "create-log-group", "--log-group-name", "cli")
    aws("logs", "create-log-stream", "--log-group-name", "cli", "--log-stream-name", "s")
    at = now_ms()
    events = json.dumps(
        [
            {"timestamp": at, "message": "hello from the cli"},
            {"timestamp": at + 1, "message": "bye"},
        ]
    )
    aws(
        "logs",
        "put-log-events",
        "--log-group-name",
        "cli",
        "--log-stream-name",
        "s",
        "--log-events",
        events,
    )
    out = json.loads(
        aws(
            "logs", "filter-log-events", "--log-group-name", "cli", "--filter-pattern", "hello"
        ).stdout
    )
    assert [e["message"] for e in out["events"]] == ["hello from the cli"]
    out = json.loads(
        aws("logs", "get-log-events", "--log-group-name", "cli", "--log-stream-name", "s").stdout
    )
    assert [e["message"] for e in out["events"]] == ["hello from the cli", "bye"]
    groups = json.loads(aws("logs", "describe-log-groups").stdout)["logGroups"]
    assert "cli" in [g["logGroupName"] for g in groups]
    aws("logs", "delete-log-group", "--log-group-name", "cli")


def test_an_unsigned_call_is_refused_in_logs_words(server: ServerProcess) -> None:
    request = urllib.request.Request(
        f"{server.endpoint}/",
        data=b"{}",
        method="POST",
        headers={
            "X-Amz-Target": "Logs_20140328.DescribeLogGroups",
            "Content-Type": "application/x-amz-json-1.1",
        },
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 400
    assert json.loads(caught.value.read())["__type"] == "MissingAuthenticationTokenException"


def test_a_vpc_flow_log_to_a_log_group(server: ServerProcess) -> None:
    """Decision 0153's session-48 addendum: boto3 makes the flow log's role (trusting
    ``vpc-flow-logs.amazonaws.com``) and a VPC flow log to a CloudWatch Logs group, as AWS's
    guide does; DescribeFlowLogs shows the group, the role and the type; a cross-account role
    is refused in EC2's words. (The records' delivery is the contract test's, on the kernel.)"""
    iam, ec2 = client(server, "iam"), client(server, "ec2")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = iam.create_role(RoleName="flow-logs", AssumeRolePolicyDocument=json.dumps(trust))
    role_arn = role["Role"]["Arn"]
    vpc = ec2.create_vpc(CidrBlock="10.94.0.0/16")["Vpc"]["VpcId"]
    made = ec2.create_flow_logs(
        ResourceType="VPC",
        ResourceIds=[vpc],
        TrafficType="ALL",
        LogGroupName="/vpc/flows",
        DeliverLogsPermissionArn=role_arn,
    )
    [flow_log] = ec2.describe_flow_logs(FlowLogIds=made["FlowLogIds"])["FlowLogs"]
    assert flow_log["LogDestinationType"] == "cloud-watch-logs"
    assert (flow_log["LogGroupName"], flow_log["DeliverLogsPermissionArn"]) == (
        "/vpc/flows",
        role_arn,
    )
    assert flow_log["LogDestination"].endswith(":log-group:/vpc/flows")
    with pytest.raises(ClientError) as refused:
        ec2.create_flow_logs(
            ResourceType="VPC",
            ResourceIds=[vpc],
            TrafficType="REJECT",
            LogGroupName="/vpc/flows",
            DeliverLogsPermissionArn=role_arn,
            DeliverCrossAccountRole=role_arn,
        )
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert refused.value.response["ResponseMetadata"]["RequestId"]
    ec2.delete_flow_logs(FlowLogIds=made["FlowLogIds"])


def test_a_vpc_flow_log_to_a_firehose_stream(server: ServerProcess) -> None:
    """Decision 0348: boto3 makes a VPC flow log to a Firehose stream of the account, with the
    TCP flags, direction and traffic path in its format; DescribeFlowLogs shows the type and
    the stream; another account's stream is refused in EC2's words, and made with
    ``DeliverCrossAccountRole`` (decision 0370); the stream is tagged ``LogDeliveryEnabled``
    (decision 0387). (The records' delivery
    through Firehose is the unit tests', over the in-memory service.)"""
    ec2, sts = client(server, "ec2"), client(server, "sts")
    firehose, s3, iam = client(server, "firehose"), client(server, "s3"), client(server, "iam")
    account = sts.get_caller_identity()["Account"]
    s3.create_bucket(Bucket="flow-stream", CreateBucketConfiguration={"LocationConstraint": REGION})
    writer = service_role(
        iam, "flow-fh", "firehose.amazonaws.com", ("s3:PutObject", "arn:aws:s3:::flow-stream/*")
    )
    stream = firehose.create_delivery_stream(
        DeliveryStreamName="flows",
        ExtendedS3DestinationConfiguration={
            "RoleARN": writer, "BucketARN": "arn:aws:s3:::flow-stream",
        },
    )["DeliveryStreamARN"]  # fmt: skip
    active_stream(firehose, "flows", within=20)
    vpc = ec2.create_vpc(CidrBlock="10.95.0.0/16")["Vpc"]["VpcId"]
    made = ec2.create_flow_logs(
        ResourceType="VPC",
        ResourceIds=[vpc],
        TrafficType="ALL",
        LogDestinationType="kinesis-data-firehose",
        LogDestination=stream,
        LogFormat="${srcaddr} ${dstaddr} ${tcp-flags} ${flow-direction} ${traffic-path}",
    )
    [flow_log] = ec2.describe_flow_logs(FlowLogIds=made["FlowLogIds"])["FlowLogs"]
    assert (flow_log["LogDestinationType"], flow_log["LogDestination"]) == (
        "kinesis-data-firehose",
        stream,
    )
    assert "LogGroupName" not in flow_log and "DestinationOptions" not in flow_log
    # Decision 0387: serve's CreateFlowLogs tags the stream for the log delivery, as AWS.
    tags = firehose.list_tags_for_delivery_stream(DeliveryStreamName="flows")["Tags"]
    assert {"Key": "LogDeliveryEnabled", "Value": "true"} in tags
    with pytest.raises(ClientError) as refused:
        ec2.create_flow_logs(
            ResourceType="VPC",
            ResourceIds=[vpc],
            TrafficType="REJECT",
            LogDestinationType="kinesis-data-firehose",
            LogDestination=stream.replace(account, "999999999999"),
        )
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert refused.value.response["ResponseMetadata"]["RequestId"]
    # Decision 0370: into that account's stream through its role, assumed by one of ours.
    other = stream.replace(account, "999999999999")
    cross_role = "arn:aws:iam::999999999999:role/AWSLogDeliveryFirehoseCrossAccountRole"
    crossing = ec2.create_flow_logs(
        ResourceType="VPC",
        ResourceIds=[vpc],
        TrafficType="REJECT",
        LogDestinationType="kinesis-data-firehose",
        LogDestination=other,
        DeliverLogsPermissionArn=f"arn:aws:iam::{account}:role/mySourceRole",
        DeliverCrossAccountRole=cross_role,
    )
    [flow_log] = ec2.describe_flow_logs(FlowLogIds=crossing["FlowLogIds"])["FlowLogs"]
    assert (flow_log["LogDestination"], flow_log["DeliverCrossAccountRole"]) == (other, cross_role)
    ec2.delete_flow_logs(FlowLogIds=made["FlowLogIds"] + crossing["FlowLogIds"])


def test_retention_sweep_and_no_event_in_clear(server: ServerProcess) -> None:
    logs = client(server, "logs")
    logs.create_log_group(logGroupName="short")
    logs.create_log_stream(logGroupName="short", logStreamName="s")
    old = now_ms() - 3 * 86_400_000
    logs.put_log_events(
        logGroupName="short",
        logStreamName="s",
        logEvents=[{"timestamp": old, "message": "old " + CANARY}],
    )
    logs.put_log_events(
        logGroupName="short",
        logStreamName="s",
        logEvents=[{"timestamp": now_ms(), "message": "new " + CANARY}],
    )
    logs.put_retention_policy(logGroupName="short", retentionInDays=1)
    deadline = time.monotonic() + 15
    messages: list[str] = []
    while time.monotonic() < deadline:
        got = logs.get_log_events(logGroupName="short", logStreamName="s", startFromHead=True)
        messages = [e["message"] for e in got["events"]]
        if len(messages) == 1:
            break
        time.sleep(0.3)
    assert messages == ["new " + CANARY]
    group = logs.describe_log_groups(logGroupNamePrefix="short")["logGroups"][0]
    assert group["storedBytes"] == len("new " + CANARY)
    needles = [
        CANARY.encode(),
        base64.b64encode(CANARY.encode())[:40],
        CANARY.encode().hex().encode(),
    ]
    found = [
        path
        for path in server.data_dir.rglob("*")
        if path.is_file() and any(n in path.read_bytes() for n in needles)
    ]
    assert found == []


def test_a_metric_filter_feeds_cloudwatch(server: ServerProcess) -> None:
    logs, cloudwatch = client(server, "logs"), client(server, "cloudwatch")
    logs.create_log_group(logGroupName="/app/access")
    logs.create_log_stream(logGroupName="/app/access", logStreamName="web-1")
    pattern = "[ip, user, username, timestamp, request, status = 4*, size]"
    logs.put_metric_filter(
        logGroupName="/app/access",
        filterName="4xx-bytes",
        filterPattern=pattern,
        metricTransformations=[
            {
                "metricName": "ErrorBytes",
                "metricNamespace": "Web",
                "metricValue": "$size",
                "dimensions": {"Status": "$status"},
                "unit": "Bytes",
            }
        ],
    )
    [described] = logs.describe_metric_filters(logGroupName="/app/access")["metricFilters"]
    assert described["metricTransformations"][0]["dimensions"] == {"Status": "$status"}
    line = '10.0.0.{} - - [05/Dec/2026:10:00:00 +0000] "GET /x HTTP/1.1" {} {}'
    tested = logs.test_metric_filter(
        filterPattern=pattern, logEventMessages=[line.format(1, 404, 10), line.format(2, 200, 5)]
    )
    assert [(m["eventNumber"], m["extractedValues"]["$size"]) for m in tested["matches"]] == [
        (1, "10")
    ]
    at = now_ms() - 60_000
    logs.put_log_events(
        logGroupName="/app/access",
        logStreamName="web-1",
        logEvents=[
            {"timestamp": at, "message": line.format(1, 404, 100)},
            {"timestamp": at + 1, "message": line.format(2, 200, 999)},
            {"timestamp": at + 2, "message": line.format(3, 404, 300)},
        ],
    )
    [group] = logs.describe_log_groups(logGroupNamePrefix="/app/access")["logGroups"]
    assert group["metricFilterCount"] == 1
    start = datetime.fromtimestamp(at / 1000 - 600, UTC)
    deadline = time.monotonic() + 20
    points: list[dict[str, Any]] = []
    while not points and time.monotonic() < deadline:
        time.sleep(0.5)
        points = cloudwatch.get_metric_statistics(
            Namespace="Web",
            MetricName="ErrorBytes",
            Dimensions=[{"Name": "Status", "Value": "404"}],
            StartTime=start,
            EndTime=datetime.now(UTC) + timedelta(minutes=1),
            Period=60,
            Statistics=["Sum", "SampleCount"],
        )["Datapoints"]
    assert [(p["Sum"], p["SampleCount"], p["Unit"]) for p in points] == [(400.0, 2.0, "Bytes")]
    expected_minute = datetime.fromtimestamp(at // 60_000 * 60, UTC)
    assert points[0]["Timestamp"] == expected_minute  # the events' minute, as AWS stamps it
    logs.delete_metric_filter(logGroupName="/app/access", filterName="4xx-bytes")
    assert logs.describe_metric_filters(logGroupName="/app/access")["metricFilters"] == []


def test_account_resource_policies(server: ServerProcess) -> None:
    logs = client(server, "logs")
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
    made = logs.put_resource_policy(policyName="events-to-logs", policyDocument=document)
    assert made["resourcePolicy"]["policyName"] == "events-to-logs"
    [policy] = logs.describe_resource_policies()["resourcePolicies"]
    assert json.loads(policy["policyDocument"]) == json.loads(document)
    logs.delete_resource_policy(policyName="events-to-logs")
    assert logs.describe_resource_policies()["resourcePolicies"] == []
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.delete_resource_policy(policyName="events-to-logs")
    # Decision 0232: the serve's Logs takes account-level subscription filter policies into
    # its Firehose: a stream that is not there refuses the test record, in AWS's words.
    account = client(server, "sts").get_caller_identity()["Account"]
    stream = f"arn:aws:firehose:{REGION}:{account}:deliverystream/absent"
    role = f"arn:aws:iam::{account}:role/absent"
    with pytest.raises(logs.exceptions.InvalidParameterException, match="test message"):
        logs.put_account_policy(
            policyName="everything",
            policyType="SUBSCRIPTION_FILTER_POLICY",
            policyDocument=json.dumps({"DestinationArn": stream, "RoleArn": role}),
            selectionCriteria='LogGroupName NOT IN ["events-to-logs"]',
        )
    kept = logs.describe_account_policies(policyType="SUBSCRIPTION_FILTER_POLICY")
    assert kept["accountPolicies"] == []
    # Field index policies are kept and answered (nothing indexed), as boto3 reads them.
    logs.create_log_group(logGroupName="indexed")
    fields = json.dumps({"Fields": ["requestId"]})
    logs.put_index_policy(logGroupIdentifier="indexed", policyDocument=fields)
    [own] = logs.describe_index_policies(logGroupIdentifiers=["indexed"])["indexPolicies"]
    assert (own["source"], own["policyDocument"]) == ("LOG_GROUP", fields)
    logs.delete_index_policy(logGroupIdentifier="indexed")
    assert logs.describe_index_policies(logGroupIdentifiers=["indexed"])["indexPolicies"] == []
    logs.delete_log_group(logGroupName="indexed")


def test_a_data_protection_policy_masks_what_boto3_reads(server: ServerProcess) -> None:
    """Decision 0211 through boto3 and a real serve: the address masked, unmasked on request
    (the account's root may), a findings report in the findings group and (session 51) in the
    findings bucket, Logs Insights' unmask(@message), the policy read back."""
    logs = client(server, "logs")
    s3 = boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=server.credentials()[0],
        aws_secret_access_key=server.credentials()[1],
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )
    s3.create_bucket(
        Bucket="protected-findings", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    for group in ("protected", "protected-findings"):
        logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName="protected", logStreamName="s")
    identifiers = ["arn:aws:dataprotection::aws:data-identifier/EmailAddress"]
    document = json.dumps(
        {
            "Name": "pii",
            "Version": "2021-06-01",
            "Statement": [
                {
                    "DataIdentifier": identifiers,
                    "Operation": {
                        "Audit": {
                            "FindingsDestination": {
                                "CloudWatchLogs": {"LogGroup": "protected-findings"},
                                "S3": {"Bucket": "protected-findings"},
                            }
                        }
                    },
                },
                {
                    "DataIdentifier": identifiers,
                    "Operation": {"Deidentify": {"MaskConfig": {}}},
                },
            ],
        }
    )
    logs.put_data_protection_policy(logGroupIdentifier="protected", policyDocument=document)
    got = logs.get_data_protection_policy(logGroupIdentifier="protected")
    assert got["policyDocument"] == document
    logs.put_log_events(
        logGroupName="protected",
        logStreamName="s",
        logEvents=[{"timestamp": now_ms(), "message": "mail jane@example.fr"}],
    )
    read = logs.get_log_events(logGroupName="protected", logStreamName="s")
    assert [e["message"] for e in read["events"]] == ["mail " + "*" * 15]
    read = logs.get_log_events(logGroupName="protected", logStreamName="s", unmask=True)
    assert [e["message"] for e in read["events"]] == ["mail jane@example.fr"]
    [report] = logs.get_log_events(logGroupName="protected-findings", logStreamName="protected")[
        "events"
    ]
    found = json.loads(report["message"])["dataIdentifiers"]
    assert found == [{"name": "EmailAddress", "count": 1, "detections": [{"start": 5, "end": 20}]}]
    [stored] = s3.list_objects_v2(Bucket="protected-findings", Prefix="AWSLogs/")["Contents"]
    body = s3.get_object(Bucket="protected-findings", Key=stored["Key"])["Body"].read()
    assert json.loads(body)["dataIdentifiers"] == found
    query_id = logs.start_query(
        logGroupName="protected",
        startTime=now_ms() // 1000 - 60,
        endTime=now_ms() // 1000 + 1,
        queryString="fields @message, unmask(@message) as plain",
    )["queryId"]
    deadline = time.monotonic() + 30
    while True:
        answer = logs.get_query_results(queryId=query_id)
        if answer["status"] not in ("Scheduled", "Running") or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    [row] = [{f["field"]: f["value"] for f in r} for r in answer["results"]]
    assert (row["@message"], row["plain"]) == ("mail " + "*" * 15, "mail jane@example.fr")
    [group] = logs.describe_log_groups(logGroupNamePrefix="protected-")["logGroups"]
    assert "dataProtectionStatus" not in group
    logs.delete_data_protection_policy(logGroupIdentifier="protected")


def test_an_export_task_to_a_bucket(server: ServerProcess) -> None:
    """Session 49: a group exported into a bucket whose policy lets
    ``logs.<region>.amazonaws.com`` in, as AWS's guide writes it; refused in AWS's words
    without it; the gzip object read back with boto3; GetLogGroupFields; a finished task
    cannot be cancelled."""
    logs = client(server, "logs")
    s3 = boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=server.credentials()[0],
        aws_secret_access_key=server.credentials()[1],
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )
    account = client(server, "sts").get_caller_identity()["Account"]
    s3.create_bucket(Bucket="log-exports", CreateBucketConfiguration={"LocationConstraint": REGION})
    logs.create_log_group(logGroupName="/export/app")
    logs.create_log_stream(logGroupName="/export/app", logStreamName="web")
    start = now_ms() - 30_000
    messages = [json.dumps({"n": n, "path": f"/p{n}"}) for n in range(5)]
    logs.put_log_events(
        logGroupName="/export/app",
        logStreamName="web",
        logEvents=[{"timestamp": start + n, "message": m} for n, m in enumerate(messages)],
    )
    task = {
        "taskName": "e2e",
        "logGroupName": "/export/app",
        "fromTime": start,
        "to": start + 10_000,
        "destination": "log-exports",
        "destinationPrefix": "cw",
    }
    with pytest.raises(ClientError) as refused:
        logs.create_export_task(**task)
    error = refused.value.response["Error"]
    assert error["Code"] == "InvalidParameterException"
    assert error["Message"].startswith("GetBucketAcl call on the given bucket failed.")
    service = {"Service": f"logs.{REGION}.amazonaws.com"}
    condition = {"StringEquals": {"aws:SourceAccount": account}}
    s3.put_bucket_policy(
        Bucket="log-exports",
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": service,
                        "Action": "s3:GetBucketAcl",
                        "Resource": "arn:aws:s3:::log-exports",
                        "Condition": condition,
                    },
                    {
                        "Effect": "Allow",
                        "Principal": service,
                        "Action": "s3:PutObject",
                        "Resource": "arn:aws:s3:::log-exports/*",
                        "Condition": {
                            "StringEquals": {
                                "s3:x-amz-acl": "bucket-owner-full-control",
                                "aws:SourceAccount": account,
                            }
                        },
                    },
                ],
            }
        ),
    )
    task_id = logs.create_export_task(**task)["taskId"]
    for _ in range(200):
        [found] = logs.describe_export_tasks(taskId=task_id)["exportTasks"]
        if found["status"]["code"] not in ("PENDING", "RUNNING"):
            break
        time.sleep(0.05)
    assert found["status"] == {"code": "COMPLETED", "message": "Completed successfully"}
    assert (found["taskName"], found["destinationPrefix"]) == ("e2e", "cw")
    assert found["executionInfo"]["completionTime"] >= found["executionInfo"]["creationTime"]
    test_object = s3.get_object(Bucket="log-exports", Key="cw/aws-logs-write-test")
    assert test_object["Body"].read() == b"Permission Check Successful"
    body = s3.get_object(Bucket="log-exports", Key=f"cw/{task_id}/web/000000.gz")["Body"].read()
    lines = gzip.decompress(body).decode().splitlines()
    stamp = datetime.fromtimestamp(start / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    assert lines[0] == f"{stamp}.{start % 1000:03d}Z {messages[0]}"
    assert [line.split(" ", 1)[1] for line in lines] == messages
    with pytest.raises(logs.exceptions.InvalidOperationException):
        logs.cancel_export_task(taskId=task_id)
    fields = logs.get_log_group_fields(logGroupName="/export/app", time=start // 1000 + 60)
    shares = {f["name"]: f["percent"] for f in fields["logGroupFields"]}
    assert shares["path"] == 100 and shares["@message"] == 100
