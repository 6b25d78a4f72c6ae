"""One suite over every ComputeStore: the in-memory twin, SQLite and PostgreSQL (both migrated
with Alembic)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from andromede.compute.elastic_ip import ElasticAddress
from andromede.compute.errors import Duplicate
from andromede.compute.launch_template import LaunchTemplate, LaunchTemplateVersion, version_key
from andromede.compute.metadata_defaults import MetadataDefaults
from andromede.compute.model import (
    Attachment,
    CpuOptions,
    ElasticIpRef,
    Image,
    ImageBlockDevice,
    ImageState,
    Instance,
    InstanceProfileRef,
    InstanceState,
    KeyPair,
    MetadataOptions,
    Rule,
    SecurityGroup,
    Volume,
    VolumeModification,
    VolumeModificationState,
    VolumeState,
    parse_rule,
)
from andromede.compute.nat_gateway import NatGateway, NatGatewayState
from andromede.compute.network import (
    DefaultVpcState,
    NetworkInterface,
    PrivateAddress,
    Subnet,
    Vpc,
    private_address_id,
)
from andromede.compute.network_acl import (
    NetworkAcl,
    NetworkAclAssociation,
    default_network_acl,
    entry,
)
from andromede.compute.prefix_list import (
    ManagedPrefixList,
    PrefixListEntry,
    PrefixListState,
    PrefixListVersion,
)
from andromede.compute.routing import InternetGateway, Route, RouteTable, main_route_table
from andromede.compute.store import ComputeStore, Record
from andromede.compute.store_memory import MemoryComputeStore
from andromede.compute.store_sql import SqlComputeStore
from andromede.compute.vpc_peering import PeeringState, VpcPeeringConnection
from andromede.db.database import open_database
from support.schema import migrated_sqlite

T0 = datetime(2027, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
TENANT = "111111111111"
OTHER = "222222222222"


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ComputeStore]:
    if request.param == "memory":
        yield MemoryComputeStore()
        return
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
    else:
        url = migrated_sqlite(tmp_path / "meta.db")
    db = open_database(url)
    try:
        yield SqlComputeStore(db)
    finally:
        await db.close()


def instance(n: int, tenant: str = TENANT) -> Instance:
    return Instance(
        instance_id=f"i-{n:017x}",
        tenant_id=tenant,
        reservation_id="r-0123456789abcdef0",
        image_id="ami-0123456789abcdef0",
        instance_type="t3.nano",
        state=InstanceState.PENDING,
        host="h1",
        launch_time=T0,
        root_volume_id=f"vol-{n:017x}",
        availability_zone="eu-fr-1a",
        vcpus=2,
        memory_mib=512,
        key_name="k",
        security_group_ids=("sg-0123456789abcdef0",),
        user_data=b"\x00\xff binary",
        tags=(("Name", "é"),),
    )


def volume(n: int) -> Volume:
    return Volume(
        volume_id=f"vol-{n:017x}",
        tenant_id=TENANT,
        size_gib=8,
        availability_zone="eu-fr-1a",
        state=VolumeState.IN_USE,
        host="h1",
        created_at=T0,
        wrapped_key=b"\x01\x02wrapped",
        attachment=Attachment(f"i-{n:017x}", "/dev/xvda", T0, True),
    )


async def test_round_trip_of_every_kind(store: ComputeStore) -> None:
    group = SecurityGroup(
        "sg-0123456789abcdef0",
        TENANT,
        "web",
        "d",
        # A rule with its id and tags (decision 0146), the default egress rule with its own.
        ingress=(
            Rule("tcp", 22, 22, "10.0.0.0/8", "ssh", rule_id="sgr-0123456789abcdef0",
                 tags=(("team", "a"),)),
        ),
    )  # fmt: skip
    key_pair = KeyPair("key-0123456789abcdef0", TENANT, "k", "ed25519", "fp", "ssh-ed25519 A", T0)
    networked = replace(
        instance(4),
        vpc_id="vpc-0123456789abcdef0",
        private_ip="172.31.0.4",
        mac="02:00:00:00:00:01",
        network_mode="user",
        forwards=(("127.0.0.1", 42001, 22),),
        iam_instance_profile=InstanceProfileRef("arn:aws:iam::1:instance-profile/p", "AIPA1"),
    )
    pair = parse_rule("tcp", 1, 2, "", group_id="sg-0123456789abcdef0")
    grown = VolumeModification(
        VolumeModificationState.FAILED, 8, 9, T0, T0, status_message="The host could not"
    )
    records = [
        instance(1),
        volume(1),
        replace(volume(2), modification=grown),
        group,
        replace(group, group_id="sg-0123456789abcdef1", name="g", ingress=(pair,)),
        key_pair,
        networked,
        Vpc("vpc-0123456789abcdef0", TENANT, "172.31.0.0/16", is_default=True),
        Subnet("subnet-0123456789abcdef0", TENANT, "vpc-0123456789abcdef0", "172.31.0.0/20",
               "eu-fr-1a", default_for_az=True),
        interface(1, "172.31.0.4", "02:00:00:00:00:01"),
    ]  # fmt: skip
    await store.insert(*records)
    for record in records:
        assert await store.get(type(record), record.resource_id) == record
    assert await store.get(Instance, "i-00000000000000009") is None
    assert await store.get(Volume, instance(1).instance_id) is None


def interface(
    n: int, address: str, mac: str, subnet: str = "subnet-0123456789abcdef0"
) -> NetworkInterface:
    return NetworkInterface(
        f"eni-{n:017x}", TENANT, "vpc-0123456789abcdef0", subnet, "eu-fr-1a", address, mac,
        f"i-{n:017x}", T0,
    )  # fmt: skip


async def test_addresses_and_macs_are_unique(store: ComputeStore) -> None:
    """What keeps two gateways from handing out one address: the store refuses the second."""
    await store.insert(interface(1, "172.31.0.4", "02:00:00:00:00:01"))
    with pytest.raises(Duplicate) as same_address:
        await store.insert(instance(2), interface(2, "172.31.0.4", "02:00:00:00:00:02"))
    assert same_address.value.kind == "address"
    assert await store.get(Instance, instance(2).instance_id) is None  # nothing of it written
    with pytest.raises(Duplicate):
        await store.insert(interface(3, "172.31.0.5", "02:00:00:00:00:01"))
    with pytest.raises(Duplicate):  # within one insert too
        await store.insert(
            interface(4, "172.31.0.6", "02:00:00:00:00:04"),
            interface(5, "172.31.0.6", "02:00:00:00:00:05"),
        )
    # The same address in another subnet (another tenant's network) is fine.
    await store.insert(interface(6, "172.31.0.4", "02:00:00:00:00:06", "subnet-0000000000000000f"))
    # Once its interface is deleted (instance terminated), the address may be given again.
    await store.delete(NetworkInterface, interface(1, "", "").interface_id)
    await store.insert(interface(7, "172.31.0.4", "02:00:00:00:00:07"))
    held = await store.list(NetworkInterface, TENANT)
    assert sorted(i.interface_id for i in held) == [
        interface(n, "", "").interface_id for n in (6, 7)
    ]


async def test_insert_is_all_or_nothing(store: ComputeStore) -> None:
    await store.insert(instance(1))
    with pytest.raises(Duplicate):
        await store.insert(instance(2), volume(2), instance(1))
    assert await store.get(Instance, instance(2).instance_id) is None
    assert await store.get(Volume, volume(2).volume_id) is None


async def test_listing_by_tenant_and_public_images(store: ComputeStore) -> None:
    await store.insert(instance(3), instance(1), instance(2, OTHER))
    assert [i.instance_id for i in await store.list(Instance, TENANT)] == [
        instance(1).instance_id,
        instance(3).instance_id,
    ]
    assert len(await store.list(Instance, None)) == 3
    public = Image(
        "ami-00000000000000001", "pub", None, ImageState.AVAILABLE, "raw", 1, 1, "00", T0, path="/x"
    )
    private = replace(public, image_id="ami-00000000000000002", owner_id=OTHER)
    await store.insert(public, private)
    assert [i.image_id for i in await store.list(Image, TENANT)] == [public.image_id]
    assert len(await store.list(Image, OTHER)) == 2


async def test_an_image_keeps_its_devices_and_the_accounts_it_is_shared_with(
    store: ComputeStore,
) -> None:
    """CreateImage's further devices and ModifyImageAttribute's accounts (decision 0147), in
    the image's document; an image without them has its root alone, shared with nobody."""
    plain = Image(
        "ami-00000000000000003", "made", OTHER, ImageState.PENDING, "qcow2", 1, 1, "", T0,
        snapshot_id="snap-00000000000000001",
    )  # fmt: skip
    made = replace(
        plain,
        root_delete_on_termination=False,
        block_devices=(
            ImageBlockDevice("/dev/sdb", 3, "snap-00000000000000002", False),
            ImageBlockDevice("/dev/sdc", 4),
        ),
        launch_permissions=(TENANT,),
    )
    await store.insert(made, replace(plain, image_id="ami-00000000000000004"))
    assert await store.get(Image, made.image_id) == made
    older = await store.get(Image, "ami-00000000000000004")
    assert older is not None and (older.block_devices, older.launch_permissions) == ((), ())
    assert older.root_delete_on_termination is True
    # Shared with TENANT, the record is still OTHER's: listed by tenant, it is OTHER's alone.
    assert made.image_id not in {i.image_id for i in await store.list(Image, TENANT)}
    assert made.visible_to(TENANT) and not made.visible_to("333333333333")


