"""A VPC gateway endpoint's record and EC2's rules for it, pure (decision 0160).

A **gateway endpoint** (``vpce-…``) lets the instances of a VPC reach a regional service — here
the object store, EC2's ``com.amazonaws.<region>.s3`` — without a public address, an internet
gateway or a NAT gateway. It is a route in each route table it is associated with: the
service's AWS-managed **prefix list** (``pl-…``, whose blocks are the service's addresses as the
guests see them) to the endpoint, origin ``CreateRoute``, as EC2 shows it. Its **policy** (an
IAM document whose default allows everything) is evaluated for every request that comes through
it, besides the caller's and the bucket's (``iam/policy``); those requests carry
``aws:SourceVpce`` and ``aws:SourceVpc`` (``iam/endpoint_origin.py``).

An **Interface endpoint** (decision 0166, PrivateLink) is instead a requester-managed network
interface (type ``vpc_endpoint``) in each subnet it is given, under security groups: what
the VPC sends to those addresses (TCP 80 and 443) reaches the same listener and gate as a
gateway endpoint's (:func:`interface_endpoint_routes`), and with private DNS on the VPC's
resolver answers the platform's names with them. Its service is the object store, KMS, SQS,
SNS, STS (decision 0174), EC2, CloudWatch, Auto Scaling, CloudWatch Logs or Secrets Manager
(its session-48 addenda):
:data:`INTERFACE_SERVICES`, whose requests the gateway's gate hands to that API only.
``GatewayLoadBalancer`` endpoints are refused (EC2's ``InvalidParameterValue`` naming the
type).
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Final

from andromede.compute.driver_network import (
    EndpointRoute,
    FirewallRule,
)
from andromede.compute.endpoint_ports import INTERFACE_SLOTS
from andromede.compute.errors import InvalidParameterValue, MissingParameter
from andromede.compute.network import NetworkInterface, Subnet
from andromede.compute.resource_ids import FORMAT_VERSION, Tags
from andromede.compute.routing import Route, RouteTable, table_of_subnet

__all__ = [
    "DEFAULT_POLICY",
    "ENI_TYPE",
    "INTERFACE_SERVICES",
    "POLICY_MAX",
    "EndpointType",
    "InterfaceEndpointChange",
    "InterfaceEndpointRequest",
    "VpcEndpoint",
    "check_endpoint_type",
    "check_policy",
    "endpoint_routes",
    "endpoint_service",
    "interface_endpoint_routes",
    "interface_service_names",
    "is_endpoint_route",
    "managed_prefix_list_id",
    "service_names",
]

# EC2's default policy of a gateway endpoint: full access to the service.
DEFAULT_POLICY: Final = json.dumps(
    {
        "Version": "2008-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"},
        ],
    },
    separators=(",", ":"),
)
# The APIs an Interface endpoint may reach (decisions 0174 and its session-48 addendum), one
# entry a service: the last label of its service name (which is also the SigV4 credential
# scope's service, by which the gateway's front picks the API) → the prefix of its actions,
# which its endpoint's policy and condition keys bind (CloudWatch signs as ``monitoring`` and
# names its actions ``cloudwatch:…``). A gateway endpoint reaches the object store only (AWS:
# S3 and DynamoDB).
INTERFACE_SERVICES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "s3": "s3",
        "kms": "kms",
        "sqs": "sqs",
        "sns": "sns",
        "sts": "sts",
        "ec2": "ec2",
        "monitoring": "cloudwatch",
        "autoscaling": "autoscaling",
        # Session 48 (decisions 0186 and 0190's APIs): their scope and prefix are one name.
        "logs": "logs",
        "secretsmanager": "secretsmanager",
    }
)
# The ``interfaceType`` of an Interface endpoint's network interfaces, as EC2 shows it.
ENI_TYPE: Final = "vpc_endpoint"
# EC2's limit of an endpoint policy's size, in characters (whitespace included).
POLICY_MAX: Final = 20480


class EndpointType(enum.StrEnum):
    GATEWAY = "Gateway"
    INTERFACE = "Interface"
    GATEWAY_LOAD_BALANCER = "GatewayLoadBalancer"


@dataclass(frozen=True, slots=True)
class VpcEndpoint:
    vpc_endpoint_id: str
    tenant_id: str
    vpc_id: str
    # The name the caller used (EC2's ``com.amazonaws.<region>.s3`` or the platform's own).
    service_name: str
    # The AWS-managed prefix list its routes name.
    prefix_list_id: str
    route_table_ids: tuple[str, ...]
    policy_document: str
    created: datetime
    tags: Tags = ()
    client_token: str | None = None
    request_digest: str = ""
    format_version: int = FORMAT_VERSION
    revision: int = 0
    # Decision 0166 (records before it read as a gateway's): an Interface endpoint has no
    # tables but subnets, each with one of its network interfaces (in the subnets' order),
    # its security groups, and whether the VPC's resolver answers the service's names with
    # its interfaces' addresses.
    endpoint_type: str = EndpointType.GATEWAY.value
    subnet_ids: tuple[str, ...] = ()
    network_interface_ids: tuple[str, ...] = ()
    group_ids: tuple[str, ...] = ()
    private_dns_enabled: bool = False

    @property
    def resource_id(self) -> str:
        return self.vpc_endpoint_id

    @property
    def interface(self) -> bool:
        return self.endpoint_type == EndpointType.INTERFACE.value


@dataclass(frozen=True, slots=True)
class InterfaceEndpointRequest:
    """CreateVpcEndpoint's parameters of an Interface endpoint (decision 0166)."""

    vpc_id: str
    service_name: str | None
    subnet_ids: tuple[str, ...]
    group_ids: tuple[str, ...] = ()
    private_dns_enabled: bool = True  # EC2's default for an AWS service
    policy: str | None = None
    tags: Tags = ()
    client_token: str | None = None


