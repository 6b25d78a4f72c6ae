"""Secrets Manager end to end (decision 0190): one real ``andromede serve`` driven by boto3's
``secretsmanager`` client through a secret's whole life (created under the account's
AWS-managed key, read, new versions and their labels, rolled back, deleted and restored,
force-deleted), another account reading a secret under a customer-managed key once the
secret's resource policy and the key's policy allow it, and the aws CLI's
``aws secretsmanager get-secret-value``; a new ``KmsKeyId`` re-encrypting the labelled
versions (session 49). Terraform's ``aws_secretsmanager_secret`` and
``aws_secretsmanager_secret_version`` are in ``test_terraform.py``'s configuration.

Amazon Data Firehose (decision 0223) shares this module's server, the cheapest of the JSON
services': boto3 makes a Direct PUT stream into a bucket, as a role trusting Firehose, puts
records, and the deliverer (every 0.2 s here) writes the object they become; a log group's
subscription filter (decision 0225, its outbox drained every 0.2 s here too) puts its
matching events into a stream, a gzip DATA_MESSAGE record landing in the bucket. Kinesis Data
Streams (decision 0228) too: boto3's client and waiters through a stream's life. And DynamoDB
(decision 0237): boto3's client and resource, Terraform's state lock, a query and a scan."""

from __future__ import annotations

import gzip
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from boto3.dynamodb.conditions import Attr, Key
from boto3.dynamodb.types import TypeDeserializer
from botocore.config import Config
from botocore.exceptions import ClientError

from e2e.clients import aws_cli
from e2e.iam_helpers import client_for, new_tenant
from support.delivery_streams import active_stream, delivered_bodies
from support.http_endpoints import http_endpoint
from support.launcher import run_command
from support.server import ANDROMEDE, REGION, ServerProcess, running_server
from support.service_roles import service_role
from support.waiting import eventually

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("secrets") / "data"
    env = {
        "ANDROMEDE_WORKERS": "1",
        "ANDROMEDE_FIREHOSE_DELIVERY_POLL_INTERVAL": "0.2",
        "ANDROMEDE_LOGS_SUBSCRIPTION_POLL_INTERVAL": "0.2",
        # Decision 0250: the HTTP endpoint test's receiver listens on loopback, over http.
        "ANDROMEDE_FIREHOSE_HTTP_ENDPOINT_ALLOW_HTTP": "true",
        "ANDROMEDE_FIREHOSE_HTTP_ENDPOINT_ALLOW_CIDRS": '["127.0.0.1/32"]',
        # Decision 0253: a point-in-time restore at the latest, without AWS's five minutes.
        "ANDROMEDE_DYNAMODB_PITR_RESTORE_LAG": "0",
    }
    with running_server(data_dir, extra_env=env) as started:
        yield started


def error_code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_boto3_life_of_a_secret(server: ServerProcess) -> None:
    sm: Any = client_for(server, "secretsmanager", *server.credentials())
    made = sm.create_secret(
        Name="prod/db",
        SecretString=json.dumps({"username": "app", "password": "hunter2"}),
        Description="the application's database",
        Tags=[{"Key": "team", "Value": "pay"}],
    )
    arn, first = made["ARN"], made["VersionId"]
    got = sm.get_secret_value(SecretId="prod/db")
    assert json.loads(got["SecretString"])["password"] == "hunter2"
    assert got["VersionStages"] == ["AWSCURRENT"]
    second = sm.put_secret_value(SecretId=arn, SecretString="rotated by hand")["VersionId"]
    assert sm.get_secret_value(SecretId=arn)["SecretString"] == "rotated by hand"
    previous = sm.get_secret_value(SecretId=arn, VersionStage="AWSPREVIOUS")
    assert previous["VersionId"] == first
    described = sm.describe_secret(SecretId=arn.rsplit("-", 1)[0])  # a partial ARN
    assert described["VersionIdsToStages"] == {first: ["AWSPREVIOUS"], second: ["AWSCURRENT"]}
    assert described["Tags"] == [{"Key": "team", "Value": "pay"}]
    assert "KmsKeyId" not in described  # the account's AWS-managed key
    sm.update_secret_version_stage(
        SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=first, RemoveFromVersionId=second
    )
    assert sm.get_secret_value(SecretId=arn)["VersionId"] == first
    listed = sm.list_secrets(Filters=[{"Key": "tag-key", "Values": ["team"]}])["SecretList"]
    assert [s["Name"] for s in listed] == ["prod/db"]
    aliases = client_for(server, "kms", *server.credentials()).list_aliases()["Aliases"]
    assert "alias/aws/secretsmanager" in [a["AliasName"] for a in aliases]

    deleted = sm.delete_secret(SecretId=arn, RecoveryWindowInDays=7)
    assert deleted["DeletionDate"].timestamp() > time.time() + 6 * 86400
    with pytest.raises(ClientError) as refused:
        sm.get_secret_value(SecretId=arn)
    assert error_code(refused) == "InvalidRequestException"
    assert "marked for deletion" in str(refused.value)
    assert sm.list_secrets()["SecretList"] == []
    assert len(sm.list_secrets(IncludePlannedDeletion=True)["SecretList"]) == 1
    sm.restore_secret(SecretId=arn)
    assert sm.get_secret_value(SecretId="prod/db")["VersionId"] == first
    sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    with pytest.raises(ClientError) as gone:
        sm.describe_secret(SecretId=arn)
    assert error_code(gone) == "ResourceNotFoundException"
    password = sm.get_random_password(PasswordLength=24, ExcludePunctuation=True)
    assert len(password["RandomPassword"]) == 24 and password["RandomPassword"].isalnum()


def test_a_new_key_re_encrypts_the_labelled_versions(server: ServerProcess) -> None:
    # Decision 0190, session 49: UpdateSecret's KmsKeyId re-encrypts AWSCURRENT and
    # AWSPREVIOUS under the new key, so the old key disabled, both still read.
    sm: Any = client_for(server, "secretsmanager", *server.credentials())
    kms: Any = client_for(server, "kms", *server.credentials())
    old, new = (kms.create_key()["KeyMetadata"]["Arn"] for _ in range(2))
    arn = sm.create_secret(Name="rekeyed", SecretString="v0", KmsKeyId=old)["ARN"]
    sm.put_secret_value(SecretId=arn, SecretString="v1")
    sm.update_secret(SecretId=arn, KmsKeyId=new)
    kms.disable_key(KeyId=old)
    assert sm.describe_secret(SecretId=arn)["KmsKeyId"] == new
    assert sm.get_secret_value(SecretId=arn)["SecretString"] == "v1"
    previous = sm.get_secret_value(SecretId=arn, VersionStage="AWSPREVIOUS")
    assert previous["SecretString"] == "v0"
    sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)