async def test_replace_is_optimistic(store: ComputeStore) -> None:
    await store.insert(instance(1))
    read = await store.get(Instance, instance(1).instance_id)
    assert read is not None
    assert await store.replace(replace(read, state=InstanceState.RUNNING))
    # A second write computed from the same (now stale) read loses.
    assert not await store.replace(replace(read, state=InstanceState.TERMINATED))
    now = await store.get(Instance, instance(1).instance_id)
    assert now is not None
    assert (now.state, now.revision) == (InstanceState.RUNNING, 1)
    assert not await store.replace(instance(7))  # gone records are not re-created


async def test_delete_is_idempotent(store: ComputeStore) -> None:
    await store.insert(volume(1))
    await store.delete(Volume, volume(1).volume_id)
    await store.delete(Volume, volume(1).volume_id)
    assert await store.get(Volume, volume(1).volume_id) is None


async def test_running_instances_by_host_and_public_address(store: ComputeStore) -> None:
    """The metadata service's lookup: only running instances of that host at that address,
    kept in step with every write of the record."""

    def at(n: int, address: str | None, host: str = "h1", tenant: str = TENANT) -> Instance:
        return replace(
            instance(n, tenant), host=host, public_ip=address, state=InstanceState.RUNNING
        )

    await store.insert(
        at(1, "100.65.0.2"),
        at(2, "100.65.0.3"),
        at(3, "100.65.0.2", host="h2", tenant=OTHER),  # the same address on another host
        replace(at(4, "100.65.0.4"), state=InstanceState.STOPPING),
        at(5, None),
    )
    found = await store.running_at_address("h1", "100.65.0.2")
    assert [i.instance_id for i in found] == [instance(1).instance_id]
    assert found[0] == at(1, "100.65.0.2")  # the whole record, revision included
    assert [i.tenant_id for i in await store.running_at_address("h2", "100.65.0.2")] == [OTHER]
    assert await store.running_at_address("h3", "100.65.0.2") == []
    assert await store.running_at_address("h1", "100.65.0.4") == []  # not running
    assert await store.running_at_address("h1", "100.65.0.9") == []

    # Stopped: the record's address is cleared, and the lookup follows the replaced record.
    stopped = replace(found[0], state=InstanceState.STOPPED, public_ip=None)
    assert await store.replace(stopped)
    assert await store.running_at_address("h1", "100.65.0.2") == []
    # The address given to another instance (started again, reusing it) finds that one...
    second = await store.get(Instance, instance(2).instance_id)
    assert second is not None
    assert await store.replace(replace(second, public_ip="100.65.0.2"))
    assert [i.instance_id for i in await store.running_at_address("h1", "100.65.0.2")] == [
        instance(2).instance_id
    ]
    assert await store.running_at_address("h1", "100.65.0.3") == []
    # ... and records that disagree (two running at one address) are all returned, in id
    # order, for the caller to refuse.
    await store.insert(at(6, "100.65.0.2"))
    assert [i.instance_id for i in await store.running_at_address("h1", "100.65.0.2")] == [
        instance(2).instance_id,
        instance(6).instance_id,
    ]
    await store.delete(Instance, instance(2).instance_id)
    assert [i.instance_id for i in await store.running_at_address("h1", "100.65.0.2")] == [
        instance(6).instance_id
    ]


