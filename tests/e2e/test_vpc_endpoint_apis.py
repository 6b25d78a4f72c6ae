"""Interface VPC endpoints to KMS and SQS under a real ``andromede serve`` (decision 0174):
boto3 makes the endpoints with EC2's API, then its ``kms`` and ``sqs`` clients send their
calls as a host agent's forwarder would hand them to the gateway — each request bearing the
origin attestation made under the data folder's key (botocore's ``before-send`` hook adds it
once the request is signed) — so the real ``Application`` front chooses the API by the
credential scope and its gate serves it through the endpoint: a key policy allowing
Encrypt only through the KMS endpoint, an SQS call at the KMS endpoint refused in SQS's
words, an S3 read through it refused in S3's. The session's shared server (memory
hypervisor): no guest, the routers and the agent's forwarder being the contract test's."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from andromede.vpc_endpoint_front import ATTESTATION_HEADER, attest, attestation_key
from support.server import REGION, ServerProcess

pytestmark = pytest.mark.e2e


def _client(server: ServerProcess, service: str, origin: tuple[str, str, str] | None) -> Any:
    """A boto3 client of the shared server, its requests attested as coming through the
    endpoint ``origin`` (VPC, endpoint, private address) when given."""
    access_key, secret_key = server.credentials()
    make: Any = boto3.client
    client = make(
        service,
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
    )
    if origin is not None:
        key = attestation_key(server.data_dir / "keys" / "secrets.key")

        def attested(request: Any, **_: Any) -> None:
            parts = urlsplit(request.url)
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            value = attest(key, origin, request.method, target, time.time())
            request.headers[ATTESTATION_HEADER] = value

        client.meta.events.register("before-send", attested)
    return client


def test_kms_and_sqs_through_their_interface_endpoints(server: ServerProcess) -> None:
    ec2 = _client(server, "ec2", None)
    vpc = ec2.create_vpc(CidrBlock="10.91.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.91.1.0/24")["Subnet"]["SubnetId"]
    endpoints = {
        service: ec2.create_vpc_endpoint(
            VpcEndpointType="Interface",
            VpcId=vpc,
            ServiceName=f"com.amazonaws.{REGION}.{service}",
            SubnetIds=[subnet],
            PrivateDnsEnabled=False,
        )["VpcEndpoint"]["VpcEndpointId"]
        for service in ("kms", "sqs")
    }
    through_kms = (vpc, endpoints["kms"], "10.91.1.20")
    kms = _client(server, "kms", through_kms)
    key_id = kms.create_key(Description="through its endpoint")["KeyMetadata"]["KeyId"]
    account = kms.describe_key(KeyId=key_id)["KeyMetadata"]["AWSAccountId"]
    root = f"arn:aws:iam::{account}:root"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": root}, "Action": "kms:*", "Resource": "*"},
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "kms:Encrypt",
                "Resource": "*",
                "Condition": {"StringNotEquals": {"aws:SourceVpce": endpoints["kms"]}},
            },
        ],
    }
    kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=json.dumps(policy))
    assert kms.encrypt(KeyId=key_id, Plaintext=b"q4")["KeyId"].endswith(key_id)
    with pytest.raises(ClientError) as refused:
        _client(server, "kms", None).encrypt(KeyId=key_id, Plaintext=b"q4")
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    # SQS through its own endpoint; at the KMS endpoint, refused in SQS's words.
    sqs = _client(server, "sqs", (vpc, endpoints["sqs"], "10.91.1.21"))
    assert sqs.create_queue(QueueName="through-vpce")["QueueUrl"]
    with pytest.raises(ClientError) as refused:
        _client(server, "sqs", through_kms).list_queues()
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    # S3 at the KMS endpoint: S3's AccessDenied, whatever the bucket.
    with pytest.raises(ClientError) as refused:
        _client(server, "s3", through_kms).list_buckets()
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    ec2.delete_vpc_endpoints(VpcEndpointIds=list(endpoints.values()))
    # The endpoint gone: its attestation holds no more.
    with pytest.raises(ClientError) as refused:
        kms.list_keys()
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"


def test_ec2_cloudwatch_and_auto_scaling_through_their_endpoints(server: ServerProcess) -> None:
    """Decision 0174's session-48 addendum: what an instance of a private subnet calls —
    the CLI's DescribeInstances, the CloudWatch agent's PutMetricData (boto3 speaks RPC v2
    CBOR), a lifecycle-hook script's Auto Scaling calls — through their endpoints."""
    ec2 = _client(server, "ec2", None)
    vpc = ec2.create_vpc(CidrBlock="10.92.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.92.1.0/24")["Subnet"]["SubnetId"]
    endpoints = {
        service: ec2.create_vpc_endpoint(
            VpcEndpointType="Interface",
            VpcId=vpc,
            ServiceName=f"com.amazonaws.{REGION}.{service}",
            SubnetIds=[subnet],
            PrivateDnsEnabled=False,
            PolicyDocument=json.dumps(
                {
                    "Statement": [
                        {"Effect": "Allow", "Principal": "*", "Action": action, "Resource": "*"}
                    ]
                }
            ),
        )["VpcEndpoint"]["VpcEndpointId"]
        for service, action in (
            ("ec2", "ec2:Describe*"),
            ("monitoring", "cloudwatch:PutMetricData"),
            ("autoscaling", "autoscaling:*"),
        )
    }
    origin = {service: (vpc, endpoint, "10.92.1.30") for service, endpoint in endpoints.items()}
    through_ec2 = _client(server, "ec2", origin["ec2"])
    reservations = through_ec2.describe_instances(Filters=[{"Name": "vpc-id", "Values": [vpc]}])[
        "Reservations"
    ]
    assert reservations == []
    with pytest.raises(ClientError) as refused:
        through_ec2.create_security_group(GroupName="no", Description="no", VpcId=vpc)
    assert refused.value.response["Error"]["Code"] == "UnauthorizedOperation"
    assert "no VPC endpoint policy allows" in refused.value.response["Error"]["Message"]
    cloudwatch = _client(server, "cloudwatch", origin["monitoring"])
    cloudwatch.put_metric_data(
        Namespace="Agent", MetricData=[{"MetricName": "mem_used_percent", "Value": 42.0}]
    )
    with pytest.raises(ClientError) as refused:
        cloudwatch.list_metrics(Namespace="Agent")
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    listed = _client(server, "cloudwatch", None).list_metrics(Namespace="Agent")["Metrics"]
    assert [m["MetricName"] for m in listed] == ["mem_used_percent"]
    scaling = _client(server, "autoscaling", origin["autoscaling"])
    assert scaling.describe_auto_scaling_groups()["AutoScalingGroups"] == []
    # Each at another's endpoint: refused in the words of the API it names.
    with pytest.raises(ClientError) as refused:
        _client(server, "ec2", origin["monitoring"]).describe_instances()
    assert refused.value.response["Error"]["Code"] == "UnauthorizedOperation"
    with pytest.raises(ClientError) as refused:
        _client(server, "autoscaling", origin["ec2"]).describe_auto_scaling_groups()
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    ec2.delete_vpc_endpoints(VpcEndpointIds=list(endpoints.values()))


