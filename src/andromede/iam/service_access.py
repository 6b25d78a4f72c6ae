"""Service last accessed (part of IdentityService; decision 0193): for a user, group, role or
managed policy of an account, which services its policies allow and when each was last used —
by whom, how many of its entities used it, and per action at ``ACTION_LEVEL``.

A job (GenerateServiceLastAccessedDetails) is a row: whose access and as of when; one per
entity of an account, the next replacing it. The summary is computed when the job is read, from
the uses the caller hands in (the audit trail's, read by the IAM API) up to the job's time, and
from the access keys' last use (GetAccessKeyLastUsed's). The audit trail records what changes
state, and every data access only where a bucket asks it, so a service used only for reads may
show no use: the keys' last use fills that in for users.
"""

from __future__ import annotations

import uuid
from abc import abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Final

from andromede.iam.errors import InvalidInput, NoSuchEntity
from andromede.iam.model import (
    AccessJob,
    AccessKey,
    EntityType,
    Group,
    KeyUse,
    ManagedPolicy,
    Role,
    User,
)
from andromede.iam.policy import Effect, PolicyKind, load_policy
from andromede.iam.policy.actions import ACTIONS
from andromede.iam.service_core import ServiceCore

__all__ = [
    "GRANULARITIES",
    "Access",
    "AccessScope",
    "ServiceAccess",
    "ServiceAccessMixin",
    "TrackedAction",
    "service_name",
    "summarise",
]

GRANULARITIES: Final = ("SERVICE_LEVEL", "ACTION_LEVEL")
# AWS's names for the namespaces served here; others are named by their namespace.
_NAMES: Final = {
    "s3": "Amazon S3",
    "iam": "AWS Identity and Access Management",
    "sts": "AWS Security Token Service",
    "kms": "AWS Key Management Service",
    "ec2": "Amazon EC2",
    "sns": "Amazon SNS",
    "sqs": "Amazon SQS",
    "autoscaling": "Amazon EC2 Auto Scaling",
    "cloudwatch": "Amazon CloudWatch",
    "andromede": "Andromede",
}


def service_name(namespace: str) -> str:
    return _NAMES.get(namespace, namespace)


@dataclass(frozen=True, slots=True)
class Access:
    """One recorded use: when, by which principal's ARN, which action, in which region."""

    when: datetime
    principal: str
    action: str
    region: str | None = None


@dataclass(frozen=True, slots=True)
class AccessScope:
    """Whose uses count, and as which entity: exact principal ARNs, and role sessions by their
    ARN's prefix (``arn:aws:sts::A:assumed-role/NAME/``), each mapped to the entity's ARN; the
    namespaces the policies allow; the access keys' last uses."""

    principals: Mapping[str, str]
    sessions: Mapping[str, str]
    namespaces: tuple[str, ...]
    key_uses: tuple[Access, ...] = field(default=())

    def entity_of(self, principal: str) -> str | None:
        found = self.principals.get(principal)
        if found is not None:
            return found
        for prefix, role in self.sessions.items():
            if principal.startswith(prefix):
                return role
        return None


@dataclass(frozen=True, slots=True)
class TrackedAction:
    name: str
    entity: str
    when: datetime
    region: str | None


@dataclass(frozen=True, slots=True)
class ServiceAccess:
    namespace: str
    last: Access | None  # ``principal``: the entity's ARN
    total_entities: int
    actions: tuple[TrackedAction, ...]


def summarise(scope: AccessScope, uses: Iterable[Access], until: datetime) -> list[ServiceAccess]:
    """Per allowed namespace, by namespace: its last use up to ``until`` and who made it."""
    allowed = set(scope.namespaces)
    last: dict[str, Access] = {}
    entities: dict[str, set[str]] = {}
    actions: dict[tuple[str, str], TrackedAction] = {}
    for use in [*uses, *scope.key_uses]:
        if use.when > until:
            continue
        entity = scope.entity_of(use.principal)
        namespace, _, action = use.action.partition(":")
        namespace = namespace.lower()
        if entity is None or namespace not in allowed:
            continue
        seen = Access(use.when, entity, use.action, use.region)
        if namespace not in last or last[namespace].when < use.when:
            last[namespace] = seen
        entities.setdefault(namespace, set()).add(entity)
        if action:
            tracked = actions.get((namespace, action))
            if tracked is None or tracked.when < use.when:
                actions[namespace, action] = TrackedAction(use.action, entity, use.when, use.region)
    return [
        ServiceAccess(
            namespace,
            last.get(namespace),
            len(entities.get(namespace, ())),
            tuple(
                sorted(
                    (t for (ns, _), t in actions.items() if ns == namespace), key=lambda t: t.name
                )
            ),
        )
        for namespace in sorted(allowed)
    ]