async def test_key_pairs_by_tenant_and_name(store: ComputeStore) -> None:
    def key_pair(n: int, name: str, tenant: str = TENANT) -> KeyPair:
        return KeyPair(f"key-{n:017x}", tenant, name, "ed25519", "fp", f"ssh-ed25519 A{n}", T0)

    await store.insert(key_pair(1, "deploy"), key_pair(2, "other"), key_pair(3, "deploy", OTHER))
    assert await store.key_pairs_named(TENANT, "deploy") == [key_pair(1, "deploy")]
    assert await store.key_pairs_named(OTHER, "deploy") == [key_pair(3, "deploy", OTHER)]
    assert await store.key_pairs_named(TENANT, "Deploy") == []  # names are case-sensitive
    assert await store.key_pairs_named(TENANT, "missing") == []
    await store.delete(KeyPair, key_pair(1, "deploy").key_pair_id)
    assert await store.key_pairs_named(TENANT, "deploy") == []


# -- launch templates (decision 0092) ----------------------------------------------------------


def template(n: int, name: str = "web", tenant: str = TENANT) -> LaunchTemplate:
    return LaunchTemplate(
        template_id=f"lt-{n:017x}",
        tenant_id=tenant,
        name=name,
        created_at=T0,
        created_by=f"arn:aws:iam::{tenant}:root",
        tags=(("team", "é"),),
        client_token="tok",
        request_digest="d",
    )


def template_version(template_id: str, number: int, tenant: str = TENANT) -> LaunchTemplateVersion:
    return LaunchTemplateVersion(
        template_id=template_id,
        tenant_id=tenant,
        number=number,
        created_at=T0,
        created_by=f"arn:aws:iam::{tenant}:root",
        parameters=(
            ("ImageId", "ami-0123456789abcdef0"),
            ("UserData", "aGk="),
            ("TagSpecification.1.Tag.1.Value", "é"),
        ),
        description=f"v{number}",
    )


async def test_launch_templates_round_trip_with_names_unique_per_tenant(
    store: ComputeStore,
) -> None:
    first = template(1)
    await store.insert(first, template_version(first.template_id, 1))
    assert await store.get(LaunchTemplate, first.template_id) == first
    [version] = await store.launch_template_versions(first.template_id)
    assert version == template_version(first.template_id, 1)
    assert await store.launch_templates_named(TENANT, "web") == [first]
    assert await store.launch_templates_named(TENANT, "api") == []
    assert await store.launch_templates_named(OTHER, "web") == []
    # The name is taken in its tenant: nothing of the second insert is written.
    with pytest.raises(Duplicate) as raised:
        await store.insert(template(2), template_version(template(2).template_id, 1))
    assert raised.value.kind == "lt-name"
    assert await store.get(LaunchTemplate, template(2).template_id) is None
    assert await store.launch_template_versions(template(2).template_id) == []
    # Another tenant may use it.
    await store.insert(template(3, tenant=OTHER))
    assert [t.template_id for t in await store.list(LaunchTemplate, OTHER)] == [
        template(3).template_id
    ]


async def test_change_writes_a_template_with_its_versions_or_nothing(store: ComputeStore) -> None:
    lt = template(1)
    await store.insert(lt, template_version(lt.template_id, 1))
    read = await store.get(LaunchTemplate, lt.template_id)
    assert read is not None
    # Versions in number order, 10 after 9 (not after 1).
    for number in range(2, 12):
        current = await store.get(LaunchTemplate, lt.template_id)
        assert current is not None
        moved = replace(current, latest_version=number, last_version=number)
        assert await store.change(moved, insert=[template_version(lt.template_id, number)])
    numbers = [v.number for v in await store.launch_template_versions(lt.template_id)]
    assert numbers == list(range(1, 12))
    # A change computed from a stale read writes nothing, its versions neither.
    assert not await store.change(
        replace(read, latest_version=99), insert=[template_version(lt.template_id, 99)]
    )
    assert 99 not in [v.number for v in await store.launch_template_versions(lt.template_id)]
    current = await store.get(LaunchTemplate, lt.template_id)
    assert current is not None and (current.latest_version, current.revision) == (11, 10)
    # A version number already taken: Duplicate, and the template is not moved either.
    with pytest.raises(Duplicate):
        await store.change(
            replace(current, default_version=5), insert=[template_version(lt.template_id, 3)]
        )
    again = await store.get(LaunchTemplate, lt.template_id)
    assert again is not None and (again.default_version, again.revision) == (1, 10)
    # Deleting versions with the template's change; then the template with all of them.
    gone = [(LaunchTemplateVersion, version_key(lt.template_id, n)) for n in (10, 11)]
    assert await store.change(replace(again, latest_version=9), delete=gone)
    assert len(await store.launch_template_versions(lt.template_id)) == 9
    last = await store.get(LaunchTemplate, lt.template_id)
    assert last is not None and last.latest_version == 9
    everything: list[tuple[type[Record], str]] = [
        (LaunchTemplateVersion, v.resource_id)
        for v in await store.launch_template_versions(lt.template_id)
    ]
    everything.append((LaunchTemplate, lt.template_id))
    assert await store.change(last, delete=everything)
    assert await store.get(LaunchTemplate, lt.template_id) is None
    assert await store.launch_template_versions(lt.template_id) == []
    assert await store.launch_templates_named(TENANT, "web") == []
    assert not await store.change(last)  # gone: nothing to change


