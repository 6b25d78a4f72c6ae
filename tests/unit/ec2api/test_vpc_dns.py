"""What the hosts are told of a VPC's DNS (decision 0143), on the EC2 wire through botocore: a
launch's network carries its VPC's DNS attributes and the Region's domain, ModifyVpcAttribute
pushes a change to the hosts of the VPC's instances (and only a change), the periodic resync
carries it again, and the private DNS names are EC2's (``ec2.internal`` in us-east-1)."""

from __future__ import annotations

from typing import Any

from andromede.compute.driver_network import (
    VpcDns,
)
from andromede.compute.network import default_ids, private_dns_name, region_domain
from support.ec2app import REGION, World

DOMAIN = f"{REGION}.compute.internal"


async def _run(world: World, **params: Any) -> dict[str, Any]:
    reply = await world.root.call(
        "RunInstances", ImageId=world.image.image_id, InstanceType="t3.nano", MinCount=1,
        MaxCount=1, **params,
    )  # fmt: skip
    await world.compute.settle()
    instance_id = reply["Instances"][0]["InstanceId"]
    found = await world.root.call("DescribeInstances", InstanceIds=[instance_id])
    instance: dict[str, Any] = found["Reservations"][0]["Instances"][0]
    return instance


async def _vpc_with_subnet(world: World, prefix: str = "10.9") -> tuple[str, str]:
    vpc = await world.root.call("CreateVpc", CidrBlock=f"{prefix}.0.0/16")
    vpc_id: str = vpc["Vpc"]["VpcId"]
    subnet = await world.root.call("CreateSubnet", VpcId=vpc_id, CidrBlock=f"{prefix}.4.0/24")
    return vpc_id, subnet["Subnet"]["SubnetId"]


def test_the_region_domain_is_ec2s() -> None:
    assert region_domain("us-east-1") == "ec2.internal"
    assert region_domain("eu-west-3") == "eu-west-3.compute.internal"
    assert private_dns_name("10.0.1.5", "us-east-1") == "ip-10-0-1-5.ec2.internal"
    assert private_dns_name("10.0.1.5", "eu-fr-1") == "ip-10-0-1-5.eu-fr-1.compute.internal"


async def test_a_launch_tells_the_host_its_vpcs_dns(world: World) -> None:
    vpc_id, subnet_id = await _vpc_with_subnet(world)
    instance = await _run(world, SubnetId=subnet_id)
    assert instance["PrivateDnsName"] == f"ip-10-9-4-4.{DOMAIN}"
    nic = world.driver.instances[instance["InstanceId"]].spec.nic
    assert nic is not None
    # One's own VPC: DNS support on, hostnames off (EC2's defaults); the default options.
    told = VpcDns(support=True, hostnames=False, domain=DOMAIN, domain_name=DOMAIN)
    assert nic.network.dns == told
    assert world.driver.vpc_dns[vpc_id] == told
    # The default VPC: hostnames on.
    default = await _run(world)
    nic = world.driver.instances[default["InstanceId"]].spec.nic
    assert nic is not None and nic.network.dns.hostnames
    assert world.driver.vpc_dns[default_ids(world.tenant_id).vpc_id].hostnames


async def test_modify_vpc_attribute_reaches_the_hosts_of_the_vpc_only(world: World) -> None:
    vpc_id, subnet_id = await _vpc_with_subnet(world)
    empty_vpc, _ = await _vpc_with_subnet(world, "10.8")
    await _run(world, SubnetId=subnet_id)
    modify = world.root.call
    await modify("ModifyVpcAttribute", VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    assert world.driver.vpc_dns[vpc_id].hostnames
    await modify("ModifyVpcAttribute", VpcId=vpc_id, EnableDnsSupport={"Value": False})
    # The host stops its resolver (and hands out no AmazonProvidedDNS); the options stay.
    assert world.driver.vpc_dns[vpc_id] == VpcDns(
        support=False, hostnames=True, domain=DOMAIN, domain_name=DOMAIN
    )
    # A VPC without instances is told to no host.
    await modify("ModifyVpcAttribute", VpcId=empty_vpc, EnableDnsHostnames={"Value": True})
    assert empty_vpc not in world.driver.vpc_dns
    # A change of the metrics attribute is no change of DNS: nothing pushed.
    world.driver.vpc_dns.clear()
    await modify(
        "ModifyVpcAttribute", VpcId=vpc_id, EnableNetworkAddressUsageMetrics={"Value": True}
    )
    assert world.driver.vpc_dns == {}
    # The periodic resync carries what is recorded.
    await world.compute.resync_hosts()
    assert world.driver.vpc_dns[vpc_id].support is False
    assert empty_vpc not in world.driver.vpc_dns
