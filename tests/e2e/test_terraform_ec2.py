"""Terraform's AWS provider against a real ``andromede serve`` for EC2: an EBS volume under a
KMS key (``aws_ebs_volume`` ``kms_key_id``) and an instance with block devices
(``aws_instance``) imaged by ``aws_ami_from_instance``, a Spot Instance request
(``aws_spot_instance_request``, decision 0202), with IAM users and roles with a
``permissions_boundary`` in the same configuration; and the default VPC and subnet with
``force_destroy``, adopted, deleted and made again (decision 0137). The VPC lab launched from a
launch template is ``test_terraform_vpc_lab.py``, in a module of its own so that a parallel run
gives it another worker: most of its time is the provider waiting (decision 0167).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from e2e.helpers import unique_bucket
from e2e.iam_helpers import client_for, new_tenant
from e2e.terraform_kit import (
    DEFAULT_TAGS,
    DESTROY_AFTER_PLAN,
    PUBLIC_DNS_DOMAIN,
    Terraform,
    aws_provider,
    server_endpoint,
    terraform_ec2_server,
)
from e2e.test_kms_api import kms_client
from support.qemu_host import import_image
from support.server import REGION, ServerProcess

# Terraform's AWS provider polls with its own delays (55 s of lifecycle re-reads, volume
# modifications, a guest's boot): 100 to 140 s a test on a quick machine, over 300 s on a slow
# one.
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def ec2_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with terraform_ec2_server(tmp_path_factory) as server:
        yield server


# ``permissions_boundary`` on ``aws_iam_role`` and ``aws_iam_user`` (decision 0065), and
# ``tags`` on them, on ``aws_iam_policy`` and on ``aws_iam_instance_profile`` (decisions 0067,
# 0074), and an ``aws_iam_openid_connect_provider`` (decision 0087), in the volumes'
# configuration: one apply, plan and destroy fewer (each costs the provider some 5 s of CPU).
BOUNDARIES = """
data "aws_caller_identity" "me" {}
resource "aws_iam_policy" "boundary" {
  name   = "%(prefix)s-boundary"
  tags   = { team = "platform", purpose = "boundary" }
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = ["s3:GetObject"], Resource = "*" }]
  })
}
resource "aws_iam_role" "ci" {
  name                 = "%(prefix)s-ci"
  permissions_boundary = aws_iam_policy.boundary.arn
  tags                 = { team = "platform", env = "prod" }
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { AWS = "arn:aws:iam::${data.aws_caller_identity.me.account_id}:root" }
      Action    = "sts:AssumeRole"
    }]
  })
}
resource "aws_iam_user" "dev" {
  name                 = "%(prefix)s-dev"
  permissions_boundary = aws_iam_policy.boundary.arn
  tags                 = { team = "platform" }
}
resource "aws_iam_instance_profile" "ci" {
  name = "%(prefix)s-ci"
  role = aws_iam_role.ci.name
  tags = { team = "platform" }
}
resource "aws_iam_openid_connect_provider" "ci" {
  url            = "https://%(prefix)s.idp.example/realms/ops"
  client_id_list = ["sts.amazonaws.com"]
  tags           = { team = "platform" }
}
"""

VOLUMES = (
    aws_provider(default_tags=DEFAULT_TAGS)
    + BOUNDARIES
    + """
