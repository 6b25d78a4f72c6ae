"""IdentityService: the one public entry of identity.

For now it bootstraps the first tenant and resolves access keys to principals for request
authentication. Resolution sits on the hot path of every signed request, so resolved keys are
cached for a short time: a disabled key stops working within ``cache_ttl`` seconds on every
gateway, without a database read per request.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from andromede.iam.errors import InvalidAccessKeyId
from andromede.iam.model import (
    AccessKey,
    AccessKeyStatus,
    Principal,
    Tenant,
    TenantStatus,
    User,
    new_access_key_id,
    new_secret_access_key,
    new_tenant_id,
    new_user_id,
)
from andromede.iam.secrets import SecretSealer
from andromede.iam.store import IdentityStore

__all__ = ["BootstrapResult", "IdentityService"]


@dataclass(frozen=True, slots=True)
class BootstrapResult:
    tenant: Tenant
    root: User
    access_key_id: str
    secret_access_key: str


class IdentityService:
    def __init__(
        self, store: IdentityStore, sealer: SecretSealer, *, cache_ttl: float = 30.0
    ) -> None:
        self._store = store
        self._sealer = sealer
        self._cache_ttl = cache_ttl
        self._cache: dict[str, tuple[float, str, Principal]] = {}

    async def bootstrap(self, tenant_name: str = "admin") -> BootstrapResult | None:
        """Create the first tenant and its root user with one access key, on an empty store.

        Returns None when a tenant already exists (every start after the first).
        """
        if await self._store.count_tenants() > 0:
            return None
        return await self.create_tenant(tenant_name)

    async def create_tenant(self, name: str) -> BootstrapResult:
        """A new active tenant, its root user and the root's first access key (the secret is
        returned once, here). TenantAlreadyExists if the name is taken."""
        now = datetime.now(UTC)
        tenant = Tenant(id=new_tenant_id(), name=name, status=TenantStatus.ACTIVE, created_at=now)
        root = User(
            id=new_user_id(), tenant_id=tenant.id, name="root", is_root=True, created_at=now
        )
        key_id, secret = new_access_key_id(), new_secret_access_key()
        key = AccessKey(
            access_key_id=key_id, user_id=root.id, status=AccessKeyStatus.ACTIVE, created_at=now
        )
        await self._store.create_tenant_with_root(
            tenant, root, key, self._sealer.seal(key_id, secret)
        )
        return BootstrapResult(
            tenant=tenant, root=root, access_key_id=key_id, secret_access_key=secret
        )

    async def resolve_access_key(self, access_key_id: str) -> tuple[str, Principal]:
        """The secret and principal of an active key of an active tenant.

        InvalidAccessKeyId otherwise — the same error whether the key is unknown, inactive or its
        tenant suspended, so a caller learns nothing about which keys exist.
        """
        now = time.monotonic()
        cached = self._cache.get(access_key_id)
        if cached is not None and cached[0] > now:
            return cached[1], cached[2]
        found = await self._store.get_access_key(access_key_id)
        if found is None or found[0].status is not AccessKeyStatus.ACTIVE:
            raise InvalidAccessKeyId(
                "The AWS Access Key Id you provided does not exist in our records."
            )
        key, sealed = found
        user = await self._store.get_user(key.user_id)
        tenant = await self._store.get_tenant(user.tenant_id) if user else None
        if user is None or tenant is None or tenant.status is not TenantStatus.ACTIVE:
            raise InvalidAccessKeyId(
                "The AWS Access Key Id you provided does not exist in our records."
            )
        secret = self._sealer.unseal(access_key_id, sealed)
        principal = Principal(
            tenant_id=tenant.id, user_id=user.id, user_name=user.name, is_root=user.is_root
        )
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[access_key_id] = (now + self._cache_ttl, secret, principal)
        return secret, principal
