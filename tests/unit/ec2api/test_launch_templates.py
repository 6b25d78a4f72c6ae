"""EC2 launch templates in process (decision 0092): every action's answers, checks and errors;
RunInstances from a template (versions, merging, tags, the checks EC2 leaves to the launch);
authorisation on the template's ARN with ``ec2:LaunchTemplate``; another tenant's templates."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from botocore.credentials import Credentials

from andromede.compute.network import default_ids
from andromede.compute.service import ComputeService
from support.ec2app import ApiError, Client, World

USER_DATA = base64.b64encode(b"#!/bin/sh\necho from-template\n").decode()


def _data(world: World, **extra: Any) -> dict[str, Any]:
    return {
        "ImageId": world.image.image_id,
        "InstanceType": "t3.nano",
        "UserData": USER_DATA,
        "TagSpecifications": [
            {"ResourceType": "instance", "Tags": [{"Key": "team", "Value": "web"}]},
            {"ResourceType": "volume", "Tags": [{"Key": "disk", "Value": "lt"}]},
        ],
        **extra,
    }


async def _template(world: World, name: str = "web", **data: Any) -> str:
    created = await world.root.call(
        "CreateLaunchTemplate", LaunchTemplateName=name, LaunchTemplateData=_data(world, **data)
    )
    return str(created["LaunchTemplate"]["LaunchTemplateId"])


async def _refused(client: Client, action: str, code: str, **params: Any) -> str:
    with pytest.raises(ApiError) as raised:
        await client.call(action, **params)
    assert raised.value.code == code, raised.value
    assert 400 <= raised.value.status < 500
    return str(raised.value)


async def _instance(world: World, instance_id: str) -> dict[str, Any]:
    [reservation] = (await world.root.call("DescribeInstances", InstanceIds=[instance_id]))[
        "Reservations"
    ]
    found: dict[str, Any] = reservation["Instances"][0]
    return found


# -- CreateLaunchTemplate --------------------------------------------------------------------


async def test_create_answers_the_template_and_version_1_holds_the_data(world: World) -> None:
    c = world.root
    created = await c.call(
        "CreateLaunchTemplate",
        LaunchTemplateName="web-1.a/b_(c)",
        VersionDescription="first",
        LaunchTemplateData=_data(
            world,
            BlockDeviceMappings=[
                {
                    "DeviceName": "/dev/sdb",
                    "Ebs": {
                        "VolumeSize": 2,
                        "VolumeType": "gp3",
                        "Encrypted": True,
                        "DeleteOnTermination": False,
                    },
                }
            ],
            MetadataOptions={"HttpTokens": "required", "HttpEndpoint": "enabled"},
            InstanceInitiatedShutdownBehavior="stop",
            DisableApiTermination=False,
            SecurityGroups=["default"],
        ),
        TagSpecifications=[
            {"ResourceType": "launch-template", "Tags": [{"Key": "owner", "Value": "ops"}]}
        ],
    )
    template = created["LaunchTemplate"]
    assert (
        template["LaunchTemplateId"].startswith("lt-") and len(template["LaunchTemplateId"]) == 20
    )
    assert template["LaunchTemplateName"] == "web-1.a/b_(c)"
    assert (template["DefaultVersionNumber"], template["LatestVersionNumber"]) == (1, 1)
    assert template["CreatedBy"] == f"arn:aws:iam::{world.tenant_id}:root"
    assert template["Tags"] == [{"Key": "owner", "Value": "ops"}]
    assert "Warning" not in created
    [version] = (
        await c.call(
            "DescribeLaunchTemplateVersions", LaunchTemplateId=template["LaunchTemplateId"]
        )
    )["LaunchTemplateVersions"]
    assert (version["VersionNumber"], version["DefaultVersion"]) == (1, True)
    assert version["VersionDescription"] == "first"
    data = version["LaunchTemplateData"]
    assert data["ImageId"] == world.image.image_id and data["InstanceType"] == "t3.nano"
    assert data["UserData"] == USER_DATA
    assert data["BlockDeviceMappings"] == [
        {
            "DeviceName": "/dev/sdb",
            "Ebs": {
                "VolumeSize": 2,
                "VolumeType": "gp3",
                "Encrypted": True,
                "DeleteOnTermination": False,
            },
        }
    ]
    assert data["MetadataOptions"] == {
        "State": "applied",
        "HttpTokens": "required",
        "HttpEndpoint": "enabled",
    }
    assert data["SecurityGroups"] == ["default"]
    assert data["DisableApiTermination"] is False
    assert data["TagSpecifications"][0] == {
        "ResourceType": "instance",
        "Tags": [{"Key": "team", "Value": "web"}],
    }
    # The template is taggable like any resource, and DescribeTags lists it.
    await c.call("CreateTags", Resources=[template["LaunchTemplateId"]], Tags=[{"Key": "k"}])
    tags = (
        await c.call(
            "DescribeTags", Filters=[{"Name": "resource-type", "Values": ["launch-template"]}]
        )
    )["Tags"]
    assert {t["Key"] for t in tags} == {"owner", "k"}


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"LaunchTemplateName": "ab"}, "InvalidLaunchTemplateName.MalformedException"),
        ({"LaunchTemplateName": "a b c"}, "InvalidLaunchTemplateName.MalformedException"),
        ({"LaunchTemplateName": "x" * 129}, "InvalidLaunchTemplateName.MalformedException"),
        ({"VersionDescription": "d" * 256}, "InvalidParameterValue"),
        ({"LaunchTemplateData": {}}, "MissingParameter"),
        (
            {"TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "a"}]}]},
            "InvalidParameterValue",
        ),
        (
            {
                "TagSpecifications": [
                    {"ResourceType": "launch-template", "Tags": [{"Key": "aws:x"}]}
                ]
            },
            "InvalidParameterValue",
        ),
        ({"Operator": {"Principal": "x"}}, "UnsupportedOperation"),
    ],
)
async def test_create_refuses_what_ec2_refuses(
    world: World, params: dict[str, Any], code: str
) -> None:
    request = {"LaunchTemplateName": "web", "LaunchTemplateData": _data(world), **params}
    await _refused(world.root, "CreateLaunchTemplate", code, **request)
    assert (await world.root.call("DescribeLaunchTemplates"))["LaunchTemplates"] == []


@pytest.mark.parametrize(
    "data",
    [
        # Features RunInstances here does not have are refused, never kept and dropped later.
        # Spot is kept (decision 0202); hibernating at an interruption is not offered.
        {
            "InstanceMarketOptions": {
                "MarketType": "spot",
                "SpotOptions": {
                    "SpotInstanceType": "persistent",
                    "InstanceInterruptionBehavior": "hibernate",
                },
            }
        },
        {"MetadataOptions": {"HttpProtocolIpv6": "enabled"}},
        # IPv6 addresses are handled since decision 0217; prefixes are not.
        {"NetworkInterfaces": [{"DeviceIndex": 0, "Ipv6PrefixCount": 1}]},
        {"Placement": {"Tenancy": "dedicated"}},
        {"BlockDeviceMappings": [{"DeviceName": "/dev/sdb", "Ebs": {"Iops": 4000}}]},
        {"BlockDeviceMappings": [{"DeviceName": "/dev/sdb", "Ebs": {"VolumeType": "io2"}}]},
        {"BlockDeviceMappings": [{"DeviceName": "/dev/sdb", "NoDevice": ""}]},
        {"TagSpecifications": [{"ResourceType": "network-interface", "Tags": [{"Key": "a"}]}]},
    ],
)
async def test_create_refuses_data_of_features_not_here(world: World, data: dict[str, Any]) -> None:
    await _refused(
        world.root,
        "CreateLaunchTemplate",
        "UnsupportedOperation",
        LaunchTemplateName="web",
        LaunchTemplateData={"ImageId": world.image.image_id, **data},
    )


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"UserData": "not base64!"}, "InvalidParameterValue"),
        ({"BlockDeviceMappings": [{"DeviceName": "/dev/sdb", "Ebs": {"VolumeSize": 0}}]},
         "InvalidParameterValue"),
        ({"BlockDeviceMappings": [{"Ebs": {"VolumeSize": 1}}]}, "MissingParameter"),
    ],
)  # fmt: skip
async def test_create_checks_values_it_can(world: World, data: dict[str, Any], code: str) -> None:
    await _refused(
        world.root,
        "CreateLaunchTemplate",
        code,
        LaunchTemplateName="web",
        LaunchTemplateData={"ImageId": world.image.image_id, **data},
    )


async def test_names_are_unique_per_account_and_client_tokens_make_create_idempotent(
    world: World,
) -> None:
    c = world.root
    first = await _template(world, "web")
    await _refused(
        c,
        "CreateLaunchTemplate",
        "InvalidLaunchTemplateName.AlreadyExistsException",
        LaunchTemplateName="web",
        LaunchTemplateData=_data(world),
    )
    _, other = await world.tenant("other")
    await other.call(  # another account may use the name
        "CreateLaunchTemplate", LaunchTemplateName="web", LaunchTemplateData=_data(world)
    )
    request = {"LaunchTemplateName": "api", "LaunchTemplateData": _data(world), "ClientToken": "t1"}
    one = (await c.call("CreateLaunchTemplate", **request))["LaunchTemplate"]
    two = (await c.call("CreateLaunchTemplate", **request))["LaunchTemplate"]
    assert one == two and one["LaunchTemplateId"] != first
    await _refused(
        c,
        "CreateLaunchTemplate",
        "IdempotentParameterMismatch",
        **{**request, "VersionDescription": "x"},
    )
    assert len((await c.call("DescribeLaunchTemplates"))["LaunchTemplates"]) == 2
    # EC2 takes up to 128 ASCII characters here (64 for RunInstances).
    await c.call(
        "CreateLaunchTemplate",
        **{**request, "LaunchTemplateName": "long", "ClientToken": "t" * 128},
    )
    await _refused(
        c,
        "CreateLaunchTemplate",
        "InvalidParameterValue",
        **{**request, "LaunchTemplateName": "longer", "ClientToken": "t" * 129},
    )


async def test_what_only_a_launch_checks_is_a_warning_and_the_launch_refuses_it(
    world: World,
) -> None:
    """EC2 makes a template whose image or key pair does not exist, saying so in ``Warning``;
    RunInstances from it fails as a request naming them would."""
    c = world.root
    created = await c.call(
        "CreateLaunchTemplate",
        LaunchTemplateName="lazy",
        LaunchTemplateData={
            "ImageId": "ami-0123456789abcdef0",
            "InstanceType": "t9.huge",
            "KeyName": "nobody",
            "SecurityGroupIds": ["sg-0123456789abcdef0"],
        },
    )
    codes = [e["Code"] for e in created["Warning"]["Errors"]]
    assert codes == [
        "InvalidAMIID.NotFound",
        "InvalidParameterValue",
        "InvalidKeyPair.NotFound",
        "InvalidGroup.NotFound",
    ]
    template_id = created["LaunchTemplate"]["LaunchTemplateId"]
    await _refused(
        c,
        "RunInstances",
        "InvalidAMIID.NotFound",
        MinCount=1,
        MaxCount=1,
        LaunchTemplate={"LaunchTemplateId": template_id},
    )
    # The request's own image, type, key and groups replace the template's: it launches.
    run = await c.call(
        "RunInstances",
        MinCount=1,
        MaxCount=1,
        ImageId=world.image.image_id,
        InstanceType="t3.nano",
        KeyName=(await c.call("CreateKeyPair", KeyName="k"))["KeyName"],
        SecurityGroups=["default"],
        LaunchTemplate={"LaunchTemplateId": template_id},
    )
    assert run["Instances"][0]["InstanceType"] == "t3.nano"


# -- versions --------------------------------------------------------------------------------


async def test_versions_from_a_source_with_overrides_default_and_latest(world: World) -> None:
    c = world.root
    template_id = await _template(world)
    bare = await c.call(
        "CreateLaunchTemplateVersion",
        LaunchTemplateId=template_id,
        LaunchTemplateData={"InstanceType": "t3.micro"},
    )
    # Without a source, only what is given.
    assert bare["LaunchTemplateVersion"]["LaunchTemplateData"] == {"InstanceType": "t3.micro"}
    assert bare["LaunchTemplateVersion"]["VersionNumber"] == 2
    sourced = await c.call(
        "CreateLaunchTemplateVersion",
        LaunchTemplateName="web",
        SourceVersion="1",
        VersionDescription="bigger",
        LaunchTemplateData={
            "InstanceType": "t3.small",
            "TagSpecifications": [
                {"ResourceType": "instance", "Tags": [{"Key": "v", "Value": "3"}]}
            ],
        },
    )
    version = sourced["LaunchTemplateVersion"]
    assert (version["VersionNumber"], version["DefaultVersion"]) == (3, False)
    data = version["LaunchTemplateData"]
    assert data["InstanceType"] == "t3.small" and data["ImageId"] == world.image.image_id
    assert data["UserData"] == USER_DATA
    # A list given replaces the source's.
    assert data["TagSpecifications"] == [
        {"ResourceType": "instance", "Tags": [{"Key": "v", "Value": "3"}]}
    ]
    [template] = (await c.call("DescribeLaunchTemplates", LaunchTemplateIds=[template_id]))[
        "LaunchTemplates"
    ]
    assert (template["DefaultVersionNumber"], template["LatestVersionNumber"]) == (1, 3)

    async def numbers(**params: Any) -> list[int]:
        answer = await c.call("DescribeLaunchTemplateVersions", **params)
        return [v["VersionNumber"] for v in answer["LaunchTemplateVersions"]]

    assert await numbers(LaunchTemplateId=template_id) == [1, 2, 3]
    assert await numbers(LaunchTemplateId=template_id, Versions=["$Latest", "$Default"]) == [1, 3]
    assert await numbers(LaunchTemplateName="web", MinVersion="2") == [2, 3]
    assert await numbers(LaunchTemplateName="web", MaxVersion="2") == [1, 2]
    assert await numbers(
        LaunchTemplateId=template_id,
        Filters=[{"Name": "instance-type", "Values": ["t3.micro", "t3.small"]}],
    ) == [2, 3]
    assert await numbers(
        LaunchTemplateId=template_id, Filters=[{"Name": "is-default-version", "Values": ["true"]}]
    ) == [1]
    assert await numbers(Versions=["$Latest"]) == [3]  # every template's, without one named
    first = await c.call(
        "DescribeLaunchTemplateVersions", LaunchTemplateId=template_id, MaxResults=2
    )
    assert [v["VersionNumber"] for v in first["LaunchTemplateVersions"]] == [1, 2]
    rest = await c.call(
        "DescribeLaunchTemplateVersions",
        LaunchTemplateId=template_id,
        MaxResults=2,
        NextToken=first["NextToken"],
    )
    assert [v["VersionNumber"] for v in rest["LaunchTemplateVersions"]] == [3]
    assert "NextToken" not in rest
    await _refused(
        c,
        "DescribeLaunchTemplateVersions",
        "InvalidLaunchTemplateId.VersionNotFound",
        LaunchTemplateId=template_id,
        Versions=["9"],
    )
    await _refused(
        c, "DescribeLaunchTemplateVersions", "InvalidParameterCombination", Versions=["1"]
    )
    await _refused(
        c,
        "CreateLaunchTemplateVersion",
        "InvalidLaunchTemplateId.VersionNotFound",
        LaunchTemplateId=template_id,
        SourceVersion="7",
        LaunchTemplateData={"InstanceType": "t3.nano"},
    )

    # The default moves; the default cannot be deleted; numbers are never given twice.
    modified = await c.call(
        "ModifyLaunchTemplate", LaunchTemplateId=template_id, DefaultVersion="3"
    )
    assert modified["LaunchTemplate"]["DefaultVersionNumber"] == 3
    await _refused(
        c,
        "ModifyLaunchTemplate",
        "InvalidLaunchTemplateId.VersionNotFound",
        LaunchTemplateId=template_id,
        DefaultVersion="8",
    )
    deleted = await c.call(
        "DeleteLaunchTemplateVersions", LaunchTemplateName="web", Versions=["2", "3", "11", "x"]
    )
    assert [v["VersionNumber"] for v in deleted["SuccessfullyDeletedLaunchTemplateVersions"]] == [2]
    failed = {
        v.get("VersionNumber"): v["ResponseError"]["Code"]
        for v in deleted["UnsuccessfullyDeletedLaunchTemplateVersions"]
    }
    assert failed == {
        3: "unexpectedError",
        11: "launchTemplateVersionDoesNotExist",
        None: "launchTemplateVersionDoesNotExist",
    }
    await c.call("ModifyLaunchTemplate", LaunchTemplateId=template_id, DefaultVersion="1")
    await c.call("DeleteLaunchTemplateVersions", LaunchTemplateId=template_id, Versions=["3"])
    [template] = (await c.call("DescribeLaunchTemplates"))["LaunchTemplates"]
    assert (template["DefaultVersionNumber"], template["LatestVersionNumber"]) == (1, 1)
    again = await c.call(
        "CreateLaunchTemplateVersion",
        LaunchTemplateId=template_id,
        LaunchTemplateData={"InstanceType": "t3.nano"},
    )
    assert again["LaunchTemplateVersion"]["VersionNumber"] == 4


async def test_version_client_tokens_and_the_versions_limit(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = world.root
    template_id = await _template(world)
    request = {
        "LaunchTemplateId": template_id,
        "LaunchTemplateData": {"InstanceType": "t3.micro"},
        "ClientToken": "v2",
    }
    one = await c.call("CreateLaunchTemplateVersion", **request)
    two = await c.call("CreateLaunchTemplateVersion", **request)
    assert one["LaunchTemplateVersion"] == two["LaunchTemplateVersion"]
    await _refused(
        c,
        "CreateLaunchTemplateVersion",
        "IdempotentParameterMismatch",
        **{**request, "VersionDescription": "other"},
    )
    monkeypatch.setattr(world.compute, "limits", _limits(world.compute, versions=3))
    await c.call(
        "CreateLaunchTemplateVersion",
        LaunchTemplateId=template_id,
        LaunchTemplateData={"InstanceType": "t3.nano"},
    )
    await _refused(
        c,
        "CreateLaunchTemplateVersion",
        "ResourceLimitExceeded",
        LaunchTemplateId=template_id,
        LaunchTemplateData={"InstanceType": "t3.nano"},
    )


def _limits(compute: ComputeService, *, templates: int = 5000, versions: int = 10000) -> Any:
    from dataclasses import replace

    return replace(
        compute.limits, max_launch_templates=templates, max_launch_template_versions=versions
    )


async def test_the_templates_limit(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(world.compute, "limits", _limits(world.compute, templates=2))
    await _template(world, "one")
    await _template(world, "two")
    await _refused(
        world.root,
        "CreateLaunchTemplate",
        "ResourceLimitExceeded",
        LaunchTemplateName="three",
        LaunchTemplateData=_data(world),
    )


async def test_describe_templates_by_id_name_filter_and_page(world: World) -> None:
    c = world.root
    made = {f"t-{n}": await _template(world, f"t-{n}") for n in range(3)}
    ids = sorted(made.values())
    await c.call("CreateTags", Resources=[ids[1]], Tags=[{"Key": "env", "Value": "prod"}])

    async def listed(**params: Any) -> list[str]:
        answer = await c.call("DescribeLaunchTemplates", **params)
        return [t["LaunchTemplateId"] for t in answer["LaunchTemplates"]]

    assert await listed() == ids
    assert await listed(LaunchTemplateNames=["t-0", "t-2"]) == sorted([made["t-0"], made["t-2"]])
    both = await listed(LaunchTemplateIds=[made["t-1"]], LaunchTemplateNames=["t-2"])
    assert both == sorted([made["t-1"], made["t-2"]])
    assert await listed(Filters=[{"Name": "tag:env", "Values": ["prod"]}]) == [ids[1]]
    assert await listed(Filters=[{"Name": "tag-key", "Values": ["env"]}]) == [ids[1]]
    named = await listed(Filters=[{"Name": "launch-template-name", "Values": ["t-1", "t-2"]}])
    assert named == sorted([made["t-1"], made["t-2"]])
    first = await c.call("DescribeLaunchTemplates", MaxResults=2)
    rest = await c.call("DescribeLaunchTemplates", MaxResults=2, NextToken=first["NextToken"])
    assert [
        t["LaunchTemplateId"] for t in first["LaunchTemplates"] + rest["LaunchTemplates"]
    ] == ids
    await _refused(
        c,
        "DescribeLaunchTemplates",
        "InvalidLaunchTemplateId.Malformed",
        LaunchTemplateIds=["lt-x"],
    )
    await _refused(
        c,
        "DescribeLaunchTemplates",
        "InvalidLaunchTemplateId.NotFound",
        LaunchTemplateIds=["lt-0123456789abcdef0"],
    )
    await _refused(
        c,
        "DescribeLaunchTemplates",
        "InvalidLaunchTemplateName.NotFoundException",
        LaunchTemplateNames=["nope"],
    )
    await _refused(
        c,
        "DescribeLaunchTemplates",
        "InvalidParameterValue",
        Filters=[{"Name": "x", "Values": ["y"]}],
    )


async def test_delete_template_takes_its_versions_and_frees_its_name(world: World) -> None:
    c = world.root
    template_id = await _template(world)
    await c.call(
        "CreateLaunchTemplateVersion",
        LaunchTemplateId=template_id,
        LaunchTemplateData={"InstanceType": "t3.micro"},
    )
    gone = (await c.call("DeleteLaunchTemplate", LaunchTemplateName="web"))["LaunchTemplate"]
    assert (gone["LaunchTemplateId"], gone["LatestVersionNumber"]) == (template_id, 2)
    assert await world.compute.store.launch_template_versions(template_id) == []
    for action, params in (
        ("DeleteLaunchTemplate", {"LaunchTemplateId": template_id}),
        ("ModifyLaunchTemplate", {"LaunchTemplateId": template_id, "DefaultVersion": "1"}),
        ("DescribeLaunchTemplateVersions", {"LaunchTemplateId": template_id}),
        (
            "CreateLaunchTemplateVersion",
            {"LaunchTemplateId": template_id, "LaunchTemplateData": {"InstanceType": "t3.nano"}},
        ),
    ):
        await _refused(c, action, "InvalidLaunchTemplateId.NotFound", **params)
    await _refused(
        c,
        "DeleteLaunchTemplate",
        "InvalidLaunchTemplateName.NotFoundException",
        LaunchTemplateName="web",
    )
    await _refused(c, "DeleteLaunchTemplate", "MissingParameter")
    await _refused(
        c,
        "DeleteLaunchTemplate",
        "InvalidParameterValue",
        LaunchTemplateId=template_id,
        LaunchTemplateName="web",
    )
    await _template(world, "web")  # the name is free again


# -- RunInstances ----------------------------------------------------------------------------


async def test_run_instances_from_a_template_merges_and_tags_as_ec2(world: World) -> None:
    c = world.root
    template_id = await _template(
        world,
        BlockDeviceMappings=[
            {"DeviceName": "/dev/sdb", "Ebs": {"VolumeSize": 2}},
            {"DeviceName": "/dev/sdc", "Ebs": {"VolumeSize": 3}},
        ],
    )
    await c.call(
        "CreateLaunchTemplateVersion",
        LaunchTemplateId=template_id,
        SourceVersion="1",
        LaunchTemplateData={"InstanceType": "t3.micro"},
    )
    # $Default (1) when no version is named.
    run = await c.call(
        "RunInstances", MinCount=1, MaxCount=1, LaunchTemplate={"LaunchTemplateId": template_id}
    )
    instance = run["Instances"][0]
    assert instance["InstanceType"] == "t3.nano" and instance["ImageId"] == world.image.image_id
    tags = {t["Key"]: t["Value"] for t in instance["Tags"]}
    assert tags == {
        "team": "web",
        "aws:ec2launchtemplate:id": template_id,
        "aws:ec2launchtemplate:version": "1",
    }
    # $Latest, and the request's own parameters over the template's.
    run = await c.call(
        "RunInstances",
        MinCount=1,
        MaxCount=1,
        UserData=base64.b64encode(b"override").decode(),
        TagSpecifications=[
            {
                "ResourceType": "instance",
                "Tags": [{"Key": "team", "Value": "api"}, {"Key": "x", "Value": "1"}],
            }
        ],
        BlockDeviceMappings=[{"DeviceName": "/dev/sdc", "Ebs": {"VolumeSize": 4}}],
        LaunchTemplate={"LaunchTemplateName": "web", "Version": "$Latest"},
    )
    instance_id = run["Instances"][0]["InstanceId"]
    await world.compute.settle()
    instance = await _instance(world, instance_id)
    assert instance["InstanceType"] == "t3.micro"
    assert {t["Key"]: t["Value"] for t in instance["Tags"]} == {
        "team": "api",
        "x": "1",
        "aws:ec2launchtemplate:id": template_id,
        "aws:ec2launchtemplate:version": "2",
    }
    attribute = await c.call(
        "DescribeInstanceAttribute", InstanceId=instance_id, Attribute="userData"
    )
    assert base64.b64decode(attribute["UserData"]["Value"]) == b"override"
    volumes = (
        await c.call(
            "DescribeVolumes", Filters=[{"Name": "attachment.instance-id", "Values": [instance_id]}]
        )
    )["Volumes"]
    sizes = {v["Attachments"][0]["Device"]: v["Size"] for v in volumes}
    assert (sizes["/dev/sdb"], sizes["/dev/sdc"]) == (2, 4)
    assert all({"Key": "disk", "Value": "lt"} in v["Tags"] for v in volumes)
    # DescribeInstances filters on the launch template's tags; nobody can change them.
    by_tag = await c.call(
        "DescribeInstances",
        Filters=[{"Name": "tag:aws:ec2launchtemplate:version", "Values": ["2"]}],
    )
    assert [i["InstanceId"] for r in by_tag["Reservations"] for i in r["Instances"]] == [
        instance_id
    ]
    await _refused(
        c,
        "CreateTags",
        "InvalidParameterValue",
        Resources=[instance_id],
        Tags=[{"Key": "aws:ec2launchtemplate:version", "Value": "9"}],
    )
    await c.call("DeleteTags", Resources=[instance_id])
    instance = await _instance(world, instance_id)
    assert {t["Key"] for t in instance["Tags"]} == {
        "aws:ec2launchtemplate:id",
        "aws:ec2launchtemplate:version",
    }
    listed = (
        await c.call("DescribeTags", Filters=[{"Name": "resource-id", "Values": [instance_id]}])
    )["Tags"]
    assert {t["Key"] for t in listed} == {
        "aws:ec2launchtemplate:id",
        "aws:ec2launchtemplate:version",
    }
    # GetLaunchTemplateData gives back what would launch it again.
    data = (await c.call("GetLaunchTemplateData", InstanceId=instance_id))["LaunchTemplateData"]
    assert (data["ImageId"], data["InstanceType"]) == (world.image.image_id, "t3.micro")
    assert base64.b64decode(data["UserData"]) == b"override"
    assert {m["DeviceName"] for m in data["BlockDeviceMappings"]} == {
        "/dev/xvda",
        "/dev/sdb",
        "/dev/sdc",
    }


async def test_run_instances_names_a_template_as_ec2_allows(world: World) -> None:
    c = world.root
    template_id = await _template(world)
    base = {"MinCount": 1, "MaxCount": 1}
    for spec, code in (
        ({"LaunchTemplateId": "lt-0123456789abcdef0"}, "InvalidLaunchTemplateId.NotFound"),
        ({"LaunchTemplateId": "lt-zz"}, "InvalidLaunchTemplateId.Malformed"),
        ({"LaunchTemplateName": "nope"}, "InvalidLaunchTemplateName.NotFoundException"),
        (
            {"LaunchTemplateId": template_id, "Version": "2"},
            "InvalidLaunchTemplateId.VersionNotFound",
        ),
        (
            {"LaunchTemplateId": template_id, "Version": "x"},
            "InvalidLaunchTemplateId.VersionNotFound",
        ),
        ({"Version": "1"}, "MissingParameter"),
        ({"LaunchTemplateId": template_id, "LaunchTemplateName": "web"}, "InvalidParameterValue"),
    ):
        await _refused(c, "RunInstances", code, LaunchTemplate=spec, **base)
    # Neither the template nor the request names an image.
    empty = await c.call(
        "CreateLaunchTemplate",
        LaunchTemplateName="bare",
        LaunchTemplateData={"InstanceType": "t3.nano"},
    )
    await _refused(
        c,
        "RunInstances",
        "MissingParameter",
        LaunchTemplate={"LaunchTemplateId": empty["LaunchTemplate"]["LaunchTemplateId"]},
        **base,
    )
    assert (await c.call("DescribeInstances"))["Reservations"] == []


async def test_another_tenants_template_is_not_found(world: World) -> None:
    template_id = await _template(world)
    _, intruder = await world.tenant("intruder")
    by_id = {"LaunchTemplateId": template_id}
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("RunInstances", {"MinCount": 1, "MaxCount": 1, "LaunchTemplate": by_id}, ""),
        (
            "RunInstances",
            {"MinCount": 1, "MaxCount": 1, "LaunchTemplate": {"LaunchTemplateName": "web"}},
            "name",
        ),
        ("DescribeLaunchTemplates", {"LaunchTemplateIds": [template_id]}, ""),
        ("DescribeLaunchTemplates", {"LaunchTemplateNames": ["web"]}, "name"),
        ("DescribeLaunchTemplateVersions", by_id, ""),
        (
            "CreateLaunchTemplateVersion",
            {**by_id, "LaunchTemplateData": {"InstanceType": "t3.nano"}},
            "",
        ),
        ("ModifyLaunchTemplate", {**by_id, "DefaultVersion": "1"}, ""),
        ("DeleteLaunchTemplateVersions", {**by_id, "Versions": ["1"]}, ""),
        ("DeleteLaunchTemplate", by_id, ""),
        ("DeleteLaunchTemplate", {"LaunchTemplateName": "web"}, "name"),
    ]
    for action, params, by in cases:
        code = (
            "InvalidLaunchTemplateName.NotFoundException"
            if by
            else "InvalidLaunchTemplateId.NotFound"
        )
        message = await _refused(intruder, action, code, **params)
        assert world.tenant_id not in message
    await _refused(
        intruder,
        "CreateTags",
        "InvalidLaunchTemplateId.NotFound",
        Resources=[template_id],
        Tags=[{"Key": "k"}],
    )
    assert (await intruder.call("DescribeLaunchTemplates"))["LaunchTemplates"] == []
    assert (await intruder.call("DescribeLaunchTemplateVersions", Versions=["$Latest"]))[
        "LaunchTemplateVersions"
    ] == []


# -- authorisation ---------------------------------------------------------------------------


async def test_run_instances_is_authorised_on_the_template_with_its_condition_key(
    world: World,
) -> None:
    """The common policy: launch only from one template (``ec2:LaunchTemplate``), and
    ``ec2:RunInstances`` on that template's ARN."""
    c = world.root
    allowed, other = await _template(world, "allowed"), await _template(world, "other")
    await world.identity.create_user(world.tenant_id, "dev")
    created = await world.identity.create_access_key(world.tenant_id, "dev")
    dev = Client(world.app, Credentials(created.key.access_key_id, created.secret_access_key))
    arn = f"arn:aws:ec2:eu-fr-1:{world.tenant_id}:launch-template/{allowed}"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "ec2:RunInstances",
                "Resource": "*",
                "Condition": {"ArnEquals": {"ec2:LaunchTemplate": arn}},
            },
            {"Effect": "Allow", "Action": "ec2:DescribeLaunchTemplates", "Resource": "*"},
        ],
    }
    await world.identity.put_user_policy(world.tenant_id, "dev", "lt", json.dumps(policy))
    base = {"MinCount": 1, "MaxCount": 1}
    run = await dev.call("RunInstances", LaunchTemplate={"LaunchTemplateName": "allowed"}, **base)
    assert len(run["Instances"]) == 1
    await _refused(
        dev,
        "RunInstances",
        "UnauthorizedOperation",
        LaunchTemplate={"LaunchTemplateId": other},
        **base,
    )
    await _refused(
        dev, "RunInstances", "UnauthorizedOperation", ImageId=world.image.image_id, **base
    )
    # Denied on the template's ARN: the launch from it is denied, whatever else is allowed.
    deny = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Deny", "Action": "ec2:RunInstances", "Resource": arn},
        ],
    }
    await world.identity.put_user_policy(world.tenant_id, "dev", "deny", json.dumps(deny))
    await _refused(
        dev,
        "RunInstances",
        "UnauthorizedOperation",
        LaunchTemplate={"LaunchTemplateId": allowed},
        **base,
    )
    await world.compute.settle()
    assert len((await c.call("DescribeInstances"))["Reservations"]) == 1


