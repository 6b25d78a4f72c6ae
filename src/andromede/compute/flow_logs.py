"""VPC flow logs in the compute service (decision 0153): create, describe, delete; which
interfaces the hosts capture for them; their deliveries' status.

CreateFlowLogs makes one flow log per resource named. A resource that is not the tenant's,
or that already has a flow log of the same traffic type to the same destination, is an
*unsuccessful item* of the answer, as EC2's, not a failure of the call: the other resources
still get theirs. The destination bucket — or log group and role — is the platform's to check
when it delivers (``DeliverLogsStatus``), since buckets, groups and roles belong to other
contexts.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from andromede.compute.driver_network import (
    FlowCapture,
)
from andromede.compute.errors import (
    ComputeError,
    Duplicate,
    InvalidParameterValue,
    NetworkLimitExceeded,
    NotFound,
)
from andromede.compute.flow_log import (
    DeliverStatus,
    Destination,
    FlowLog,
    ResourceType,
    TrafficType,
    check_resources,
)
from andromede.compute.flow_log_files import FlowRecord, InterfaceContext
from andromede.compute.model import Instance
from andromede.compute.nat_gateway import NatGateway
from andromede.compute.network import NetworkInterface, Subnet, Vpc
from andromede.compute.nitro import built_on_nitro
from andromede.compute.prefix_list import ManagedPrefixList
from andromede.compute.resource_ids import (
    Tags,
    check_client_token,
    check_id,
    check_tags,
    new_id,
    request_digest,
    token_id,
)
from andromede.compute.routing import RouteTable, table_of_subnet
from andromede.compute.service_core import ServiceCore
from andromede.compute.traffic import (
    NAT_GATEWAY,
    GatewayBytes,
    TrafficCount,
    attribute,
    per_gateway,
)
from andromede.compute.vpc_endpoint import managed_prefix_list_id
from andromede.errors import AndromedeError

__all__ = [
    "CapturedInterface",
    "CollectedFlows",
    "FlowLogsMixin",
    "LogDeliveryStreams",
    "traffic_paths",
]

log = logging.getLogger(__name__)

_ATTEMPTS = 8
# EC2 takes at most this many resources in one CreateFlowLogs.
_MAX_RESOURCES = 1000


@dataclass(frozen=True, slots=True)
class CapturedInterface:
    """An interface some active flow log records, and what its records say of it."""

    interface_id: str
    tenant_id: str
    private_ip: str
    context: InterfaceContext
    flow_log_ids: tuple[str, ...]
    # Its subnet, and the host its instance runs on ("" when it runs nowhere).
    network_id: str = ""
    host: str = ""
    # A NAT gateway's (decision 0176): its Elastic IP. Every host is told; the one (or, without
    # an overlay, each) translating to it captures it.
    nat_address: str = ""
    # Its IPv6 addresses (decision 0368), captured with its IPv4 one.
    ipv6_addresses: tuple[str, ...] = ()


_PREFIX = {
    ResourceType.VPC: "vpc",
    ResourceType.SUBNET: "subnet",
    ResourceType.NETWORK_INTERFACE: "eni",
}


def _covers(flow_log: FlowLog, eni: NetworkInterface) -> bool:
    match flow_log.resource_type:
        case ResourceType.VPC:
            return eni.vpc_id == flow_log.target_id
        case ResourceType.SUBNET:
            return eni.subnet_id == flow_log.target_id
        case ResourceType.NETWORK_INTERFACE:
            return eni.interface_id == flow_log.target_id


def traffic_paths(
    table: RouteTable | None,
    endpoint_list: str,
    endpoint_blocks: Sequence[str],
    ipv6_blocks: Sequence[str] = (),
    *,
    nitro: bool = True,
    prefix_lists: Mapping[str, Sequence[str]] | None = None,
) -> tuple[tuple[str, int], ...]:
    """A subnet's routes as (block, EC2's ``traffic-path`` code) (decision 0348): the local
    route, a NAT gateway's and an interface's 1 (a resource of the VPC), a peering
    connection's 4 (the platform's peerings are within its region: never 5), an internet
    gateway's 8, a gateway endpoint's 7 for the object store's blocks (``endpoint_list``, the
    region's managed list). The IPv6 routes too (decision 0368): the VPC's IPv6 blocks
    (``ipv6_blocks``), each a ``local`` route every table has without storing it (decision
    0217), and the table's IPv6 routes. Decision 0387: an interface of an instance whose type
    EC2 builds on Xen (``nitro`` false) says 2 for both gateways, as EC2's records of those
    instances do; a route to a customer's prefix list is each of its blocks
    (``prefix_lists``, its id → its entries, as the router is given them) with its target's
    code — a list not found has none (``-``)."""
    internet, endpoint = (8, 7) if nitro else (2, 2)
    paths: list[tuple[str, int]] = [(block, 1) for block in ipv6_blocks]
    routes = (*table.routes, *table.ipv6_routes) if table is not None else ()
    for route in routes:
        if route.gateway_id.startswith("vpce-"):
            if route.destination_prefix_list_id == endpoint_list:
                paths += [(block, endpoint) for block in endpoint_blocks]
            continue
        if route.gateway_id == "local" or route.nat_gateway_id or route.network_interface_id:
            code = 1
        elif route.vpc_peering_connection_id:
            code = 4
        elif route.gateway_id.startswith("igw-"):
            code = internet
        else:
            continue
        if route.destination_prefix_list_id:
            blocks = (prefix_lists or {}).get(route.destination_prefix_list_id, ())
            paths += [(block, code) for block in blocks]
        else:
            paths.append((route.destination, code))
    return tuple(paths)


def _context(
    eni: NetworkInterface,
    instance_id: str,
    tables: Mapping[str, Sequence[RouteTable]],
    endpoint_list: str,
    endpoint_blocks: Sequence[str],
    ipv6_blocks: Mapping[str, Sequence[str]],
    *,
    nitro: bool = True,
    prefix_lists: Mapping[str, Sequence[str]] | None = None,
) -> InterfaceContext:
    table = table_of_subnet(eni.subnet_id, tables.get(eni.vpc_id, ()))
    paths = traffic_paths(
        table,
        endpoint_list,
        endpoint_blocks,
        ipv6_blocks.get(eni.vpc_id, ()),
        nitro=nitro,
        prefix_lists=prefix_lists,
    )
    services = tuple((block, "S3") for block in endpoint_blocks)
    return InterfaceContext(
        eni.vpc_id,
        eni.subnet_id,
        instance_id,
        eni.private_ip,
        paths,
        services,
        ipv6_addresses=eni.ipv6_addresses,
    )


@dataclass(frozen=True, slots=True)
class CollectedFlows:
    """One pass over the hosts: the interfaces captured, their records and skipped
    intervals, and the routers' meters."""

    captured: list[CapturedInterface]
    records: list[FlowRecord]
    skipped: dict[str, tuple[int, int]]
    traffic: list[TrafficCount]


