"""Tenants, their quotas and lifecycle, and platform operators (part of IdentityService).

Only platform operators call these (the operator CLI and, later, the management API); an
operator manages tenants but holds no key of theirs and reads none of their data.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from andromede.iam.errors import (
    EntityAlreadyExists,
    InvalidInput,
    InvalidTenantTransition,
    NoSuchTenant,
    TenantAlreadyExists,
)
from andromede.iam.model import (
    ACCESS_KEYS_PER_USER,
    POLICY_VERSIONS_MAX,
    TENANT_TRANSITIONS,
    AccessKey,
    AccessKeyStatus,
    Operator,
    Tenant,
    TenantQuota,
    TenantStatus,
    User,
    new_access_key_id,
    new_entity_id,
    new_secret_access_key,
    new_tenant_id,
    new_user_id,
)
from andromede.iam.service_core import ServiceCore

__all__ = ["AccountsMixin", "BootstrapResult", "CreatedOperator"]

_TENANT_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}", re.ASCII)
_ACCOUNT_ID = re.compile(r"[0-9]{12}", re.ASCII)
_REGION_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", re.ASCII)
_ID_ATTEMPTS = 5  # a fresh 12-digit id collides rarely; try a few before giving up


@dataclass(frozen=True, slots=True)
class BootstrapResult:
    """A new tenant, its root user and the root's key. The secret is shown once, here."""

    tenant: Tenant
    root: User
    access_key_id: str
    secret_access_key: str


@dataclass(frozen=True, slots=True)
class CreatedOperator:
    operator: Operator
    access_key_id: str
    secret_access_key: str