def _namespaces(documents: Iterable[str]) -> tuple[str, ...]:
    """The catalogued namespaces the documents' Allow statements cover."""
    catalogue = sorted(ACTIONS)
    found: set[str] = set()
    for text in documents:
        for statement in load_policy(text, kind=PolicyKind.IDENTITY).statements:
            if statement.effect is not Effect.ALLOW:
                continue
            if statement.not_action:
                found.update(catalogue)
                continue
            for pattern in statement.actions:
                namespace = "*" if pattern == "*" else pattern.split(":", 1)[0].lower()
                found.update(n for n in catalogue if fnmatchcase(n, namespace))
    return tuple(sorted(found))


class ServiceAccessMixin(ServiceCore):
    @abstractmethod
    def key_last_use(self, key: AccessKey) -> KeyUse | None:
        """The key's last use (credentials.py)."""

    async def generate_service_last_accessed(
        self, tenant_id: str, arn: str, granularity: str
    ) -> AccessJob:
        if granularity not in GRANULARITIES:
            raise InvalidInput(f"Granularity must be one of {', '.join(GRANULARITIES)}")
        await self.access_scope(tenant_id, arn)  # the entity must exist
        job = AccessJob(str(uuid.uuid4()), tenant_id, arn, granularity, self._now())
        await self._store.put_access_job(job)
        return job

    async def service_access_job(self, tenant_id: str, job_id: str) -> AccessJob:
        job = await self._store.get_access_job(tenant_id, job_id)
        if job is None:
            raise NoSuchEntity(f"The job with id {job_id} cannot be found.")
        return job

    async def _key_uses(self, users: Iterable[User]) -> list[Access]:
        uses = []
        for user in users:
            for key in await self._store.list_access_keys(user.id):
                use = self.key_last_use(key)
                if use is not None and use.service not in ("", "N/A"):
                    uses.append(Access(use.when, user.arn, f"{use.service}:", use.region))
        return uses

    async def access_scope(self, tenant_id: str, arn: str) -> AccessScope:
        """Whose uses count for ``arn`` (a user, group, role or managed policy of the account):
        InvalidInput for another ARN, NoSuchEntity for none of that ARN."""
        prefix = f"arn:aws:iam::{tenant_id}:"
        kind, _, rest = arn.removeprefix(prefix).partition("/")
        name = rest.rsplit("/", 1)[-1]
        if not arn.startswith(prefix) or kind not in ("user", "group", "role", "policy"):
            raise InvalidInput(f"Invalid Arn {arn!r}: a user, group, role or policy")
        missing = NoSuchEntity(f"The {kind} with ARN {arn} cannot be found.")
        users: list[User] = []
        roles: list[Role] = []
        if kind == "policy":
            policy = await self._store.get_entity(ManagedPolicy, tenant_id, name)
            if policy is None or policy.arn != arn:
                raise missing
            version = await self._store.get_policy_version(policy.id, policy.default_version_id)
            documents = [version.document] if version is not None else []
            for entity_type, entity_id in await self._store.list_policy_attachments(policy.id):
                if entity_type is EntityType.USER:
                    user = await self._store.get_entity_by_id(User, entity_id)
                    users += [user] if user is not None else []
                elif entity_type is EntityType.ROLE:
                    role = await self._store.get_entity_by_id(Role, entity_id)
                    roles += [role] if role is not None else []
                else:
                    users += await self._store.list_group_members(entity_id)
        else:
            entity: User | Group | Role | None
            entity = await self._store.get_entity(
                {"user": User, "group": Group, "role": Role}[kind], tenant_id, name
            )
            if entity is None or entity.arn != arn or (isinstance(entity, User) and entity.is_root):
                raise missing
            entities: list[tuple[EntityType, str]]
            if isinstance(entity, User):
                users = [entity]
                groups = await self._store.list_groups_for_user(entity.id)
                entities = [(EntityType.USER, entity.id)]
                entities += [(EntityType.GROUP, g.id) for g in groups]
            elif isinstance(entity, Group):
                users = await self._store.list_group_members(entity.id)
                entities = [(EntityType.GROUP, entity.id)]
            else:
                roles = [entity]
                entities = [(EntityType.ROLE, entity.id)]
            documents = await self._store.policy_documents_for(entities)
        return AccessScope(
            principals={user.arn: user.arn for user in users},
            sessions={
                f"arn:aws:sts::{tenant_id}:assumed-role/{role.name}/": role.arn for role in roles
            },
            namespaces=_namespaces(documents),
            key_uses=tuple(await self._key_uses(users)),
        )