def test_another_account_through_the_resource_policy(server: ServerProcess) -> None:
    owner_keys = server.credentials()
    sm: Any = client_for(server, "secretsmanager", *owner_keys)
    kms: Any = client_for(server, "kms", *owner_keys)
    owner = client_for(server, "sts", *owner_keys).get_caller_identity()["Account"]
    reader = new_tenant(server, "reader")
    other: Any = client_for(
        server, "secretsmanager", reader.access_key_id, reader.secret_access_key
    )
    key_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{owner}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{reader.account}:root"},
                "Action": "kms:Decrypt",
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"kms:ViaService": f"secretsmanager.{REGION}.amazonaws.com"}
                },
            },
        ],
    }
    key = kms.create_key(Policy=json.dumps(key_policy))["KeyMetadata"]
    arn = sm.create_secret(Name="shared", SecretString="for the reader", KmsKeyId=key["Arn"])["ARN"]
    with pytest.raises(ClientError) as refused:
        other.get_secret_value(SecretId=arn)
    assert error_code(refused) == "AccessDeniedException"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{reader.account}:root"},
                "Action": "secretsmanager:GetSecretValue",
                "Resource": "*",
            }
        ],
    }
    assert sm.validate_resource_policy(ResourcePolicy=json.dumps(policy))["PolicyValidationPassed"]
    sm.put_resource_policy(SecretId=arn, ResourcePolicy=json.dumps(policy))
    assert other.get_secret_value(SecretId=arn)["SecretString"] == "for the reader"
    with pytest.raises(ClientError) as not_granted:
        other.describe_secret(SecretId=arn)
    assert error_code(not_granted) == "AccessDeniedException"
    kms.disable_key(KeyId=key["KeyId"])
    with pytest.raises(ClientError) as disabled:
        sm.get_secret_value(SecretId=arn)
    assert error_code(disabled) == "DecryptionFailure"


def test_aws_cli_get_secret_value(server: ServerProcess, tmp_path: Path) -> None:
    aws = aws_cli(server, tmp_path)
    aws("secretsmanager", "create-secret", "--name", "cli/token", "--secret-string", "t0ken")
    shown = json.loads(aws("secretsmanager", "get-secret-value", "--secret-id", "cli/token").stdout)
    assert (shown["Name"], shown["SecretString"]) == ("cli/token", "t0ken")
    missing = aws("secretsmanager", "get-secret-value", "--secret-id", "cli/none", check=False)
    assert missing.returncode != 0 and "ResourceNotFoundException" in missing.stderr


def test_ssm_parameters_with_boto3_and_the_aws_cli(server: ServerProcess, tmp_path: Path) -> None:
    """Parameter Store (decision 0229) shares this server: boto3's ``ssm`` and the aws CLI."""
    ssm: Any = client_for(server, "ssm", *server.credentials())
    assert ssm.put_parameter(Name="/app/url", Value="https://a", Type="String")["Version"] == 1
    ssm.put_parameter(Name="/app/pw", Value="hunter2", Type="SecureString")
    ssm.put_parameter(Name="/app/url", Value="https://b", Overwrite=True)
    got = ssm.get_parameter(Name="/app/pw", WithDecryption=True)["Parameter"]
    assert (got["Value"], got["Type"]) == ("hunter2", "SecureString")
    assert ssm.get_parameter(Name="/app/url:1")["Parameter"]["Value"] == "https://a"
    pages = ssm.get_paginator("get_parameters_by_path").paginate(Path="/app", MaxResults=1)
    assert [p["Name"] for page in pages for p in page["Parameters"]] == ["/app/pw", "/app/url"]
    with pytest.raises(ClientError) as missing:
        ssm.get_parameter(Name="/app/none")
    assert error_code(missing) == "ParameterNotFound"
    aws = aws_cli(server, tmp_path)
    aws("ssm", "put-parameter", "--name", "/cli/p", "--value", "v1", "--type", "String")
    shown = json.loads(aws("ssm", "get-parameter", "--name", "/cli/p").stdout)
    assert shown["Parameter"]["Value"] == "v1"
    # Decision 0249: an Advanced parameter shared with another account by its policy.
    owner = client_for(server, "sts", *server.credentials()).get_caller_identity()["Account"]
    ssm.put_parameter(Name="/app/shared", Value="s", Type="String", Tier="Advanced")
    arn = f"arn:aws:ssm:{REGION}:{owner}:parameter/app/shared"
    reader = new_tenant(server, "ssm-reader")
    grant = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": reader.account},
        "Action": ["ssm:GetParameter", "ssm:DescribeParameters"], "Resource": arn}]}  # fmt: skip
    put = ssm.put_resource_policy(ResourceArn=arn, Policy=json.dumps(grant))
    [held] = ssm.get_resource_policies(ResourceArn=arn)["Policies"]
    assert (held["PolicyId"], held["PolicyHash"]) == (put["PolicyId"], put["PolicyHash"])
    other: Any = client_for(server, "ssm", reader.access_key_id, reader.secret_access_key)
    assert other.get_parameter(Name=arn)["Parameter"]["Value"] == "s"
    assert [p["ARN"] for p in other.describe_parameters(Shared=True)["Parameters"]] == [arn]
    with pytest.raises(ClientError) as refused:
        other.delete_parameter(Name=arn)
    assert error_code(refused) == "AccessDeniedException"
    # Decision 0241: the operator's public image, read by its public parameter's path.
    disk = tmp_path / "debian.raw"
    disk.write_bytes(os.urandom(64 * 1024))
    done = run_command(
        [str(ANDROMEDE), "admin", "image", "import", str(disk), "--name", "debian-12",
         "--public", "--json", "--data-dir", str(server.data_dir)],
        timeout=60, check=False, env={**os.environ, **server.extra_env},
    )  # fmt: skip
    assert done.returncode == 0, f"image import failed: {done.stdout}{done.stderr}"
    public = ssm.get_parameter(Name="/aws/service/debian/release/12/latest/amd64")["Parameter"]
    assert (public["Value"], public["DataType"]) == (
        json.loads(done.stdout)["image_id"], "aws:ec2:image",
    )  # fmt: skip


