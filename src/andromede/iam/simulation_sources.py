"""What SimulatePrincipalPolicy and GetContextKeysForPrincipalPolicy simulate with (part of
IdentityService; decision 0193): the policies of the user, group or role a ``PolicySourceArn``
names, each with its source as AWS's simulator names it, and the entity's permissions boundary.

A user's policies are its inline ones (``user``), its groups' inline ones (``group``) and the
managed policies attached to it or to its groups (``user-managed``: every managed policy here is
the account's own); a group's and a role's likewise. A managed policy counts with its default
version, as on the request path; its ``SourcePolicyId`` is its name, an inline policy's its name.
"""

from __future__ import annotations

from dataclasses import dataclass

from andromede.iam.errors import InvalidInput, NoSuchEntity
from andromede.iam.model import EntityType, Group, ManagedPolicy, Role, User
from andromede.iam.policy import PrincipalType
from andromede.iam.policy_simulator import (
    PolicySource,
    SimulatedCaller,
    SimulationInput,
    SimulationResult,
    SourceType,
    simulate,
)
from andromede.iam.service_core import ServiceCore

__all__ = ["PrincipalSources", "SimulationSourcesMixin"]


@dataclass(frozen=True, slots=True)
class PrincipalSources:
    caller: SimulatedCaller
    policies: tuple[PolicySource, ...]
    boundary: tuple[PolicySource, ...]


_INLINE_TYPE = {
    EntityType.USER: SourceType.USER,
    EntityType.GROUP: SourceType.GROUP,
    EntityType.ROLE: SourceType.ROLE,
}


class SimulationSourcesMixin(ServiceCore):
    async def _managed_text(self, policy: ManagedPolicy) -> str:
        version = await self._store.get_policy_version(policy.id, policy.default_version_id)
        if version is None:  # a policy always has its default version; gone meanwhile
            raise NoSuchEntity(f"Policy {policy.arn} does not exist or is not attachable.")
        return version.document

    async def _sources_of(self, kind: EntityType, entity_id: str) -> list[PolicySource]:
        sources = [
            PolicySource(inline.name, _INLINE_TYPE[kind], inline.document)
            for inline in await self._store.list_inline_policies(kind, entity_id)
        ]
        for managed in await self._store.list_attached_policies(kind, entity_id):
            sources.append(
                PolicySource(
                    managed.name, SourceType.USER_MANAGED, await self._managed_text(managed)
                )
            )
        return sources

    async def _boundary_of(self, tenant_id: str, arn: str | None) -> tuple[PolicySource, ...]:
        if arn is None:
            return ()
        policy = await self._store.get_entity(ManagedPolicy, tenant_id, arn.rsplit("/", 1)[-1])
        if policy is None or policy.arn != arn:
            return ()
        return (
            PolicySource(policy.name, SourceType.USER_MANAGED, await self._managed_text(policy)),
        )

    async def simulation_sources(self, tenant_id: str, source_arn: str) -> PrincipalSources:
        """The policies of the user, group or role ``source_arn`` names (in the caller's
        account): InvalidInput for another kind of ARN, NoSuchEntity for none of that ARN."""
        prefix = f"arn:aws:iam::{tenant_id}:"
        rest = source_arn.removeprefix(prefix) if source_arn.startswith(prefix) else ""
        kind, _, path_name = rest.partition("/")
        name = path_name.rsplit("/", 1)[-1]
        if kind not in ("user", "group", "role") or not name:
            raise InvalidInput(f"Invalid PolicySourceArn {source_arn!r}: a user, group or role")
        missing = NoSuchEntity(f"The {kind} with ARN {source_arn} cannot be found.")
        if kind == "user":
            user = await self._store.get_entity(User, tenant_id, name)
            if user is None or user.is_root or user.arn != source_arn:
                raise missing
            policies = await self._sources_of(EntityType.USER, user.id)
            for group in await self._store.list_groups_for_user(user.id):
                policies += await self._sources_of(EntityType.GROUP, group.id)
            caller = SimulatedCaller(
                tenant_id, PrincipalType.USER, user.arn, user_name=user.name, user_id=user.id
            )
            boundary = await self._boundary_of(tenant_id, user.permissions_boundary)
            return PrincipalSources(caller, tuple(policies), boundary)
        if kind == "group":
            found = await self._store.get_entity(Group, tenant_id, name)
            if found is None or found.arn != source_arn:
                raise missing
            policies = await self._sources_of(EntityType.GROUP, found.id)
            return PrincipalSources(SimulatedCaller(tenant_id), tuple(policies), ())
        role = await self._store.get_entity(Role, tenant_id, name)
        if role is None or role.arn != source_arn:
            raise missing
        policies = await self._sources_of(EntityType.ROLE, role.id)
        caller = SimulatedCaller(
            tenant_id, PrincipalType.ASSUMED_ROLE, role.arn, role_arn=role.arn, user_id=role.id
        )
        boundary = await self._boundary_of(tenant_id, role.permissions_boundary)
        return PrincipalSources(caller, tuple(policies), boundary)

    async def simulated_user(self, tenant_id: str, caller_arn: str) -> SimulatedCaller:
        """``CallerArn``: an IAM user of the caller's account (AWS takes only a user's ARN)."""
        prefix = f"arn:aws:iam::{tenant_id}:user/"
        if not caller_arn.startswith(prefix):
            raise InvalidInput(f"Invalid CallerArn {caller_arn!r}: an IAM user's ARN")
        user = await self._store.get_entity(User, tenant_id, caller_arn.rsplit("/", 1)[-1])
        if user is None or user.is_root or user.arn != caller_arn:
            raise NoSuchEntity(f"The user with ARN {caller_arn} cannot be found.")
        return SimulatedCaller(
            tenant_id, PrincipalType.USER, user.arn, user_name=user.name, user_id=user.id
        )

    def run_simulation(
        self, given: SimulationInput, actions: list[str], resources: list[str]
    ) -> list[SimulationResult]:
        """:func:`simulate`, within ``simulation_max_evaluations`` (actions times resources):
        InvalidInput beyond, before any evaluation."""
        limit = self._limits.simulation_max_evaluations
        if len(actions) * len(resources) > limit:
            raise InvalidInput(
                f"The simulation asks {len(actions)} actions on {len(resources)} resources: at "
                f"most {limit} evaluations per call"
            )
        return simulate(given, actions, resources)
