"""EC2's managed prefix list calls (decision 0149), made in process as the console's
signed-in principal through ``wire_ec2.Ec2Wire``: EC2's own authorisation answers them. Each
answer is read into the rows the prefix lists page shows; nothing here decides what EC2
allows."""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree.ElementTree import Element

from andromede.console.wire import WireError
from andromede.console.wire_ec2 import Ec2Wire, name_of, tags_of, text
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = ["PrefixListRow", "describe_prefix_lists"]


@dataclass(frozen=True, slots=True)
class PrefixListRow:
    prefix_list_id: str
    name: str
    tag_name: str
    address_family: str
    state: str
    version: str
    max_entries: str
    # The current version's (CIDR, description) pairs; None when the caller may list the
    # lists but not read their entries (GetManagedPrefixListEntries refused).
    entries: tuple[tuple[str, str], ...] | None


async def _entries(
    ec2: Ec2Wire, origin: Scope, who: Principal, prefix_list_id: str
) -> tuple[tuple[str, str], ...] | None:
    try:
        root = await ec2.call(
            origin, who, "GetManagedPrefixListEntries", {"PrefixListId": prefix_list_id}
        )
    except WireError:
        return None
    return tuple((text(e, "cidr"), text(e, "description")) for e in root.iterfind("entrySet/item"))


async def describe_prefix_lists(ec2: Ec2Wire, origin: Scope, who: Principal) -> list[PrefixListRow]:
    """The caller's managed prefix lists, each with its current entries."""
    root = await ec2.call(origin, who, "DescribeManagedPrefixLists", {})
    rows = []
    for item in root.iterfind("prefixListSet/item"):
        rows.append(await _row(ec2, origin, who, item))
    return rows


async def _row(ec2: Ec2Wire, origin: Scope, who: Principal, item: Element) -> PrefixListRow:
    prefix_list_id = text(item, "prefixListId")
    return PrefixListRow(
        prefix_list_id=prefix_list_id,
        name=text(item, "prefixListName"),
        tag_name=name_of(tags_of(item)),
        address_family=text(item, "addressFamily"),
        state=text(item, "state"),
        version=text(item, "version"),
        max_entries=text(item, "maxEntries"),
        entries=await _entries(ec2, origin, who, prefix_list_id),
    )
