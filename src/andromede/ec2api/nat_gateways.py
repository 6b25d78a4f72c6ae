"""EC2's NAT gateways (decision 0129): CreateNatGateway (``SubnetId``, ``AllocationId``,
``ClientToken``, ``TagSpecifications`` of type ``natgateway``), DescribeNatGateways (ids, or
pages of ``MaxResults`` 5 to 1,000 with ``NextToken``; the filters ``nat-gateway-id``,
``state``, ``subnet-id``, ``vpc-id`` and tags), DeleteNatGateway.

CreateNatGateway answers the gateway ``pending``, as EC2 does; DescribeNatGateways then shows
it as stored, ``available`` (the decision says why), which is what Terraform's
``aws_nat_gateway`` and the CLI's ``nat-gateway-available`` waiter wait for. Private
connectivity, secondary addresses and a chosen private address are refused by name
(UnsupportedOperation), never dropped.
"""

from __future__ import annotations

from collections.abc import Callable

from andromede.compute.nat_gateway import NatGateway, NatGatewayState
from andromede.ec2api.filters import Filters, matches, with_tags
from andromede.ec2api.protocol import Action, Call, iso8601, paged
from andromede.ec2api.vpcs import resource_tags
from andromede.ec2api.xml import write_tags
from andromede.http.xml import XmlWriter

__all__ = ["NAT_GATEWAY_ACTIONS"]


def _write_nat_gateway(
    xml: XmlWriter, nat: NatGateway, element: str, *, state: NatGatewayState | None = None
) -> None:
    xml.open(element)
    xml.element("createTime", iso8601(nat.create_time))
    if nat.delete_time is not None:
        xml.element("deleteTime", iso8601(nat.delete_time))
    xml.element("failureCode", nat.failure_code)
    xml.element("failureMessage", nat.failure_message)
    xml.open("natGatewayAddressSet")
    xml.open("item")
    xml.element("allocationId", nat.allocation_id)
    xml.element("networkInterfaceId", nat.network_interface_id)
    xml.element("privateIp", nat.private_ip)
    xml.element("publicIp", nat.public_ip)
    xml.element("associationId", nat.association_id)
    xml.element("isPrimary", True)
    xml.element("status", "succeeded" if nat.live else "disassociated")
    xml.close("item")
    xml.close("natGatewayAddressSet")
    xml.element("natGatewayId", nat.nat_gateway_id)
    xml.element("state", (state or nat.state).value)
    xml.element("subnetId", nat.subnet_id)
    xml.element("vpcId", nat.vpc_id)
    write_tags(xml, nat.tags)
    xml.element("connectivityType", nat.connectivity_type)
    xml.close(element)


def _nat_filter(name: str) -> Callable[[object], list[str]] | None:
    def of(get: Callable[[NatGateway], str]) -> Callable[[object], list[str]]:
        return lambda n: [get(n)] if isinstance(n, NatGateway) else []

    fields = {
        "nat-gateway-id": of(lambda n: n.nat_gateway_id),
        "state": of(lambda n: n.state.value),
        "subnet-id": of(lambda n: n.subnet_id),
        "vpc-id": of(lambda n: n.vpc_id),
    }
    return with_tags(fields)(name)


# What CreateNatGateway acts on; anything else (ConnectivityType private aside, which the
# service refuses by name) is refused by name.
_CREATE_HANDLED = frozenset(
    {"SubnetId", "AllocationId", "ClientToken", "TagSpecification", "ConnectivityType"}
)


async def create_nat_gateway(call: Call) -> None:
    p = call.params
    p.refuse_unhandled("CreateNatGateway", _CREATE_HANDLED)
    token = p.get("ClientToken")
    nat = await call.compute.create_nat_gateway(
        call.tenant_id,
        p.required("SubnetId"),
        p.get("AllocationId"),
        connectivity_type=p.get("ConnectivityType") or "public",
        tags=resource_tags(p, "natgateway"),
        client_token=token,
    )
    xml = call.result
    if token is not None:
        xml.element("clientToken", token)
    # EC2 answers a new gateway pending; it is stored available (decision 0129).
    _write_nat_gateway(
        xml, nat, "natGateway", state=NatGatewayState.PENDING if nat.available else None
    )


async def describe_nat_gateways(call: Call) -> None:
    p = call.params
    found = await call.compute.describe_nat_gateways(call.tenant_id, p.values("NatGatewayId"))
    filters = Filters(p.filters(), _nat_filter)
    chosen, next_token = paged(
        p,
        [n for n in found if matches(filters, n)],
        lambda n: n.nat_gateway_id,
        most=1000,
        ids="NatGatewayId",
    )
    xml = call.result
    xml.open("natGatewaySet")
    for nat in chosen:
        _write_nat_gateway(xml, nat, "item")
    xml.close("natGatewaySet")
    xml.element("nextToken", next_token)


async def delete_nat_gateway(call: Call) -> None:
    nat = await call.compute.delete_nat_gateway(
        call.tenant_id, call.params.required("NatGatewayId")
    )
    call.result.element("natGatewayId", nat.nat_gateway_id)


def _create_arns(call: Call) -> list[str]:
    # EC2 authorises CreateNatGateway on the new gateway, its subnet and its Elastic IP.
    p = call.params
    arns = [call.arn("natgateway"), call.arn("subnet", p.get("SubnetId") or "*")]
    if p.get("AllocationId"):
        arns.append(call.arn("elastic-ip", p.get("AllocationId") or "*"))
    return arns


NAT_GATEWAY_ACTIONS: dict[str, Action] = {
    "CreateNatGateway": Action(create_nat_gateway, mutating=True, resources=_create_arns),
    "DescribeNatGateways": Action(describe_nat_gateways, mutating=False),
    "DeleteNatGateway": Action(
        delete_nat_gateway,
        mutating=True,
        resources=lambda c: [c.arn("natgateway", c.params.get("NatGatewayId") or "*")],
    ),
}
