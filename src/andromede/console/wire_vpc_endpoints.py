"""EC2's VPC endpoint calls (decisions 0160, 0166) the console makes — DescribeVpcEndpoints,
DescribeVpcEndpointServices, CreateVpcEndpoint, ModifyVpcEndpoint, DeleteVpcEndpoints — in
process as the signed-in principal through ``wire_ec2.Ec2Wire``: EC2's own authorisation,
checks and audit answer them. Each endpoint is read into the row the VPC endpoints pages
show; nothing here decides what EC2 allows.

DeleteVpcEndpoints answers a refused endpoint as an item of its ``unsuccessful`` set, not as
an error of the call; the console deletes one endpoint per form, so such an item is raised as
the ``WireError`` it stands for, as ``wire_flow_logs`` does for flow logs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from xml.etree.ElementTree import Element

from andromede.console.wire import WireError
from andromede.console.wire_ec2 import Ec2Wire, _listed, _when, name_of, tagged, tags_of, text
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = [
    "EndpointChange",
    "NewEndpoint",
    "ServiceRow",
    "VpcEndpointRow",
    "create_vpc_endpoint",
    "delete_vpc_endpoint",
    "describe_vpc_endpoint",
    "describe_vpc_endpoint_services",
    "describe_vpc_endpoints",
    "modify_vpc_endpoint",
]


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
    policy_document: str = ""


@dataclass(frozen=True, slots=True)
class ServiceRow:
    """A service DescribeVpcEndpointServices offers, with the endpoint types it takes."""

    service_name: str
    types: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NewEndpoint:
    """CreateVpcEndpoint's parameters as a form gives them: a Gateway endpoint's route tables,
    an Interface endpoint's subnets, groups and private DNS (each type's only are sent)."""

    endpoint_type: str
    vpc_id: str
    service_name: str
    route_table_ids: tuple[str, ...] = ()
    subnet_ids: tuple[str, ...] = ()
    group_ids: tuple[str, ...] = ()
    private_dns_enabled: bool = True
    policy_document: str = ""
    name: str = ""
    client_token: str = ""


@dataclass(frozen=True, slots=True)
class EndpointChange:
    """ModifyVpcEndpoint's parameters: what to add and remove, the policy (``reset_policy``:
    back to full access), the private DNS switch (None: unchanged)."""

    add_route_table_ids: tuple[str, ...] = ()
    remove_route_table_ids: tuple[str, ...] = ()
    add_subnet_ids: tuple[str, ...] = ()
    remove_subnet_ids: tuple[str, ...] = ()
    add_group_ids: tuple[str, ...] = ()
    remove_group_ids: tuple[str, ...] = ()
    policy_document: str | None = None
    reset_policy: bool = False
    private_dns_enabled: bool | None = None


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
        policy_document=text(item, "policyDocument"),
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


async def describe_vpc_endpoint(
    ec2: Ec2Wire, origin: Scope, who: Principal, endpoint_id: str
) -> VpcEndpointRow | None:
    """One endpoint; EC2's refusal for another tenant's, as for none."""
    root = await ec2.call(origin, who, "DescribeVpcEndpoints", {"VpcEndpointId.1": endpoint_id})
    return next((_endpoint(e) for e in root.iterfind("vpcEndpointSet/item")), None)


async def describe_vpc_endpoint_services(
    ec2: Ec2Wire, origin: Scope, who: Principal
) -> list[ServiceRow]:
    """The services EC2 offers endpoints to, each with its types, in EC2's order."""
    root = await ec2.call(origin, who, "DescribeVpcEndpointServices")
    types: dict[str, list[str]] = {}
    for item in root.iterfind("serviceDetailSet/item"):
        kinds = types.setdefault(text(item, "serviceName"), [])
        kinds.extend(text(t, "serviceType") for t in item.iterfind("serviceType/item"))
    return [ServiceRow(name, tuple(dict.fromkeys(kinds))) for name, kinds in types.items()]


async def create_vpc_endpoint(ec2: Ec2Wire, origin: Scope, who: Principal, new: NewEndpoint) -> str:
    """The new endpoint's id (the same ClientToken sent twice: the same endpoint)."""
    params = {
        "VpcEndpointType": new.endpoint_type,
        "VpcId": new.vpc_id,
        "ServiceName": new.service_name,
        **tagged("vpc-endpoint", new.name),
    }
    if new.endpoint_type == "Interface":
        params.update(_listed("SubnetId", new.subnet_ids))
        params.update(_listed("SecurityGroupId", new.group_ids))
        params["PrivateDnsEnabled"] = "true" if new.private_dns_enabled else "false"
    else:
        params.update(_listed("RouteTableId", new.route_table_ids))
    if new.policy_document:
        params["PolicyDocument"] = new.policy_document
    if new.client_token:
        params["ClientToken"] = new.client_token
    root = await ec2.call(origin, who, "CreateVpcEndpoint", params)
    return text(root, "vpcEndpoint/vpcEndpointId")


def _change_params(change: EndpointChange) -> dict[str, str]:
    lists: Sequence[tuple[str, tuple[str, ...]]] = (
        ("AddRouteTableId", change.add_route_table_ids),
        ("RemoveRouteTableId", change.remove_route_table_ids),
        ("AddSubnetId", change.add_subnet_ids),
        ("RemoveSubnetId", change.remove_subnet_ids),
        ("AddSecurityGroupId", change.add_group_ids),
        ("RemoveSecurityGroupId", change.remove_group_ids),
    )
    params = {k: v for name, ids in lists for k, v in _listed(name, ids).items()}
    if change.reset_policy:
        params["ResetPolicy"] = "true"
    elif change.policy_document is not None:
        params["PolicyDocument"] = change.policy_document
    if change.private_dns_enabled is not None:
        params["PrivateDnsEnabled"] = "true" if change.private_dns_enabled else "false"
    return params


async def modify_vpc_endpoint(
    ec2: Ec2Wire, origin: Scope, who: Principal, endpoint_id: str, change: EndpointChange
) -> None:
    params = {"VpcEndpointId": endpoint_id, **_change_params(change)}
    await ec2.call(origin, who, "ModifyVpcEndpoint", params)


async def delete_vpc_endpoint(
    ec2: Ec2Wire, origin: Scope, who: Principal, endpoint_id: str
) -> None:
    root = await ec2.call(origin, who, "DeleteVpcEndpoints", {"VpcEndpointId.1": endpoint_id})
    item = root.find("unsuccessful/item")
    if item is not None:
        code = text(item, "error/code") or "InternalError"
        raise WireError(code, text(item, "error/message"), 500 if code == "InternalError" else 400)