class AccountsMixin(ServiceCore):
    # -- tenants --------------------------------------------------------------------------------
    async def bootstrap(self, tenant_name: str = "admin") -> BootstrapResult | None:
        """Create the first tenant and its root user with one access key, on an empty store.

        Returns None when a tenant already exists (every start after the first).
        """
        if await self._store.count_tenants() > 0:
            return None
        try:
            return await self.create_tenant(tenant_name)
        except TenantAlreadyExists:
            # Another gateway's first start on the same database won the race: it bootstrapped.
            return None

    async def create_tenant(self, name: str) -> BootstrapResult:
        """A new active tenant with its root user and the root's first access key."""
        if not _TENANT_NAME.fullmatch(name):
            raise InvalidInput(
                "a tenant name is 1 to 63 lower-case letters, digits, '.', '_' or '-', "
                "starting with a letter or digit"
            )
        if await self._store.get_tenant_by_name(name) is not None:
            raise TenantAlreadyExists(f"a tenant named {name} exists")
        now = self._now()
        for attempt in range(_ID_ATTEMPTS):
            tenant = Tenant(
                id=new_tenant_id(), name=name, status=TenantStatus.ACTIVE, created_at=now
            )
            root = User(
                id=new_user_id(), tenant_id=tenant.id, name="root", is_root=True, created_at=now
            )
            key_id, secret = new_access_key_id(), new_secret_access_key()
            key = AccessKey(key_id, root.id, AccessKeyStatus.ACTIVE, now)
            try:
                await self._store.create_tenant_with_root(
                    tenant, root, key, self._sealer.seal(key_id, secret)
                )
            except TenantAlreadyExists:
                # The name was free a moment ago: either another caller took it, or the random
                # id collided. Retry only in the second case.
                if await self._store.get_tenant_by_name(name) is not None or (
                    attempt == _ID_ATTEMPTS - 1
                ):
                    raise
                continue
            return BootstrapResult(tenant, root, key_id, secret)
        raise AssertionError("unreachable")  # pragma: no cover

    async def get_tenant(self, tenant: str) -> Tenant:
        """A tenant by account id or by name. NoSuchTenant."""
        found = None
        if _ACCOUNT_ID.fullmatch(tenant):
            found = await self._store.get_tenant(tenant)
        if found is None:
            found = await self._store.get_tenant_by_name(tenant)
        if found is None:
            raise NoSuchTenant(f"no tenant {tenant}")
        return found

    async def list_tenants(self) -> list[Tenant]:
        return await self._store.list_tenants()

    async def suspend_tenant(self, tenant: str) -> Tenant:
        """Its keys stop resolving (within the cache time on other workers); nothing is lost."""
        return await self._move_tenant(tenant, TenantStatus.SUSPENDED)

    async def reactivate_tenant(self, tenant: str) -> Tenant:
        return await self._move_tenant(tenant, TenantStatus.ACTIVE)

    async def close_tenant(self, tenant: str) -> Tenant:
        """Final: every access key is deactivated, temporary credentials and console sessions
        are deleted."""
        return await self._move_tenant(tenant, TenantStatus.CLOSED)

    async def _move_tenant(self, reference: str, target: TenantStatus) -> Tenant:
        tenant = await self.get_tenant(reference)
        if target not in TENANT_TRANSITIONS[tenant.status]:
            raise InvalidTenantTransition(
                f"tenant {tenant.name} is {tenant.status.value}; it cannot become {target.value}"
            )
        await self._store.set_tenant_status(tenant.id, target)
        self.invalidate_caches()
        return await self.get_tenant(tenant.id)

    async def get_tenant_quota(self, tenant: str) -> TenantQuota:
        return await self._store.get_quota((await self.get_tenant(tenant)).id)

    async def set_tenant_quota(
        self, tenant: str, *, max_buckets: int | None, max_bytes: int | None
    ) -> TenantQuota:
        """Stored now; the billing issue enforces it."""
        if (max_buckets is not None and max_buckets < 0) or (
            max_bytes is not None and max_bytes < 0
        ):
            raise InvalidInput("a quota is a number of buckets or bytes, zero or more")
        quota = TenantQuota((await self.get_tenant(tenant)).id, max_buckets, max_bytes)
        await self._store.put_quota(quota)
        return quota

    async def get_tenant_regions(self, tenant: str) -> frozenset[str]:
        """The regions the tenant's buckets may be created in; empty: every region."""
        return await self._store.get_allowed_regions((await self.get_tenant(tenant)).id)

    async def allowed_regions(self, tenant_id: str) -> frozenset[str]:
        """:meth:`get_tenant_regions` by account id, for CreateBucket (one query, no tenant
        look-up: the caller's credentials already proved the tenant exists)."""
        return await self._store.get_allowed_regions(tenant_id)

    async def set_tenant_regions(self, tenant: str, regions: Iterable[str]) -> frozenset[str]:
        """Replace the tenant's allow-list of regions (empty: every region). Checking that
        the names are regions of the deployment is the caller's job: regions are settings."""
        allowed = frozenset(regions)
        bad = sorted(name for name in allowed if not _REGION_NAME.fullmatch(name))
        if bad:
            raise InvalidInput(f"not region names: {', '.join(bad)}")
        tenant_id = (await self.get_tenant(tenant)).id
        await self._store.put_allowed_regions(tenant_id, allowed)
        return allowed

    async def get_account_summary(self, tenant_id: str) -> dict[str, int]:
        """GetAccountSummary's SummaryMap: usage counts and the quotas that apply."""
        counts = await self._store.count_entities(tenant_id)
        return {
            "Users": counts["Users"],
            "Groups": counts["Groups"],
            "Roles": counts["Roles"],
            "InstanceProfiles": counts["InstanceProfiles"],
            "Policies": counts["Policies"],
            "MFADevices": counts["MFADevices"],
            "MFADevicesInUse": counts["MFADevicesInUse"],
            "AccountMFAEnabled": 1 if counts["RootMFADevices"] else 0,
            "AccountAccessKeysPresent": 1 if counts["RootAccessKeys"] else 0,
            "AccessKeysPerUserQuota": ACCESS_KEYS_PER_USER,
            "AttachedPoliciesPerUserQuota": self._limits.max_policies_per_entity,
            "AttachedPoliciesPerGroupQuota": self._limits.max_policies_per_entity,
            "AttachedPoliciesPerRoleQuota": self._limits.max_policies_per_entity,
            "PolicyVersionsInUseQuota": POLICY_VERSIONS_MAX,
            "VersionsPerPolicyQuota": POLICY_VERSIONS_MAX,
        }

    # -- platform operators ------------------------------------------------------------------
    async def create_operator(self, name: str) -> CreatedOperator:
        """A platform operator and its access key. It belongs to no tenant."""
        if not _TENANT_NAME.fullmatch(name):
            raise InvalidInput("an operator name is 1 to 63 lower-case letters, digits, . _ -")
        now = self._now()
        operator = Operator(id=new_entity_id("AIDA"), name=name, created_at=now)
        key_id, secret = new_access_key_id(), new_secret_access_key()
        key = AccessKey(key_id, operator.id, AccessKeyStatus.ACTIVE, now)
        try:
            await self._store.create_operator(operator, key, self._sealer.seal(key_id, secret))
        except EntityAlreadyExists as exc:
            raise EntityAlreadyExists(f"an operator named {name} exists") from exc
        return CreatedOperator(operator, key_id, secret)

    async def bootstrap_operator(self, name: str = "operator") -> CreatedOperator | None:
        """The first platform operator, when there is none yet."""
        if await self._store.list_operators():
            return None
        try:
            return await self.create_operator(name)
        except EntityAlreadyExists:
            return None  # another gateway's first start made it a moment ago

    async def list_operators(self) -> list[Operator]:
        return await self._store.list_operators()
