"""The instance directory over compute: which running instance of this host a guest's
connection comes from, and what its guest may learn of it.

A connection to the metadata service arrives from the instance's host-facing address — its
host-only public address, or for an instance without one an address kept for this alone (its
tenant network SNATs the guest's packets to it, decisions 0015 and 0106). That address is unique
among the instances running on one host, not across hosts, and is reused after an instance
stops; so the directory answers only for an instance that the database records as running on
*this* host with that address, and that the host's driver confirms is wired with it right now. A
record not yet updated (an instance stopping, or one whose address was just given to another)
answers nobody rather than the wrong instance: its role's credentials must never reach another
guest.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

from andromede.compute.driver import HypervisorDriver
from andromede.compute.model import Instance, KeyPair
from andromede.compute.network import NetworkInterface, Subnet, Vpc, private_dns_name
from andromede.compute.public_dns import named_address, public_address, public_dns_suffix
from andromede.compute.store import ComputeStore
from andromede.imds.instances import InstanceMetadata, InterfaceMetadata, PublicKey

__all__ = ["ComputeInstanceDirectory", "instance_metadata"]

log = logging.getLogger(__name__)


class ComputeInstanceDirectory:
    """:class:`~andromede.imds.instances.InstanceDirectory` over the compute records and the
    host's driver (the one the metadata server runs beside)."""

    def __init__(
        self,
        store: ComputeStore,
        driver: HypervisorDriver,
        region: str,
        *,
        public_dns_domain: str = "",
    ) -> None:
        self._store = store
        self._driver = driver
        self._region = region
        # The suffix of the instances' public DNS names, "" for none (decision 0151).
        self._public_suffix = public_dns_suffix(region, public_dns_domain)

    async def by_address(self, address: str) -> InstanceMetadata | None:
        # Both lookups are indexed (decision 0021's limit): a request costs the same on a host
        # of ten instances as in a region of ten thousand.
        holders = await self._store.running_at_address(self._driver.host, address)
        if len(holders) != 1:
            if holders:
                log.warning(
                    "address %s is recorded for %d running instances", address, len(holders)
                )
            return None
        [instance] = holders
        wired = await self._driver.network(instance.instance_id)
        if wired is None or (wired.host_facing_ip or wired.public_ip) != address:
            return None
        keys = (
            await self._store.key_pairs_named(instance.tenant_id, instance.key_name)
            if instance.key_name is not None
            else []
        )
        public_hostname = None
        if self._public_suffix and instance.vpc_id is not None:
            vpc = await self._store.get(Vpc, instance.vpc_id)
            named = named_address(instance, vpc, self._public_suffix)
            public_hostname = named[0] if named is not None else None
        shown = instance_metadata(instance, keys, self._region, public_hostname=public_hostname)
        return replace(shown, interfaces=await self._interfaces(instance))

    async def _interfaces(self, instance: Instance) -> tuple[InterfaceMetadata, ...]:
        """The instance's interfaces (decision 0161), its primary first: the tenant's
        interfaces are read (indexed by tenant), with their subnets' and VPCs' blocks."""
        held = [
            i
            for i in await self._store.list(NetworkInterface, instance.tenant_id)
            if i.instance_id == instance.instance_id
        ]
        shown = []
        for interface in sorted(held, key=lambda i: (i.device_index, i.interface_id)):
            subnet = await self._store.get(Subnet, interface.subnet_id)
            vpc = await self._store.get(Vpc, interface.vpc_id)
            primary = interface.interface_id == instance.network_interface_id
            shown.append(
                InterfaceMetadata(
                    mac=interface.mac,
                    interface_id=interface.interface_id,
                    device_number=0 if primary else interface.device_index,
                    local_ipv4s=interface.addresses,
                    local_hostname=private_dns_name(interface.private_ip, self._region),
                    owner_id=interface.tenant_id,
                    security_group_ids=(
                        instance.security_group_ids if primary else interface.group_ids
                    ),
                    subnet_id=interface.subnet_id,
                    subnet_cidr=subnet.cidr if subnet is not None else "",
                    vpc_id=interface.vpc_id,
                    vpc_cidr=vpc.cidr if vpc is not None else "",
                    ipv6s=interface.ipv6_addresses,
                    subnet_ipv6_cidrs=subnet.ipv6_cidrs if subnet is not None else (),
                    vpc_ipv6_cidrs=(
                        tuple(b.cidr for b in vpc.ipv6_blocks) if vpc is not None else ()
                    ),
                )
            )
        return tuple(shown)


def instance_metadata(
    instance: Instance,
    key_pairs: Sequence[KeyPair],
    region: str,
    *,
    public_hostname: str | None = None,
) -> InstanceMetadata:
    """What the guest of ``instance`` reads about itself; ``public_hostname``: its public DNS
    name, as DescribeInstances gives it (decision 0151), None for none."""
    private_ip = instance.private_ip or ""
    hostname = private_dns_name(private_ip, region) if private_ip else instance.instance_id
    profile = instance.iam_instance_profile
    options = instance.metadata_options
    return InstanceMetadata(
        instance_id=instance.instance_id,
        account_id=instance.tenant_id,
        instance_type=instance.instance_type,
        image_id=instance.image_id,
        region=region,
        availability_zone=instance.availability_zone,
        private_ip=private_ip,
        mac=instance.mac or "",
        launched_at=instance.last_launch_time,
        local_hostname=hostname,
        # Its Elastic IP when it has one (EC2's public-ipv4 says so), else its own.
        public_ip=public_address(instance),
        public_hostname=public_hostname,
        public_keys=tuple(PublicKey(k.name, k.public_key) for k in key_pairs),
        user_data=instance.user_data or None,
        instance_profile=profile.arn if profile is not None else None,
        tokens_required=options.http_tokens == "required",
        endpoint_enabled=options.http_endpoint == "enabled",
        tags=instance.tags if options.instance_metadata_tags == "enabled" else None,
        put_response_hop_limit=options.hop_limit,
        spot_action=(
            (interruption.action, interruption.time)
            if (interruption := instance.spot_interruption) is not None
            else None
        ),
    )
