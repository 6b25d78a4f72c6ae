"""In-memory identity store: the fast twin of ``store_sql.py`` for tests.

Each method checks and changes its dictionaries without awaiting in between, so it is as
atomic on one event loop as the SQL store's single write transaction.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any, cast

from andromede.iam.errors import (
    DeleteConflict,
    EntityAlreadyExists,
    LimitExceeded,
    NoSuchEntity,
    TenantAlreadyExists,
)
from andromede.iam.model import (
    ROLES_PER_INSTANCE_PROFILE,
    AccessJob,
    AccessKey,
    AccessKeyStatus,
    ConsoleSession,
    EntityType,
    Group,
    InlinePolicy,
    InstanceProfile,
    KeyUse,
    LoginProfile,
    ManagedPolicy,
    MfaDevice,
    OidcProvider,
    Operator,
    PolicyVersion,
    Role,
    SamlProvider,
    ServerCertificate,
    SessionCredentials,
    Tags,
    Tenant,
    TenantQuota,
    TenantStatus,
    User,
)
from andromede.iam.store import Entity
from andromede.iam.store_memory_certificates import MemoryServerCertificatesMixin

__all__ = ["MemoryIdentityStore"]

_Named = User | Group | Role | ManagedPolicy
_KINDS: tuple[type[_Named], ...] = (User, Group, Role, ManagedPolicy)


class MemoryIdentityStore(MemoryServerCertificatesMixin):
    def __init__(self) -> None:
        self._tenants: dict[str, Tenant] = {}
        self._quotas: dict[str, TenantQuota] = {}
        self._allowed_regions: dict[str, frozenset[str]] = {}
        self._entities: dict[type[_Named], dict[str, _Named]] = {kind: {} for kind in _KINDS}
        self._members: set[tuple[str, str]] = set()  # (group id, user id)
        self._keys: dict[str, tuple[AccessKey, str]] = {}
        self._versions: dict[str, dict[str, PolicyVersion]] = {}  # policy id -> version id -> v
        self._next_version: dict[str, int] = {}
        self._attachments: set[tuple[EntityType, str, str]] = set()  # (type, entity, policy)
        self._inline: dict[tuple[EntityType, str, str], InlinePolicy] = {}
        self._mfa: dict[str, MfaDevice] = {}
        self._sessions: dict[str, tuple[SessionCredentials, str]] = {}
        self._operators: dict[str, Operator] = {}
        self._operator_keys: dict[str, tuple[AccessKey, str]] = {}
        self._logins: dict[str, LoginProfile] = {}
        self._console: dict[str, ConsoleSession] = {}
        # Profiles are stored without their roles; ``_profile_roles`` holds who holds which.
        self._profiles: dict[str, InstanceProfile] = {}
        self._profile_roles: set[tuple[str, str]] = set()  # (profile id, role id)
        self._oidc: dict[tuple[str, str], OidcProvider] = {}  # (tenant, url) -> provider
        self._saml: dict[tuple[str, str], SamlProvider] = {}  # (tenant, name) -> provider
        self._certificates: dict[tuple[str, str], ServerCertificate] = {}
        # (tenant, assertion key) -> until when a used SAML assertion is remembered
        self._saml_used: dict[tuple[str, str], datetime] = {}
        self._reports: dict[str, tuple[datetime, str]] = {}  # tenant -> last credential report
        self._access_jobs: dict[tuple[str, str], AccessJob] = {}  # (tenant, arn) -> job

    # -- tenants --------------------------------------------------------------------------------
    async def count_tenants(self) -> int:
        return len(self._tenants)

    async def create_tenant_with_root(
        self, tenant: Tenant, root: User, key: AccessKey, secret_sealed: str
    ) -> None:
        if tenant.id in self._tenants or any(t.name == tenant.name for t in self._tenants.values()):
            raise TenantAlreadyExists(tenant.name)
        self._tenants[tenant.id] = tenant
        self._entities[User][root.id] = root
        self._keys[key.access_key_id] = (key, secret_sealed)

    async def get_tenant(self, tenant_id: str) -> Tenant | None:
        return self._tenants.get(tenant_id)

    async def get_tenant_by_name(self, name: str) -> Tenant | None:
        return next((t for t in self._tenants.values() if t.name == name), None)

    async def list_tenants(self) -> list[Tenant]:
        return sorted(self._tenants.values(), key=lambda t: t.name)

    async def set_tenant_status(self, tenant_id: str, status: TenantStatus) -> None:
        tenant = self._tenants.get(tenant_id)
        if tenant is None:
            raise NoSuchEntity(tenant_id)
        self._tenants[tenant_id] = replace(tenant, status=status)
        if status is not TenantStatus.CLOSED:
            return
        users = {u.id for u in self._users() if u.tenant_id == tenant_id}
        for key_id, (key, sealed) in list(self._keys.items()):
            if key.user_id in users:
                self._keys[key_id] = (replace(key, status=AccessKeyStatus.INACTIVE), sealed)
        for key_id, (session, _) in list(self._sessions.items()):
            if session.tenant_id == tenant_id:
                del self._sessions[key_id]
        for token, console in list(self._console.items()):
            if console.tenant_id == tenant_id:
                del self._console[token]

    async def get_quota(self, tenant_id: str) -> TenantQuota:
        return self._quotas.get(tenant_id, TenantQuota(tenant_id=tenant_id))

    async def put_quota(self, quota: TenantQuota) -> None:
        if quota.tenant_id not in self._tenants:
            raise NoSuchEntity(quota.tenant_id)
        self._quotas[quota.tenant_id] = quota

    async def get_allowed_regions(self, tenant_id: str) -> frozenset[str]:
        return self._allowed_regions.get(tenant_id, frozenset())

    async def put_allowed_regions(self, tenant_id: str, regions: frozenset[str]) -> None:
        if tenant_id not in self._tenants:
            raise NoSuchEntity(tenant_id)
        self._allowed_regions[tenant_id] = regions

    async def count_entities(self, tenant_id: str) -> dict[str, int]:
        users = [u for u in self._users() if u.tenant_id == tenant_id]
        root_ids = {u.id for u in users if u.is_root}
        user_ids = {u.id for u in users} - root_ids
        devices = [d for d in self._mfa.values() if d.tenant_id == tenant_id]
        keys = [k for k, _ in self._keys.values()]
        return {
            "Users": len(user_ids),
            "Groups": sum(1 for g in self._entities[Group].values() if g.tenant_id == tenant_id),
            "Roles": sum(1 for r in self._entities[Role].values() if r.tenant_id == tenant_id),
            "InstanceProfiles": sum(1 for p in self._profiles.values() if p.tenant_id == tenant_id),
            "Policies": sum(
                1 for p in self._entities[ManagedPolicy].values() if p.tenant_id == tenant_id
            ),
            "MFADevices": len(devices),
            "MFADevicesInUse": sum(1 for d in devices if d.user_id is not None),
            "AccessKeys": sum(1 for k in keys if k.user_id in user_ids),
            "RootAccessKeys": sum(1 for k in keys if k.user_id in root_ids),
            "RootMFADevices": sum(1 for d in devices if d.user_id in root_ids),
        }

    # -- named entities --------------------------------------------------------------------------
    def _users(self) -> list[User]:
        return cast(list[User], list(self._entities[User].values()))

    def _clash(self, entity: _Named) -> bool:
        return any(
            other.tenant_id == entity.tenant_id
            and other.name.lower() == entity.name.lower()
            and other.id != entity.id
            for other in self._entities[type(entity)].values()
        )

    async def create_entity(self, entity: User | Group | Role) -> None:
        if self._clash(entity) or entity.id in self._entities[type(entity)]:
            raise EntityAlreadyExists(entity.name)
        self._entities[type(entity)][entity.id] = entity

    def _policy(self, policy: ManagedPolicy) -> ManagedPolicy:
        count = sum(1 for _, _, p in self._attachments if p == policy.id)
        return replace(policy, attachment_count=count)

    def _fresh(self, entity: Any) -> Any:
        return self._policy(entity) if isinstance(entity, ManagedPolicy) else entity

    async def get_entity(self, kind: type[Entity], tenant_id: str, name: str) -> Entity | None:
        wanted = name.lower()
        for entity in self._entities[kind].values():
            if entity.tenant_id == tenant_id and entity.name.lower() == wanted:
                return cast(Entity, self._fresh(entity))
        return None

    async def get_entity_by_id(self, kind: type[Entity], entity_id: str) -> Entity | None:
        entity = self._entities[kind].get(entity_id)
        return None if entity is None else cast(Entity, self._fresh(entity))

    async def list_entities(
        self, kind: type[Entity], tenant_id: str, path_prefix: str, after: str | None, limit: int
    ) -> list[Entity]:
        found = [
            e
            for e in self._entities[kind].values()
            if e.tenant_id == tenant_id
            and e.path.startswith(path_prefix)
            and not (isinstance(e, User) and e.is_root)
            and (after is None or e.name.lower() > after)
        ]
        found.sort(key=lambda e: e.name.lower())
        return [cast(Entity, self._fresh(e)) for e in found[:limit]]

    async def set_tags(
        self,
        kind: type[ManagedPolicy] | type[InstanceProfile] | type[MfaDevice],
        resource_id: str,
        tags: Tags,
    ) -> None:
        if kind is MfaDevice:
            device = self._mfa.get(resource_id)
            if device is None:
                raise NoSuchEntity(resource_id)
            self._mfa[resource_id] = replace(device, tags=tags)
            return
        if kind is InstanceProfile:
            profile = self._profiles.get(resource_id)
            if profile is None:
                raise NoSuchEntity(resource_id)
            self._profiles[resource_id] = replace(profile, tags=tags)
            return
        policy = self._entities[ManagedPolicy].get(resource_id)
        if not isinstance(policy, ManagedPolicy):
            raise NoSuchEntity(resource_id)
        self._entities[ManagedPolicy][resource_id] = replace(policy, tags=tags)

    async def update_entity(self, entity: User | Group | Role) -> None:
        if entity.id not in self._entities[type(entity)]:
            raise NoSuchEntity(entity.name)
        if self._clash(entity):
            raise EntityAlreadyExists(entity.name)
        self._entities[type(entity)][entity.id] = entity

    async def delete_entity(
        self, kind: type[User] | type[Group] | type[Role] | type[ManagedPolicy], entity_id: str
    ) -> None:
        entity = self._entities[kind].get(entity_id)
        if entity is None:
            raise NoSuchEntity(entity_id)
        if kind is ManagedPolicy:
            if any(p == entity_id for _, _, p in self._attachments):
                raise DeleteConflict("the policy is still attached")
            if len(self._versions.get(entity_id, {})) > 1:
                raise DeleteConflict("the policy has versions other than the default")
            self._versions.pop(entity_id, None)
        else:
            entity_type = EntityType(kind.__name__.lower())
            self._check_nothing_hangs_off(entity_type, entity_id)
            await self.delete_console_sessions_of_user(entity_id)
        del self._entities[kind][entity_id]

    def _check_nothing_hangs_off(self, entity_type: EntityType, entity_id: str) -> None:
        if any(t is entity_type and e == entity_id for t, e, _ in self._attachments):
            raise DeleteConflict("it still has attached policies")
        if any(t is entity_type and e == entity_id for t, e, _ in self._inline):
            raise DeleteConflict("it still has inline policies")
        if entity_type is EntityType.USER:
            if any(k.user_id == entity_id for k, _ in self._keys.values()):
                raise DeleteConflict("the user still has access keys")
            if any(u == entity_id for _, u in self._members):
                raise DeleteConflict("the user is still in groups")
            if any(d.user_id == entity_id for d in self._mfa.values()):
                raise DeleteConflict("the user still has an MFA device")
            if entity_id in self._logins:
                raise DeleteConflict("the user still has a login profile")
        if entity_type is EntityType.GROUP and any(g == entity_id for g, _ in self._members):
            raise DeleteConflict("the group still has members")
        if entity_type is EntityType.ROLE and any(r == entity_id for _, r in self._profile_roles):
            raise DeleteConflict("the role is still in an instance profile")

    # -- instance profiles ---------------------------------------------------------------------
    def _with_roles(self, profile: InstanceProfile) -> InstanceProfile:
        roles = [
            cast(Role, self._entities[Role][r]) for p, r in self._profile_roles if p == profile.id
        ]
        return replace(profile, roles=tuple(sorted(roles, key=lambda r: r.name.lower())))

    # -- OpenID Connect providers ----------------------------------------------------------
    async def create_oidc_provider(self, provider: OidcProvider) -> None:
        key = (provider.tenant_id, provider.url)
        if key in self._oidc:
            raise EntityAlreadyExists(provider.url)
        self._oidc[key] = provider

    async def get_oidc_provider(self, tenant_id: str, url: str) -> OidcProvider | None:
        return self._oidc.get((tenant_id, url))

    async def list_oidc_providers(self, tenant_id: str) -> list[OidcProvider]:
        return sorted(
            (p for (tenant, _), p in self._oidc.items() if tenant == tenant_id),
            key=lambda p: p.url,
        )

    async def update_oidc_provider(self, provider: OidcProvider, read: OidcProvider) -> bool:
        key = (provider.tenant_id, provider.url)
        held = self._oidc.get(key)
        if held is None:
            raise NoSuchEntity(provider.url)
        if (held.client_ids, held.thumbprints, held.tags) != (
            read.client_ids,
            read.thumbprints,
            read.tags,
        ):
            return False
        self._oidc[key] = replace(
            held,
            client_ids=provider.client_ids,
            thumbprints=provider.thumbprints,
            tags=provider.tags,
        )
        return True

    async def delete_oidc_provider(self, tenant_id: str, url: str) -> bool:
        return self._oidc.pop((tenant_id, url), None) is not None

    # -- SAML providers --------------------------------------------------------------------------
    async def create_saml_provider(self, provider: SamlProvider) -> None:
        key = (provider.tenant_id, provider.name)
        if key in self._saml:
            raise EntityAlreadyExists(provider.name)
        self._saml[key] = provider

    async def get_saml_provider(self, tenant_id: str, name: str) -> SamlProvider | None:
        return self._saml.get((tenant_id, name))

    async def list_saml_providers(self, tenant_id: str) -> list[SamlProvider]:
        return sorted(
            (p for (tenant, _), p in self._saml.items() if tenant == tenant_id),
            key=lambda p: p.name,
        )

    async def update_saml_provider(self, provider: SamlProvider, read: SamlProvider) -> bool:
        key = (provider.tenant_id, provider.name)
        held = self._saml.get(key)
        if held is None:
            raise NoSuchEntity(provider.name)
        if (held.metadata, held.tags) != (read.metadata, read.tags):
            return False
        self._saml[key] = replace(
            held,
            metadata=provider.metadata,
            entity_id=provider.entity_id,
            certificates=provider.certificates,
            valid_until=provider.valid_until,
            tags=provider.tags,
        )
        return True

    async def delete_saml_provider(self, tenant_id: str, name: str) -> bool:
        return self._saml.pop((tenant_id, name), None) is not None

    async def use_saml_assertion(
        self, tenant_id: str, assertion_key: str, expires_at: datetime, now: datetime
    ) -> bool:
        for key in [k for k, until in self._saml_used.items() if until <= now]:
            del self._saml_used[key]
        if (tenant_id, assertion_key) in self._saml_used:
            return False
        self._saml_used[(tenant_id, assertion_key)] = expires_at
        return True

    async def create_instance_profile(self, profile: InstanceProfile) -> None:
        if profile.id in self._profiles or any(
            p.tenant_id == profile.tenant_id and p.name.lower() == profile.name.lower()
            for p in self._profiles.values()
        ):
            raise EntityAlreadyExists(profile.name)
        self._profiles[profile.id] = replace(profile, roles=())

    async def get_instance_profile(self, tenant_id: str, name: str) -> InstanceProfile | None:
        wanted = name.lower()
        for profile in self._profiles.values():
            if profile.tenant_id == tenant_id and profile.name.lower() == wanted:
                return self._with_roles(profile)
        return None

    async def list_instance_profiles(
        self, tenant_id: str, path_prefix: str, after: str | None, limit: int
    ) -> list[InstanceProfile]:
        found = [
            p
            for p in self._profiles.values()
            if p.tenant_id == tenant_id
            and p.path.startswith(path_prefix)
            and (after is None or p.name.lower() > after)
        ]
        found.sort(key=lambda p: p.name.lower())
        return [self._with_roles(p) for p in found[:limit]]

    async def list_instance_profiles_for_role(self, role_id: str) -> list[InstanceProfile]:
        found = [self._profiles[p] for p, r in self._profile_roles if r == role_id]
        found.sort(key=lambda p: p.name.lower())
        return [self._with_roles(p) for p in found]

    async def delete_instance_profile(self, profile_id: str) -> None:
        if profile_id not in self._profiles:
            raise NoSuchEntity(profile_id)
        if any(p == profile_id for p, _ in self._profile_roles):
            raise DeleteConflict("the instance profile still holds a role")
        del self._profiles[profile_id]

    async def add_role_to_instance_profile(self, profile_id: str, role_id: str) -> None:
        if profile_id not in self._profiles or role_id not in self._entities[Role]:
            raise NoSuchEntity(profile_id)
        held = sum(1 for p, _ in self._profile_roles if p == profile_id)
        if held >= ROLES_PER_INSTANCE_PROFILE:
            raise LimitExceeded(
                "Cannot exceed quota for InstanceSessionsPerInstanceProfile: "
                f"{ROLES_PER_INSTANCE_PROFILE}"
            )
        self._profile_roles.add((profile_id, role_id))

    async def remove_role_from_instance_profile(self, profile_id: str, role_id: str) -> bool:
        present = (profile_id, role_id) in self._profile_roles
        self._profile_roles.discard((profile_id, role_id))
        return present

    # -- group membership ----------------------------------------------------------------------
    async def add_group_member(self, group_id: str, user_id: str) -> None:
        if group_id not in self._entities[Group] or user_id not in self._entities[User]:
            raise NoSuchEntity(group_id)
        self._members.add((group_id, user_id))

    async def remove_group_member(self, group_id: str, user_id: str) -> bool:
        present = (group_id, user_id) in self._members
        self._members.discard((group_id, user_id))
        return present

    async def list_groups_for_user(self, user_id: str) -> list[Group]:
        groups = [cast(Group, self._entities[Group][g]) for g, u in self._members if u == user_id]
        return sorted(groups, key=lambda g: g.name.lower())

    async def list_group_members(self, group_id: str) -> list[User]:
        users = [cast(User, self._entities[User][u]) for g, u in self._members if g == group_id]
        return sorted(users, key=lambda u: u.name.lower())

    # -- access keys -------------------------------------------------------------------------
    async def create_access_key(self, key: AccessKey, secret_sealed: str, limit: int) -> None:
        if key.user_id not in self._entities[User]:
            raise NoSuchEntity(key.user_id)
        if sum(1 for k, _ in self._keys.values() if k.user_id == key.user_id) >= limit:
            raise LimitExceeded(f"Cannot exceed quota for AccessKeysPerUser: {limit}")
        self._keys[key.access_key_id] = (key, secret_sealed)

    async def get_access_key(self, access_key_id: str) -> tuple[AccessKey, str] | None:
        return self._keys.get(access_key_id)

    async def list_access_keys(self, user_id: str) -> list[AccessKey]:
        keys = [k for k, _ in self._keys.values() if k.user_id == user_id]
        return sorted(keys, key=lambda k: (k.created_at, k.access_key_id))

    async def set_access_key_status(self, access_key_id: str, status: AccessKeyStatus) -> bool:
        found = self._keys.get(access_key_id)
        if found is None:
            return False
        self._keys[access_key_id] = (replace(found[0], status=status), found[1])
        return True

    async def delete_access_key(self, access_key_id: str) -> bool:
        return self._keys.pop(access_key_id, None) is not None

    async def record_key_uses(self, uses: dict[str, KeyUse]) -> None:
        for key_id, use in uses.items():
            found = self._keys.get(key_id)
            if found is None:
                continue
            key, sealed = found
            if key.last_used_at is None or key.last_used_at < use.when:
                used = replace(
                    key,
                    last_used_at=use.when,
                    last_used_service=use.service,
                    last_used_region=use.region,
                )
                self._keys[key_id] = (used, sealed)

    # -- managed policies, versions, attachments, inline policies ---------------------------
    async def create_policy(self, policy: ManagedPolicy, first: PolicyVersion) -> None:
        if self._clash(policy) or policy.id in self._entities[ManagedPolicy]:
            raise EntityAlreadyExists(policy.name)
        self._entities[ManagedPolicy][policy.id] = replace(
            policy, default_version_id=first.version_id, attachment_count=0
        )
        self._versions[policy.id] = {first.version_id: replace(first, is_default=False)}
        self._next_version[policy.id] = 2

    def _managed(self, policy_id: str) -> ManagedPolicy:
        policy = self._entities[ManagedPolicy].get(policy_id)
        if policy is None:
            raise NoSuchEntity(policy_id)
        return cast(ManagedPolicy, policy)

    async def create_policy_version(
        self, policy_id: str, document: str, created_at: datetime, set_default: bool, limit: int
    ) -> PolicyVersion:
        policy = self._managed(policy_id)
        versions = self._versions[policy_id]
        if len(versions) >= limit:
            raise LimitExceeded(f"A managed policy can have up to {limit} versions")
        version_id = f"v{self._next_version[policy_id]}"
        self._next_version[policy_id] += 1
        versions[version_id] = PolicyVersion(policy_id, version_id, document, created_at)
        updated = replace(policy, updated_at=created_at)
        if set_default:
            updated = replace(updated, default_version_id=version_id)
        self._entities[ManagedPolicy][policy_id] = updated
        return replace(versions[version_id], is_default=set_default)

    async def get_policy_version(self, policy_id: str, version_id: str) -> PolicyVersion | None:
        version = self._versions.get(policy_id, {}).get(version_id)
        if version is None:
            return None
        return replace(
            version, is_default=self._managed(policy_id).default_version_id == version_id
        )

    async def list_policy_versions(self, policy_id: str) -> list[PolicyVersion]:
        default = self._managed(policy_id).default_version_id
        versions = [
            replace(v, is_default=v.version_id == default)
            for v in self._versions[policy_id].values()
        ]
        return sorted(versions, key=lambda v: int(v.version_id[1:]), reverse=True)

    async def delete_policy_version(self, policy_id: str, version_id: str) -> None:
        policy = self._managed(policy_id)
        if version_id not in self._versions[policy_id]:
            raise NoSuchEntity(version_id)
        if policy.default_version_id == version_id:
            raise DeleteConflict("Cannot delete the default version of a policy")
        del self._versions[policy_id][version_id]

    async def set_default_policy_version(self, policy_id: str, version_id: str) -> None:
        policy = self._managed(policy_id)
        if version_id not in self._versions[policy_id]:
            raise NoSuchEntity(version_id)
        self._entities[ManagedPolicy][policy_id] = replace(policy, default_version_id=version_id)

    async def attach_policy(
        self, entity_type: EntityType, entity_id: str, policy_id: str, limit: int
    ) -> None:
        self._managed(policy_id)
        if (entity_type, entity_id, policy_id) in self._attachments:
            return
        attached = sum(1 for t, e, _ in self._attachments if t is entity_type and e == entity_id)
        if attached >= limit:
            raise LimitExceeded(f"Cannot exceed quota for PoliciesPerEntity: {limit}")
        self._attachments.add((entity_type, entity_id, policy_id))

    async def detach_policy(self, entity_type: EntityType, entity_id: str, policy_id: str) -> bool:
        present = (entity_type, entity_id, policy_id) in self._attachments
        self._attachments.discard((entity_type, entity_id, policy_id))
        return present

    async def list_attached_policies(
        self, entity_type: EntityType, entity_id: str
    ) -> list[ManagedPolicy]:
        policies = [
            self._policy(self._managed(p))
            for t, e, p in self._attachments
            if t is entity_type and e == entity_id
        ]
        return sorted(policies, key=lambda p: p.name.lower())

    async def list_policy_attachments(self, policy_id: str) -> list[tuple[EntityType, str]]:
        return sorted((t, e) for t, e, p in self._attachments if p == policy_id)

    async def put_inline_policy(self, policy: InlinePolicy) -> None:
        self._inline[(policy.entity_type, policy.entity_id, policy.name)] = policy

    async def get_inline_policy(
        self, entity_type: EntityType, entity_id: str, name: str
    ) -> InlinePolicy | None:
        return self._inline.get((entity_type, entity_id, name))

    async def list_inline_policies(
        self, entity_type: EntityType, entity_id: str
    ) -> list[InlinePolicy]:
        found = [p for (t, e, _), p in self._inline.items() if t is entity_type and e == entity_id]
        return sorted(found, key=lambda p: p.name)

    async def delete_inline_policy(
        self, entity_type: EntityType, entity_id: str, name: str
    ) -> bool:
        return self._inline.pop((entity_type, entity_id, name), None) is not None

    async def policy_documents_for(self, entities: list[tuple[EntityType, str]]) -> list[str]:
        documents: list[str] = []
        for entity_type, entity_id in entities:
            for inline in await self.list_inline_policies(entity_type, entity_id):
                documents.append(inline.document)
            for policy in await self.list_attached_policies(entity_type, entity_id):
                documents.append(self._versions[policy.id][policy.default_version_id].document)
        return documents

    # -- virtual MFA devices -----------------------------------------------------------------
    async def create_mfa_device(self, device: MfaDevice) -> None:
        if device.serial in self._mfa:
            raise EntityAlreadyExists(device.serial)
        self._mfa[device.serial] = device

    async def get_mfa_device(self, serial: str) -> MfaDevice | None:
        return self._mfa.get(serial)

    async def list_mfa_devices(self, tenant_id: str, user_id: str | None) -> list[MfaDevice]:
        found = [
            d
            for d in self._mfa.values()
            if d.tenant_id == tenant_id and (user_id is None or d.user_id == user_id)
        ]
        return sorted(found, key=lambda d: d.serial)

    async def enable_mfa_device(
        self, serial: str, user_id: str, enabled_at: datetime, last_step: int
    ) -> None:
        device = self._mfa.get(serial)
        if device is None:
            raise NoSuchEntity(serial)
        if device.user_id is not None:
            raise EntityAlreadyExists(serial)
        self._mfa[serial] = replace(
            device, user_id=user_id, enabled_at=enabled_at, last_step=last_step
        )

    async def deactivate_mfa_device(self, serial: str) -> bool:
        device = self._mfa.get(serial)
        if device is None or device.user_id is None:
            return False
        self._mfa[serial] = replace(device, user_id=None, enabled_at=None)
        return True

    async def accept_mfa_step(self, serial: str, step: int) -> bool:
        device = self._mfa.get(serial)
        if device is None or (device.last_step is not None and device.last_step >= step):
            return False
        self._mfa[serial] = replace(device, last_step=step)
        return True

    async def delete_mfa_device(self, serial: str) -> None:
        device = self._mfa.get(serial)
        if device is None:
            raise NoSuchEntity(serial)
        if device.user_id is not None:
            raise DeleteConflict("the MFA device is still assigned to a user")
        del self._mfa[serial]

    # -- temporary credentials (STS) -----------------------------------------------------------
    async def create_session(self, session: SessionCredentials, secret_sealed: str) -> None:
        self._sessions[session.access_key_id] = (session, secret_sealed)

    async def get_session(self, access_key_id: str) -> tuple[SessionCredentials, str] | None:
        return self._sessions.get(access_key_id)

    async def delete_expired_sessions(self, now: datetime) -> int:
        expired = [k for k, (s, _) in self._sessions.items() if s.expires_at <= now]
        for key_id in expired:
            del self._sessions[key_id]
        return len(expired)

    # -- platform operators ------------------------------------------------------------------
    async def create_operator(self, operator: Operator, key: AccessKey, secret_sealed: str) -> None:
        if any(o.name == operator.name for o in self._operators.values()):
            raise EntityAlreadyExists(operator.name)
        self._operators[operator.id] = operator
        self._operator_keys[key.access_key_id] = (key, secret_sealed)

    async def get_operator(self, operator_id: str) -> Operator | None:
        return self._operators.get(operator_id)

    async def list_operators(self) -> list[Operator]:
        return sorted(self._operators.values(), key=lambda o: o.name)

    async def get_operator_key(self, access_key_id: str) -> tuple[AccessKey, str] | None:
        return self._operator_keys.get(access_key_id)

    # -- console login -----------------------------------------------------------------------
    async def put_login_profile(self, profile: LoginProfile) -> None:
        if profile.user_id not in self._entities[User]:
            raise NoSuchEntity(profile.user_id)
        self._logins[profile.user_id] = profile

    async def get_login_profile(self, user_id: str) -> LoginProfile | None:
        return self._logins.get(user_id)

    async def delete_login_profile(self, user_id: str) -> bool:
        await self.delete_console_sessions_of_user(user_id)
        return self._logins.pop(user_id, None) is not None

    async def record_login_attempt(
        self, user_id: str, failed_attempts: int, locked_until: datetime | None
    ) -> None:
        profile = self._logins.get(user_id)
        if profile is not None:
            self._logins[user_id] = replace(
                profile, failed_attempts=failed_attempts, locked_until=locked_until
            )

    async def create_console_session(self, session: ConsoleSession) -> None:
        self._console[session.token_hash] = session

    async def get_console_session(self, token_hash: str) -> ConsoleSession | None:
        return self._console.get(token_hash)

    async def touch_console_session(self, token_hash: str, last_seen_at: datetime) -> None:
        session = self._console.get(token_hash)
        if session is not None:
            self._console[token_hash] = replace(session, last_seen_at=last_seen_at)

    async def delete_console_session(self, token_hash: str) -> bool:
        return self._console.pop(token_hash, None) is not None

    async def delete_console_sessions_of_user(self, user_id: str) -> int:
        doomed = [t for t, s in self._console.items() if s.user_id == user_id]
        for token in doomed:
            del self._console[token]
        return len(doomed)

    # -- credential reports (decision 0193) -----------------------------------------------------
    async def put_credential_report(
        self, tenant_id: str, generated_at: datetime, content: str
    ) -> None:
        self._reports[tenant_id] = (generated_at, content)

    async def get_credential_report(self, tenant_id: str) -> tuple[datetime, str] | None:
        return self._reports.get(tenant_id)

    async def put_access_job(self, job: AccessJob) -> None:
        self._access_jobs[job.tenant_id, job.arn] = job

    async def get_access_job(self, tenant_id: str, job_id: str) -> AccessJob | None:
        return next(
            (
                job
                for (tenant, _), job in self._access_jobs.items()
                if tenant == tenant_id and job.job_id == job_id
            ),
            None,
        )
