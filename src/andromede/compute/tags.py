"""Tags on every kind of resource: CreateTags, DeleteTags, DescribeTags."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from andromede.compute.dhcp_options import (
    DhcpOptions,
    default_dhcp_options,
    default_dhcp_options_id,
)
from andromede.compute.elastic_ip import ElasticAddress
from andromede.compute.errors import (
    Duplicate,
    IncorrectState,
    InvalidParameterValue,
    NotFound,
)
from andromede.compute.flow_log import FlowLog
from andromede.compute.launch_template import LaunchTemplate
from andromede.compute.model import (
    Image,
    ImportTask,
    Instance,
    InstanceState,
    KeyPair,
    SecurityGroup,
    Snapshot,
    Tags,
    Volume,
    check_id,
    check_tags,
    merge_tags,
    remove_tags,
)
from andromede.compute.nat_gateway import NatGateway
from andromede.compute.network import NetworkInterface, Subnet, Vpc, region_domain
from andromede.compute.network_acl import NetworkAcl
from andromede.compute.prefix_list import ManagedPrefixList
from andromede.compute.routing import InternetGateway, RouteTable
from andromede.compute.security_group_rules import rule_holder
from andromede.compute.service_core import ServiceCore, TagEntry
from andromede.compute.vpc_endpoint import VpcEndpoint
from andromede.compute.vpc_peering import VpcPeeringConnection

__all__ = ["RESOURCE_TYPES", "TagsMixin"]

_KINDS: dict[str, type[Any]] = {
    "i": Instance,
    "vol": Volume,
    "snap": Snapshot,
    "ami": Image,
    "sg": SecurityGroup,
    "key": KeyPair,
    "import-ami": ImportTask,
    "vpc": Vpc,
    "subnet": Subnet,
    "eni": NetworkInterface,
    "lt": LaunchTemplate,
    "igw": InternetGateway,
    "rtb": RouteTable,
    "eipalloc": ElasticAddress,
    "acl": NetworkAcl,
    "nat": NatGateway,
    "pcx": VpcPeeringConnection,
    "dopt": DhcpOptions,
    "pl": ManagedPrefixList,
    "fl": FlowLog,
    "vpce": VpcEndpoint,
}
RESOURCE_TYPES = {
    "i": "instance",
    "vol": "volume",
    "snap": "snapshot",
    "ami": "image",
    "sg": "security-group",
    "key": "key-pair",
    "import-ami": "import-image-task",
    "vpc": "vpc",
    "subnet": "subnet",
    "eni": "network-interface",
    "lt": "launch-template",
    "igw": "internet-gateway",
    "rtb": "route-table",
    "eipalloc": "elastic-ip",
    "acl": "network-acl",
    "nat": "natgateway",
    "pcx": "vpc-peering-connection",
    "dopt": "dhcp-options",
    "sgr": "security-group-rule",
    "pl": "prefix-list",
    "fl": "vpc-flow-log",
    "vpce": "vpc-endpoint",
}


# Every record but a launch template's versions, which carry no tags of their own.
Taggable = (
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
    | InternetGateway
    | RouteTable
    | ElasticAddress
    | NetworkAcl
    | NatGateway
    | VpcPeeringConnection
    | DhcpOptions
    | ManagedPrefixList
    | FlowLog
    | VpcEndpoint
)


def _prefix(resource_id: str) -> str:
    return "import-ami" if resource_id.startswith("import-ami-") else resource_id.split("-", 1)[0]


class TagsMixin(ServiceCore):
    # -- tags --------------------------------------------------------------------------------

    async def _taggable(self, tenant_id: str, resource_id: str) -> Taggable:
        prefix = _prefix(resource_id)
        kind = _KINDS.get(prefix)
        if kind is None:
            raise InvalidParameterValue(f'Invalid id: "{resource_id[:64]}"')
        if kind is VpcPeeringConnection:
            # Either side tags it, each its own tags (decision 0139).
            check_id(resource_id, prefix)
            peering = await self.store.get(VpcPeeringConnection, resource_id)
            if peering is None or not peering.involves(tenant_id):
                raise NotFound(prefix, resource_id)
            return peering
        if kind is DhcpOptions and resource_id == default_dhcp_options_id(tenant_id):
            # The account's default set exists before anything stored it (decision 0143).
            made = default_dhcp_options(tenant_id, region_domain(self.limits.region))
            try:
                await self.store.insert(made)
            except Duplicate:
                pass  # stored already
        record: Taggable = await self._owned(kind, tenant_id, resource_id, prefix)
        return record

    async def _retag(self, tenant_id: str, record: Taggable, tags: Tags) -> None:
        if isinstance(record, VpcPeeringConnection):
            await self._update(record, **{record.tags_field(tenant_id): tags})
        else:
            await self._update(record, tags=tags)

    @staticmethod
    def _own_tags(tenant_id: str, record: Taggable) -> Tags:
        if isinstance(record, VpcPeeringConnection):
            return record.seen_by(tenant_id).tags
        return record.tags

    async def _retag_rules(
        self, tenant_id: str, rule_ids: Sequence[str], retag: Callable[[Tags], Tags]
    ) -> None:
        """Tags on security group rules (decision 0146), kept in their group's record."""
        for rule_id in rule_ids:
            for _ in range(10):
                group = await rule_holder(self.store, tenant_id, rule_id)
                fields = {
                    name: tuple(
                        replace(r, tags=check_tags(retag(r.tags))) if r.rule_id == rule_id else r
                        for r in getattr(group, name)
                    )
                    for name in ("ingress", "egress")
                }
                try:
                    await self._update(group, **fields)
                    break
                except IncorrectState:
                    continue

    async def _split(
        self, tenant_id: str, resource_ids: Sequence[str]
    ) -> tuple[list[Taggable], list[str]]:
        """The records named, and the rules named (each checked to be the tenant's)."""
        records: list[Taggable] = []
        rules: list[str] = []
        for resource_id in dict.fromkeys(resource_ids):
            if resource_id.startswith("sgr-"):
                await rule_holder(self.store, tenant_id, resource_id)
                rules.append(resource_id)
            else:
                records.append(await self._taggable(tenant_id, resource_id))
        return records, rules

    async def create_tags(self, tenant_id: str, resource_ids: Sequence[str], tags: Tags) -> None:
        check_tags(tags)
        records, rules = await self._split(tenant_id, resource_ids)
        await self._retag_rules(tenant_id, rules, lambda own: merge_tags(own, tags))
        for record in records:
            for _ in range(10):
                try:
                    await self._retag(
                        tenant_id, record, merge_tags(self._own_tags(tenant_id, record), tags)
                    )
                    break
                except IncorrectState:
                    record = await self._taggable(tenant_id, record.resource_id)

    async def delete_tags(
        self, tenant_id: str, resource_ids: Sequence[str], keys: dict[str, str | None]
    ) -> None:
        records, rules = await self._split(tenant_id, resource_ids)
        await self._retag_rules(
            tenant_id, rules, lambda own: remove_tags(own, keys) if keys else ()
        )
        for record in records:
            for _ in range(10):
                try:
                    own = self._own_tags(tenant_id, record)
                    kept = remove_tags(own, keys) if keys else ()
                    await self._retag(tenant_id, record, kept)
                    break
                except IncorrectState:
                    record = await self._taggable(tenant_id, record.resource_id)

    async def describe_tags(self, tenant_id: str) -> list[TagEntry]:
        entries: list[TagEntry] = []
        for prefix, kind in _KINDS.items():
            for record in await self.store.list(kind, tenant_id):
                if record.tenant_id != tenant_id:
                    continue  # public images are the operator's
                if isinstance(record, Instance) and record.state is InstanceState.TERMINATED:
                    continue
                system = record.platform_tags if isinstance(record, Instance) else ()
                for key, value in (*record.tags, *system):
                    entries.append(TagEntry(record.resource_id, RESOURCE_TYPES[prefix], key, value))
                if isinstance(record, SecurityGroup):
                    for rule in (*record.ingress, *record.egress):
                        for key, value in rule.tags:
                            entries.append(
                                TagEntry(rule.rule_id, RESOURCE_TYPES["sgr"], key, value)
                            )
        # The accepter's own tags on another tenant's connections (decision 0139).
        for peering in await self.store.list(VpcPeeringConnection, None):
            if peering.accepter_tenant_id == tenant_id != peering.tenant_id:
                for key, value in peering.accepter_tags:
                    entries.append(TagEntry(peering.peering_id, RESOURCE_TYPES["pcx"], key, value))
        return entries
