"""Network ACLs in the compute service (decision 0128): DescribeNetworkAcls over the stored
ACLs (every VPC's default one made on first need), Create/DeleteNetworkAcl,
Create/Replace/DeleteNetworkAclEntry and ReplaceNetworkAclAssociation, and what each change
pushes to the hosts.

Writes that must not cross are serialised on a parent's revision, as route tables are
(decision 0121): an ACL is made by a change of its VPC, so DeleteVpc counts it; an association
is moved by a change of its subnet with both ACLs, so a subnet always has exactly one and a
subnet deleted at once either goes first (the move finds it gone) or takes its association with
it; an ACL's entries change at the ACL's own revision, and DeleteNetworkAcl deletes at the
revision it checked (an association moved onto it meanwhile makes it retry and refuse).

An ACL's effect is its subnets' traffic, filtered by the hosts: every entry change pushes the
ACL to the hosts of its subnets' VPC, every association change the subnet's new ACL
(:meth:`~andromede.compute.networks.NetworksMixin._push_network_acls`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from andromede.compute.errors import (
    AclEntryExists,
    AclEntryNotFound,
    IncorrectState,
    InvalidParameterValue,
    NetworkLimitExceeded,
    NotFound,
    ResourceInUse,
)
from andromede.compute.model import (
    Tags,
    check_id,
    new_id,
)
from andromede.compute.network import Subnet
from andromede.compute.network_acl import (
    RULE_MAX,
    RULE_MIN,
    NetworkAcl,
    NetworkAclAssociation,
    NetworkAclEntry,
)
from andromede.compute.vpc_members import VpcMembersMixin
from andromede.compute.vpcs import chosen

__all__ = ["NetworkAclsMixin"]

_ATTEMPTS = 8


class NetworkAclsMixin(VpcMembersMixin):
    async def describe_network_acls(self, tenant_id: str, ids: Sequence[str]) -> list[NetworkAcl]:
        """The tenant's ACLs in id order, or those ``ids`` name (each must be one)."""
        await self._acls_made(tenant_id)
        acls = await self.store.list(NetworkAcl, tenant_id)
        return chosen(acls, ids, lambda a: a.network_acl_id, "acl")

    async def _acls_made(self, tenant_id: str) -> None:
        """Every VPC of the tenant with its default ACL stored (made on first need)."""
        for vpc in await self.describe_vpcs(tenant_id, []):
            await self.acl_made(vpc)

    async def _acl(self, tenant_id: str, network_acl_id: str) -> NetworkAcl:
        await self._acls_made(tenant_id)
        return await self._owned(NetworkAcl, tenant_id, network_acl_id, "acl")

    # -- ACLs --------------------------------------------------------------------------------

    async def create_network_acl(
        self, tenant_id: str, vpc_id: str, tags: Tags = (), client_token: str | None = None
    ) -> NetworkAcl:
        """An ACL of the VPC with no entry: the ``*`` rule denies everything until entries
        allow it, as on EC2. With a client token (Terraform sends one), at most once per
        account and token: its id is derived from them, as CreateRouteTable's."""
        return await self._add_to_vpc(
            NetworkAcl,
            "acl",
            tenant_id,
            vpc_id,
            tags,
            client_token,
            ready=self.acl_made,
            quota=(
                self.limits.max_network_acls_per_vpc,
                "The maximum number of network ACLs has been reached for this VPC.",
            ),
            made=lambda acl_id, _vpc, digest: NetworkAcl(
                acl_id,
                tenant_id,
                vpc_id,
                tags=tags,
                client_token=client_token,
                request_digest=digest,
            ),
        )

    async def delete_network_acl(self, tenant_id: str, network_acl_id: str) -> None:
        """Not a VPC's default ACL (it goes with its VPC), nor one a subnet is associated
        with: EC2's InvalidParameterValue and DependencyViolation."""
        for _ in range(_ATTEMPTS):
            acl = await self._acl(tenant_id, network_acl_id)
            if acl.is_default:
                raise InvalidParameterValue(f"cannot delete default network ACL {network_acl_id}")
            if acl.associations:
                raise ResourceInUse(
                    "acl",
                    f"The networkAcl '{network_acl_id}' has dependencies and cannot be deleted.",
                )
            if await self.store.change(acl, delete=[(NetworkAcl, network_acl_id)]):
                return
        raise IncorrectState(f"{network_acl_id} changed concurrently; retry")

    # -- entries -----------------------------------------------------------------------------

    async def create_network_acl_entry(
        self, tenant_id: str, network_acl_id: str, new: NetworkAclEntry
    ) -> None:
        """``new`` (checked by :func:`~andromede.compute.network_acl.entry`) added; its
        direction and number taken: NetworkAclEntryAlreadyExists."""
        await self._change_entry(tenant_id, network_acl_id, new, create=True)

    async def replace_network_acl_entry(
        self, tenant_id: str, network_acl_id: str, new: NetworkAclEntry
    ) -> None:
        """The entry of ``new``'s direction and number replaced by it; none:
        InvalidNetworkAclEntry.NotFound."""
        await self._change_entry(tenant_id, network_acl_id, new, create=False)

    async def _change_entry(
        self, tenant_id: str, network_acl_id: str, new: NetworkAclEntry, *, create: bool
    ) -> None:
        for _ in range(_ATTEMPTS):
            acl = await self._acl(tenant_id, network_acl_id)
            existing = acl.entry(new.egress, new.rule_number)
            if create and existing is not None:
                raise AclEntryExists(new.rule_number)
            if not create and existing is None:
                raise AclEntryNotFound(new.egress, new.rule_number)
            same_way = [e for e in acl.entries if e.egress == new.egress]
            if create and len(same_way) >= self.limits.max_network_acl_entries:
                raise NetworkLimitExceeded(
                    "acl-entry", "The maximum number of entries has been reached for this ACL."
                )
            if await self.store.replace(replace(acl, entries=acl.with_entry(new))):
                self._push_network_acls_later(tenant_id, [a.subnet_id for a in acl.associations])
                return
        raise IncorrectState(f"{network_acl_id} changed concurrently; retry")

    async def delete_network_acl_entry(
        self, tenant_id: str, network_acl_id: str, *, egress: bool, rule_number: int
    ) -> None:
        """The ``*`` rule (32767) is no entry to delete: InvalidParameterValue, as any number
        out of 1 to 32766."""
        if not RULE_MIN <= rule_number <= RULE_MAX:
            raise InvalidParameterValue(
                f"Value ({rule_number}) for parameter ruleNumber is invalid. Rule numbers must be "
                f"between {RULE_MIN} and {RULE_MAX}."
            )
        for _ in range(_ATTEMPTS):
            acl = await self._acl(tenant_id, network_acl_id)
            if acl.entry(egress, rule_number) is None:
                raise AclEntryNotFound(egress, rule_number)
            kept = acl.without_entry(egress, rule_number)
            if await self.store.replace(replace(acl, entries=kept)):
                self._push_network_acls_later(tenant_id, [a.subnet_id for a in acl.associations])
                return
        raise IncorrectState(f"{network_acl_id} changed concurrently; retry")

    # -- associations ------------------------------------------------------------------------

    async def replace_network_acl_association(
        self, tenant_id: str, association_id: str, network_acl_id: str
    ) -> NetworkAclAssociation:
        """The subnet of ``association_id`` moved to ``network_acl_id`` (of its VPC) under a
        new association id, as EC2 gives one; moving it back to the same ACL is a new id too."""
        check_id(association_id, "aclassoc")
        for _ in range(_ATTEMPTS):
            target = await self._acl(tenant_id, network_acl_id)
            current, association = await self._acl_association(tenant_id, association_id)
            if target.vpc_id != current.vpc_id:
                raise InvalidParameterValue(
                    f"network acl {network_acl_id} and association {association_id} belong to "
                    "different networks"
                )
            subnet = await self._owned(Subnet, tenant_id, association.subnet_id, "subnet")
            moved = NetworkAclAssociation(new_id("aclassoc"), association.subnet_id)
            left = tuple(a for a in current.associations if a.association_id != association_id)
            if target.network_acl_id == current.network_acl_id:
                changed = [replace(current, associations=(*left, moved))]
            else:
                changed = [
                    replace(current, associations=left),
                    replace(target, associations=(*target.associations, moved)),
                ]
            if await self.store.change(subnet, replace=changed):
                self._push_network_acls_later(tenant_id, [subnet.subnet_id])
                return moved
        raise IncorrectState(f"{association_id} changed concurrently; retry")

    async def _acl_association(
        self, tenant_id: str, association_id: str
    ) -> tuple[NetworkAcl, NetworkAclAssociation]:
        for acl in await self.store.list(NetworkAcl, tenant_id):
            for association in acl.associations:
                if association.association_id == association_id:
                    return acl, association
        raise NotFound("aclassoc", association_id)
