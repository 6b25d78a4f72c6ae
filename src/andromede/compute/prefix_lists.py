"""Customer-managed prefix lists in the compute service (decision 0149): create, describe,
read a version's entries, modify (entries, name, MaxEntries), restore a version, delete, and
the security groups and route tables that reference a list — whose members' firewalls, and
the firewalls of the instances of those tables' VPCs, follow every change of its entries.

A change is written at the revision it was computed from (two gateways changing one list
cannot both win; EC2's ``CurrentVersion`` says the same to the client). A list referenced by
a rule or a route is not deleted (DependencyViolation); the reference is checked when the
rule or the route is written (access.py, gateways.py), so another tenant's list is never
referenced.
"""

from __future__ import annotations

from collections.abc import Sequence

from andromede.compute.access import AccessMixin
from andromede.compute.errors import (
    Duplicate,
    IncorrectState,
    InvalidParameterValue,
    NetworkLimitExceeded,
    ResourceInUse,
)
from andromede.compute.model import (
    SecurityGroup,
    Tags,
    check_client_token,
    check_tags,
    new_id,
    request_digest,
    token_id,
)
from andromede.compute.prefix_list import (
    ManagedPrefixList,
    check_entries,
    check_family,
    check_max_entries,
    check_name,
    modified,
    resized,
    restored,
)
from andromede.compute.routing import RouteTable, routes_weight
from andromede.compute.vpcs import chosen

__all__ = ["PrefixListsMixin", "referencing", "routing_to"]

_ATTEMPTS = 8


def referencing(groups: Sequence[SecurityGroup], prefix_list_id: str) -> list[SecurityGroup]:
    """The groups with a rule, either way, naming the list."""
    return [
        g
        for g in groups
        if any(r.prefix_list_id == prefix_list_id for r in (*g.ingress, *g.egress))
    ]


def routing_to(tables: Sequence[RouteTable], prefix_list_id: str) -> list[RouteTable]:
    """The route tables with a route whose destination is the list."""
    return [t for t in tables if t.route_to(prefix_list_id) is not None]


