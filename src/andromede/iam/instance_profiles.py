"""Instance profiles, and the credentials an instance gets from its profile's role (part of
IdentityService).

An instance profile holds one role; an EC2 instance launched with the profile acts as that role.
The EC2 service obtains the role's credentials on the instance's behalf — the metadata service
hands them to the guest — much as AWS does: the role's trust policy must let the service
principal ``ec2.amazonaws.com`` call ``sts:AssumeRole``, and the session is named after the
instance, so the role session's ARN (``…:assumed-role/<role>/<instance id>``) says which
instance acted, in the audit trail and in ``aws:userid``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from andromede.iam import policy as policy_engine
from andromede.iam.credentials import (
    ROLE_SESSION_DEFAULT,
    CredentialsMixin,
    IssuedCredentials,
    check_duration,
    check_session_name,
)
from andromede.iam.errors import AccessDenied, InvalidInput, NoSuchEntity
from andromede.iam.linked_services import refuse_linked
from andromede.iam.model import (
    InstanceProfile,
    Page,
    Role,
    SessionSource,
    Tags,
    new_entity_id,
)
from andromede.iam.service_core import check_max_items, check_name, check_path
from andromede.iam.tags import check_tags, merged, without

__all__ = ["EC2_SERVICE_PRINCIPAL", "InstanceCredentials", "InstanceProfilesMixin"]

EC2_SERVICE_PRINCIPAL = "ec2.amazonaws.com"
# AWS's shortest role session; the metadata service refreshes well before expiry.
INSTANCE_SESSION_MIN = 900


@dataclass(frozen=True, slots=True)
class InstanceCredentials:
    """What an instance's profile gives it: the profile, the role, and the role's credentials."""

    profile: InstanceProfile
    role: Role
    credentials: IssuedCredentials


class InstanceProfilesMixin(CredentialsMixin):
    # -- the IAM actions -----------------------------------------------------------------------
    async def create_instance_profile(
        self, tenant_id: str, instance_profile_name: str, path: str = "/", tags: Tags = ()
    ) -> InstanceProfile:
        profile = InstanceProfile(
            id=new_entity_id("AIPA"),
            tenant_id=tenant_id,
            name=check_name("instanceProfileName", instance_profile_name, 128),
            path=check_path(path),
            tags=check_tags(tags),
            created_at=self._now(),
        )
        await self._store.create_instance_profile(profile)
        return profile

    async def get_instance_profile(
        self, tenant_id: str, instance_profile_name: str
    ) -> InstanceProfile:
        profile = await self._store.get_instance_profile(tenant_id, instance_profile_name)
        if profile is None:
            raise NoSuchEntity(f"Instance Profile {instance_profile_name} cannot be found.")
        return profile

    async def tag_instance_profile(self, tenant_id: str, name: str, tags: Tags) -> None:
        """As TagUser (decision 0074)."""
        profile = await self.get_instance_profile(tenant_id, name)
        await self._store.set_tags(InstanceProfile, profile.id, merged(profile.tags, tags))

    async def untag_instance_profile(self, tenant_id: str, name: str, keys: list[str]) -> None:
        profile = await self.get_instance_profile(tenant_id, name)
        await self._store.set_tags(InstanceProfile, profile.id, without(profile.tags, keys))

    async def list_instance_profile_tags(self, tenant_id: str, name: str) -> Tags:
        return (await self.get_instance_profile(tenant_id, name)).tags

    async def get_instance_profile_by_arn(self, tenant_id: str, arn: str) -> InstanceProfile:
        """The tenant's profile an ``arn:aws:iam::<account>:instance-profile/<path><name>``
        names (how RunInstances may name one). NoSuchEntity, also for another account's ARN
        or a path that differs."""
        prefix, _, rest = arn.partition(":instance-profile/")
        if not rest or prefix != f"arn:aws:iam::{tenant_id}":
            raise NoSuchEntity(f"Instance Profile {arn} cannot be found.")
        profile = await self.get_instance_profile(tenant_id, rest.rsplit("/", 1)[-1])
        if profile.arn != arn:
            raise NoSuchEntity(f"Instance Profile {arn} cannot be found.")
        return profile

    async def list_instance_profiles(
        self,
        tenant_id: str,
        path_prefix: str = "/",
        marker: str | None = None,
        max_items: int | None = None,
    ) -> Page[InstanceProfile]:
        if not path_prefix.startswith("/"):
            raise InvalidInput("PathPrefix must begin with /")
        limit = check_max_items(max_items)
        found = await self._store.list_instance_profiles(tenant_id, path_prefix, marker, limit + 1)
        return _page(found, limit)

    async def delete_instance_profile(self, tenant_id: str, instance_profile_name: str) -> None:
        """DeleteConflict while the profile holds a role."""
        profile = await self.get_instance_profile(tenant_id, instance_profile_name)
        await self._store.delete_instance_profile(profile.id)

    async def add_role_to_instance_profile(
        self, tenant_id: str, instance_profile_name: str, role_name: str
    ) -> None:
        """LimitExceeded when the profile already holds a role (AWS allows one);
        UnmodifiableEntity for a service-linked role, which only its service acts as."""
        profile = await self.get_instance_profile(tenant_id, instance_profile_name)
        role = await self._role(tenant_id, role_name)
        refuse_linked(role)
        await self._store.add_role_to_instance_profile(profile.id, role.id)

    async def remove_role_from_instance_profile(
        self, tenant_id: str, instance_profile_name: str, role_name: str
    ) -> None:
        """Instances using the profile get no new credentials; those issued run to expiry."""
        profile = await self.get_instance_profile(tenant_id, instance_profile_name)
        role = await self._role(tenant_id, role_name)
        if not await self._store.remove_role_from_instance_profile(profile.id, role.id):
            raise NoSuchEntity(
                f"The role {role_name} is not in the instance profile {instance_profile_name}."
            )

    async def list_instance_profiles_for_role(
        self,
        tenant_id: str,
        role_name: str,
        marker: str | None = None,
        max_items: int | None = None,
    ) -> Page[InstanceProfile]:
        role = await self._role(tenant_id, role_name)
        limit = check_max_items(max_items)
        found = [
            p
            for p in await self._store.list_instance_profiles_for_role(role.id)
            if marker is None or p.name.lower() > marker
        ]
        return _page(found, limit)

    async def _role(self, tenant_id: str, role_name: str) -> Role:
        role = await self._store.get_entity(Role, tenant_id, role_name)
        if role is None:
            raise NoSuchEntity(f"The role with name {role_name} cannot be found.")
        return role

    # -- credentials for an instance (on behalf of the EC2 service) --------------------------
    async def issue_instance_credentials(
        self,
        tenant_id: str,
        instance_profile: str,
        instance_id: str,
        duration_seconds: int = ROLE_SESSION_DEFAULT,
    ) -> InstanceCredentials:
        """Credentials of the role in ``instance_profile`` (a name or an ARN of the tenant's)
        for the instance ``instance_id``, lasting ``duration_seconds`` at most (never past the
        role's MaxSessionDuration).

        NoSuchEntity when the profile does not exist or holds no role; AccessDenied unless the
        role's trust policy allows ``ec2.amazonaws.com`` to call ``sts:AssumeRole`` — the
        engine decides, an explicit deny included, as for any AssumeRole."""
        if instance_profile.startswith("arn:"):
            profile = await self.get_instance_profile_by_arn(tenant_id, instance_profile)
        else:
            profile = await self.get_instance_profile(tenant_id, instance_profile)
        if not profile.roles:
            raise NoSuchEntity(f"Instance Profile {profile.name} holds no role.")
        role = profile.roles[0]
        if not await self._tenant_active(tenant_id):
            raise AccessDenied("the account is not active")
        _check_service_trust(role)
        check_session_name(instance_id)
        duration = check_duration(
            min(duration_seconds, role.max_session_duration),
            ROLE_SESSION_DEFAULT,
            INSTANCE_SESSION_MIN,
            role.max_session_duration,
        )
        issued = await self._issue(
            tenant_id,
            SessionSource.INSTANCE_PROFILE,
            duration,
            False,
            role=role,
            role_session_name=instance_id,
        )
        return InstanceCredentials(profile, role, issued)

    # -- credentials for a service acting as a role (Lambda's execution role, decision 0286) --
    async def issue_service_role_credentials(
        self,
        role: Role,
        service: str,
        session_name: str,
        keys: Mapping[str, policy_engine.ContextValue] | None = None,
    ) -> IssuedCredentials:
        """A session of ``role`` for ``service`` (its principal, e.g.
        ``lambda.amazonaws.com``) named ``session_name``, lasting ROLE_SESSION_DEFAULT (never
        past the role's MaxSessionDuration); AccessDenied unless the role's trust policy
        allows the service ``sts:AssumeRole`` — the engine decides, as for any AssumeRole,
        seeing ``keys`` (the service's ``aws:SourceAccount``…, decision 0321)."""
        tenant_id = role.tenant_id
        if not await self._tenant_active(tenant_id):
            raise AccessDenied("the account is not active")
        _check_service_trust(role, service, keys)
        check_session_name(session_name)
        return await self._issue(
            tenant_id,
            SessionSource.ASSUME_ROLE,
            min(ROLE_SESSION_DEFAULT, role.max_session_duration),
            False,
            role=role,
            role_session_name=session_name,
        )


def _check_service_trust(
    role: Role,
    service: str = EC2_SERVICE_PRINCIPAL,
    keys: Mapping[str, policy_engine.ContextValue] | None = None,
) -> None:
    context = policy_engine.RequestContext(
        action="sts:AssumeRole",
        resource=role.arn,
        principal_type=policy_engine.PrincipalType.SERVICE,
        principal_arn=service,
        keys=keys or {},
    )
    trust = policy_engine.load_policy(
        role.assume_role_policy_document, kind=policy_engine.PolicyKind.TRUST
    )
    decision = policy_engine.evaluate(
        context, resource_policy=trust, resource_account=role.tenant_id
    )
    if not decision.allowed:
        raise AccessDenied(
            f"Service: {service} is not authorized to perform: sts:AssumeRole on "
            f"resource: {role.arn}"
        )


def _page(found: list[InstanceProfile], limit: int) -> Page[InstanceProfile]:
    items = found[:limit]
    truncated = len(found) > limit
    return Page(items, truncated, items[-1].name.lower() if truncated else None)
