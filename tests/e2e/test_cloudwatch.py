"""CloudWatch metrics end to end (decision 0172): one real ``andromede serve`` driven by boto3's
``cloudwatch`` client (botocore 1.44 speaks Smithy RPC v2 CBOR to it), by the aws CLI's
``aws cloudwatch``, and by the JSON 1.0 and Query protocols older SDKs and Terraform speak
(requests built by botocore's own serializers, sent over HTTP). Another account sees none of
the metrics and may not write into ``AWS/``; the platform's ``AWS/SQS`` metrics appear in the
queue owner's account after sends and receives (the sampler runs every half second here); an
instance's ``AWS/EC2`` and ``AWS/EBS`` metrics from the memory host's figures, once boto3's
MonitorInstances switched it to 1-minute periods (decision 0178: gathered every second here).
Decision 0177: a metric alarm notifies its SNS topic's SQS subscriber and its step policy
scales an Auto Scaling group on the memory hypervisor (alarms and groups every half second).
Decision 0181: a bucket's daily ``BucketSizeBytes`` and ``NumberOfObjects`` read back with
boto3 at a one-day period (the daily job runs every two seconds here).
Decision 0183: metric math in boto3's GetMetricData and in a math alarm. Decision 0184: a
composite alarm over two metric alarms notifies its topic once both are in ALARM. Decision
0185: boto3's dashboards. Decision 0187: a bucket's metrics configuration put with boto3, then its
1-minute ``AWS/S3`` request metrics read back after a few GETs, PUTs and 404s (written every
half second here). Decision 0189: boto3's anomaly detector and its band. Decision 0233:
boto3's metric streams. Decision 0323: a function's ``AWS/Lambda`` invocations and errors."""

from __future__ import annotations

import io
import json
import os
import shutil
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import cbor2
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from e2e.clients import aws_cli
from e2e.iam_helpers import client_for, new_tenant
from support.launcher import run_command
from support.server import ANDROMEDE, REGION, ServerProcess, running_server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("cloudwatch") / "data"
    env = {
        "ANDROMEDE_WORKERS": "1",
        "ANDROMEDE_METRICS_PLATFORM_INTERVAL": "0.5",
        "ANDROMEDE_INSTANCE_METRICS_INTERVAL": "1",
        # Decision 0177: alarms evaluated, and groups converged, every half second; the
        # groups' instances on the memory hypervisor.
        "ANDROMEDE_ALARM_EVALUATION_INTERVAL": "0.5",
        "ANDROMEDE_AUTOSCALING_INTERVAL": "0.5",
        "ANDROMEDE_HYPERVISOR": "memory",
        "ANDROMEDE_MEMORY_HYPERVISOR_VCPUS": "8",
        "ANDROMEDE_MEMORY_HYPERVISOR_MEMORY_MIB": "8192",
        # Decision 0181: the daily AWS/S3 storage metrics every second, into today's point.
        "ANDROMEDE_S3_STORAGE_METRICS_INTERVAL": "2",
        # Decision 0187: the request metrics written every half second.
        "ANDROMEDE_S3_REQUEST_METRICS_FLUSH_INTERVAL": "0.5",
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


def minute(delta: int = 0) -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=delta)


def test_boto3_over_cbor_and_another_account(server: ServerProcess) -> None:
    cw = client(server, "cloudwatch")
    at = minute(-2)
    cw.put_metric_data(
        Namespace="Storefront",
        MetricData=[
            {
                "MetricName": "Latency",
                "Dimensions": [{"Name": "Route", "Value": "/cart"}],
                "Timestamp": at,
                "Values": [10.0, 20.0, 300.0],
                "Counts": [5, 4, 1],
                "Unit": "Milliseconds",
            },
            {"MetricName": "Orders", "Value": 3, "Unit": "Count", "StorageResolution": 1},
        ],
    )
    asked: dict[str, Any] = {
        "Namespace": "Storefront",
        "MetricName": "Latency",
        "Dimensions": [{"Name": "Route", "Value": "/cart"}],
        "StartTime": at,
        "EndTime": at + timedelta(minutes=1),
        "Period": 60,
    }
    [point] = cw.get_metric_statistics(**asked, Statistics=["SampleCount", "Average", "Maximum"])[
        "Datapoints"
    ]
    assert point["Timestamp"] == at and point["Unit"] == "Milliseconds"
    assert (point["SampleCount"], point["Average"], point["Maximum"]) == (10.0, 43.0, 300.0)
    [point] = cw.get_metric_statistics(**asked, ExtendedStatistics=["p90"])["Datapoints"]
    assert abs(point["ExtendedStatistics"]["p90"] - 20.0) <= 1.0
    pages = cw.get_paginator("list_metrics").paginate(Namespace="Storefront")
    names = sorted(m["MetricName"] for page in pages for m in page["Metrics"])
    assert names == ["Latency", "Orders"]
    data = cw.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "orders",
                "MetricStat": {
                    "Metric": {"Namespace": "Storefront", "MetricName": "Orders"},
                    "Period": 1,
                    "Stat": "Sum",
                },
            }
        ],
        StartTime=minute(-1),
        EndTime=minute(2),
    )
    assert data["MetricDataResults"][0]["Values"] == [3.0]
    with pytest.raises(ClientError) as refused:
        cw.put_metric_data(Namespace="AWS/SQS", MetricData=[{"MetricName": "X", "Value": 1}])
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValue"
    other = new_tenant(server, "cw")
    theirs = client_for(server, "cloudwatch", other.access_key_id, other.secret_access_key)
    assert theirs.list_metrics()["Metrics"] == []
    assert (
        theirs.get_metric_statistics(
            Namespace="Storefront",
            MetricName="Latency",
            Dimensions=[{"Name": "Route", "Value": "/cart"}],
            StartTime=at,
            EndTime=at + timedelta(minutes=1),
            Period=60,
            Statistics=["Sum"],
        )["Datapoints"]
        == []
    )


