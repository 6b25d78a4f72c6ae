"""EC2's DHCP options sets (decision 0143), on the EC2 wire through botocore: each account's
default set, CreateDhcpOptions with EC2's checks, DescribeDhcpOptions' ids and filters, tags,
AssociateDhcpOptions (``default`` for none) as DescribeVpcs shows it, DeleteDhcpOptions refused
while associated, the quota, another tenant kept out, and the hosts of a VPC's instances told
its new options."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from andromede.compute.driver_network import (
    VpcDns,
)
from andromede.compute.network import default_ids
from support.ec2app import REGION, ApiError, Client, World, ec2_world

DOMAIN = f"{REGION}.compute.internal"


async def _refused(client: Client, action: str, code: str, **params: Any) -> str:
    with pytest.raises(ApiError) as raised:
        await client.call(action, **params)
    assert raised.value.code == code, raised.value
    assert raised.value.status == 400
    return str(raised.value)


def _config(**options: list[str]) -> list[dict[str, Any]]:
    return [{"Key": key.replace("_", "-"), "Values": values} for key, values in options.items()]


async def _create(client: Client, **options: list[str]) -> dict[str, Any]:
    made = await client.call("CreateDhcpOptions", DhcpConfigurations=_config(**options))
    created: dict[str, Any] = made["DhcpOptions"]
    return created


async def _vpc_set(client: Client, vpc_id: str) -> str:
    [vpc] = (await client.call("DescribeVpcs", VpcIds=[vpc_id]))["Vpcs"]
    options_id: str = vpc["DhcpOptionsId"]
    return options_id


def _as_dict(options: dict[str, Any]) -> dict[str, list[str]]:
    return {c["Key"]: [v["Value"] for v in c["Values"]] for c in options["DhcpConfigurations"]}


async def test_the_default_set_is_tagged_before_anything_stored_it(world: World) -> None:
    [vpc] = (await world.root.call("DescribeVpcs"))["Vpcs"]
    options_id = vpc["DhcpOptionsId"]
    tag = {"Key": "Name", "Value": "default"}
    await world.root.call("CreateTags", Resources=[options_id], Tags=[tag])
    [default] = (await world.root.call("DescribeDhcpOptions"))["DhcpOptions"]
    assert (default["DhcpOptionsId"], default["Tags"]) == (options_id, [tag])


async def test_each_account_has_ec2s_default_set_every_vpc_starts_with(world: World) -> None:
    [default] = (await world.root.call("DescribeDhcpOptions"))["DhcpOptions"]
    assert default["DhcpOptionsId"].startswith("dopt-")
    assert default["OwnerId"] == world.tenant_id
    assert _as_dict(default) == {
        "domain-name": [DOMAIN],
        "domain-name-servers": ["AmazonProvidedDNS"],
    }
    vpc_id = (await world.root.call("CreateVpc", CidrBlock="10.9.0.0/16"))["Vpc"]["VpcId"]
    assert await _vpc_set(world.root, vpc_id) == default["DhcpOptionsId"]
    assert (
        await _vpc_set(world.root, default_ids(world.tenant_id).vpc_id)
        == (default["DhcpOptionsId"])
    )
    # The same set at every call; another tenant has its own.
    again = (await world.root.call("DescribeDhcpOptions"))["DhcpOptions"]
    assert [o["DhcpOptionsId"] for o in again] == [default["DhcpOptionsId"]]
    _, other = await world.tenant("other")
    [theirs] = (await other.call("DescribeDhcpOptions"))["DhcpOptions"]
    assert theirs["DhcpOptionsId"] != default["DhcpOptionsId"]


async def test_a_set_is_made_with_every_key_and_found_by_ids_filters_and_tags(
    world: World,
) -> None:
    made = await world.root.call(
        "CreateDhcpOptions",
        DhcpConfigurations=_config(
            domain_name=["corp.example"],
            domain_name_servers=["192.0.2.53", "AmazonProvidedDNS"],
            ntp_servers=["192.0.2.123"],
            netbios_name_servers=["192.0.2.137"],
            netbios_node_type=["2"],
        ),
        TagSpecifications=[
            {"ResourceType": "dhcp-options", "Tags": [{"Key": "Name", "Value": "corp"}]}
        ],
    )
    options = made["DhcpOptions"]
    options_id = options["DhcpOptionsId"]
    assert _as_dict(options) == {
        "domain-name": ["corp.example"],
        "domain-name-servers": ["192.0.2.53", "AmazonProvidedDNS"],
        "ntp-servers": ["192.0.2.123"],
        "netbios-name-servers": ["192.0.2.137"],
        "netbios-node-type": ["2"],
    }
    assert options["Tags"] == [{"Key": "Name", "Value": "corp"}]
    [found] = (await world.root.call("DescribeDhcpOptions", DhcpOptionsIds=[options_id]))[
        "DhcpOptions"
    ]
    assert found == options

    async def ids(name: str, *values: str) -> list[str]:
        answer = await world.root.call(
            "DescribeDhcpOptions", Filters=[{"Name": name, "Values": list(values)}]
        )
        return [o["DhcpOptionsId"] for o in answer["DhcpOptions"]]

    assert await ids("dhcp-options-id", options_id) == [options_id]
    assert await ids("key", "ntp-servers") == [options_id]
    assert await ids("value", "192.0.2.137") == [options_id]
    assert len(await ids("value", "AmazonProvidedDNS")) == 2  # the default set's too
    assert len(await ids("owner-id", world.tenant_id)) == 2
    assert await ids("tag:Name", "corp") == [options_id]
    await world.root.call("CreateTags", Resources=[options_id], Tags=[{"Key": "env", "Value": "x"}])
    assert await ids("tag:env", "x") == [options_id]
    await _refused(
        world.root, "DescribeDhcpOptions", "InvalidDhcpOptionID.NotFound",
        DhcpOptionsIds=["dopt-0123456789abcdef0"],
    )  # fmt: skip
    await _refused(
        world.root, "DescribeDhcpOptions", "InvalidDhcpOptionsId.Malformed",
        DhcpOptionsIds=["dopt-nope"],
    )  # fmt: skip


@pytest.mark.parametrize(
    ("configurations", "says"),
    [
        ([{"Key": "domain-nam", "Values": ["x.test"]}], "Unknown key"),
        ([{"Key": "domain-name", "Values": []}], "empty"),
        ([{"Key": "domain-name", "Values": ["bad_name!"]}], "Invalid domain name"),
        (
            [{"Key": "domain-name-servers", "Values": [f"192.0.2.{n}" for n in range(5)]}],
            "at most 4",
        ),
        ([{"Key": "ntp-servers", "Values": ["ntp.example"]}], "IPv4 address"),
        ([{"Key": "ntp-servers", "Values": ["AmazonProvidedDNS"]}], "IPv4 address"),
        ([{"Key": "netbios-node-type", "Values": ["3"]}], "1, 2, 4 and 8"),
        (
            [
                {"Key": "domain-name", "Values": ["a.test"]},
                {"Key": "domain-name", "Values": ["b.test"]},
            ],
            "Duplicate",
        ),
    ],
)
async def test_ec2s_checks_refuse_a_set_and_make_nothing(
    world: World, configurations: list[dict[str, Any]], says: str
) -> None:
    message = await _refused(
        world.root, "CreateDhcpOptions", "InvalidParameterValue",
        DhcpConfigurations=configurations,
    )  # fmt: skip
    assert says in message
    assert len((await world.root.call("DescribeDhcpOptions"))["DhcpOptions"]) == 1


async def test_a_tag_specification_of_another_type_is_refused(world: World) -> None:
    await _refused(
        world.root, "CreateDhcpOptions", "InvalidParameterValue",
        DhcpConfigurations=_config(domain_name=["x.test"]),
        TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "a", "Value": "b"}]}],
    )  # fmt: skip


async def test_association_deletion_and_none(world: World) -> None:
    vpc_id = (await world.root.call("CreateVpc", CidrBlock="10.9.0.0/16"))["Vpc"]["VpcId"]
    options_id = (await _create(world.root, domain_name=["corp.example"]))["DhcpOptionsId"]
    await world.root.call("AssociateDhcpOptions", DhcpOptionsId=options_id, VpcId=vpc_id)
    assert await _vpc_set(world.root, vpc_id) == options_id
    found = await world.root.call(
        "DescribeVpcs", Filters=[{"Name": "dhcp-options-id", "Values": [options_id]}]
    )
    assert [v["VpcId"] for v in found["Vpcs"]] == [vpc_id]
    message = await _refused(
        world.root, "DeleteDhcpOptions", "DependencyViolation", DhcpOptionsId=options_id
    )
    assert "has dependencies" in message
    # "default": no options at all, as EC2 shows it.
    await world.root.call("AssociateDhcpOptions", DhcpOptionsId="default", VpcId=vpc_id)
    assert await _vpc_set(world.root, vpc_id) == "default"
    await world.root.call("DeleteDhcpOptions", DhcpOptionsId=options_id)
    await _refused(
        world.root, "DescribeDhcpOptions", "InvalidDhcpOptionID.NotFound",
        DhcpOptionsIds=[options_id],
    )  # fmt: skip
    await _refused(
        world.root, "AssociateDhcpOptions", "InvalidDhcpOptionID.NotFound",
        DhcpOptionsId=options_id, VpcId=vpc_id,
    )  # fmt: skip
    # Back to the account's default set, by its id.
    [default] = (await world.root.call("DescribeDhcpOptions"))["DhcpOptions"]
    await world.root.call(
        "AssociateDhcpOptions", DhcpOptionsId=default["DhcpOptionsId"], VpcId=vpc_id
    )
    assert await _vpc_set(world.root, vpc_id) == default["DhcpOptionsId"]
    await _refused(
        world.root, "DeleteDhcpOptions", "DependencyViolation",
        DhcpOptionsId=default["DhcpOptionsId"],
    )  # fmt: skip
    await _refused(
        world.root, "AssociateDhcpOptions", "InvalidVpcID.NotFound",
        DhcpOptionsId="default", VpcId="vpc-0123456789abcdef0",
    )  # fmt: skip


async def test_another_tenant_neither_sees_nor_uses_nor_deletes_a_set(world: World) -> None:
    options_id = (await _create(world.root, domain_name=["corp.example"]))["DhcpOptionsId"]
    _, other = await world.tenant("other")
    other_vpc = (await other.call("CreateVpc", CidrBlock="10.8.0.0/16"))["Vpc"]["VpcId"]
    await _refused(
        other, "DescribeDhcpOptions", "InvalidDhcpOptionID.NotFound", DhcpOptionsIds=[options_id]
    )
    await _refused(
        other, "AssociateDhcpOptions", "InvalidDhcpOptionID.NotFound",
        DhcpOptionsId=options_id, VpcId=other_vpc,
    )  # fmt: skip
    await _refused(other, "DeleteDhcpOptions", "InvalidDhcpOptionID.NotFound",
                   DhcpOptionsId=options_id)  # fmt: skip
    assert options_id not in str(await other.call("DescribeDhcpOptions"))
    assert (await world.root.call("DescribeDhcpOptions", DhcpOptionsIds=[options_id]))[
        "DhcpOptions"
    ]


async def test_the_hosts_of_a_vpcs_instances_are_told_its_new_options(world: World) -> None:
    vpc_id = (await world.root.call("CreateVpc", CidrBlock="10.9.0.0/16"))["Vpc"]["VpcId"]
    subnet = await world.root.call("CreateSubnet", VpcId=vpc_id, CidrBlock="10.9.4.0/24")
    await world.root.call(
        "RunInstances", ImageId=world.image.image_id, InstanceType="t3.nano", MinCount=1,
        MaxCount=1, SubnetId=subnet["Subnet"]["SubnetId"],
    )  # fmt: skip
    await world.compute.settle()
    assert world.driver.vpc_dns[vpc_id] == VpcDns(domain=DOMAIN, domain_name=DOMAIN)
    options_id = (
        await _create(
            world.root,
            domain_name=["corp.example other.example"],
            domain_name_servers=["192.0.2.53"],
            ntp_servers=["192.0.2.123"],
            netbios_node_type=["8"],
        )
    )["DhcpOptionsId"]
    await world.root.call("AssociateDhcpOptions", DhcpOptionsId=options_id, VpcId=vpc_id)
    assert world.driver.vpc_dns[vpc_id] == VpcDns(
        domain=DOMAIN,
        domain_name="corp.example other.example",
        name_servers=("192.0.2.53",),
        ntp_servers=("192.0.2.123",),
        netbios_node_type=8,
    )
    await world.root.call("AssociateDhcpOptions", DhcpOptionsId="default", VpcId=vpc_id)
    assert world.driver.vpc_dns[vpc_id] == VpcDns(domain=DOMAIN, name_servers=())


async def test_the_quota_counts_the_default_set(tmp_path: Path) -> None:
    async with ec2_world(tmp_path, max_dhcp_options_per_tenant=2) as world:
        await _create(world.root, domain_name=["a.test"])
        await _refused(
            world.root, "CreateDhcpOptions", "DhcpOptionsLimitExceeded",
            DhcpConfigurations=_config(domain_name=["b.test"]),
        )  # fmt: skip
        assert len((await world.root.call("DescribeDhcpOptions"))["DhcpOptions"]) == 2
