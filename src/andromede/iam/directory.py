"""Users, groups, group membership and roles, as the IAM API defines them (part of
IdentityService). Methods are the IAM actions in snake case, with the tenant's account id
first; names are matched regardless of case, as on AWS.
"""

from __future__ import annotations

from dataclasses import replace

from andromede.iam.errors import InvalidInput, NoSuchEntity
from andromede.iam.linked_services import LINKED_PATH, refuse_linked
from andromede.iam.model import Group, Page, Role, Tags, User, new_entity_id
from andromede.iam.service_core import (
    PolicyKind,
    ServiceCore,
    check_max_items,
    check_name,
    check_path,
)
from andromede.iam.store import Entity
from andromede.iam.tags import check_tags

__all__ = ["DirectoryMixin"]

ROLE_SESSION_MIN = 3600
ROLE_SESSION_MAX = 43200


class DirectoryMixin(ServiceCore):
    async def _page(
        self,
        kind: type[Entity],
        tenant_id: str,
        path_prefix: str,
        marker: str | None,
        max_items: int | None,
    ) -> Page[Entity]:
        if not path_prefix.startswith("/"):
            raise InvalidInput("PathPrefix must begin with /")
        limit = check_max_items(max_items)
        found = await self._store.list_entities(kind, tenant_id, path_prefix, marker, limit + 1)
        truncated = len(found) > limit
        items = found[:limit]
        return Page(items, truncated, items[-1].name.lower() if truncated else None)

    # -- users --------------------------------------------------------------------------------
    async def create_user(
        self,
        tenant_id: str,
        user_name: str,
        path: str = "/",
        *,
        permissions_boundary: str | None = None,
        tags: Tags = (),
    ) -> User:
        """``permissions_boundary``: a managed policy's ARN, as ``boundary_policy`` returned
        it. ``tags``: checked as TagUser checks them."""
        user = User(
            id=new_entity_id("AIDA"),
            tenant_id=tenant_id,
            name=check_name("userName", user_name, 64),
            is_root=False,
            created_at=self._now(),
            path=check_path(path),
            permissions_boundary=permissions_boundary,
            tags=check_tags(tags),
        )
        await self._store.create_entity(user)
        return user

    async def get_user(self, tenant_id: str, user_name: str) -> User:
        return await self._user(tenant_id, user_name)

    async def get_user_by_id(self, tenant_id: str, user_id: str) -> User:
        """The user a device or session names by id (NoSuchEntity outside ``tenant_id``)."""
        user = await self._store.get_entity_by_id(User, user_id)
        if user is None or user.tenant_id != tenant_id:
            raise NoSuchEntity(f"The user with id {user_id} cannot be found.")
        return user

    async def list_users(
        self,
        tenant_id: str,
        path_prefix: str = "/",
        marker: str | None = None,
        max_items: int | None = None,
    ) -> Page[User]:
        return await self._page(User, tenant_id, path_prefix, marker, max_items)

    async def update_user(
        self,
        tenant_id: str,
        user_name: str,
        new_user_name: str | None = None,
        new_path: str | None = None,
    ) -> User:
        user = await self._iam_user(tenant_id, user_name)
        updated = replace(
            user,
            name=check_name("newUserName", new_user_name, 64) if new_user_name else user.name,
            path=check_path(new_path) if new_path else user.path,
        )
        await self._store.update_entity(updated)
        self.invalidate_caches()  # the ARN in cached principals changed
        return updated

    async def delete_user(self, tenant_id: str, user_name: str) -> None:
        """DeleteConflict while the user has keys, policies, groups, MFA or a login profile."""
        user = await self._iam_user(tenant_id, user_name)
        await self._store.delete_entity(User, user.id)
        self.invalidate_caches()

    async def _iam_user(self, tenant_id: str, user_name: str) -> User:
        """An IAM user: the root user is not one (it cannot be renamed or deleted)."""
        user = await self._user(tenant_id, user_name)
        if user.is_root:
            raise NoSuchEntity(f"The user with name {user_name} cannot be found.")
        return user

    # -- groups -------------------------------------------------------------------------------
    async def create_group(self, tenant_id: str, group_name: str, path: str = "/") -> Group:
        group = Group(
            id=new_entity_id("AGPA"),
            tenant_id=tenant_id,
            name=check_name("groupName", group_name, 128),
            path=check_path(path),
            created_at=self._now(),
        )
        await self._store.create_entity(group)
        return group

    async def _group(self, tenant_id: str, group_name: str) -> Group:
        group = await self._store.get_entity(Group, tenant_id, group_name)
        if group is None:
            raise NoSuchEntity(f"The group with name {group_name} cannot be found.")
        return group

    async def get_group(self, tenant_id: str, group_name: str) -> tuple[Group, list[User]]:
        """The group and its members (GetGroup)."""
        group = await self._group(tenant_id, group_name)
        return group, await self._store.list_group_members(group.id)

    async def list_groups(
        self,
        tenant_id: str,
        path_prefix: str = "/",
        marker: str | None = None,
        max_items: int | None = None,
    ) -> Page[Group]:
        return await self._page(Group, tenant_id, path_prefix, marker, max_items)

    async def delete_group(self, tenant_id: str, group_name: str) -> None:
        """DeleteConflict while the group has members or policies."""
        group = await self._group(tenant_id, group_name)
        await self._store.delete_entity(Group, group.id)

    async def add_user_to_group(self, tenant_id: str, group_name: str, user_name: str) -> None:
        group = await self._group(tenant_id, group_name)
        user = await self._iam_user(tenant_id, user_name)
        await self._store.add_group_member(group.id, user.id)
        self._policy_cache.clear()

    async def remove_user_from_group(self, tenant_id: str, group_name: str, user_name: str) -> None:
        group = await self._group(tenant_id, group_name)
        user = await self._iam_user(tenant_id, user_name)
        if not await self._store.remove_group_member(group.id, user.id):
            raise NoSuchEntity(f"The user {user_name} is not in the group {group_name}.")
        self._policy_cache.clear()

    async def list_groups_for_user(
        self,
        tenant_id: str,
        user_name: str,
        marker: str | None = None,
        max_items: int | None = None,
    ) -> Page[Group]:
        user = await self._user(tenant_id, user_name)
        limit = check_max_items(max_items)
        groups = [
            g
            for g in await self._store.list_groups_for_user(user.id)
            if marker is None or g.name.lower() > marker
        ]
        page = groups[:limit]
        truncated = len(groups) > limit
        return Page(page, truncated, page[-1].name.lower() if truncated else None)

    # -- roles --------------------------------------------------------------------------------
    async def create_role(
        self,
        tenant_id: str,
        role_name: str,
        assume_role_policy_document: str,
        path: str = "/",
        description: str = "",
        max_session_duration: int = ROLE_SESSION_MIN,
        permissions_boundary: str | None = None,
        tags: Tags = (),
    ) -> Role:
        if path.startswith(LINKED_PATH):  # only CreateServiceLinkedRole makes roles there
            raise InvalidInput(f"The path {LINKED_PATH} is reserved for service-linked roles")
        role = Role(
            id=new_entity_id("AROA"),
            tenant_id=tenant_id,
            name=check_name("roleName", role_name, 64),
            path=check_path(path),
            created_at=self._now(),
            assume_role_policy_document=self._validate_policy(
                assume_role_policy_document, PolicyKind.TRUST
            ),
            max_session_duration=_session_duration(max_session_duration),
            description=_description(description),
            permissions_boundary=permissions_boundary,
            tags=check_tags(tags),
        )
        await self._store.create_entity(role)
        return role

    async def get_role(self, tenant_id: str, role_name: str) -> Role:
        role = await self._store.get_entity(Role, tenant_id, role_name)
        if role is None:
            raise NoSuchEntity(f"The role with name {role_name} cannot be found.")
        return role

    async def get_role_by_arn(self, role_arn: str) -> Role:
        """The role an ``arn:aws:iam::<account>:role/<path><name>`` names (AssumeRole's
        RoleArn, whichever tenant it belongs to). NoSuchEntity, also when the path differs."""
        prefix, _, rest = role_arn.partition(":role/")
        account = prefix.removeprefix("arn:aws:iam::")
        if not rest or account == prefix or not account.isdigit():
            raise InvalidInput(f"{role_arn} is not a role ARN")
        role = await self._store.get_entity(Role, account, rest.rsplit("/", 1)[-1])
        if role is None or role.arn != role_arn:
            raise NoSuchEntity(f"The role {role_arn} cannot be found.")
        return role

    async def list_roles(
        self,
        tenant_id: str,
        path_prefix: str = "/",
        marker: str | None = None,
        max_items: int | None = None,
    ) -> Page[Role]:
        return await self._page(Role, tenant_id, path_prefix, marker, max_items)

    async def update_role(
        self,
        tenant_id: str,
        role_name: str,
        description: str | None = None,
        max_session_duration: int | None = None,
    ) -> Role:
        role = await self.get_role(tenant_id, role_name)
        updated = replace(
            role,
            description=role.description if description is None else _description(description),
            max_session_duration=(
                role.max_session_duration
                if max_session_duration is None
                else _session_duration(max_session_duration)
            ),
        )
        await self._store.update_entity(updated)
        return updated

    async def update_assume_role_policy(
        self, tenant_id: str, role_name: str, policy_document: str
    ) -> Role:
        role = await self.get_role(tenant_id, role_name)
        refuse_linked(role)
        updated = replace(
            role,
            assume_role_policy_document=self._validate_policy(policy_document, PolicyKind.TRUST),
        )
        await self._store.update_entity(updated)
        return updated

    async def delete_role(self, tenant_id: str, role_name: str) -> None:
        """DeleteConflict while the role has policies or is in an instance profile. Its sessions
        end within the cache time. UnmodifiableEntity for a service-linked role, which only
        DeleteServiceLinkedRole deletes."""
        role = await self.get_role(tenant_id, role_name)
        refuse_linked(role)
        await self._store.delete_entity(Role, role.id)
        self.invalidate_caches()


def _session_duration(seconds: int) -> int:
    if not ROLE_SESSION_MIN <= seconds <= ROLE_SESSION_MAX:
        raise InvalidInput(
            f"MaxSessionDuration must be between {ROLE_SESSION_MIN} and {ROLE_SESSION_MAX} seconds"
        )
    return seconds


def _description(text: str) -> str:
    if len(text) > 1000:
        raise InvalidInput("A description is at most 1000 characters")
    return text