class PrefixListsMixin(AccessMixin):
    async def create_managed_prefix_list(
        self,
        tenant_id: str,
        name: str,
        address_family: str,
        max_entries: int,
        entries: Sequence[tuple[str, str]] = (),
        tags: Tags = (),
        client_token: str | None = None,
    ) -> ManagedPrefixList:
        """A new list at version 1; with a client token (Terraform sends one), at most once
        per account and token: its id is derived from them."""
        check_name(name)
        check_family(address_family)
        check_max_entries(max_entries, self.limits.max_prefix_list_entries)
        checked = check_entries(entries, address_family)
        if len(checked) > max_entries:
            raise InvalidParameterValue(
                f"The number of entries ({len(checked)}) exceeds MaxEntries ({max_entries})"
            )
        check_tags(tags)
        list_id, digest = new_id("pl"), ""
        if client_token is not None:
            check_client_token(client_token)
            list_id = token_id("pl", tenant_id, client_token)
            digest = request_digest(
                {
                    "name": name,
                    "family": address_family,
                    "max": max_entries,
                    "entries": checked,
                    "tags": tags,
                }
            )
            earlier = await self._made_with_token(ManagedPrefixList, tenant_id, list_id, digest)
            if earlier is not None:
                return earlier
        plist = ManagedPrefixList(
            list_id,
            tenant_id,
            name,
            address_family,
            max_entries,
            1,
            checked,
            tags=tags,
            client_token=client_token,
            request_digest=digest,
        )
        async with self._placement:
            held = await self.store.list(ManagedPrefixList, tenant_id)
            if len(held) >= self.limits.max_prefix_lists:
                raise NetworkLimitExceeded(
                    "pl", "The maximum number of prefix lists has been reached."
                )
            try:
                await self.store.insert(plist)
            except Duplicate:
                if client_token is None:
                    raise
                earlier = await self._made_with_token(ManagedPrefixList, tenant_id, list_id, digest)
                if earlier is None:  # pragma: no cover - deleted between the two calls
                    raise IncorrectState(f"{list_id} changed concurrently; retry") from None
                return earlier
        return plist

    async def describe_managed_prefix_lists(
        self, tenant_id: str, ids: Sequence[str]
    ) -> list[ManagedPrefixList]:
        found = await self.store.list(ManagedPrefixList, tenant_id)
        return chosen(found, ids, lambda p: p.prefix_list_id, "pl")

    async def managed_prefix_list(self, tenant_id: str, prefix_list_id: str) -> ManagedPrefixList:
        return await self._owned(ManagedPrefixList, tenant_id, prefix_list_id, "pl")

    async def prefix_list_references(
        self, tenant_id: str, prefix_list_id: str
    ) -> list[tuple[str, str]]:
        """GetManagedPrefixListAssociations: the tenant's groups whose rules reference it and
        its route tables whose routes do, as (resource id, owner) in id order."""
        await self.managed_prefix_list(tenant_id, prefix_list_id)
        groups = referencing(await self.store.list(SecurityGroup, tenant_id), prefix_list_id)
        tables = routing_to(await self.store.list(RouteTable, tenant_id), prefix_list_id)
        return sorted(
            [(g.group_id, g.tenant_id) for g in groups]
            + [(t.route_table_id, t.tenant_id) for t in tables]
        )

    async def modify_managed_prefix_list(
        self,
        tenant_id: str,
        prefix_list_id: str,
        *,
        current_version: int | None,
        add: Sequence[tuple[str, str]] = (),
        remove: Sequence[str] = (),
        name: str | None = None,
        max_entries: int | None = None,
    ) -> ManagedPrefixList:
        """ModifyManagedPrefixList. New entries reach the firewalls of the instances whose
        groups reference the list; a larger MaxEntries must fit the rules quota of every
        group referencing it (EC2 counts a reference as MaxEntries rules)."""
        if max_entries is not None and (add or remove):
            raise InvalidParameterValue(
                "You cannot modify the entries and the maximum number of entries for the"
                " prefix list in the same request."
            )
        for _ in range(_ATTEMPTS):
            plist = await self.managed_prefix_list(tenant_id, prefix_list_id)
            if max_entries is not None:
                changed = resized(
                    plist, max_entries, self.limits.max_prefix_list_entries, current_version
                )
                if name is not None:
                    changed = modified(
                        changed, current_version=None, add=(), remove=(), name=name, kept=0
                    )
                if max_entries > plist.max_entries:
                    await self._check_resize(tenant_id, prefix_list_id, max_entries)
            else:
                changed = modified(
                    plist,
                    current_version=current_version,
                    add=add,
                    remove=remove,
                    name=name,
                    kept=self.limits.prefix_list_versions_kept,
                )
            if not await self.store.replace(changed):
                continue
            if changed.entries != plist.entries:
                await self._push_references(tenant_id, prefix_list_id)
            return changed
        raise IncorrectState(f"{prefix_list_id} changed concurrently; retry")

    async def restore_managed_prefix_list_version(
        self, tenant_id: str, prefix_list_id: str, previous_version: int, current_version: int
    ) -> ManagedPrefixList:
        for _ in range(_ATTEMPTS):
            plist = await self.managed_prefix_list(tenant_id, prefix_list_id)
            changed = restored(
                plist, previous_version, current_version, self.limits.prefix_list_versions_kept
            )
            if not await self.store.replace(changed):
                continue
            if changed.entries != plist.entries:
                await self._push_references(tenant_id, prefix_list_id)
            return changed
        raise IncorrectState(f"{prefix_list_id} changed concurrently; retry")

    async def delete_managed_prefix_list(
        self, tenant_id: str, prefix_list_id: str
    ) -> ManagedPrefixList:
        for _ in range(_ATTEMPTS):
            plist = await self.managed_prefix_list(tenant_id, prefix_list_id)
            groups = await self.store.list(SecurityGroup, tenant_id)
            tables = await self.store.list(RouteTable, tenant_id)
            users = [g.group_id for g in referencing(groups, prefix_list_id)] + [
                t.route_table_id for t in routing_to(tables, prefix_list_id)
            ]
            if users:
                raise ResourceInUse(
                    "pl",
                    f"The prefix list {prefix_list_id} is referenced by {users[0]} and"
                    " cannot be deleted.",
                )
            if await self.store.change(plist, delete=[(ManagedPrefixList, prefix_list_id)]):
                return plist
        raise IncorrectState(f"{prefix_list_id} changed concurrently; retry")

    async def _check_resize(self, tenant_id: str, prefix_list_id: str, max_entries: int) -> None:
        sizes = {**await self.prefix_list_sizes(tenant_id), prefix_list_id: max_entries}
        for group in referencing(await self.store.list(SecurityGroup, tenant_id), prefix_list_id):
            self.check_rules_quota(group.ingress, sizes)
            self.check_rules_quota(group.egress, sizes)
        # A route naming the list weighs its MaxEntries against its table's routes quota.
        for table in routing_to(await self.store.list(RouteTable, tenant_id), prefix_list_id):
            if routes_weight(table.routes, sizes) > self.limits.max_routes_per_route_table:
                raise NetworkLimitExceeded(
                    "route", "The maximum number of routes has been reached for this route table."
                )

    async def _push_references(self, tenant_id: str, prefix_list_id: str) -> None:
        """The firewalls of the members of the groups naming the list, and of the instances
        of the VPCs whose route tables do (with their NAT gateways' routes)."""
        groups = referencing(await self.store.list(SecurityGroup, tenant_id), prefix_list_id)
        tables = routing_to(await self.store.list(RouteTable, tenant_id), prefix_list_id)
        await self._push_firewalls(
            tenant_id, [g.group_id for g in groups], vpc_ids=sorted({t.vpc_id for t in tables})
        )
