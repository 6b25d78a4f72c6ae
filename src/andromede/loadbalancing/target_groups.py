"""Target groups, their targets and the targets' health (decision 0191): the part of the
load balancing service that registers and deregisters targets, answers DescribeTargetHealth
with AWS's states and reason codes, records the probes' outcomes, and tells the routers what
each listener forwards to."""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, Final

from andromede.loadbalancing.application import ALB_TG_PROTOCOLS
from andromede.loadbalancing.core import LbCore, check_name, check_tags
from andromede.loadbalancing.documents import (
    group_document,
    group_from,
    listener_from,
    load_balancer_from,
)
from andromede.loadbalancing.errors import (
    Duplicate,
    InvalidConfiguration,
    InvalidTarget,
    LbValidationError,
    NotFound,
    ResourceInUse,
    TooMany,
)
from andromede.loadbalancing.group_routing import check_group_attributes, new_sticky_key
from andromede.loadbalancing.health_counts import HealthCount, health_counts
from andromede.loadbalancing.model import (
    NLB_PROTOCOLS,
    TG_ATTRIBUTES,
    ForwardingView,
    HealthCheck,
    HealthState,
    Tags,
    Target,
    TargetGroup,
    check_attributes,
    draining,
    forwarding,
    http_codes,
    new_resource_id,
    next_health,
    target_group_arn,
)
from andromede.loadbalancing.store import Stored

__all__ = ["Probe", "TargetGroupsMixin", "TgSpec"]

# The addresses an ip target may have (ELBv2: the VPC's, RFC 1918's and RFC 6598's).
_TARGET_RANGES: Final = tuple(
    ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                                       "100.64.0.0/10")
)  # fmt: skip
TargetRef = tuple[str, int | None]


@dataclass(frozen=True, slots=True)
class TgSpec:
    name: str
    protocol: str
    port: int
    vpc_id: str
    target_type: str
    health_check: HealthCheck
    tags: Tags = ()
    # The health check's fields the call gave (HealthCheck's names): a path or matcher given
    # for a TCP check is refused, as ELBv2 does (decision 0198).
    given: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Probe:
    """One health probe a router's host runs: the target's address and health port, from
    the VPC's router, with the group's timeout and interval."""

    tenant_id: str
    tg_id: str
    vpc_id: str
    target_id: str
    port: int
    address: str
    health_port: int
    timeout: int
    interval: int
    # Decision 0198: "HTTP" and "HTTPS" checks ask ``path`` and pass on a code ``matcher``
    # accepts.
    protocol: str = "TCP"
    path: str = "/"
    matcher: str = "200-399"


# ELBv2's ProtocolEnum: what a health check may name; an NLB's TCP, UDP and TCP_UDP groups
# check by the first three (TLS, UDP, TCP_UDP, GENEVE, QUIC and TCP_QUIC are no health check
# protocols: a UDP target cannot be asked whether it is alive, so it is asked over TCP or HTTP).
_CHECK_PROTOCOLS: Final = ("TCP", "HTTP", "HTTPS")
_OTHER_PROTOCOLS: Final = ("TLS", "UDP", "TCP_UDP", "GENEVE", "QUIC", "TCP_QUIC")


