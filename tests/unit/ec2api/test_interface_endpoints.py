"""Interface VPC endpoints (decision 0166), through the EC2 app in process with botocore's
own serialisation: CreateVpcEndpoint ``Interface`` with its requester-managed network
interfaces (in DescribeNetworkInterfaces, not the tenant's to delete or detach), groups and
DNS entries; ModifyVpcEndpoint's subnets, groups, private DNS and policy; deletion with its
interfaces; what the hosts' routers are told (the endpoint's addresses, slot and its groups'
rules, again when a group changes) and what the VPC's resolver answers; EC2's refusals and
the per-VPC limit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from andromede.compute.driver_network import (
    EndpointRoute,
    FirewallRule,
)
from andromede.compute.vpc_endpoint import DEFAULT_POLICY
from support.ec2app import REGION, ApiError, Client, World, ec2_world

S3 = f"com.amazonaws.{REGION}.s3"
NAME = "s3.localhost"  # the tests' s3_domain: the name clients use


async def _code(call: Any) -> str:
    with pytest.raises(ApiError) as raised:
        await call
    return raised.value.code


async def _network(c: Client, world: World, cidr: str = "10.50.0.0/16") -> tuple[str, str]:
    """A VPC and a subnet with a running instance (so a host holds the VPC's router)."""
    vpc = (await c.call("CreateVpc", CidrBlock=cidr))["Vpc"]["VpcId"]
    subnet = (await c.call("CreateSubnet", VpcId=vpc, CidrBlock=cidr.replace("0.0/16", "1.0/24")))[
        "Subnet"
    ]["SubnetId"]
    await c.call(
        "RunInstances", ImageId=world.image.image_id, InstanceType="t3.nano", MinCount=1,
        MaxCount=1, SubnetId=subnet,
    )  # fmt: skip
    await world.compute.settle()
    return str(vpc), str(subnet)


async def _group(c: Client, vpc: str, name: str, port: int) -> str:
    group = (await c.call("CreateSecurityGroup", GroupName=name, Description=name, VpcId=vpc))[
        "GroupId"
    ]
    await c.call(
        "AuthorizeSecurityGroupIngress", GroupId=group, IpProtocol="tcp", FromPort=port,
        ToPort=port, CidrIp="10.50.0.0/16",
    )  # fmt: skip
    return str(group)


async def _interface_endpoint(c: Client, vpc: str, subnets: list[str], **extra: Any) -> Any:
    made = await c.call(
        "CreateVpcEndpoint", VpcEndpointType="Interface", VpcId=vpc, SubnetIds=subnets,
        **{"ServiceName": S3, **extra},
    )  # fmt: skip
    return made["VpcEndpoint"]


def _told(world: World, vpc: str) -> list[EndpointRoute]:
    return [r for r in world.driver.endpoint_routes.get(vpc, ()) if r.interface]


async def test_create_describe_interfaces_hosts_and_dns(world: World) -> None:
    c = world.root
    vpc, subnet = await _network(c, world)
    https = await _group(c, vpc, "https", 443)
    made = await _interface_endpoint(
        c,
        vpc,
        [subnet],
        SecurityGroupIds=[https],
        TagSpecifications=[{"ResourceType": "vpc-endpoint", "Tags": [{"Key": "k", "Value": "v"}]}],
    )
    endpoint = made["VpcEndpointId"]
    assert made["VpcEndpointType"] == "Interface"
    assert made["State"] == "available"
    assert made["SubnetIds"] == [subnet]
    assert made["Groups"] == [{"GroupId": https, "GroupName": "https"}]
    assert made["PrivateDnsEnabled"] is True  # EC2's default for an AWS service
    assert made["RouteTableIds"] == []
    assert json.loads(made["PolicyDocument"]) == json.loads(DEFAULT_POLICY)
    assert {e["DnsName"] for e in made["DnsEntries"]} == {NAME, f"*.{NAME}"}
    (eni_id,) = made["NetworkInterfaceIds"]
    (described,) = (await c.call("DescribeVpcEndpoints", VpcEndpointIds=[endpoint]))["VpcEndpoints"]
    assert described == made
    found = await c.call(
        "DescribeVpcEndpoints", Filters=[{"Name": "vpc-endpoint-type", "Values": ["Interface"]}]
    )
    assert [e["VpcEndpointId"] for e in found["VpcEndpoints"]] == [endpoint]
    # Its interface: requester-managed, of type vpc_endpoint, under the endpoint's groups.
    (eni,) = (await c.call("DescribeNetworkInterfaces", NetworkInterfaceIds=[eni_id]))[
        "NetworkInterfaces"
    ]
    assert eni["InterfaceType"] == "vpc_endpoint"
    assert eni["RequesterManaged"] is True
    assert eni["Status"] == "in-use"
    assert eni["SubnetId"] == subnet
    assert eni["Groups"] == [{"GroupId": https, "GroupName": "https"}]
    assert eni["Description"] == f"VPC Endpoint Interface {endpoint}"
    managed = await c.call(
        "DescribeNetworkInterfaces",
        Filters=[{"Name": "requester-managed", "Values": ["true"]}],
    )
    assert [i["NetworkInterfaceId"] for i in managed["NetworkInterfaces"]] == [eni_id]
    address = eni["PrivateIpAddress"]
    # Not the tenant's to delete, change or attach (EC2's AuthFailure).
    assert await _code(c.call("DeleteNetworkInterface", NetworkInterfaceId=eni_id)) == (
        "AuthFailure"
    )
    modify = c.call(
        "ModifyNetworkInterfaceAttribute", NetworkInterfaceId=eni_id, Description={"Value": "x"}
    )
    assert await _code(modify) == "AuthFailure"
    # The hosts' routers: its address, its slot, its group's rule.
    await world.compute.settle()
    (told,) = _told(world, vpc)
    assert (told.vpc_endpoint_id, told.addresses, told.slot) == (endpoint, (address,), 0)
    assert told.cidr == "10.50.0.0/16"
    assert told.ingress == (FirewallRule("tcp", 443, 443, "10.50.0.0/16"),)
    # The resolver answers the store's name with the interface's address.
    assert (NAME, address) in world.driver.vpc_dns[vpc].public_names
    # A change of its group reaches the hosts at once.
    await c.call(
        "AuthorizeSecurityGroupIngress", GroupId=https, IpProtocol="tcp", FromPort=80,
        ToPort=80, CidrIp="10.50.1.0/24",
    )  # fmt: skip
    await world.compute.settle()
    (told,) = _told(world, vpc)
    assert FirewallRule("tcp", 80, 80, "10.50.1.0/24") in told.ingress
    # Its group is in use while it lives.
    in_use = c.call("DeleteSecurityGroup", GroupId=https)
    assert await _code(in_use) == "DependencyViolation"
    # Deleted with its interface; the routers and the resolver let it go.
    await c.call("DeleteVpcEndpoints", VpcEndpointIds=[endpoint])
    await world.compute.settle()
    assert _told(world, vpc) == []
    assert not any(n == NAME for n, _ in world.driver.vpc_dns[vpc].public_names)
    gone = c.call("DescribeNetworkInterfaces", NetworkInterfaceIds=[eni_id])
    assert await _code(gone) == "InvalidNetworkInterfaceID.NotFound"


async def test_modify_subnets_groups_dns_and_policy(world: World) -> None:
    c = world.root
    vpc, subnet = await _network(c, world)
    other_subnet = (await c.call("CreateSubnet", VpcId=vpc, CidrBlock="10.50.2.0/24"))["Subnet"][
        "SubnetId"
    ]
    https = await _group(c, vpc, "https", 443)
    http = await _group(c, vpc, "http", 80)
    made = await _interface_endpoint(c, vpc, [subnet], SecurityGroupIds=[https])
    endpoint, (first_eni,) = made["VpcEndpointId"], made["NetworkInterfaceIds"]

    async def described() -> dict[str, Any]:
        (found,) = (await c.call("DescribeVpcEndpoints", VpcEndpointIds=[endpoint]))["VpcEndpoints"]
        return dict(found)

    # One subnet per zone: the other subnet (same zone) only in place of the first.
    await c.call(
        "ModifyVpcEndpoint", VpcEndpointId=endpoint, AddSubnetIds=[other_subnet],
        RemoveSubnetIds=[subnet], AddSecurityGroupIds=[http], RemoveSecurityGroupIds=[https],
        PrivateDnsEnabled=False,
    )  # fmt: skip
    now = await described()
    assert now["SubnetIds"] == [other_subnet]
    (eni_id,) = now["NetworkInterfaceIds"]
    assert eni_id != first_eni
    assert now["Groups"] == [{"GroupId": http, "GroupName": "http"}]
    assert now["PrivateDnsEnabled"] is False
    assert now["DnsEntries"] == []
    (eni,) = (await c.call("DescribeNetworkInterfaces", NetworkInterfaceIds=[eni_id]))[
        "NetworkInterfaces"
    ]
    assert eni["SubnetId"] == other_subnet
    assert [g["GroupId"] for g in eni["Groups"]] == [http]
    gone = c.call("DescribeNetworkInterfaces", NetworkInterfaceIds=[first_eni])
    assert await _code(gone) == "InvalidNetworkInterfaceID.NotFound"
    await world.compute.settle()
    (told,) = _told(world, vpc)
    assert told.addresses == (eni["PrivateIpAddress"],)
    assert told.ingress == (FirewallRule("tcp", 80, 80, "10.50.0.0/16"),)
    assert not any(n == NAME for n, _ in world.driver.vpc_dns[vpc].public_names)
    # Private DNS back on; a policy; the default back.
    narrow = json.dumps(
        {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                        "Resource": "*"}]}
    )  # fmt: skip
    await c.call(
        "ModifyVpcEndpoint", VpcEndpointId=endpoint, PrivateDnsEnabled=True,
        PolicyDocument=narrow,
    )  # fmt: skip
    now = await described()
    assert now["PrivateDnsEnabled"] is True
    assert json.loads(now["PolicyDocument"]) == json.loads(narrow)
    await world.compute.settle()
    assert (NAME, eni["PrivateIpAddress"]) in world.driver.vpc_dns[vpc].public_names
    await c.call("ModifyVpcEndpoint", VpcEndpointId=endpoint, ResetPolicy=True)
    assert json.loads((await described())["PolicyDocument"]) == json.loads(DEFAULT_POLICY)
    # A gateway's parameters are refused here, and the last group cannot go.
    tables = c.call("ModifyVpcEndpoint", VpcEndpointId=endpoint, AddRouteTableIds=["rtb-1"])
    assert await _code(tables) == "InvalidParameterValue"
    last = c.call("ModifyVpcEndpoint", VpcEndpointId=endpoint, RemoveSecurityGroupIds=[http])
    assert await _code(last) == "InvalidParameterValue"