def test_unsigned_calls_get_cloudwatchs_own_refusal(server: ServerProcess) -> None:
    request = urllib.request.Request(
        server.endpoint + "/service/GraniteServiceVersion20100801/operation/ListMetrics",
        data=cbor2.dumps({}),
        headers={"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 403
    assert cbor2.loads(caught.value.read())["__type"].endswith("#MissingAuthenticationToken")
    assert caught.value.headers["x-amzn-query-error"] == "MissingAuthenticationToken;Sender"


def test_aws_cli(server: ServerProcess, tmp_path: Path) -> None:
    aws = aws_cli(server, tmp_path)
    at = minute(-1).strftime("%Y-%m-%dT%H:%M:%SZ")
    aws(
        "cloudwatch", "put-metric-data", "--namespace", "Cli", "--metric-name", "Jobs",
        "--dimensions", "Queue=batch", "--value", "7", "--unit", "Count", "--timestamp", at,
    )  # fmt: skip
    listed = json.loads(aws("cloudwatch", "list-metrics", "--namespace", "Cli").stdout)
    assert listed["Metrics"] == [
        {
            "Namespace": "Cli",
            "MetricName": "Jobs",
            "Dimensions": [{"Name": "Queue", "Value": "batch"}],
        }
    ]
    out = aws(
        "cloudwatch", "get-metric-statistics", "--namespace", "Cli", "--metric-name", "Jobs",
        "--dimensions", "Name=Queue,Value=batch", "--start-time", at,
        "--end-time", minute(1).strftime("%Y-%m-%dT%H:%M:%SZ"), "--period", "60",
        "--statistics", "Sum",
    )  # fmt: skip
    assert [p["Sum"] for p in json.loads(out.stdout)["Datapoints"]] == [7.0]


def _older_sdk_call(
    server: ServerProcess, protocol: str, operation: str, params: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    """One call as an SDK speaking ``protocol`` (json or query) sends it, over HTTP."""
    model = botocore.session.get_session().get_service_model("cloudwatch")
    op = model.operation_model(operation)
    serialized = create_serializer(protocol).serialize_to_request(params, op)
    body = serialized["body"]
    if isinstance(body, dict):
        body = AWSRequest(method="POST", url="http://x/", data=body).prepare().body
    body = body.encode() if isinstance(body, str) else body
    headers = dict(serialized["headers"])
    if protocol == "query":
        headers["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"
    request = AWSRequest(method="POST", url=server.endpoint + "/", data=body, headers=headers)
    SigV4Auth(Credentials(*server.credentials()), "monitoring", REGION).add_auth(request)
    sent = urllib.request.Request(
        server.endpoint + "/", data=body, headers=dict(request.headers.items()), method="POST"
    )
    try:
        with urllib.request.urlopen(sent, timeout=10) as answer:
            status, answer_headers, content = answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as failed:
        status, answer_headers, content = failed.code, dict(failed.headers), failed.read()
    headers_lower = {k.lower(): v for k, v in answer_headers.items()}
    parsed = create_parser(protocol).parse(
        {"status_code": status, "headers": headers_lower, "body": content}, op.output_shape
    )
    return status, parsed


@pytest.mark.parametrize("protocol", ["json", "query"])
def test_json_and_query_protocols(server: ServerProcess, protocol: str) -> None:
    at = minute(-1)
    status, _ = _older_sdk_call(
        server,
        protocol,
        "PutMetricData",
        {"Namespace": f"Old/{protocol}", "MetricData": [{"MetricName": "M", "Value": 2.5}]},
    )
    assert status == 200
    status, parsed = _older_sdk_call(
        server,
        protocol,
        "GetMetricStatistics",
        {
            "Namespace": f"Old/{protocol}",
            "MetricName": "M",
            "StartTime": at,
            "EndTime": minute(2),
            "Period": 180,
            "Statistics": ["Maximum"],
        },
    )
    assert status == 200 and [p["Maximum"] for p in parsed["Datapoints"]] == [2.5]
    status, parsed = _older_sdk_call(server, protocol, "ListMetrics", {"RecentlyActive": "PT2H"})
    assert status == 400 and parsed["Error"]["Code"] == "InvalidParameterValue"


def test_sqs_metrics_appear_for_the_queue_owner_only(server: ServerProcess) -> None:
    sqs, cw = client(server, "sqs"), client(server, "cloudwatch")
    url = sqs.create_queue(QueueName="metered")["QueueUrl"]
    for n in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{n}")
    [received] = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=received["ReceiptHandle"])
    dims = [{"Name": "QueueName", "Value": "metered"}]

    def total(name: str, statistic: str) -> float | None:
        points = cw.get_metric_statistics(
            Namespace="AWS/SQS",
            MetricName=name,
            Dimensions=dims,
            StartTime=minute(-1),
            EndTime=minute(1),
            Period=120,
            Statistics=[statistic],
        )["Datapoints"]
        return points[0][statistic] if points else None

    deadline = time.monotonic() + 10
    # The sends and the receive may be written by two flushes of the sink: both awaited.
    while (
        total("NumberOfMessagesSent", "Sum"),
        total("NumberOfMessagesReceived", "Sum"),
        total("NumberOfMessagesDeleted", "Sum"),
    ) != (3.0, 1.0, 1.0) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert total("NumberOfMessagesSent", "Sum") == 3.0
    assert total("NumberOfMessagesReceived", "Sum") == 1.0
    assert total("NumberOfMessagesDeleted", "Sum") == 1.0  # decision 0181
    assert total("ApproximateNumberOfMessagesVisible", "Maximum") == 2.0
    age = total("ApproximateAgeOfOldestMessage", "Maximum")
    assert age is not None and 0 <= age < 60
    names = {m["MetricName"] for m in cw.list_metrics(Namespace="AWS/SQS")["Metrics"]}
    assert {"NumberOfMessagesSent", "ApproximateNumberOfMessagesVisible"} <= names
    other = new_tenant(server, "cwq")
    theirs = client_for(server, "cloudwatch", other.access_key_id, other.secret_access_key)
    assert theirs.list_metrics(Namespace="AWS/SQS")["Metrics"] == []


def test_sns_topic_metrics_are_the_topic_owners(server: ServerProcess) -> None:
    # Decision 0221: a topic's AWS/SNS metrics through the served wiring and the sink.
    sns, sqs, cw = client(server, "sns"), client(server, "sqs"), client(server, "cloudwatch")
    arn = sns.create_topic(Name="metered-topic")["TopicArn"]
    url = sqs.create_queue(QueueName="metered-topic-q")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn)
    for n in range(2):
        sns.publish(TopicArn=arn, Message=f"message {n}")
    dims = [{"Name": "TopicName", "Value": "metered-topic"}]

    def total(name: str) -> float | None:
        points = cw.get_metric_statistics(
            Namespace="AWS/SNS", MetricName=name, Dimensions=dims, StartTime=minute(-1),
            EndTime=minute(1), Period=120, Statistics=["Sum"],
        )["Datapoints"]  # fmt: skip
        return points[0]["Sum"] if points else None

    deadline = time.monotonic() + 20
    while (total("NumberOfMessagesPublished"), total("NumberOfNotificationsDelivered")) != (
        2.0,
        2.0,
    ) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert total("NumberOfMessagesPublished") == 2.0
    assert total("NumberOfNotificationsDelivered") == 2.0
    assert total("PublishSize") == 2.0 * len("message 0")
    other = new_tenant(server, "cwsns")
    theirs = client_for(server, "cloudwatch", other.access_key_id, other.secret_access_key)
    assert theirs.list_metrics(Namespace="AWS/SNS")["Metrics"] == []


def _public_image(server: ServerProcess, tmp_path: Path, name: str) -> str:
    """A public image imported by the operator's command line beside the running server; its
    output shown when it fails, so that a failure under load says why."""
    disk = tmp_path / f"{name}.raw"
    disk.write_bytes(os.urandom(64 * 1024))
    done = run_command(
        [str(ANDROMEDE), "admin", "image", "import", str(disk), "--name", name,
         "--public", "--json", "--data-dir", str(server.data_dir)],
        timeout=60, check=False,
        env={**os.environ, **server.extra_env},
    )  # fmt: skip
    assert done.returncode == 0, f"image import failed: {done.stdout}{done.stderr}"
    return str(json.loads(done.stdout)["image_id"])


def test_an_instances_metrics_with_detailed_monitoring(
    server: ServerProcess, tmp_path: Path
) -> None:
    ec2, cw = client(server, "ec2"), client(server, "cloudwatch")
    run = ec2.run_instances(
        ImageId=_public_image(server, tmp_path, "cw-test"), InstanceType="t3.micro",
        MinCount=1, MaxCount=1,
    )  # fmt: skip
    instance_id = run["Instances"][0]["InstanceId"]
    assert run["Instances"][0]["Monitoring"]["State"] == "disabled"
    ec2.get_waiter("instance_running").wait(
        InstanceIds=[instance_id], WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )
    answer = ec2.monitor_instances(InstanceIds=[instance_id])["InstanceMonitorings"]
    assert answer == [{"InstanceId": instance_id, "Monitoring": {"State": "pending"}}]
    [reservation] = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    assert reservation["Instances"][0]["Monitoring"]["State"] == "enabled"
    dims = [{"Name": "InstanceId", "Value": instance_id}]

    def points(name: str, statistic: str, namespace: str = "AWS/EC2") -> list[float]:
        found = cw.get_metric_statistics(
            Namespace=namespace, MetricName=name, Dimensions=dims, StartTime=minute(-5),
            EndTime=minute(2), Period=60, Statistics=[statistic],
        )["Datapoints"]  # fmt: skip
        return [p[statistic] for p in found]

    deadline = time.monotonic() + 15
    while not points("CPUUtilization", "Average") and time.monotonic() < deadline:
        time.sleep(0.5)
    # The memory host's figures (compute.driver_memory.MEMORY_STATS): a quarter of the
    # vCPUs, 1,000 bytes in and 2,000 out at each gathering.
    assert set(points("CPUUtilization", "Average")) == {25.0}
    received = sum(points("NetworkIn", "Sum"))
    assert received > 0 and received % 1000 == 0
    sent = sum(points("NetworkOut", "Sum"))
    assert sent > 0 and sent % 2000 == 0
    names = {m["MetricName"] for m in cw.list_metrics(Namespace="AWS/EBS")["Metrics"]}
    assert {"VolumeReadBytes", "VolumeWriteOps"} <= names
    other = new_tenant(server, "cwi")
    theirs = client_for(server, "cloudwatch", other.access_key_id, other.secret_access_key)
    assert theirs.list_metrics(Namespace="AWS/EC2")["Metrics"] == []
    ec2.terminate_instances(InstanceIds=[instance_id])


def test_a_buckets_daily_storage_metrics(server: ServerProcess) -> None:
    s3, cw = client(server, "s3"), client(server, "cloudwatch")
    s3.create_bucket(Bucket="measured")
    s3.put_object(Bucket="measured", Key="a", Body=b"x" * 5)
    s3.put_object(Bucket="measured", Key="b/c", Body=b"y" * 11)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)

    def daily(name: str, storage: str) -> list[dict[str, Any]]:
        points: list[dict[str, Any]] = cw.get_metric_statistics(
            Namespace="AWS/S3",
            MetricName=name,
            Dimensions=[
                {"Name": "BucketName", "Value": "measured"},
                {"Name": "StorageType", "Value": storage},
            ],
            StartTime=today - timedelta(days=1),
            EndTime=today + timedelta(days=1),
            Period=86400,
            Statistics=["Maximum"],
        )["Datapoints"]
        return points

    # Runs before the puts saw fewer objects; the latest run sees both (Maximum).
    _until(
        lambda: [p["Maximum"] for p in daily("BucketSizeBytes", "StandardStorage")] == [16.0],
        "BucketSizeBytes",
    )
    [size] = daily("BucketSizeBytes", "StandardStorage")
    assert (size["Timestamp"], size["Unit"]) == (today, "Bytes")
    [count] = _until(lambda: daily("NumberOfObjects", "AllStorageTypes"), "NumberOfObjects")
    assert (count["Maximum"], count["Unit"]) == (2.0, "Count")
    other = new_tenant(server, "cws3")
    theirs = client_for(server, "cloudwatch", other.access_key_id, other.secret_access_key)
    assert theirs.list_metrics(Namespace="AWS/S3")["Metrics"] == []


def test_a_buckets_request_metrics(server: ServerProcess) -> None:
    s3, cw = client(server, "s3"), client(server, "cloudwatch")
    s3.create_bucket(Bucket="counted")
    s3.put_bucket_metrics_configuration(
        Bucket="counted",
        Id="docs",
        MetricsConfiguration={"Id": "docs", "Filter": {"Prefix": "docs/"}},
    )
    got = s3.get_bucket_metrics_configuration(Bucket="counted", Id="docs")
    assert got["MetricsConfiguration"] == {"Id": "docs", "Filter": {"Prefix": "docs/"}}
    with pytest.raises(ClientError) as missing:
        s3.get_bucket_metrics_configuration(Bucket="counted", Id="nothing")
    assert missing.value.response["Error"]["Code"] == "NoSuchConfiguration"
    started = minute()
    s3.put_object(Bucket="counted", Key="docs/a", Body=b"x" * 1000)
    s3.put_object(Bucket="counted", Key="docs/b", Body=b"y" * 24)
    s3.put_object(Bucket="counted", Key="other", Body=b"z" * 50)  # not under the filter
    s3.get_object(Bucket="counted", Key="docs/a")["Body"].read()
    for _ in range(2):
        with pytest.raises(ClientError):
            s3.get_object(Bucket="counted", Key="docs/missing")

    def summed(name: str) -> dict[str, Any] | None:
        points = cw.get_metric_statistics(
            Namespace="AWS/S3",
            MetricName=name,
            Dimensions=[
                {"Name": "BucketName", "Value": "counted"},
                {"Name": "FilterId", "Value": "docs"},
            ],
            StartTime=started - timedelta(minutes=1),
            EndTime=minute(2),
            Period=3600,
            Statistics=["Sum", "SampleCount"],
        )["Datapoints"]
        if not points:
            return None
        # Whichever periods the minutes fell in (an hour's boundary may split them).
        return {
            "Sum": sum(p["Sum"] for p in points),
            "SampleCount": sum(p["SampleCount"] for p in points),
            "Unit": points[0]["Unit"],
        }

    # Three PUTs and a GET under docs/, two 404s; the put of "other" is not counted.
    everything = _until(
        lambda: (p := summed("AllRequests")) is not None and p["Sum"] == 5.0 and p,
        "AllRequests",
    )
    assert everything["Unit"] == "Count"
    errors = summed("4xxErrors")
    assert errors is not None
    assert (errors["Sum"], errors["SampleCount"]) == (2.0, 5.0)  # 0 or 1 a request
    uploaded = summed("BytesUploaded")
    assert uploaded is not None and (uploaded["Sum"], uploaded["Unit"]) == (1024.0, "Bytes")
    latency = summed("TotalRequestLatency")
    assert latency is not None and latency["Unit"] == "Milliseconds"
    s3.delete_bucket_metrics_configuration(Bucket="counted", Id="docs")
    assert (
        s3.list_bucket_metrics_configurations(Bucket="counted").get("MetricsConfigurationList", [])
        == []
    )


def _until(check: Any, what: str, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.25)
    return found


def test_an_alarm_notifies_its_topic_and_scales_a_group(
    server: ServerProcess, tmp_path: Path
) -> None:
    """Decision 0177 with boto3: high values put at 1 s resolution make a 10-second alarm go
    to ALARM; its topic's SQS subscriber receives AWS's alarm message, and its step policy
    raises the Auto Scaling group's desired capacity, which the reconciler launches."""
    image_id = _public_image(server, tmp_path, "alarm-image")
    ec2, scaling = client(server, "ec2"), client(server, "autoscaling")
    sns, sqs, cw = client(server, "sns"), client(server, "sqs"), client(server, "cloudwatch")
    template = ec2.create_launch_template(
        LaunchTemplateName="alarmed",
        LaunchTemplateData={"ImageId": image_id, "InstanceType": "t3.nano"},
    )["LaunchTemplate"]["LaunchTemplateId"]
    scaling.create_auto_scaling_group(
        AutoScalingGroupName="alarmed",
        LaunchTemplate={"LaunchTemplateId": template, "Version": "$Latest"},
        MinSize=0,
        MaxSize=3,
        DesiredCapacity=0,
    )
    policy = scaling.put_scaling_policy(
        AutoScalingGroupName="alarmed",
        PolicyName="step-out",
        PolicyType="StepScaling",
        AdjustmentType="ChangeInCapacity",
        StepAdjustments=[
            {"MetricIntervalLowerBound": 0, "MetricIntervalUpperBound": 100,
             "ScalingAdjustment": 1},
            {"MetricIntervalLowerBound": 100, "ScalingAdjustment": 2},
        ],
    )["PolicyARN"]  # fmt: skip
    topic = sns.create_topic(Name="pager")["TopicArn"]
    url = sqs.create_queue(QueueName="pager-inbox")["QueueUrl"]
    queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue["QueueArn"])
    dims = [{"Name": "Service", "Value": "checkout"}]
    cw.put_metric_alarm(
        AlarmName="checkout-load",
        Namespace="Shop",
        MetricName="Load",
        Dimensions=dims,
        Statistic="Maximum",
        Period=10,
        EvaluationPeriods=1,
        Threshold=50.0,
        ComparisonOperator="GreaterThanThreshold",
        AlarmActions=[topic, policy],
    )
    cw.put_metric_data(
        Namespace="Shop",
        MetricData=[{"MetricName": "Load", "Dimensions": dims, "Values": [20.0, 200.0],
                     "StorageResolution": 1}],
    )  # fmt: skip

    def received() -> list[dict[str, Any]]:
        got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])
        return [json.loads(m["Body"]) for m in got]

    [envelope] = _until(received, "the alarm's notification", timeout=25)
    assert envelope["TopicArn"] == topic
    assert envelope["Subject"].startswith('ALARM: "checkout-load" in ')
    message = json.loads(envelope["Message"])
    assert (message["AlarmName"], message["NewStateValue"]) == ("checkout-load", "ALARM")
    assert message["Trigger"]["Statistic"] == "MAXIMUM"
    assert message["Trigger"]["Dimensions"] == [{"value": "checkout", "name": "Service"}]
    [alarm] = cw.describe_alarms(AlarmNames=["checkout-load"])["MetricAlarms"]
    assert alarm["StateReason"].startswith("Threshold Crossed: 1 out of the last 1 datapoints")

    def group() -> dict[str, Any]:
        found = scaling.describe_auto_scaling_groups(AutoScalingGroupNames=["alarmed"])
        return dict(found["AutoScalingGroups"][0])

    # 200 breaches the threshold by 150: the second step, two more instances.
    _until(lambda: group()["DesiredCapacity"] == 2, "the desired capacity to rise")
    _until(lambda: len(group()["Instances"]) == 2, "two instances")
    causes = [
        a["Cause"]
        for a in scaling.describe_scaling_activities(AutoScalingGroupName="alarmed")["Activities"]
        if a["Description"] == "Executing scaling policy step-out"
    ]
    assert causes[-1].endswith(
        "a monitor alarm checkout-load in state ALARM triggered policy step-out changing the "
        "desired capacity from 0 to 2."
    )
    history = cw.describe_alarm_history(AlarmName="checkout-load", HistoryItemType="Action")
    assert len(history["AlarmHistoryItems"]) == 2  # the topic and the policy, both done
    assert all(
        i["HistorySummary"].startswith("Successfully executed action")
        for i in history["AlarmHistoryItems"]
    )
    scaling.delete_auto_scaling_group(AutoScalingGroupName="alarmed", ForceDelete=True)
    cw.delete_alarms(AlarmNames=["checkout-load"])


