"""What the ELBv2 Query handlers share (decision 0191): the domain errors in AWS's codes,
Marker/PageSize pages, the lists and tags of a call, and the XML of each resource."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Final, TypeVar

from andromede.http.xml import XmlWriter
from andromede.iamapi.errors import QueryError
from andromede.iamapi.protocol import Call, iso8601
from andromede.loadbalancing.errors import (
    Duplicate,
    IncompatibleProtocols,
    InvalidAction,
    InvalidConfiguration,
    InvalidSecurityGroup,
    InvalidSubnet,
    InvalidTarget,
    LoadBalancingError,
    NotFound,
    NotPermitted,
    Refused,
    ResourceInUse,
    TooMany,
)
from andromede.loadbalancing.model import (
    Listener,
    LoadBalancer,
    Tags,
    Target,
    TargetGroup,
)
from andromede.loadbalancing.service import LoadBalancingService

__all__ = [
    "NAMESPACE",
    "guarded",
    "page",
    "refuse_unhandled",
    "tags",
    "write_group",
    "write_health",
    "write_listener",
    "write_load_balancer",
]

NAMESPACE: Final = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"
_T = TypeVar("_T")
_PAGE_MARK: Final = "elb-page:"


def wire_error(exc: LoadBalancingError) -> QueryError:
    if isinstance(exc, NotFound | Duplicate | TooMany | Refused):
        return QueryError(exc.code, str(exc))
    for kind, code in (
        (InvalidConfiguration, "InvalidConfigurationRequest"),
        (InvalidAction, "InvalidLoadBalancerAction"),
        (IncompatibleProtocols, "IncompatibleProtocols"),
        (InvalidTarget, "InvalidTarget"),
        (InvalidSubnet, "InvalidSubnet"),
        (InvalidSecurityGroup, "InvalidSecurityGroup"),
        (ResourceInUse, "ResourceInUse"),
        (NotPermitted, "OperationNotPermitted"),
    ):
        if isinstance(exc, kind):
            return QueryError(code, str(exc))
    return QueryError("ValidationError", str(exc))


def refuse_unhandled(call: Call, handled: str) -> None:
    """ValidationError for a parameter outside ``handled`` (a regular expression)."""
    pattern = re.compile(rf"^(Action|Version|{handled})$")
    for name in call.params:
        if not pattern.match(name):
            raise QueryError(
                "ValidationError",
                f"{call.action}: the parameter {name[:64]} is not supported here yet "
                "(decisions 0191, 0210)",
            )


def guarded(handler: Callable[[Call], Awaitable[None]]) -> Callable[[Call], Awaitable[None]]:
    """``handler`` with the domain's refusals in ELBv2's codes."""

    async def run(call: Call) -> None:
        try:
            await handler(call)
        except LoadBalancingError as exc:
            raise wire_error(exc) from exc

    return run


def page(call: Call, items: list[_T], key: Callable[[_T], str]) -> tuple[list[_T], str | None]:
    """PageSize (1-400, 400 by default) of ``items`` after the Marker's key."""
    limit = call.integer("PageSize", minimum=1, maximum=400, default=400)
    marker = call.get("Marker")
    if marker:
        try:
            decoded = base64.b64decode(marker.encode(), altchars=b"-_", validate=True).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
            raise QueryError("ValidationError", "The marker is invalid") from exc
        if not decoded.startswith(_PAGE_MARK):
            raise QueryError("ValidationError", "The marker is invalid")
        after = decoded[len(_PAGE_MARK) :]
        items = [i for i in items if key(i) > after]
    chosen = items[:limit]
    if len(items) <= limit:
        return chosen, None
    return chosen, base64.urlsafe_b64encode(f"{_PAGE_MARK}{key(chosen[-1])}".encode()).decode()


def tags(call: Call, prefix: str = "Tags") -> Tags:
    found = []
    index = 1
    while (key := call.get(f"{prefix}.member.{index}.Key")) is not None:
        found.append((key, call.get(f"{prefix}.member.{index}.Value") or ""))
        index += 1
    return tuple(found)


def attributes(call: Call) -> dict[str, str]:
    found: dict[str, str] = {}
    index = 1
    while (key := call.get(f"Attributes.member.{index}.Key")) is not None:
        found[key] = call.get(f"Attributes.member.{index}.Value") or ""
        index += 1
    if not found:
        raise QueryError("ValidationError", "At least one attribute must be specified")
    return found


def write_attributes(xml: XmlWriter, shown: Sequence[tuple[str, str]]) -> None:
    xml.open("Attributes")
    for key, value in shown:
        xml.open("member")
        xml.element("Key", key)
        xml.element("Value", value)
        xml.close("member")
    xml.close("Attributes")


def hosted_zone(region: str) -> str:
    """A stable hosted zone id per Region, as AWS gives each Region's NLBs one."""
    return "Z" + hashlib.sha256(f"elb:{region}".encode()).hexdigest()[:13].upper()


