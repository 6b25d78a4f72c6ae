"""Network ACLs in the compute service (decision 0128): DescribeNetworkAcls over the stored
ACLs, every VPC's default one made on first need.
"""

from __future__ import annotations

from collections.abc import Sequence

from andromede.compute.network_acl import NetworkAcl
from andromede.compute.vpcs import VpcsMixin, chosen

__all__ = ["NetworkAclsMixin"]


class NetworkAclsMixin(VpcsMixin):
    async def describe_network_acls(self, tenant_id: str, ids: Sequence[str]) -> list[NetworkAcl]:
        """The tenant's ACLs in id order, or those ``ids`` name (each must be one)."""
        await self._acls_made(tenant_id)
        acls = await self.store.list(NetworkAcl, tenant_id)
        return chosen(acls, ids, lambda a: a.network_acl_id, "acl")

    async def _acls_made(self, tenant_id: str) -> None:
        """Every VPC of the tenant with its default ACL stored (made on first need)."""
        for vpc in await self.describe_vpcs(tenant_id, []):
            await self.acl_made(vpc)