def test_metric_math_in_get_metric_data_and_in_an_alarm(server: ServerProcess) -> None:
    """Decision 0183: boto3's GetMetricData with ``100*m1/m2`` and ``SUM(METRICS())`` over
    hidden MetricStats, a bounded SEARCH, a syntax error answered with its position, and a
    math alarm on 10-second periods going to ALARM."""
    cw = client(server, "cloudwatch")
    at = minute(-2)

    def stat(name: str, period: int = 60) -> dict[str, Any]:
        return {"Metric": {"Namespace": "Api", "MetricName": name}, "Period": period, "Stat": "Sum"}

    cw.put_metric_data(
        Namespace="Api",
        MetricData=[
            {"MetricName": name, "Timestamp": at + timedelta(minutes=i), "Value": value}
            for name, values in (("Errors", (1.0, 3.0)), ("Requests", (10.0, 20.0)))
            for i, value in enumerate(values)
        ],
    )
    hidden = [
        {"Id": "m1", "MetricStat": stat("Errors"), "ReturnData": False},
        {"Id": "m2", "MetricStat": stat("Requests"), "ReturnData": False},
    ]
    data = cw.get_metric_data(
        MetricDataQueries=[
            *hidden,
            {"Id": "rate", "Expression": "100*m1/m2", "Label": "Error rate"},
            {"Id": "total", "Expression": "SUM(METRICS())"},
        ],
        StartTime=at,
        EndTime=at + timedelta(minutes=2),
        ScanBy="TimestampAscending",
    )
    rate, total = data["MetricDataResults"]
    assert (rate["Id"], rate["Label"], rate["Values"]) == ("rate", "Error rate", [10.0, 15.0])
    assert rate["Timestamps"] == [at, at + timedelta(minutes=1)]
    assert (total["Id"], total["Values"], total["StatusCode"]) == (
        "total",
        [11.0, 23.0],
        "Complete",
    )
    found = cw.get_metric_data(
        MetricDataQueries=[
            {"Id": "s1", "Expression": "SEARCH('{Api} MetricName=\"Requests\"', 'Sum', 60)"}
        ],
        StartTime=at,
        EndTime=at + timedelta(minutes=2),
        ScanBy="TimestampAscending",
    )["MetricDataResults"]
    assert [(r["Id"], r["Values"]) for r in found] == [("s1", [10.0, 20.0])]
    with pytest.raises(ClientError) as refused:
        cw.get_metric_data(
            MetricDataQueries=[*hidden, {"Id": "bad", "Expression": "100*m1/"}],
            StartTime=at,
            EndTime=at + timedelta(minutes=2),
        )
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert "position 8" in refused.value.response["Error"]["Message"]
    # The alarm: 10-second periods of 1-second metrics, 50 % errors against a 10 % threshold.
    cw.put_metric_alarm(
        AlarmName="error-rate",
        EvaluationPeriods=1,
        Threshold=10.0,
        ComparisonOperator="GreaterThanThreshold",
        Metrics=[
            {"Id": "m1", "MetricStat": stat("Failures", 10), "ReturnData": False},
            {"Id": "m2", "MetricStat": stat("Calls", 10), "ReturnData": False},
            {"Id": "e1", "Expression": "100*m1/m2", "ReturnData": True},
        ],
    )
    [shown] = cw.describe_alarms(AlarmNames=["error-rate"])["MetricAlarms"]
    assert [q["Id"] for q in shown["Metrics"]] == ["m1", "m2", "e1"]
    deadline = time.monotonic() + 25
    state = shown["StateValue"]
    while state != "ALARM" and time.monotonic() < deadline:
        cw.put_metric_data(
            Namespace="Api",
            MetricData=[
                {"MetricName": "Failures", "Value": 5.0, "StorageResolution": 1},
                {"MetricName": "Calls", "Value": 10.0, "StorageResolution": 1},
            ],
        )
        time.sleep(1)
        state = cw.describe_alarms(AlarmNames=["error-rate"])["MetricAlarms"][0]["StateValue"]
    assert state == "ALARM"
    cw.delete_alarms(AlarmNames=["error-rate"])