resource "aws_kms_key" "disks" {
  description             = "volumes of the data team"
  deletion_window_in_days = 7
}
resource "aws_ebs_volume" "data" {
  availability_zone = "%(region)sa"
  size              = %(data_size)s
  type              = "gp3"
  encrypted         = true
  kms_key_id        = aws_kms_key.disks.arn
  tags              = { Name = "data" }
}
resource "aws_instance" "db" {
  ami           = "%(image)s"
  instance_type = "t3.nano"
  root_block_device {
    volume_size           = %(root_size)s
    delete_on_termination = %(keep_root)s
    encrypted             = true
  }
  ebs_block_device {
    device_name = "/dev/sdb"
    volume_size = 2
    volume_type = "gp3"
    kms_key_id  = aws_kms_key.disks.arn
    encrypted   = true
  }
  disable_api_termination              = %(protected)s
  disable_api_stop                     = false
  instance_initiated_shutdown_behavior = "%(shutdown)s"
  metadata_options {
    http_tokens                 = "required"
    http_put_response_hop_limit = 2
    instance_metadata_tags      = "%(imds_tags)s"
  }
  tags = { Name = "db" }
}
resource "aws_ami_from_instance" "db" {
  name               = "db-image"
  description        = "the database server"
  source_instance_id = aws_instance.db.id
}
# A one-time Spot Instance request (decision 0202), fulfilled before the apply returns.
resource "aws_spot_instance_request" "batch" {
  ami                  = "%(image)s"
  instance_type        = "t3.nano"
  spot_type            = "one-time"
  wait_for_fulfillment = true
  tags                 = { Name = "batch" }
}
output "spot_request_id" { value = aws_spot_instance_request.batch.id }
output "spot_instance_id" { value = aws_spot_instance_request.batch.spot_instance_id }
output "volume_id" { value = aws_ebs_volume.data.id }
output "key_arn" { value = aws_kms_key.disks.arn }
output "instance_id" { value = aws_instance.db.id }
output "ami_id" { value = aws_ami_from_instance.db.id }
"""
)


def test_terraform_makes_volumes_and_an_instance_under_a_kms_key(
    ec2_server: ServerProcess, terraform: Terraform, tmp_path: Path
) -> None:
    """``aws_ebs_volume`` with ``kms_key_id`` (decision 0062), and ``aws_instance`` with a
    ``root_block_device`` kept after termination and an ``ebs_block_device`` under the key
    (decision 0070), imaged by ``aws_ami_from_instance`` (decision 0147): applies, converges,
    changes ``delete_on_termination`` in place (ModifyInstanceAttribute) and grows both
    volumes in place (ModifyVolume, decision 0088), destroys. The instance is launched under
    termination protection, with the ``terminate`` shutdown behaviour and metadata options
    (decision 0145), all three changed in place by the second apply, which lifts the
    protection so that destroy works. The IAM resources of ``BOUNDARIES`` ride along:
    boundaries and tags as set, unchanged by the second apply, gone after destroy."""
    disk = tmp_path / "disk.raw"
    disk.write_bytes(b"\0" * 1024 * 1024)
    image_id = import_image(ec2_server, disk, "tf")
    values = {
        "region": REGION,
        "credentials": ec2_server.credentials_file,
        "endpoints": server_endpoint(terraform.work, ec2_server.endpoint),
        "image": image_id,
        "keep_root": "false",
        "data_size": 2,
        "root_size": 3,
        "protected": "true",
        "shutdown": "terminate",
        "imds_tags": "enabled",
        "prefix": unique_bucket("tf"),
    }
    (terraform.work / "main.tf").write_text(VOLUMES % values)
    terraform("init", "-input=false")
    terraform("apply", "-auto-approve", "-input=false")
    outputs = {
        name: value["value"]
        for name, value in json.loads(terraform("output", "-json").stdout).items()
    }
    ec2 = client_for(ec2_server, "ec2", *ec2_server.credentials())
    [volume] = ec2.describe_volumes(VolumeIds=[outputs["volume_id"]])["Volumes"]
    assert (volume["Size"], volume["KmsKeyId"]) == (2, outputs["key_arn"])

    def mappings() -> dict[str, tuple[bool, int, str | None]]:
        [reservation] = ec2.describe_instances(InstanceIds=[outputs["instance_id"]])["Reservations"]
        found = {}
        for mapping in reservation["Instances"][0]["BlockDeviceMappings"]:
            [attached] = ec2.describe_volumes(VolumeIds=[mapping["Ebs"]["VolumeId"]])["Volumes"]
            found[mapping["DeviceName"]] = (
                mapping["Ebs"]["DeleteOnTermination"],
                attached["Size"],
                attached.get("KmsKeyId"),
            )
        return found

    assert mappings() == {
        "/dev/xvda": (False, 3, None),
        "/dev/sdb": (True, 2, outputs["key_arn"]),
    }
    # aws_ami_from_instance (decision 0147): CreateImage without NoReboot, the instance
    # stopped, snapshotted and started again; a snapshot per volume, the KMS key kept.
    [image] = ec2.describe_images(ImageIds=[outputs["ami_id"]])["Images"]
    assert (image["Name"], image["State"]) == ("db-image", "available")
    assert {t["Key"]: t["Value"] for t in image["Tags"]} == DEFAULT_TAGS
    image_snapshots = {
        m["DeviceName"]: m["Ebs"]["SnapshotId"] for m in image["BlockDeviceMappings"]
    }
    [data_snapshot] = ec2.describe_snapshots(SnapshotIds=[image_snapshots["/dev/sdb"]])["Snapshots"]
    assert data_snapshot["KmsKeyId"] == outputs["key_arn"]
    # The provider's default tags on the instance, the volume and the key.
    [reservation] = ec2.describe_instances(InstanceIds=[outputs["instance_id"]])["Reservations"]
    instance_tags = {t["Key"]: t["Value"] for t in reservation["Instances"][0]["Tags"]}
    assert instance_tags == {"Name": "db", **DEFAULT_TAGS}
    assert {t["Key"]: t["Value"] for t in volume["Tags"]} == {"Name": "data", **DEFAULT_TAGS}
    options = reservation["Instances"][0]["MetadataOptions"]
    assert options["HttpTokens"] == "required"
    assert (options["HttpPutResponseHopLimit"], options["InstanceMetadataTags"]) == (2, "enabled")

    def attribute(name: str) -> object:
        key = name[0].upper() + name[1:]
        answer = ec2.describe_instance_attribute(InstanceId=outputs["instance_id"], Attribute=name)
        return answer[key]["Value"]

    assert attribute("disableApiTermination") is True
    assert attribute("instanceInitiatedShutdownBehavior") == "terminate"
    # aws_spot_instance_request (decision 0202): its instance a Spot Instance of the request.
    [spot_reservation] = ec2.describe_instances(InstanceIds=[outputs["spot_instance_id"]])[
        "Reservations"
    ]
    spot = spot_reservation["Instances"][0]
    assert (spot["InstanceLifecycle"], spot["SpotInstanceRequestId"]) == (
        "spot",
        outputs["spot_request_id"],
    )
    with pytest.raises(ClientError) as refused:
        ec2.terminate_instances(InstanceIds=[outputs["instance_id"]])
    assert refused.value.response["Error"]["Code"] == "OperationNotPermitted"
    kms = kms_client(ec2_server, *ec2_server.credentials())
    key_tags = kms.list_resource_tags(KeyId=outputs["key_arn"])["Tags"]
    assert {t["TagKey"]: t["TagValue"] for t in key_tags} == DEFAULT_TAGS
    prefix = values["prefix"]
    iam = client_for(ec2_server, "iam", *ec2_server.credentials())
    role = iam.get_role(RoleName=f"{prefix}-ci")["Role"]
    user = iam.get_user(UserName=f"{prefix}-dev")["User"]
    boundary = role["PermissionsBoundary"]["PermissionsBoundaryArn"]
    assert boundary.endswith(f":policy/{prefix}-boundary")
    assert user["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary
    assert sorted((t["Key"], t["Value"]) for t in role["Tags"]) == [
        ("env", "prod"),
        ("owner", "platform"),  # the provider's default tags, on every resource
        ("team", "platform"),
    ]
    assert sorted((t["Key"], t["Value"]) for t in user["Tags"]) == [
        ("owner", "platform"),
        ("team", "platform"),
    ]
    # Tags on the policy and the instance profile (decision 0074).
    policy_tags = iam.list_policy_tags(PolicyArn=boundary)["Tags"]
    assert sorted((t["Key"], t["Value"]) for t in policy_tags) == [
        ("owner", "platform"),
        ("purpose", "boundary"),
        ("team", "platform"),
    ]
    profile = iam.get_instance_profile(InstanceProfileName=f"{prefix}-ci")["InstanceProfile"]
    assert sorted((t["Key"], t["Value"]) for t in profile["Tags"]) == [
        ("owner", "platform"),
        ("team", "platform"),
    ]
    assert [r["RoleName"] for r in profile["Roles"]] == [f"{prefix}-ci"]
    # An OpenID Connect provider, without thumbprints (decision 0087).
    account = role["Arn"].split(":")[4]
    oidc_arn = f"arn:aws:iam::{account}:oidc-provider/{prefix}.idp.example/realms/ops"
    oidc = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=oidc_arn)
    assert oidc["ClientIDList"] == ["sts.amazonaws.com"]
    assert ("team", "platform") in [(t["Key"], t["Value"]) for t in oidc["Tags"]]
    plan = terraform("plan", "-detailed-exitcode", "-input=false", check=False)
    assert plan.returncode == 0, plan.stdout[-6000:] + plan.stderr[-3000:]
    # aws_instance.public_dns (decision 0151): the default VPC has DNS hostnames, so the
    # instance's public address has EC2's name under the operator's domain; refreshed after
    # the image's stop and start gave it a new address, the state holds DescribeInstances'.
    terraform("apply", "-refresh-only", "-auto-approve", "-input=false")
    shown = json.loads(terraform("show", "-json").stdout)["values"]["root_module"]["resources"]
    [db] = [r["values"] for r in shown if r["address"] == "aws_instance.db"]
    [reservation] = ec2.describe_instances(InstanceIds=[outputs["instance_id"]])["Reservations"]
    described = reservation["Instances"][0]
    public_ip = described["PublicIpAddress"]
    expected = f"ec2-{public_ip.replace('.', '-')}.{REGION}.compute.{PUBLIC_DNS_DOMAIN}"
    assert (db["public_ip"], db["public_dns"]) == (public_ip, expected)
    assert described["PublicDnsName"] == expected
    # The second apply also grows the volume and the root volume in place: ModifyVolume, then
    # the provider waits on DescribeVolumesModifications (decision 0088).
    grown = {**values, "keep_root": "true", "data_size": 3, "root_size": 4,
             "protected": "false", "shutdown": "stop", "imds_tags": "disabled"}  # fmt: skip
    (terraform.work / "main.tf").write_text(VOLUMES % grown)
    terraform("apply", "-auto-approve", "-input=false")
    assert mappings()["/dev/xvda"][:2] == (True, 4)
    assert attribute("disableApiTermination") is False
    assert attribute("instanceInitiatedShutdownBehavior") == "stop"
    [reservation] = ec2.describe_instances(InstanceIds=[outputs["instance_id"]])["Reservations"]
    assert reservation["Instances"][0]["MetadataOptions"]["InstanceMetadataTags"] == "disabled"
    [volume] = ec2.describe_volumes(VolumeIds=[outputs["volume_id"]])["Volumes"]
    assert volume["Size"] == 3
    modified = ec2.describe_volumes_modifications()["VolumesModifications"]
    assert {m["ModificationState"] for m in modified} == {"completed"} and len(modified) == 2
    plan = terraform("plan", "-detailed-exitcode", "-input=false", check=False)
    assert plan.returncode == 0, plan.stdout[-6000:] + plan.stderr[-3000:]
    terraform(*DESTROY_AFTER_PLAN)
    assert ec2.describe_volumes()["Volumes"] == []
    [request] = ec2.describe_spot_instance_requests(
        SpotInstanceRequestIds=[outputs["spot_request_id"]]
    )["SpotInstanceRequests"]
    assert request["State"] == "cancelled"
    # The provider deregistered the image and deleted the snapshots it made.
    assert ec2.describe_images(Owners=["self"])["Images"] == []
    assert ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"] == []
    names = [u["UserName"] for u in iam.list_users()["Users"]]
    assert f"{prefix}-dev" not in names
    listed = iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
    assert oidc_arn not in [p["Arn"] for p in listed]


# Terraform's ``aws_default_vpc`` and ``aws_default_subnet`` with ``force_destroy`` (decision
# 0137): adopted by the first apply, deleted by destroy (the gateway, which no ``aws_default_*``
# resource manages, imported so that destroy detaches and deletes it first, as users do),
# made again with CreateDefaultVpc by the next apply, and the subnet with CreateDefaultSubnet.
DEFAULT_VPC = (
    aws_provider()
    + """
