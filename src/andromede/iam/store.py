"""The identity store interface, with its SQL and in-memory implementations beside it."""

from __future__ import annotations

from typing import Protocol

from andromede.iam.model import AccessKey, Tenant, User

__all__ = ["IdentityStore"]


class IdentityStore(Protocol):
    async def count_tenants(self) -> int: ...

    async def create_tenant_with_root(
        self, tenant: Tenant, root: User, key: AccessKey, secret_sealed: str
    ) -> None:
        """Create a tenant, its root user and the root user's first key in one transaction.

        TenantAlreadyExists if the tenant's id or name is taken (nothing is created)."""

    async def get_tenant(self, tenant_id: str) -> Tenant | None: ...

    async def get_user(self, user_id: str) -> User | None: ...

    async def get_access_key(self, access_key_id: str) -> tuple[AccessKey, str] | None:
        """The key and its sealed secret."""