def test_dashboards_with_boto3(server: ServerProcess) -> None:
    """Decision 0185: boto3 puts a dashboard (a warning for another region), gets it back as
    written, lists it with its size under a prefix, and deletes it all or nothing."""
    cw = client(server, "cloudwatch")
    body = json.dumps({"widgets": [
        {"type": "metric", "x": 0, "y": 0, "width": 12, "height": 6, "properties": {
            "metrics": [["Api", "Requests"]], "region": REGION, "stat": "Sum", "period": 60}},
        {"type": "text", "x": 12, "y": 0, "width": 6, "height": 3,
         "properties": {"markdown": "# Api"}},
    ]})  # fmt: skip
    assert (
        cw.put_dashboard(DashboardName="api", DashboardBody=body)["DashboardValidationMessages"]
        == []
    )
    elsewhere = body.replace(REGION, "us-west-2")
    put = cw.put_dashboard(DashboardName="api-west", DashboardBody=elsewhere)
    assert [m["DataPath"] for m in put["DashboardValidationMessages"]] == [
        "/widgets/0/properties/region"
    ]
    got = cw.get_dashboard(DashboardName="api")
    assert got["DashboardBody"] == body and got["DashboardArn"].endswith(":dashboard/api")
    entries = cw.list_dashboards(DashboardNamePrefix="api")["DashboardEntries"]
    assert [(e["DashboardName"], e["Size"]) for e in entries] == [
        ("api", len(body)), ("api-west", len(elsewhere))
    ]  # fmt: skip
    with pytest.raises(ClientError) as refused:
        cw.put_dashboard(DashboardName="bad", DashboardBody='{"widgets": [{"x": 0}]}')
    assert refused.value.response["Error"]["Code"] == "InvalidParameterInput"
    with pytest.raises(ClientError) as missing:
        cw.delete_dashboards(DashboardNames=["api", "nope"])
    assert missing.value.response["Error"]["Code"] == "ResourceNotFound"
    cw.delete_dashboards(DashboardNames=["api", "api-west"])
    assert cw.list_dashboards(DashboardNamePrefix="api")["DashboardEntries"] == []


