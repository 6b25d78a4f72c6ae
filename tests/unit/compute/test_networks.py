"""Tenant networks in the compute service, over the in-memory store and driver: the default
VPC, private addresses and MACs, the wiring recorded from the host, and security groups merged
into each instance's firewall and pushed when rules or members change."""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import replace
from pathlib import Path

import pytest

from andromede.compute.driver import (
    InstanceNetwork,
    InstanceSpec,
    NetworkMode,
    PortForward,
)
from andromede.compute.driver_memory import MemoryDriver
from andromede.compute.driver_network import (
    FirewallRule,
    InstanceFirewall,
)
from andromede.compute.errors import CannotDelete, NotFound, ReservedName, ResourceInUse
from andromede.compute.images import ImageFiles
from andromede.compute.model import (
    Image,
    Instance,
    InstanceState,
    Rule,
    SecurityGroup,
    parse_rule,
)
from andromede.compute.network import (
    DEFAULT_SUBNET_CIDR,
    NetworkInterface,
    default_ids,
    free_addresses,
    merge_firewall,
    new_mac,
    private_dns_name,
    usable_address_count,
    usable_addresses,
)
from andromede.compute.service import ComputeService, RunRequest
from andromede.compute.store_memory import MemoryComputeStore
from support.computekit import OTHER, TENANT, MemoryDiskKeys, limits

ALL = FirewallRule("-1", 0, 65535, "0.0.0.0/0")


async def launch(
    compute: ComputeService, image: Image, tenant: str = TENANT, **changes: object
) -> list[Instance]:
    request = replace(RunRequest(image.image_id, "t3.nano"), **changes)  # type: ignore[arg-type]
    launched = await compute.run_instances(tenant, request)
    await compute.settle()
    return await compute.describe_instances(tenant, [i.instance_id for i in launched])


# -- pure rules ------------------------------------------------------------------------------


def test_addresses_skip_what_aws_reserves() -> None:
    usable = list(usable_addresses("172.31.0.0/28"))
    assert usable[0] == "172.31.0.4" and usable[-1] == "172.31.0.14"
    assert len(usable) == 16 - 5
    assert len(list(usable_addresses(DEFAULT_SUBNET_CIDR))) == 4096 - 5
    assert free_addresses("172.31.0.0/28", {"172.31.0.4", "172.31.0.6"}, 3) == [
        "172.31.0.5",
        "172.31.0.7",
        "172.31.0.8",
    ]
    assert len(free_addresses("172.31.0.0/28", set(), 100)) == 11


@pytest.mark.parametrize("prefix", range(16, 33))
def test_the_usable_count_is_the_number_of_usable_addresses(prefix: int) -> None:
    cidr = f"10.20.0.0/{prefix}"
    assert usable_address_count(cidr) == len(list(usable_addresses(cidr)))


def test_macs_are_locally_administered_unicast() -> None:
    macs = {new_mac() for _ in range(200)}
    assert len(macs) == 200
    for mac in macs:
        first = int(mac.split(":")[0], 16)
        assert first & 0b10 and not first & 0b1
        assert len(mac) == 17


def test_default_ids_are_stable_per_tenant() -> None:
    assert default_ids(TENANT) == default_ids(TENANT)
    mine, other = default_ids(TENANT), default_ids(OTHER)
    assert mine.vpc_id != other.vpc_id and mine.group_id != other.group_id
    assert mine.vpc_id.startswith("vpc-") and mine.subnet_id.startswith("subnet-")
    assert private_dns_name("172.31.0.4", "eu-fr-1") == "ip-172-31-0-4.eu-fr-1.compute.internal"


