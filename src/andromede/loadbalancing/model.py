"""The pure core of Network Load Balancers (decision 0191): the resources, their ARNs, the
attributes ELBv2 documents, and the health state machine of a target. No I/O here.

A load balancer has one node per subnet mapping, at an address of the subnet; a listener
forwards a TCP, UDP or TCP_UDP port (session 50: both transports) of every node to one
target group; a target group holds its targets and
each target's health, moved by :func:`next_health` from the probes' outcomes.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from andromede.loadbalancing.application import (
    ALB_ATTRIBUTES,
    ALB_TG_ATTRIBUTES,
    HttpSettings,
    check_alb_value,
)
from andromede.loadbalancing.errors import InvalidConfiguration, LbValidationError
from andromede.loadbalancing.http_rules import RuleAction
from andromede.loadbalancing.tls import DEFAULT_SSL_POLICY, TlsSettings
from andromede.loadbalancing.trust_stores import MutualAuthentication

__all__ = [
    "LB_ATTRIBUTES",
    "LISTENER_ATTRIBUTES",
    "LISTENER_GROUPS",
    "NLB_PROTOCOLS",
    "TG_ATTRIBUTES",
    "HealthCheck",
    "HealthState",
    "Listener",
    "LoadBalancer",
    "NodeMapping",
    "Target",
    "TargetGroup",
    "check_attributes",
    "code_matches",
    "http_codes",
    "listener_arn",
    "listener_keys",
    "load_balancer_arn",
    "new_resource_id",
    "next_health",
    "parse_arn",
    "rule_arn",
    "target_group_arn",
    "transports",
    "trust_store_arn",
]

Tags = tuple[tuple[str, str], ...]


class HealthState(StrEnum):
    INITIAL = "initial"
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"
    UNUSED = "unused"
    DRAINING = "draining"


# AWS's reason codes and descriptions (DescribeTargetHealth's TargetHealth).
REASONS: Final[Mapping[str, str]] = {
    "Elb.RegistrationInProgress": "Target registration is in progress",
    "Elb.InitialHealthChecking": "Initial health checks in progress",
    "Target.FailedHealthChecks": "Health checks failed",
    "Target.Timeout": "Request timed out",
    # Decision 0198: an HTTP check's answer outside its matcher; the description names the
    # code (``description``).
    "Target.ResponseCodeMismatch": "Health checks failed with these codes: [{code}]",
    "Target.NotInUse": "Target group is not configured to receive traffic from the load balancer",
    "Target.NotRegistered": "Target is not registered to the target group",
    "Target.InvalidState": "Target is in the stopped state",
    "Target.DeregistrationInProgress": "Target deregistration is in progress",
}


def new_resource_id() -> str:
    """ELBv2's resource ids: 16 hex digits."""
    return secrets.token_hex(8)


@dataclass(frozen=True, slots=True)
class NodeMapping:
    """One node of a load balancer: its subnet and zone, its address in the subnet, and the
    interface holding that address (a requester-managed ``ELB net/…`` interface)."""

    subnet_id: str
    availability_zone: str
    address: str
    interface_id: str


@dataclass(frozen=True, slots=True)
class LoadBalancer:
    tenant_id: str
    lb_id: str
    name: str
    vpc_id: str
    scheme: str
    nodes: tuple[NodeMapping, ...]
    created_at: datetime
    tags: Tags = ()
    attributes: tuple[tuple[str, str], ...] = ()
    # Session 49: its security groups (none: it was created without, and never gets any, as
    # AWS's NLBs) and EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic, stored ("on" by
    # default as AWS's; no PrivateLink here to enforce it on).
    security_groups: tuple[str, ...] = ()
    enforce_private_link: str = "on"
    # Decision 0216: "network" or "application" (absent from a document: network).
    lb_type: str = "network"

    @property
    def arn_kind(self) -> str:
        """The ARN's and metrics' word for its type: ``net`` or ``app``."""
        return "app" if self.lb_type == "application" else "net"

    def attribute(self, key: str) -> str:
        defaults = ALB_ATTRIBUTES if self.lb_type == "application" else LB_ATTRIBUTES
        return dict(self.attributes).get(key, defaults[key])

    def state(self, now: datetime, provisioning: timedelta) -> str:
        """``provisioning`` for the settings' delay after creation, then ``active``."""
        return "provisioning" if now < self.created_at + provisioning else "active"


