"""Elastic Load Balancing's calls (decision 0191) the console's load balancer and target
group pages make, in process as the signed-in principal through the Query machinery
(``wire.QueryWire``): ELBv2's own authorisation (``elasticloadbalancing:<Action>``), checks,
audit and errors answer them. Each answer is read into the small rows the pages show; nothing
here decides what ELBv2 allows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final
from xml.etree.ElementTree import Element

from andromede.console.wire import QueryWire
from andromede.console.wire_elb_rules import ActionChoice, ActionRow, action_params, read_action
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = [
    "ACCESS_LOGS_BUCKET",
    "ACCESS_LOGS_ENABLED",
    "ACCESS_LOGS_PREFIX",
    "CONNECTION_LOGS_BUCKET",
    "CONNECTION_LOGS_ENABLED",
    "CONNECTION_LOGS_PREFIX",
    "DELETION_PROTECTION",
    "ElbWire",
    "ListenerRow",
    "LoadBalancerRow",
    "TargetGroupRow",
    "TargetRow",
    "TlsChoice",
]

DELETION_PROTECTION: Final = "deletion_protection.enabled"
# A load balancer's access logs' attributes (decisions 0264 and 0269; the console's, 0279).
ACCESS_LOGS_ENABLED: Final = "access_logs.s3.enabled"
ACCESS_LOGS_BUCKET: Final = "access_logs.s3.bucket"
ACCESS_LOGS_PREFIX: Final = "access_logs.s3.prefix"
CONNECTION_LOGS_ENABLED: Final = "connection_logs.s3.enabled"  # decision 0287
CONNECTION_LOGS_BUCKET: Final = "connection_logs.s3.bucket"
CONNECTION_LOGS_PREFIX: Final = "connection_logs.s3.prefix"


@dataclass(frozen=True, slots=True)
class LoadBalancerRow:
    arn: str
    name: str
    dns_name: str
    state: str
    scheme: str
    vpc_id: str
    subnets: tuple[str, ...]
    created: str
    security_groups: tuple[str, ...] = ()  # session 49 (decision 0191 addendum)
    lb_type: str = "network"  # or "application" (decision 0216)
    canonical_zone_id: str = ""  # an alias record's target zone (decision 0290)


@dataclass(frozen=True, slots=True)
class ListenerRow:
    arn: str
    protocol: str
    port: str
    target_group_arn: str
    # A TLS listener's (decision 0210): its default certificate, security and ALPN policies.
    certificate_arn: str = ""
    ssl_policy: str = ""
    alpn_policy: str = ""
    # Its default action in full (an ALB's listener: forward, fixed-response or redirect).
    default_action: ActionRow | None = None
    # An HTTPS listener's mutual authentication (decision 0256): off, passthrough or verify.
    mutual_mode: str = ""
    trust_store_arn: str = ""

    @property
    def target_group_name(self) -> str:
        """The name inside the ARN (``…:targetgroup/NAME/ID``), for the link to its page."""
        parts = self.target_group_arn.rsplit(":", 1)[-1].split("/")
        return parts[1] if len(parts) == 3 else self.target_group_arn


@dataclass(frozen=True, slots=True)
class TlsChoice:
    """A TLS listener's form (decision 0210): the default certificate (an IAM server
    certificate's ARN), the security policy and the ALPN policy ("": ELBv2's defaults)."""

    certificate_arn: str
    ssl_policy: str
    alpn_policy: str


@dataclass(frozen=True, slots=True)
class TargetGroupRow:
    arn: str
    name: str
    protocol: str
    port: str
    vpc_id: str
    target_type: str
    interval: str
    healthy_threshold: str
    unhealthy_threshold: str
    load_balancers: tuple[str, ...]  # their ARNs
    # The health check's protocol (TCP or HTTP), and an HTTP check's path and codes (0198).
    check_protocol: str = "TCP"
    check_path: str = ""
    matcher: str = ""


@dataclass(frozen=True, slots=True)
class TargetRow:
    target_id: str
    port: str
    state: str
    reason: str
    description: str


def _text(element: Element, path: str) -> str:
    return element.findtext(path) or ""


def _load_balancer(item: Element) -> LoadBalancerRow:
    return LoadBalancerRow(
        arn=_text(item, "LoadBalancerArn"),
        name=_text(item, "LoadBalancerName"),
        dns_name=_text(item, "DNSName"),
        state=_text(item, "State/Code"),
        scheme=_text(item, "Scheme"),
        vpc_id=_text(item, "VpcId"),
        subnets=tuple(_text(z, "SubnetId") for z in item.iterfind("AvailabilityZones/member")),
        created=_text(item, "CreatedTime").replace("T", " ")[:19],
        security_groups=tuple(m.text or "" for m in item.iterfind("SecurityGroups/member")),
        lb_type=_text(item, "Type") or "network",
        canonical_zone_id=_text(item, "CanonicalHostedZoneId"),
    )


def _group(item: Element) -> TargetGroupRow:
    return TargetGroupRow(
        arn=_text(item, "TargetGroupArn"),
        name=_text(item, "TargetGroupName"),
        protocol=_text(item, "Protocol"),
        port=_text(item, "Port"),
        vpc_id=_text(item, "VpcId"),
        target_type=_text(item, "TargetType"),
        interval=_text(item, "HealthCheckIntervalSeconds"),
        healthy_threshold=_text(item, "HealthyThresholdCount"),
        unhealthy_threshold=_text(item, "UnhealthyThresholdCount"),
        load_balancers=tuple(m.text or "" for m in item.iterfind("LoadBalancerArns/member")),
        check_protocol=_text(item, "HealthCheckProtocol"),
        check_path=_text(item, "HealthCheckPath"),
        matcher=_text(item, "Matcher/HttpCode"),
    )


def _members(name: str, values: Sequence[str]) -> dict[str, str]:
    return {f"{name}.member.{n}": v for n, v in enumerate(values, start=1)}


def _tags(tags: Sequence[tuple[str, str]]) -> dict[str, str]:
    params: dict[str, str] = {}
    for n, (key, value) in enumerate(tags, start=1):
        params[f"Tags.member.{n}.Key"] = key
        params[f"Tags.member.{n}.Value"] = value
    return params


class ElbWire(QueryWire):
    """The ELBv2 calls the console makes, as ``principal``, for the request ``origin``."""

    version = "2015-12-01"

    async def _every(
        self, origin: Scope, who: Principal, action: str, params: Mapping[str, str]
    ) -> list[Element]:
        """Every page of a Describe call (its NextMarker followed)."""
        roots: list[Element] = []
        marker = ""
        while True:
            sent = {**params, **({"Marker": marker} if marker else {})}
            root = await self.call(origin, who, action, sent)
            roots.append(root)
            marker = _text(root, ".//NextMarker")
            if not marker:
                return roots

    async def load_balancers(
        self, origin: Scope, who: Principal, names: Sequence[str] = ()
    ) -> list[LoadBalancerRow]:
        """The caller's load balancers (those named, when ``names``: LoadBalancerNotFound
        for one that is not)."""
        roots = await self._every(origin, who, "DescribeLoadBalancers", _members("Names", names))
        return [_load_balancer(m) for r in roots for m in r.iterfind(".//LoadBalancers/member")]

    async def create_load_balancer(
        self,
        origin: Scope,
        who: Principal,
        name: str,
        subnets: Sequence[str],
        tags: Sequence[tuple[str, str]],
        *,
        security_groups: Sequence[str] = (),
        lb_type: str = "network",
    ) -> str:
        """The new internal load balancer's ARN, of ``lb_type`` network or application
        (with ``security_groups``, which an NLB made without can never have — ELBv2 then
        refuses SetSecurityGroups — and an ALB requires)."""
        params = {
            "Name": name,
            "Type": lb_type,
            "Scheme": "internal",
            **_members("Subnets", subnets),
            **_members("SecurityGroups", security_groups),
            **_tags(tags),
        }
        root = await self.call(origin, who, "CreateLoadBalancer", params)
        return _text(root, ".//LoadBalancers/member/LoadBalancerArn")

    async def delete_load_balancer(self, origin: Scope, who: Principal, arn: str) -> None:
        await self.call(origin, who, "DeleteLoadBalancer", {"LoadBalancerArn": arn})

    async def load_balancer_attributes(
        self, origin: Scope, who: Principal, arn: str
    ) -> dict[str, str]:
        root = await self.call(
            origin, who, "DescribeLoadBalancerAttributes", {"LoadBalancerArn": arn}
        )
        return {_text(m, "Key"): _text(m, "Value") for m in root.iterfind(".//Attributes/member")}

    async def modify_attributes(
        self, origin: Scope, who: Principal, arn: str, attributes: Mapping[str, str]
    ) -> None:
        """ModifyLoadBalancerAttributes of the attributes given (the others kept)."""
        params = {"LoadBalancerArn": arn}
        for n, (key, value) in enumerate(attributes.items(), start=1):
            params[f"Attributes.member.{n}.Key"] = key
            params[f"Attributes.member.{n}.Value"] = value
        await self.call(origin, who, "ModifyLoadBalancerAttributes", params)

    async def set_security_groups(
        self, origin: Scope, who: Principal, arn: str, group_ids: Sequence[str]
    ) -> None:
        """SetSecurityGroups: the load balancer's whole set (decision 0191 addendum)."""
        params = {"LoadBalancerArn": arn, **_members("SecurityGroups", group_ids)}
        await self.call(origin, who, "SetSecurityGroups", params)

    async def tags(self, origin: Scope, who: Principal, arn: str) -> list[tuple[str, str]]:
        root = await self.call(origin, who, "DescribeTags", {"ResourceArns.member.1": arn})
        return [
            (_text(m, "Key"), _text(m, "Value"))
            for m in root.iterfind(".//TagDescriptions/member/Tags/member")
        ]

    async def listeners(self, origin: Scope, who: Principal, lb_arn: str) -> list[ListenerRow]:
        roots = await self._every(origin, who, "DescribeListeners", {"LoadBalancerArn": lb_arn})
        return [
            ListenerRow(
                arn=_text(m, "ListenerArn"),
                protocol=_text(m, "Protocol"),
                port=_text(m, "Port"),
                target_group_arn=_text(m, "DefaultActions/member/TargetGroupArn"),
                certificate_arn=_text(m, "Certificates/member/CertificateArn"),
                ssl_policy=_text(m, "SslPolicy"),
                alpn_policy=_text(m, "AlpnPolicy/member"),
                default_action=None if action is None else read_action(action),
                mutual_mode=_text(m, "MutualAuthentication/Mode"),
                trust_store_arn=_text(m, "MutualAuthentication/TrustStoreArn"),
            )
            for r in roots
            for m in r.iterfind(".//Listeners/member")
            for action in [m.find("DefaultActions/member")]
        ]

    async def create_listener(
        self,
        origin: Scope,
        who: Principal,
        lb_arn: str,
        port: str,
        default_action: ActionChoice,
        protocol: str = "TCP",
        tls: TlsChoice | None = None,
    ) -> None:
        """A ``protocol`` (TCP, UDP, TCP_UDP, TLS; an ALB's HTTP, HTTPS) listener on
        ``port`` with its default action (an NLB's: forward; ELBv2 decides which groups a
        protocol may forward to); a TLS or HTTPS listener's certificate and policies in
        ``tls`` (empty ones not sent: ELBv2's own)."""
        params = {
            "LoadBalancerArn": lb_arn,
            "Protocol": protocol or "TCP",
            "Port": port,
            **action_params("DefaultActions", default_action),
        }
        if tls is not None:
            chosen = {
                "Certificates.member.1.CertificateArn": tls.certificate_arn,
                "SslPolicy": tls.ssl_policy,
                "AlpnPolicy.member.1": tls.alpn_policy,
            }
            params.update({k: v for k, v in chosen.items() if v})
        await self.call(origin, who, "CreateListener", params)

    async def ssl_policies(self, origin: Scope, who: Principal) -> list[str]:
        """The security policies' names (DescribeSSLPolicies), in ELBv2's order."""
        roots = await self._every(origin, who, "DescribeSSLPolicies", {})
        return [_text(m, "Name") for r in roots for m in r.iterfind(".//SslPolicies/member")]

    async def listener_certificates(
        self, origin: Scope, who: Principal, listener_arn: str
    ) -> list[tuple[str, bool]]:
        """A TLS listener's certificates (DescribeListenerCertificates): (ARN, is default)."""
        roots = await self._every(
            origin, who, "DescribeListenerCertificates", {"ListenerArn": listener_arn}
        )
        return [
            (_text(m, "CertificateArn"), _text(m, "IsDefault") == "true")
            for r in roots
            for m in r.iterfind(".//Certificates/member")
        ]

    async def change_listener_certificate(
        self, origin: Scope, who: Principal, action: str, listener_arn: str, certificate_arn: str
    ) -> None:
        """``action``: AddListenerCertificates or RemoveListenerCertificates, of one (SNI)
        certificate."""
        params = {
            "ListenerArn": listener_arn,
            "Certificates.member.1.CertificateArn": certificate_arn,
        }
        await self.call(origin, who, action, params)

    async def delete_listener(self, origin: Scope, who: Principal, arn: str) -> None:
        await self.call(origin, who, "DeleteListener", {"ListenerArn": arn})

    async def target_groups(
        self, origin: Scope, who: Principal, names: Sequence[str] = ()
    ) -> list[TargetGroupRow]:
        roots = await self._every(origin, who, "DescribeTargetGroups", _members("Names", names))
        return [_group(m) for r in roots for m in r.iterfind(".//TargetGroups/member")]

    async def create_target_group(
        self, origin: Scope, who: Principal, fields: Mapping[str, str]
    ) -> str:
        """The new target group's ARN. ``fields``: ELBv2's parameters (Name, Protocol — TCP
        when not given —, Port, VpcId, TargetType, the health check's); empty ones are not sent
        (ELBv2's defaults)."""
        params = {"Protocol": "TCP", **{k: v for k, v in fields.items() if v}}
        root = await self.call(origin, who, "CreateTargetGroup", params)
        return _text(root, ".//TargetGroups/member/TargetGroupArn")

    async def delete_target_group(self, origin: Scope, who: Principal, arn: str) -> None:
        await self.call(origin, who, "DeleteTargetGroup", {"TargetGroupArn": arn})

    async def target_health(self, origin: Scope, who: Principal, arn: str) -> list[TargetRow]:
        root = await self.call(origin, who, "DescribeTargetHealth", {"TargetGroupArn": arn})
        return [
            TargetRow(
                target_id=_text(m, "Target/Id"),
                port=_text(m, "Target/Port"),
                state=_text(m, "TargetHealth/State"),
                reason=_text(m, "TargetHealth/Reason"),
                description=_text(m, "TargetHealth/Description"),
            )
            for m in root.iterfind(".//TargetHealthDescriptions/member")
        ]

    async def change_targets(
        self, origin: Scope, who: Principal, action: str, arn: str, target_id: str, port: str
    ) -> None:
        """``action``: RegisterTargets or DeregisterTargets, of one target (``port`` "":
        the group's)."""
        params = {"TargetGroupArn": arn, "Targets.member.1.Id": target_id}
        if port:
            params["Targets.member.1.Port"] = port
        await self.call(origin, who, action, params)
