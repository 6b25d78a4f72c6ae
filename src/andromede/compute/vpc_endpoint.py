"""A VPC gateway endpoint's record and EC2's rules for it, pure (decision 0160).

A **gateway endpoint** (``vpce-…``) lets the instances of a VPC reach a regional service — here
the object store, EC2's ``com.amazonaws.<region>.s3`` — without a public address, an internet
gateway or a NAT gateway. It is a route in each route table it is associated with: the
service's AWS-managed **prefix list** (``pl-…``, whose blocks are the service's addresses as the
guests see them) to the endpoint, origin ``CreateRoute``, as EC2 shows it. Its **policy** (an
IAM document whose default allows everything) is evaluated for every request that comes through
it, besides the caller's and the bucket's (``iam/policy``); those requests carry
``aws:SourceVpce`` and ``aws:SourceVpc`` (``s3/endpoint_origin.py``).

``Interface`` and ``GatewayLoadBalancer`` endpoints are refused (EC2's
``InvalidParameterValue`` naming the type): they are network interfaces with private DNS
names in the tenant's subnets, which this platform does not make.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from andromede.compute.driver import EndpointRoute
from andromede.compute.errors import InvalidParameterValue, MissingParameter
from andromede.compute.network import Subnet
from andromede.compute.resource_ids import FORMAT_VERSION, Tags
from andromede.compute.routing import Route, RouteTable, table_of_subnet

__all__ = [
    "DEFAULT_POLICY",
    "POLICY_MAX",
    "EndpointType",
    "VpcEndpoint",
    "check_endpoint_type",
    "check_policy",
    "endpoint_routes",
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

    @property
    def resource_id(self) -> str:
        return self.vpc_endpoint_id


def service_names(region: str) -> tuple[str, str]:
    """The names of the region's object store service: EC2's, then the platform's own (the
    reverse of its endpoint's DNS name, as EC2's names of non-AWS services are)."""
    return f"com.amazonaws.{region}.s3", f"eu.andromede.{region}.s3"


def managed_prefix_list_id(region: str) -> str:
    """The id of the region's AWS-managed prefix list of the object store: stable (derived
    from the region), as EC2's are per region."""
    digest = hashlib.sha256(f"andromede-managed-pl:{region}:s3".encode()).hexdigest()
    return f"pl-{digest[:8]}"


def check_endpoint_type(value: str | None) -> EndpointType:
    """``VpcEndpointType``: Gateway (EC2's default) only."""
    if value is None:
        return EndpointType.GATEWAY
    try:
        kind = EndpointType(value)
    except ValueError:
        raise InvalidParameterValue(f"Invalid value '{value[:32]}' for VpcEndpointType") from None
    if kind is not EndpointType.GATEWAY:
        raise InvalidParameterValue(
            f"VpcEndpointType {kind.value} is not supported: only Gateway endpoints are made"
            " here (to the object store)"
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
