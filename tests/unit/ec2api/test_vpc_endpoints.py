"""VPC gateway endpoints to the object store (decision 0160), through the EC2 app in process
with botocore's own serialisation: CreateVpcEndpoint and its routes in the route tables as
EC2 shows them, DescribeVpcEndpoints (ids, filters, pages), ModifyVpcEndpoint (tables, policy),
DeleteVpcEndpoints (unsuccessful items), DescribeVpcEndpointServices, DescribePrefixLists'
AWS-managed list, EC2's refusals, the quota, the client token, another tenant, what the
hosts' routers are told to redirect, and security group rules naming the AWS-managed list
(decision 0160's session-47 addendum)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from andromede.compute.driver_network import (
    FirewallRule,
)
from andromede.compute.vpc_endpoint import DEFAULT_POLICY
from support.ec2app import REGION, ApiError, Client, World, ec2_world

S3 = f"com.amazonaws.{REGION}.s3"
ADDRESSES = ("192.0.2.80/32", "198.51.100.0/28")


async def _code(call: Any) -> str:
    with pytest.raises(ApiError) as raised:
        await call
    return raised.value.code


async def _vpc(client: Client, cidr: str = "10.50.0.0/16") -> tuple[str, str, str]:
    """A VPC, a subnet and a table of its (not the main one), associated with the subnet."""
    vpc = (await client.call("CreateVpc", CidrBlock=cidr))["Vpc"]["VpcId"]
    subnet = (
        await client.call("CreateSubnet", VpcId=vpc, CidrBlock=cidr.replace("0.0/16", "1.0/24"))
    )["Subnet"]["SubnetId"]
    table = (await client.call("CreateRouteTable", VpcId=vpc))["RouteTable"]["RouteTableId"]
    await client.call("AssociateRouteTable", RouteTableId=table, SubnetId=subnet)
    return str(vpc), str(subnet), str(table)


async def _endpoint(client: Client, vpc: str, tables: list[str], **extra: Any) -> dict[str, Any]:
    params = {"ServiceName": S3, **extra}
    made = await client.call("CreateVpcEndpoint", VpcId=vpc, RouteTableIds=tables, **params)
    return dict(made["VpcEndpoint"])


async def _routes(client: Client, table: str) -> list[dict[str, Any]]:
    (found,) = (await client.call("DescribeRouteTables", RouteTableIds=[table]))["RouteTables"]
    return list(found["Routes"])


async def test_create_routes_and_describe(tmp_path: Path) -> None:
    async with ec2_world(tmp_path, vpc_endpoint_s3_addresses=ADDRESSES) as world:
        c = world.root
        vpc, subnet, table = await _vpc(c)
        await c.call(
            "RunInstances", ImageId=world.image.image_id, InstanceType="t3.nano", MinCount=1,
            MaxCount=1, SubnetId=subnet,
        )  # fmt: skip
        await world.compute.settle()
        made = await _endpoint(
            c,
            vpc,
            [table],
            VpcEndpointType="Gateway",
            TagSpecifications=[
                {"ResourceType": "vpc-endpoint", "Tags": [{"Key": "team", "Value": "data"}]}
            ],
        )
        endpoint = made["VpcEndpointId"]
        assert endpoint.startswith("vpce-")
        assert made["VpcEndpointType"] == "Gateway"
        assert made["State"] == "available"
        assert made["ServiceName"] == S3
        assert made["RouteTableIds"] == [table]
        assert json.loads(made["PolicyDocument"]) == json.loads(DEFAULT_POLICY)
        assert made["Tags"] == [{"Key": "team", "Value": "data"}]
        assert made["OwnerId"] == world.tenant_id
        # The AWS-managed list, as DescribePrefixLists gives it, is the route's destination.
        (plist,) = (await c.call("DescribePrefixLists"))["PrefixLists"]
        assert plist["PrefixListName"] == S3
        assert plist["Cidrs"] == list(ADDRESSES)
        assert plist["PrefixListId"].startswith("pl-")
        named = await c.call("DescribePrefixLists", PrefixListIds=[plist["PrefixListId"]])
        assert named["PrefixLists"] == [plist]
        route = next(r for r in await _routes(c, table) if "DestinationPrefixListId" in r)
        assert route == {
            "DestinationPrefixListId": plist["PrefixListId"],
            "GatewayId": endpoint,
            "Origin": "CreateRoute",
            "State": "active",
        }
        found = await c.call(
            "DescribeRouteTables",
            Filters=[{"Name": "route.gateway-id", "Values": [endpoint]}],
        )
        assert [t["RouteTableId"] for t in found["RouteTables"]] == [table]
        (described,) = (await c.call("DescribeVpcEndpoints", VpcEndpointIds=[endpoint]))[
            "VpcEndpoints"
        ]
        assert described == made
        # The routers of the hosts holding the VPC's instances are told, and told again
        # when it goes.
        await world.compute.settle()
        (told,) = world.driver.endpoint_routes[vpc]
        assert (told.network_id, told.vpc_id, told.vpc_endpoint_id) == (subnet, vpc, endpoint)
        assert told.addresses == ADDRESSES
        await c.call("DeleteVpcEndpoints", VpcEndpointIds=[endpoint])
        await world.compute.settle()
        assert vpc not in world.driver.endpoint_routes


async def test_egress_rules_name_the_managed_list(tmp_path: Path) -> None:
    """A rule may name the AWS-managed list (any account's: it is AWS's); DescribeSecurityGroups
    shows it; the hosts get its blocks — once the instance's table routes to an endpoint,
    since egress is confined to what the routes reach (a private subnet reaches the store
    through its endpoint only), and so does the default group's egress to everything."""
    async with ec2_world(tmp_path, vpc_endpoint_s3_addresses=ADDRESSES) as world:
        c = world.root
        vpc, subnet, table = await _vpc(c)
        (plist,) = (await c.call("DescribePrefixLists"))["PrefixLists"]
        group = (
            await c.call("CreateSecurityGroup", GroupName="locked", Description="d", VpcId=vpc)
        )["GroupId"]
        everything = [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
        await c.call("RevokeSecurityGroupEgress", GroupId=group, IpPermissions=everything)
        to_store = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443}
        listed = [{**to_store, "PrefixListIds": [{"PrefixListId": plist["PrefixListId"]}]}]
        await c.call("AuthorizeSecurityGroupEgress", GroupId=group, IpPermissions=listed)
        (shown,) = (await c.call("DescribeSecurityGroups", GroupIds=[group]))["SecurityGroups"]
        assert [p["PrefixListIds"] for p in shown["IpPermissionsEgress"]] == [
            [{"PrefixListId": plist["PrefixListId"]}]
        ]
        launched = []
        for groups in ([group], []):
            params = {"SecurityGroupIds": groups} if groups else {}
            made = await c.call(
                "RunInstances", ImageId=world.image.image_id, InstanceType="t3.nano",
                MinCount=1, MaxCount=1, SubnetId=subnet, **params,
            )  # fmt: skip
            launched.append(made["Instances"][0]["InstanceId"])
        await world.compute.settle()

        def egress(instance_id: str) -> set[FirewallRule]:
            return set(world.driver.instances[instance_id].firewall.egress)

        store = {FirewallRule("tcp", 443, 443, block) for block in ADDRESSES}
        assert egress(launched[0]) == set()  # not routed: the store is beyond its reach
        await _endpoint(c, vpc, [table])
        await world.compute.settle()
        assert egress(launched[0]) == store
        assert {FirewallRule("-1", 0, 65535, b) for b in ADDRESSES} <= egress(launched[1])
        # Another account names it as well.
        _, other = await world.tenant("another")
        other_vpc, _, _ = await _vpc(other, "10.60.0.0/16")
        theirs = (
            await other.call("CreateSecurityGroup", GroupName="g", Description="d", VpcId=other_vpc)
        )["GroupId"]
        await other.call("AuthorizeSecurityGroupEgress", GroupId=theirs, IpPermissions=listed)


