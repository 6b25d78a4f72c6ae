"""EC2's internet gateways (decision 0121): CreateInternetGateway, DescribeInternetGateways
(ids, or pages of ``MaxResults`` 5 to 1,000 with ``NextToken``; the filters
``attachment.state``, ``attachment.vpc-id``, ``internet-gateway-id``, ``owner-id`` and tags),
Attach/Detach/DeleteInternetGateway. An attached gateway's attachment state is ``available``,
as EC2 says it (not the enum's ``attached``), which is what Terraform's
``aws_internet_gateway`` waits for.
"""

from __future__ import annotations

from collections.abc import Callable

from andromede.compute.routing import InternetGateway
from andromede.ec2api.filters import Filters, matches, with_tags
from andromede.ec2api.protocol import Action, Call, paged
from andromede.ec2api.vpcs import resource_tags
from andromede.ec2api.xml import write_return, write_tags
from andromede.http.xml import XmlWriter

__all__ = ["GATEWAY_ACTIONS"]

_ATTACHED = "available"


def _write_gateway(xml: XmlWriter, gateway: InternetGateway, element: str) -> None:
    xml.open(element)
    xml.open("attachmentSet")
    if gateway.vpc_id is not None:
        xml.open("item")
        xml.element("state", _ATTACHED)
        xml.element("vpcId", gateway.vpc_id)
        xml.close("item")
    xml.close("attachmentSet")
    xml.element("internetGatewayId", gateway.gateway_id)
    xml.element("ownerId", gateway.tenant_id)
    write_tags(xml, gateway.tags)
    xml.close(element)


def _gateway_filter(name: str) -> Callable[[object], list[str]] | None:
    def of(get: Callable[[InternetGateway], list[str]]) -> Callable[[object], list[str]]:
        return lambda g: get(g) if isinstance(g, InternetGateway) else []

    fields = {
        "internet-gateway-id": of(lambda g: [g.gateway_id]),
        "owner-id": of(lambda g: [g.tenant_id]),
        "attachment.vpc-id": of(lambda g: [g.vpc_id] if g.vpc_id else []),
        "attachment.state": of(lambda g: [_ATTACHED] if g.vpc_id else []),
    }
    return with_tags(fields)(name)


async def create_internet_gateway(call: Call) -> None:
    p = call.params
    p.refuse_unhandled("CreateInternetGateway", frozenset({"TagSpecification"}))
    gateway = await call.compute.create_internet_gateway(
        call.tenant_id, resource_tags(p, "internet-gateway")
    )
    _write_gateway(call.result, gateway, "internetGateway")


async def describe_internet_gateways(call: Call) -> None:
    p = call.params
    gateways = await call.compute.describe_internet_gateways(
        call.tenant_id, p.values("InternetGatewayId")
    )
    filters = Filters(p.filters(), _gateway_filter)
    chosen, next_token = paged(
        p,
        [g for g in gateways if matches(filters, g)],
        lambda g: g.gateway_id,
        most=1000,
        ids="InternetGatewayId",
    )
    xml = call.result
    xml.open("internetGatewaySet")
    for gateway in chosen:
        _write_gateway(xml, gateway, "item")
    xml.close("internetGatewaySet")
    xml.element("nextToken", next_token)


async def attach_internet_gateway(call: Call) -> None:
    p = call.params
    await call.compute.attach_internet_gateway(
        call.tenant_id, p.required("InternetGatewayId"), p.required("VpcId")
    )
    write_return(call.result)


async def detach_internet_gateway(call: Call) -> None:
    p = call.params
    await call.compute.detach_internet_gateway(
        call.tenant_id, p.required("InternetGatewayId"), p.required("VpcId")
    )
    write_return(call.result)


async def delete_internet_gateway(call: Call) -> None:
    await call.compute.delete_internet_gateway(
        call.tenant_id, call.params.required("InternetGatewayId")
    )
    write_return(call.result)


def _gateway_arn(call: Call) -> list[str]:
    return [call.arn("internet-gateway", call.params.get("InternetGatewayId") or "*")]


def _gateway_and_vpc_arns(call: Call) -> list[str]:
    # EC2 authorises attaching and detaching on the gateway and on the VPC.
    return [*_gateway_arn(call), call.arn("vpc", call.params.get("VpcId") or "*")]


GATEWAY_ACTIONS: dict[str, Action] = {
    "CreateInternetGateway": Action(
        create_internet_gateway, mutating=True, resources=lambda c: [c.arn("internet-gateway")]
    ),
    "DescribeInternetGateways": Action(describe_internet_gateways, mutating=False),
    "AttachInternetGateway": Action(
        attach_internet_gateway, mutating=True, resources=_gateway_and_vpc_arns
    ),
    "DetachInternetGateway": Action(
        detach_internet_gateway, mutating=True, resources=_gateway_and_vpc_arns
    ),
    "DeleteInternetGateway": Action(delete_internet_gateway, mutating=True, resources=_gateway_arn),
}