def test_metric_streams_with_boto3(server: ServerProcess) -> None:
    """Decision 0233: boto3 puts a metric stream (stored in the served database), reads,
    stops, tags and lists it, sees an OpenTelemetry format refused, and deletes it. What a
    stream delivers waits for a minute to end: tested in process (test_metric_stream_delivery)."""
    cw = client(server, "cloudwatch")
    account = client(server, "sts").get_caller_identity()["Account"]
    params = {
        "Name": "to-lake",
        "FirehoseArn": f"arn:aws:firehose:{REGION}:{account}:deliverystream/lake",
        "RoleArn": f"arn:aws:iam::{account}:role/streams",
        "OutputFormat": "json",
        "IncludeFilters": [{"Namespace": "AWS/SQS"}],
    }
    arn = cw.put_metric_stream(**params)["Arn"]
    assert arn == f"arn:aws:cloudwatch:{REGION}:{account}:metric-stream/to-lake"
    cw.stop_metric_streams(Names=["to-lake"])
    cw.tag_resource(ResourceARN=arn, Tags=[{"Key": "team", "Value": "data"}])
    got = cw.get_metric_stream(Name="to-lake")
    assert (got["State"], got["IncludeFilters"]) == ("stopped", [{"Namespace": "AWS/SQS"}])
    assert cw.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "team", "Value": "data"}]
    assert [e["Name"] for e in cw.list_metric_streams()["Entries"]] == ["to-lake"]
    with pytest.raises(ClientError) as refused:
        cw.put_metric_stream(**{**params, "OutputFormat": "opentelemetry1.0"})
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValue"
    cw.delete_metric_stream(Name="to-lake")
    assert cw.list_metric_streams()["Entries"] == []


