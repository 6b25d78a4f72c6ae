"""EC2's customer-managed prefix lists (decision 0149): CreateManagedPrefixList (``Entry.N``,
``MaxEntries``, ``AddressFamily``, ``TagSpecification`` of type ``prefix-list``,
``ClientToken``), DescribeManagedPrefixLists (ids, filters ``prefix-list-id``,
``prefix-list-name``, ``owner-id`` and tags, ``MaxResults`` 1 to 100 with ``NextToken``),
GetManagedPrefixListEntries (``TargetVersion``), ModifyManagedPrefixList (``CurrentVersion``,
``AddEntry.N``, ``RemoveEntry.N``, ``PrefixListName``, ``MaxEntries``),
RestoreManagedPrefixListVersion, DeleteManagedPrefixList, GetManagedPrefixListAssociations
(the security groups and the route tables naming a list),
and DescribePrefixLists — the AWS-managed lists: the object store's, for VPC endpoints
(decision 0160).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from andromede.compute.errors import NotFound
from andromede.compute.prefix_list import ManagedPrefixList
from andromede.ec2api.errors import Ec2Error
from andromede.ec2api.filters import Filters, matches, with_tags
from andromede.ec2api.protocol import Action, Call, Params, page_after, page_token
from andromede.ec2api.vpcs import resource_tags
from andromede.ec2api.xml import write_tags
from andromede.http.xml import XmlWriter

__all__ = ["PREFIX_LIST_ACTIONS"]

_T = TypeVar("_T")
_LONG = 2**63 - 1


def _write_list(
    xml: XmlWriter, call: Call, plist: ManagedPrefixList, element: str, state: str | None = None
) -> None:
    xml.open(element)
    xml.element("prefixListId", plist.prefix_list_id)
    xml.element("addressFamily", plist.address_family)
    xml.element("state", state or plist.state.value)
    xml.element("prefixListArn", call.arn("prefix-list", plist.prefix_list_id))
    xml.element("prefixListName", plist.name)
    xml.element("maxEntries", plist.max_entries)
    xml.element("version", plist.version)
    write_tags(xml, plist.tags)
    xml.element("ownerId", plist.tenant_id)
    xml.close(element)


def _pages(
    p: Params,
    items: Sequence[_T],
    key: Callable[[_T], str],
    *,
    least: int,
    most: int,
    ids: str | None = None,
) -> tuple[list[_T], str | None]:
    """EC2's pages in ``key`` order: ``MaxResults`` ``least`` to ``most``, resumed by
    ``NextToken``; all at once without it."""
    max_results = p.integer("MaxResults", minimum=least, maximum=most)
    if ids is not None and max_results is not None and p.values(ids):
        raise Ec2Error(
            "InvalidParameterCombination",
            f"The parameter {ids} cannot be used with the parameter MaxResults",
        )
    chosen = sorted(items, key=key)
    after = page_after(p.get("NextToken"))
    if after is not None:
        chosen = [item for item in chosen if key(item) > after]
    if max_results is None or len(chosen) <= max_results:
        return chosen, None
    chosen = chosen[:max_results]
    return chosen, page_token(key(chosen[-1]))


def _entries(p: Params, name: str) -> list[tuple[str, str]]:
    return [(e.required("Cidr"), e.get("Description") or "") for e in p.structs(name)]


async def create_managed_prefix_list(call: Call) -> None:
    p = call.params
    p.refuse_unhandled(
        "CreateManagedPrefixList",
        frozenset(
            {
                "PrefixListName",
                "Entry",
                "MaxEntries",
                "TagSpecification",
                "AddressFamily",
                "ClientToken",
            }
        ),
    )
    max_entries = p.integer("MaxEntries", minimum=1)
    if max_entries is None:
        raise Ec2Error("MissingParameter", "The request must contain the parameter MaxEntries")
    plist = await call.compute.create_managed_prefix_list(
        call.tenant_id,
        p.required("PrefixListName"),
        p.required("AddressFamily"),
        max_entries,
        _entries(p, "Entry"),
        resource_tags(p, "prefix-list"),
        p.get("ClientToken"),
    )
    _write_list(call.result, call, plist, "prefixList")


def _filter(name: str) -> Callable[[object], list[str]] | None:
    def of(get: Callable[[ManagedPrefixList], list[str]]) -> Callable[[object], list[str]]:
        return lambda o: get(o) if isinstance(o, ManagedPrefixList) else []

    fields = {
        "prefix-list-id": of(lambda o: [o.prefix_list_id]),
        "prefix-list-name": of(lambda o: [o.name]),
        "owner-id": of(lambda o: [o.tenant_id]),
    }
    return with_tags(fields)(name)


async def describe_managed_prefix_lists(call: Call) -> None:
    p = call.params
    found = await call.compute.describe_managed_prefix_lists(
        call.tenant_id, p.values("PrefixListId")
    )
    filters = Filters(p.filters(), _filter)
    page, token = _pages(
        p,
        [plist for plist in found if matches(filters, plist)],
        lambda o: o.prefix_list_id,
        least=1,
        most=100,
        ids="PrefixListId",
    )
    xml = call.result
    xml.open("prefixListSet")
    for plist in page:
        _write_list(xml, call, plist, "item")
    xml.close("prefixListSet")
    xml.element("nextToken", token)


async def get_managed_prefix_list_entries(call: Call) -> None:
    p = call.params
    plist = await call.compute.managed_prefix_list(call.tenant_id, p.required("PrefixListId"))
    entries = plist.entries_at(p.integer("TargetVersion", minimum=1, maximum=_LONG))
    page, token = _pages(p, entries, lambda e: e.cidr, least=1, most=100)
    xml = call.result
    xml.open("entrySet")
    for entry in page:
        xml.open("item")
        xml.element("cidr", entry.cidr)
        xml.element("description", entry.description or None)
        xml.close("item")
    xml.close("entrySet")
    xml.element("nextToken", token)


async def modify_managed_prefix_list(call: Call) -> None:
    p = call.params
    p.refuse_unhandled(
        "ModifyManagedPrefixList",
        frozenset(
            {
                "PrefixListId",
                "CurrentVersion",
                "PrefixListName",
                "AddEntry",
                "RemoveEntry",
                "MaxEntries",
            }
        ),
    )
    plist = await call.compute.modify_managed_prefix_list(
        call.tenant_id,
        p.required("PrefixListId"),
        current_version=p.integer("CurrentVersion", minimum=1, maximum=_LONG),
        add=_entries(p, "AddEntry"),
        remove=[e.required("Cidr") for e in p.structs("RemoveEntry")],
        name=p.get("PrefixListName"),
        max_entries=p.integer("MaxEntries", minimum=1),
    )
    _write_list(call.result, call, plist, "prefixList")


async def restore_managed_prefix_list_version(call: Call) -> None:
    p = call.params
    previous = p.integer("PreviousVersion", minimum=1, maximum=_LONG)
    current = p.integer("CurrentVersion", minimum=1, maximum=_LONG)
    if previous is None or current is None:
        raise Ec2Error(
            "MissingParameter",
            "The request must contain the parameters PreviousVersion and CurrentVersion",
        )
    plist = await call.compute.restore_managed_prefix_list_version(
        call.tenant_id, p.required("PrefixListId"), previous, current
    )
    _write_list(call.result, call, plist, "prefixList")


async def delete_managed_prefix_list(call: Call) -> None:
    plist = await call.compute.delete_managed_prefix_list(
        call.tenant_id, call.params.required("PrefixListId")
    )
    # Deleted when the call answers: EC2's last state, which Terraform waits for.
    _write_list(call.result, call, plist, "prefixList", state="delete-complete")


async def get_managed_prefix_list_associations(call: Call) -> None:
    p = call.params
    users = await call.compute.prefix_list_references(call.tenant_id, p.required("PrefixListId"))
    page, token = _pages(p, users, lambda u: u[0], least=5, most=255)
    xml = call.result
    xml.open("prefixListAssociationSet")
    for resource_id, owner in page:
        xml.open("item")
        xml.element("resourceId", resource_id)
        xml.element("resourceOwner", owner)
        xml.close("item")
    xml.close("prefixListAssociationSet")
    xml.element("nextToken", token)


async def describe_prefix_lists(call: Call) -> None:
    """The AWS-managed lists (the service endpoints' blocks, for gateway endpoints): the
    region's object store's, whose blocks are its addresses as guests see them (decision
    0160); another list named is not found. Filters ``prefix-list-id`` and
    ``prefix-list-name``."""
    p = call.params
    list_id, name, cidrs = call.compute.endpoint_prefix_list()
    for prefix_list_id in p.values("PrefixListId"):
        if prefix_list_id != list_id:
            raise NotFound("pl-rule", prefix_list_id)
    filters = p.filters()
    held = [
        (list_id, name, cidrs)
        for _ in (0,)
        if list_id in filters.get("prefix-list-id", [list_id])
        and name in filters.get("prefix-list-name", [name])
    ]
    chosen, token = _pages(p, held, lambda h: h[0], least=5, most=1000, ids="PrefixListId")
    xml = call.result
    xml.open("prefixListSet")
    for chosen_id, chosen_name, blocks in chosen:
        xml.open("item")
        xml.element("prefixListId", chosen_id)
        xml.element("prefixListName", chosen_name)
        xml.open("cidrSet")
        for block in blocks:
            xml.element("item", block)
        xml.close("cidrSet")
        xml.close("item")
    xml.close("prefixListSet")
    xml.element("nextToken", token)


def _list_arn(call: Call) -> list[str]:
    return [call.arn("prefix-list", call.params.get("PrefixListId") or "*")]


PREFIX_LIST_ACTIONS: dict[str, Action] = {
    "CreateManagedPrefixList": Action(
        create_managed_prefix_list, mutating=True, resources=lambda c: [c.arn("prefix-list")]
    ),
    "DescribeManagedPrefixLists": Action(describe_managed_prefix_lists, mutating=False),
    "GetManagedPrefixListEntries": Action(
        get_managed_prefix_list_entries, mutating=False, resources=_list_arn
    ),
    "GetManagedPrefixListAssociations": Action(
        get_managed_prefix_list_associations, mutating=False, resources=_list_arn
    ),
    "ModifyManagedPrefixList": Action(
        modify_managed_prefix_list, mutating=True, resources=_list_arn
    ),
    "RestoreManagedPrefixListVersion": Action(
        restore_managed_prefix_list_version, mutating=True, resources=_list_arn
    ),
    "DeleteManagedPrefixList": Action(
        delete_managed_prefix_list, mutating=True, resources=_list_arn
    ),
    "DescribePrefixLists": Action(describe_prefix_lists, mutating=False),
}