@dataclass(frozen=True, slots=True)
class InterfaceEndpointChange:
    """ModifyVpcEndpoint's parameters of an Interface endpoint (decision 0166)."""

    add_subnet_ids: tuple[str, ...] = ()
    remove_subnet_ids: tuple[str, ...] = ()
    add_group_ids: tuple[str, ...] = ()
    remove_group_ids: tuple[str, ...] = ()
    private_dns_enabled: bool | None = None

    def __bool__(self) -> bool:
        return self != InterfaceEndpointChange()


def service_names(region: str, service: str = "s3") -> tuple[str, str]:
    """The names of one of the region's endpoint services (the object store by default):
    EC2's, then the platform's own (the reverse of its endpoint's DNS name, as EC2's names of
    non-AWS services are)."""
    return f"com.amazonaws.{region}.{service}", f"eu.andromede.{region}.{service}"


def interface_service_names(region: str) -> tuple[str, ...]:
    """The names of every service an Interface endpoint may reach (decision 0174), each
    service's EC2 name then the platform's, in :data:`INTERFACE_SERVICES`' order."""
    return tuple(name for service in INTERFACE_SERVICES for name in service_names(region, service))


def endpoint_service(service_name: str) -> str:
    """The API an endpoint's service name names, as the gateway's front names it (``kms``,
    ``monitoring``): a key of :data:`INTERFACE_SERVICES`."""
    return service_name.rsplit(".", 1)[-1]


def managed_prefix_list_id(region: str) -> str:
    """The id of the region's AWS-managed prefix list of the object store: stable (derived
    from the region), as EC2's are per region."""
    digest = hashlib.sha256(f"andromede-managed-pl:{region}:s3".encode()).hexdigest()
    return f"pl-{digest[:8]}"


def check_endpoint_type(value: str | None) -> EndpointType:
    """``VpcEndpointType``: Gateway (EC2's default) or Interface."""
    if value is None:
        return EndpointType.GATEWAY
    try:
        kind = EndpointType(value)
    except ValueError:
        raise InvalidParameterValue(f"Invalid value '{value[:32]}' for VpcEndpointType") from None
    if kind is EndpointType.GATEWAY_LOAD_BALANCER:
        raise InvalidParameterValue(
            f"VpcEndpointType {kind.value} is not supported: only Gateway and Interface"
            " endpoints are made here (to the object store)"
        )
    return kind


def check_policy(text: str | None) -> str:
    """A ``PolicyDocument``: the default when none is given; JSON of an object otherwise,
    within EC2's size. Its grammar is the policy engine's to check (the service does)."""
    if text is None:
        return DEFAULT_POLICY
    if not text.strip():
        raise MissingParameter("The request must contain the parameter PolicyDocument")
    if len(text) > POLICY_MAX:
        raise InvalidParameterValue(f"The policy document exceeds {POLICY_MAX} characters")
    try:
        document = json.loads(text)
    except ValueError:
        raise InvalidParameterValue("The policy document is not valid JSON") from None
    if not isinstance(document, dict):
        raise InvalidParameterValue("The policy document must be a JSON object")
    return text


def is_endpoint_route(route: Route) -> bool:
    """Whether ``route`` is a VPC endpoint's (made and removed with it only)."""
    return route.gateway_id.startswith("vpce-")


def endpoint_routes(
    vpc_id: str,
    tables: Sequence[RouteTable],
    subnets: Iterable[Subnet],
    addresses: Sequence[str],
) -> tuple[EndpointRoute, ...]:
    """What a VPC's router sends to its endpoints: for each subnet of the VPC whose table
    (explicit or main) routes the service's prefix list to an endpoint, that endpoint and
    the service's ``addresses``. None at all when no address is configured."""
    if not addresses:
        return ()
    mine = [t for t in tables if t.vpc_id == vpc_id]
    routes: list[EndpointRoute] = []
    for subnet in sorted(subnets, key=lambda s: s.subnet_id):
        if subnet.vpc_id != vpc_id:
            continue
        table = table_of_subnet(subnet.subnet_id, mine)
        if table is None:
            continue
        to = next((r.gateway_id for r in table.routes if is_endpoint_route(r)), None)
        if to is not None:
            routes.append(
                EndpointRoute(subnet.subnet_id, subnet.cidr, vpc_id, to, tuple(addresses))
            )
    return tuple(routes)


def interface_endpoint_routes(
    vpc: tuple[str, str],
    endpoints: Iterable[VpcEndpoint],
    interfaces: Iterable[NetworkInterface],
    ingress: Mapping[str, tuple[FirewallRule, ...]],
) -> tuple[EndpointRoute, ...]:
    """What a VPC's routers send to its Interface endpoints: each endpoint (``vpc``: the
    VPC's id and block) with its interfaces' addresses, its slot (its rank among the VPC's
    Interface endpoints, by id) and its groups' ingress rules (``ingress``: endpoint id →
    rules). One without an interface left is none."""
    vpc_id, block = vpc
    addresses = {i.interface_id: i.private_ip for i in interfaces}
    mine = sorted(
        (e for e in endpoints if e.vpc_id == vpc_id and e.interface),
        key=lambda e: e.vpc_endpoint_id,
    )
    routes = []
    for slot, endpoint in enumerate(mine):
        held = tuple(addresses[i] for i in endpoint.network_interface_ids if i in addresses)
        if held and slot < INTERFACE_SLOTS:
            routes.append(
                EndpointRoute(
                    "",
                    block,
                    vpc_id,
                    endpoint.vpc_endpoint_id,
                    held,
                    slot=slot,
                    ingress=ingress.get(endpoint.vpc_endpoint_id, ()),
                )
            )
    return tuple(routes)