async def test_refusals_and_the_limit(tmp_path: Path) -> None:
    async with ec2_world(tmp_path, max_interface_endpoints_per_vpc=2) as world:
        c = world.root
        vpc, subnet = await _network(c, world)
        same_zone = (await c.call("CreateSubnet", VpcId=vpc, CidrBlock="10.50.2.0/24"))["Subnet"][
            "SubnetId"
        ]
        other_vpc = (await c.call("CreateVpc", CidrBlock="10.70.0.0/16"))["Vpc"]["VpcId"]
        foreign = (await c.call("CreateSubnet", VpcId=other_vpc, CidrBlock="10.70.1.0/24"))[
            "Subnet"
        ]["SubnetId"]
        two = _interface_endpoint(c, vpc, [subnet, same_zone])
        assert await _code(two) == "DuplicateSubnetsInSameZone"
        assert await _code(_interface_endpoint(c, vpc, [])) == "MissingParameter"
        assert await _code(_interface_endpoint(c, vpc, [foreign])) == "InvalidParameter"
        tables = _interface_endpoint(c, vpc, [subnet], RouteTableIds=["rtb-0123456789abcdef0"])
        assert await _code(tables) == "InvalidParameter"
        # By default, the VPC's default group.
        first = await _interface_endpoint(c, vpc, [subnet])
        assert [g["GroupName"] for g in first["Groups"]] == ["default"]
        # One endpoint of the VPC answers the service's names.
        assert await _code(_interface_endpoint(c, vpc, [same_zone])) == "InvalidParameter"
        second = await _interface_endpoint(c, vpc, [same_zone], PrivateDnsEnabled=False)
        await world.compute.settle()
        ids = sorted([first["VpcEndpointId"], second["VpcEndpointId"]])
        assert [(r.vpc_endpoint_id, r.slot) for r in _told(world, vpc)] == [
            (ids[0], 0),
            (ids[1], 1),
        ]
        third = _interface_endpoint(c, vpc, [subnet], PrivateDnsEnabled=False)
        assert await _code(third) == "VpcEndpointLimitExceeded"
        # A gateway endpoint takes no subnet change.
        table = (await c.call("CreateRouteTable", VpcId=vpc))["RouteTable"]["RouteTableId"]
        gateway = (
            await c.call("CreateVpcEndpoint", VpcId=vpc, ServiceName=S3, RouteTableIds=[table])
        )["VpcEndpoint"]["VpcEndpointId"]
        add = c.call("ModifyVpcEndpoint", VpcEndpointId=gateway, AddSubnetIds=[subnet])
        assert await _code(add) == "InvalidParameterValue"
        # The store is an Interface service too, with its private DNS name.
        services = await c.call(
            "DescribeVpcEndpointServices",
            ServiceNames=[S3],
            Filters=[{"Name": "service-type", "Values": ["Interface"]}],
        )
        (detail,) = services["ServiceDetails"]
        assert detail["ServiceType"] == [{"ServiceType": "Interface"}]
        assert detail["PrivateDnsName"] == f"*.{NAME}"