async def test_change_replaces_other_records_at_their_revisions_or_nothing(
    store: ComputeStore,
) -> None:
    """What attaching a gateway or moving an association relies on (decision 0121): the
    parent's revision and each replaced record's are checked in one transaction."""
    vpc = Vpc("vpc-0123456789abcdef0", TENANT, "10.9.0.0/16", is_default=False)
    gateway = InternetGateway("igw-0123456789abcdef0", TENANT)
    table = main_route_table(vpc)
    await store.insert(vpc, gateway, table)
    attached = replace(gateway, vpc_id=vpc.vpc_id)
    assert await store.change(vpc, replace=[attached, replace(table, tags=(("k", "v"),))])
    read_gateway = await store.get(InternetGateway, gateway.gateway_id)
    read_table = await store.get(RouteTable, table.route_table_id)
    read_vpc = await store.get(Vpc, vpc.vpc_id)
    assert read_gateway is not None and (read_gateway.vpc_id, read_gateway.revision) == (
        vpc.vpc_id,
        1,
    )
    assert read_table is not None and (read_table.tags, read_table.revision) == ((("k", "v"),), 1)
    assert read_vpc is not None and read_vpc.revision == 1
    # One replaced record read stale: nothing is written, the parent included.
    assert not await store.change(read_vpc, replace=[replace(gateway, vpc_id=None)])
    after_vpc = await store.get(Vpc, vpc.vpc_id)
    after_gateway = await store.get(InternetGateway, gateway.gateway_id)
    assert after_vpc is not None and after_vpc.revision == 1
    assert after_gateway == read_gateway
    # The records of both kinds are listed per tenant.
    assert [t.route_table_id for t in await store.list(RouteTable, TENANT)] == [
        table.route_table_id
    ]
    assert await store.list(InternetGateway, OTHER) == []


async def test_a_network_acl_round_trips_and_its_association_moves_on_the_subnet(
    store: ComputeStore,
) -> None:
    """What ReplaceNetworkAclAssociation relies on (decision 0128): the subnet's revision and
    both ACLs' are checked in one transaction, so a subnet is never associated twice."""
    vpc = Vpc("vpc-0123456789abcdef0", TENANT, "10.9.0.0/16", is_default=False)
    subnet = Subnet("subnet-0123456789abcdef0", TENANT, vpc.vpc_id, "10.9.1.0/24", "eu-fr-1a",
                    default_for_az=False, vni=7)  # fmt: skip
    default = default_network_acl(vpc, [subnet])
    ssh = entry(110, egress=False, action="allow", protocol="tcp", cidr="10.0.0.0/8",
                ports=(22, 22))  # fmt: skip
    icmp = entry(120, egress=True, action="deny", protocol="1", cidr="0.0.0.0/0", icmp=(-1, -1))
    own = NetworkAcl("acl-0123456789abcdef1", TENANT, vpc.vpc_id, (ssh, icmp), tags=(("k", "v"),))
    await store.insert(vpc, subnet, default, own)
    assert await store.get(NetworkAcl, own.network_acl_id) == own
    assert await store.get(NetworkAcl, default.network_acl_id) == default
    moved = NetworkAclAssociation("aclassoc-0123456789abcdef0", subnet.subnet_id)
    left = replace(default, associations=())
    assert await store.change(subnet, replace=[left, replace(own, associations=(moved,))])
    read_own = await store.get(NetworkAcl, own.network_acl_id)
    assert read_own is not None and (read_own.associations, read_own.revision) == ((moved,), 1)
    # The default ACL read before the move is stale: nothing is written, the subnet included.
    read_subnet = await store.get(Subnet, subnet.subnet_id)
    assert read_subnet is not None
    assert not await store.change(
        read_subnet, replace=[default, replace(read_own, associations=())]
    )
    assert await store.get(NetworkAcl, own.network_acl_id) == read_own
    after = await store.get(Subnet, subnet.subnet_id)
    assert after is not None and after.revision == read_subnet.revision
    assert [a.network_acl_id for a in await store.list(NetworkAcl, TENANT)] == sorted(
        [default.network_acl_id, own.network_acl_id]
    )
    assert await store.list(NetworkAcl, OTHER) == []


async def test_an_elastic_ip_is_held_by_one_tenant_and_associated_with_its_instance(
    store: ComputeStore,
) -> None:
    """What allocation relies on (decision 0125): an address of the pool is unique across
    tenants, whichever gateway writes it, and free again once released; an association is
    written on the address and its instance at once, at both revisions."""
    held = ElasticAddress("eipalloc-0123456789abcdef0", TENANT, "100.66.0.1", "eu-fr-1")
    await store.insert(held)
    taken = ElasticAddress("eipalloc-0123456789abcdef1", OTHER, "100.66.0.1", "eu-fr-1")
    with pytest.raises(Duplicate) as raised:
        await store.insert(taken)
    assert raised.value.kind == "address"
    assert await store.list(ElasticAddress, OTHER) == []
    running = instance(1)
    await store.insert(running)
    associated = replace(
        held,
        association_id="eipassoc-0123456789abcdef0",
        instance_id=running.instance_id,
        private_ip="10.0.0.4",
    )
    reference = associated.reference
    assert reference is not None
    assert await store.change(replace(running, elastic_ip=reference), replace=[associated])
    read = await store.get(Instance, running.instance_id)
    assert read is not None and read.elastic_ip == reference and read.has_public_address
    [listed] = await store.list(ElasticAddress, TENANT)
    assert (listed.instance_id, listed.revision) == (running.instance_id, 1)
    # A stale address: nothing written, the instance included.
    assert not await store.change(replace(read, elastic_ip=None), replace=[held])
    assert (await store.get(Instance, running.instance_id)) == read
    assert await store.change(listed, delete=[(ElasticAddress, listed.allocation_id)])
    await store.insert(taken)  # released: the address may go to another tenant
    assert [a.tenant_id for a in await store.list(ElasticAddress, None)] == [OTHER]


