"""In-memory identity store: the fast twin of ``store_sql.py`` for tests."""

from __future__ import annotations

from andromede.iam.errors import TenantAlreadyExists
from andromede.iam.model import AccessKey, Tenant, User

__all__ = ["MemoryIdentityStore"]


class MemoryIdentityStore:
    def __init__(self) -> None:
        self._tenants: dict[str, Tenant] = {}
        self._users: dict[str, User] = {}
        self._keys: dict[str, tuple[AccessKey, str]] = {}

    async def count_tenants(self) -> int:
        return len(self._tenants)

    async def create_tenant_with_root(
        self, tenant: Tenant, root: User, key: AccessKey, secret_sealed: str
    ) -> None:
        if tenant.id in self._tenants or any(t.name == tenant.name for t in self._tenants.values()):
            raise TenantAlreadyExists(tenant.name)
        self._tenants[tenant.id] = tenant
        self._users[root.id] = root
        self._keys[key.access_key_id] = (key, secret_sealed)

    async def get_tenant(self, tenant_id: str) -> Tenant | None:
        return self._tenants.get(tenant_id)

    async def get_user(self, user_id: str) -> User | None:
        return self._users.get(user_id)

    async def get_access_key(self, access_key_id: str) -> tuple[AccessKey, str] | None:
        return self._keys.get(access_key_id)