resource "aws_default_vpc" "main" {
  force_destroy = true
  tags          = { Name = "default" }
}
resource "aws_default_subnet" "main" {
  # After the VPC: when the apply makes the VPC again, its default subnet comes with it.
  depends_on        = [aws_default_vpc.main]
  availability_zone = "%(zone)s"
  force_destroy     = true
}
output "vpc" {
  value = {
    id       = aws_default_vpc.main.id
    existing = aws_default_vpc.main.existing_default_vpc
    cidr     = aws_default_vpc.main.cidr_block
  }
}
output "subnet" {
  value = {
    id       = aws_default_subnet.main.id
    existing = aws_default_subnet.main.existing_default_subnet
    cidr     = aws_default_subnet.main.cidr_block
  }
}
"""
)
DEFAULT_GATEWAY = """
import {
  to = aws_internet_gateway.main
  id = "%(gateway)s"
}
resource "aws_internet_gateway" "main" {
  vpc_id = aws_default_vpc.main.id
}
"""


def test_terraform_adopts_deletes_and_makes_again_the_default_vpc(
    ec2_server: ServerProcess, terraform: Terraform
) -> None:
    """The calls ``aws_default_vpc`` makes with ``force_destroy = true``: apply adopts the
    tenant's default VPC and subnet (``existing_default_*`` true) and converges; destroy
    deletes them (DeleteSubnet, DeleteVpc after the imported gateway's detach and delete),
    leaving the tenant without a default VPC; a new apply finds none and calls
    CreateDefaultVpc (fresh ids, ``existing_default_vpc`` false) and converges again; the
    default subnet deleted alone, the next apply calls CreateDefaultSubnet. A tenant of its
    own, so the other tests' default VPC is untouched."""
    tenant = new_tenant(ec2_server, "tf-default-vpc")
    credentials = terraform.work / "tenant-credentials"
    credentials.write_text(
        f"[andromede]\naws_access_key_id = {tenant.access_key_id}\n"
        f"aws_secret_access_key = {tenant.secret_access_key}\n"
    )
    ec2 = client_for(ec2_server, "ec2", tenant.access_key_id, tenant.secret_access_key)
    is_default = [{"Name": "is-default", "Values": ["true"]}]
    (old_vpc,) = ec2.describe_vpcs(Filters=is_default)["Vpcs"]
    (gateway,) = ec2.describe_internet_gateways(
        Filters=[{"Name": "attachment.vpc-id", "Values": [old_vpc["VpcId"]]}]
    )["InternetGateways"]
    zone = ec2.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]
    values = {
        "region": REGION,
        "credentials": credentials,
        "endpoints": server_endpoint(terraform.work, ec2_server.endpoint),
        "zone": zone,
        "gateway": gateway["InternetGatewayId"],
    }
    main = terraform.work / "main.tf"
    main.write_text((DEFAULT_VPC + DEFAULT_GATEWAY) % values)
    terraform("init", "-input=false")
    terraform("apply", "-auto-approve", "-input=false")
    adopted = json.loads(terraform("output", "-json").stdout)
    assert adopted["vpc"]["value"] == {
        "id": old_vpc["VpcId"],
        "existing": True,
        "cidr": "172.31.0.0/16",
    }
    assert adopted["subnet"]["value"]["existing"] is True
    (tagged,) = ec2.describe_vpcs(VpcIds=[old_vpc["VpcId"]])["Vpcs"]
    assert {"Key": "Name", "Value": "default"} in tagged["Tags"]
    plan = terraform("plan", "-detailed-exitcode", "-input=false", check=False)
    assert plan.returncode == 0, plan.stdout[-6000:] + plan.stderr[-3000:]

    terraform(*DESTROY_AFTER_PLAN)
    assert ec2.describe_vpcs(Filters=is_default)["Vpcs"] == []
    assert ec2.describe_subnets(SubnetIds=[])["Subnets"] == []
    attributes = ec2.describe_account_attributes(AttributeNames=["default-vpc"])
    (attribute,) = attributes["AccountAttributes"]
    assert attribute["AttributeValues"] == [{"AttributeValue": "none"}]

    # Without the gateway resource: the new default VPC comes with a gateway of its own.
    main.write_text(DEFAULT_VPC % values)
    terraform("apply", "-auto-approve", "-input=false")
    made = json.loads(terraform("output", "-json").stdout)
    new_vpc = made["vpc"]["value"]
    assert new_vpc["existing"] is False and new_vpc["cidr"] == "172.31.0.0/16"
    assert new_vpc["id"] != old_vpc["VpcId"]
    (found,) = ec2.describe_vpcs(Filters=is_default)["Vpcs"]
    assert found["VpcId"] == new_vpc["id"]
    assert made["subnet"]["value"]["cidr"] == "172.31.0.0/20"
    (subnet,) = ec2.describe_subnets(SubnetIds=[made["subnet"]["value"]["id"]])["Subnets"]
    assert subnet["VpcId"] == new_vpc["id"] and subnet["DefaultForAz"] is True

    # The default subnet alone deleted behind Terraform's back: the next apply finds it gone
    # and aws_default_subnet calls CreateDefaultSubnet for its zone. (No plan between: the
    # last plan below refreshes the made VPC too.)
    ec2.delete_subnet(SubnetId=subnet["SubnetId"])
    terraform("apply", "-auto-approve", "-input=false")
    again = json.loads(terraform("output", "-json").stdout)["subnet"]["value"]
    assert again["existing"] is False and again["cidr"] == "172.31.0.0/20"
    assert again["id"] != subnet["SubnetId"]
    (remade,) = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])[
        "Subnets"
    ]
    assert (remade["SubnetId"], remade["VpcId"]) == (again["id"], new_vpc["id"])
    plan = terraform("plan", "-detailed-exitcode", "-input=false", check=False)
    assert plan.returncode == 0, plan.stdout[-6000:] + plan.stderr[-3000:]
