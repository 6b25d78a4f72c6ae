"""The instance directory over compute, and the metadata service composed as the hypervisor
agent runs it: a guest's connection from its public address finds its own running instance on
this host (nothing else), and reads its addresses, key, user data and its instance profile's
credentials, which identity then accepts."""

from __future__ import annotations

import base64
import ipaddress
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC
from pathlib import Path
from uuid import uuid4

import httpx
import pytest

from andromede.app import identity_service, migrate, open_instance_metadata
from andromede.compute.driver_memory import MemoryDriver
from andromede.compute.images import ImageFiles
from andromede.compute.model import Instance, InstanceProfileRef, SpotOptions
from andromede.compute.network_interfaces import InterfaceRequest
from andromede.compute.service import ComputeService, RunRequest
from andromede.compute.store_memory import MemoryComputeStore
from andromede.compute.store_sql import SqlComputeStore
from andromede.db.database import open_database
from andromede.iam.model import PrincipalKind
from andromede.imds.directory import ComputeInstanceDirectory
from andromede.imds.tree import Directory, find, metadata_tree
from andromede.settings import Settings
from support.computekit import TENANT, MemoryDiskKeys, limits

TRUST_EC2 = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def compute_over(store: object, driver: MemoryDriver, tmp_path: Path) -> ComputeService:
    return ComputeService(
        store,  # type: ignore[arg-type]
        [driver],
        MemoryDiskKeys(),
        limits(),
        ImageFiles(tmp_path / "images", max_size=1024**3),
    )


async def launch(
    compute: ComputeService, tmp_path: Path, tenant: str = TENANT, **changes: object
) -> Instance:
    source = tmp_path / "disk.raw"
    source.write_bytes(b"\0" * 4096)
    image = await compute.import_image_file(source, name=f"debian-{uuid4()}", owner_id=None)
    request = replace(RunRequest(image.image_id, "t3.nano"), **changes)  # type: ignore[arg-type]
    [launched] = await compute.run_instances(tenant, request)
    await compute.settle()
    [instance] = await compute.describe_instances(tenant, [launched.instance_id])
    return instance


@pytest.fixture
def driver() -> MemoryDriver:
    return MemoryDriver("host-a")


@pytest.fixture
async def compute(tmp_path: Path, driver: MemoryDriver) -> AsyncIterator[ComputeService]:
    service = compute_over(MemoryComputeStore(), driver, tmp_path)
    yield service
    await service.close()


async def test_an_address_finds_its_running_instance_on_this_host(
    compute: ComputeService, driver: MemoryDriver, tmp_path: Path
) -> None:
    key_pair, _ = await compute.create_key_pair(TENANT, "deploy", "ed25519")
    profile = InstanceProfileRef(f"arn:aws:iam::{TENANT}:instance-profile/web", "AIPAWEB")
    user_data = base64.b64encode(b"#!/bin/sh\necho hi\n").decode()
    instance = await launch(
        compute,
        tmp_path,
        key_name="deploy",
        user_data_base64=user_data,
        iam_instance_profile=profile,
    )
    other = await launch(compute, tmp_path)
    assert instance.public_ip is not None and other.public_ip is not None
    directory = ComputeInstanceDirectory(compute.store, driver, "eu-fr-1")
    found = await directory.by_address(instance.public_ip)
    assert found is not None
    assert (found.instance_id, found.account_id) == (instance.instance_id, TENANT)
    assert found.private_ip == instance.private_ip == "172.31.0.4"
    assert found.local_hostname == "ip-172-31-0-4.eu-fr-1.compute.internal"
    assert (found.mac, found.public_ip) == (instance.mac, instance.public_ip)
    assert [(k.name, k.openssh_key) for k in found.public_keys] == [("deploy", key_pair.public_key)]
    assert found.user_data == b"#!/bin/sh\necho hi\n"
    assert found.instance_profile == profile.arn
    assert (found.availability_zone, found.region) == ("eu-fr-1a", "eu-fr-1")
    plain = await directory.by_address(other.public_ip)
    assert plain is not None and plain.instance_id == other.instance_id
    assert plain.user_data is None and plain.public_keys == () and plain.instance_profile is None
    assert await directory.by_address("100.65.9.9") is None
    assert await directory.by_address(instance.private_ip or "") is None
    # Another host's directory does not answer for this host's instances.
    elsewhere = ComputeInstanceDirectory(compute.store, MemoryDriver("host-b"), "eu-fr-1")
    assert await elsewhere.by_address(instance.public_ip) is None
    # Stopped: it has no address any more, and its old one answers nobody.
    await compute.stop_instances(TENANT, [instance.instance_id])
    await compute.settle()
    assert await directory.by_address(instance.public_ip) is None


