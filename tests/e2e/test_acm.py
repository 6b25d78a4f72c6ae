"""Certificate Manager end to end (decision 0230), on the session's ``andromede serve`` (no
server of its own): boto3's ``acm`` client imports a certificate with its chain and tags,
describes, gets, lists and deletes it; an NLB's TLS listener made with its ARN names it in
``InUseBy`` and keeps it from deletion; the aws CLI's ``aws acm import-certificate`` and
``describe-certificate`` (awscli v1 reads the PEM files as blobs with ``fileb://``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from e2e.clients import aws_cli
from e2e.iam_helpers import client_for, new_tenant
from support.acmapp import issue
from support.server import ServerProcess

pytestmark = pytest.mark.e2e


def test_boto3_and_the_cli_import_and_a_listener_uses(
    server: ServerProcess, tmp_path: Path
) -> None:
    tenant = new_tenant(server, "acm-e2e")
    credentials = (tenant.access_key_id, tenant.secret_access_key)
    acm: Any = client_for(server, "acm", *credentials)
    issued = issue("www.example.test", "api.example.test", kind="rsa2048")
    arn = acm.import_certificate(
        Certificate=issued.body.encode(),
        PrivateKey=issued.key.encode(),
        CertificateChain=issued.chain.encode(),
        Tags=[{"Key": "team", "Value": "web"}],
    )["CertificateArn"]
    detail = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    assert (detail["DomainName"], detail["Type"], detail["Status"]) == (
        "www.example.test", "IMPORTED", "ISSUED"
    )  # fmt: skip
    assert detail["KeyAlgorithm"] == "RSA_2048"
    got = acm.get_certificate(CertificateArn=arn)
    assert got["Certificate"] == issued.body.strip() and "PRIVATE KEY" not in json.dumps(got)
    listed = acm.list_certificates()["CertificateSummaryList"]
    assert [s["CertificateArn"] for s in listed] == [arn]
    with pytest.raises(ClientError) as refused:
        acm.request_certificate(DomainName="www.example.test", ValidationMethod="DNS")
    assert refused.value.response["Error"]["Code"] == "NotImplemented"

    # An NLB's TLS listener presents it.
    ec2: Any = client_for(server, "ec2", *credentials)
    elb: Any = client_for(server, "elbv2", *credentials)
    vpc = ec2.create_vpc(CidrBlock="10.61.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.61.1.0/24")["Subnet"]["SubnetId"]
    lb = elb.create_load_balancer(Name="acm", Type="network", Scheme="internal",
                                  Subnets=[subnet])["LoadBalancers"][0]  # fmt: skip
    group = elb.create_target_group(Name="acm", Protocol="TLS", Port=443, VpcId=vpc)
    listener = elb.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"], Protocol="TLS", Port=443,
        Certificates=[{"CertificateArn": arn}],
        DefaultActions=[{"Type": "forward",
                         "TargetGroupArn": group["TargetGroups"][0]["TargetGroupArn"]}],
    )["Listeners"][0]  # fmt: skip
    assert acm.describe_certificate(CertificateArn=arn)["Certificate"]["InUseBy"] == [
        lb["LoadBalancerArn"]
    ]
    with pytest.raises(ClientError) as in_use:
        acm.delete_certificate(CertificateArn=arn)
    assert in_use.value.response["Error"]["Code"] == "ResourceInUseException"
    elb.delete_listener(ListenerArn=listener["ListenerArn"])
    elb.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])
    acm.delete_certificate(CertificateArn=arn)

    # The aws CLI, as the server's admin.
    (tmp_path / "cert.pem").write_text(issued.body)
    (tmp_path / "key.pem").write_text(issued.key)
    aws = aws_cli(server, tmp_path)
    made = json.loads(aws("acm", "import-certificate", "--certificate",
                          f"fileb://{tmp_path / 'cert.pem'}", "--private-key",
                          f"fileb://{tmp_path / 'key.pem'}").stdout)  # fmt: skip
    shown = json.loads(
        aws("acm", "describe-certificate", "--certificate-arn", made["CertificateArn"]).stdout
    )
    assert shown["Certificate"]["SubjectAlternativeNames"] == [
        "www.example.test", "api.example.test"
    ]  # fmt: skip
    aws("acm", "delete-certificate", "--certificate-arn", made["CertificateArn"])