def test_a_composite_alarm_notifies_only_when_both_children_alarm(server: ServerProcess) -> None:
    """Decision 0184 with boto3: ``ALARM(a) AND ALARM(b)`` over two metric alarms driven by
    SetAlarmState; its topic's SQS subscriber hears from it once both are in ALARM."""
    sns, sqs, cw = client(server, "sns"), client(server, "sqs"), client(server, "cloudwatch")
    topic = sns.create_topic(Name="composite-pager")["TopicArn"]
    url = sqs.create_queue(QueueName="composite-inbox")["QueueUrl"]
    queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue["QueueArn"])
    for name in ("cpu-high", "disk-high"):
        cw.put_metric_alarm(
            AlarmName=name,
            Namespace="Shop",
            MetricName=name,
            Statistic="Maximum",
            Period=86400,  # not evaluated during the test: SetAlarmState drives them
            EvaluationPeriods=1,
            Threshold=1.0,
            ComparisonOperator="GreaterThanThreshold",
        )
    cw.put_composite_alarm(
        AlarmName="host-sick",
        AlarmRule='ALARM("cpu-high") AND ALARM(disk-high)',
        AlarmActions=[topic],
    )

    def received(wait: int = 1) -> list[dict[str, Any]]:
        got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=wait).get("Messages", [])
        return [json.loads(json.loads(m["Body"])["Message"]) for m in got]

    cw.set_alarm_state(AlarmName="cpu-high", StateValue="ALARM", StateReason="test")
    assert received() == []  # one child only: the composite stays OK, nothing sent
    cw.set_alarm_state(AlarmName="disk-high", StateValue="ALARM", StateReason="test")
    [message] = _until(received, "the composite's notification", timeout=10)
    assert (message["AlarmName"], message["NewStateValue"]) == ("host-sick", "ALARM")
    assert message["AlarmRule"] == 'ALARM("cpu-high") AND ALARM(disk-high)'
    found = cw.describe_alarms(AlarmTypes=["CompositeAlarm"], ParentsOfAlarmName="cpu-high")
    assert [a["AlarmName"] for a in found["CompositeAlarms"]] == ["host-sick"]
    assert found["CompositeAlarms"][0]["StateValue"] == "ALARM"
    cw.delete_alarms(AlarmNames=["host-sick", "cpu-high", "disk-high"])


