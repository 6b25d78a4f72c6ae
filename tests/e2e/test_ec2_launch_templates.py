"""EC2 launch templates with boto3 and the aws CLI against a real ``andromede serve``
(hypervisor = memory): decision 0092. The real guest launched from a template is in
``test_ec2_qemu.py``, Terraform's ``aws_launch_template`` in ``test_terraform_vpc_lab.py``."""

from __future__ import annotations

import base64
import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from e2e.helpers import client_binary, run_cli
from e2e.iam_helpers import new_tenant
from e2e.test_ec2 import FAST, _code, ec2, ec2_client, ec2_server, image_id
from support.server import REGION, ServerProcess

pytestmark = pytest.mark.e2e

__all__ = ["ec2", "ec2_server", "image_id"]  # the fixtures this module shares with test_ec2


def test_boto3_creates_versions_launches_and_deletes_a_template(ec2: Any, image_id: str) -> None:
    name = f"web-{uuid.uuid4().hex[:8]}"
    created = ec2.create_launch_template(
        LaunchTemplateName=name,
        VersionDescription="first",
        LaunchTemplateData={
            "ImageId": image_id,
            "InstanceType": "t3.nano",
            "UserData": base64.b64encode(b"#!/bin/sh\necho template\n").decode(),
            "TagSpecifications": [
                {"ResourceType": "instance", "Tags": [{"Key": "team", "Value": "web"}]}
            ],
        },
        TagSpecifications=[
            {"ResourceType": "launch-template", "Tags": [{"Key": "owner", "Value": "ops"}]}
        ],
    )["LaunchTemplate"]
    template_id = created["LaunchTemplateId"]
    version = ec2.create_launch_template_version(
        LaunchTemplateId=template_id,
        SourceVersion="1",
        LaunchTemplateData={"InstanceType": "t3.micro"},
    )["LaunchTemplateVersion"]
    assert version["VersionNumber"] == 2
    ec2.modify_launch_template(LaunchTemplateId=template_id, DefaultVersion="2")
    # boto3's paginator walks DescribeLaunchTemplateVersions' NextToken.
    pages = ec2.get_paginator("describe_launch_template_versions").paginate(
        LaunchTemplateName=name, PaginationConfig={"PageSize": 1}
    )
    listed = [v for page in pages for v in page["LaunchTemplateVersions"]]
    assert [(v["VersionNumber"], v["DefaultVersion"]) for v in listed] == [(1, False), (2, True)]

    run = ec2.run_instances(
        MinCount=1,
        MaxCount=1,
        LaunchTemplate={"LaunchTemplateName": name},  # $Default: 2
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "team", "Value": "api"}]}],
    )
    instance_id = run["Instances"][0]["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance_id], WaiterConfig=FAST)
    found = ec2.describe_instances(
        Filters=[{"Name": "tag:aws:ec2launchtemplate:id", "Values": [template_id]}]
    )["Reservations"]
    [instance] = [i for r in found for i in r["Instances"]]
    assert (instance["InstanceId"], instance["InstanceType"]) == (instance_id, "t3.micro")
    assert {t["Key"]: t["Value"] for t in instance["Tags"]} == {
        "team": "api",
        "aws:ec2launchtemplate:id": template_id,
        "aws:ec2launchtemplate:version": "2",
    }
    data = ec2.get_launch_template_data(InstanceId=instance_id)["LaunchTemplateData"]
    assert (data["ImageId"], data["InstanceType"]) == (image_id, "t3.micro")

    with pytest.raises(ClientError) as raised:
        ec2.create_launch_template(
            LaunchTemplateName=name, LaunchTemplateData={"ImageId": image_id}
        )
    assert _code(raised) == "InvalidLaunchTemplateName.AlreadyExistsException"
    with pytest.raises(ClientError) as raised:
        ec2.create_launch_template(
            LaunchTemplateName=f"{name}-spot",
            # Spot is kept (decision 0202); hibernating at an interruption is not offered.
            LaunchTemplateData={
                "InstanceMarketOptions": {
                    "MarketType": "spot",
                    "SpotOptions": {
                        "SpotInstanceType": "persistent",
                        "InstanceInterruptionBehavior": "hibernate",
                    },
                }
            },
        )
    assert _code(raised) == "UnsupportedOperation"
    deleted = ec2.delete_launch_template_versions(LaunchTemplateId=template_id, Versions=["1", "2"])
    assert [v["VersionNumber"] for v in deleted["SuccessfullyDeletedLaunchTemplateVersions"]] == [1]
    assert deleted["UnsuccessfullyDeletedLaunchTemplateVersions"][0]["VersionNumber"] == 2
    ec2.delete_launch_template(LaunchTemplateId=template_id)
    with pytest.raises(ClientError) as raised:
        ec2.describe_launch_templates(LaunchTemplateIds=[template_id])
    assert _code(raised) == "InvalidLaunchTemplateId.NotFound"
    # The instance keeps its tags: they say where it came from, not what exists now.
    ec2.terminate_instances(InstanceIds=[instance_id])


def test_a_template_is_its_accounts_own(ec2_server: ServerProcess, ec2: Any, image_id: str) -> None:
    name = f"mine-{uuid.uuid4().hex[:8]}"
    template_id = ec2.create_launch_template(
        LaunchTemplateName=name, LaunchTemplateData={"ImageId": image_id}
    )["LaunchTemplate"]["LaunchTemplateId"]
    tenant = new_tenant(ec2_server, "lt-other")
    other = ec2_client(ec2_server, (tenant.access_key_id, tenant.secret_access_key))
    for launch_template, code in (
        ({"LaunchTemplateId": template_id}, "InvalidLaunchTemplateId.NotFound"),
        ({"LaunchTemplateName": name}, "InvalidLaunchTemplateName.NotFoundException"),
    ):
        with pytest.raises(ClientError) as raised:
            other.run_instances(MinCount=1, MaxCount=1, LaunchTemplate=launch_template)
        assert _code(raised) == code
    assert other.describe_launch_templates()["LaunchTemplates"] == []
    ec2.delete_launch_template(LaunchTemplateId=template_id)


def test_aws_cli_creates_and_describes_a_template(
    ec2_server: ServerProcess, image_id: str, tmp_path: Path
) -> None:
    binary = client_binary("aws", in_venv=True)
    home = tmp_path / "home"
    home.mkdir()
    config = tmp_path / "aws-config"
    config.write_text(f"[profile andromede]\nregion = {REGION}\noutput = json\n")
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env.update(HOME=str(home), AWS_SHARED_CREDENTIALS_FILE=str(ec2_server.credentials_file),
               AWS_CONFIG_FILE=str(config), AWS_PROFILE="andromede", AWS_PAGER="")  # fmt: skip

    def aws(*args: str) -> Any:
        done = run_cli(
            "aws", [str(binary), "--endpoint-url", ec2_server.endpoint, "ec2", *args], env
        )
        return json.loads(done.stdout)

    name = f"cli-{uuid.uuid4().hex[:8]}"
    data = json.dumps({"ImageId": image_id, "InstanceType": "t3.small"})
    created = aws("create-launch-template", "--launch-template-name", name,
                  "--version-description", "CLI", "--launch-template-data", data)  # fmt: skip
    template_id = created["LaunchTemplate"]["LaunchTemplateId"]
    described = aws("describe-launch-templates", "--launch-template-names", name)
    assert [t["LaunchTemplateId"] for t in described["LaunchTemplates"]] == [template_id]
    versions = aws("describe-launch-template-versions", "--launch-template-id", template_id,
                   "--versions", "$Latest")  # fmt: skip
    [version] = versions["LaunchTemplateVersions"]
    assert version["VersionDescription"] == "CLI"
    assert version["LaunchTemplateData"] == {"ImageId": image_id, "InstanceType": "t3.small"}
    aws("delete-launch-template", "--launch-template-id", template_id)