class LogDeliveryStreams(Protocol):
    """Firehose as CreateFlowLogs reaches it (decision 0387): AWS tags a stream of the flow
    log's account ``LogDeliveryEnabled=true`` when the flow log is made, the tag its log
    delivery role may put into streams by."""

    async def enable_log_delivery(self, tenant_id: str, stream_arn: str) -> None:
        """Tag the stream; a stream that cannot be tagged (gone) is the delivery's to find."""
        ...


class FlowLogsMixin(ServiceCore):
    # Set by the composition root with the flow logs' Firehose destination (decision 0387).
    log_delivery_streams: LogDeliveryStreams | None = None

    async def create_flow_logs(
        self,
        tenant_id: str,
        resource_type: str | None,
        resource_ids: Sequence[str],
        traffic_type: TrafficType,
        destination: Destination,
        log_format: tuple[str, ...],
        max_aggregation_interval: int,
        *,
        hive_compatible_partitions: bool = False,
        per_hour_partition: bool = False,
        file_format: str = "plain-text",
        tags: Tags = (),
        client_token: str | None = None,
    ) -> tuple[list[FlowLog], list[tuple[str, ComputeError]]]:
        """One flow log per resource; the resources refused with their reasons."""
        kind = check_resources(resource_type, resource_ids)
        if len(resource_ids) > _MAX_RESOURCES:
            raise InvalidParameterValue(
                f"At most {_MAX_RESOURCES} resources can be named in one request"
            )
        check_tags(tags)
        if client_token is not None:
            check_client_token(client_token)
        prefix = _PREFIX[kind]
        asked = {
            "type": kind.value,
            "traffic": traffic_type.value,
            "destination": destination.identity,
            "format": log_format,
            "interval": max_aggregation_interval,
            "hive": hive_compatible_partitions,
            "hour": per_hour_partition,
            "tags": tags,
        }
        if file_format != "plain-text":  # the digests of earlier plain-text requests stay
            asked["file_format"] = file_format
        digest = request_digest(asked) if client_token is not None else ""
        made: list[FlowLog] = []
        refused: list[tuple[str, ComputeError]] = []
        async with self._placement:
            held = await self.store.list(FlowLog, tenant_id)
            for resource_id in dict.fromkeys(resource_ids):
                try:
                    check_id(resource_id, prefix)
                    owner = await self._owner_of(kind, resource_id)
                    if owner != tenant_id:
                        raise NotFound(prefix, resource_id)
                except ComputeError as exc:
                    refused.append((resource_id, exc))
                    continue
                flow_log_id = new_id("fl")
                if client_token is not None:
                    flow_log_id = token_id("fl", tenant_id, client_token, resource_id)
                    earlier = await self._made_with_token(FlowLog, tenant_id, flow_log_id, digest)
                    if earlier is not None:
                        made.append(earlier)
                        continue
                if any(
                    f.target_id == resource_id
                    and f.traffic_type is traffic_type
                    and f.destination == destination
                    for f in held
                ):
                    refused.append((resource_id, Duplicate("fl-config", resource_id)))
                    continue
                if len(held) >= self.limits.max_flow_logs:
                    raise NetworkLimitExceeded(
                        "fl", "The maximum number of flow logs has been reached."
                    )
                flow_log = FlowLog(
                    flow_log_id,
                    tenant_id,
                    kind,
                    resource_id,
                    traffic_type,
                    destination,
                    log_format,
                    max_aggregation_interval,
                    self.clock(),
                    hive_compatible_partitions=hive_compatible_partitions,
                    per_hour_partition=per_hour_partition,
                    file_format=file_format,
                    tags=tags,
                    client_token=client_token,
                    request_digest=digest,
                )
                await self.store.insert(flow_log)
                held.append(flow_log)
                made.append(flow_log)
        streams = self.log_delivery_streams
        if made and streams is not None and destination.stream_arn:
            if not destination.cross_account:  # the other account's role tags its stream
                await streams.enable_log_delivery(tenant_id, destination.stream_arn)
        return made, refused

    async def _owner_of(self, kind: ResourceType, resource_id: str) -> str | None:
        found: Vpc | Subnet | NetworkInterface | None
        match kind:
            case ResourceType.VPC:
                found = await self.store.get(Vpc, resource_id)
            case ResourceType.SUBNET:
                found = await self.store.get(Subnet, resource_id)
            case ResourceType.NETWORK_INTERFACE:
                found = await self.store.get(NetworkInterface, resource_id)
        return None if found is None else found.tenant_id

    async def describe_flow_logs(self, tenant_id: str, ids: Sequence[str]) -> list[FlowLog]:
        found = sorted(await self.store.list(FlowLog, tenant_id), key=lambda f: f.flow_log_id)
        if not ids:
            return found
        # DescribeFlowLogs names no error for an id it does not find: it lists what it has.
        wanted = set(ids)
        return [f for f in found if f.flow_log_id in wanted]

    async def delete_flow_logs(
        self, tenant_id: str, ids: Sequence[str]
    ) -> list[tuple[str, ComputeError]]:
        """Delete each flow log named; those not found are returned, not raised (EC2's
        unsuccessful items). The hosts stop capturing at their next poll."""
        refused: list[tuple[str, ComputeError]] = []
        for flow_log_id in dict.fromkeys(ids):
            try:
                flow_log = await self._owned(FlowLog, tenant_id, flow_log_id, "fl")
            except ComputeError as exc:
                refused.append((flow_log_id, exc))
                continue
            await self.store.delete(FlowLog, flow_log.flow_log_id)
        return refused

    async def active_flow_logs(self) -> list[FlowLog]:
        """Every tenant's flow logs (the delivery's view)."""
        return await self.store.list(FlowLog, None)

    async def captured_interfaces(self, flow_logs: Sequence[FlowLog]) -> list[CapturedInterface]:
        """The interfaces ``flow_logs`` record, each with the flow logs recording it: what the
        hosts are told to capture, nothing else."""
        by_tenant: dict[str, list[FlowLog]] = {}
        for flow_log in flow_logs:
            by_tenant.setdefault(flow_log.tenant_id, []).append(flow_log)
        captured: list[CapturedInterface] = []
        endpoint_list = managed_prefix_list_id(self.limits.region)
        for tenant_id, logs in sorted(by_tenant.items()):
            tables: dict[str, list[RouteTable]] = {}
            for table in await self.store.list(RouteTable, tenant_id):
                tables.setdefault(table.vpc_id, []).append(table)
            blocks = self.limits.vpc_endpoint_s3_addresses
            ipv6_blocks = {
                vpc.vpc_id: tuple(b.cidr for b in vpc.ipv6_blocks)
                for vpc in await self.store.list(Vpc, tenant_id)
            }

            gateways = {
                g.network_interface_id: g
                for g in await self.store.list(NatGateway, tenant_id)
                if g.available
            }
            lists = {
                p.prefix_list_id: p.cidrs
                for p in await self.store.list(ManagedPrefixList, tenant_id)
            }
            for eni in await self.store.list(NetworkInterface, tenant_id):
                covering = tuple(f.flow_log_id for f in logs if _covers(f, eni))
                if not covering:
                    continue
                if eni.interface_type == "nat_gateway":
                    gateway = gateways.get(eni.interface_id)
                    if gateway is not None:
                        captured.append(
                            CapturedInterface(
                                eni.interface_id,
                                tenant_id,
                                eni.private_ip,
                                _context(
                                    eni,
                                    "-",
                                    tables,
                                    endpoint_list,
                                    blocks,
                                    ipv6_blocks,
                                    prefix_lists=lists,
                                ),
                                covering,
                                network_id=eni.subnet_id,
                                nat_address=gateway.public_ip,
                            )
                        )
                    continue
                instance = (
                    await self.store.get(Instance, eni.instance_id) if eni.instance_id else None
                )
                # The platform EC2 builds the instance's type on (decision 0387); the
                # interfaces of no instance are the platform's own, Nitro's as EC2's are.
                nitro = instance is None or built_on_nitro(instance.instance_type)
                captured.append(
                    CapturedInterface(
                        eni.interface_id,
                        tenant_id,
                        eni.private_ip,
                        _context(
                            eni,
                            eni.instance_id or "-",
                            tables,
                            endpoint_list,
                            blocks,
                            ipv6_blocks,
                            nitro=nitro,
                            prefix_lists=lists,
                        ),
                        covering,
                        network_id=eni.subnet_id,
                        host=(instance.host or "") if instance is not None else "",
                        ipv6_addresses=eni.ipv6_addresses,
                    )
                )
        return captured

    async def collect_flows(self) -> CollectedFlows:
        """Tell every host which of its interfaces the flow logs capture (none: it stops) and
        gather what they counted since the previous call, their routers' meters with them
        (decision 0176). A host that does not answer is skipped for this interval (its counts
        wait for the next)."""
        captured = await self.captured_interfaces(await self.active_flow_logs())
        per_host: dict[str, list[FlowCapture]] = {host: [] for host in self.drivers}
        for interface in captured:
            capture = FlowCapture(
                interface.network_id,
                interface.private_ip,
                interface.interface_id,
                nat_address=interface.nat_address,
                ipv6_addresses=interface.ipv6_addresses,
            )
            if interface.nat_address:
                for captures in per_host.values():
                    captures.append(capture)
            elif interface.host in per_host:
                per_host[interface.host].append(capture)
        records: list[FlowRecord] = []
        skipped: dict[str, tuple[int, int]] = {}
        traffic: list[TrafficCount] = []
        for host, captures in sorted(per_host.items()):
            try:
                flows = await self.drivers[host].collect_flows(tuple(captures))
            except AndromedeError:
                log.warning("host %s did not report its flows", host, exc_info=True)
                continue
            records += flows.records
            skipped.update({s.interface_id: (s.start, s.end) for s in flows.skipped})
            traffic += flows.traffic
        return CollectedFlows(captured, records, skipped, traffic)

    async def metered_traffic(self, counts: Sequence[TrafficCount]) -> dict[tuple[str, str], int]:
        """The hosts' meters per (tenant, kind) (decision 0176): an address's bytes to the
        internet billed to the tenant of the interface holding it in the router's VPC, a NAT
        gateway's bytes to the gateway's."""
        if not counts:
            return {}
        addresses: dict[tuple[str, str], str] = {}
        for eni in await self.store.list(NetworkInterface, None):
            for address in (eni.private_ip, *eni.secondary_ips):
                for router in (eni.vpc_id, eni.subnet_id):
                    if router:
                        addresses[(router, address)] = eni.tenant_id
        gateways = {g.nat_gateway_id: g.tenant_id for g in await self.store.list(NatGateway, None)}
        return attribute(counts, addresses, gateways)

    async def gateway_traffic(
        self, counts: Sequence[TrafficCount]
    ) -> dict[tuple[str, str], GatewayBytes]:
        """Each NAT gateway's bytes of the hosts' counts, both ways, per (tenant, gateway id)
        (decision 0181: its ``AWS/NATGateway`` metrics)."""
        if not any(c.kind == NAT_GATEWAY for c in counts):
            return {}
        gateways = {g.nat_gateway_id: g.tenant_id for g in await self.store.list(NatGateway, None)}
        return per_gateway(counts, gateways)

    async def record_delivery(self, flow_log: FlowLog, error: str | None) -> None:
        """A delivery's outcome as the flow log's ``DeliverLogsStatus`` (written only when it
        changes, so a steady flow log costs no write per delivery)."""
        status = DeliverStatus.FAILED if error else DeliverStatus.SUCCESS
        if flow_log.deliver_status is status and flow_log.deliver_error == (error or ""):
            return
        for _ in range(_ATTEMPTS):
            current = await self.store.get(FlowLog, flow_log.flow_log_id)
            if current is None:
                return
            if await self.store.replace(
                replace(current, deliver_status=status, deliver_error=error or "")
            ):
                return