async def test_a_nat_gateway_takes_its_address_and_elastic_ip_in_one_write(
    store: ComputeStore,
) -> None:
    """What CreateNatGateway relies on (decision 0129): the gateway, the interface reserving
    its private address and its Elastic IP's association are written at once, serialised on
    the subnet; an address of the subnet held already is a Duplicate, and nothing is written."""
    vpc = Vpc("vpc-0123456789abcdef0", TENANT, "10.9.0.0/16", is_default=False)
    subnet = Subnet("subnet-0123456789abcdef0", TENANT, vpc.vpc_id, "10.9.1.0/24", "eu-fr-1a",
                    default_for_az=False, vni=11)  # fmt: skip
    address = ElasticAddress("eipalloc-0123456789abcdef0", TENANT, "100.66.0.7", "eu-fr-1")
    await store.insert(vpc, subnet, address)
    interface = NetworkInterface(
        "eni-0123456789abcdef0", TENANT, vpc.vpc_id, subnet.subnet_id, "eu-fr-1a", "10.9.1.4",
        "02:00:00:00:00:07", "", T0, interface_type="nat_gateway",
    )  # fmt: skip
    nat = NatGateway(
        "nat-0123456789abcdef0", TENANT, vpc.vpc_id, subnet.subnet_id,
        allocation_id=address.allocation_id, association_id="eipassoc-0123456789abcdef0",
        public_ip=address.public_ip, network_interface_id=interface.interface_id,
        private_ip=interface.private_ip, create_time=T0, tags=(("Name", "a"),),
        client_token="tf-1", request_digest="d",
    )  # fmt: skip
    associated = replace(
        address,
        association_id=nat.association_id,
        network_interface_id=interface.interface_id,
        private_ip=interface.private_ip,
        nat_gateway_id=nat.nat_gateway_id,
    )
    assert await store.change(subnet, insert=[nat, interface], replace=[associated])
    assert await store.get(NatGateway, nat.nat_gateway_id) == nat
    read_interface = await store.get(NetworkInterface, interface.interface_id)
    assert read_interface == interface
    read_address = await store.get(ElasticAddress, address.allocation_id)
    assert read_address is not None and read_address.nat_gateway_id == nat.nat_gateway_id
    assert read_address.reference is None  # no instance holds it
    # Another gateway on the same address of the subnet: refused whole.
    fresh_subnet = await store.get(Subnet, subnet.subnet_id)
    assert fresh_subnet is not None
    clash = replace(interface, interface_id="eni-0123456789abcdef1", mac="02:00:00:00:00:08")
    second = replace(nat, nat_gateway_id="nat-0123456789abcdef1")
    with pytest.raises(Duplicate):
        await store.change(fresh_subnet, insert=[second, clash])
    assert await store.get(NatGateway, second.nat_gateway_id) is None
    # Deleted: the gateway stays (deleted), the address is let go of, the interface goes.
    deleted = replace(nat, state=NatGatewayState.DELETED, delete_time=T0)
    assert await store.change(
        deleted,
        replace=[replace(read_address, association_id=None, network_interface_id=None,
                         private_ip=None, nat_gateway_id=None)],
        delete=[(NetworkInterface, interface.interface_id)],
    )  # fmt: skip
    [listed] = await store.list(NatGateway, TENANT)
    assert (listed.state, listed.delete_time, listed.revision) == (NatGatewayState.DELETED, T0, 1)
    assert await store.get(NetworkInterface, interface.interface_id) is None
    assert await store.list(NatGateway, OTHER) == []


async def test_a_tenants_default_vpc_state_is_deleted_with_its_vpc_in_one_write(
    store: ComputeStore,
) -> None:
    """What DeleteVpc of a default VPC and CreateDefaultVpc rely on (decision 0137): the
    tenant's record, keyed by its id, is written with the VPC in one insert (a second insert
    of it is a Duplicate, as when two first needs race), changed in the same write as the
    VPC's deletion, and made to name a new VPC only at the revision it was read at."""
    vpc = Vpc("vpc-0123456789abcdef0", TENANT, "172.31.0.0/16", is_default=True)
    state = DefaultVpcState(TENANT, vpc.vpc_id, "subnet-0123456789abcdef0", "sg-0123456789abcdef0")
    await store.insert(vpc, state)
    assert await store.get(DefaultVpcState, TENANT) == state
    assert await store.get(DefaultVpcState, OTHER) is None
    assert await store.list(DefaultVpcState, TENANT) == [state]
    with pytest.raises(Duplicate):
        await store.insert(replace(vpc, vpc_id="vpc-0123456789abcdef1"), state)
    assert await store.get(Vpc, "vpc-0123456789abcdef1") is None
    # Deleted: the VPC goes and the record says none, at once.
    none = replace(state, vpc_id=None, subnet_id=None, group_id=None)
    assert await store.change(vpc, delete=[(Vpc, vpc.vpc_id)], replace=[none])
    assert await store.get(Vpc, vpc.vpc_id) is None
    read = await store.get(DefaultVpcState, TENANT)
    assert read == replace(none, revision=1)
    # Made again: at the revision read, once.
    again = replace(vpc, vpc_id="vpc-0123456789abcdef2")
    assert read is not None
    made = replace(read, vpc_id=again.vpc_id)
    assert await store.change(made, insert=[again])
    assert not await store.change(made, insert=[replace(again, vpc_id="vpc-0123456789abcdef3")])
    assert await store.get(Vpc, "vpc-0123456789abcdef3") is None
    assert await store.get(DefaultVpcState, TENANT) == replace(made, revision=2)


async def test_a_tenants_metadata_defaults_and_instance_options_round_trip(
    store: ComputeStore,
) -> None:
    """Decision 0145: the account's metadata defaults, one record keyed by the tenant (a
    second insert is a Duplicate, as when two gateways set them first at once), changed at
    the revision read; an instance's protection, shutdown behaviour and metadata options
    come back as written."""
    defaults = MetadataDefaults(TENANT, http_tokens="optional", hop_limit=3)
    await store.insert(defaults)
    assert await store.get(MetadataDefaults, TENANT) == defaults
    assert await store.get(MetadataDefaults, OTHER) is None
    with pytest.raises(Duplicate):
        await store.insert(replace(defaults, http_tokens="required"))
    cleared = replace(defaults, hop_limit=None)
    assert await store.replace(cleared)
    assert not await store.replace(cleared)
    assert await store.get(MetadataDefaults, TENANT) == replace(cleared, revision=1)
    guarded = replace(
        instance(9),
        disable_api_termination=True,
        disable_api_stop=True,
        shutdown_behavior="terminate",
        metadata_options=MetadataOptions(http_tokens="optional", hop_limit=2),
        cpu_options=CpuOptions(core_count=1, threads_per_core=2),  # decision 0214
    )
    await store.insert(guarded)
    assert await store.get(Instance, guarded.instance_id) == guarded


