"""Network Load Balancers' orchestration (decision 0191), the context's only public entry:
load balancers and their nodes in the VPC's subnets, listeners, tags and attributes. Target
groups, targets and their health are :mod:`andromede.loadbalancing.target_groups`' part of
the same service. Every change is a conditional write of one document, retried when another
writer got there first.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from andromede.loadbalancing.access_logs import LogBuckets, check_access_log_attributes
from andromede.loadbalancing.application import ALB_ATTRIBUTES
from andromede.loadbalancing.connection_logs import check_connection_log_attributes
from andromede.loadbalancing.core import NOT_FOUND, LbLimits, check_name, check_tags
from andromede.loadbalancing.documents import (
    forwarded_groups,
    listener_document,
    listener_from,
    load_balancer_document,
    load_balancer_from,
)
from andromede.loadbalancing.errors import (
    ConcurrentChange,
    Duplicate,
    InvalidConfiguration,
    InvalidSecurityGroup,
    InvalidSubnet,
    LbValidationError,
    NotFound,
    NotPermitted,
    TooMany,
)
from andromede.loadbalancing.listener_rules import ListenerRulesMixin
from andromede.loadbalancing.listener_tls import NO_TLS, TlsRequest
from andromede.loadbalancing.model import (
    LB_ATTRIBUTES,
    LISTENER_GROUPS,
    NLB_PROTOCOLS,
    Listener,
    LoadBalancer,
    NodeMapping,
    Tags,
    check_attributes,
    listener_arn,
    listener_keys,
    load_balancer_arn,
    new_resource_id,
    parse_arn,
)
from andromede.loadbalancing.store import Stored

__all__ = ["LbLimits", "LbSpec", "LoadBalancingService"]

_NOT_FOUND: Final = NOT_FOUND


@dataclass(frozen=True, slots=True)
class LbSpec:
    name: str
    scheme: str
    lb_type: str
    # (subnet, address asked or None), one per zone.
    mappings: tuple[tuple[str, str | None], ...]
    tags: Tags = ()
    security_groups: tuple[str, ...] = ()


class LoadBalancingService(ListenerRulesMixin):
    """Network Load Balancers of every account (decision 0191)."""

    # Decision 0264: where an ALB's access logs are checked and written (None: nowhere,
    # and they cannot be turned on).
    log_buckets: LogBuckets | None = None

    def lb_arn(self, lb: LoadBalancer) -> str:
        return load_balancer_arn(self.region, lb.tenant_id, lb.name, lb.lb_id, lb.arn_kind)

    def listener_arn(self, lb: LoadBalancer, listener: Listener) -> str:
        return listener_arn(
            self.region, lb.tenant_id, lb.name, lb.lb_id, listener.listener_id, lb.arn_kind
        )

    # -- load balancers -------------------------------------------------------------------------

    async def create_load_balancer(self, tenant_id: str, spec: LbSpec) -> LoadBalancer:
        check_name(spec.name, "Load balancer")
        if spec.lb_type not in ("network", "application"):
            raise InvalidConfiguration(
                f"Load balancer type '{spec.lb_type[:32]}' is not supported here yet; "
                "'network' and 'application' are (decisions 0191, 0216)"
            )
        kind = "Network" if spec.lb_type == "network" else "Application"
        if spec.scheme == "internet-facing":
            raise InvalidConfiguration(
                f"Internet-facing {kind} Load Balancers are not supported yet; use scheme "
                "'internal' (decisions 0191, 0216)"
            )
        if spec.scheme != "internal":
            raise LbValidationError(
                f"Scheme '{spec.scheme[:32]}' must be one of: internet-facing, internal"
            )
        if not spec.mappings:
            raise LbValidationError("At least one subnet must be specified")
        check_tags(spec.tags, self.limits.max_tags)
        subnet_ids = [s for s, _ in spec.mappings]
        if len(set(subnet_ids)) != len(subnet_ids):
            raise InvalidConfiguration("The same subnet is specified more than once")
        subnets = await self.network.subnets(tenant_id, subnet_ids)
        if len({s.vpc_id for s in subnets}) != 1:
            raise InvalidSubnet("The subnets of a load balancer must belong to one VPC")
        zones = [s.availability_zone for s in subnets]
        if len(set(zones)) != len(zones):
            raise InvalidConfiguration(
                "A load balancer cannot be attached to multiple subnets in the same "
                "Availability Zone"
            )
        if spec.lb_type == "application":
            _check_application(spec, zones, self.limits.region_zones)
            if not spec.security_groups:  # AWS's choice: the VPC's default group
                default = await self.network.default_security_group(tenant_id, subnets[0].vpc_id)
                spec = replace(spec, security_groups=(default,))
        for subnet, (_, address) in zip(subnets, spec.mappings, strict=True):
            if address is not None and not _within(address, subnet.cidr):
                raise InvalidConfiguration(
                    f"Private IPv4 address '{address[:64]}' is not in subnet '{subnet.subnet_id}'"
                )
        await self._check_groups(tenant_id, subnets[0].vpc_id, spec.security_groups)
        existing = await self.store.by_name(tenant_id, "loadbalancer", spec.name)
        if existing is not None:
            held = load_balancer_from(tenant_id, existing.resource_id, spec.name, existing.document)
            if {n.subnet_id for n in held.nodes} == set(subnet_ids):
                return held  # ELBv2's create is idempotent for the same settings
            raise Duplicate(
                "DuplicateLoadBalancerName",
                f"A load balancer with the same name '{spec.name}' exists, but with "
                "different settings",
            )
        lb_id = new_resource_id()
        nodes: list[NodeMapping] = []
        try:
            for subnet, (_, address) in zip(subnets, spec.mappings, strict=True):
                interface_id, taken = await self.network.reserve(
                    tenant_id,
                    subnet.subnet_id,
                    address,
                    f"ELB {'app' if spec.lb_type == 'application' else 'net'}/{spec.name}/{lb_id}",
                    tuple(dict.fromkeys(spec.security_groups)),
                )
                nodes.append(
                    NodeMapping(subnet.subnet_id, subnet.availability_zone, taken, interface_id)
                )
            lb = LoadBalancer(
                tenant_id=tenant_id,
                lb_id=lb_id,
                name=spec.name,
                vpc_id=subnets[0].vpc_id,
                scheme=spec.scheme,
                nodes=tuple(nodes),
                created_at=self.clock(),
                tags=spec.tags,
                security_groups=tuple(dict.fromkeys(spec.security_groups)),
                lb_type=spec.lb_type,
            )
            outcome = await self.store.insert(
                tenant_id,
                "loadbalancer",
                lb_id,
                spec.name,
                "",
                load_balancer_document(lb),
                limit=self.limits.max_load_balancers,
            )
        except BaseException:
            await self._release(tenant_id, nodes)
            raise
        if outcome != "ok":
            await self._release(tenant_id, nodes)
        if outcome == "duplicate":
            raise Duplicate(
                "DuplicateLoadBalancerName",
                f"A load balancer with the same name '{spec.name}' exists, but with "
                "different settings",
            )
        if outcome == "limit":
            raise TooMany(
                "TooManyLoadBalancers",
                f"The quota of {self.limits.max_load_balancers} load balancers is reached",
            )
        return lb

    async def _release(self, tenant_id: str, nodes: Sequence[NodeMapping]) -> None:
        for node in nodes:
            await self.network.release(tenant_id, node.interface_id)

    async def load_balancer(self, tenant_id: str, lb_id: str) -> LoadBalancer:
        stored = await self.held(tenant_id, "loadbalancer", lb_id)
        return load_balancer_from(tenant_id, lb_id, stored.name, stored.document)

    async def load_balancers(
        self, tenant_id: str, arns: Sequence[str] = (), names: Sequence[str] = ()
    ) -> list[LoadBalancer]:
        """The account's load balancers by name; those named (by ARN or name) only, each
        one missing ``LoadBalancerNotFound``."""
        if arns and names:
            raise LbValidationError("LoadBalancerArns and Names cannot be specified together")
        every = [
            load_balancer_from(tenant_id, s.resource_id, s.name, s.document)
            for s in await self.store.list(tenant_id, "loadbalancer")
        ]
        if arns:
            ids = [await self.id_of(tenant_id, "loadbalancer", a) for a in arns]
            chosen = [lb for lb in every if lb.lb_id in ids]
            if len(chosen) != len(set(ids)):
                raise NotFound(*_NOT_FOUND["loadbalancer"])
            return chosen
        if names:
            chosen = [lb for lb in every if lb.name in names]
            if len(chosen) != len(set(names)):
                missing = sorted(set(names) - {lb.name for lb in chosen})
                raise NotFound("LoadBalancerNotFound", f"Load balancers '{missing}' not found")
            return chosen
        return every

    async def count_by_tenant(self, lb_type: str = "network") -> dict[str, int]:
        """Each account's load balancers of that type, for metering (decisions 0191, 0216)."""
        counts: dict[str, int] = {}
        for row in await self.store.list(None, "loadbalancer"):
            if (row.document.get("type") or "network") == lb_type:
                counts[row.tenant_id] = counts.get(row.tenant_id, 0) + 1
        return counts

    def state(self, lb: LoadBalancer) -> str:
        return lb.state(self.clock(), self.limits.provisioning)

    async def delete_load_balancer(self, tenant_id: str, arn: str) -> None:
        lb = await self.load_balancer(tenant_id, await self.id_of(tenant_id, "loadbalancer", arn))
        if lb.attribute("deletion_protection.enabled") == "true":
            raise NotPermitted(
                f"Load balancer '{arn}' cannot be deleted because deletion protection is enabled"
            )
        for listener in await self.listeners(tenant_id, lb_id=lb.lb_id):
            await self._drop_listener(tenant_id, listener)
        stored = await self.held(tenant_id, "loadbalancer", lb.lb_id)
        if not await self.store.delete(stored):
            raise ConcurrentChange(f"load balancer {lb.lb_id} changed concurrently; retry")
        await self._release(tenant_id, lb.nodes)

    async def modify_load_balancer_attributes(
        self, tenant_id: str, arn: str, changes: Mapping[str, str]
    ) -> LoadBalancer:
        lb_id = await self.id_of(tenant_id, "loadbalancer", arn)
        current = await self.load_balancer(tenant_id, lb_id)
        # Decisions 0264 and 0269: an ALB's requests, an NLB's TLS connections.
        await self._check_access_logs(tenant_id, current, changes)

        def change(stored: Stored) -> dict[str, Any]:
            lb = load_balancer_from(tenant_id, lb_id, stored.name, stored.document)
            known = ALB_ATTRIBUTES if lb.lb_type == "application" else LB_ATTRIBUTES
            merged = check_attributes(known, changes, lb.attributes)
            return load_balancer_document(replace(lb, attributes=merged))

        await self.mutate(tenant_id, "loadbalancer", lb_id, change)
        return await self.load_balancer(tenant_id, lb_id)

    async def _check_access_logs(
        self, tenant_id: str, lb: LoadBalancer, changes: Mapping[str, str]
    ) -> None:
        """A load balancer's access log attributes as they would be, checked, and an ALB's
        connection log attributes; a destination turned on or moved must take the log
        delivery's test object (decisions 0264, 0269, 0287), as AWS's."""
        known = ALB_ATTRIBUTES if lb.lb_type == "application" else LB_ATTRIBUTES
        merged = dict(check_attributes(known, changes, lb.attributes))
        checks = [check_access_log_attributes]
        if lb.lb_type == "application":  # decision 0287: an ALB's connection logs too
            checks.append(check_connection_log_attributes)
        for checked in checks:
            target = checked(merged)
            if target is None or target == checked(dict(lb.attributes)):
                continue
            if self.log_buckets is None or not await self.log_buckets.check(tenant_id, target):
                raise InvalidConfiguration(
                    f"Access Denied for bucket: {target.bucket[:63]}. "
                    "Please check S3bucket permission"
                )

    async def _check_groups(self, tenant_id: str, vpc_id: str, group_ids: Sequence[str]) -> None:
        """Security groups of the account in the load balancer's VPC, at most the limit."""
        if len(set(group_ids)) > self.limits.max_security_groups:
            raise LbValidationError(
                f"A load balancer can have at most {self.limits.max_security_groups} security "
                "groups"
            )
        if not group_ids:
            return
        held = await self.network.security_groups(tenant_id, group_ids)
        for group_id in group_ids:
            if held.get(group_id) != vpc_id:
                raise InvalidSecurityGroup(
                    f"Security group '{group_id[:64]}' does not exist or is not in VPC '{vpc_id}'"
                )

    async def set_security_groups(
        self, tenant_id: str, arn: str, group_ids: Sequence[str], enforce: str | None
    ) -> LoadBalancer:
        """SetSecurityGroups (session 49): the groups replace the load balancer's; an NLB
        created without groups gets none later, and one with groups keeps at least one, as
        AWS's. ``enforce``: EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic, stored."""
        if enforce not in (None, "on", "off"):
            raise LbValidationError(
                "EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic must be 'on' or 'off'"
            )
        lb_id = await self.id_of(tenant_id, "loadbalancer", arn)
        lb = await self.load_balancer(tenant_id, lb_id)
        if not lb.security_groups:
            raise InvalidConfiguration(
                "You cannot set security groups on a Network Load Balancer which was created "
                "without any security groups"
            )
        if not group_ids:
            raise InvalidConfiguration(
                "You cannot remove every security group from a Network Load Balancer which was "
                "created with security groups"
            )
        await self._check_groups(tenant_id, lb.vpc_id, group_ids)

        def change(stored: Stored) -> dict[str, Any]:
            held = load_balancer_from(tenant_id, lb_id, stored.name, stored.document)
            return load_balancer_document(
                replace(
                    held,
                    security_groups=tuple(dict.fromkeys(group_ids)),
                    enforce_private_link=enforce or held.enforce_private_link,
                )
            )

        await self.mutate(tenant_id, "loadbalancer", lb_id, change)
        for node in lb.nodes:  # the nodes' interfaces hold them too (DeleteSecurityGroup)
            await self.network.set_interface_groups(
                tenant_id, node.interface_id, tuple(dict.fromkeys(group_ids))
            )
        return await self.load_balancer(tenant_id, lb_id)

    # -- listeners ------------------------------------------------------------------------------

    async def create_listener(
        self,
        tenant_id: str,
        lb_arn: str,
        protocol: str,
        port: int,
        tg_arn: str,
        tags: Tags = (),
        tls: TlsRequest = NO_TLS,
    ) -> tuple[LoadBalancer, Listener]:
        if protocol not in NLB_PROTOCOLS:
            raise InvalidConfiguration(
                f"Listener protocol '{protocol[:16]}' is not supported here yet; TCP, UDP, "
                "TCP_UDP and TLS are (decisions 0191, 0210)"
            )
        check_tags(tags, self.limits.max_tags)
        lb_id = await self.id_of(tenant_id, "loadbalancer", lb_arn)
        lb = await self.load_balancer(tenant_id, lb_id)
        if lb.lb_type == "application":
            raise LbValidationError(
                f"Listener protocol '{protocol[:16]}' must be one of 'HTTP' for an Application "
                "Load Balancer here (HTTPS not yet, decision 0216)"
            )
        group = await self.target_group(
            tenant_id, await self.id_of(tenant_id, "targetgroup", tg_arn)
        )
        if group.vpc_id != lb.vpc_id:
            raise InvalidConfiguration(
                f"The target group '{tg_arn}' is not in the load balancer's VPC '{lb.vpc_id}'"
            )
        if group.protocol not in LISTENER_GROUPS[protocol]:
            raise InvalidConfiguration(
                "A TCP_UDP listener must be associated with a TCP_UDP target group"
                if protocol == "TCP_UDP"
                else f"Listener protocol '{protocol}' is not compatible with target group "
                f"protocol '{group.protocol}'"
            )
        certificates, ssl_policy, alpn_policy = await self.checked_tls(tenant_id, protocol, tls)
        if group.lb_id not in ("", lb.lb_id):
            raise TooMany(
                "TargetGroupAssociationLimit",
                f"The target group '{tg_arn}' is already associated with another load "
                "balancer; a Network Load Balancer's target group serves one",
            )
        listener = Listener(
            tenant_id=tenant_id,
            listener_id=new_resource_id(),
            lb_id=lb.lb_id,
            protocol=protocol,
            port=port,
            tg_id=group.tg_id,
            created_at=self.clock(),
            tags=tags,
            certificates=certificates,
            ssl_policy=ssl_policy,
            alpn_policy=alpn_policy,
        )

        async def duplicate_message() -> str:
            held = [o for o in await self.listeners(tenant_id, lb_id=lb.lb_id) if o.port == port]
            both = {protocol, *(o.protocol for o in held)} == {"TCP", "UDP"}
            return f"A listener already exists on port {port} of load balancer '{lb_arn}'" + (
                # Session 50: one listener a port, as ELBv2; both transports are one TCP_UDP.
                "; to listen for TCP and UDP on one port, use a TCP_UDP listener" if both else ""
            )

        await self.insert_listener(tenant_id, listener, duplicate_message)
        await self.use_group(tenant_id, group.tg_id, lb.lb_id)
        return lb, listener

    async def listeners(
        self, tenant_id: str, *, lb_id: str | None = None, arns: Sequence[str] = ()
    ) -> list[Listener]:
        ids = [await self.id_of(tenant_id, "listener", a) for a in arns]
        every = [
            listener_from(tenant_id, s.resource_id, s.document)
            for s in await self.store.list(tenant_id, "listener")
        ]
        chosen = [
            listener
            for listener in every
            if (lb_id is None or listener.lb_id == lb_id)
            and (not ids or listener.listener_id in ids)
        ]
        if ids and len(chosen) != len(set(ids)):
            raise NotFound(*_NOT_FOUND["listener"])
        return sorted(chosen, key=lambda listener: listener.port)

    async def delete_listener(self, tenant_id: str, arn: str) -> None:
        listener_id = await self.id_of(tenant_id, "listener", arn)
        stored = await self.held(tenant_id, "listener", listener_id)
        await self._drop_listener(tenant_id, listener_from(tenant_id, listener_id, stored.document))

    async def _drop_listener(self, tenant_id: str, listener: Listener) -> None:
        used = set(await self.drop_rules(tenant_id, listener))  # decision 0216
        stored = await self.held(tenant_id, "listener", listener.listener_id)
        if not await self.store.delete(stored):
            raise ConcurrentChange(f"listener {listener.listener_id} changed concurrently")
        await self.release_unused(
            tenant_id, listener.lb_id, used | set(forwarded_groups(listener)) - {""}
        )

    async def listener(self, tenant_id: str, arn: str) -> Listener:
        listener_id = await self.id_of(tenant_id, "listener", arn)
        stored = await self.held(tenant_id, "listener", listener_id)
        return listener_from(tenant_id, listener_id, stored.document)

    async def modify_listener_attributes(
        self, tenant_id: str, arn: str, changes: Mapping[str, str]
    ) -> Listener:
        listener_id = await self.id_of(tenant_id, "listener", arn)

        def change(stored: Stored) -> dict[str, Any]:
            listener = listener_from(tenant_id, listener_id, stored.document)
            known = listener_keys(listener.protocol)
            merged = check_attributes(known, changes, listener.attributes)
            return listener_document(replace(listener, attributes=merged))

        await self.mutate(tenant_id, "listener", listener_id, change)
        return await self.listener(tenant_id, arn)

    async def listener_owner(self, tenant_id: str, listener: Listener) -> LoadBalancer:
        return await self.load_balancer(tenant_id, listener.lb_id)

    # -- tags -----------------------------------------------------------------------------------

    async def tags_of(self, tenant_id: str, arn: str) -> Tags:
        parsed = parse_arn(arn)
        if parsed is None:
            raise LbValidationError(f"'{arn[:256]}' is not a valid resource ARN")
        stored = await self.held(
            tenant_id, parsed.kind, await self.id_of(tenant_id, parsed.kind, arn)
        )
        return tuple((str(k), str(v)) for k, v in stored.document.get("tags", ()))

    async def change_tags(
        self, tenant_id: str, arn: str, add: Tags = (), remove: Sequence[str] = ()
    ) -> None:
        parsed = parse_arn(arn)
        if parsed is None:
            raise LbValidationError(f"'{arn[:256]}' is not a valid resource ARN")
        resource_id = await self.id_of(tenant_id, parsed.kind, arn)
        keys = [k for k, _ in add]
        if len(set(keys)) != len(keys):
            raise Duplicate("DuplicateTagKeys", "Tag keys must be unique")

        def change(stored: Stored) -> dict[str, Any]:
            held = dict((str(k), str(v)) for k, v in stored.document.get("tags", ()))
            held.update(add)
            for key in remove:
                held.pop(key, None)
            tags = tuple(held.items())
            check_tags(tags, self.limits.max_tags)
            return {**stored.document, "tags": [list(t) for t in tags]}

        await self.mutate(tenant_id, parsed.kind, resource_id, change)


def _check_application(spec: LbSpec, zones: Sequence[str], region_zones: int) -> None:
    """ELBv2's rules of an ALB's subnets and addresses (decision 0216). AWS wants subnets in two
    zones at least; a Region of one zone here (decision 0021) cannot give two, so it is as
    many zones as the Region has, up to two."""
    if len(set(zones)) < min(2, region_zones):
        raise InvalidConfiguration(
            "At least two subnets in two different Availability Zones must be specified"
        )
    if any(address is not None for _, address in spec.mappings):
        raise InvalidConfiguration(
            "Private IPv4 addresses cannot be specified for an Application Load Balancer"
        )


def _within(address: str, cidr: str) -> bool:
    try:
        return ipaddress.IPv4Address(address) in ipaddress.IPv4Network(cidr)
    except ValueError:
        return False