def test_a_firehose_stream_delivers_into_a_bucket(server: ServerProcess) -> None:
    credentials = server.credentials()
    iam: Any = client_for(server, "iam", *credentials)
    s3: Any = client_for(server, "s3", *credentials)
    firehose: Any = client_for(server, "firehose", *credentials)
    s3.create_bucket(Bucket="fh-landing", CreateBucketConfiguration={"LocationConstraint": REGION})
    role = service_role(
        iam, "fh-delivery", "firehose.amazonaws.com", ("s3:PutObject", "arn:aws:s3:::fh-landing/*")
    )
    arn = firehose.create_delivery_stream(
        DeliveryStreamName="clicks",
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "RoleARN": role,
            "BucketARN": "arn:aws:s3:::fh-landing",
            "Prefix": "clicks/",
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0},
        },
    )["DeliveryStreamARN"]
    assert arn.endswith(":deliverystream/clicks")
    active_stream(firehose, "clicks", within=20)
    firehose.put_record(DeliveryStreamName="clicks", Record={"Data": b'{"n":1}\n'})
    batch = firehose.put_record_batch(
        DeliveryStreamName="clicks", Records=[{"Data": b'{"n":2}\n'}, {"Data": b'{"n":3}\n'}]
    )
    assert batch["FailedPutCount"] == 0
    objects: list[dict[str, Any]] = eventually(
        lambda: s3.list_objects_v2(Bucket="fh-landing", Prefix="clicks/").get("Contents", []),
        lambda listed: sum(o["Size"] for o in listed) >= 24,
        within=20,
    )
    # One object, or two when a pass ran between the puts (the interval hint is 0): each the
    # records concatenated as they came.
    bodies = [s3.get_object(Bucket="fh-landing", Key=o["Key"])["Body"].read() for o in objects]
    assert sorted(bodies) in (
        [b'{"n":1}\n{"n":2}\n{"n":3}\n'],
        [b'{"n":1}\n', b'{"n":2}\n{"n":3}\n'],
    )
    assert objects[0]["Key"].startswith("clicks/20")
    with pytest.raises(ClientError) as refused:
        firehose.describe_delivery_stream(DeliveryStreamName="nope")
    assert error_code(refused) == "ResourceNotFoundException"
    # SNS into the same stream (decision 0226): a topic's firehose subscription, put as a role
    # SNS assumes; the message alone (raw), one a line, lands in the bucket.
    sns: Any = client_for(server, "sns", *credentials)
    sns_role = service_role(
        iam,
        "sns-to-fh",
        "sns.amazonaws.com",
        (["firehose:PutRecord", "firehose:PutRecordBatch"], arn),
    )
    topic = sns.create_topic(Name="fh-orders")["TopicArn"]
    sns.subscribe(
        TopicArn=topic,
        Protocol="firehose",
        Endpoint=arn,
        Attributes={"SubscriptionRoleArn": sns_role, "RawMessageDelivery": "true"},
    )
    sns.publish(TopicArn=topic, Message='{"order":42}')
    eventually(
        lambda: delivered_bodies(s3, "fh-landing", "clicks/"),
        lambda bodies: any(b'{"order":42}\n' in body for body in bodies),
    )


def test_a_subscription_filter_delivers_a_gzip_record_into_a_bucket(
    server: ServerProcess,
) -> None:
    credentials = server.credentials()
    iam: Any = client_for(server, "iam", *credentials)
    s3: Any = client_for(server, "s3", *credentials)
    firehose: Any = client_for(server, "firehose", *credentials)
    logs: Any = client_for(server, "logs", *credentials)
    s3.create_bucket(Bucket="cwl-landing", CreateBucketConfiguration={"LocationConstraint": REGION})

    writer = service_role(
        iam, "cwl-fh", "firehose.amazonaws.com", ("s3:PutObject", "arn:aws:s3:::cwl-landing/*")
    )
    arn = firehose.create_delivery_stream(
        DeliveryStreamName="app-logs",
        ExtendedS3DestinationConfiguration={
            "RoleARN": writer,
            "BucketARN": "arn:aws:s3:::cwl-landing",
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0},
        },
    )["DeliveryStreamARN"]
    active_stream(firehose, "app-logs", within=20)
    subscriber = service_role(iam, "cwl-sub", "logs.amazonaws.com", ("firehose:PutRecord*", arn))
    logs.create_log_group(logGroupName="/app/orders")
    logs.create_log_stream(logGroupName="/app/orders", logStreamName="web-1")
    logs.put_subscription_filter(
        logGroupName="/app/orders",
        filterName="errors",
        filterPattern="ERROR",
        destinationArn=arn,
        roleArn=subscriber,
    )
    [found] = logs.describe_subscription_filters(logGroupName="/app/orders")["subscriptionFilters"]
    assert (found["filterName"], found["destinationArn"]) == ("errors", arn)
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName="/app/orders",
        logStreamName="web-1",
        logEvents=[
            {"timestamp": now, "message": "ERROR payment refused"},
            {"timestamp": now + 1, "message": "INFO all good"},
        ],
    )

    def delivered_messages() -> list[dict[str, Any]]:
        decoder = json.JSONDecoder()
        messages = []
        for body in delivered_bodies(s3, "cwl-landing"):
            text, at = gzip.decompress(body).decode(), 0
            while at < len(text):
                message, at = decoder.raw_decode(text, at)
                messages.append(message)
        return messages

    messages = eventually(
        delivered_messages, lambda found: any(m["messageType"] == "DATA_MESSAGE" for m in found)
    )
    assert "CONTROL_MESSAGE" in {m["messageType"] for m in messages}
    [data] = [m for m in messages if m["messageType"] == "DATA_MESSAGE"]
    assert (data["logGroup"], data["logStream"]) == ("/app/orders", "web-1")
    assert data["subscriptionFilters"] == ["errors"]
    assert [e["message"] for e in data["logEvents"]] == ["ERROR payment refused"]
    logs.delete_subscription_filter(logGroupName="/app/orders", filterName="errors")