def test_merge_turns_group_rules_into_member_addresses() -> None:
    web = SecurityGroup(
        "sg-00000000000000001",
        TENANT,
        "web",
        "d",
        ingress=(
            parse_rule("tcp", 22, 22, "10.0.0.0/8"),
            parse_rule("tcp", 443, 443, "", group_id="sg-00000000000000002"),
            parse_rule("tcp", 80, 80, "::/0"),  # IPv6 judges the VPCs' IPv6 (decision 0217)
            parse_rule("icmp", 8, 0, "0.0.0.0/0"),
            # All types with a code, taken before decision 0130 (and still by a revoke):
            # all ICMP, as it was enforced.
            parse_rule("icmp", -1, 3, "192.0.2.0/24", revoking=True),
        ),
    )
    other = SecurityGroup(
        "sg-00000000000000003",
        TENANT,
        "ssh",
        "d",
        ingress=(parse_rule("tcp", 22, 22, "10.0.0.0/8"),),
    )
    firewall = merge_firewall(
        [web, other], {"sg-00000000000000002": ["172.31.0.9", "172.31.0.4", "fd00:1::7"]}
    )
    assert firewall.ingress == (
        FirewallRule("tcp", 22, 22, "10.0.0.0/8"),
        FirewallRule("tcp", 443, 443, "172.31.0.9/32"),
        FirewallRule("tcp", 443, 443, "172.31.0.4/32"),
        FirewallRule("tcp", 443, 443, "fd00:1::7/128"),  # a member's IPv6 address
        FirewallRule("tcp", 80, 80, "::/0"),
        FirewallRule("icmp", 8, 0, "0.0.0.0/0"),  # the ICMP type and code (decision 0130)
        FirewallRule("icmp", -1, -1, "192.0.2.0/24"),
    )
    assert firewall.egress == (ALL,)
    assert merge_firewall([], {}).ingress == () and merge_firewall([], {}).egress == ()


# -- the service -----------------------------------------------------------------------------


async def test_first_launch_creates_the_default_network(
    compute: ComputeService, image: Image, driver: MemoryDriver
) -> None:
    [first, second] = await launch(compute, image, min_count=2, max_count=2)
    ids = default_ids(TENANT)
    network = await compute.default_network(TENANT)
    assert (network.vpc.vpc_id, network.subnet.subnet_id) == (ids.vpc_id, ids.subnet_id)
    assert network.vpc.cidr == "172.31.0.0/16" and network.subnet.cidr == "172.31.0.0/20"
    assert network.subnet.availability_zone == compute.limits.availability_zone
    assert network.group.name == "default"
    for instance in (first, second):
        assert (instance.vpc_id, instance.subnet_id) == (ids.vpc_id, ids.subnet_id)
        assert instance.security_group_ids == (ids.group_id,)
    assert {first.private_ip, second.private_ip} == {"172.31.0.4", "172.31.0.5"}
    assert first.mac != second.mac
    nic = driver.instances[first.instance_id].spec.nic
    assert nic is not None
    assert (nic.private_ip, nic.mac) == (first.private_ip, first.mac)
    assert (nic.network.network_id, nic.network.cidr) == (ids.subnet_id, "172.31.0.0/20")
    assert nic.network.tenant_id == TENANT
    # What the host wired is recorded: bridge mode, its host-only public address.
    assert first.network_mode == NetworkMode.BRIDGE.value
    assert first.public_ip is not None
    assert ipaddress.ip_address(first.public_ip) in ipaddress.ip_network("100.65.0.0/16")
    interfaces = await compute.describe_network_interfaces(TENANT, [])
    assert {i.private_ip for i in interfaces} == {first.private_ip, second.private_ip}
    # Another tenant has a network of its own, same range, own ids.
    [theirs] = await launch(compute, image, OTHER)
    assert theirs.private_ip == "172.31.0.4" and theirs.vpc_id != first.vpc_id


async def test_default_group_lets_members_reach_each_other(
    compute: ComputeService, image: Image, driver: MemoryDriver
) -> None:
    [first] = await launch(compute, image)
    assert driver.instances[first.instance_id].firewall.ingress == (
        FirewallRule("-1", 0, 65535, f"{first.private_ip}/32"),
    )
    [second] = await launch(compute, image)
    await compute.settle()
    # The first instance's firewall was pushed again when the second joined the group.
    expected = {f"{first.private_ip}/32", f"{second.private_ip}/32"}
    for instance in (first, second):
        rules = driver.instances[instance.instance_id].firewall.ingress
        assert {r.cidr for r in rules} == expected
        assert driver.instances[instance.instance_id].firewall.egress == (ALL,)
    await compute.terminate_instances(TENANT, [second.instance_id])
    await compute.settle()
    assert {r.cidr for r in driver.instances[first.instance_id].firewall.ingress} == {
        f"{first.private_ip}/32"
    }