async def test_filters_and_pages(world: World) -> None:
    c = world.root
    vpc, _, table = await _vpc(c)
    other, _, other_table = await _vpc(c, "10.60.0.0/16")
    first = (await _endpoint(c, vpc, [table]))["VpcEndpointId"]
    second = (
        await _endpoint(
            c,
            other,
            [other_table],
            ServiceName=f"eu.andromede.{REGION}.s3",
            TagSpecifications=[
                {"ResourceType": "vpc-endpoint", "Tags": [{"Key": "env", "Value": "prod"}]}
            ],
        )
    )["VpcEndpointId"]

    async def ids(**params: Any) -> list[str]:
        found = await c.call("DescribeVpcEndpoints", **params)
        return [e["VpcEndpointId"] for e in found["VpcEndpoints"]]

    assert await ids() == sorted([first, second])
    assert await ids(Filters=[{"Name": "vpc-id", "Values": [other]}]) == [second]
    assert await ids(Filters=[{"Name": "service-name", "Values": [S3]}]) == [first]
    assert await ids(Filters=[{"Name": "tag:env", "Values": ["prod"]}]) == [second]
    assert await ids(Filters=[{"Name": "vpc-endpoint-type", "Values": ["Interface"]}]) == []
    # CreateTags and DeleteTags on a vpce- id, seen by DescribeTags and the filters.
    await c.call("CreateTags", Resources=[first], Tags=[{"Key": "env", "Value": "dev"}])
    tagged = await c.call("DescribeTags", Filters=[{"Name": "resource-id", "Values": [first]}])
    assert [(t["ResourceType"], t["Key"]) for t in tagged["Tags"]] == [("vpc-endpoint", "env")]
    assert await ids(Filters=[{"Name": "tag-key", "Values": ["env"]}]) == sorted([first, second])
    await c.call("DeleteTags", Resources=[first], Tags=[{"Key": "env"}])
    assert await ids(Filters=[{"Name": "tag-key", "Values": ["env"]}]) == [second]
    page = await c.call("DescribeVpcEndpoints", MaxResults=1)
    assert len(page["VpcEndpoints"]) == 1
    rest = await c.call("DescribeVpcEndpoints", MaxResults=1, NextToken=page["NextToken"])
    assert len(rest["VpcEndpoints"]) == 1 and "NextToken" not in rest