def test_a_firehose_stream_posts_to_an_http_endpoint(server: ServerProcess) -> None:
    """Decision 0250 through ``serve``: boto3 makes an HTTP endpoint stream whose key is in a
    Secrets Manager secret, and the deliverer POSTs the records to a receiver on loopback."""
    with http_endpoint() as receiver:
        credentials = server.credentials()
        iam: Any = client_for(server, "iam", *credentials)
        s3: Any = client_for(server, "s3", *credentials)
        sm: Any = client_for(server, "secretsmanager", *credentials)
        firehose: Any = client_for(server, "firehose", *credentials)
        s3.create_bucket(
            Bucket="fh-http-backup", CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        secret = sm.create_secret(Name="collector", SecretString='{"api_key": "e2e-key"}')["ARN"]
        role = service_role(
            iam, "fh-http", "firehose.amazonaws.com",
            ("s3:PutObject", "arn:aws:s3:::fh-http-backup/*"),
            ("secretsmanager:GetSecretValue", secret),
        )  # fmt: skip
        url = receiver.url
        firehose.create_delivery_stream(
            DeliveryStreamName="to-http",
            HttpEndpointDestinationConfiguration={
                "EndpointConfiguration": {"Url": url, "Name": "e2e"},
                "SecretsManagerConfiguration": {"Enabled": True, "SecretARN": secret},
                "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0},
                "RoleARN": role,
                "S3Configuration": {"RoleARN": role, "BucketARN": "arn:aws:s3:::fh-http-backup"},
            },
        )  # fmt: skip
        described = active_stream(firehose, "to-http", within=20)
        http = described["Destinations"][0]["HttpEndpointDestinationDescription"]
        assert http["EndpointConfiguration"] == {"Url": url, "Name": "e2e"}
        firehose.put_record(DeliveryStreamName="to-http", Record={"Data": b"hello"})
        eventually(lambda: len(receiver.received), bool, within=20)
        ((headers, document),) = receiver.received
        assert headers["X-Amz-Firehose-Access-Key"] == "e2e-key"
        assert headers["X-Amz-Firehose-Request-Id"] == document["requestId"]
        assert [r["data"] for r in document["records"]] == ["aGVsbG8="]


def test_a_firehose_stream_reads_a_kinesis_stream(server: ServerProcess) -> None:
    """Decision 0235 through ``serve``'s wiring: a KinesisStreamAsSource stream reads what is
    put into its Kinesis stream after its creation and delivers the data bytes into S3."""
    credentials = server.credentials()
    iam: Any = client_for(server, "iam", *credentials)
    s3: Any = client_for(server, "s3", *credentials)
    kinesis: Any = client_for(server, "kinesis", *credentials)
    firehose: Any = client_for(server, "firehose", *credentials)
    s3.create_bucket(Bucket="kfh-landing", CreateBucketConfiguration={"LocationConstraint": REGION})
    stream_arn = (
        kinesis.create_stream(StreamName="feed", ShardCount=1)
        and (
            kinesis.describe_stream_summary(StreamName="feed")["StreamDescriptionSummary"][
                "StreamARN"
            ]
        )
    )
    actions = ["s3:PutObject", "kinesis:DescribeStream", "kinesis:GetShardIterator",
               "kinesis:GetRecords", "kinesis:ListShards"]  # fmt: skip
    role = service_role(iam, "kfh", "firehose.amazonaws.com", (actions, "*"))
    firehose.create_delivery_stream(
        DeliveryStreamName="from-feed",
        DeliveryStreamType="KinesisStreamAsSource",
        KinesisStreamSourceConfiguration={
            "KinesisStreamARN": stream_arn, "RoleARN": role,
        },
        ExtendedS3DestinationConfiguration={
            "RoleARN": role, "BucketARN": "arn:aws:s3:::kfh-landing",
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0},
        },
    )  # fmt: skip
    kinesis.put_record(StreamName="feed", Data=b"k1;", PartitionKey="p")
    kinesis.put_record(StreamName="feed", Data=b"k2;", PartitionKey="p")
    eventually(
        lambda: b"".join(delivered_bodies(s3, "kfh-landing")),
        lambda landed: sorted(landed) == sorted(b"k1;k2;"),
        within=20,
    )
    described = firehose.describe_delivery_stream(DeliveryStreamName="from-feed")
    source = described["DeliveryStreamDescription"]["Source"]["KinesisStreamSourceDescription"]
    assert source["KinesisStreamARN"] == stream_arn
    with pytest.raises(ClientError) as refused:
        firehose.put_record(DeliveryStreamName="from-feed", Record={"Data": b"x"})
    assert error_code(refused) == "InvalidArgumentException"