def test_an_anomaly_detector_and_its_band_with_boto3(server: ServerProcess) -> None:
    """Decision 0189: boto3 puts half an hour of a metric and an anomaly detector (excluded
    range, time zone), describes it, reads the band with GetMetricData (the values inside
    it), puts an anomaly detection alarm on it, and deletes the detector."""
    cw = client(server, "cloudwatch")
    metric = {"Namespace": "Shop", "MetricName": "Latency",
              "Dimensions": [{"Name": "Api", "Value": "cart"}]}  # fmt: skip
    cw.put_metric_data(
        Namespace="Shop",
        MetricData=[
            {"MetricName": "Latency", "Dimensions": metric["Dimensions"],
             "Timestamp": minute(-m), "Value": 120.0 + m % 3}
            for m in range(1, 31)
        ],
    )  # fmt: skip
    start = minute(-24 * 60)
    cw.put_anomaly_detector(
        SingleMetricAnomalyDetector={**metric, "Stat": "Average"},
        Configuration={
            "ExcludedTimeRanges": [{"StartTime": start, "EndTime": start + timedelta(hours=1)}],
            "MetricTimezone": "Europe/Paris",
        },
    )
    [detector] = cw.describe_anomaly_detectors(Namespace="Shop")["AnomalyDetectors"]
    assert detector["SingleMetricAnomalyDetector"]["MetricName"] == "Latency"
    assert detector["Configuration"]["MetricTimezone"] == "Europe/Paris"
    assert detector["StateValue"] in ("PENDING_TRAINING", "TRAINED_INSUFFICIENT_DATA")
    queries = [
        {"Id": "m1", "MetricStat": {"Metric": metric, "Period": 60, "Stat": "Average"},
         "ReturnData": True},
        {"Id": "ad1", "Expression": "ANOMALY_DETECTION_BAND(m1, 2)", "Label": "expected"},
    ]  # fmt: skip
    answer = cw.get_metric_data(
        MetricDataQueries=queries,
        StartTime=minute(-30),
        EndTime=minute(),
        ScanBy="TimestampAscending",
    )
    values, lower, upper = answer["MetricDataResults"]
    assert [r["Label"] for r in (lower, upper)] == ["expected Lower", "expected Upper"]
    assert len(values["Values"]) == 30 and len(lower["Values"]) == 30
    for value, low, high in zip(values["Values"], lower["Values"], upper["Values"], strict=True):
        assert low <= value <= high
    cw.put_metric_alarm(
        AlarmName="latency-anomaly",
        EvaluationPeriods=1,
        ComparisonOperator="GreaterThanUpperThreshold",
        ThresholdMetricId="ad1",
        Metrics=queries,
    )
    [alarm] = cw.describe_alarms(AlarmNames=["latency-anomaly"])["MetricAlarms"]
    assert alarm["ThresholdMetricId"] == "ad1" and "Threshold" not in alarm
    cw.delete_alarms(AlarmNames=["latency-anomaly"])
    cw.delete_anomaly_detector(SingleMetricAnomalyDetector={**metric, "Stat": "Average"})
    assert cw.describe_anomaly_detectors(Namespace="Shop")["AnomalyDetectors"] == []