@dataclass(frozen=True, slots=True)
class HealthCheck:
    protocol: str = "TCP"
    port: str = "traffic-port"
    interval: int = 30
    timeout: int = 10
    healthy_threshold: int = 5
    unhealthy_threshold: int = 2
    enabled: bool = True
    # Decision 0198, HTTP checks only: the path asked and the codes that pass (an NLB's
    # matcher: codes 200 to 599, "200", "200,202" or "200-299"; 200-399 by default).
    path: str = "/"
    matcher: str = "200-399"


@dataclass(frozen=True, slots=True)
class Target:
    """A registered target (an instance id or an IPv4 address) and its port, with its
    health: the state, AWS's reason code, the consecutive probe outcomes counted toward a
    threshold, and, while draining, when it leaves."""

    target_id: str
    port: int
    address: str
    availability_zone: str = ""
    state: HealthState = HealthState.INITIAL
    reason: str = "Elb.RegistrationInProgress"
    streak: int = 0
    probed: bool = False
    draining_until: datetime | None = None
    # Decision 0198: the HTTP code of the answer that made it unhealthy (0: none).
    code: int = 0

    @property
    def key(self) -> tuple[str, int]:
        return (self.target_id, self.port)

    @property
    def description(self) -> str:
        """AWS's description of its reason."""
        return REASONS.get(self.reason, self.reason).replace("{code}", str(self.code))


@dataclass(frozen=True, slots=True)
class TargetGroup:
    tenant_id: str
    tg_id: str
    name: str
    protocol: str
    port: int
    vpc_id: str
    target_type: str
    health_check: HealthCheck
    created_at: datetime
    targets: tuple[Target, ...] = ()
    tags: Tags = ()
    attributes: tuple[tuple[str, str], ...] = ()
    # The load balancer whose listener forwards to it ("" when none): an NLB's group serves one.
    lb_id: str = ""
    # Decision 0231, an HTTP or HTTPS group's: the secret (hex) sealing its stickiness
    # cookies, made with the group or when an ALB first uses it; never shown by the API.
    sticky_key: str = ""

    def attribute(self, key: str) -> str:
        return dict(self.attributes).get(key, {**TG_ATTRIBUTES, **ALB_TG_ATTRIBUTES}[key])


@dataclass(frozen=True, slots=True)
class Listener:
    tenant_id: str
    listener_id: str
    lb_id: str
    protocol: str
    port: int
    tg_id: str
    created_at: datetime
    tags: Tags = ()
    attributes: tuple[tuple[str, str], ...] = ()
    # Decision 0210, a TLS listener's: its certificates' ARNs (the default first, then those
    # added for SNI), its security policy and its ALPN policy ("" for the other protocols).
    certificates: tuple[str, ...] = ()
    ssl_policy: str = ""
    alpn_policy: str = ""
    # Decision 0216, an HTTP listener's default action (None: an NLB's, forward to tg_id);
    # ``tg_id`` is then its first forward group, "" for a fixed response or a redirect.
    default_action: RuleAction | None = None
    # Decision 0256, an HTTPS listener's mutual TLS (mode off by default).
    mutual: MutualAuthentication = field(default_factory=MutualAuthentication)

    def attribute(self, key: str) -> str:
        return dict(self.attributes).get(key, LISTENER_ATTRIBUTES[key])


# -- ARNs ------------------------------------------------------------------------------------


def load_balancer_arn(region: str, tenant_id: str, name: str, lb_id: str, kind: str = "net") -> str:
    return f"arn:aws:elasticloadbalancing:{region}:{tenant_id}:loadbalancer/{kind}/{name}/{lb_id}"


def trust_store_arn(region: str, tenant_id: str, name: str, store_id: str) -> str:
    return f"arn:aws:elasticloadbalancing:{region}:{tenant_id}:truststore/{name}/{store_id}"


def target_group_arn(region: str, tenant_id: str, name: str, tg_id: str) -> str:
    return f"arn:aws:elasticloadbalancing:{region}:{tenant_id}:targetgroup/{name}/{tg_id}"


def listener_arn(
    region: str, tenant_id: str, lb_name: str, lb_id: str, listener_id: str, kind: str = "net"
) -> str:
    return (
        f"arn:aws:elasticloadbalancing:{region}:{tenant_id}:listener/{kind}/{lb_name}/{lb_id}/"
        f"{listener_id}"
    )


