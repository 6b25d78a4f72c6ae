"""Public DNS names of instances (decision 0151), on the EC2 wire through botocore: the
``public_dns_domain`` setting, DescribeInstances' ``PublicDnsName`` and the interface
association's as EC2 gives them (a public address, DNS support and hostnames on), following
starts and stops, Elastic IPs and ModifyVpcAttribute; what each VPC's hosts are told (the
names standing for the private addresses); the records for the operator's DNS; the zone
text."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from andromede.compute.network import default_ids
from andromede.compute.public_dns import (
    public_dns_name,
    public_dns_suffix,
    render_reverse_records,
    render_zone,
)
from andromede.imds.directory import ComputeInstanceDirectory
from andromede.settings import Settings
from support.ec2app import REGION, World, ec2_world

DOMAIN = "cloud.example.fr"
SUFFIX = f"{REGION}.compute.{DOMAIN}"


@pytest.fixture
async def named(tmp_path: Path) -> AsyncIterator[World]:
    async with ec2_world(tmp_path, public_dns_domain="Cloud.Example.FR.") as world:
        yield world


async def _run(world: World, **params: Any) -> str:
    reply = await world.root.call(
        "RunInstances", ImageId=world.image.image_id, InstanceType="t3.nano", MinCount=1,
        MaxCount=1, **params,
    )  # fmt: skip
    await world.compute.settle()
    instance_id: str = reply["Instances"][0]["InstanceId"]
    return instance_id


async def _instance(world: World, instance_id: str) -> dict[str, Any]:
    found = await world.root.call("DescribeInstances", InstanceIds=[instance_id])
    instance: dict[str, Any] = found["Reservations"][0]["Instances"][0]
    return instance


async def _names(world: World, instance_id: str) -> tuple[str, str, str]:
    """DescribeInstances' name, its interface association's, DescribeNetworkInterfaces'."""
    instance = await _instance(world, instance_id)
    nested = instance["NetworkInterfaces"][0].get("Association", {}).get("PublicDnsName", "")
    found = await world.root.call(
        "DescribeNetworkInterfaces",
        NetworkInterfaceIds=[instance["NetworkInterfaces"][0]["NetworkInterfaceId"]],
    )
    alone = found["NetworkInterfaces"][0].get("Association", {}).get("PublicDnsName", "")
    return instance["PublicDnsName"], nested, alone


def _ec2_name(address: str) -> str:
    return f"ec2-{address.replace('.', '-')}.{SUFFIX}"


def test_the_setting_is_a_dns_domain(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path).public_dns_domain == ""
    assert Settings(data_dir=tmp_path, public_dns_domain="Cloud.Example.FR.").public_dns_domain == (
        DOMAIN
    )
    for bad in (
        "a..b",
        "-a.fr",
        "a_b.fr",
        "a/b",
        "x.fr,1.2.3.4",
        "a" * 64 + ".fr",
        "é.fr",
        "a." * 75 + "fr",
    ):
        with pytest.raises(ValidationError, match="public_dns_domain"):
            Settings(data_dir=tmp_path, public_dns_domain=bad)


def test_names_are_ec2s_under_the_operators_domain() -> None:
    assert public_dns_suffix("eu-fr-1", "") == ""
    assert public_dns_suffix("eu-fr-1", DOMAIN) == f"eu-fr-1.compute.{DOMAIN}"
    assert public_dns_name("203.0.113.25", "eu-fr-1.compute.x.fr") == (
        "ec2-203-0-113-25.eu-fr-1.compute.x.fr"
    )
    assert public_dns_name("203.0.113.25", "") == ""
    with pytest.raises(ValueError, match="256"):
        public_dns_name("203.0.113.256", SUFFIX)


def _told(world: World, vpc_id: str) -> dict[str, str]:
    """What the VPC's hosts were told last: public name → private address."""
    return dict(world.driver.vpc_dns[vpc_id].public_names)