async def test_a_vpc_peering_connection_is_asked_on_its_vpc_and_moved_at_its_revision(
    store: ComputeStore,
) -> None:
    """What the peering calls rely on (decision 0139): a request is inserted with its
    requester VPC's revision moved (serialised on it), its state moves at the revision it was
    read at (an accept and a delete at once: one wins), a route to it round-trips, and the
    record — the requester's — is listed by its tenant and among every tenant's (the accepter
    finds it there)."""
    vpc = Vpc("vpc-0123456789abcdef0", TENANT, "10.1.0.0/16", is_default=False)
    await store.insert(vpc)
    peering = VpcPeeringConnection(
        "pcx-0123456789abcdef0", TENANT, requester_vpc_id=vpc.vpc_id, requester_cidr=vpc.cidr,
        accepter_tenant_id=OTHER, accepter_vpc_id="vpc-0123456789abcdef1",
        accepter_cidr="10.2.0.0/16", region="eu-fr-1", create_time=T0,
        state_message="Pending Acceptance by 222222222222", state_time=T0,
        tags=(("Name", "é"),),
    )  # fmt: skip
    assert await store.change(vpc, insert=[peering])
    assert await store.get(VpcPeeringConnection, peering.peering_id) == peering
    moved = await store.get(Vpc, vpc.vpc_id)
    assert moved is not None and moved.revision == 1
    # A stale VPC: nothing written.
    second = replace(peering, peering_id="pcx-0123456789abcdef1")
    assert not await store.change(vpc, insert=[second])
    assert await store.get(VpcPeeringConnection, second.peering_id) is None
    active = replace(peering, state=PeeringState.ACTIVE, state_message="Active")
    assert await store.replace(active)
    deleted = replace(peering, state=PeeringState.DELETED)  # read before the accept
    assert not await store.replace(deleted)
    [listed] = await store.list(VpcPeeringConnection, TENANT)
    assert (listed.state, listed.revision) == (PeeringState.ACTIVE, 1)
    assert await store.list(VpcPeeringConnection, OTHER) == []
    assert [p.peering_id for p in await store.list(VpcPeeringConnection, None)] == [
        peering.peering_id
    ]
    table = main_route_table(moved)
    routed = replace(
        table,
        routes=(
            *table.routes,
            Route("10.2.0.0/16", "", vpc_peering_connection_id=peering.peering_id),
        ),
    )
    await store.insert(routed)
    read_table = await store.get(RouteTable, routed.route_table_id)
    assert read_table == routed
    assert read_table.routes[-1].target == peering.peering_id


async def test_a_managed_prefix_list_and_a_rule_referencing_it_round_trip(
    store: ComputeStore,
) -> None:
    """Decision 0149: a prefix list with its current entries and kept versions, changed at the
    revision read, deleted at it; a security group rule naming it keeps the reference."""
    plist = ManagedPrefixList(
        "pl-0123456789abcdef0", TENANT, "office", "IPv4", 5, 2,
        (PrefixListEntry("192.0.2.0/24", "paris"), PrefixListEntry("198.51.100.0/24")),
        state=PrefixListState.MODIFY_COMPLETE,
        history=(PrefixListVersion(1, (PrefixListEntry("192.0.2.0/24", "paris"),)),),
        tags=(("team", "net"),), client_token="tok", request_digest="abc",
    )  # fmt: skip
    await store.insert(plist)
    assert await store.get(ManagedPrefixList, plist.prefix_list_id) == plist
    assert await store.list(ManagedPrefixList, TENANT) == [plist]
    assert await store.list(ManagedPrefixList, OTHER) == []
    renamed = replace(plist, name="offices")
    assert await store.replace(renamed)
    assert not await store.replace(renamed)
    group = SecurityGroup(
        "sg-0123456789abcdef9", TENANT, "web", "web",
        ingress=(Rule("tcp", 443, 443, "", prefix_list_id=plist.prefix_list_id),),
    )  # fmt: skip
    await store.insert(group)
    [rule] = (await store.get(SecurityGroup, group.group_id) or group).ingress
    assert rule.prefix_list_id == plist.prefix_list_id and rule.rule_id.startswith("sgr-")
    assert not await store.change(plist, delete=[(ManagedPrefixList, plist.prefix_list_id)])
    read = await store.get(ManagedPrefixList, plist.prefix_list_id)
    assert read == replace(renamed, revision=1)
    assert await store.change(read, delete=[(ManagedPrefixList, plist.prefix_list_id)])
    assert await store.get(ManagedPrefixList, plist.prefix_list_id) is None


async def test_a_route_to_a_prefix_list_round_trips_written_with_the_list(
    store: ComputeStore,
) -> None:
    """Decision 0149's addendum: a route whose destination is a prefix list keeps it; a table
    written together with the list moves the list's revision, so a deletion of the list
    checked before the route was written fails."""
    plist = ManagedPrefixList(
        "pl-0123456789abcdef1", TENANT, "office", "IPv4", 5, 1,
        (PrefixListEntry("192.0.2.0/24"),),
    )  # fmt: skip
    vpc = Vpc("vpc-0123456789abcdef1", TENANT, "10.3.0.0/16", is_default=False)
    table = main_route_table(vpc)
    await store.insert(plist, table)
    routed = replace(
        table,
        routes=(
            *table.routes,
            Route("", "igw-0123456789abcdef1", destination_prefix_list_id=plist.prefix_list_id),
        ),
    )
    assert await store.change(routed, replace=[plist])
    read = await store.get(RouteTable, table.route_table_id)
    assert read is not None and read.routes == routed.routes
    assert read.route_to(plist.prefix_list_id) == routed.routes[-1]
    assert read.routes[-1].target == "igw-0123456789abcdef1"
    assert not await store.change(plist, delete=[(ManagedPrefixList, plist.prefix_list_id)])
    assert await store.get(ManagedPrefixList, plist.prefix_list_id) is not None