async def test_the_host_must_confirm_the_address(
    compute: ComputeService, driver: MemoryDriver, tmp_path: Path
) -> None:
    instance = await launch(compute, tmp_path)
    assert instance.public_ip is not None
    directory = ComputeInstanceDirectory(compute.store, driver, "eu-fr-1")
    # The record says running with that address, but the host no longer runs it (its QEMU
    # vanished and reconciliation has not run yet): nobody is answered.
    driver.lose(instance.instance_id)
    assert await directory.by_address(instance.public_ip) is None


async def test_the_agent_s_metadata_service_serves_profile_credentials(
    tmp_path: Path, driver: MemoryDriver
) -> None:
    settings = Settings(data_dir=tmp_path / "data", region="eu-fr-1")
    url = await migrate(settings)
    db = open_database(url)
    try:
        identity = identity_service(settings, db)
        tenant = (await identity.create_tenant("acme")).tenant.id
        await identity.create_role(tenant, "web-role", TRUST_EC2)
        profile = await identity.create_instance_profile(tenant, "web")
        await identity.add_role_to_instance_profile(tenant, "web", "web-role")
        compute = compute_over(SqlComputeStore(db), driver, tmp_path)
        try:
            instance = await launch(
                compute,
                tmp_path,
                tenant,
                iam_instance_profile=InstanceProfileRef(profile.arn, profile.id),
            )
        finally:
            await compute.close()
        assert instance.public_ip is not None
        async with open_instance_metadata(settings, driver) as app:
            transport = httpx.ASGITransport(app=app, client=(instance.public_ip, 40000))
            async with httpx.AsyncClient(
                transport=transport, base_url="http://169.254.169.254"
            ) as guest:
                token = (
                    await guest.put(
                        "/latest/api/token",
                        headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"},
                    )
                ).text
                headers = {"X-aws-ec2-metadata-token": token}
                ip = await guest.get("/latest/meta-data/local-ipv4", headers=headers)
                assert ip.text == "172.31.0.4"
                roles = await guest.get(
                    "/latest/meta-data/iam/security-credentials/", headers=headers
                )
                assert roles.text == "web-role"
                answer = await guest.get(
                    "/latest/meta-data/iam/security-credentials/web-role", headers=headers
                )
                credentials = answer.json()
            stranger = httpx.ASGITransport(app=app, client=("100.65.200.1", 40000))
            async with httpx.AsyncClient(
                transport=stranger, base_url="http://169.254.169.254"
            ) as other:
                refused = await other.put(
                    "/latest/api/token", headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"}
                )
                assert refused.status_code == 403
        _, principal = await identity.resolve_access_key(
            credentials["AccessKeyId"], credentials["Token"]
        )
        assert principal.kind is PrincipalKind.ROLE_SESSION
        assert principal.arn == (
            f"arn:aws:sts::{tenant}:assumed-role/web-role/{instance.instance_id}"
        )
    finally:
        await db.close()


async def test_the_guest_reads_every_interface_by_its_mac(
    compute: ComputeService, driver: MemoryDriver, tmp_path: Path
) -> None:
    """``network/interfaces/macs/`` (decision 0161): the primary at device 0 with its
    secondary address, the interface attached at device 1 with its own groups."""
    instance = await launch(compute, tmp_path)
    assert instance.public_ip is not None and instance.network_interface_id is not None
    await compute.assign_private_ips(TENANT, instance.network_interface_id, [], 1)
    network = await compute.default_network(TENANT)
    assert network.subnet is not None
    made = await compute.create_network_interface(
        TENANT, InterfaceRequest(subnet_id=network.subnet.subnet_id, description="second")
    )
    await compute.attach_network_interface(TENANT, made.interface_id, instance.instance_id, 1)
    directory = ComputeInstanceDirectory(compute.store, driver, "eu-fr-1")
    found = await directory.by_address(instance.public_ip)
    assert found is not None
    tree = metadata_tree(found, None)
    macs = find(tree, "latest/meta-data/network/interfaces/macs/")
    assert isinstance(macs, Directory) and sorted(macs.entries) == sorted([instance.mac, made.mac])
    base = f"latest/meta-data/network/interfaces/macs/{made.mac}/"
    assert find(tree, base + "device-number") == b"1"
    assert find(tree, base + "interface-id") == made.interface_id.encode()
    assert find(tree, base + "local-ipv4s") == made.private_ip.encode()
    assert find(tree, base + "security-group-ids") == network.group.group_id.encode()
    assert find(tree, base + "subnet-ipv4-cidr-block") == b"172.31.0.0/20"
    primary = f"latest/meta-data/network/interfaces/macs/{instance.mac}/"
    assert find(tree, primary + "device-number") == b"0"
    assert find(tree, primary + "local-ipv4s") == b"172.31.0.4\n172.31.0.5"
    assert find(tree, primary + "vpc-ipv4-cidr-block") == b"172.31.0.0/16"


