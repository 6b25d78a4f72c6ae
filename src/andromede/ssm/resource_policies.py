"""Parameter Store's resource-policy calls (decision 0249): PutResourcePolicy,
GetResourcePolicies and DeleteResourcePolicy on a parameter of the caller's account, named by
its ARN (the rules of a policy are :mod:`andromede.ssm.sharing`'s).

Only an Advanced parameter is shared, and a SecureString only under a customer-managed key:
AWS's AWS-managed ``alias/aws/ssm`` cannot be shared (its key policy opens it to its own
account alone), so its parameter is refused here rather than shared unreadable. A change or a
deletion names the policy's id and the hash it read; a stale hash is
``ResourcePolicyConflictException`` and changes nothing. Only a parameter's owner manages its
policies: another account's ARN is decided by the IAM engine (a parameter's policy never
allows these actions) and refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from andromede.ssm.errors import (
    MalformedResourcePolicy,
    NotShared,
    ResourceNotFound,
    ResourcePolicyConflict,
    ResourcePolicyInvalidParameter,
    ResourcePolicyLimitExceeded,
    ResourcePolicyNotFound,
)
from andromede.ssm.model import Parameter, ParameterType, Tier, parameter_arn
from andromede.ssm.sharing import PolicyChecker, ResourcePolicy, new_policy_hash, new_policy_id
from andromede.ssm.store import ParameterStore

if TYPE_CHECKING:
    from andromede.ssm.service import Actor

__all__ = ["ParameterArn", "ResourcePolicies", "parse_parameter_arn"]

_NOT_FOUND = "The specified parameter to be shared could not be found."


@dataclass(frozen=True, slots=True)
class ParameterArn:
    region: str
    account: str
    name: str  # as the service names it: a path keeps its leading slash

    @property
    def arn(self) -> str:
        return parameter_arn(self.region, self.account, self.name)


def parse_parameter_arn(reference: str) -> ParameterArn | None:
    """``arn:aws:ssm:<region>:<account>:parameter/<name>``, or None for anything else."""
    parts = reference.split(":", 5)
    if len(parts) != 6 or parts[:3] != ["arn", "aws", "ssm"]:
        return None
    rest = parts[5]
    if not rest.startswith("parameter/") or rest == "parameter/":
        return None
    bare = rest.removeprefix("parameter/")
    name = "/" + bare if "/" in bare.split(":", 1)[0] else bare
    return ParameterArn(parts[3], parts[4], name)


class ResourcePolicies:
    def __init__(
        self,
        store: ParameterStore,
        max_size: int,
        max_policies: int,
        clock: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._max_size = max_size
        self._max_policies = max_policies
        self._clock = clock
        # The policy grammar's check, the wire layer's (``ssmapi.policy_check``).
        self.checker: PolicyChecker | None = None

    async def put(
        self,
        actor: Actor,
        resource_arn: str,
        text: str,
        policy_id: str | None,
        policy_hash: str | None,
    ) -> ResourcePolicy:
        target, held = await self._parameter(actor, "ssm:PutResourcePolicy", resource_arn)
        if held.latest.tier is not Tier.ADVANCED:
            raise ResourcePolicyInvalidParameter(
                f"Parameter {held.name[:2048]} uses the standard-parameter tier: only a "
                "parameter of the advanced-parameter tier can be shared. Change it to the "
                "advanced tier and try again.",
                ("ResourceArn",),
            )
        if held.latest.type is ParameterType.SECURE_STRING and held.latest.key_id is None:
            raise ResourcePolicyInvalidParameter(
                f"Parameter {held.name[:2048]} is encrypted with the AWS managed key "
                "alias/aws/ssm, which can't be shared. Encrypt it with a customer managed key "
                "and share that key through AWS KMS.",
                ("ResourceArn",),
            )
        if (policy_id is None) != (policy_hash is None):
            raise ResourcePolicyInvalidParameter(
                "PolicyId and PolicyHash are given together, to update a policy: the hash of "
                "the version of it read.",
                ("PolicyHash" if policy_hash is None else "PolicyId",),
            )
        if self.checker is None:
            raise MalformedResourcePolicy("Resource policies are not accepted here.")
        accounts = self.checker(text, target.arn, self._max_size)
        held_policies = await self._store.policies(actor.account, actor.region, held.name)
        created = self._clock()
        if policy_id is None:
            if len(held_policies) >= self._max_policies:
                raise ResourcePolicyLimitExceeded(
                    f"Parameter {held.name[:2048]} already has {len(held_policies)} resource "
                    f"policies, the most a parameter can have.",
                    self._max_policies,
                    "PolicyCount",
                )
            policy_id = new_policy_id()
        else:
            kept = next((p for p in held_policies if p.policy_id == policy_id), None)
            created = kept.created if kept is not None else created
        policy = ResourcePolicy(
            tenant_id=actor.account,
            region=actor.region,
            name=held.name,
            policy_id=policy_id,
            policy_hash=new_policy_hash(policy_id, text),
            policy=text,
            accounts=accounts,
            created=created,
        )
        try:
            await self._store.put_policy(policy, policy_hash)
        except ResourceNotFound:  # deleted meanwhile
            raise ResourceNotFound(_NOT_FOUND) from None
        except (ResourcePolicyConflict, ResourcePolicyNotFound) as exc:
            raise _stale(exc) from None
        return policy

    async def list(self, actor: Actor, resource_arn: str) -> list[ResourcePolicy]:
        _, held = await self._parameter(actor, "ssm:GetResourcePolicies", resource_arn)
        return await self._store.policies(actor.account, actor.region, held.name)

    async def delete(
        self, actor: Actor, resource_arn: str, policy_id: str, policy_hash: str
    ) -> None:
        _, held = await self._parameter(actor, "ssm:DeleteResourcePolicy", resource_arn)
        try:
            await self._store.delete_policy(
                actor.account, actor.region, held.name, policy_id, policy_hash
            )
        except (ResourcePolicyConflict, ResourcePolicyNotFound) as exc:
            raise _stale(exc) from None

    async def _parameter(
        self, actor: Actor, action: str, resource_arn: str
    ) -> tuple[ParameterArn, Parameter]:
        """The caller's own parameter the ARN names, the caller allowed ``action`` on it."""
        target = parse_parameter_arn(resource_arn)
        if target is None:
            # OpsItemGroup's and documents' policies: features not served here.
            raise ResourcePolicyInvalidParameter(
                f"The resource {resource_arn[:2048]} is not a parameter: only parameters' "
                "resource policies are served.",
                ("ResourceArn",),
            )
        if target.account != actor.account:
            # The IAM engine decides (a parameter's policy never allows this action); were it
            # to allow, the policies stay the owner's.
            await actor.authorise(action, target.arn)
            raise NotShared(f"Only the owner of {target.arn[:2048]} manages its policies.")
        await actor.authorise(action, target.arn)
        held = None
        if target.region == actor.region:
            held = await self._store.get(actor.account, actor.region, target.name)
        if held is None:
            raise ResourceNotFound(_NOT_FOUND)
        return target, held


def _stale(exc: ResourcePolicyConflict | ResourcePolicyNotFound) -> Exception:
    if isinstance(exc, ResourcePolicyConflict):
        return ResourcePolicyConflict(
            "The hash provided in the call doesn't match the stored hash: the policy was "
            "changed since it was read. Get the policies again and retry with its current hash."
        )
    return ResourcePolicyNotFound(
        "No policies with the specified policy ID and hash could be found."
    )
