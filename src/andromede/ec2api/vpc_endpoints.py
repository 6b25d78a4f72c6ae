"""EC2's VPC gateway endpoints to the object store (decision 0160): CreateVpcEndpoint
(``VpcEndpointType`` Gateway, ``VpcId``, ``ServiceName``, ``RouteTableId.N``,
``PolicyDocument``, ``TagSpecification`` of type ``vpc-endpoint``, ``ClientToken``),
DescribeVpcEndpoints (ids, filters ``vpc-endpoint-id``, ``vpc-id``, ``service-name``,
``vpc-endpoint-state``, ``vpc-endpoint-type`` and tags, pages), ModifyVpcEndpoint
(``AddRouteTableId.N``, ``RemoveRouteTableId.N``, ``PolicyDocument``, ``ResetPolicy``),
DeleteVpcEndpoints (EC2's ``unsuccessful`` items) and DescribeVpcEndpointServices (the
region's object store, under EC2's name and the platform's).

Interface endpoints (decision 0166): CreateVpcEndpoint's ``SubnetId.N``,
``SecurityGroupId.N`` and ``PrivateDnsEnabled`` (true by default, as EC2's for an AWS
service), ModifyVpcEndpoint's ``AddSubnetId.N``, ``RemoveSubnetId.N``,
``AddSecurityGroupId.N``, ``RemoveSecurityGroupId.N`` and ``PrivateDnsEnabled``, each
endpoint shown with its network interfaces, groups and DNS entries; the object store listed as
an Interface service too, and (decision 0174) KMS, SQS, SNS and STS as Interface services
only. ``GatewayLoadBalancer`` endpoints are refused, and so is each type's parameters on the
other.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from andromede.compute.errors import ComputeError
from andromede.compute.vpc_endpoint import (
    EndpointType,
    InterfaceEndpointChange,
    InterfaceEndpointRequest,
    VpcEndpoint,
    check_endpoint_type,
    check_policy,
    endpoint_service,
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
_CREATE_INTERFACE = frozenset(
    {
        "VpcEndpointType",
        "VpcId",
        "ServiceName",
        "SubnetId",
        "SecurityGroupId",
        "PrivateDnsEnabled",
        "PolicyDocument",
        "TagSpecification",
        "ClientToken",
    }
)
# What Terraform's provider sends with every Interface endpoint: the only values served here.
_HARMLESS_INTERFACE = {
    "IpAddressType": frozenset({"ipv4"}),
    "DnsOptions.DnsRecordIpType": frozenset({"ipv4"}),
}
_MODIFY = frozenset(
    {
        "VpcEndpointId",
        "AddRouteTableId",
        "RemoveRouteTableId",
        "PolicyDocument",
        "ResetPolicy",
        "AddSubnetId",
        "RemoveSubnetId",
        "AddSecurityGroupId",
        "RemoveSecurityGroupId",
        "PrivateDnsEnabled",
    }
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


def _dns_names(call: Call, endpoint: VpcEndpoint) -> list[str]:
    """The names the VPC's resolver answers with the endpoint's addresses (private DNS)."""
    if not endpoint.private_dns_enabled:
        return []
    names = call.compute.limits.endpoint_private_dns_names
    return [f for n in names for f in (n, f"*.{n}")]


def _write_endpoint(
    xml: XmlWriter,
    call: Call,
    endpoint: VpcEndpoint,
    element: str,
    group_names: dict[str, str] | None = None,
) -> None:
    xml.open(element)
    xml.element("vpcEndpointId", endpoint.vpc_endpoint_id)
    xml.element("vpcEndpointType", endpoint.endpoint_type)
    xml.element("vpcId", endpoint.vpc_id)
    xml.element("serviceName", endpoint.service_name)
    xml.element("state", "available")
    xml.element("policyDocument", endpoint.policy_document)
    xml.open("routeTableIdSet")
    for table_id in endpoint.route_table_ids:
        xml.element("item", table_id)
    xml.close("routeTableIdSet")
    xml.open("subnetIdSet")
    for subnet_id in endpoint.subnet_ids:
        xml.element("item", subnet_id)
    xml.close("subnetIdSet")
    xml.open("groupSet")
    for group_id in endpoint.group_ids:
        xml.open("item")
        xml.element("groupId", group_id)
        xml.element("groupName", (group_names or {}).get(group_id, ""))
        xml.close("item")
    xml.close("groupSet")
    xml.element("ipAddressType", "ipv4")
    if endpoint.interface:
        xml.open("dnsOptions")
        xml.element("dnsRecordIpType", "ipv4")
        xml.close("dnsOptions")
    xml.element("privateDnsEnabled", endpoint.private_dns_enabled)
    xml.element("requesterManaged", False)
    xml.open("networkInterfaceIdSet")
    for interface_id in endpoint.network_interface_ids:
        xml.element("item", interface_id)
    xml.close("networkInterfaceIdSet")
    xml.open("dnsEntrySet")
    for name in _dns_names(call, endpoint):
        xml.open("item")
        xml.element("dnsName", name)
        xml.element("hostedZoneId", _zone_id(endpoint.vpc_id))
        xml.close("item")
    xml.close("dnsEntrySet")
    xml.element("creationTimestamp", iso8601(endpoint.created))
    write_tags(xml, endpoint.tags)
    xml.element("ownerId", call.tenant_id)
    xml.close(element)


def _zone_id(vpc_id: str) -> str:
    """The id of the VPC's private zone holding the names (stable, EC2's ``Z…`` form)."""
    return "Z" + hashlib.sha256(vpc_id.encode()).hexdigest()[:20].upper()


async def _group_names(call: Call) -> dict[str, str]:
    groups = await call.compute.describe_security_groups(call.tenant_id, [], [])
    return {g.group_id: g.name for g in groups}


async def create_vpc_endpoint(call: Call) -> None:
    p = call.params
    kind = check_endpoint_type(p.get("VpcEndpointType"))
    if kind is EndpointType.INTERFACE:
        await _create_interface_endpoint(call)
        return
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


async def _create_interface_endpoint(call: Call) -> None:
    p = call.params
    if p.values("RouteTableId"):
        raise Ec2Error(
            "InvalidParameter", "Route table IDs are not supported for Interface endpoints"
        )
    p.refuse_unhandled("CreateVpcEndpoint", _CREATE_INTERFACE, harmless=_HARMLESS_INTERFACE)
    endpoint = await call.compute.create_interface_endpoint(
        call.tenant_id,
        InterfaceEndpointRequest(
            p.required("VpcId"),
            p.get("ServiceName"),
            tuple(p.values("SubnetId")),
            tuple(p.values("SecurityGroupId")),
            p.boolean("PrivateDnsEnabled", default=True),
            _policy(p.get("PolicyDocument")),
            resource_tags(p, "vpc-endpoint"),
            p.get("ClientToken"),
        ),
    )
    _write_endpoint(call.result, call, endpoint, "vpcEndpoint", await _group_names(call))
    call.result.element("clientToken", p.get("ClientToken"))


def _filter(name: str) -> Callable[[object], list[str]] | None:
    def of(get: Callable[[VpcEndpoint], list[str]]) -> Callable[[object], list[str]]:
        return lambda o: get(o) if isinstance(o, VpcEndpoint) else []

    fields = {
        "vpc-endpoint-id": of(lambda o: [o.vpc_endpoint_id]),
        "vpc-id": of(lambda o: [o.vpc_id]),
        "service-name": of(lambda o: [o.service_name]),
        "vpc-endpoint-state": of(lambda o: ["available"]),
        "vpc-endpoint-type": of(lambda o: [o.endpoint_type]),
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
    names = await _group_names(call) if any(e.interface for e in chosen) else {}
    xml.open("vpcEndpointSet")
    for endpoint in chosen:
        _write_endpoint(xml, call, endpoint, "item", names)
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
        interface=InterfaceEndpointChange(
            tuple(p.values("AddSubnetId")),
            tuple(p.values("RemoveSubnetId")),
            tuple(p.values("AddSecurityGroupId")),
            tuple(p.values("RemoveSecurityGroupId")),
            p.boolean("PrivateDnsEnabled", default=False)
            if p.get("PrivateDnsEnabled") is not None
            else None,
        ),
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
    """The region's object store as a Gateway and an Interface service, KMS, SQS, SNS, STS
    (decision 0174), EC2, CloudWatch and Auto Scaling (its session-48 addendum) as Interface
    services, each under its two names (filters
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
    kinds = [k for k in ("Gateway", "Interface") if k in filters.get("service-type", (k,))]
    xml = call.result
    offered = [(n, [k for k in kinds if k == "Interface" or _is_s3(n)]) for n in wanted]
    xml.open("serviceNameSet")
    for name, _ in (o for o in offered if o[1]):
        xml.element("item", name)
    xml.close("serviceNameSet")
    xml.open("serviceDetailSet")
    for name, of in offered:
        for kind in of:
            _write_service(xml, call, name, kind)
    xml.close("serviceDetailSet")


def _is_s3(name: str) -> bool:
    # Gateway endpoints reach the object store only (AWS: S3 and DynamoDB).
    return endpoint_service(name) == "s3"


def _write_service(xml: XmlWriter, call: Call, name: str, kind: str) -> None:
    limits = call.compute.limits
    dns = limits.endpoint_private_dns_names if kind == "Interface" else ()
    xml.open("item")
    xml.element("serviceName", name)
    service = endpoint_service(name)
    suffix = "-if" if kind == "Interface" else ""
    xml.element("serviceId", f"vpce-svc-{limits.region}-{service}{suffix}"[:64])
    xml.open("serviceType")
    xml.open("item")
    xml.element("serviceType", kind)
    xml.close("item")
    xml.close("serviceType")
    xml.open("availabilityZoneSet")
    xml.element("item", limits.availability_zone)
    xml.close("availabilityZoneSet")
    xml.element("owner", "amazon")
    xml.open("baseEndpointDnsNameSet")
    for base in dns[:1]:
        xml.element("item", base)
    xml.close("baseEndpointDnsNameSet")
    if dns:
        xml.element("privateDnsName", f"*.{dns[0]}")
        xml.open("privateDnsNameSet")
        for base in dns:
            xml.open("item")
            xml.element("privateDnsName", f"*.{base}")
            xml.close("item")
        xml.close("privateDnsNameSet")
        xml.element("privateDnsNameVerificationState", "verified")
    xml.element("vpcEndpointPolicySupported", True)
    xml.element("acceptanceRequired", False)
    xml.element("managesVpcEndpoints", False)
    xml.open("supportedIpAddressTypes")
    xml.element("item", "ipv4")
    xml.close("supportedIpAddressTypes")
    xml.close("item")


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
