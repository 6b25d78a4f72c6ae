"""GetAccountAuthorizationDetails (part of IdentityService; decision 0193): every user, group,
role and managed policy of an account with what grants it permissions — a user's groups, inline
and attached policies; a role's trust policy, instance profiles and policies; a managed policy's
versions, documents included.

The account's entities are listed first (names only, cheap), the caller pages through them,
and only a page's entities are then read in full (:meth:`authorization_detail`), so a page of
a large account costs a page's reads, not the account's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from andromede.iam.linked_services import service_of
from andromede.iam.model import (
    EntityType,
    Group,
    InlinePolicy,
    InstanceProfile,
    ManagedPolicy,
    PolicyVersion,
    Role,
    User,
)
from andromede.iam.service_core import ServiceCore
from andromede.iam.store import Entity

__all__ = [
    "AuthorizationDetailsMixin",
    "AuthorizationFilter",
    "EntityDetail",
    "GroupDetail",
    "PolicyDetail",
    "RoleDetail",
    "UserDetail",
]

_PAGE = 1000


class AuthorizationFilter(StrEnum):
    """The ``Filter`` values AWS defines, in the order the answer lists their entities."""

    USER = "User"
    GROUP = "Group"
    ROLE = "Role"
    LOCAL_MANAGED_POLICY = "LocalManagedPolicy"
    AWS_MANAGED_POLICY = "AWSManagedPolicy"  # none here: AWS's own policies are not served


@dataclass(frozen=True, slots=True)
class UserDetail:
    user: User
    groups: tuple[Group, ...]
    inline: tuple[InlinePolicy, ...]
    attached: tuple[ManagedPolicy, ...]


@dataclass(frozen=True, slots=True)
class GroupDetail:
    group: Group
    inline: tuple[InlinePolicy, ...]
    attached: tuple[ManagedPolicy, ...]


@dataclass(frozen=True, slots=True)
class RoleDetail:
    role: Role
    profiles: tuple[InstanceProfile, ...]
    inline: tuple[InlinePolicy, ...]
    attached: tuple[ManagedPolicy, ...]


@dataclass(frozen=True, slots=True)
class PolicyDetail:
    policy: ManagedPolicy
    versions: tuple[PolicyVersion, ...]
    boundary_usage: int


EntityDetail = UserDetail | GroupDetail | RoleDetail | PolicyDetail
Listed = User | Group | Role | ManagedPolicy


class AuthorizationDetailsMixin(ServiceCore):
    async def _every(self, kind: type[Entity], tenant_id: str) -> list[Entity]:
        found: list[Entity] = []
        after: str | None = None
        while True:
            chunk = await self._store.list_entities(kind, tenant_id, "/", after, _PAGE)
            found.extend(chunk)
            if len(chunk) < _PAGE:
                return found
            after = chunk[-1].name.lower()

    async def authorization_entities(
        self, tenant_id: str, kinds: Sequence[AuthorizationFilter]
    ) -> list[Listed]:
        """The account's users, groups, roles and managed policies of the kinds asked (all for
        none), in that order, each kind by lower-case name."""
        wanted = set(kinds) or set(AuthorizationFilter)
        found: list[Listed] = []
        if AuthorizationFilter.USER in wanted:
            found.extend(await self._every(User, tenant_id))
        if AuthorizationFilter.GROUP in wanted:
            found.extend(await self._every(Group, tenant_id))
        if AuthorizationFilter.ROLE in wanted:
            found.extend(await self._every(Role, tenant_id))
        if AuthorizationFilter.LOCAL_MANAGED_POLICY in wanted:
            found.extend(await self._every(ManagedPolicy, tenant_id))
        return found

    async def authorization_detail(
        self, entity: Listed, boundary_usage: dict[str, int]
    ) -> EntityDetail:
        """One entity with its grants; ``boundary_usage``: the account's, policy ARN -> how
        many users and roles have it as their permissions boundary."""
        store = self._store
        if isinstance(entity, User):
            return UserDetail(
                entity,
                tuple(await store.list_groups_for_user(entity.id)),
                tuple(await store.list_inline_policies(EntityType.USER, entity.id)),
                tuple(await store.list_attached_policies(EntityType.USER, entity.id)),
            )
        if isinstance(entity, Group):
            return GroupDetail(
                entity,
                tuple(await store.list_inline_policies(EntityType.GROUP, entity.id)),
                tuple(await store.list_attached_policies(EntityType.GROUP, entity.id)),
            )
        if isinstance(entity, Role):
            attached = tuple(await store.list_attached_policies(EntityType.ROLE, entity.id))
            service = service_of(entity)
            if service is not None:  # a service-linked role holds its service's (0208)
                attached = (service.policy, *attached)
            return RoleDetail(
                entity,
                tuple(await store.list_instance_profiles_for_role(entity.id)),
                tuple(await store.list_inline_policies(EntityType.ROLE, entity.id)),
                attached,
            )
        return PolicyDetail(
            entity,
            tuple(await store.list_policy_versions(entity.id)),
            boundary_usage.get(entity.arn, 0),
        )