def test_a_kinesis_stream_takes_and_gives_records(server: ServerProcess) -> None:
    """Kinesis Data Streams (decision 0228) with boto3's own client and waiters: a stream
    made, records put and read back in order from their shard, a split closing its parent
    (read to its end: ChildShards), another account writing through its resource policy
    (decision 0248), a KMS key encrypting it, its enhanced monitoring enabled (decision 0245),
    a record past 1 MiB once its record size is raised and the account's settings (decision
    0260), and deleted."""
    kinesis: Any = client_for(server, "kinesis", *server.credentials())
    kinesis.create_stream(StreamName="events", ShardCount=2)
    kinesis.get_waiter("stream_exists").wait(StreamName="events", WaiterConfig={"Delay": 1})
    enabled = kinesis.enable_enhanced_monitoring(
        StreamName="events", ShardLevelMetrics=["IncomingBytes"]
    )
    assert (enabled["CurrentShardLevelMetrics"], enabled["DesiredShardLevelMetrics"]) == (
        [],
        ["IncomingBytes"],
    )
    put = kinesis.put_records(
        StreamName="events",
        Records=[{"Data": f"e{i}".encode(), "PartitionKey": "user-7"} for i in range(3)],
    )
    assert put["FailedRecordCount"] == 0
    shard = put["Records"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(
        StreamName="events", ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    got = kinesis.get_records(ShardIterator=iterator, Limit=10)
    assert [r["Data"] for r in got["Records"]] == [b"e0", b"e1", b"e2"]
    assert got["NextShardIterator"] and got["MillisBehindLatest"] == 0
    shards = kinesis.list_shards(StreamName="events")["Shards"]
    first = shards[0]["HashKeyRange"]
    middle = (int(first["StartingHashKey"]) + int(first["EndingHashKey"])) // 2
    kinesis.split_shard(StreamName="events", ShardToSplit=shards[0]["ShardId"],
                        NewStartingHashKey=str(middle))  # fmt: skip
    closed = kinesis.get_records(
        ShardIterator=kinesis.get_shard_iterator(
            StreamName="events", ShardId=shards[0]["ShardId"], ShardIteratorType="LATEST"
        )["ShardIterator"]
    )
    assert "NextShardIterator" not in closed or closed["NextShardIterator"] is None
    assert len(closed["ChildShards"]) == 2
    # Another account writes by the stream's ARN once its resource policy lets it (0248).
    partner = new_tenant(server, "kinesis-partner")
    theirs: Any = client_for(server, "kinesis", partner.access_key_id, partner.secret_access_key)
    arn = kinesis.describe_stream_summary(StreamName="events")["StreamDescriptionSummary"][
        "StreamARN"
    ]
    with pytest.raises(ClientError) as not_shared:
        theirs.put_record(StreamARN=arn, Data=b"partner", PartitionKey="k")
    assert error_code(not_shared) == "AccessDeniedException"
    shared = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{partner.account}:root"},
        "Action": "kinesis:PutRecord", "Resource": arn}]}  # fmt: skip
    kinesis.put_resource_policy(ResourceARN=arn, Policy=json.dumps(shared))
    assert json.loads(kinesis.get_resource_policy(ResourceARN=arn)["Policy"]) == shared
    assert theirs.put_record(StreamARN=arn, Data=b"partner", PartitionKey="k")["SequenceNumber"]
    kinesis.start_stream_encryption(StreamName="events", EncryptionType="KMS",
                                    KeyId="alias/aws/kinesis")  # fmt: skip
    summary = kinesis.describe_stream_summary(StreamName="events")["StreamDescriptionSummary"]
    assert (summary["EncryptionType"], summary["OpenShardCount"]) == ("KMS", 3)
    assert summary["EnhancedMonitoring"] == [{"ShardLevelMetrics": ["IncomingBytes"]}]
    assert kinesis.put_record(StreamName="events", Data=b"sealed",
                              PartitionKey="k")["EncryptionType"] == "KMS"  # fmt: skip
    # Large records (decision 0260): 1.5 MiB refused at the default 1 MiB, taken once raised.
    large = b"L" * (3 * 1024 * 1024 // 2)
    with pytest.raises(ClientError) as too_large:
        kinesis.put_record(StreamName="events", Data=large, PartitionKey="big")
    assert error_code(too_large) == "InvalidArgumentException"
    kinesis.update_max_record_size(StreamARN=arn, MaxRecordSizeInKiB=2048)
    summary = kinesis.describe_stream_summary(StreamName="events")["StreamDescriptionSummary"]
    assert summary["MaxRecordSizeInKiB"] == 2048
    big = kinesis.put_record(StreamName="events", Data=large, PartitionKey="big")
    assert kinesis.get_records(ShardIterator=kinesis.get_shard_iterator(
        StreamName="events", ShardId=big["ShardId"], ShardIteratorType="AT_SEQUENCE_NUMBER",
        StartingSequenceNumber=big["SequenceNumber"])["ShardIterator"], Limit=1,
    )["Records"][0]["Data"] == large  # fmt: skip
    commitment = kinesis.describe_account_settings()["MinimumThroughputBillingCommitment"]
    assert commitment == {"Status": "DISABLED"}
    kinesis.delete_stream(StreamName="events")
    kinesis.get_waiter("stream_not_exists").wait(StreamName="events", WaiterConfig={"Delay": 1})
    with pytest.raises(ClientError) as missing:
        kinesis.describe_stream(StreamName="events")
    assert error_code(missing) == "ResourceNotFoundException"


def test_a_dynamodb_table_with_the_client_and_the_resource(server: ServerProcess) -> None:
    """DynamoDB (decision 0237) as boto3 drives it: the client makes a table and waits for it,
    takes and releases Terraform's state lock; the resource (``Table``, its batch writer, its
    conditions' builders) writes, updates, queries and scans; botocore checks every answer's
    ``x-amz-crc32``; a global secondary index answers in its own order (decision 0243);
    PartiQL's ``execute_statement`` reads and writes the same items (decision 0247); the legacy
    parameters and a retried transaction token (decision 0259)."""
    dynamodb: Any = client_for(server, "dynamodb", *server.credentials())
    dynamodb.create_table(
        TableName="terraform-locks", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}],
    )  # fmt: skip
    dynamodb.get_waiter("table_exists").wait(TableName="terraform-locks",
                                             WaiterConfig={"Delay": 1})  # fmt: skip
    lock = {"LockID": {"S": "state/terraform.tfstate"}, "Info": {"S": "{}"}}
    take = {"TableName": "terraform-locks", "Item": lock,
            "ConditionExpression": "attribute_not_exists(LockID)"}  # fmt: skip
    dynamodb.put_item(**take)
    with pytest.raises(ClientError) as held:
        dynamodb.put_item(**take)
    assert error_code(held) == "ConditionalCheckFailedException"
    dynamodb.delete_item(TableName="terraform-locks", Key={"LockID": lock["LockID"]})
    access_key, secret = server.credentials()[:2]
    resource: Any = boto3.session.Session(
        aws_access_key_id=access_key, aws_secret_access_key=secret, region_name=REGION
    ).resource("dynamodb", endpoint_url=server.endpoint, config=Config(retries={"max_attempts": 1}))
    table = resource.create_table(
        TableName="orders", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "customer", "KeyType": "HASH"},
                   {"AttributeName": "placed", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "customer", "AttributeType": "S"},
                              {"AttributeName": "placed", "AttributeType": "N"},
                              {"AttributeName": "status", "AttributeType": "S"},
                              {"AttributeName": "total", "AttributeType": "N"}],
        GlobalSecondaryIndexes=[{"IndexName": "by_status",
                                 "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"},
                                               {"AttributeName": "total", "KeyType": "RANGE"}],
                                 "Projection": {"ProjectionType": "KEYS_ONLY"}}],
    )  # fmt: skip
    table.wait_until_exists()
    with table.batch_writer() as batch:
        for placed in (30, 4, 200, 17):
            batch.put_item(Item={"customer": "ada", "placed": placed, "total": placed * 2,
                                 "status": "open" if placed < 100 else "paid"})  # fmt: skip
    table.update_item(Key={"customer": "ada", "placed": 4}, UpdateExpression="ADD total :one",
                      ExpressionAttributeValues={":one": 1})  # fmt: skip
    found = table.query(KeyConditionExpression=Key("customer").eq("ada") & Key("placed").gt(5),
                        FilterExpression=Attr("total").lt(100))  # fmt: skip
    assert [int(i["placed"]) for i in found["Items"]] == [17, 30]
    assert int(table.get_item(Key={"customer": "ada", "placed": 4})["Item"]["total"]) == 9
    assert table.scan(Select="COUNT")["Count"] == 4
    # A global secondary index (decision 0243): its order (total), its projection (the keys).
    opened = table.query(IndexName="by_status", KeyConditionExpression=Key("status").eq("open"))
    assert [int(i["total"]) for i in opened["Items"]] == [9, 34, 60]
    assert set(opened["Items"][0]) == {"customer", "placed", "status", "total"}
    # PartiQL (decision 0247) with boto3's execute_statement: a query by the partition key,
    # an update of one item, an insert refused when its key is taken; capacity answered.
    selected = dynamodb.execute_statement(
        Statement='SELECT placed FROM "orders" WHERE customer = ? AND placed > ?',
        Parameters=[{"S": "ada"}, {"N": "5"}], ReturnConsumedCapacity="TOTAL",
    )  # fmt: skip
    assert [i["placed"]["N"] for i in selected["Items"]] == ["17", "30", "200"]
    assert selected["ConsumedCapacity"]["TableName"] == "orders"
    dynamodb.execute_statement(
        Statement="UPDATE orders SET note = 'rush' WHERE customer = 'ada' AND placed = 4"
    )
    assert table.get_item(Key={"customer": "ada", "placed": 4})["Item"]["note"] == "rush"
    with pytest.raises(ClientError) as taken:
        dynamodb.execute_statement(
            Statement="INSERT INTO orders VALUE {'customer': 'ada', 'placed': 4}"
        )
    assert error_code(taken) == "DuplicateItemException"
    # The legacy parameters older SDKs send (decision 0259), and a transaction's token retried.
    ada = {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "ada"}]}
    legacy = dynamodb.query(
        TableName="orders", AttributesToGet=["placed"],
        KeyConditions={"customer": ada, "placed": {"ComparisonOperator": "GT",
                                                   "AttributeValueList": [{"N": "5"}]}},
        QueryFilter={"status": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "open"}]}},
    )  # fmt: skip
    assert legacy["Items"] == [{"placed": {"N": "17"}}, {"placed": {"N": "30"}}]
    dynamodb.update_item(
        TableName="orders", Key={"customer": {"S": "ada"}, "placed": {"N": "4"}},
        AttributeUpdates={"total": {"Action": "ADD", "Value": {"N": "1"}}},
        Expected={"note": {"Value": {"S": "rush"}}},
    )  # fmt: skip
    once = {"TransactItems": [{"Update": {
        "TableName": "orders", "Key": {"customer": {"S": "ada"}, "placed": {"N": "4"}},
        "UpdateExpression": "ADD total :one", "ExpressionAttributeValues": {":one": {"N": "1"}},
    }}], "ClientRequestToken": "e2e-retry"}  # fmt: skip
    dynamodb.transact_write_items(**once)
    dynamodb.transact_write_items(**once)  # a retry: remembered in the database, not re-run
    assert int(table.get_item(Key={"customer": "ada", "placed": 4})["Item"]["total"]) == 11
    table.delete()
    dynamodb.delete_table(TableName="terraform-locks")
    assert dynamodb.list_tables()["TableNames"] == []


