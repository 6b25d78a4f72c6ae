"""VPC peering end to end, with real guests (decision 0139): boto3 against ``andromede serve``
with ``hypervisor = qemu`` on a host that can build bridges (root; skipped otherwise).

Two tenants, a VPC each, an instance in each on the one host; the first pings the second's
private address every second and says on its console whether the reply came:

- no peering: no reply;
- peered, accepted by the second tenant, and routed both ways: replies;
- the second tenant's route taken away (the first still routes): no reply — its instance's
  firewall no longer lets the first VPC in;
- routed back: replies again;
- the connection deleted by the second tenant: both routes are blackholes, no reply.

The guest is the busybox image of tests/support/guest_images.py.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from e2e.iam_helpers import new_tenant
from e2e.test_ec2_networks import DHCP, WAIT
from support.guest_images import GuestImage
from support.qemu_host import (
    bridged_server,
    ec2_client,
    import_image,
    tenant_networks_guest_image,
)
from support.server import ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1200)]

CONSOLE_TIMEOUT = 300.0  # TCG on a loaded 2-core machine
A_CIDR, B_CIDR = "10.61.0.0/16", "10.62.0.0/16"
ICMP_IN = [
    {"IpProtocol": "icmp", "FromPort": -1, "ToPort": -1, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
]


def pinger(address: str) -> str:
    """Pings ``address`` every second, numbering each try and saying whether it answered."""
    return (
        DHCP
        + f"""
(n=0; while true; do
  n=$((n + 1))
  if ping -c 1 -W 1 {address} >/dev/null 2>&1; then r=ok; else r=lost; fi
  echo "andromede-ping $n $r"
  sleep 1
done) &
"""
    )


@pytest.fixture(scope="module")
def guest_image() -> GuestImage:
    return tenant_networks_guest_image()


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, guest_image: GuestImage
) -> Iterator[ServerProcess]:
    with bridged_server(tmp_path_factory.mktemp("pcx") / "data", "pcx") as running:
        yield running


def _pings(ec2: Any, instance_id: str) -> list[tuple[int, bool]]:
    console = str(ec2.get_console_output(InstanceId=instance_id).get("Output") or "")
    return [
        (int(n), result == "ok")
        for n, result in re.findall(r"andromede-ping (\d+) (ok|lost)", console)
    ]


def _last(ec2: Any, instance_id: str) -> int:
    pings = _pings(ec2, instance_id)
    return pings[-1][0] if pings else 0


def _answered(ec2: Any, instance_id: str) -> None:
    """A reply comes within the console timeout (a push to the host is asynchronous)."""
    since = _last(ec2, instance_id)
    deadline = time.monotonic() + CONSOLE_TIMEOUT
    while time.monotonic() < deadline:
        if any(ok for n, ok in _pings(ec2, instance_id) if n > since):
            return
        time.sleep(2)
    raise AssertionError(f"no reply since ping {since}: {_pings(ec2, instance_id)[-10:]}")


def _unanswered(ec2: Any, instance_id: str) -> None:
    """Five tries in a row go unanswered within the console timeout (the firewall push is
    asynchronous: the first tries after the change may still be answered). A reply between two
    routers of one host takes well under a millisecond, so a second's wait (``-W 1``) tells a
    lost try; each costs two seconds of the test's time, not three as with eight of ``-W 2``."""
    since = _last(ec2, instance_id)
    deadline = time.monotonic() + CONSOLE_TIMEOUT
    while time.monotonic() < deadline:
        after = [ok for n, ok in _pings(ec2, instance_id) if n > since]
        run = 0
        for ok in after:
            run = 0 if ok else run + 1
        if run >= 5:
            return
        time.sleep(2)
    raise AssertionError(f"still answered since ping {since}: {_pings(ec2, instance_id)[-10:]}")


