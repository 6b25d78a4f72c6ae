"""Service-linked roles (decision 0208; part of IdentityService): CreateServiceLinkedRole,
DeleteServiceLinkedRole and GetServiceLinkedRoleDeletionStatus, the role a service makes for
itself on first use, and the AWS-managed policies those roles hold (read-only).

A deletion is decided when it is asked: the role goes at once if no resource of its service
uses it, and stays otherwise (the task FAILED, its reason naming the resources). The task id
carries the role's id, so its status is read back from the role itself, with no task stored:
the role gone (or another one made since under its name) is SUCCEEDED, the same role still
there is FAILED.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from andromede.iam.errors import EntityAlreadyExists, InvalidInput, NoSuchEntity
from andromede.iam.linked_services import (
    SERVICES,
    LinkedService,
    linked_path,
    service_of,
)
from andromede.iam.model import ManagedPolicy, Role, new_entity_id
from andromede.iam.service_core import ServiceCore

__all__ = [
    "DeletionStatus",
    "LinkedRoleUsers",
    "ServiceLinkedRolesMixin",
]

# (tenant, service principal, role ARN) -> the ARNs of the resources using the role.
LinkedRoleUsers = Callable[[str, str, str], Awaitable[list[str]]]
_SUFFIX = re.compile(r"[\w+=,.@-]{1,64}")
_TASK = re.compile(r"task/aws-service-role/([\w.-]+)/([\w+=,.@-]+)/(AROA[A-Z0-9]+)-[0-9a-f-]{36}")


@dataclass(frozen=True, slots=True)
class DeletionStatus:
    """GetServiceLinkedRoleDeletionStatus's answer: ``reason`` and ``resources`` for FAILED."""

    status: str  # SUCCEEDED | IN_PROGRESS | FAILED | NOT_STARTED
    reason: str = ""
    resources: tuple[str, ...] = ()


class ServiceLinkedRolesMixin(ServiceCore):
    # Set by the wiring: which resources use a service's role (None: nothing uses any).
    linked_role_users: LinkedRoleUsers | None = None

    async def create_service_linked_role(
        self,
        tenant_id: str,
        aws_service_name: str,
        description: str | None = None,
        custom_suffix: str | None = None,
    ) -> Role:
        """InvalidInput for a service without such a role here, a suffix the service does not
        take, or a name already taken (AWS's sentences)."""
        service = _service(aws_service_name)
        name = service.role_name
        if custom_suffix is not None:
            if not service.custom_suffix:
                raise InvalidInput(f"Custom suffix is not allowed for {service.principal}")
            if not _SUFFIX.fullmatch(custom_suffix) or len(name) + 1 + len(custom_suffix) > 64:
                raise InvalidInput(f"The custom suffix {custom_suffix[:64]!r} is not valid")
            name = f"{name}_{custom_suffix}"
        if description is not None and len(description) > 1000:
            raise InvalidInput("A description is at most 1000 characters")
        role = Role(
            id=new_entity_id("AROA"),
            tenant_id=tenant_id,
            name=name,
            path=linked_path(service.principal),
            created_at=self._now(),
            assume_role_policy_document=service.trust_policy(),
            description=service.description if description is None else description,
        )
        try:
            await self._store.create_entity(role)
        except EntityAlreadyExists as exc:
            raise InvalidInput(
                f"Service role name {name} has been taken in this account, "
                "please try a different suffix."
            ) from exc
        return role

    async def service_linked_role(self, tenant_id: str, aws_service_name: str) -> Role:
        """The service's default role of the account, made now if it is not there yet: what a
        service does on its first use, as AWS's do."""
        service = _service(aws_service_name)
        found = await self._store.get_entity(Role, tenant_id, service.role_name)
        if found is not None and service_of(found) is service:
            return found
        try:
            return await self.create_service_linked_role(tenant_id, service.principal)
        except InvalidInput:  # made meanwhile by another request
            return await self._role_named(tenant_id, service.role_name)

    async def linked_role_of(self, tenant_id: str, aws_service_name: str, role_arn: str) -> Role:
        """The service-linked role of ``aws_service_name`` that ``role_arn`` names in the
        account; NoSuchEntity for anything else (an ordinary role, another service's…)."""
        service = _service(aws_service_name)
        name = role_arn.rsplit("/", 1)[-1]
        role = await self._store.get_entity(Role, tenant_id, name)
        if role is None or role.arn != role_arn or service_of(role) is not service:
            raise NoSuchEntity(f"{role_arn} is not a service-linked role of {service.principal}")
        return role

    async def delete_service_linked_role(self, tenant_id: str, role_name: str) -> str:
        """The deletion task's id. The role goes now unless a resource uses it."""
        role = await self._role_named(tenant_id, role_name)
        service = service_of(role)
        if service is None:
            raise InvalidInput(f"Role {role.name} is not a service-linked role.")
        task = f"task/aws-service-role/{service.principal}/{role.name}/{role.id}-{uuid.uuid4()}"
        if not await self._linked_role_users(tenant_id, service, role):
            await self._store.delete_entity(Role, role.id)
            self.invalidate_caches()
        return task

    async def service_linked_role_deletion_status(
        self, tenant_id: str, deletion_task_id: str
    ) -> DeletionStatus:
        match = _TASK.fullmatch(deletion_task_id)
        if match is None or match[1] not in SERVICES:
            raise InvalidInput(f"Deletion task id {deletion_task_id[:256]} is not valid")
        service = SERVICES[match[1]]
        role = await self._store.get_entity(Role, tenant_id, match[2])
        if role is None or role.id != match[3] or service_of(role) is not service:
            return DeletionStatus("SUCCEEDED")
        users = await self._linked_role_users(tenant_id, service, role)
        return DeletionStatus(
            "FAILED",
            f"The role {role.name} is in use by resources of {service.principal}: delete them "
            "first, then delete the role again.",
            tuple(users),
        )

    async def _linked_role_users(
        self, tenant_id: str, service: LinkedService, role: Role
    ) -> list[str]:
        if self.linked_role_users is None:
            return []
        return await self.linked_role_users(tenant_id, service.principal, role.arn)

    async def aws_managed_policies(
        self, tenant_id: str, path_prefix: str = "/"
    ) -> list[ManagedPolicy]:
        """The AWS-managed policies (ListPolicies' Scope=AWS), by name, each with the number of
        the account's roles holding it as its AttachmentCount."""
        found = []
        for service in sorted(SERVICES.values(), key=lambda s: s.policy_name):
            if service.policy.path.startswith(path_prefix):
                roles = await self._store.list_entities(
                    Role, tenant_id, linked_path(service.principal), None, 1000
                )
                found.append(replace(service.policy, attachment_count=len(roles)))
        return found

    async def _role_named(self, tenant_id: str, role_name: str) -> Role:
        role = await self._store.get_entity(Role, tenant_id, role_name)
        if role is None:
            raise NoSuchEntity(f"The role with name {role_name} cannot be found.")
        return role


def _service(aws_service_name: str) -> LinkedService:
    service = SERVICES.get(aws_service_name)
    if service is None:
        raise InvalidInput(
            f"{aws_service_name[:128]!r} has no service-linked role on this platform: "
            f"one of {', '.join(sorted(SERVICES))}"
        )
    return service