def rule_arn(
    region: str, tenant_id: str, lb_name: str, lb_id: str, listener_id: str, rule_id: str
) -> str:
    """Decision 0216: an ALB listener rule's ARN."""
    return (
        f"arn:aws:elasticloadbalancing:{region}:{tenant_id}:listener-rule/app/{lb_name}/"
        f"{lb_id}/{listener_id}/{rule_id}"
    )


@dataclass(frozen=True, slots=True)
class ParsedArn:
    kind: str  # loadbalancer, targetgroup, listener, rule
    tenant_id: str
    resource_id: str


def parse_arn(arn: str) -> ParsedArn | None:
    """The kind, account and id an ELBv2 ARN names; None when it is no such ARN."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[:3] != ["arn", "aws", "elasticloadbalancing"]:
        return None
    path = parts[5].split("/")
    typed = len(path) > 1 and path[1] in ("net", "app")
    if path[0] == "loadbalancer" and typed and len(path) == 4:
        return ParsedArn("loadbalancer", parts[4], path[3])
    if path[0] == "targetgroup" and len(path) == 3:
        return ParsedArn("targetgroup", parts[4], path[2])
    if path[0] == "listener" and typed and len(path) == 5:
        return ParsedArn("listener", parts[4], path[4])
    if path[:2] == ["listener-rule", "app"] and len(path) == 6:
        return ParsedArn("rule", parts[4], path[5])
    if path[0] == "truststore" and len(path) == 3:  # decision 0256
        return ParsedArn("truststore", parts[4], path[2])
    return None


# -- attributes ------------------------------------------------------------------------------

# ELBv2's documented keys of a network load balancer and their defaults.
LB_ATTRIBUTES: Final[Mapping[str, str]] = {
    "deletion_protection.enabled": "false",
    "load_balancing.cross_zone.enabled": "false",
    "access_logs.s3.enabled": "false",
    "access_logs.s3.bucket": "",
    "access_logs.s3.prefix": "",
    "dns_record.client_routing_policy": "any_availability_zone",
    "ipv6.deny_all_igw_traffic": "false",
    "zonal_shift.config.enabled": "false",
}
# A TCP listener's (an NLB's listeners have this one key).
LISTENER_ATTRIBUTES: Final[Mapping[str, str]] = {"tcp.idle_timeout.seconds": "350"}


def listener_keys(protocol: str) -> Mapping[str, str]:
    """The attributes a listener of ``protocol`` has: a UDP one none (session 50: its TCP
    idle timeout is not there, as ELBv2's console shows no attributes for it)."""
    return {} if protocol in ("UDP", "TLS", "HTTP", "HTTPS") else LISTENER_ATTRIBUTES


# A TCP target group's (instance targets: the client's address is preserved).
TG_ATTRIBUTES: Final[Mapping[str, str]] = {
    "deregistration_delay.timeout_seconds": "300",
    "deregistration_delay.connection_termination.enabled": "false",
    "preserve_client_ip.enabled": "true",
    "proxy_protocol_v2.enabled": "false",
    "stickiness.enabled": "false",
    "stickiness.type": "source_ip",
    "load_balancing.cross_zone.enabled": "use_load_balancer_configuration",
    "target_group_health.dns_failover.minimum_healthy_targets.count": "1",
    "target_group_health.dns_failover.minimum_healthy_targets.percentage": "off",
    "target_group_health.unhealthy_state_routing.minimum_healthy_targets.count": "1",
    "target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage": "off",
    "target_health_state.unhealthy.connection_termination.enabled": "true",
    "target_health_state.unhealthy.draining_interval_seconds": "0",
}
_BOOLEAN: Final = ("true", "false")
# Values a key takes whose behaviour is not here yet (decision 0191): refused, not stored.
# An NLB's access logs (TLS listeners' only at AWS): refused by the service (decision 0264).
_NOT_YET: Final[Mapping[str, str]] = {
    "proxy_protocol_v2.enabled": "true",
    "preserve_client_ip.enabled": "false",
    "stickiness.enabled": "true",
    "ipv6.deny_all_igw_traffic": "true",
    "zonal_shift.config.enabled": "true",
}


def _check_value(key: str, value: str) -> None:
    if check_alb_value(key, value):
        return
    default = LB_ATTRIBUTES.get(key, TG_ATTRIBUTES.get(key, LISTENER_ATTRIBUTES.get(key, "")))
    if default in _BOOLEAN and value not in _BOOLEAN:
        raise LbValidationError(f"The value of attribute '{key}' must be 'true' or 'false'")
    if key == "deregistration_delay.timeout_seconds" and not (
        value.isdigit() and 0 <= int(value) <= 3600
    ):
        raise LbValidationError(
            "The value of 'deregistration_delay.timeout_seconds' must be between 0 and 3600"
        )
    if key == "target_health_state.unhealthy.draining_interval_seconds" and not (
        value.isdigit() and 0 <= int(value) <= 360000
    ):
        raise LbValidationError(
            f"The value of '{key}' must be between 0 and 360000",
        )
    if key == "tcp.idle_timeout.seconds" and not (value.isdigit() and 60 <= int(value) <= 6000):
        raise LbValidationError(
            "The value of 'tcp.idle_timeout.seconds' must be between 60 and 6000"
        )
    if key == "stickiness.type" and value != "source_ip":
        raise LbValidationError("The value of 'stickiness.type' must be 'source_ip'")
    if default == "use_load_balancer_configuration" and value not in (default, *_BOOLEAN):
        raise LbValidationError(f"The value of attribute '{key}' is invalid")
    if key == "dns_record.client_routing_policy" and value not in (
        "any_availability_zone",
        "availability_zone_affinity",
        "partial_availability_zone_affinity",
    ):
        raise LbValidationError(f"The value of attribute '{key}' is invalid")
    if _NOT_YET.get(key) == value:
        raise InvalidConfiguration(
            f"Attribute '{key}' set to '{value}' is not supported here yet (decision 0191)"
        )


def check_attributes(
    known: Mapping[str, str], changes: Mapping[str, str], held: tuple[tuple[str, str], ...]
) -> tuple[tuple[str, str], ...]:
    """``held`` with ``changes`` applied, each key one of ``known`` and its value valid."""
    for key, value in changes.items():
        if key not in known:
            raise LbValidationError(f"Attribute key '{key[:128]}' is not recognized")
        _check_value(key, value)
    merged = dict(held) | dict(changes)
    return tuple(sorted(merged.items()))


# -- health ------------------------------------------------------------------------------------


def http_codes(matcher: str) -> list[tuple[int, int]]:
    """The ranges of an NLB's HTTP matcher ("200", "200,202", "200-299"), each within 200
    to 599 (decision 0198); a malformed one raises LbValidationError."""
    ranges = []
    for part in matcher.split(","):
        low, _, high = part.strip().partition("-")
        if not (low.isdigit() and (not high or high.isdigit())):
            raise LbValidationError(f"Health check matcher HTTP code '{matcher[:32]}' is invalid")
        first, last = int(low), int(high or low)
        if not 200 <= first <= last <= 599:
            raise LbValidationError(
                "Health check matcher HTTP code must be in the range 200 to 599 for a Network "
                "Load Balancer"
            )
        ranges.append((first, last))
    return ranges


def code_matches(matcher: str, code: int) -> bool:
    return any(first <= code <= last for first, last in http_codes(matcher))


def next_health(
    target: Target, ok: bool, *, timed_out: bool, check: HealthCheck, code: int | None = None
) -> Target:
    """The target after one probe: ``healthy_threshold`` successes in a row make it
    healthy, ``unhealthy_threshold`` failures unhealthy (AWS's reason: timed out, an HTTP
    answer's ``code`` outside the matcher, or failed); a draining or unused target is not
    probed."""
    if target.state in (HealthState.DRAINING, HealthState.UNUSED):
        return target
    same_way = (target.streak > 0) == ok and target.streak != 0
    streak = (abs(target.streak) + 1 if same_way else 1) * (1 if ok else -1)
    if ok and streak >= check.healthy_threshold:
        return replace(target, state=HealthState.HEALTHY, reason="", streak=streak, probed=True)
    if not ok and -streak >= check.unhealthy_threshold:
        reason = "Target.Timeout" if timed_out else "Target.FailedHealthChecks"
        if code is not None and not timed_out:
            reason = "Target.ResponseCodeMismatch"
        return replace(
            target,
            state=HealthState.UNHEALTHY,
            reason=reason,
            streak=streak,
            probed=True,
            code=code or 0,
        )
    reason = target.reason
    if target.state is HealthState.INITIAL:
        reason = "Elb.InitialHealthChecking"
    return replace(target, streak=streak, probed=True, reason=reason)


def draining(target: Target, until: datetime) -> Target:
    return replace(
        target,
        state=HealthState.DRAINING,
        reason="Target.DeregistrationInProgress",
        draining_until=until,
    )


# Session 50: the protocols of an NLB's listeners and target groups here, the transports
# each carries, and the target groups' protocols a listener of each may forward to (ELBv2:
# "A TCP_UDP listener must be associated with a TCP_UDP target group"; a TCP_UDP group takes
# a TCP or a UDP listener's flows too, which then carry that listener's transport only).
# Decision 0210: TLS, terminated by the router (a TLS listener forwards to a TCP or a TLS
# group; a TLS group is forwarded to by TLS listeners only).
NLB_PROTOCOLS: Final = ("TCP", "UDP", "TCP_UDP", "TLS")
_TRANSPORTS: Final[Mapping[str, tuple[str, ...]]] = {
    "TCP": ("tcp",),
    "TLS": ("tcp",),
    "UDP": ("udp",),
    "TCP_UDP": ("tcp", "udp"),
}
LISTENER_GROUPS: Final[Mapping[str, tuple[str, ...]]] = {
    "TCP": ("TCP", "TCP_UDP"),
    "UDP": ("UDP", "TCP_UDP"),
    "TCP_UDP": ("TCP_UDP",),
    "TLS": ("TCP", "TLS"),
}


def transports(protocol: str) -> tuple[str, ...]:
    """The transports (nftables' ``tcp``, ``udp``) a listener's protocol carries."""
    return _TRANSPORTS.get(protocol, ("tcp",))


@dataclass(frozen=True, slots=True)
class ForwardingView:
    """What a router renders for one listener (decision 0191): its addresses and port, and
    the targets flows go to — the healthy ones, or every registered one when none is
    (AWS's fail-open)."""

    listener_id: str
    vpc_id: str
    addresses: tuple[str, ...]
    port: int
    targets: tuple[tuple[str, int], ...] = field(default=())
    # Session 49: the load balancer's security groups' ingress as (protocol, from port, to
    # port, CIDR) — None when it has no groups (every client reaches the listener).
    allowed: tuple[tuple[str, int, int, str], ...] | None = None
    # The zone of each node address, for the flow metrics' AvailabilityZone dimension.
    zones: tuple[tuple[str, str], ...] = ()
    # What its metrics name: the tenant, ``net/NAME/ID`` and ``targetgroup/NAME/ID``.
    tenant_id: str = ""
    lb_dimension: str = ""
    tg_dimension: str = ""
    # Session 50: the transports the listener carries (``tcp``, ``udp`` or both).
    protocols: tuple[str, ...] = ("tcp",)
    # Decision 0210: a TLS listener's settings — its flows are not translated by the kernel
    # but accepted by the router's TLS terminator, which forwards them to ``targets``.
    tls: TlsSettings | None = None
    # Decision 0216: an HTTP listener's rules and groups — its connections, as a TLS
    # listener's, are accepted by the router's HTTP proxy, not translated.
    http: HttpSettings | None = None

    @property
    def terminated(self) -> bool:
        """Whether a server of the router answers its connections (TLS or HTTP)."""
        return self.tls is not None or self.http is not None


def forwarding(lb: LoadBalancer, listener: Listener, group: TargetGroup) -> ForwardingView:
    live = [t for t in group.targets if t.state is not HealthState.DRAINING]
    healthy = [t for t in live if t.state is HealthState.HEALTHY]
    chosen = healthy or [t for t in live if t.state is not HealthState.UNUSED]
    return ForwardingView(
        listener_id=listener.listener_id,
        vpc_id=lb.vpc_id,
        addresses=tuple(n.address for n in lb.nodes),
        port=listener.port,
        targets=tuple(sorted((t.address, t.port) for t in chosen)),
        zones=tuple((n.address, n.availability_zone) for n in lb.nodes),
        tenant_id=lb.tenant_id,
        lb_dimension=f"{lb.arn_kind}/{lb.name}/{lb.lb_id}",
        tg_dimension=f"targetgroup/{group.name}/{group.tg_id}",
        protocols=transports(listener.protocol),
        tls=TlsSettings(
            certificates=listener.certificates,
            ssl_policy=listener.ssl_policy or DEFAULT_SSL_POLICY,
            alpn_policy=listener.alpn_policy or "None",
            target_tls=group.protocol == "TLS",
        )
        if listener.protocol == "TLS"
        else None,
    )