def write_load_balancer(
    xml: XmlWriter, service: LoadBalancingService, lb: LoadBalancer, dns_domain: str
) -> None:
    xml.element("LoadBalancerArn", service.lb_arn(lb))
    xml.element("DNSName", f"{lb.name}-{lb.lb_id}.elb.{service.region}.{dns_domain}")
    xml.element("CanonicalHostedZoneId", hosted_zone(service.region))
    xml.element("CreatedTime", iso8601(lb.created_at))
    xml.element("LoadBalancerName", lb.name)
    xml.element("Scheme", lb.scheme)
    xml.element("VpcId", lb.vpc_id)
    xml.open("State")
    xml.element("Code", service.state(lb))
    xml.close("State")
    xml.element("Type", lb.lb_type)
    xml.open("AvailabilityZones")
    for node in lb.nodes:
        xml.open("member")
        xml.element("ZoneName", node.availability_zone)
        xml.element("SubnetId", node.subnet_id)
        xml.open("LoadBalancerAddresses")
        xml.open("member")
        xml.element("PrivateIPv4Address", node.address)
        xml.close("member")
        xml.close("LoadBalancerAddresses")
        xml.close("member")
    xml.close("AvailabilityZones")
    if lb.security_groups:  # session 49: shown when it has some, as AWS's
        xml.open("SecurityGroups")
        for group_id in lb.security_groups:
            xml.element("member", group_id)
        xml.close("SecurityGroups")
        xml.element("EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic", lb.enforce_private_link)
    xml.element("IpAddressType", "ipv4")


def write_group(
    xml: XmlWriter, service: LoadBalancingService, group: TargetGroup, lb_arns: Sequence[str]
) -> None:
    check = group.health_check
    xml.element("TargetGroupArn", service.tg_arn(group))
    xml.element("TargetGroupName", group.name)
    xml.element("Protocol", group.protocol)
    xml.element("Port", group.port)
    xml.element("VpcId", group.vpc_id)
    xml.element("HealthCheckProtocol", check.protocol)
    xml.element("HealthCheckPort", check.port)
    xml.element("HealthCheckEnabled", "true" if check.enabled else "false")
    xml.element("HealthCheckIntervalSeconds", check.interval)
    xml.element("HealthCheckTimeoutSeconds", check.timeout)
    xml.element("HealthyThresholdCount", check.healthy_threshold)
    xml.element("UnhealthyThresholdCount", check.unhealthy_threshold)
    if check.protocol != "TCP":  # shown for HTTP(S) checks only, as ELBv2 does (decision 0198)
        xml.element("HealthCheckPath", check.path)
        xml.open("Matcher")
        xml.element("HttpCode", check.matcher)
        xml.close("Matcher")
    xml.open("LoadBalancerArns")
    for arn in lb_arns:
        xml.element("member", arn)
    xml.close("LoadBalancerArns")
    xml.element("TargetType", group.target_type)
    if group.protocol in ("HTTP", "HTTPS"):  # decision 0216
        xml.element("ProtocolVersion", "HTTP1")
    xml.element("IpAddressType", "ipv4")


def write_listener(
    xml: XmlWriter, service: LoadBalancingService, lb: LoadBalancer, listener: Listener, tg_arn: str
) -> None:
    xml.element("ListenerArn", service.listener_arn(lb, listener))
    xml.element("LoadBalancerArn", service.lb_arn(lb))
    xml.element("Port", listener.port)
    xml.element("Protocol", listener.protocol)
    if listener.protocol == "TLS":  # decision 0210: the default certificate only, as ELBv2
        xml.open("Certificates")
        xml.open("member")
        xml.element("CertificateArn", listener.certificates[0] if listener.certificates else "")
        xml.close("member")
        xml.close("Certificates")
        xml.element("SslPolicy", listener.ssl_policy)
        xml.open("AlpnPolicy")
        xml.element("member", listener.alpn_policy or "None")
        xml.close("AlpnPolicy")
    xml.open("DefaultActions")
    xml.open("member")
    xml.element("Type", "forward")
    xml.element("TargetGroupArn", tg_arn)
    xml.open("ForwardConfig")
    xml.open("TargetGroups")
    xml.open("member")
    xml.element("TargetGroupArn", tg_arn)
    xml.element("Weight", 1)
    xml.close("member")
    xml.close("TargetGroups")
    xml.close("ForwardConfig")
    xml.close("member")
    xml.close("DefaultActions")


def write_health(xml: XmlWriter, group: TargetGroup, target: Target) -> None:
    xml.open("member")
    xml.open("Target")
    xml.element("Id", target.target_id)
    xml.element("Port", target.port)
    if target.availability_zone:
        xml.element("AvailabilityZone", target.availability_zone)
    xml.close("Target")
    check_port = group.health_check.port
    xml.element("HealthCheckPort", str(target.port) if check_port == "traffic-port" else check_port)
    xml.open("TargetHealth")
    xml.element("State", str(target.state))
    if target.reason:
        xml.element("Reason", target.reason)
        xml.element("Description", target.description)
    xml.close("TargetHealth")
    xml.close("member")