async def test_modify_tables_and_policy(world: World) -> None:
    c = world.root
    vpc, _, table = await _vpc(c)
    second = (await c.call("CreateRouteTable", VpcId=vpc))["RouteTable"]["RouteTableId"]
    endpoint = (await _endpoint(c, vpc, [table]))["VpcEndpointId"]
    await c.call(
        "ModifyVpcEndpoint",
        VpcEndpointId=endpoint,
        AddRouteTableIds=[second],
        RemoveRouteTableIds=[table],
    )
    assert not any("DestinationPrefixListId" in r for r in await _routes(c, table))
    assert any(r.get("GatewayId") == endpoint for r in await _routes(c, second))
    policy = json.dumps(
        {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3:::reports/*",
                }
            ]
        }
    )
    await c.call("ModifyVpcEndpoint", VpcEndpointId=endpoint, PolicyDocument=policy)
    (got,) = (await c.call("DescribeVpcEndpoints", VpcEndpointIds=[endpoint]))["VpcEndpoints"]
    assert got["RouteTableIds"] == [second]
    assert got["PolicyDocument"] == policy
    await c.call("ModifyVpcEndpoint", VpcEndpointId=endpoint, ResetPolicy=True)
    (got,) = (await c.call("DescribeVpcEndpoints", VpcEndpointIds=[endpoint]))["VpcEndpoints"]
    assert got["PolicyDocument"] == DEFAULT_POLICY


async def test_delete_takes_its_routes_and_names_the_unknown(world: World) -> None:
    c = world.root
    vpc, _, table = await _vpc(c)
    endpoint = (await _endpoint(c, vpc, [table]))["VpcEndpointId"]
    # Its route is its own: DeleteRoute refuses it, DeleteVpc waits for it.
    plist = (await c.call("DescribePrefixLists"))["PrefixLists"][0]["PrefixListId"]
    call = c.call("DeleteRoute", RouteTableId=table, DestinationPrefixListId=plist)
    assert await _code(call) == "InvalidParameterValue"
    assert await _code(c.call("DeleteVpc", VpcId=vpc)) == "DependencyViolation"
    missing = "vpce-0123456789abcdef0"
    answer = await c.call("DeleteVpcEndpoints", VpcEndpointIds=[endpoint, missing])
    (item,) = answer["Unsuccessful"]
    assert item["ResourceId"] == missing
    assert item["Error"]["Code"] == "InvalidVpcEndpointId.NotFound"
    assert not any("DestinationPrefixListId" in r for r in await _routes(c, table))
    call = c.call("DescribeVpcEndpoints", VpcEndpointIds=[endpoint])
    assert await _code(call) == "InvalidVpcEndpointId.NotFound"


async def test_refusals(world: World) -> None:
    c = world.root
    vpc, subnet, table = await _vpc(c)
    other, _, other_table = await _vpc(c, "10.70.0.0/16")
    balancer = c.call(
        "CreateVpcEndpoint", VpcId=vpc, ServiceName=S3, VpcEndpointType="GatewayLoadBalancer",
        SubnetIds=[subnet],
    )  # fmt: skip
    assert await _code(balancer) == "InvalidParameterValue"
    # Terraform's PrivateDnsEnabled=false is harmless; asking a gateway for private DNS, or
    # giving it subnets (an Interface endpoint's, decision 0166), is not.
    dns = _endpoint(c, vpc, [], PrivateDnsEnabled=True)
    assert await _code(dns) == "UnsupportedOperation"
    assert await _code(_endpoint(c, vpc, [table], SubnetIds=[subnet])) == "UnsupportedOperation"
    unknown = c.call("CreateVpcEndpoint", VpcId=vpc, ServiceName="com.amazonaws.x.dynamodb")
    assert await _code(unknown) == "InvalidServiceName"
    assert await _code(_endpoint(c, vpc, [other_table])) == "InvalidParameterValue"
    assert await _code(_endpoint(c, vpc, ["rtb-0123456789abcdef0"])) == (
        "InvalidRouteTableID.NotFound"
    )
    assert await _code(_endpoint(c, vpc, [table], PolicyDocument="{nope")) == (
        "InvalidParameterValue"
    )
    no_principal = json.dumps({"Statement": [{"Effect": "Allow", "Action": "*"}]})
    assert await _code(_endpoint(c, vpc, [table], PolicyDocument=no_principal)) == (
        "InvalidParameterValue"
    )
    await _endpoint(c, vpc, [table])
    # A table routes the service's list once.
    assert await _code(_endpoint(c, vpc, [table])) == "RouteAlreadyExists"
    malformed = c.call("DescribeVpcEndpoints", VpcEndpointIds=["vpce-nope"])
    assert await _code(malformed) == "InvalidVpcEndpointId.Malformed"
    services = await c.call("DescribeVpcEndpointServices")
    assert services["ServiceNames"][:2] == [S3, f"eu.andromede.{REGION}.s3"]
    detail = services["ServiceDetails"][0]
    assert detail["ServiceType"] == [{"ServiceType": "Gateway"}]
    assert detail["VpcEndpointPolicySupported"] is True
    # KMS, SQS, SNS and STS have Interface endpoints only (decision 0174), as on AWS.
    kms = c.call("CreateVpcEndpoint", VpcId=vpc, ServiceName=f"com.amazonaws.{REGION}.kms",
                 RouteTableIds=[table])  # fmt: skip
    assert await _code(kms) == "InvalidParameter"
    call = c.call("DescribeVpcEndpointServices", ServiceNames=["com.amazonaws.x.sqs"])
    assert await _code(call) == "InvalidServiceName"
    assert other  # a VPC of the tenant's, whose table the first endpoint could not take


async def test_quota_and_client_token(tmp_path: Path) -> None:
    async with ec2_world(tmp_path, max_vpc_endpoints_per_tenant=1) as world:
        c = world.root
        vpc, _, table = await _vpc(c)
        first = await _endpoint(c, vpc, [table], ClientToken="tok-1", PrivateDnsEnabled=False)
        again = await _endpoint(c, vpc, [table], ClientToken="tok-1")
        assert again["VpcEndpointId"] == first["VpcEndpointId"]
        mismatch = _endpoint(c, vpc, [], ClientToken="tok-1")
        assert await _code(mismatch) == "IdempotentParameterMismatch"
        assert await _code(_endpoint(c, vpc, [])) == "VpcEndpointLimitExceeded"


async def test_another_tenant_sees_and_changes_nothing(world: World) -> None:
    vpc, _, table = await _vpc(world.root)
    endpoint = (await _endpoint(world.root, vpc, [table]))["VpcEndpointId"]
    _, other = await world.tenant("rival")
    assert (await other.call("DescribeVpcEndpoints"))["VpcEndpoints"] == []
    for call in (
        other.call("DescribeVpcEndpoints", VpcEndpointIds=[endpoint]),
        other.call("ModifyVpcEndpoint", VpcEndpointId=endpoint, ResetPolicy=True),
    ):
        assert await _code(call) == "InvalidVpcEndpointId.NotFound"
    answer = await other.call("DeleteVpcEndpoints", VpcEndpointIds=[endpoint])
    assert answer["Unsuccessful"][0]["Error"]["Code"] == "InvalidVpcEndpointId.NotFound"
    assert await _code(_endpoint(other, vpc, [table])) == "InvalidVpcID.NotFound"
    assert (await world.root.call("DescribeVpcEndpoints"))["VpcEndpoints"][0]["RouteTableIds"] == [
        table
    ]