LAMBDA_SOURCE = """
def handler(event, context):
    if event.get("fail"):
        raise ValueError("asked to fail")
    return {"ok": True}
"""


@pytest.mark.skipif(
    shutil.which("bwrap") is None,
    reason="bubblewrap is not installed (scripts/install-system-deps.sh installs it)",
)
def test_a_functions_aws_lambda_metrics(server: ServerProcess) -> None:
    """Decision 0323 on this module's server (its platform metrics written every half
    second; the session's Lambda server writes them once a minute): a function invoked twice
    with boto3, once failing, has 2 ``Invocations`` and 1 ``Errors`` (Sum) in ``AWS/Lambda``,
    listed by ListMetrics and read by GetMetricData."""
    iam, functions, cw = (
        client(server, "iam"),
        client(server, "lambda"),
        client(server, "cloudwatch"),
    )
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
             "Principal": {"Service": "lambda.amazonaws.com"}}]}  # fmt: skip
    role = iam.create_role(RoleName="metered-fn", AssumeRolePolicyDocument=json.dumps(trust))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", LAMBDA_SOURCE)
    functions.create_function(FunctionName="metered", Runtime="python3.11",
        Role=role["Role"]["Arn"], Handler="app.handler",
        Code={"ZipFile": buffer.getvalue()})  # fmt: skip
    assert "FunctionError" not in functions.invoke(FunctionName="metered", Payload=b"{}")
    failed = functions.invoke(FunctionName="metered", Payload=b'{"fail": true}')
    assert failed["FunctionError"] == "Unhandled"
    dims = [{"Name": "FunctionName", "Value": "metered"}]

    def total(name: str) -> float:
        points = cw.get_metric_statistics(Namespace="AWS/Lambda", MetricName=name,
            Dimensions=dims, StartTime=minute(-2), EndTime=minute(2), Period=60,
            Statistics=["Sum"])["Datapoints"]  # fmt: skip
        return sum(p["Sum"] for p in points)

    deadline = time.monotonic() + 10
    while (total("Invocations"), total("Errors")) != (2.0, 1.0) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert (total("Invocations"), total("Errors")) == (2.0, 1.0)
    listed = cw.list_metrics(Namespace="AWS/Lambda", Dimensions=dims)["Metrics"]
    assert {"Invocations", "Errors", "Duration", "ConcurrentExecutions"} <= {
        m["MetricName"] for m in listed
    }
    durations = cw.get_metric_data(
        MetricDataQueries=[{"Id": "d", "MetricStat": {"Metric": {"Namespace": "AWS/Lambda",
            "MetricName": "Duration", "Dimensions": dims}, "Period": 300, "Stat": "SampleCount"}}],
        StartTime=minute(-5), EndTime=minute(5),
    )["MetricDataResults"][0]["Values"]  # fmt: skip
    assert sum(durations) == 2.0
    functions.delete_function(FunctionName="metered")