async def test_template_actions_are_authorised_on_the_template_arn(world: World) -> None:
    mine, other = await _template(world, "mine"), await _template(world, "theirs")
    await world.identity.create_user(world.tenant_id, "ops")
    created = await world.identity.create_access_key(world.tenant_id, "ops")
    ops = Client(world.app, Credentials(created.key.access_key_id, created.secret_access_key))
    arn = f"arn:aws:ec2:eu-fr-1:{world.tenant_id}:launch-template/{mine}"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["ec2:CreateLaunchTemplateVersion", "ec2:DeleteLaunchTemplate"],
                "Resource": arn,
            }
        ],
    }
    await world.identity.put_user_policy(world.tenant_id, "ops", "lt", json.dumps(policy))
    data = {"InstanceType": "t3.micro"}
    await ops.call(
        "CreateLaunchTemplateVersion", LaunchTemplateName="mine", LaunchTemplateData=data
    )
    for ref in ({"LaunchTemplateId": other}, {"LaunchTemplateName": "theirs"}):
        await _refused(
            ops,
            "CreateLaunchTemplateVersion",
            "UnauthorizedOperation",
            LaunchTemplateData=data,
            **ref,
        )
        await _refused(ops, "DeleteLaunchTemplate", "UnauthorizedOperation", **ref)
    await ops.call("DeleteLaunchTemplate", LaunchTemplateName="mine")