async def test_addresses_are_kept_on_stop_and_freed_on_terminate(
    compute: ComputeService, image: Image
) -> None:
    [first, second] = await launch(compute, image, min_count=2, max_count=2)
    await compute.stop_instances(TENANT, [first.instance_id])
    await compute.settle()
    [stopped] = await compute.describe_instances(TENANT, [first.instance_id])
    assert stopped.state is InstanceState.STOPPED
    assert (stopped.private_ip, stopped.mac) == (first.private_ip, first.mac)
    assert stopped.public_ip is None and stopped.network_mode is None
    await compute.start_instances(TENANT, [first.instance_id])
    await compute.settle()
    [started] = await compute.describe_instances(TENANT, [first.instance_id])
    assert started.private_ip == first.private_ip and started.public_ip is not None
    # A stopped instance keeps its address: a new one does not get it.
    await compute.stop_instances(TENANT, [first.instance_id])
    await compute.settle()
    [third] = await launch(compute, image)
    assert third.private_ip not in (first.private_ip, second.private_ip)
    await compute.terminate_instances(TENANT, [first.instance_id])
    await compute.settle()
    [gone] = await compute.describe_instances(TENANT, [first.instance_id])
    assert gone.state is InstanceState.TERMINATED and gone.public_ip is None
    assert gone.private_ip is None and gone.network_interface_id is None
    held = await compute.store.list(NetworkInterface, TENANT)
    assert first.private_ip not in {i.private_ip for i in held}
    [fourth] = await launch(compute, image)
    assert fourth.private_ip == first.private_ip  # the lowest free one again


async def test_rule_changes_reach_running_members(
    compute: ComputeService, image: Image, driver: MemoryDriver
) -> None:
    web = await compute.create_security_group(TENANT, "web", "web servers")
    assert web.vpc_id == default_ids(TENANT).vpc_id
    [instance] = await launch(compute, image, security_group_ids=(web.group_id,))
    firewall = driver.instances[instance.instance_id].firewall
    assert firewall.ingress == () and firewall.egress == (ALL,)
    ssh = parse_rule("tcp", 22, 22, "203.0.113.0/24")
    await compute.authorize(TENANT, web.group_id, [ssh], ingress=True)
    firewall = driver.instances[instance.instance_id].firewall
    assert firewall.ingress == (FirewallRule("tcp", 22, 22, "203.0.113.0/24"),)
    await compute.revoke(TENANT, web.group_id, [Rule("-1", -1, -1, "0.0.0.0/0")], ingress=False)
    assert driver.instances[instance.instance_id].firewall.egress == ()
    await compute.revoke(TENANT, web.group_id, [ssh], ingress=True)
    assert driver.instances[instance.instance_id].firewall.ingress == ()


async def test_a_rule_naming_a_group_follows_its_members(
    compute: ComputeService, image: Image, driver: MemoryDriver
) -> None:
    db = await compute.create_security_group(TENANT, "db", "databases")
    app = await compute.create_security_group(TENANT, "app", "application servers")
    from_app = parse_rule("tcp", 5432, 5432, "", group_id=app.group_id)
    await compute.authorize(TENANT, db.group_id, [from_app], ingress=True)
    [database] = await launch(compute, image, security_group_ids=(db.group_id,))
    assert driver.instances[database.instance_id].firewall.ingress == ()
    [server] = await launch(compute, image, security_group_ids=(app.group_id,))
    await compute.settle()
    assert driver.instances[database.instance_id].firewall.ingress == (
        FirewallRule("tcp", 5432, 5432, f"{server.private_ip}/32"),
    )
    with pytest.raises(ResourceInUse):  # db's rule names app
        await compute.delete_security_group(TENANT, group_id=app.group_id, name=None)
    await compute.terminate_instances(TENANT, [server.instance_id])
    await compute.settle()
    assert driver.instances[database.instance_id].firewall.ingress == ()
    foreign = await compute.create_security_group(OTHER, "theirs", "another tenant's")
    with pytest.raises(NotFound):
        rule = parse_rule("tcp", 1, 2, "", group_id=foreign.group_id)
        await compute.authorize(TENANT, db.group_id, [rule], ingress=True)