def _launch(ec2: Any, image_id: str, subnet_id: str, group_id: str, user_data: str) -> str:
    run = ec2.run_instances(
        ImageId=image_id, InstanceType="t3.nano", MinCount=1, MaxCount=1, UserData=user_data,
        NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": subnet_id, "Groups": [group_id]}],
    )  # fmt: skip
    instance_id: str = run["Instances"][0]["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance_id], WaiterConfig=WAIT)
    return instance_id


def _network(ec2: Any, cidr: str) -> tuple[str, str, str, str]:
    """A VPC with a subnet and a group letting ICMP in: (vpc, subnet, group, main table)."""
    vpc_id = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    subnet_cidr = cidr.replace(".0.0/16", ".1.0/24")
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock=subnet_cidr)["Subnet"]["SubnetId"]
    group_id = ec2.create_security_group(GroupName="ping", Description="p", VpcId=vpc_id)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=ICMP_IN)
    [table] = ec2.describe_route_tables(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]},
            {"Name": "association.main", "Values": ["true"]},
        ]
    )["RouteTables"]
    return vpc_id, subnet_id, group_id, table["RouteTableId"]


def test_two_tenants_vpcs_ping_each_other_only_while_peered_and_routed_both_ways(
    server: ServerProcess, guest_image: GuestImage
) -> None:
    image_id = import_image(server, guest_image.disk, "busybox")
    ec2 = ec2_client(server, server.credentials())
    second = new_tenant(server, "pcx")
    other = ec2_client(server, (second.access_key_id, second.secret_access_key))
    # The image is the operator's own import: public, every tenant launches it.
    a_vpc, a_subnet, a_group, a_table = _network(ec2, A_CIDR)
    b_vpc, b_subnet, b_group, b_table = _network(other, B_CIDR)
    launched: list[tuple[Any, str]] = []
    try:
        target = _launch(other, image_id, b_subnet, b_group, DHCP)
        launched.append((other, target))
        [reservation] = other.describe_instances(InstanceIds=[target])["Reservations"]
        address = reservation["Instances"][0]["PrivateIpAddress"]
        assert address.startswith("10.62.1.")
        source = _launch(ec2, image_id, a_subnet, a_group, pinger(address))
        launched.append((ec2, source))
        # No peering: the two VPCs share nothing.
        _unanswered(ec2, source)

        owner = other.describe_vpcs(VpcIds=[b_vpc])["Vpcs"][0]["OwnerId"]
        peering = ec2.create_vpc_peering_connection(VpcId=a_vpc, PeerVpcId=b_vpc, PeerOwnerId=owner)
        peering_id = peering["VpcPeeringConnection"]["VpcPeeringConnectionId"]
        other.accept_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
        ec2.create_route(
            RouteTableId=a_table, DestinationCidrBlock=B_CIDR, VpcPeeringConnectionId=peering_id
        )
        # Routed by one side only: a's packets leave, b's firewall lets nothing in.
        _unanswered(ec2, source)
        other.create_route(
            RouteTableId=b_table, DestinationCidrBlock=A_CIDR, VpcPeeringConnectionId=peering_id
        )
        _answered(ec2, source)
        # b no longer routes back: no reply.
        other.delete_route(RouteTableId=b_table, DestinationCidrBlock=A_CIDR)
        _unanswered(ec2, source)
        other.create_route(
            RouteTableId=b_table, DestinationCidrBlock=A_CIDR, VpcPeeringConnectionId=peering_id
        )
        _answered(ec2, source)
        # Deleted by the accepter: both routes are blackholes, and nothing passes.
        other.delete_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
        [table] = ec2.describe_route_tables(RouteTableIds=[a_table])["RouteTables"]
        states = {r["DestinationCidrBlock"]: r["State"] for r in table["Routes"]}
        assert states[B_CIDR] == "blackhole"
        _unanswered(ec2, source)
    finally:
        for client, instance_id in launched:
            client.terminate_instances(InstanceIds=[instance_id])
        for client, instance_id in launched:
            client.get_waiter("instance_terminated").wait(
                InstanceIds=[instance_id], WaiterConfig=WAIT
            )