def test_logs_and_secrets_manager_through_their_endpoints(server: ServerProcess) -> None:
    """Decision 0174's session-48 addendum: what an instance of a private subnet calls — the
    CloudWatch agent's PutLogEvents, an application's GetSecretValue — through their
    endpoints, bounded by their policies; each at the other's endpoint refused in its words."""
    ec2 = _client(server, "ec2", None)
    vpc = ec2.create_vpc(CidrBlock="10.93.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.93.1.0/24")["Subnet"]["SubnetId"]
    endpoints = {
        service: ec2.create_vpc_endpoint(
            VpcEndpointType="Interface",
            VpcId=vpc,
            ServiceName=f"com.amazonaws.{REGION}.{service}",
            SubnetIds=[subnet],
            PrivateDnsEnabled=False,
            PolicyDocument=json.dumps(
                {
                    "Statement": [
                        {"Effect": "Allow", "Principal": "*", "Action": action, "Resource": "*"}
                    ]
                }
            ),
        )["VpcEndpoint"]["VpcEndpointId"]
        for service, action in (
            ("logs", ["logs:CreateLog*", "logs:PutLogEvents"]),
            ("secretsmanager", "secretsmanager:GetSecretValue"),
        )
    }
    origin = {service: (vpc, endpoint, "10.93.1.40") for service, endpoint in endpoints.items()}
    logs = _client(server, "logs", origin["logs"])
    logs.create_log_group(logGroupName="/vpce/agent")
    logs.create_log_stream(logGroupName="/vpce/agent", logStreamName="i-0")
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName="/vpce/agent",
        logStreamName="i-0",
        logEvents=[{"timestamp": now, "message": "through the endpoint"}],
    )
    with pytest.raises(ClientError) as refused:
        logs.delete_log_group(logGroupName="/vpce/agent")
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "no VPC endpoint policy allows" in refused.value.response["Error"]["Message"]
    read = _client(server, "logs", None).filter_log_events(logGroupName="/vpce/agent")
    assert [e["message"] for e in read["events"]] == ["through the endpoint"]
    _client(server, "secretsmanager", None).create_secret(Name="vpce-db", SecretString="pw")
    secrets = _client(server, "secretsmanager", origin["secretsmanager"])
    assert secrets.get_secret_value(SecretId="vpce-db")["SecretString"] == "pw"
    with pytest.raises(ClientError) as refused:
        secrets.list_secrets()
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    # Each at the other's endpoint: the gate's refusal, in the words of the API it names.
    with pytest.raises(ClientError) as refused:
        _client(server, "secretsmanager", origin["logs"]).get_secret_value(SecretId="vpce-db")
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    with pytest.raises(ClientError) as refused:
        _client(server, "logs", origin["secretsmanager"]).describe_log_groups()
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    ec2.delete_vpc_endpoints(VpcEndpointIds=list(endpoints.values()))