async def test_endpoints_to_kms_sqs_sns_and_sts(world: World) -> None:
    """Decision 0174: the other APIs an endpoint serves are Interface services (not Gateway
    ones), listed with the platform's names as their private DNS names, which they share
    with the object store (one endpoint of a VPC holds them); the hosts are told of each."""
    c = world.root
    vpc, subnet = await _network(c, world)
    kms = await _interface_endpoint(c, vpc, [subnet], ServiceName=f"com.amazonaws.{REGION}.kms")
    assert kms["ServiceName"] == f"com.amazonaws.{REGION}.kms"
    assert {e["DnsName"] for e in kms["DnsEntries"]} == {NAME, f"*.{NAME}"}
    await world.compute.settle()
    (eni,) = (
        await c.call("DescribeNetworkInterfaces", NetworkInterfaceIds=kms["NetworkInterfaceIds"])
    )["NetworkInterfaces"]
    assert (NAME, eni["PrivateIpAddress"]) in world.driver.vpc_dns[vpc].public_names
    # The platform's names are every API's: a second endpoint cannot hold them too.
    store = _interface_endpoint(c, vpc, [subnet])
    assert await _code(store) == "InvalidParameter"
    sqs = await _interface_endpoint(
        c, vpc, [subnet], ServiceName=f"eu.andromede.{REGION}.sqs", PrivateDnsEnabled=False
    )
    await world.compute.settle()
    told = {r.vpc_endpoint_id: r for r in _told(world, vpc)}
    assert set(told) == {kms["VpcEndpointId"], sqs["VpcEndpointId"]}
    assert told[sqs["VpcEndpointId"]].addresses == tuple(
        i["PrivateIpAddress"]
        for i in (
            await c.call(
                "DescribeNetworkInterfaces", NetworkInterfaceIds=sqs["NetworkInterfaceIds"]
            )
        )["NetworkInterfaces"]
    )
    # Listed as Interface services only; a gateway endpoint to them is EC2's refusal.
    names = [f"com.amazonaws.{REGION}.{s}" for s in ("kms", "sqs", "sns", "sts")]
    services = await c.call("DescribeVpcEndpointServices", ServiceNames=names)
    assert services["ServiceNames"] == names
    assert [d["ServiceType"] for d in services["ServiceDetails"]] == [
        [{"ServiceType": "Interface"}]
    ] * 4
    assert {d["PrivateDnsName"] for d in services["ServiceDetails"]} == {f"*.{NAME}"}
    gateways = await c.call(
        "DescribeVpcEndpointServices",
        ServiceNames=names,
        Filters=[{"Name": "service-type", "Values": ["Gateway"]}],
    )
    assert gateways["ServiceNames"] == [] and gateways["ServiceDetails"] == []
    table = (await c.call("CreateRouteTable", VpcId=vpc))["RouteTable"]["RouteTableId"]
    gateway = c.call("CreateVpcEndpoint", VpcId=vpc, ServiceName=names[3], RouteTableIds=[table])
    assert await _code(gateway) == "InvalidParameter"
    unknown = _interface_endpoint(c, vpc, [subnet], ServiceName=f"com.amazonaws.{REGION}.iam")
    assert await _code(unknown) == "InvalidServiceName"


