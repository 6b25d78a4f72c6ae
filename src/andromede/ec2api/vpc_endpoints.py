"""EC2's VPC gateway endpoints to the object store (decision 0160): CreateVpcEndpoint
(``VpcEndpointType`` Gateway, ``VpcId``, ``ServiceName``, ``RouteTableId.N``,
``PolicyDocument``, ``TagSpecification`` of type ``vpc-endpoint``, ``ClientToken``),
DescribeVpcEndpoints (ids, filters ``vpc-endpoint-id``, ``vpc-id``, ``service-name``,
``vpc-endpoint-state``, ``vpc-endpoint-type`` and tags, pages), ModifyVpcEndpoint
(``AddRouteTableId.N``, ``RemoveRouteTableId.N``, ``PolicyDocument``, ``ResetPolicy``),
DeleteVpcEndpoints (EC2's ``unsuccessful`` items) and DescribeVpcEndpointServices (the
region's object store, under EC2's name and the platform's).

``Interface`` and ``GatewayLoadBalancer`` endpoints, and the interface endpoints' parameters
(``SubnetId``, ``SecurityGroupId``, ``PrivateDnsEnabled``…), are refused with EC2's errors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from andromede.compute.errors import ComputeError
from andromede.compute.vpc_endpoint import (
    VpcEndpoint,
    check_endpoint_type,
    check_policy,
)
from andromede.ec2api.errors import Ec2Error, to_ec2_error
from andromede.ec2api.filters import Filters, matches, with_tags
from andromede.ec2api.protocol import Action, Call, iso8601, page_after, page_token
from andromede.ec2api.vpcs import resource_tags
from andromede.ec2api.xml import write_tags
from andromede.http.xml import XmlWriter
from andromede.iam.policy import MalformedPolicy, PolicyKind, parse_policy

__all__ = ["VPC_ENDPOINT_ACTIONS"]

_CREATE = frozenset(
    {
        "VpcEndpointType",
        "VpcId",
        "ServiceName",
        "RouteTableId",
        "PolicyDocument",
        "TagSpecification",
        "ClientToken",
    }
)
_MODIFY = frozenset(
    {"VpcEndpointId", "AddRouteTableId", "RemoveRouteTableId", "PolicyDocument", "ResetPolicy"}
)


def _policy(text: str | None) -> str | None:
    """A ``PolicyDocument`` checked as EC2 does (JSON, size) and as the policy engine will
    read it (a resource policy's grammar: it names principals); None when none is given."""
    if text is None:
        return None
    checked = check_policy(text)
    try:
        parse_policy(checked, kind=PolicyKind.RESOURCE)
    except MalformedPolicy as exc:
        raise Ec2Error(
            "InvalidParameterValue", f"The policy document is malformed: {exc}"
        ) from None
    return checked


def _write_endpoint(xml: XmlWriter, call: Call, endpoint: VpcEndpoint, element: str) -> None:
    xml.open(element)
    xml.element("vpcEndpointId", endpoint.vpc_endpoint_id)
    xml.element("vpcEndpointType", "Gateway")
    xml.element("vpcId", endpoint.vpc_id)
    xml.element("serviceName", endpoint.service_name)
    xml.element("state", "available")
    xml.element("policyDocument", endpoint.policy_document)
    xml.open("routeTableIdSet")
    for table_id in endpoint.route_table_ids:
        xml.element("item", table_id)
    xml.close("routeTableIdSet")
    xml.open("subnetIdSet")
    xml.close("subnetIdSet")
    xml.open("groupSet")
    xml.close("groupSet")
    xml.element("ipAddressType", "ipv4")
    xml.element("privateDnsEnabled", False)
    xml.element("requesterManaged", False)
    xml.open("networkInterfaceIdSet")
    xml.close("networkInterfaceIdSet")
    xml.open("dnsEntrySet")
    xml.close("dnsEntrySet")
    xml.element("creationTimestamp", iso8601(endpoint.created))
    write_tags(xml, endpoint.tags)
    xml.element("ownerId", call.tenant_id)
    xml.close(element)


async def create_vpc_endpoint(call: Call) -> None:
    p = call.params
    check_endpoint_type(p.get("VpcEndpointType"))
    # Terraform sends PrivateDnsEnabled=false with every endpoint: a gateway has no DNS.
    p.refuse_unhandled(
        "CreateVpcEndpoint", _CREATE, harmless={"PrivateDnsEnabled": frozenset({"false"})}
    )
    endpoint = await call.compute.create_vpc_endpoint(
        call.tenant_id,
        p.required("VpcId"),
        p.get("ServiceName"),
        p.values("RouteTableId"),
        _policy(p.get("PolicyDocument")),
        tags=resource_tags(p, "vpc-endpoint"),
        client_token=p.get("ClientToken"),
    )
    _write_endpoint(call.result, call, endpoint, "vpcEndpoint")
    call.result.element("clientToken", p.get("ClientToken"))


def _filter(name: str) -> Callable[[object], list[str]] | None:
    def of(get: Callable[[VpcEndpoint], list[str]]) -> Callable[[object], list[str]]:
        return lambda o: get(o) if isinstance(o, VpcEndpoint) else []

    fields = {
        "vpc-endpoint-id": of(lambda o: [o.vpc_endpoint_id]),
        "vpc-id": of(lambda o: [o.vpc_id]),
        "service-name": of(lambda o: [o.service_name]),
        "vpc-endpoint-state": of(lambda o: ["available"]),
        "vpc-endpoint-type": of(lambda o: ["Gateway"]),
    }
    return with_tags(fields)(name)


async def describe_vpc_endpoints(call: Call) -> None:
    p = call.params
    found = await call.compute.describe_vpc_endpoints(call.tenant_id, p.values("VpcEndpointId"))
    filters = Filters(p.filters(), _filter)
    chosen = [e for e in found if matches(filters, e)]
    max_results = p.integer("MaxResults", minimum=1, maximum=1000)
    after = page_after(p.get("NextToken"))
    if after is not None:
        chosen = [e for e in chosen if e.vpc_endpoint_id > after]
    token = None
    if max_results is not None and len(chosen) > max_results:
        chosen = chosen[:max_results]
        token = page_token(chosen[-1].vpc_endpoint_id)
    xml = call.result
    xml.open("vpcEndpointSet")
    for endpoint in chosen:
        _write_endpoint(xml, call, endpoint, "item")
    xml.close("vpcEndpointSet")
    xml.element("nextToken", token)


async def modify_vpc_endpoint(call: Call) -> None:
    p = call.params
    p.refuse_unhandled("ModifyVpcEndpoint", _MODIFY)
    await call.compute.modify_vpc_endpoint(
        call.tenant_id,
        p.required("VpcEndpointId"),
        add_route_table_ids=p.values("AddRouteTableId"),
        remove_route_table_ids=p.values("RemoveRouteTableId"),
        policy=_policy(p.get("PolicyDocument")),
        reset_policy=p.boolean("ResetPolicy", default=False),
    )
    call.result.element("return", True)


def _write_unsuccessful(xml: XmlWriter, refused: Sequence[tuple[str, ComputeError]]) -> None:
    xml.open("unsuccessful")
    for resource_id, exc in refused:
        error = to_ec2_error(exc)
        xml.open("item")
        xml.open("error")
        xml.element("code", error.code if error is not None else "InternalError")
        xml.element("message", error.message if error is not None else None)
        xml.close("error")
        xml.element("resourceId", resource_id)
        xml.close("item")
    xml.close("unsuccessful")


async def delete_vpc_endpoints(call: Call) -> None:
    ids = call.params.values("VpcEndpointId")
    if not ids:
        raise Ec2Error("MissingParameter", "The request must contain the parameter VpcEndpointId")
    refused = await call.compute.delete_vpc_endpoints(call.tenant_id, ids)
    _write_unsuccessful(call.result, refused)


async def describe_vpc_endpoint_services(call: Call) -> None:
    """The region's object store as a gateway service, under each of its names (filters
    ``service-name`` and ``service-type``; names asked that it does not have are
    ``InvalidServiceName``)."""
    p = call.params
    names = call.compute.endpoint_service_names()
    asked = p.values("ServiceName")
    for name in asked:
        if name not in names:
            raise Ec2Error(
                "InvalidServiceName", f"The Vpc Endpoint Service '{name[:128]}' does not exist"
            )
    wanted = [n for n in names if not asked or n in asked]
    filters = p.filters()
    if "service-name" in filters:
        wanted = [n for n in wanted if n in filters["service-name"]]
    if "service-type" in filters and "Gateway" not in filters["service-type"]:
        wanted = []
    zone = call.compute.limits.availability_zone
    xml = call.result
    xml.open("serviceNameSet")
    for name in wanted:
        xml.element("item", name)
    xml.close("serviceNameSet")
    xml.open("serviceDetailSet")
    for name in wanted:
        xml.open("item")
        xml.element("serviceName", name)
        xml.element("serviceId", f"vpce-svc-{call.compute.limits.region}-s3"[:64])
        xml.open("serviceType")
        xml.open("item")
        xml.element("serviceType", "Gateway")
        xml.close("item")
        xml.close("serviceType")
        xml.open("availabilityZoneSet")
        xml.element("item", zone)
        xml.close("availabilityZoneSet")
        xml.element("owner", "amazon")
        xml.open("baseEndpointDnsNameSet")
        xml.close("baseEndpointDnsNameSet")
        xml.element("vpcEndpointPolicySupported", True)
        xml.element("acceptanceRequired", False)
        xml.element("managesVpcEndpoints", False)
        xml.open("supportedIpAddressTypes")
        xml.element("item", "ipv4")
        xml.close("supportedIpAddressTypes")
        xml.close("item")
    xml.close("serviceDetailSet")


def _endpoint_arns(call: Call) -> list[str]:
    ids = call.params.values("VpcEndpointId")
    return [call.arn("vpc-endpoint", i) for i in ids] or [call.arn("vpc-endpoint")]


VPC_ENDPOINT_ACTIONS: dict[str, Action] = {
    "CreateVpcEndpoint": Action(
        create_vpc_endpoint, mutating=True, resources=lambda c: [c.arn("vpc-endpoint")]
    ),
    "DescribeVpcEndpoints": Action(describe_vpc_endpoints, mutating=False),
    "ModifyVpcEndpoint": Action(modify_vpc_endpoint, mutating=True, resources=_endpoint_arns),
    "DeleteVpcEndpoints": Action(delete_vpc_endpoints, mutating=True, resources=_endpoint_arns),
    "DescribeVpcEndpointServices": Action(describe_vpc_endpoint_services, mutating=False),
}
