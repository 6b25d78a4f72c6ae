"""Service-linked roles (decision 0208; part of IdentityService): CreateServiceLinkedRole,
DeleteServiceLinkedRole and GetServiceLinkedRoleDeletionStatus, the role a service makes for
itself on first use, and the AWS-managed policies those roles hold (read-only).

A deletion is a task, as on AWS (session 51): DeleteServiceLinkedRole answers its id at once
and a job of the worker that took the call carries it out — it asks the role's service which
resources use the role, and deletes the role if none does. Its status follows AWS's sequence:
NOT_STARTED until the job runs, IN_PROGRESS while it does, then SUCCEEDED (the role gone) or
FAILED (the role kept, the reason naming the resources using it). Nothing is stored: the task
id carries the role's id and the moment the task began (a time-ordered UUID), so any worker
reads the status back from the role — the role gone (or another one made since under its
name) is SUCCEEDED; the same role still there and in use is FAILED; still there and unused is
IN_PROGRESS while the task is younger than ``linked_role_deletion_timeout`` (its job, perhaps
in another worker, has not decided yet; the job gives up at that age), FAILED after.
"""

from __future__ import annotations

import asyncio
import logging
import os
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

_LOG = logging.getLogger(__name__)
# (tenant, service principal, role ARN) -> the ARNs of the resources using the role.
LinkedRoleUsers = Callable[[str, str, str], Awaitable[list[str]]]
_SUFFIX = re.compile(r"[\w+=,.@-]{1,64}")
_TASK = re.compile(r"task/aws-service-role/([\w.-]+)/([\w+=,.@-]+)/(AROA[A-Z0-9]+)-([0-9a-f-]{36})")


@dataclass(frozen=True, slots=True)
class DeletionStatus:
    """GetServiceLinkedRoleDeletionStatus's answer: ``reason`` and ``resources`` for FAILED."""

    status: str  # SUCCEEDED | IN_PROGRESS | FAILED | NOT_STARTED
    reason: str = ""
    resources: tuple[str, ...] = ()


@dataclass(slots=True)
class _Deletion:
    """A deletion task this worker runs: NOT_STARTED until its job runs, IN_PROGRESS after."""

    status: str = "NOT_STARTED"
    job: asyncio.Task[None] | None = None


class ServiceLinkedRolesMixin(ServiceCore):
    # Set by the wiring: which resources use a service's role (None: nothing uses any).
    linked_role_users: LinkedRoleUsers | None = None
    # This worker's running deletion tasks by id (made on first use; each leaves when done).
    _linked_role_deletions: dict[str, _Deletion]

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
        """The deletion task's id; its job runs once the call has answered."""
        role = await self._role_named(tenant_id, role_name)
        service = service_of(role)
        if service is None:
            raise InvalidInput(f"Role {role.name} is not a service-linked role.")
        began = _timed_uuid(self._clock())
        task = f"task/aws-service-role/{service.principal}/{role.name}/{role.id}-{began}"
        deletion = _Deletion()
        self._deletions()[task] = deletion
        deletion.job = asyncio.create_task(self._run_deletion(task, deletion, service, role))
        return task

    async def settle_linked_role_deletions(self) -> None:
        """Wait for this worker's deletion tasks to end (what a test waits for)."""
        jobs = [d.job for d in self._deletions().values() if d.job is not None]
        await asyncio.gather(*jobs, return_exceptions=True)

    async def _run_deletion(
        self, task: str, deletion: _Deletion, service: LinkedService, role: Role
    ) -> None:
        deletion.status = "IN_PROGRESS"
        try:
            async with asyncio.timeout(self._limits.linked_role_deletion_timeout):
                if not await self._linked_role_users(role.tenant_id, service, role):
                    await self._store.delete_entity(Role, role.id)
                    self.invalidate_caches()
        except Exception:  # the role kept: the status reads FAILED once the task is old enough
            _LOG.warning("service-linked role deletion %s did not complete", task, exc_info=True)
        finally:
            self._deletions().pop(task, None)

    def _deletions(self) -> dict[str, _Deletion]:
        try:
            return self._linked_role_deletions
        except AttributeError:
            self._linked_role_deletions = {}
            return self._linked_role_deletions

    async def service_linked_role_deletion_status(
        self, tenant_id: str, deletion_task_id: str
    ) -> DeletionStatus:
        match = _TASK.fullmatch(deletion_task_id)
        if match is None or match[1] not in SERVICES:
            raise InvalidInput(f"Deletion task id {deletion_task_id[:256]} is not valid")
        running = self._deletions().get(deletion_task_id)
        if running is not None:
            return DeletionStatus(running.status)
        service = SERVICES[match[1]]
        role = await self._store.get_entity(Role, tenant_id, match[2])
        if role is None or role.id != match[3] or service_of(role) is not service:
            return DeletionStatus("SUCCEEDED")
        users = await self._linked_role_users(tenant_id, service, role)
        if users:
            return DeletionStatus(
                "FAILED",
                f"The role {role.name} is in use by resources of {service.principal}: delete "
                "them first, then delete the role again.",
                tuple(users),
            )
        began = _began(match[4])
        if began is not None and self._clock() - began < self._limits.linked_role_deletion_timeout:
            return DeletionStatus("IN_PROGRESS")  # its job (another worker's) has not decided
        return DeletionStatus(
            "FAILED", f"The deletion of the role {role.name} did not complete: delete it again."
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


def _timed_uuid(now: float) -> str:
    """A version 7 UUID (RFC 9562): the unix time in milliseconds, then random bits."""
    milliseconds = int(now * 1000) & ((1 << 48) - 1)
    noise = int.from_bytes(os.urandom(10), "big")
    value = (milliseconds << 80) | (7 << 76) | ((noise >> 62) & 0xFFF) << 64
    value |= (0b10 << 62) | (noise & ((1 << 62) - 1))
    return str(uuid.UUID(int=value))


def _began(task_uuid: str) -> float | None:
    """When a task began, from its id's UUID (None for a task id of another form)."""
    try:
        parsed = uuid.UUID(task_uuid)
    except ValueError:
        return None
    return (parsed.int >> 80) / 1000 if parsed.version == 7 else None
