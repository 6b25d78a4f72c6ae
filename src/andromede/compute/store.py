"""Persistence of the compute records: the :class:`ComputeStore` protocol.

One store for every kind of record (instances, volumes, snapshots, images, key pairs, security
groups, import tasks, launch templates and their versions, VPCs, subnets, interfaces and their
secondary private addresses, internet gateways, route tables, network ACLs, Elastic IPs, NAT
gateways, VPC peering connections, DHCP options sets, managed prefix lists, flow logs, VPC
endpoints, which VPC is a tenant's default, its instance metadata defaults, Spot Instance
requests and the Spot price history), addressed by the
record's class and id: the records share one shape (an id, an owning tenant, a revision, a
format version) and the service never needs a join.
Implementations: :class:`andromede.compute.store_memory.MemoryComputeStore` (tests) and
:class:`andromede.compute.store_sql.SqlComputeStore` (SQLite, PostgreSQL), held to one contract
suite (``tests/contract/test_compute_store.py``).

Writes are optimistic: :meth:`ComputeStore.replace` names the revision the new record was
computed from and returns False, changing nothing, when another writer got there first.
:meth:`ComputeStore.insert` writes all its records or none (RunInstances never half-creates).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

from andromede.compute.dhcp_options import DhcpOptions
from andromede.compute.elastic_ip import ElasticAddress
from andromede.compute.flow_log import FlowLog
from andromede.compute.ipv6 import Ipv6Address, Ipv6Block
from andromede.compute.launch_template import LaunchTemplate, LaunchTemplateVersion
from andromede.compute.metadata_defaults import MetadataDefaults
from andromede.compute.model import (
    Image,
    ImportTask,
    Instance,
    KeyPair,
    SecurityGroup,
    Snapshot,
    Volume,
)
from andromede.compute.nat_gateway import NatGateway
from andromede.compute.network import (
    DefaultVpcState,
    NetworkInterface,
    PrivateAddress,
    Subnet,
    Vpc,
)
from andromede.compute.network_acl import NetworkAcl
from andromede.compute.prefix_list import ManagedPrefixList
from andromede.compute.routing import InternetGateway, RouteTable
from andromede.compute.spot import SpotInstanceRequest, SpotPrice
from andromede.compute.vpc_endpoint import VpcEndpoint
from andromede.compute.vpc_peering import VpcPeeringConnection

__all__ = ["RECORD_TYPES", "ComputeStore", "Record", "RecordT"]

Record = (
    Instance
    | Volume
    | Snapshot
    | Image
    | KeyPair
    | SecurityGroup
    | ImportTask
    | Vpc
    | Subnet
    | NetworkInterface
    | LaunchTemplate
    | LaunchTemplateVersion
    | InternetGateway
    | RouteTable
    | ElasticAddress
    | NetworkAcl
    | NatGateway
    | VpcPeeringConnection
    | DhcpOptions
    | ManagedPrefixList
    | DefaultVpcState
    | MetadataDefaults
    | FlowLog
    | VpcEndpoint
    | PrivateAddress
    | Ipv6Block
    | Ipv6Address
    | SpotInstanceRequest
    | SpotPrice
)
RecordT = TypeVar("RecordT", bound=Record)

RECORD_TYPES: tuple[type[Record], ...] = (
    Instance,
    Volume,
    Snapshot,
    Image,
    KeyPair,
    SecurityGroup,
    ImportTask,
    Vpc,
    Subnet,
    NetworkInterface,
    LaunchTemplate,
    LaunchTemplateVersion,
    InternetGateway,
    RouteTable,
    ElasticAddress,
    NetworkAcl,
    NatGateway,
    VpcPeeringConnection,
    DhcpOptions,
    ManagedPrefixList,
    DefaultVpcState,
    MetadataDefaults,
    FlowLog,
    VpcEndpoint,
    PrivateAddress,
    SpotInstanceRequest,
    SpotPrice,
    Ipv6Block,
    Ipv6Address,
)


class ComputeStore(Protocol):
    async def insert(self, *records: Record) -> None:
        """Add new records, all or none; Duplicate if an id is taken, or — for network
        interfaces — if their (subnet, private address) or their MAC is, or — for launch
        templates — if the tenant has one of that name (``lt-name``), or — for Elastic IPs — if
        their public address is held (``address``)."""
        ...

    async def change(
        self,
        record: Record,
        *,
        insert: Sequence[Record] = (),
        delete: Sequence[tuple[type[Record], str]] = (),
        replace: Sequence[Record] = (),
    ) -> bool:
        """:meth:`replace` ``record`` and, in the same transaction, insert, delete and replace
        others (each of ``replace`` at the revision it was read at): all or nothing. False,
        changing nothing, when ``record``'s revision or one of ``replace``'s moved on;
        Duplicate when an id to insert is taken, or (kind ``address``) an interface's address
        or MAC, a subnet's VXLAN id, or an Elastic IP's address. ``record`` itself may be
        among those deleted (then only its revision is checked)."""
        ...

    async def launch_templates_named(self, tenant_id: str, name: str) -> Sequence[LaunchTemplate]:
        """The tenant's launch template called ``name`` (one, or none), indexed."""
        ...

    async def launch_template_versions(self, template_id: str) -> list[LaunchTemplateVersion]:
        """The versions of a launch template in number order, indexed."""
        ...

    async def get(self, kind: type[RecordT], resource_id: str) -> RecordT | None: ...

    async def list(self, kind: type[RecordT], tenant_id: str | None) -> list[RecordT]:
        """The tenant's records of ``kind`` in id order; with ``tenant_id`` None, every
        tenant's (the scheduler's and the reconciler's view). For images, public images
        (no owner) are listed with every tenant's own."""
        ...

    async def running_at_address(self, host: str, public_ip: str) -> Sequence[Instance]:
        """The instances recorded as running on ``host`` with ``public_ip`` as their host-facing
        address (their public one, or the one an instance without a public address keeps for the
        metadata service), in id order: one, or none; more only when records disagree, which the
        caller must not resolve by guessing. Indexed: the metadata service asks it at every request
        of every guest, whatever the number of instances."""
        ...

    async def key_pairs_named(self, tenant_id: str, name: str) -> Sequence[KeyPair]:
        """The tenant's key pairs called ``name`` in id order (one, or none), indexed."""
        ...

    async def replace(self, record: Record) -> bool:
        """Store ``record`` (whose ``revision`` is the one it was read at) with the revision
        incremented; False if the stored revision moved on or the record is gone."""
        ...

    async def delete(self, kind: type[Record], resource_id: str) -> None:
        """Idempotent."""
        ...