def check_health_check(
    check: HealthCheck,
    given: Collection[str] = (),
    target_type: str = "instance",
    group_protocol: str = "TCP",
) -> None:
    """ELBv2's validation of an NLB target group's health check as a whole (decisions 0191,
    0198): ``given`` names the fields the call set, ``target_type`` and ``group_protocol``
    are the group's."""
    if check.protocol in _OTHER_PROTOCOLS:
        raise InvalidConfiguration(
            f"Health check protocol '{check.protocol}' is not supported for target groups with "
            f"the protocol '{group_protocol}'; it must be TCP, HTTP or HTTPS"
        )
    if check.protocol not in _CHECK_PROTOCOLS:
        raise LbValidationError(
            f"Value '{check.protocol[:16]}' at 'healthCheckProtocol' failed to satisfy "
            "constraint: Member must satisfy enum value set: [HTTP, HTTPS, TCP, TLS, UDP, "
            "TCP_UDP, GENEVE, QUIC, TCP_QUIC]"
        )
    if check.protocol == "TCP":
        for field, words in (("path", "paths"), ("matcher", "matchers")):
            if field in given:
                raise InvalidConfiguration(
                    f"Custom health check {words} are not supported for health checks with "
                    "the protocol 'TCP'"
                )
    if not check.enabled and target_type in ("instance", "ip"):
        raise InvalidConfiguration(
            f"Health check enabled must be true for target groups with target type '{target_type}'"
        )
    if not (1 <= len(check.path) <= 1024 and check.path.startswith("/")) or any(
        not 0x21 <= ord(c) <= 0x7E for c in check.path
    ):
        raise LbValidationError(
            "Health check path must begin with '/' and be 1 to 1024 printable characters "
            "without spaces"
        )
    http_codes(check.matcher)  # raises LbValidationError on a bad matcher
    numeric = check.port.isdigit() and 1 <= int(check.port) <= 65535
    if check.port != "traffic-port" and not numeric:
        raise LbValidationError("Health check port must be 'traffic-port' or 1 to 65535")
    if check.timeout > check.interval:
        raise LbValidationError(
            "Health check timeout must be smaller than or equal to the health check interval"
        )