def test_a_dynamodb_stream_read_back_by_boto3(server: ServerProcess) -> None:
    """DynamoDB Streams (decision 0246) over the real server: a table made with a stream,
    three changes by boto3's ``dynamodb`` client, read back by its ``dynamodbstreams`` client
    (signed for ``dynamodb``, routed by its target) from the shard's trim horizon, the
    images read by boto3's TypeDeserializer."""
    dynamodb: Any = client_for(server, "dynamodb", *server.credentials())
    streams: Any = client_for(server, "dynamodbstreams", *server.credentials())
    arn = dynamodb.create_table(
        TableName="changes", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]["LatestStreamArn"]  # fmt: skip
    dynamodb.put_item(TableName="changes", Item={"id": {"S": "a"}, "n": {"N": "1"}})
    dynamodb.update_item(TableName="changes", Key={"id": {"S": "a"}},
                         UpdateExpression="SET n = :two",
                         ExpressionAttributeValues={":two": {"N": "2"}})  # fmt: skip
    dynamodb.delete_item(TableName="changes", Key={"id": {"S": "a"}})
    assert [s["StreamArn"] for s in streams.list_streams(TableName="changes")["Streams"]] == [arn]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = streams.get_records(ShardIterator=iterator)["Records"]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    modified = records[1]["dynamodb"]
    image = {k: TypeDeserializer().deserialize(v) for k, v in modified["NewImage"].items()}
    assert image == {"id": "a", "n": 2} and modified["OldImage"]["n"] == {"N": "1"}
    dynamodb.delete_table(TableName="changes")
    described = streams.describe_stream(StreamArn=arn)["StreamDescription"]
    assert described["StreamStatus"] == "DISABLED"  # readable for its 24 hours


