"""Grants on customer keys: CreateGrant (through a grant too, never widening it), ListGrants,
ListRetirableGrants, RetireGrant and RevokeGrant. Which grants allow a use is the core's
(``_granting``), since every authorisation asks it.

Mixed into :class:`~andromede.kms.customer_keys.CustomerKeyService`; split off only for size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from andromede.kms.grants import (
    caller_identities,
    check_grant_operations_fit,
    check_grant_principal,
    is_grant_id,
    new_grant_id,
    new_grant_terms,
    principal_account,
)
from andromede.kms.keys_errors import (
    CmkAccessDenied,
    CmkNotFound,
    DryRunSucceeded,
    InvalidGrantId,
    KeyLimitExceeded,
)
from andromede.kms.keys_interface import Caller, Decision, RequestKeys
from andromede.kms.keys_model import (
    CustomerKey,
    Grant,
    GrantConstraints,
    key_arn,
    key_id_of,
    region_of,
)

if TYPE_CHECKING:  # custom_key_stores imports customer_keys' Caller and KeyAuthoriser
    pass

from andromede.kms.customer_keys_core import CustomerKeysCore

__all__ = ["GrantsMixin"]


def _constraint_type(constraints: GrantConstraints) -> dict[str, str]:
    """``kms:GrantConstraintType`` of a new grant, when it has a constraint."""
    if constraints.equals is not None:
        return {"kms:GrantConstraintType": "EncryptionContextEquals"}
    if constraints.subset is not None:
        return {"kms:GrantConstraintType": "EncryptionContextSubset"}
    return {}


class GrantsMixin(CustomerKeysCore):
    """Grants (mixed into CustomerKeyService)."""

    async def create_grant(
        self,
        caller: Caller,
        key_ref: str,
        *,
        grantee: str,
        operations: Sequence[str],
        retiring: str | None = None,
        context_subset: Mapping[str, str] | None = None,
        context_equals: Mapping[str, str] | None = None,
        name: str | None = None,
        dry_run: bool = False,
    ) -> Grant:
        """A grant on the key for ``grantee``. The caller needs ``kms:CreateGrant`` from the
        policies, or a grant with ``CreateGrant`` whose operations and constraints cover the
        new grant's (a grant never widens through another). Named grants are idempotent: the
        same name and terms give back the grant made first. ``dry_run``: every check, then
        ``DryRunSucceeded`` instead of the grant."""
        check_grant_principal("GranteePrincipal", grantee)
        if retiring is not None:
            check_grant_principal("RetiringPrincipal", retiring)
        ops, constraints = new_grant_terms(operations, context_subset, context_equals, name)
        key = await self._resolve(caller, key_ref, None)
        request: RequestKeys = {
            "kms:GranteePrincipal": grantee,
            "kms:GrantOperations": list(ops),
            "kms:GrantIsForAWSResource": False,
            **({"kms:RetiringPrincipal": retiring} if retiring is not None else {}),
            **_constraint_type(constraints),
        }
        decision = await self._authoriser.decide(caller, "kms:CreateGrant", key, {}, request)
        if decision is Decision.DENY:
            parents = await self._granting(caller, key, "kms:CreateGrant", {}, request)
            if any(
                set(ops) <= set(parent.operations)
                and constraints.at_least_as_strict_as(parent.constraints)
                for parent in parents
            ):
                decision = Decision.ALLOW
        if decision is not Decision.ALLOW:
            self._refuse(caller, key, key_ref, "kms:CreateGrant")
        self._not_pending(key)
        # After the authorisation: what the key can do is not told to a caller who may not
        # grant on it.
        check_grant_operations_fit(ops, key.key_spec, key.key_usage)
        if dry_run:
            raise DryRunSucceeded()
        if name is not None:
            for existing in await self._store.list_grants(
                key.record_id, after=None, limit=self._grants_per_key, grantee=grantee
            ):
                if (existing.name, existing.operations, existing.constraints) == (
                    name,
                    ops,
                    constraints,
                ) and existing.retiring == retiring:
                    return existing
        grant = Grant(
            grant_id=new_grant_id(),
            key_id=key.record_id,
            key_tenant=key.tenant_id,
            grantee=grantee,
            operations=ops,
            constraints=constraints,
            issuer=caller.arn,
            created_at=self._clock(),
            name=name,
            retiring=retiring,
        )
        if not await self._store.insert_grant(grant, limit=self._grants_per_key):
            raise KeyLimitExceeded(f"{key.arn} has {self._grants_per_key} grants, the most")
        return grant

    async def list_grants(
        self,
        caller: Caller,
        key_ref: str,
        *,
        limit: int,
        after: str | None,
        grant_id: str | None = None,
        grantee: str | None = None,
    ) -> tuple[CustomerKey, list[Grant], str | None]:
        key = await self._resolve(caller, key_ref, "kms:ListGrants")
        grants = await self._store.list_grants(
            key.record_id, after=after, limit=limit + 1, grant_id=grant_id, grantee=grantee
        )
        more = len(grants) > limit
        grants = grants[:limit]
        return key, grants, grants[-1].grant_id if more else None

    async def list_retirable_grants(
        self, caller: Caller, retiring: str, *, limit: int, after: str | None
    ) -> tuple[list[Grant], str | None]:
        """The grants ``retiring`` may retire; it must be a principal of the caller's account."""
        check_grant_principal("RetiringPrincipal", retiring)
        await self._allow_identity(caller, "kms:ListRetirableGrants")
        if principal_account(retiring) != caller.account_id:
            raise CmkAccessDenied("RetiringPrincipal must be a principal of your account")
        grants = await self._store.list_retirable_grants(retiring, after=after, limit=limit + 1)
        more = len(grants) > limit
        grants = grants[:limit]
        return grants, grants[-1].grant_id if more else None

    async def retire_grant(
        self, caller: Caller, *, grant_id: str, key_ref: str | None = None, dry_run: bool = False
    ) -> Grant:
        """Retire a grant: its retiring principal may, its grantee when the grant allows
        ``RetireGrant``, and the key's own account. No policy decides this, as on AWS."""
        grant = await self._grant(grant_id)
        if key_ref is not None:
            key = await self._resolve(caller, key_ref, None)
            if key.key_id != grant.key_id:
                raise CmkNotFound(f"Grant {grant_id} is not a grant of {key.arn}")
        identities = caller_identities(caller.arn)
        may = (
            grant.retiring in identities
            or (grant.grantee in identities and "RetireGrant" in grant.operations)
            or caller.arn == f"arn:aws:iam::{grant.key_tenant}:root"
        )
        if not may:
            raise CmkAccessDenied(f"User: {caller.arn} may not retire grant {grant_id}")
        if dry_run:
            raise DryRunSucceeded()
        await self._store.delete_grant(grant.grant_id)
        caller.resources.append(self.grant_key_arn(grant))
        return grant

    async def revoke_grant(
        self, caller: Caller, key_ref: str, grant_id: str, *, dry_run: bool = False
    ) -> Grant:
        key = await self._resolve(caller, key_ref, "kms:RevokeGrant")
        grant = await self._grant(grant_id)
        if grant.key_id != key.key_id:
            raise CmkNotFound(f"Grant {grant_id} is not a grant of {key.arn}")
        if dry_run:
            raise DryRunSucceeded()
        await self._store.delete_grant(grant.grant_id)
        return grant

    async def _grant(self, grant_id: str) -> Grant:
        if not is_grant_id(grant_id):
            raise InvalidGrantId(f"{grant_id[:128]!r} is not a grant id")
        grant = await self._store.get_grant(grant_id)
        if grant is None:
            raise CmkNotFound(f"Grant {grant_id} does not exist")
        return grant

    def grant_key_arn(self, grant: Grant) -> str:
        """The ARN of the key a grant is for (ListGrants names keys by ARN)."""
        region = region_of(grant.key_id) or self._region
        return key_arn(region, grant.key_tenant, key_id_of(grant.key_id))