async def test_dry_run_changes_nothing(world: World) -> None:
    with pytest.raises(ApiError) as raised:
        await world.root.call(
            "CreateLaunchTemplate",
            LaunchTemplateName="web",
            LaunchTemplateData=_data(world),
            DryRun=True,
        )
    assert raised.value.code == "DryRunOperation"
    assert (await world.root.call("DescribeLaunchTemplates"))["LaunchTemplates"] == []


async def test_a_template_keeps_network_interfaces_and_launches_with_them(world: World) -> None:
    """Decision 0161's addendum: the primary (device 0) and further interfaces, kept, shown
    and launched as RunInstances would with them."""
    ids = default_ids(world.tenant_id)
    interfaces = [
        {"DeviceIndex": 0, "SubnetId": ids.subnet_id, "Groups": [ids.group_id],
         "AssociatePublicIpAddress": False},
        {"DeviceIndex": 1, "SubnetId": ids.subnet_id, "Description": "back",
         "DeleteOnTermination": True},
    ]  # fmt: skip
    await world.root.call(
        "CreateLaunchTemplate",
        LaunchTemplateName="multi",
        LaunchTemplateData={"ImageId": world.image.image_id, "NetworkInterfaces": interfaces},
    )
    [version] = (
        await world.root.call("DescribeLaunchTemplateVersions", LaunchTemplateName="multi")
    )["LaunchTemplateVersions"]
    kept = version["LaunchTemplateData"]["NetworkInterfaces"]
    assert kept == interfaces
    reply = await world.root.call(
        "RunInstances", MinCount=1, MaxCount=1,
        LaunchTemplate={"LaunchTemplateName": "multi"},
    )  # fmt: skip
    await world.compute.settle()
    instance_id = reply["Instances"][0]["InstanceId"]
    [reservation] = (await world.root.call("DescribeInstances", InstanceIds=[instance_id]))[
        "Reservations"
    ]
    held = sorted(
        reservation["Instances"][0]["NetworkInterfaces"],
        key=lambda i: i["Attachment"]["DeviceIndex"],
    )
    assert [i["Attachment"]["DeviceIndex"] for i in held] == [0, 1]
    assert held[1]["Description"] == "back"
    assert "PublicIpAddress" not in reservation["Instances"][0]