async def test_the_default_group_is_reserved(compute: ComputeService) -> None:
    with pytest.raises(ReservedName):
        await compute.create_security_group(TENANT, "default", "mine")
    groups = await compute.describe_security_groups(TENANT, [], [])
    assert [g.name for g in groups] == ["default"]
    with pytest.raises(CannotDelete):
        await compute.delete_security_group(TENANT, group_id=None, name="default")
    with pytest.raises(NotFound):
        await compute.create_security_group(TENANT, "x", "y", vpc_id="vpc-0123456789abcdef0")


async def test_only_the_tenant_s_subnet(compute: ComputeService, image: Image) -> None:
    theirs = (await compute.default_network(OTHER)).subnet.subnet_id
    with pytest.raises(NotFound):
        await launch(compute, image, subnet_id=theirs)
    mine = (await compute.default_network(TENANT)).subnet.subnet_id
    [instance] = await launch(compute, image, subnet_id=mine)
    assert instance.subnet_id == mine


async def test_concurrent_launches_in_one_gateway_never_share_an_address(
    compute: ComputeService, image: Image
) -> None:
    request = RunRequest(image.image_id, "t3.nano", min_count=1, max_count=1)
    batches = await asyncio.gather(*(compute.run_instances(TENANT, request) for _ in range(4)))
    addresses = [i.private_ip for batch in batches for i in batch]
    assert len(addresses) == 4 and len(set(addresses)) == 4


class SlowHost(MemoryDriver):
    """A host whose first start waits for the test to let it finish."""

    def __init__(self) -> None:
        super().__init__(vcpus=8, memory_mib=4096)
        self.gate = asyncio.Event()
        self.starting = asyncio.Event()
        self._first = True

    async def start(self, spec: InstanceSpec) -> InstanceNetwork:
        if self._first:
            self._first = False
            self.starting.set()
            await self.gate.wait()
        return await super().start(spec)


async def test_a_member_joining_while_another_starts_reaches_it(tmp_path: Path) -> None:
    host = SlowHost()
    compute = ComputeService(
        MemoryComputeStore(), [host], MemoryDiskKeys(), limits(),
        ImageFiles(tmp_path / "images", max_size=1024**3),
    )  # fmt: skip
    source = tmp_path / "disk.raw"
    source.write_bytes(b"\0" * 4096)
    image = await compute.import_image_file(source, name="debian", owner_id=None)
    try:
        [slow] = await compute.run_instances(TENANT, RunRequest(image.image_id, "t3.nano"))
        await host.starting.wait()  # its firewall is computed: it alone in the default group
        [quick] = await compute.run_instances(TENANT, RunRequest(image.image_id, "t3.nano"))
        while quick.instance_id not in host.instances:
            await asyncio.sleep(0)
        host.gate.set()
        await compute.settle()
        peers = {r.cidr for r in host.instances[slow.instance_id].firewall.ingress}
        assert peers == {f"{slow.private_ip}/32", f"{quick.private_ip}/32"}
    finally:
        await compute.close()