async def test_a_spot_instance_reads_its_interruption_notice(
    compute: ComputeService, driver: MemoryDriver, tmp_path: Path
) -> None:
    """``spot/instance-action`` (decision 0202): absent (404) until the notice, then the action
    and its time as EC2 gives them; ``termination-time`` for a termination."""
    instance = await launch(compute, tmp_path, spot=SpotOptions())
    assert instance.public_ip is not None and instance.lifecycle == "spot"
    directory = ComputeInstanceDirectory(compute.store, driver, "eu-fr-1")
    found = await directory.by_address(instance.public_ip)
    assert found is not None
    assert find(metadata_tree(found, None), "latest/meta-data/spot/instance-action") is None
    marked = await compute.interrupt_spot(instance.instance_id, "capacity")
    assert marked is not None and marked.spot_interruption is not None
    found = await directory.by_address(instance.public_ip)
    assert found is not None
    tree = metadata_tree(found, None)
    notice = find(tree, "latest/meta-data/spot/instance-action")
    assert isinstance(notice, bytes)
    when = marked.spot_interruption.time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert json.loads(notice) == {"action": "terminate", "time": when}
    assert find(tree, "latest/meta-data/spot/termination-time") == when.encode()


async def test_the_guest_reads_its_ipv6_addresses_and_blocks(
    driver: MemoryDriver, tmp_path: Path
) -> None:
    """Decision 0217: ``ipv6s``, ``subnet-ipv6-cidr-blocks`` and ``vpc-ipv6-cidr-blocks``
    under its MAC and ``ipv6`` at the top, as EC2's; none of them for an IPv4-only one."""
    compute = ComputeService(
        MemoryComputeStore(),
        [driver],
        MemoryDiskKeys(),
        limits(ipv6_pool="fd00:ab::/48"),
        ImageFiles(tmp_path / "images", max_size=1024**3),
    )
    vpc = await compute.create_vpc(TENANT, "10.7.0.0/16", ipv6=True)
    [block] = vpc.ipv6_blocks
    slash64 = block.cidr.replace("/56", "/64")
    subnet = await compute.create_subnet(TENANT, vpc.vpc_id, "10.7.1.0/24", ipv6_cidr=slash64)
    plain = await compute.create_subnet(TENANT, vpc.vpc_id, "10.7.2.0/24")
    six = await launch(
        compute, tmp_path, subnet_id=subnet.subnet_id, associate_public_ip=True,
        ipv6_address_count=1,
    )  # fmt: skip
    four = await launch(compute, tmp_path, subnet_id=plain.subnet_id, associate_public_ip=True)
    directory = ComputeInstanceDirectory(compute.store, driver, "eu-fr-1")
    assert six.public_ip is not None and four.public_ip is not None
    found = await directory.by_address(six.public_ip)
    assert found is not None
    tree = metadata_tree(found, None)
    base = f"latest/meta-data/network/interfaces/macs/{six.mac}/"
    address = find(tree, base + "ipv6s")
    assert isinstance(address, bytes)
    assert ipaddress.IPv6Address(address.decode()) in ipaddress.IPv6Network(slash64)
    assert find(tree, "latest/meta-data/ipv6") == address
    assert find(tree, base + "subnet-ipv6-cidr-blocks") == slash64.encode()
    assert find(tree, base + "vpc-ipv6-cidr-blocks") == block.cidr.encode()
    mac = find(tree, base)
    assert isinstance(mac, Directory)
    assert list(mac.entries) == sorted(mac.entries)  # listed in EC2's order
    found = await directory.by_address(four.public_ip)
    assert found is not None
    tree = metadata_tree(found, None)
    base = f"latest/meta-data/network/interfaces/macs/{four.mac}/"
    assert find(tree, base + "ipv6s") is None and find(tree, "latest/meta-data/ipv6") is None
    assert find(tree, base + "vpc-ipv6-cidr-blocks") == block.cidr.encode()
    await compute.close()
