"""EC2's DescribeVpcEndpoints (decisions 0160, 0166), made in process as the console's
signed-in principal through ``wire_ec2.Ec2Wire``: EC2's own authorisation answers it. Each
endpoint is read into the row the VPC endpoints page shows; nothing here decides what EC2
allows."""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree.ElementTree import Element

from andromede.console.wire_ec2 import Ec2Wire, _when, name_of, tags_of, text
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = ["VpcEndpointRow", "describe_vpc_endpoints"]


@dataclass(frozen=True, slots=True)
class VpcEndpointRow:
    vpc_endpoint_id: str
    name: str
    endpoint_type: str  # Gateway or Interface
    service_name: str
    vpc_id: str
    state: str
    route_table_ids: tuple[str, ...]  # a Gateway endpoint's
    subnet_ids: tuple[str, ...]  # an Interface endpoint's, with its groups and interfaces
    group_ids: tuple[str, ...]
    network_interface_ids: tuple[str, ...]
    private_dns_enabled: bool
    created: str


def _items(element: Element, path: str) -> tuple[str, ...]:
    return tuple(e.text or "" for e in element.iterfind(f"{path}/item"))


def _endpoint(item: Element) -> VpcEndpointRow:
    return VpcEndpointRow(
        vpc_endpoint_id=text(item, "vpcEndpointId"),
        name=name_of(tags_of(item)),
        endpoint_type=text(item, "vpcEndpointType"),
        service_name=text(item, "serviceName"),
        vpc_id=text(item, "vpcId"),
        state=text(item, "state"),
        route_table_ids=_items(item, "routeTableIdSet"),
        subnet_ids=_items(item, "subnetIdSet"),
        group_ids=tuple(text(g, "groupId") for g in item.iterfind("groupSet/item")),
        network_interface_ids=_items(item, "networkInterfaceIdSet"),
        private_dns_enabled=text(item, "privateDnsEnabled") == "true",
        created=_when(text(item, "creationTimestamp")),
    )


async def describe_vpc_endpoints(
    ec2: Ec2Wire, origin: Scope, who: Principal
) -> list[VpcEndpointRow]:
    """The caller's VPC endpoints, every page of them."""
    rows: list[VpcEndpointRow] = []
    params: dict[str, str] = {"MaxResults": "1000"}
    while True:
        root = await ec2.call(origin, who, "DescribeVpcEndpoints", params)
        rows.extend(_endpoint(e) for e in root.iterfind("vpcEndpointSet/item"))
        token = text(root, "nextToken")
        if not token:
            return rows
        params = {"MaxResults": "1000", "NextToken": token}