def test_a_dynamodb_table_streams_into_a_kinesis_stream(server: ServerProcess) -> None:
    """Kinesis Data Streams for DynamoDB (decision 0262) over the real server: boto3 enables
    a destination (no DynamoDB stream asked for), the serve's forwarder puts a put and a
    delete into the Kinesis stream in AWS's record format, read back by boto3's client."""
    dynamodb: Any = client_for(server, "dynamodb", *server.credentials())
    kinesis: Any = client_for(server, "kinesis", *server.credentials())
    kinesis.create_stream(StreamName="table-changes", ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName="table-changes",
                                             WaiterConfig={"Delay": 1})  # fmt: skip
    stream_arn = kinesis.describe_stream_summary(StreamName="table-changes")[
        "StreamDescriptionSummary"]["StreamARN"]  # fmt: skip
    dynamodb.create_table(
        TableName="forwarded", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
    )  # fmt: skip
    enabled = dynamodb.enable_kinesis_streaming_destination(
        TableName="forwarded", StreamArn=stream_arn
    )
    assert enabled["DestinationStatus"] == "ENABLING"
    dynamodb.put_item(TableName="forwarded", Item={"id": {"S": "a"}, "n": {"N": "1"}})
    dynamodb.delete_item(TableName="forwarded", Key={"id": {"S": "a"}})
    described = dynamodb.describe_kinesis_streaming_destination(TableName="forwarded")
    [destination] = described["KinesisDataStreamDestinations"]
    assert destination["DestinationStatus"] == "ACTIVE"
    shard = kinesis.list_shards(StreamName="table-changes")["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(
        StreamName="table-changes", ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records: list[dict[str, Any]] = []
    deadline = time.monotonic() + 30
    while len(records) < 2 and time.monotonic() < deadline:
        got = kinesis.get_records(ShardIterator=iterator, Limit=10)
        records += [json.loads(r["Data"]) for r in got["Records"]]
        iterator = got["NextShardIterator"]
        time.sleep(0.3)
    assert [r["eventName"] for r in records] == ["INSERT", "REMOVE"]
    assert records[0]["tableName"] == "forwarded"
    assert records[0]["eventSource"] == "aws:dynamodb"
    assert records[0]["dynamodb"]["NewImage"] == {"id": {"S": "a"}, "n": {"N": "1"}}
    assert records[1]["dynamodb"]["OldImage"]["n"] == {"N": "1"}
    dynamodb.disable_kinesis_streaming_destination(TableName="forwarded", StreamArn=stream_arn)


def test_a_dynamodb_backup_restored_and_a_protected_table(server: ServerProcess) -> None:
    """Decision 0253 over the real server and its SQL store: a table protected against
    deletion (DeleteTable refused in AWS's words until UpdateTable turns it off), an
    on-demand backup that outlives its table, restored under another name by boto3; the
    restored table's point-in-time recovery turned on and restored at the latest instant."""
    dynamodb: Any = client_for(server, "dynamodb", *server.credentials())
    dynamodb.create_table(
        TableName="ledger", BillingMode="PAY_PER_REQUEST", DeletionProtectionEnabled=True,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
    )  # fmt: skip
    dynamodb.put_item(TableName="ledger", Item={"id": {"S": "a"}, "n": {"N": "1"}})
    with pytest.raises(ClientError) as protected:
        dynamodb.delete_table(TableName="ledger")
    assert error_code(protected) == "ValidationException"
    assert "protected against deletion" in str(protected.value)
    arn = dynamodb.create_backup(TableName="ledger", BackupName="before-close")["BackupDetails"][
        "BackupArn"
    ]
    dynamodb.update_table(TableName="ledger", DeletionProtectionEnabled=False)
    dynamodb.delete_table(TableName="ledger")
    assert (
        dynamodb.describe_backup(BackupArn=arn)["BackupDescription"]["SourceTableDetails"][
            "ItemCount"
        ]
        == 1
    )
    restored = dynamodb.restore_table_from_backup(TargetTableName="ledger-2", BackupArn=arn)
    assert restored["TableDescription"]["RestoreSummary"]["SourceBackupArn"] == arn
    item = dynamodb.get_item(TableName="ledger-2", Key={"id": {"S": "a"}})["Item"]
    assert item == {"id": {"S": "a"}, "n": {"N": "1"}}
    dynamodb.delete_backup(BackupArn=arn)
    assert dynamodb.list_backups()["BackupSummaries"] == []
    # Point-in-time recovery: the history in the SQL store, restored at the latest instant.
    recovery = dynamodb.update_continuous_backups(
        TableName="ledger-2", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert recovery["PointInTimeRecoveryStatus"] == "ENABLED"
    time.sleep(0.01)
    dynamodb.put_item(TableName="ledger-2", Item={"id": {"S": "b"}})
    dynamodb.restore_table_to_point_in_time(
        SourceTableName="ledger-2", TargetTableName="ledger-3", UseLatestRestorableTime=True
    )
    keys = sorted(i["id"]["S"] for i in dynamodb.scan(TableName="ledger-3")["Items"])
    assert keys == ["a", "b"]
    dynamodb.delete_table(TableName="ledger-2")
    dynamodb.delete_table(TableName="ledger-3")


def test_a_dynamodb_table_under_a_customer_key_and_an_index_backfilled(
    server: ServerProcess,
) -> None:
    """Decision 0254 over the real server: a table made under a customer-managed KMS key
    (boto3's ``kms`` and ``dynamodb`` clients), described ``INACCESSIBLE_ENCRYPTION_CREDENTIALS``
    while the key is disabled and serving again once enabled; a global index added by
    UpdateTable answered ``CREATING``, then ``ACTIVE`` once the server's backfill filled it."""
    credentials = server.credentials()
    dynamodb: Any = client_for(server, "dynamodb", *credentials)
    kms: Any = client_for(server, "kms", *credentials)
    key = kms.create_key(Description="dynamodb tables")["KeyMetadata"]
    made = dynamodb.create_table(
        TableName="sealed", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key["KeyId"]},
    )["TableDescription"]  # fmt: skip
    assert made["SSEDescription"] == {"Status": "ENABLED", "SSEType": "KMS",
                                      "KMSMasterKeyArn": key["Arn"]}  # fmt: skip
    dynamodb.put_item(TableName="sealed", Item={"id": {"S": "a"}, "colour": {"S": "red"}})
    kms.disable_key(KeyId=key["KeyId"])
    status = dynamodb.describe_table(TableName="sealed")["Table"]["TableStatus"]
    assert status == "INACCESSIBLE_ENCRYPTION_CREDENTIALS"
    kms.enable_key(KeyId=key["KeyId"])
    assert dynamodb.describe_table(TableName="sealed")["Table"]["TableStatus"] == "ACTIVE"
    assert dynamodb.get_item(TableName="sealed", Key={"id": {"S": "a"}})["Item"]["colour"] == {
        "S": "red"
    }
    updated = dynamodb.update_table(
        TableName="sealed",
        AttributeDefinitions=[{"AttributeName": "colour", "AttributeType": "S"}],
        GlobalSecondaryIndexUpdates=[{"Create": {
            "IndexName": "by_colour", "Projection": {"ProjectionType": "ALL"},
            "KeySchema": [{"AttributeName": "colour", "KeyType": "HASH"}]}}],
    )["TableDescription"]  # fmt: skip
    assert updated["GlobalSecondaryIndexes"][0]["IndexStatus"] == "CREATING"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        index = dynamodb.describe_table(TableName="sealed")["Table"]["GlobalSecondaryIndexes"][0]
        if index["IndexStatus"] == "ACTIVE":
            break
        time.sleep(0.1)
    assert (index["IndexStatus"], index["Backfilling"]) == ("ACTIVE", False)
    found = dynamodb.query(TableName="sealed", IndexName="by_colour",
                           KeyConditionExpression="colour = :c",
                           ExpressionAttributeValues={":c": {"S": "red"}})  # fmt: skip
    assert found["Count"] == 1
    dynamodb.delete_table(TableName="sealed")


def test_a_kinesis_consumer_subscribes_to_a_shard(server: ServerProcess) -> None:
    """Enhanced fan-out (decision 0242) with boto3's own event-stream client: a consumer
    registered, subscribed to the shard from its tip, records put by another client pushed
    into the open subscription, a second subscription of the consumer refused."""
    credentials = server.credentials()
    kinesis: Any = client_for(server, "kinesis", *credentials)
    producer: Any = client_for(server, "kinesis", *credentials)
    kinesis.create_stream(StreamName="fanout", ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName="fanout", WaiterConfig={"Delay": 1})
    stream_arn = kinesis.describe_stream_summary(StreamName="fanout")["StreamDescriptionSummary"][
        "StreamARN"
    ]
    consumer = kinesis.register_stream_consumer(StreamARN=stream_arn, ConsumerName="reader")
    consumer_arn = consumer["Consumer"]["ConsumerARN"]
    shard = kinesis.list_shards(StreamName="fanout")["Shards"][0]["ShardId"]
    subscription = kinesis.subscribe_to_shard(
        ConsumerARN=consumer_arn, ShardId=shard, StartingPosition={"Type": "LATEST"}
    )
    events = subscription["EventStream"]
    try:
        with pytest.raises(ClientError) as in_use:
            kinesis.subscribe_to_shard(
                ConsumerARN=consumer_arn, ShardId=shard, StartingPosition={"Type": "LATEST"}
            )
        assert error_code(in_use) == "ResourceInUseException"
        producer.put_records(StreamName="fanout", Records=[
            {"Data": b"pushed-1", "PartitionKey": "k"},
            {"Data": b"pushed-2", "PartitionKey": "k"}])  # fmt: skip
        seen: list[bytes] = []
        deadline = time.monotonic() + 30
        for event in events:
            shard_event = event["SubscribeToShardEvent"]
            assert shard_event["ContinuationSequenceNumber"]
            seen += [r["Data"] for r in shard_event["Records"]]
            if len(seen) >= 2 or time.monotonic() > deadline:
                break
        assert seen == [b"pushed-1", b"pushed-2"]
    finally:
        events.close()
    kinesis.delete_stream(StreamName="fanout", EnforceConsumerDeletion=True)


def test_a_dynamodb_export_to_a_bucket_imported_back(server: ServerProcess) -> None:
    """Decision 0261 over the real server, its SQL stores and its object service: a table
    exported by boto3 at the present of its point-in-time recovery window into the account's
    bucket, its manifest and gzip'd data read back with S3, then imported into a new table."""
    credentials = server.credentials()
    dynamodb: Any = client_for(server, "dynamodb", *credentials)
    s3: Any = client_for(server, "s3", *credentials)
    s3.create_bucket(Bucket="ddb-exports", CreateBucketConfiguration={"LocationConstraint": REGION})
    table_arn = dynamodb.create_table(
        TableName="portable", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
    )["TableDescription"]["TableArn"]  # fmt: skip
    for n in range(3):
        dynamodb.put_item(TableName="portable", Item={"id": {"S": f"k{n}"}, "n": {"N": str(n)}})
    dynamodb.update_continuous_backups(
        TableName="portable", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )
    export = dynamodb.export_table_to_point_in_time(
        TableArn=table_arn, S3Bucket="ddb-exports", S3Prefix="out"
    )["ExportDescription"]
    deadline = time.monotonic() + 30
    while export["ExportStatus"] == "IN_PROGRESS" and time.monotonic() < deadline:
        time.sleep(0.2)
        export = dynamodb.describe_export(ExportArn=export["ExportArn"])["ExportDescription"]
    assert export["ExportStatus"] == "COMPLETED", export.get("FailureMessage")
    assert export["ItemCount"] == 3
    summary = json.loads(
        s3.get_object(Bucket="ddb-exports", Key=export["ExportManifest"])["Body"].read()
    )
    files = s3.get_object(Bucket="ddb-exports", Key=summary["manifestFilesS3Key"])["Body"].read()
    data_key = json.loads(files.splitlines()[0])["dataFileS3Key"]
    lines = gzip.decompress(s3.get_object(Bucket="ddb-exports", Key=data_key)["Body"].read())
    assert sorted(json.loads(line)["Item"]["id"]["S"] for line in lines.splitlines()) == [
        "k0", "k1", "k2",
    ]  # fmt: skip
    imported = dynamodb.import_table(
        S3BucketSource={"S3Bucket": "ddb-exports", "S3KeyPrefix": data_key.rsplit("/", 1)[0]},
        InputFormat="DYNAMODB_JSON",
        InputCompressionType="GZIP",
        TableCreationParameters={
            "TableName": "portable-copy",
            "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
        },
    )["ImportTableDescription"]
    while imported["ImportStatus"] == "IN_PROGRESS" and time.monotonic() < deadline:
        time.sleep(0.2)
        imported = dynamodb.describe_import(ImportArn=imported["ImportArn"])[
            "ImportTableDescription"
        ]
    assert imported["ImportStatus"] == "COMPLETED", imported.get("FailureMessage")
    assert imported["ImportedItemCount"] == 3 and imported["ErrorCount"] == 0
    got = dynamodb.get_item(TableName="portable-copy", Key={"id": {"S": "k2"}})["Item"]
    assert got == {"id": {"S": "k2"}, "n": {"N": "2"}}
    dynamodb.delete_table(TableName="portable")
    dynamodb.delete_table(TableName="portable-copy")
