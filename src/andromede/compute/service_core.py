"""What the parts of the compute service share (:class:`ServiceCore`), and the ports the
composition root provides.

Two ports come from the composition root: :class:`DiskKeys` (a data key per volume, wrapped
under the tenant's key by the key service; compute stores only the wrapped form) and
:class:`ImageSource` (an object of one of the tenant's buckets, read as the caller).
:class:`~andromede.compute.service.ComputeService`, the context's one public entry, is this
core with the mixins of volumes, images, key pairs and security groups, and tags."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from andromede.compute.driver import HostCapacity, HypervisorDriver
from andromede.compute.errors import (
    ComputeError,
    HostUnreachable,
    HypervisorFailed,
    IdempotentParameterMismatch,
    IncorrectState,
    InvalidParameterValue,
    NotFound,
)
from andromede.compute.flow_log import FlowLog
from andromede.compute.images import ImageFiles
from andromede.compute.launch_template import LaunchTemplate
from andromede.compute.model import (
    Image,
    ImageState,
    Instance,
    InstanceType,
    Snapshot,
    Volume,
    check_id,
)
from andromede.compute.nat_gateway import NatGateway
from andromede.compute.network import NetworkInterface
from andromede.compute.network_acl import NetworkAcl
from andromede.compute.prefix_list import ManagedPrefixList
from andromede.compute.routing import RouteTable
from andromede.compute.store import ComputeStore, RecordT
from andromede.compute.vpc_endpoint import VpcEndpoint

__all__ = [
    "NAME_MAX",
    "ComputeLimits",
    "DiskKeys",
    "ImageSource",
    "ServiceCore",
    "TagEntry",
    "TransitionListener",
    "utc_now",
]

log = logging.getLogger(__name__)
_T = TypeVar("_T")
# The records a request with a client token makes once (their id derived from the account and
# the token), each keeping a digest of the request it came with.
_Tokened = TypeVar(
    "_Tokened",
    LaunchTemplate,
    RouteTable,
    NetworkAcl,
    NatGateway,
    ManagedPrefixList,
    FlowLog,
    VpcEndpoint,
    NetworkInterface,
)

NAME_MAX = 255  # names and descriptions, as EC2 limits them

# An instance's record before and after a state change, and when it changed.
TransitionListener = Callable[[Instance, Instance, datetime], Awaitable[None]]


class DiskKeys(Protocol):
    """Data keys of volumes and snapshots: wrapped under the tenant's key-encryption key, or,
    when the resource names a customer-managed KMS key (``kms_key_arn``), under that key and
    bound to the resource's id (EBS's encryption context ``aws:ebs:id``), so that disabling
    the KMS key stops every attach and boot, and deleting it shreds the volume."""

    async def customer_key(
        self,
        caller: object,
        tenant_id: str,
        key_ref: str,
        resource_id: str,
        *,
        action: str = "kms:GenerateDataKeyWithoutPlaintext",
    ) -> str:
        """The ARN of the KMS key ``key_ref`` names (id, ARN, alias name or ARN), once
        ``caller`` (the wire layer's principal) is allowed ``action`` on it for
        ``resource_id`` — to encrypt it under the key by default, ``kms:Decrypt`` to read a
        snapshot it already wraps (CopySnapshot) — and it is usable. InvalidParameterValue
        (no such key, not a symmetric encryption key), KeyAccessDenied, KeyUnusable."""
        ...

    async def new_key(
        self, tenant_id: str, *, kms_key_arn: str | None = None, resource_id: str = ""
    ) -> tuple[bytes, bytes]:
        """A fresh key: (plaintext, wrapped). KeyUnusable."""
        ...

    async def open_key(self, owner: Volume | Snapshot) -> bytes:
        """The plaintext data key of a volume or snapshot. KeyUnusable."""
        ...


class ImageSource(Protocol):
    """An object of a tenant's bucket, read on behalf of ``caller`` (the app's principal; opaque
    here). Raises :class:`ImportFailed` when it cannot be read (missing, denied)."""

    def read(self, caller: object, bucket: str, key: str) -> AsyncIterator[bytes]: ...


@dataclass(frozen=True, slots=True)
class ComputeLimits:
    instance_types: tuple[InstanceType, ...]
    max_instances_per_tenant: int
    max_vcpus_per_tenant: int
    max_user_data_size: int
    stop_timeout: float
    region: str
    availability_zone: str
    max_image_size: int
    terminated_retention: float = 3600.0
    # Most volumes attached to one instance, its root volume included (EC2's Nitro limit is 28
    # attachments, interfaces included).
    max_volumes_per_instance: int = 24
    # The accounts one image may be shared with (ModifyImageAttribute launchPermission).
    max_image_launch_permissions: int = 1000
    # The host address of the port forwards that reach guests in user-mode networking.
    forward_address: str = "127.0.0.1"
    # EC2's quotas: launch templates per account (region), versions per template.
    max_launch_templates: int = 5000
    max_launch_template_versions: int = 10000
    # EC2's quotas: VPCs per account (region), the default VPC counted; subnets per VPC.
    max_vpcs: int = 5
    max_subnets_per_vpc: int = 200
    # EC2's quotas: route tables per VPC (the main one counted), routes per table (the local
    # one not counted). Internet gateways follow the VPC quota, as on EC2.
    max_route_tables_per_vpc: int = 200
    max_routes_per_route_table: int = 50
    # EC2's quotas: network ACLs per VPC (the default one counted), entries per ACL in each
    # direction (the ``*`` rule not counted: it is not stored).
    max_network_acls_per_vpc: int = 200
    max_network_acl_entries: int = 20
    # EC2's quota of NAT gateways per availability zone (decision 0129), and how long a
    # deleted one stays listed by DescribeNatGateways (EC2: about an hour).
    max_nat_gateways_per_az: int = 5
    nat_gateway_deleted_visible_seconds: float = 3600.0
    # EC2's quota of active VPC peering connections per VPC (decision 0139).
    max_vpc_peerings_per_vpc: int = 50
    # EC2's quota of DHCP options sets per account (Region), the default set counted.
    max_dhcp_options: int = 1000
    # Managed prefix lists (decision 0149): EC2's quota per account (Region), its ceiling of
    # MaxEntries, the earlier versions kept; and EC2's quota of rules per security group in
    # each direction, a prefix list's reference counting as its MaxEntries.
    max_prefix_lists: int = 100
    max_prefix_list_entries: int = 1000
    prefix_list_versions_kept: int = 100
    max_rules_per_security_group: int = 60
    # VPC flow logs per account (decision 0153).
    max_flow_logs: int = 100
    # VPC gateway endpoints per account, and the object store's addresses as guests see them
    # (the AWS-managed prefix list's blocks; decision 0160).
    max_vpc_endpoints: int = 20
    vpc_endpoint_s3_addresses: tuple[str, ...] = ()
    # Interface endpoints per VPC, and the names a VPC's resolver answers with an Interface
    # endpoint's addresses when its private DNS is on: s3_domain (and every name under it),
    # the region's public host (decision 0166).
    max_interface_endpoints_per_vpc: int = 8
    endpoint_private_dns_names: tuple[str, ...] = ()
    # Network interfaces per instance (the primary counted) and private addresses per
    # interface (its primary counted), decision 0161.
    max_interfaces_per_instance: int = 4
    max_private_ips_per_interface: int = 15
    # IPv6 (decision 0217): the operator's pool of /56 blocks ("" = none) and the most IPv6
    # addresses one interface may hold.
    ipv6_pool: str = ""
    max_ipv6_addresses_per_interface: int = 10
    # The hosts' own ranges (transit links, public addresses): no VPC may overlap them.
    reserved_cidrs: tuple[str, ...] = ()
    # The region's Elastic IPs (decision 0125): the block its network routes to the hosts
    # (empty: none to give), and EC2's quota of addresses per account (region).
    elastic_ip_cidr: str = ""
    max_elastic_ips: int = 5
    # The operator's domain of the instances' public DNS names (decision 0151): "" = none.
    public_dns_domain: str = ""
    # How long a gateway holds a CreateImage's background work before another may claim it.
    image_creation_lease: float = 60.0
    # Spot Instances (decision 0202): how often a Spot price may change, its least share of
    # the on-demand price, the interruption notice, EC2's quota of Spot Instance requests per
    # account (open, active or disabled), and how long the price history is kept.
    spot_price_interval: float = 300.0
    spot_price_floor_ratio: float = 0.3
    spot_interruption_notice: float = 120.0
    max_spot_requests_per_tenant: int = 20
    spot_price_history_days: int = 90


@dataclass(frozen=True, slots=True)
class TagEntry:
    resource_id: str
    resource_type: str
    key: str
    value: str


def utc_now() -> datetime:
    return datetime.now(UTC)


class ServiceCore:
    """What every part of the compute service shares: the store, the hosts' drivers, the disk
    keys, the limits, the image files and the background tasks."""

    def __init__(
        self,
        store: ComputeStore,
        drivers: Sequence[HypervisorDriver],
        disk_keys: DiskKeys,
        limits: ComputeLimits,
        images: ImageFiles,
        image_source: ImageSource | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.store = store
        self.drivers = {driver.host: driver for driver in drivers}
        self.disk_keys = disk_keys
        self.limits = limits
        self.images = images
        self.image_source = image_source
        self.clock = clock
        self._types = {t.name: t for t in limits.instance_types}
        self._placement = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        # host → its VXLAN endpoint as last reported (networks.py): a host that does not answer
        # once keeps its place in the other hosts' overlay peers.
        self._overlay_endpoints: dict[str, tuple[str, int]] = {}
        # Told of every recorded state change (before, after, when): metering's instance runs
        # (decision 0108). Set by the composition root; its failures are logged, never raised.
        self.on_transition: TransitionListener | None = None
        # This gateway's name in the leases of the work it holds (decision 0148): unique per
        # process and service, so that a restarted gateway does not take itself for the holder.
        self.worker_id = f"{socket.gethostname()}/{os.getpid()}/{secrets.token_hex(4)}"

    # -- shared helpers ----------------------------------------------------------------------

    def instance_type(self, name: str) -> InstanceType:
        found = self._types.get(name)
        if found is None:
            raise InvalidParameterValue(f"Invalid value '{name[:64]}' for InstanceType.")
        return found

    def instance_types(self, names: Sequence[str]) -> list[InstanceType]:
        if not names:
            return list(self.limits.instance_types)
        return [self.instance_type(name) for name in dict.fromkeys(names)]

    async def _owned(
        self, kind: type[RecordT], tenant_id: str, resource_id: str, prefix: str
    ) -> RecordT:
        """The tenant's record, or NotFound — also for another tenant's (never say it exists)."""
        check_id(resource_id, prefix)
        record = await self.store.get(kind, resource_id)
        if record is None or record.tenant_id != tenant_id:
            raise NotFound(prefix, resource_id)
        if isinstance(record, Image) and record.state is ImageState.DEREGISTERED:
            raise NotFound(prefix, resource_id)
        return record

    async def _made_with_token(
        self, kind: type[_Tokened], tenant_id: str, resource_id: str, digest: str
    ) -> _Tokened | None:
        """The tenant's record a request with the same client token made (``resource_id``
        derived from them), if any; EC2's IdempotentParameterMismatch when that request had
        other parameters (``digest`` differs)."""
        record = await self.store.get(kind, resource_id)
        if record is None or record.tenant_id != tenant_id:
            return None
        if record.request_digest != digest:
            raise IdempotentParameterMismatch(
                "The client token was already used for a request with other parameters"
            )
        return record

    async def _update(self, record: RecordT, **changes: Any) -> RecordT:
        """``record`` with ``changes``, written if nobody changed it since it was read;
        IncorrectState otherwise (the caller may retry with a fresh read)."""
        changed = replace(record, **changes)
        if not await self.store.replace(changed):
            raise IncorrectState(f"{record.resource_id} changed concurrently; retry")
        return replace(changed, revision=changed.revision + 1)

    async def _snapshot_record(self, snapshot_id: str) -> Snapshot:
        snapshot = await self.store.get(Snapshot, snapshot_id)
        if snapshot is None:
            raise NotFound("snap", snapshot_id)
        return snapshot

    async def _answering_capacities(self) -> list[HostCapacity]:
        """The capacity of every host that answers: an unreachable host takes no new
        instances, and does not keep the others from taking them."""
        # Asked together: a silent host costs one connect timeout, not one per host.
        hosts = list(self.drivers.items())
        answers = await asyncio.gather(
            *(driver.capacity() for _, driver in hosts), return_exceptions=True
        )
        capacities = []
        for (host, _), answer in zip(hosts, answers, strict=True):
            if isinstance(answer, HostUnreachable):
                log.warning("host %s does not answer; placing on the others: %s", host, answer)
            elif isinstance(answer, BaseException):
                raise answer
            else:
                capacities.append(answer)
        return capacities

    def _driver(self, host: str) -> HypervisorDriver:
        driver = self.drivers.get(host)
        if driver is None:
            raise ComputeError(f"host {host} is not driven by this gateway")
        return driver

    def _default_host(self) -> str:
        if not self.drivers:
            raise ComputeError("no hypervisor host is configured")
        return next(iter(self.drivers))

    async def _on_host(self, what: str, call: Awaitable[_T]) -> _T:
        """``call`` to a driver; a failure that is not compute's own becomes HypervisorFailed
        (logged here with its cause; the tenant sees what could not be done, not why)."""
        try:
            return await call
        except HostUnreachable as exc:
            # Its message names the host's address: logged, not told.
            log.warning("host call failed: %s: %s", what, exc)
            raise HypervisorFailed(
                f"The host could not {what}: it does not answer; try again later"
            ) from exc
        except ComputeError:
            raise
        except Exception as exc:
            log.warning("host call failed: %s", what, exc_info=exc)
            raise HypervisorFailed(f"The host could not {what}; try again later") from exc

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