async def test_an_instance_with_a_public_address_has_a_name(named: World) -> None:
    instance_id = await _run(named)  # the default VPC: DNS hostnames on
    instance = await _instance(named, instance_id)
    public, private = instance["PublicIpAddress"], instance["PrivateIpAddress"]
    name = _ec2_name(public)
    assert await _names(named, instance_id) == (name, name, name)
    vpc_id = default_ids(named.tenant_id).vpc_id
    # Its VPC's hosts answer the name with the private address.
    assert named.driver.vpc_dns[vpc_id].public_names == ((name, private),)
    assert await named.compute.public_dns_records() == [(name, public)]
    # Another instance of the VPC, so that its host keeps the VPC when the first stops.
    other = await _instance(named, await _run(named))
    other_name = _ec2_name(other["PublicIpAddress"])
    assert _told(named, vpc_id) == {name: private, other_name: other["PrivateIpAddress"]}
    # Hostnames off: no name, on the wire or on the hosts; on again: named again.
    modify = named.root.call
    await modify("ModifyVpcAttribute", VpcId=vpc_id, EnableDnsHostnames={"Value": False})
    assert await _names(named, instance_id) == ("", "", "")
    assert named.driver.vpc_dns[vpc_id].public_names == ()
    assert await named.compute.public_dns_records() == []
    await modify("ModifyVpcAttribute", VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    assert (await _names(named, instance_id))[0] == name
    assert _told(named, vpc_id)[name] == private
    # DNS support off: EC2 gives no public name either.
    await modify("ModifyVpcAttribute", VpcId=vpc_id, EnableDnsSupport={"Value": False})
    assert await _names(named, instance_id) == ("", "", "")
    await modify("ModifyVpcAttribute", VpcId=vpc_id, EnableDnsSupport={"Value": True})
    # Stopped, it has no public address, hence no name; started, the address's name.
    await named.root.call("StopInstances", InstanceIds=[instance_id])
    await named.compute.settle()
    stopped = await _instance(named, instance_id)
    assert "PublicIpAddress" not in stopped and stopped["PublicDnsName"] == ""
    assert _told(named, vpc_id) == {other_name: other["PrivateIpAddress"]}
    await named.root.call("StartInstances", InstanceIds=[instance_id])
    await named.compute.settle()
    again = await _instance(named, instance_id)
    assert again["PublicDnsName"] == _ec2_name(again["PublicIpAddress"])
    assert _told(named, vpc_id)[again["PublicDnsName"]] == private
    # Terminated: gone everywhere.
    await named.root.call("TerminateInstances", InstanceIds=[instance_id])
    await named.compute.settle()
    assert (await _instance(named, instance_id))["PublicDnsName"] == ""
    assert _told(named, vpc_id) == {other_name: other["PrivateIpAddress"]}
    assert await named.compute.public_dns_records() == [(other_name, other["PublicIpAddress"])]
    # The periodic resync carries the names too.
    named.driver.vpc_dns.clear()
    await named.compute.resync_hosts()
    assert _told(named, vpc_id) == {other_name: other["PrivateIpAddress"]}


async def test_an_elastic_ip_is_named_and_the_name_follows_it(named: World) -> None:
    vpc_id = default_ids(named.tenant_id).vpc_id
    bare = await _run(named, NetworkInterfaces=[{
        "DeviceIndex": 0, "SubnetId": default_ids(named.tenant_id).subnet_id,
        "AssociatePublicIpAddress": False,
    }])  # fmt: skip
    assert await _names(named, bare) == ("", "", "")
    other = await _run(named)
    allocated = await named.root.call("AllocateAddress", Domain="vpc")
    eip = allocated["PublicIp"]
    await named.root.call("AssociateAddress", AllocationId=allocated["AllocationId"],
                          InstanceId=bare)  # fmt: skip
    await named.compute.settle()
    assert await _names(named, bare) == (_ec2_name(eip),) * 3
    private = (await _instance(named, bare))["PrivateIpAddress"]
    assert (_ec2_name(eip), private) in named.driver.vpc_dns[vpc_id].public_names
    # Moved to the other instance: its name is the address's, the first has none again.
    other_before = (await _instance(named, other))["PublicIpAddress"]
    await named.root.call("AssociateAddress", AllocationId=allocated["AllocationId"],
                          InstanceId=other, AllowReassociation=True)  # fmt: skip
    await named.compute.settle()
    assert await _names(named, bare) == ("", "", "")
    assert (await _names(named, other))[0] == _ec2_name(eip)
    other_private = (await _instance(named, other))["PrivateIpAddress"]
    assert named.driver.vpc_dns[vpc_id].public_names == ((_ec2_name(eip), other_private),)
    records = await named.compute.public_dns_records()
    assert records == [(_ec2_name(eip), eip)]
    # Let go: the instance's own address is named again.
    await named.root.call("DisassociateAddress", PublicIp=eip)
    await named.compute.settle()
    assert (await _names(named, other))[0] == _ec2_name(other_before)
    assert named.driver.vpc_dns[vpc_id].public_names == ((_ec2_name(other_before), other_private),)


async def test_no_name_without_hostnames_or_without_the_domain(named: World, world: World) -> None:
    vpc = await named.root.call("CreateVpc", CidrBlock="10.9.0.0/16")
    subnet = await named.root.call(
        "CreateSubnet", VpcId=vpc["Vpc"]["VpcId"], CidrBlock="10.9.4.0/24"
    )
    subnet_id = subnet["Subnet"]["SubnetId"]
    await named.root.call(
        "ModifySubnetAttribute", SubnetId=subnet_id, MapPublicIpOnLaunch={"Value": True}
    )
    # One's own VPC: hostnames off (EC2's default): a public address, no name.
    own = await _instance(named, await _run(named, SubnetId=subnet_id))
    assert own["PublicIpAddress"] and own["PublicDnsName"] == ""
    assert named.driver.vpc_dns[vpc["Vpc"]["VpcId"]].public_names == ()
    # No public_dns_domain: no name anywhere (the default VPC has hostnames on).
    plain = await _run(world)
    assert await _names(world, plain) == ("", "", "")
    assert world.driver.vpc_dns[default_ids(world.tenant_id).vpc_id].public_names == ()
    assert await world.compute.public_dns_records() == []


def test_the_zone_for_the_operators_dns() -> None:
    records = [(_ec2_name("100.66.0.10"), "100.66.0.10"), (_ec2_name("100.66.0.9"), "100.66.0.9")]
    assert render_zone(records, SUFFIX, ttl=30) == (
        "; Public DNS names of the instances (andromede admin dns zone, decision 0151).\n"
        f"$ORIGIN {SUFFIX}.\n"
        "$TTL 30\n"
        "ec2-100-66-0-9 IN A 100.66.0.9\n"
        "ec2-100-66-0-10 IN A 100.66.0.10\n"
    )
    whole = render_zone(records, SUFFIX, name_servers=["ns1.example.fr.", "ns2.example.fr"],
                        serial=42)  # fmt: skip
    assert whole.splitlines()[3:6] == [
        f"@ IN SOA ns1.example.fr. hostmaster.{SUFFIX}. 42 3600 600 604800 60",
        "@ IN NS ns1.example.fr.",
        "@ IN NS ns2.example.fr.",
    ]
    assert render_reverse_records(records).splitlines()[1:] == [
        f"9.0.66.100.in-addr.arpa. 60 IN PTR {_ec2_name('100.66.0.9')}.",
        f"10.0.66.100.in-addr.arpa. 60 IN PTR {_ec2_name('100.66.0.10')}.",
    ]


async def test_the_metadata_service_gives_the_public_hostname(named: World) -> None:
    """EC2's ``public-hostname`` (and ``public-ipv4``, the Elastic IP once associated)."""
    instance_id = await _run(named)
    host_facing = named.driver.instances[instance_id].network.host_facing_ip
    assert host_facing is not None
    directory = ComputeInstanceDirectory(
        named.compute.store, named.driver, REGION, public_dns_domain=DOMAIN
    )
    found = await directory.by_address(host_facing)
    assert found is not None
    assert (found.public_ip, found.public_hostname) == (host_facing, _ec2_name(host_facing))
    allocated = await named.root.call("AllocateAddress", Domain="vpc")
    await named.root.call("AssociateAddress", AllocationId=allocated["AllocationId"],
                          InstanceId=instance_id)  # fmt: skip
    found = await directory.by_address(host_facing)
    eip = allocated["PublicIp"]
    assert found is not None
    assert (found.public_ip, found.public_hostname) == (eip, _ec2_name(eip))
    await named.root.call(
        "ModifyVpcAttribute",
        VpcId=default_ids(named.tenant_id).vpc_id,
        EnableDnsHostnames={"Value": False},
    )
    found = await directory.by_address(host_facing)
    assert found is not None and found.public_hostname is None
    # Without the domain: no public hostname.
    plain = ComputeInstanceDirectory(named.compute.store, named.driver, REGION)
    found = await plain.by_address(host_facing)
    assert found is not None and found.public_hostname is None


async def _public_vpc(world: World, prefix: str) -> tuple[str, str]:
    """A VPC of one's own with DNS hostnames on and a subnet giving public addresses."""
    c = world.root
    vpc_id: str = (await c.call("CreateVpc", CidrBlock=f"{prefix}.0.0/16"))["Vpc"]["VpcId"]
    await c.call("ModifyVpcAttribute", VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    subnet = await c.call("CreateSubnet", VpcId=vpc_id, CidrBlock=f"{prefix}.1.0/24")
    subnet_id: str = subnet["Subnet"]["SubnetId"]
    await c.call("ModifySubnetAttribute", SubnetId=subnet_id, MapPublicIpOnLaunch={"Value": True})
    return vpc_id, subnet_id


async def test_a_peered_vpcs_resolver_answers_the_names_with_private_addresses(
    named: World,
) -> None:
    """What AllowDnsResolutionFromRemoteVpc is for on EC2: the peer's public names resolve to
    private addresses from this side, while the option is on; they follow the peer's
    instances."""
    c = named.root
    (a, a_subnet), (b, b_subnet) = (
        await _public_vpc(named, "10.1"),
        await _public_vpc(named, "10.2"),
    )
    a_instance = await _instance(named, await _run(named, SubnetId=a_subnet))
    b_id = await _run(named, SubnetId=b_subnet)
    b_instance = await _instance(named, b_id)
    a_name, b_name = a_instance["PublicDnsName"], b_instance["PublicDnsName"]
    assert a_name == _ec2_name(a_instance["PublicIpAddress"])
    assert _told(named, a) == {a_name: a_instance["PrivateIpAddress"]}
    peering_id = (await c.call("CreateVpcPeeringConnection", VpcId=a, PeerVpcId=b))[
        "VpcPeeringConnection"
    ]["VpcPeeringConnectionId"]
    await c.call("AcceptVpcPeeringConnection", VpcPeeringConnectionId=peering_id)
    assert b_name not in _told(named, a)  # the option is off
    # The accepter side (b) lets the requester (a) resolve its names.
    await c.call(
        "ModifyVpcPeeringConnectionOptions", VpcPeeringConnectionId=peering_id,
        AccepterPeeringConnectionOptions={"AllowDnsResolutionFromRemoteVpc": True},
    )  # fmt: skip
    await named.compute.settle()
    assert _told(named, a) == {
        a_name: a_instance["PrivateIpAddress"],
        b_name: b_instance["PrivateIpAddress"],
    }
    assert a_name not in _told(named, b)  # one way only
    # b's instance stopped: its name goes from a's resolver too.
    await c.call("StopInstances", InstanceIds=[b_id])
    await named.compute.settle()
    assert _told(named, a) == {a_name: a_instance["PrivateIpAddress"]}
    await c.call("StartInstances", InstanceIds=[b_id])
    await named.compute.settle()
    restarted = (await _instance(named, b_id))["PublicDnsName"]
    assert _told(named, a)[restarted] == b_instance["PrivateIpAddress"]
    # The option off: no more.
    await c.call(
        "ModifyVpcPeeringConnectionOptions", VpcPeeringConnectionId=peering_id,
        AccepterPeeringConnectionOptions={"AllowDnsResolutionFromRemoteVpc": False},
    )  # fmt: skip
    await named.compute.settle()
    assert _told(named, a) == {a_name: a_instance["PrivateIpAddress"]}


async def test_describe_instances_filters_by_dns_names(named: World) -> None:
    """EC2's ``dns-name`` (the public name) and ``private-dns-name`` filters, wildcards too."""
    first = await _instance(named, await _run(named))
    second = await _instance(named, await _run(named))

    async def found(name: str, *values: str) -> list[str]:
        answer = await named.root.call(
            "DescribeInstances", Filters=[{"Name": name, "Values": list(values)}]
        )
        return sorted(i["InstanceId"] for r in answer["Reservations"] for i in r["Instances"])

    assert await found("dns-name", first["PublicDnsName"]) == [first["InstanceId"]]
    both = sorted([first["InstanceId"], second["InstanceId"]])
    assert await found("dns-name", f"ec2-*.{SUFFIX}") == both
    assert await found("dns-name", "ec2-*.elsewhere.example") == []
    assert await found("private-dns-name", second["PrivateDnsName"]) == [second["InstanceId"]]
    # Hostnames off: no public name to match.
    await named.root.call(
        "ModifyVpcAttribute",
        VpcId=default_ids(named.tenant_id).vpc_id,
        EnableDnsHostnames={"Value": False},
    )
    assert await found("dns-name", "*") == []