async def test_a_flow_log_round_trips(store: ComputeStore) -> None:
    """Decision 0153: a flow log with its destination, format, options (Parquet files, 0170)
    and delivery status, changed at the revision read, deleted."""
    from datetime import UTC, datetime

    from andromede.compute.flow_log import (
        DEFAULT_FORMAT,
        DeliverStatus,
        Destination,
        FlowLog,
        ResourceType,
        TrafficType,
    )

    flow_log = FlowLog(
        "fl-0123456789abcdef0", TENANT, ResourceType.SUBNET, "subnet-0123456789abcdef0",
        TrafficType.REJECT, Destination("logs", "net/"), DEFAULT_FORMAT, 60,
        datetime(2026, 12, 5, 10, 0, tzinfo=UTC), hive_compatible_partitions=True,
        file_format="parquet", tags=(("team", "net"),), client_token="tok",
        request_digest="abc",
    )  # fmt: skip
    await store.insert(flow_log)
    assert await store.get(FlowLog, flow_log.flow_log_id) == flow_log
    assert await store.list(FlowLog, TENANT) == [flow_log]
    assert await store.list(FlowLog, OTHER) == []
    failed = replace(flow_log, deliver_status=DeliverStatus.FAILED, deliver_error="Access error")
    assert await store.replace(failed)
    assert not await store.replace(failed)
    assert await store.get(FlowLog, flow_log.flow_log_id) == replace(failed, revision=1)
    await store.delete(FlowLog, flow_log.flow_log_id)
    assert await store.get(FlowLog, flow_log.flow_log_id) is None


async def test_a_vpc_endpoint_round_trips_with_its_routes(store: ComputeStore) -> None:
    """Decision 0160: an endpoint with its tables, policy and tags, inserted in the same change
    as the route it puts in its table (all or nothing at the revisions read), changed,
    deleted with its route."""
    from andromede.compute.vpc_endpoint import DEFAULT_POLICY, VpcEndpoint

    vpc = Vpc("vpc-0123456789abcdef3", TENANT, "10.3.0.0/16", False)
    table = main_route_table(vpc)
    await store.insert(vpc)
    await store.insert(table)
    endpoint = VpcEndpoint(
        "vpce-0123456789abcdef0", TENANT, vpc.vpc_id, "com.amazonaws.eu-fr-1.s3",
        "pl-0a1b2c3d", (table.route_table_id,), DEFAULT_POLICY,
        datetime(2026, 12, 5, 12, 0, tzinfo=UTC), tags=(("team", "data"),),
        client_token="tok", request_digest="abc",
    )  # fmt: skip
    route = Route("", endpoint.vpc_endpoint_id, destination_prefix_list_id="pl-0a1b2c3d")
    routed = replace(table, routes=(*table.routes, route))
    stale = replace(table, revision=table.revision + 5)
    assert not await store.change(vpc, insert=[endpoint], replace=[stale])
    assert await store.get(VpcEndpoint, endpoint.vpc_endpoint_id) is None
    assert await store.change(vpc, insert=[endpoint], replace=[routed])
    assert await store.get(VpcEndpoint, endpoint.vpc_endpoint_id) == endpoint
    assert await store.list(VpcEndpoint, TENANT) == [endpoint]
    assert await store.list(VpcEndpoint, OTHER) == []
    stored = await store.get(RouteTable, table.route_table_id)
    assert stored is not None and stored.route_to("pl-0a1b2c3d") == route
    narrowed = replace(endpoint, policy_document='{"Statement": []}')
    assert await store.replace(narrowed)
    assert not await store.replace(narrowed)
    current = await store.get(VpcEndpoint, endpoint.vpc_endpoint_id)
    assert current == replace(narrowed, revision=1)
    assert await store.change(
        current,
        delete=[(VpcEndpoint, endpoint.vpc_endpoint_id)],
        replace=[replace(stored, routes=table.routes)],
    )
    assert await store.get(VpcEndpoint, endpoint.vpc_endpoint_id) is None
    stored = await store.get(RouteTable, table.route_table_id)
    assert stored is not None and stored.route_to("pl-0a1b2c3d") is None


async def test_an_interface_endpoint_round_trips_with_its_interface(store: ComputeStore) -> None:
    """Decision 0166: an Interface endpoint's subnets, interfaces, groups and private DNS round
    trip; it and its requester-managed interface are written and deleted together."""
    from andromede.compute.vpc_endpoint import DEFAULT_POLICY, VpcEndpoint

    vpc = Vpc("vpc-0123456789abcdef4", TENANT, "10.4.0.0/16", False)
    await store.insert(vpc)
    eni = replace(
        interface(9, "10.4.1.200", "02:00:00:00:00:09"), instance_id="",
        interface_type="vpc_endpoint", group_ids=("sg-0123456789abcdef0",),
        description="VPC Endpoint Interface vpce-1",
    )  # fmt: skip
    endpoint = VpcEndpoint(
        "vpce-0123456789abcdef1", TENANT, vpc.vpc_id, "com.amazonaws.eu-fr-1.s3", "", (),
        DEFAULT_POLICY, T0, endpoint_type="Interface", subnet_ids=(eni.subnet_id,),
        network_interface_ids=(eni.interface_id,), group_ids=eni.group_ids,
        private_dns_enabled=True,
    )  # fmt: skip
    assert await store.change(vpc, insert=[endpoint, eni])
    assert await store.get(VpcEndpoint, endpoint.vpc_endpoint_id) == endpoint
    assert await store.get(NetworkInterface, eni.interface_id) == eni
    assert await store.change(
        endpoint,
        delete=[(VpcEndpoint, endpoint.vpc_endpoint_id), (NetworkInterface, eni.interface_id)],
    )
    assert await store.get(NetworkInterface, eni.interface_id) is None