class UserModeHost(MemoryDriver):
    """A host in user-mode networking whose forwards open only where an ingress rule allows
    TCP to the guest port (as the QEMU driver does: slirp cannot filter otherwise)."""

    @staticmethod
    def _allowed(
        firewall: InstanceFirewall, forwards: tuple[PortForward, ...]
    ) -> tuple[PortForward, ...]:
        return tuple(
            f for f in forwards
            if any(r.protocol in ("tcp", "-1") and r.from_port <= f.guest_port <= r.to_port
                   for r in firewall.ingress)
        )  # fmt: skip

    async def start(self, spec: InstanceSpec) -> InstanceNetwork:
        self.requested = spec.forwards
        allowed = self._allowed(spec.firewall, spec.forwards)
        return await super().start(replace(spec, nic=None, forwards=allowed))

    async def set_firewall(self, instance_id: str, firewall: InstanceFirewall) -> None:
        await super().set_firewall(instance_id, firewall)
        instance = self.instances[instance_id]
        opened = tuple(self._forward(f) for f in self._allowed(firewall, self.requested))
        instance.network = replace(instance.network, forwards=opened)


async def test_user_mode_forwards_follow_the_rules_and_are_recorded(tmp_path: Path) -> None:
    compute = ComputeService(
        MemoryComputeStore(), [UserModeHost()], MemoryDiskKeys(), limits(),
        ImageFiles(tmp_path / "images", max_size=1024**3),
    )  # fmt: skip
    source = tmp_path / "disk.raw"
    source.write_bytes(b"\0" * 4096)
    image = await compute.import_image_file(source, name="debian", owner_id=None)
    try:
        # A group with no ingress rule (the default group's rule lets all in from members).
        group_id = (await compute.create_security_group(TENANT, "web", "d")).group_id
        [instance] = await launch(compute, image, security_group_ids=(group_id,))
        assert (instance.network_mode, instance.forwards) == ("user", ())
        ssh = parse_rule("tcp", 22, 22, "0.0.0.0/0")
        await compute.authorize(TENANT, group_id, [ssh], ingress=True)
        [opened] = await compute.describe_instances(TENANT, [instance.instance_id])
        [(host, port, guest)] = opened.forwards
        assert (host, guest) == ("127.0.0.1", 22) and port > 0
        await compute.revoke(TENANT, group_id, [ssh], ingress=True)
        [closed] = await compute.describe_instances(TENANT, [instance.instance_id])
        assert closed.forwards == ()
    finally:
        await compute.close()


async def test_user_mode_asks_a_forward_only_of_an_instance_on_the_internet(
    tmp_path: Path,
) -> None:
    """A public address is not enough: without a route to an internet gateway nothing outside
    the VPC reaches the instance, so no host port is asked for it (decision 0121); a start
    after the route is made asks one."""
    host = UserModeHost()
    compute = ComputeService(
        MemoryComputeStore(), [host], MemoryDiskKeys(), limits(),
        ImageFiles(tmp_path / "images", max_size=1024**3),
    )  # fmt: skip
    source = tmp_path / "disk.raw"
    source.write_bytes(b"\0" * 4096)
    image = await compute.import_image_file(source, name="debian", owner_id=None)
    try:
        vpc = await compute.create_vpc(TENANT, "10.9.0.0/16")
        subnet = await compute.create_subnet(TENANT, vpc.vpc_id, "10.9.1.0/24")
        group = await compute.create_security_group(TENANT, "ssh", "d", vpc_id=vpc.vpc_id)
        ssh = parse_rule("tcp", 22, 22, "0.0.0.0/0")
        await compute.authorize(TENANT, group.group_id, [ssh], ingress=True)
        [instance] = await launch(
            compute, image, subnet_id=subnet.subnet_id,
            security_group_ids=(group.group_id,), associate_public_ip=True,
        )  # fmt: skip
        assert host.requested == ()
        gateway = await compute.create_internet_gateway(TENANT)
        await compute.attach_internet_gateway(TENANT, gateway.gateway_id, vpc.vpc_id)
        tables = await compute.describe_route_tables(TENANT, [])
        [main] = [t for t in tables if t.vpc_id == vpc.vpc_id]
        await compute.create_route(TENANT, main.route_table_id, "0.0.0.0/0", gateway.gateway_id)
        await compute.stop_instances(TENANT, [instance.instance_id])
        await compute.settle()
        await compute.start_instances(TENANT, [instance.instance_id])
        await compute.settle()
        assert [f.guest_port for f in host.requested] == [22]
    finally:
        await compute.close()