class TargetGroupsMixin(LbCore):
    # -- target groups --------------------------------------------------------------------------

    def tg_arn(self, group: TargetGroup) -> str:
        return target_group_arn(self.region, group.tenant_id, group.name, group.tg_id)

    async def create_target_group(self, tenant_id: str, spec: TgSpec) -> TargetGroup:
        check_name(spec.name, "Target group")
        if spec.protocol not in (*NLB_PROTOCOLS, *ALB_TG_PROTOCOLS):
            raise InvalidConfiguration(
                f"Target group protocol '{spec.protocol[:16]}' is not supported here yet; TCP, "
                "UDP, TCP_UDP, TLS, HTTP and HTTPS are (decisions 0191, 0216, 0231)"
            )
        if spec.target_type not in ("instance", "ip"):
            raise InvalidConfiguration(
                f"Target type '{spec.target_type[:16]}' is not supported here yet; instance and "
                "ip are (decision 0191)"
            )
        check_health_check(spec.health_check, spec.given, spec.target_type, spec.protocol)
        check_tags(spec.tags, self.limits.max_tags)
        if not await self.network.vpc_exists(tenant_id, spec.vpc_id):
            raise LbValidationError(f"The VPC ID '{spec.vpc_id[:64]}' is not found")
        group = TargetGroup(
            tenant_id=tenant_id,
            tg_id=new_resource_id(),
            name=spec.name,
            protocol=spec.protocol,
            port=spec.port,
            vpc_id=spec.vpc_id,
            target_type=spec.target_type,
            health_check=spec.health_check,
            created_at=self.clock(),
            tags=spec.tags,
            sticky_key=new_sticky_key() if spec.protocol in ALB_TG_PROTOCOLS else "",
        )
        outcome = await self.store.insert(
            tenant_id,
            "targetgroup",
            group.tg_id,
            spec.name,
            "",
            group_document(group),
            limit=self.limits.max_target_groups,
        )
        if outcome == "duplicate":
            held = await self.store.by_name(tenant_id, "targetgroup", spec.name)
            if held is not None:
                same = group_from(tenant_id, held.resource_id, spec.name, held.document)
                if (same.protocol, same.port, same.vpc_id, same.target_type) == (
                    spec.protocol,
                    spec.port,
                    spec.vpc_id,
                    spec.target_type,
                ):
                    return same  # ELBv2's create is idempotent for the same settings
            raise Duplicate(
                "DuplicateTargetGroupName",
                f"A target group with the same name '{spec.name}' exists, but with different "
                "settings",
            )
        if outcome == "limit":
            raise TooMany(
                "TooManyTargetGroups",
                f"The quota of {self.limits.max_target_groups} target groups is reached",
            )
        return group

    async def target_group(self, tenant_id: str, tg_id: str) -> TargetGroup:
        stored = await self.held(tenant_id, "targetgroup", tg_id)
        return group_from(tenant_id, tg_id, stored.name, stored.document)

    async def target_groups(
        self,
        tenant_id: str,
        arns: Sequence[str] = (),
        names: Sequence[str] = (),
        lb_id: str | None = None,
    ) -> list[TargetGroup]:
        every = [
            group_from(tenant_id, s.resource_id, s.name, s.document)
            for s in await self.store.list(tenant_id, "targetgroup")
        ]
        if lb_id is not None:
            every = [g for g in every if g.lb_id == lb_id]
        if arns:
            ids = [await self.id_of(tenant_id, "targetgroup", a) for a in arns]
            every = [g for g in every if g.tg_id in ids]
            if len(every) != len(set(ids)):
                raise NotFound("TargetGroupNotFound", "One or more target groups not found")
        if names:
            every = [g for g in every if g.name in names]
            if len(every) != len(set(names)):
                missing = sorted(set(names) - {g.name for g in every})
                raise NotFound("TargetGroupNotFound", f"Target groups '{missing}' not found")
        return every

    async def modify_target_group(
        self, tenant_id: str, arn: str, changes: Mapping[str, Any]
    ) -> TargetGroup:
        """Change the health check's fields named in ``changes`` (HealthCheck's names),
        validated with the fields kept as one check; the probes read it at their next round.
        A check turned TCP drops its path and matcher (a TCP check has none: turned HTTP
        again, it starts from ELBv2's defaults)."""
        tg_id = await self.id_of(tenant_id, "targetgroup", arn)

        def change(stored: Stored) -> dict[str, Any]:
            group = group_from(tenant_id, tg_id, stored.name, stored.document)
            check = replace(group.health_check, **changes)
            if check.protocol == "TCP":
                check = replace(check, path="/", matcher="200-399")
            check_health_check(check, changes.keys(), group.target_type, group.protocol)
            return group_document(replace(group, health_check=check))

        await self.mutate(tenant_id, "targetgroup", tg_id, change)
        return await self.target_group(tenant_id, tg_id)

    async def modify_target_group_attributes(
        self, tenant_id: str, arn: str, changes: Mapping[str, str]
    ) -> TargetGroup:
        tg_id = await self.id_of(tenant_id, "targetgroup", arn)

        def change(stored: Stored) -> dict[str, Any]:
            group = group_from(tenant_id, tg_id, stored.name, stored.document)
            udp = group.protocol in ("UDP", "TCP_UDP")
            if udp and changes.get("preserve_client_ip.enabled") == "false":
                # ELBv2: a UDP flow's client address is always kept (session 50).
                raise InvalidConfiguration(
                    "Client IP preservation cannot be disabled for target groups with the "
                    f"protocol '{group.protocol}'"
                )
            if group.protocol in ALB_TG_PROTOCOLS:  # decision 0231: their own checks
                merged = check_group_attributes(changes, group.attributes)
                key = group.sticky_key or new_sticky_key()  # a group made before 0231
                return group_document(replace(group, attributes=merged, sticky_key=key))
            merged = check_attributes(TG_ATTRIBUTES, changes, group.attributes)
            return group_document(replace(group, attributes=merged))

        await self.mutate(tenant_id, "targetgroup", tg_id, change)
        return await self.target_group(tenant_id, tg_id)

    async def delete_target_group(self, tenant_id: str, arn: str) -> None:
        tg_id = await self.id_of(tenant_id, "targetgroup", arn)
        stored = await self.held(tenant_id, "targetgroup", tg_id)
        held = [
            *await self.store.list(tenant_id, "listener"),
            *await self.store.list(tenant_id, "rule"),
        ]
        for row in held:
            # Decision 0216: an HTTP listener's or rule's forward groups are in ``groups``.
            if tg_id in (row.document.get("tg_id"), *row.document.get("groups", ())):
                raise ResourceInUse(
                    f"Target group '{arn}' is currently in use by a listener or a rule"
                )
        if not await self.store.delete(stored):
            raise ResourceInUse(f"Target group '{arn}' changed concurrently; retry")

    async def use_group(self, tenant_id: str, tg_id: str, lb_id: str) -> None:
        """Mark the group used by ``lb_id`` ("" when no listener forwards to it any more)."""

        def change(stored: Stored) -> dict[str, Any]:
            document = {**stored.document, "lb_id": lb_id}
            if stored.document["protocol"] in ALB_TG_PROTOCOLS and lb_id:
                # Decision 0231: a group made before has its stickiness secret once used.
                document.setdefault("sticky_key", new_sticky_key())
            return document

        await self.mutate(tenant_id, "targetgroup", tg_id, change)

    # -- targets --------------------------------------------------------------------------------

    async def register_targets(
        self, tenant_id: str, arn: str, targets: Sequence[TargetRef]
    ) -> None:
        tg_id = await self.id_of(tenant_id, "targetgroup", arn)
        group = await self.target_group(tenant_id, tg_id)
        made = await self._resolve(tenant_id, group, targets)

        def change(stored: Stored) -> dict[str, Any]:
            held = group_from(tenant_id, tg_id, stored.name, stored.document)
            kept = {t.key: t for t in self._live(held.targets)}
            for target in made:
                old = kept.get(target.key)
                if old is None or old.state is HealthState.DRAINING:
                    kept[target.key] = target
            if len(kept) > self.limits.max_targets:
                raise TooMany(
                    "TooManyTargets",
                    f"A target group can have at most {self.limits.max_targets} targets",
                )
            return group_document(replace(held, targets=tuple(kept.values())))

        await self.mutate(tenant_id, "targetgroup", tg_id, change)

    async def _resolve(
        self, tenant_id: str, group: TargetGroup, targets: Sequence[TargetRef]
    ) -> list[Target]:
        if not targets:
            raise LbValidationError("At least one target must be specified")
        for _, port in targets:
            if port is not None and not 1 <= port <= 65535:
                raise LbValidationError("A target's port must be between 1 and 65535")
        if group.target_type == "ip":
            made = []
            for target_id, port in targets:
                try:
                    address = ipaddress.IPv4Address(target_id)
                except ValueError:
                    raise InvalidTarget(
                        f"The IP address '{target_id[:64]}' is not a valid IPv4 address"
                    ) from None
                if not any(address in r for r in _TARGET_RANGES):
                    raise InvalidTarget(
                        f"The IP address '{target_id}' is outside the VPC's and the private "
                        "ranges (RFC 1918, RFC 6598)"
                    )
                made.append(Target(target_id, port or group.port, target_id))
            return made
        found = await self.network.instances(tenant_id, [t for t, _ in targets])
        missing = [t for t, _ in targets if t not in found]
        if missing:
            raise InvalidTarget(f"The following targets are not valid instances: {missing}")
        outside = [t for t, _ in targets if found[t].vpc_id != group.vpc_id]
        if outside:
            raise InvalidTarget(
                f"The following targets are not in the target group's VPC '{group.vpc_id}': "
                f"{outside}"
            )
        stopped = [t for t, _ in targets if not found[t].running]
        if stopped:
            raise InvalidTarget(
                f"The following targets are not in a running state and can't be registered: "
                f"{stopped}"
            )
        return [
            Target(t, port or group.port, found[t].private_ip, found[t].availability_zone)
            for t, port in targets
        ]

    async def deregister_targets(
        self, tenant_id: str, arn: str, targets: Sequence[TargetRef]
    ) -> None:
        """The targets drain for ``deregistration_delay.timeout_seconds`` while their group
        is in use, else leave at once."""
        tg_id = await self.id_of(tenant_id, "targetgroup", arn)
        now = self.clock()

        def change(stored: Stored) -> dict[str, Any]:
            group = group_from(tenant_id, tg_id, stored.name, stored.document)
            delay = int(group.attribute("deregistration_delay.timeout_seconds"))
            kept = {t.key: t for t in self._live(group.targets)}
            for target_id, port in targets:
                key = (target_id, port or group.port)
                if key not in kept:
                    raise InvalidTarget(
                        f"The target '{target_id}' on port {key[1]} is not registered"
                    )
                if delay == 0 or not group.lb_id:
                    del kept[key]
                elif kept[key].state is not HealthState.DRAINING:
                    kept[key] = draining(kept[key], now + timedelta(seconds=delay))
            return group_document(replace(group, targets=tuple(kept.values())))

        await self.mutate(tenant_id, "targetgroup", tg_id, change)

    async def reconcile_instances(
        self, tenant_id: str, arn: str, wanted: Sequence[str], leaving: Sequence[str]
    ) -> None:
        """An Auto Scaling group's part of a target group (decision 0191): each instance of
        ``wanted`` registered on the group's port, each of ``leaving`` deregistered (draining
        as any deregistration); the targets registered otherwise are left alone."""
        group = await self.target_group(tenant_id, await self.id_of(tenant_id, "targetgroup", arn))
        held = {
            t.target_id for t in self._live(group.targets) if t.state is not HealthState.DRAINING
        }
        missing = [i for i in dict.fromkeys(wanted) if i not in held]
        gone = [i for i in dict.fromkeys(leaving) if i in held and i not in wanted]
        if missing:
            await self.register_targets(tenant_id, arn, [(i, None) for i in missing])
        if gone:
            await self.deregister_targets(tenant_id, arn, [(i, None) for i in gone])

    def _live(self, targets: Sequence[Target]) -> list[Target]:
        """``targets`` less those whose draining is over."""
        now = self.clock()
        return [t for t in targets if t.draining_until is None or t.draining_until > now]

    async def target_health(
        self, tenant_id: str, arn: str, asked: Sequence[TargetRef] = ()
    ) -> list[Target]:
        """Each target's health as DescribeTargetHealth shows it: the recorded state, or
        ``unused`` when no load balancer uses the group (``Target.NotInUse``), the instance
        is not running (``Target.InvalidState``) or the target is not registered
        (``Target.NotRegistered``)."""
        group = await self.target_group(tenant_id, await self.id_of(tenant_id, "targetgroup", arn))
        live = self._live(group.targets)
        if asked:
            by_key = {t.key: t for t in live}
            chosen = []
            for target_id, port in asked:
                key = (target_id, port or group.port)
                chosen.append(
                    by_key.get(key)
                    or Target(
                        target_id,
                        key[1],
                        "",
                        state=HealthState.UNUSED,
                        reason="Target.NotRegistered",
                    )
                )
            live = chosen
        running: dict[str, bool] = {}
        if group.target_type == "instance" and live:
            found = await self.network.instances(tenant_id, [t.target_id for t in live])
            running = {i: f.running for i, f in found.items()}
        shown = []
        for target in live:
            if target.reason == "Target.NotRegistered" or target.state is HealthState.DRAINING:
                shown.append(target)
            elif group.target_type == "instance" and not running.get(target.target_id, False):
                shown.append(
                    replace(target, state=HealthState.UNUSED, reason="Target.InvalidState")
                )
            elif not group.lb_id:
                shown.append(replace(target, state=HealthState.UNUSED, reason="Target.NotInUse"))
            else:
                shown.append(target)
        return shown

    # -- the data plane ---------------------------------------------------------------------------

    async def forwarding_views(self) -> list[ForwardingView]:
        """What every listener of every account forwards to, for the routers."""
        groups = {
            (s.tenant_id, s.resource_id): s for s in await self.store.list(None, "targetgroup")
        }
        lbs = {(s.tenant_id, s.resource_id): s for s in await self.store.list(None, "loadbalancer")}
        views = []
        for row in await self.store.list(None, "listener"):
            listener = listener_from(row.tenant_id, row.resource_id, row.document)
            lb_row = lbs.get((row.tenant_id, listener.lb_id))
            group_row = groups.get((row.tenant_id, listener.tg_id))
            if lb_row is None or group_row is None or listener.default_action is not None:
                continue  # decision 0216: no HTTP listener is handed to the routers yet
            lb = load_balancer_from(row.tenant_id, lb_row.resource_id, lb_row.name, lb_row.document)
            group = group_from(
                row.tenant_id, group_row.resource_id, group_row.name, group_row.document
            )
            live = replace(group, targets=tuple(self._live(group.targets)))
            view = forwarding(lb, listener, live)
            if view.tls is not None:  # decision 0269: its connections logged while on
                logged = lb.attribute("access_logs.s3.enabled") == "true"
                tls = replace(
                    view.tls,
                    access_log=f"net/{lb.name}/{lb.lb_id}" if logged else "",
                    access_log_max_lines=self.limits.access_log_max_lines,
                )
                view = replace(view, tls=tls)
            if lb.security_groups:  # session 49: the groups' ingress, judged by the router
                allowed = await self.network.group_ingress(lb.tenant_id, lb.security_groups)
                view = replace(view, allowed=tuple(allowed))
            views.append(view)
        return views

    async def health_counts(self) -> list[HealthCount]:
        """Each load balancer's target groups' healthy and unhealthy targets (session 49),
        for ``AWS/NetworkELB``'s host counts: the groups a listener forwards to."""
        groups = {
            (s.tenant_id, s.resource_id): s for s in await self.store.list(None, "targetgroup")
        }
        lbs = {(s.tenant_id, s.resource_id): s for s in await self.store.list(None, "loadbalancer")}
        counts: list[HealthCount] = []
        seen: set[tuple[str, str, str]] = set()
        for row in await self.store.list(None, "listener"):
            listener = listener_from(row.tenant_id, row.resource_id, row.document)
            lb_row = lbs.get((row.tenant_id, listener.lb_id))
            group_row = groups.get((row.tenant_id, listener.tg_id))
            key = (row.tenant_id, listener.lb_id, listener.tg_id)
            if lb_row is None or group_row is None or key in seen:
                continue
            if listener.default_action is not None:
                continue  # decision 0216: AWS/ApplicationELB's counts are not given yet
            seen.add(key)
            lb = load_balancer_from(row.tenant_id, lb_row.resource_id, lb_row.name, lb_row.document)
            group = group_from(
                row.tenant_id, group_row.resource_id, group_row.name, group_row.document
            )
            counts += health_counts(lb, replace(group, targets=tuple(self._live(group.targets))))
        return counts

    async def probes(self) -> list[Probe]:
        """The probes due for every target of a group a load balancer uses."""
        found = []
        for row in await self.store.list(None, "targetgroup"):
            group = group_from(row.tenant_id, row.resource_id, row.name, row.document)
            check = group.health_check
            if not group.lb_id or not check.enabled:
                continue
            for target in self._live(group.targets):
                if target.state is HealthState.DRAINING:
                    continue
                port = target.port if check.port == "traffic-port" else int(check.port)
                found.append(
                    Probe(
                        group.tenant_id,
                        group.tg_id,
                        group.vpc_id,
                        target.target_id,
                        target.port,
                        target.address,
                        port,
                        check.timeout,
                        check.interval,
                        check.protocol,
                        check.path,
                        check.matcher,
                    )
                )
        return found

    async def record_probe(
        self, probe: Probe, ok: bool, *, timed_out: bool, code: int | None = None
    ) -> None:
        """One probe's outcome (``code``: an HTTP check's answer), moving the target's health
        by the group's thresholds."""

        def change(stored: Stored) -> dict[str, Any]:
            group = group_from(probe.tenant_id, probe.tg_id, stored.name, stored.document)
            targets = tuple(
                next_health(t, ok, timed_out=timed_out, check=group.health_check, code=code)
                if t.key == (probe.target_id, probe.port)
                else t
                for t in group.targets
            )
            return group_document(replace(group, targets=targets))

        try:
            await self.mutate(probe.tenant_id, "targetgroup", probe.tg_id, change)
        except NotFound:
            return  # the group went meanwhile
