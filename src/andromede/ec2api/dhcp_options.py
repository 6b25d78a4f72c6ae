"""EC2's DHCP options sets (decision 0143): CreateDhcpOptions (``DhcpConfiguration.N`` with
``Key`` and ``Value.M``, ``TagSpecification`` of type ``dhcp-options``), DescribeDhcpOptions
(ids, or pages of ``MaxResults`` 5 to 1,000 with ``NextToken``; the filters
``dhcp-options-id``, ``key``, ``value``, ``owner-id`` and tags), DeleteDhcpOptions and
AssociateDhcpOptions (``default`` for none).
"""

from __future__ import annotations

from collections.abc import Callable

from andromede.compute.dhcp_options import DhcpOptions
from andromede.ec2api.filters import Filters, matches, with_tags
from andromede.ec2api.protocol import Action, Call, paged
from andromede.ec2api.vpcs import resource_tags
from andromede.ec2api.xml import write_return, write_tags
from andromede.http.xml import XmlWriter

__all__ = ["DHCP_OPTIONS_ACTIONS"]


def _write_options(xml: XmlWriter, options: DhcpOptions, element: str) -> None:
    xml.open(element)
    xml.element("dhcpOptionsId", options.dhcp_options_id)
    xml.open("dhcpConfigurationSet")
    for key, values in options.configurations:
        xml.open("item")
        xml.element("key", key)
        xml.open("valueSet")
        for value in values:
            xml.open("item")
            xml.element("value", value)
            xml.close("item")
        xml.close("valueSet")
        xml.close("item")
    xml.close("dhcpConfigurationSet")
    xml.element("ownerId", options.tenant_id)
    write_tags(xml, options.tags)
    xml.close(element)


def _options_filter(name: str) -> Callable[[object], list[str]] | None:
    def of(get: Callable[[DhcpOptions], list[str]]) -> Callable[[object], list[str]]:
        return lambda o: get(o) if isinstance(o, DhcpOptions) else []

    fields = {
        "dhcp-options-id": of(lambda o: [o.dhcp_options_id]),
        "owner-id": of(lambda o: [o.tenant_id]),
        "key": of(lambda o: [key for key, _ in o.configurations]),
        "value": of(lambda o: [value for _, values in o.configurations for value in values]),
    }
    return with_tags(fields)(name)


async def create_dhcp_options(call: Call) -> None:
    p = call.params
    p.refuse_unhandled("CreateDhcpOptions", frozenset({"DhcpConfiguration", "TagSpecification"}))
    configurations = [
        (item.required("Key"), item.values("Value")) for item in p.structs("DhcpConfiguration")
    ]
    options = await call.compute.create_dhcp_options(
        call.tenant_id, configurations, resource_tags(p, "dhcp-options")
    )
    _write_options(call.result, options, "dhcpOptions")


async def describe_dhcp_options(call: Call) -> None:
    p = call.params
    found = await call.compute.describe_dhcp_options(call.tenant_id, p.values("DhcpOptionsId"))
    filters = Filters(p.filters(), _options_filter)
    chosen, next_token = paged(
        p,
        [o for o in found if matches(filters, o)],
        lambda o: o.dhcp_options_id,
        most=1000,
        ids="DhcpOptionsId",
    )
    xml = call.result
    xml.open("dhcpOptionsSet")
    for options in chosen:
        _write_options(xml, options, "item")
    xml.close("dhcpOptionsSet")
    xml.element("nextToken", next_token)


async def delete_dhcp_options(call: Call) -> None:
    await call.compute.delete_dhcp_options(call.tenant_id, call.params.required("DhcpOptionsId"))
    write_return(call.result)


async def associate_dhcp_options(call: Call) -> None:
    p = call.params
    await call.compute.associate_dhcp_options(
        call.tenant_id, p.required("DhcpOptionsId"), p.required("VpcId")
    )
    write_return(call.result)


def _options_arn(call: Call) -> list[str]:
    return [call.arn("dhcp-options", call.params.get("DhcpOptionsId") or "*")]


def _options_and_vpc_arns(call: Call) -> list[str]:
    # EC2 authorises an association on the set and on the VPC; "default" names no set.
    chosen = call.params.get("DhcpOptionsId") or "*"
    vpc = call.arn("vpc", call.params.get("VpcId") or "*")
    return [vpc] if chosen == "default" else [call.arn("dhcp-options", chosen), vpc]


DHCP_OPTIONS_ACTIONS: dict[str, Action] = {
    "CreateDhcpOptions": Action(
        create_dhcp_options, mutating=True, resources=lambda c: [c.arn("dhcp-options")]
    ),
    "DescribeDhcpOptions": Action(describe_dhcp_options, mutating=False),
    "DeleteDhcpOptions": Action(delete_dhcp_options, mutating=True, resources=_options_arn),
    "AssociateDhcpOptions": Action(
        associate_dhcp_options, mutating=True, resources=_options_and_vpc_arns
    ),
}
