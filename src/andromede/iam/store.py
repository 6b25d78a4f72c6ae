"""The identity store interface, with its SQL and in-memory implementations beside it.

Every rule that must hold across gateways — unique names, the two-keys quota, five policy
versions, attached-policy quota, "nothing attached" before a delete, a TOTP step accepted once —
is checked by the store inside the write that depends on it, so two gateways racing cannot
both pass a check the other invalidates. The service validates input and orchestrates.

Named entities (users, groups, roles, managed policies) share one set of methods, typed by the
entity class: ``get_entity(Role, tenant, "deploy")``. Listing is ordered by lower-case name and
resumes strictly after ``after`` (the marker of AWS pagination); root users are never listed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, TypeVar

from andromede.iam.model import (
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

__all__ = ["Entity", "IdentityStore"]

Entity = TypeVar("Entity", User, Group, Role, ManagedPolicy)


class IdentityStore(Protocol):
    # -- tenants --------------------------------------------------------------------------------
    async def count_tenants(self) -> int: ...

    async def create_tenant_with_root(
        self, tenant: Tenant, root: User, key: AccessKey, secret_sealed: str
    ) -> None:
        """Create a tenant, its root user and the root user's first key in one transaction.

        TenantAlreadyExists if the tenant's id or name is taken (nothing is created)."""

    async def get_tenant(self, tenant_id: str) -> Tenant | None: ...

    async def get_tenant_by_name(self, name: str) -> Tenant | None: ...

    async def list_tenants(self) -> list[Tenant]:
        """Every tenant, by name."""

    async def set_tenant_status(self, tenant_id: str, status: TenantStatus) -> None:
        """Set the status; CLOSED also deactivates every access key of the tenant and deletes
        its temporary credentials and console sessions, in the same transaction."""

    async def get_quota(self, tenant_id: str) -> TenantQuota: ...

    async def put_quota(self, quota: TenantQuota) -> None: ...

    async def get_allowed_regions(self, tenant_id: str) -> frozenset[str]:
        """The regions the tenant's buckets may be created in; empty: every region."""

    async def put_allowed_regions(self, tenant_id: str, regions: frozenset[str]) -> None:
        """Replace the tenant's allow-list (empty: every region). NoSuchEntity."""

    async def count_entities(self, tenant_id: str) -> dict[str, int]:
        """Counts for GetAccountSummary: Users, Groups, Roles, InstanceProfiles, Policies,
        MFADevices, MFADevicesInUse, AccessKeys (IAM users'), RootAccessKeys, RootMFADevices."""

    # -- named entities: users, groups, roles, managed policies ------------------------------
    async def create_entity(self, entity: User | Group | Role) -> None:
        """EntityAlreadyExists if the tenant has one of that kind with that name, any case."""

    async def get_entity(self, kind: type[Entity], tenant_id: str, name: str) -> Entity | None:
        """By name, case-insensitively."""

    async def get_entity_by_id(self, kind: type[Entity], entity_id: str) -> Entity | None: ...

    async def list_entities(
        self, kind: type[Entity], tenant_id: str, path_prefix: str, after: str | None, limit: int
    ) -> list[Entity]:
        """At most ``limit`` non-root entities whose path starts with ``path_prefix`` and whose
        lower-case name sorts after ``after``, ordered by lower-case name."""

    async def update_entity(self, entity: User | Group | Role) -> None:
        """Replace the entity of that id (name, path, a role's trust policy, duration,
        description). EntityAlreadyExists on a rename onto a taken name; NoSuchEntity."""

    async def set_tags(
        self,
        kind: type[ManagedPolicy] | type[InstanceProfile] | type[MfaDevice],
        resource_id: str,
        tags: Tags,
    ) -> None:
        """Replace the tags of a managed policy, an instance profile or an MFA device (by its
        serial; users' and roles' go with ``update_entity``). NoSuchEntity."""

    async def delete_entity(
        self, kind: type[User] | type[Group] | type[Role] | type[ManagedPolicy], entity_id: str
    ) -> None:
        """NoSuchEntity; DeleteConflict while anything still hangs off it: a user's keys, inline
        or attached policies, groups, MFA devices, login profile; a group's members or policies;
        a role's policies or instance profiles; a managed policy's attachments or versions other
        than the default."""

    # -- instance profiles ---------------------------------------------------------------------
    # Profiles come back with their roles filled in (``InstanceProfile.roles``).
    async def create_instance_profile(self, profile: InstanceProfile) -> None:
        """EntityAlreadyExists if the tenant has a profile of that name, any case."""

    async def get_instance_profile(self, tenant_id: str, name: str) -> InstanceProfile | None:
        """By name, case-insensitively."""

    async def list_instance_profiles(
        self, tenant_id: str, path_prefix: str, after: str | None, limit: int
    ) -> list[InstanceProfile]:
        """As ``list_entities``: by lower-case name, after ``after``, under ``path_prefix``."""

    async def list_instance_profiles_for_role(self, role_id: str) -> list[InstanceProfile]:
        """The profiles holding the role, by lower-case name."""

    async def delete_instance_profile(self, profile_id: str) -> None:
        """NoSuchEntity; DeleteConflict while the profile holds a role."""

    async def add_role_to_instance_profile(self, profile_id: str, role_id: str) -> None:
        """NoSuchEntity; LimitExceeded when the profile already holds
        ``ROLES_PER_INSTANCE_PROFILE`` roles (that role included)."""

    async def remove_role_from_instance_profile(self, profile_id: str, role_id: str) -> bool:
        """False when the profile did not hold the role."""

    # -- OpenID Connect providers (decision 0087) ---------------------------------------------
    async def create_oidc_provider(self, provider: OidcProvider) -> None:
        """EntityAlreadyExists if the tenant has a provider of that URL."""

    async def get_oidc_provider(self, tenant_id: str, url: str) -> OidcProvider | None: ...

    async def list_oidc_providers(self, tenant_id: str) -> list[OidcProvider]:
        """The tenant's providers, by URL."""

    async def update_oidc_provider(self, provider: OidcProvider, read: OidcProvider) -> bool:
        """Replace the client ids, thumbprints and tags of the provider of that tenant and URL,
        if they are still those of ``read`` (False: another request changed them since).
        NoSuchEntity."""

    async def delete_oidc_provider(self, tenant_id: str, url: str) -> bool:
        """False when there was none."""

    # -- SAML providers (decision 0095) ---------------------------------------------------------
    async def create_saml_provider(self, provider: SamlProvider) -> None:
        """EntityAlreadyExists if the tenant has a provider of that name."""

    async def get_saml_provider(self, tenant_id: str, name: str) -> SamlProvider | None: ...

    async def list_saml_providers(self, tenant_id: str) -> list[SamlProvider]:
        """The tenant's providers, by name."""

    async def update_saml_provider(self, provider: SamlProvider, read: SamlProvider) -> bool:
        """Replace the metadata (and what was read from it) and the tags of the provider of
        that tenant and name, if they are still those of ``read`` (False: another request
        changed them since). NoSuchEntity."""

    async def delete_saml_provider(self, tenant_id: str, name: str) -> bool:
        """False when there was none."""

    async def use_saml_assertion(
        self, tenant_id: str, assertion_key: str, expires_at: datetime, now: datetime
    ) -> bool:
        """Remember that an assertion was used, until ``expires_at``: False when it already
        was (a replay), across every gateway sharing the store. Forgets those expired by
        ``now`` on the way."""

    # -- server certificates (decision 0205) ----------------------------------------------------
    async def create_server_certificate(self, certificate: ServerCertificate) -> None:
        """EntityAlreadyExists if the tenant has a certificate of that name."""

    async def get_server_certificate(self, tenant_id: str, name: str) -> ServerCertificate | None:
        """By its name, as given (names are compared as given)."""

    async def list_server_certificates(self, tenant_id: str) -> list[ServerCertificate]:
        """The tenant's certificates, by name."""

    async def update_server_certificate(
        self, certificate: ServerCertificate, read: ServerCertificate
    ) -> bool:
        """Write the name, path and tags of the certificate ``read`` was, if they are still
        ``read``'s (False: another request changed them since). EntityAlreadyExists when the
        new name is another certificate's; NoSuchEntity when it is gone."""

    async def delete_server_certificate(self, tenant_id: str, name: str) -> bool:
        """False when there was none."""

    # -- group membership ----------------------------------------------------------------------
    async def add_group_member(self, group_id: str, user_id: str) -> None:
        """Idempotent."""

    async def remove_group_member(self, group_id: str, user_id: str) -> bool: ...

    async def list_groups_for_user(self, user_id: str) -> list[Group]:
        """By lower-case name."""

    async def list_group_members(self, group_id: str) -> list[User]:
        """By lower-case name."""

    # -- access keys -------------------------------------------------------------------------
    async def create_access_key(self, key: AccessKey, secret_sealed: str, limit: int) -> None:
        """LimitExceeded when the user already has ``limit`` keys."""

    async def get_access_key(self, access_key_id: str) -> tuple[AccessKey, str] | None:
        """The key and its sealed secret."""

    async def list_access_keys(self, user_id: str) -> list[AccessKey]:
        """Oldest first."""

    async def set_access_key_status(self, access_key_id: str, status: AccessKeyStatus) -> bool: ...

    async def delete_access_key(self, access_key_id: str) -> bool: ...

    async def record_key_uses(self, uses: dict[str, KeyUse]) -> None:
        """Last use of many keys in one write; an older use never overwrites a newer one."""

    # -- managed policies, versions, attachments, inline policies ---------------------------
    async def create_policy(self, policy: ManagedPolicy, first: PolicyVersion) -> None:
        """The policy and its default version v1. EntityAlreadyExists on a taken name."""

    async def create_policy_version(
        self, policy_id: str, document: str, created_at: datetime, set_default: bool, limit: int
    ) -> PolicyVersion:
        """The next version (v<n+1>, never reused). LimitExceeded at ``limit`` versions;
        NoSuchEntity."""

    async def get_policy_version(self, policy_id: str, version_id: str) -> PolicyVersion | None: ...

    async def list_policy_versions(self, policy_id: str) -> list[PolicyVersion]:
        """Newest first, as AWS lists them."""

    async def delete_policy_version(self, policy_id: str, version_id: str) -> None:
        """NoSuchEntity; DeleteConflict for the default version."""

    async def set_default_policy_version(self, policy_id: str, version_id: str) -> None:
        """NoSuchEntity."""

    async def attach_policy(
        self, entity_type: EntityType, entity_id: str, policy_id: str, limit: int
    ) -> None:
        """Idempotent. LimitExceeded beyond ``limit`` attached policies on the entity."""

    async def detach_policy(self, entity_type: EntityType, entity_id: str, policy_id: str) -> bool:
        """False when it was not attached."""

    async def list_attached_policies(
        self, entity_type: EntityType, entity_id: str
    ) -> list[ManagedPolicy]:
        """By lower-case name."""

    async def list_policy_attachments(self, policy_id: str) -> list[tuple[EntityType, str]]:
        """Who a policy is attached to: (entity type, entity id)."""

    async def put_inline_policy(self, policy: InlinePolicy) -> None:
        """Create or replace."""

    async def get_inline_policy(
        self, entity_type: EntityType, entity_id: str, name: str
    ) -> InlinePolicy | None: ...

    async def list_inline_policies(
        self, entity_type: EntityType, entity_id: str
    ) -> list[InlinePolicy]:
        """By name."""

    async def delete_inline_policy(
        self, entity_type: EntityType, entity_id: str, name: str
    ) -> bool:
        """False when there was none of that name."""

    async def policy_documents_for(self, entities: list[tuple[EntityType, str]]) -> list[str]:
        """Every inline policy of these entities and the default version of every managed
        policy attached to them: what the authoriser evaluates."""

    # -- virtual MFA devices -----------------------------------------------------------------
    async def create_mfa_device(self, device: MfaDevice) -> None:
        """EntityAlreadyExists on a taken serial."""

    async def get_mfa_device(self, serial: str) -> MfaDevice | None: ...

    async def list_mfa_devices(self, tenant_id: str, user_id: str | None) -> list[MfaDevice]:
        """A tenant's devices (or only those assigned to ``user_id``), by serial."""

    async def enable_mfa_device(
        self, serial: str, user_id: str, enabled_at: datetime, last_step: int
    ) -> None:
        """Assign to the user. NoSuchEntity; EntityAlreadyExists if already assigned."""

    async def deactivate_mfa_device(self, serial: str) -> bool:
        """Unassign (the device stays). False when it was not assigned."""

    async def accept_mfa_step(self, serial: str, step: int) -> bool:
        """Remember ``step`` as used, only if it is later than the last accepted one: a code
        is never accepted twice, even by two gateways at the same moment."""

    async def delete_mfa_device(self, serial: str) -> None:
        """NoSuchEntity; DeleteConflict while assigned."""

    # -- temporary credentials (STS) -----------------------------------------------------------
    async def create_session(self, session: SessionCredentials, secret_sealed: str) -> None: ...

    async def get_session(self, access_key_id: str) -> tuple[SessionCredentials, str] | None: ...

    async def delete_expired_sessions(self, now: datetime) -> int: ...

    # -- platform operators ------------------------------------------------------------------
    async def create_operator(self, operator: Operator, key: AccessKey, secret_sealed: str) -> None:
        """The operator and its first key (``key.user_id`` is the operator id).
        EntityAlreadyExists on a taken name."""

    async def get_operator(self, operator_id: str) -> Operator | None: ...

    async def list_operators(self) -> list[Operator]: ...

    async def get_operator_key(self, access_key_id: str) -> tuple[AccessKey, str] | None: ...

    # -- console login -----------------------------------------------------------------------
    async def put_login_profile(self, profile: LoginProfile) -> None:
        """Create or replace (a new password resets the failure counter)."""

    async def get_login_profile(self, user_id: str) -> LoginProfile | None: ...

    async def delete_login_profile(self, user_id: str) -> bool: ...

    async def record_login_attempt(
        self, user_id: str, failed_attempts: int, locked_until: datetime | None
    ) -> None: ...

    async def create_console_session(self, session: ConsoleSession) -> None: ...

    async def get_console_session(self, token_hash: str) -> ConsoleSession | None: ...

    async def touch_console_session(self, token_hash: str, last_seen_at: datetime) -> None: ...

    async def delete_console_session(self, token_hash: str) -> bool: ...

    async def delete_console_sessions_of_user(self, user_id: str) -> int: ...

    # -- credential reports (decision 0193) -----------------------------------------------------
    async def put_credential_report(
        self, tenant_id: str, generated_at: datetime, content: str
    ) -> None:
        """Replace the account's last credential report."""

    async def get_credential_report(self, tenant_id: str) -> tuple[datetime, str] | None:
        """The account's last credential report (when generated, the CSV), None if none."""

    async def put_access_job(self, job: AccessJob) -> None:
        """Keep the job, replacing the account's previous one for the same ARN."""

    async def get_access_job(self, tenant_id: str, job_id: str) -> AccessJob | None: ...