async def test_an_attached_interface_and_its_secondary_addresses_are_held_once(
    store: ComputeStore,
) -> None:
    """Decision 0161: an interface's attachment and attributes round trip; a secondary address
    is held by one interface of a subnet, whichever gateway assigns it, and goes with it."""
    made = replace(
        interface(1, "172.31.0.4", "02:00:00:00:00:01"),
        instance_id="",
        description="appliance",
        group_ids=("sg-0123456789abcdef0",),
        source_dest_check=False,
        secondary_ips=("172.31.0.9",),
        request_digest="d" * 64,
    )
    held = PrivateAddress(
        private_address_id(made.subnet_id, "172.31.0.9"),
        TENANT,
        made.subnet_id,
        "172.31.0.9",
        made.interface_id,
    )
    await store.insert(made, held)
    assert await store.get(NetworkInterface, made.interface_id) == made
    assert await store.get(PrivateAddress, held.address_id) == held
    attached = replace(
        made,
        instance_id="i-00000000000000001",
        attachment_id="eni-attach-0123456789abcdef0",
        device_index=1,
        delete_on_termination=False,
        attached_at=T0,
    )
    assert await store.replace(attached)
    stored = await store.get(NetworkInterface, made.interface_id)
    assert stored == replace(attached, revision=1)
    assert stored.attachment == "eni-attach-0123456789abcdef0"
    # Another interface taking the same secondary address loses, whole.
    other = interface(2, "172.31.0.5", "02:00:00:00:00:02")
    with pytest.raises(Duplicate):
        await store.insert(other, replace(held, interface_id=other.interface_id))
    assert await store.get(NetworkInterface, other.interface_id) is None
    await store.insert(other)
    with pytest.raises(Duplicate):
        await store.change(
            replace(other, secondary_ips=("172.31.0.9",)),
            insert=[replace(held, interface_id=other.interface_id)],
        )
    assert (await store.get(NetworkInterface, other.interface_id)) == other
    # Deleted with its interface in one change, the address may be held again.
    assert await store.change(
        stored,
        delete=[(NetworkInterface, made.interface_id), (PrivateAddress, held.address_id)],
    )
    assert await store.list(PrivateAddress, TENANT) == []
    await store.insert(replace(held, interface_id=other.interface_id))


async def test_a_route_to_an_interface_and_an_interfaces_elastic_ip_round_trip(
    store: ComputeStore,
) -> None:
    """Decision 0161's addendum: a route keeps the interface it leads to; an interface keeps
    its Elastic IP's association."""
    vpc = Vpc("vpc-0123456789abcdef2", TENANT, "10.4.0.0/16", is_default=False)
    table = main_route_table(vpc)
    await store.insert(table)
    routed = replace(
        table,
        routes=(
            *table.routes,
            Route("192.168.50.0/24", "", network_interface_id="eni-0123456789abcdef2"),
        ),
    )
    assert await store.replace(routed)
    stored = await store.get(RouteTable, table.route_table_id)
    assert stored is not None and stored.routes == routed.routes
    assert stored.routes[-1].target == "eni-0123456789abcdef2"
    held = replace(
        interface(3, "172.31.0.6", "02:00:00:00:00:03"),
        instance_id="",
        elastic_ip=ElasticIpRef(
            "eipalloc-0123456789abcdef0", "eipassoc-0123456789abcdef0", "100.66.0.9"
        ),
    )
    await store.insert(held)
    assert await store.get(NetworkInterface, held.interface_id) == held


async def test_spot_requests_and_prices_round_trip(store: ComputeStore) -> None:
    """Decision 0202: a Spot Instance request inserted with its instance (RunInstances'
    transaction), its status and the instance's interruption changed together at their
    revisions; the price history listed in zone, type and time order, no tenant's."""
    from decimal import Decimal

    from andromede.compute.launch_request import RunRequest
    from andromede.compute.model import SpotInterruption, SpotOptions
    from andromede.compute.spot import SpotInstanceRequest, SpotPrice, SpotRequestState

    at = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    instance = Instance(
        "i-0123456789abcdef9", TENANT, "r-0123456789abcdef9", "ami-0123456789abcdef0",
        "t3.nano", InstanceState.RUNNING, "host-a", at, "vol-0123456789abcdef9", "eu-fr-1a",
        vcpus=2, memory_mib=512, lifecycle="spot", spot_request_id="sir-0a1b2c3d",
    )  # fmt: skip
    options = SpotOptions(Decimal("0.050000"), "persistent", "stop", at.replace(year=2027))
    request = SpotInstanceRequest(
        "sir-0a1b2c3d", TENANT, options,
        RunRequest("ami-0123456789abcdef0", "t3.nano", security_group_ids=("sg-1",)),
        SpotRequestState.ACTIVE, "fulfilled", at, at, instance_id=instance.instance_id,
        tags=(("team", "batch"),),
    )  # fmt: skip
    await store.insert(instance, request)
    assert await store.get(SpotInstanceRequest, request.spot_instance_request_id) == request
    assert await store.list(SpotInstanceRequest, TENANT) == [request]
    assert await store.list(SpotInstanceRequest, OTHER) == []
    marked = replace(instance, spot_interruption=SpotInterruption("stop", at, "capacity"))
    noticed = replace(request, status_code="marked-for-stop")
    stale = replace(noticed, revision=3)
    assert not await store.change(marked, replace=[stale])
    assert await store.change(marked, replace=[noticed])
    assert await store.get(Instance, instance.instance_id) == replace(marked, revision=1)
    assert await store.get(SpotInstanceRequest, request.spot_instance_request_id) == replace(
        noticed, revision=1
    )
    later = SpotPrice("eu-fr-1a", "t3.nano", Decimal("0.004000"), at.replace(hour=13))
    earlier = SpotPrice("eu-fr-1a", "t3.nano", Decimal("0.003000"), at)
    micro = SpotPrice("eu-fr-1a", "t3.micro", Decimal("0.006000"), at)
    await store.insert(later)
    await store.insert(earlier, micro)
    with pytest.raises(Duplicate):
        await store.insert(earlier)
    assert await store.list(SpotPrice, None) == [micro, earlier, later]
    await store.delete(SpotPrice, earlier.resource_id)
    assert await store.list(SpotPrice, None) == [micro, later]