async def test_endpoints_to_ec2_cloudwatch_and_auto_scaling(world: World) -> None:
    """Decision 0174's session-48 addendum: EC2, CloudWatch (``monitoring``) and Auto
    Scaling are Interface services under both names, with the platform's names as private
    DNS (which the VPC's resolver answers with the endpoint's address); no Gateway ones."""
    c = world.root
    vpc, subnet = await _network(c, world)
    apis = ("ec2", "monitoring", "autoscaling")
    names = [f"{p}.{REGION}.{s}" for s in apis for p in ("com.amazonaws", "eu.andromede")]
    services = await c.call("DescribeVpcEndpointServices", ServiceNames=names)
    assert services["ServiceNames"] == names
    assert [d["ServiceType"] for d in services["ServiceDetails"]] == [
        [{"ServiceType": "Interface"}]
    ] * 6
    assert {d["PrivateDnsName"] for d in services["ServiceDetails"]} == {f"*.{NAME}"}
    assert [d["ServiceId"] for d in services["ServiceDetails"][::2]] == [
        f"vpce-svc-{REGION}-{s}-if" for s in apis
    ]
    every = (await c.call("DescribeVpcEndpointServices"))["ServiceNames"]
    assert set(names) <= set(every) and every[:2] == [S3, f"eu.andromede.{REGION}.s3"]
    ec2 = await _interface_endpoint(c, vpc, [subnet], ServiceName=names[0])
    assert {e["DnsName"] for e in ec2["DnsEntries"]} == {NAME, f"*.{NAME}"}
    monitoring = await _interface_endpoint(
        c, vpc, [subnet], ServiceName=names[3], PrivateDnsEnabled=False
    )
    await world.compute.settle()
    (eni,) = (
        await c.call("DescribeNetworkInterfaces", NetworkInterfaceIds=ec2["NetworkInterfaceIds"])
    )["NetworkInterfaces"]
    assert (NAME, eni["PrivateIpAddress"]) in world.driver.vpc_dns[vpc].public_names
    told = {r.vpc_endpoint_id for r in _told(world, vpc)}
    assert told == {ec2["VpcEndpointId"], monitoring["VpcEndpointId"]}
    table = (await c.call("CreateRouteTable", VpcId=vpc))["RouteTable"]["RouteTableId"]
    gateway = c.call("CreateVpcEndpoint", VpcId=vpc, ServiceName=names[4], RouteTableIds=[table])
    assert await _code(gateway) == "InvalidParameter"


async def test_another_tenant_sees_and_uses_none_of_it(world: World) -> None:
    c = world.root
    vpc, subnet = await _network(c, world)
    made = await _interface_endpoint(c, vpc, [subnet])
    _, rival = await world.tenant("rival")
    their_vpc = (await rival.call("CreateVpc", CidrBlock="10.80.0.0/16"))["Vpc"]["VpcId"]
    assert await _code(_interface_endpoint(rival, their_vpc, [subnet])) == (
        "InvalidSubnetID.NotFound"
    )
    assert (await rival.call("DescribeVpcEndpoints"))["VpcEndpoints"] == []
    assert (await rival.call("DescribeNetworkInterfaces"))["NetworkInterfaces"] == []
    change = rival.call(
        "ModifyVpcEndpoint", VpcEndpointId=made["VpcEndpointId"], PrivateDnsEnabled=False
    )
    assert await _code(change) == "InvalidVpcEndpointId.NotFound"
