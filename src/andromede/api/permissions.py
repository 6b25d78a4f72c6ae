"""Who of a tenant may call the management API's tenant-facing operations: each is an IAM action
of the ``andromede`` service, on a resource with an ARN of the tenant's account, decided by the
policy engine S3, IAM, KMS and EC2 use (decision 0113).

The tenant's root user is allowed everything in its own account, as the engine decides for it;
an IAM user, a role session or a federated user needs an allow in its identity policies (its
own, its groups', its role's), within its permissions boundary and its session policies, and an
explicit deny wins. The condition keys are the caller's, as everywhere: ``aws:SourceIp``,
``aws:SecureTransport``, ``aws:MultiFactorAuthPresent``, ``aws:CurrentTime``,
``aws:PrincipalTag/<key>``, ``aws:RequestedRegion``…, and on an access request its own
(:func:`operator_access_keys`).

Routes check first that the thing named is the caller's tenant's (404 otherwise, so that a
name's existence does not leak), then ask :class:`Authorizer` (403 ``access-denied``, an
event of the tenant's log with outcome failure). Every ARN carries the caller's own account:
``"Resource": "*"`` can never reach another tenant's trail, requests or usage.

Platform operators never reach the engine: their routes keep the ``operator`` dependency.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from andromede.api.auth import Caller, caller, context
from andromede.api.context import ApiContext
from andromede.api.problems import ApiProblem
from andromede.audit.access import AccessRequest
from andromede.audit.model import Outcome
from andromede.iam.policy import ContextValue, evaluate
from andromede.iam.policy_context import loaded_policies, principal_context, principal_keys

__all__ = [
    "Action",
    "Authorizer",
    "audit_log_arn",
    "authorizer",
    "bucket_arn",
    "operator_access_arn",
    "operator_access_keys",
    "usage_arn",
]


class Action(enum.StrEnum):
    """The management API's IAM actions; ``iam/policy/actions.py`` catalogues the same names,
    so that policies naming them validate (a test keeps the two equal)."""

    GET_AUDIT_CHECKPOINT = "andromede:GetAuditCheckpoint"
    GET_AUDIT_ENTRIES = "andromede:GetAuditEntries"
    GET_AUDIT_PRUNED_HASHES = "andromede:GetAuditPrunedHashes"
    GET_AUDIT_PROOF = "andromede:GetAuditProof"
    LIST_OPERATOR_ACCESS_REQUESTS = "andromede:ListOperatorAccessRequests"
    GET_OPERATOR_ACCESS_REQUEST = "andromede:GetOperatorAccessRequest"
    APPROVE_OPERATOR_ACCESS = "andromede:ApproveOperatorAccess"
    REFUSE_OPERATOR_ACCESS = "andromede:RefuseOperatorAccess"
    REVOKE_OPERATOR_ACCESS = "andromede:RevokeOperatorAccess"
    GET_BUCKET_DATA_EVENTS = "andromede:GetBucketDataEvents"
    PUT_BUCKET_DATA_EVENTS = "andromede:PutBucketDataEvents"
    GET_USAGE_REPORT = "andromede:GetUsageReport"


# The account-wide things have no region in their ARN, as IAM's: a tenant has one trail, one
# set of access requests and one usage report across the deployment's regions.
def audit_log_arn(account: str) -> str:
    return f"arn:aws:andromede::{account}:audit-log"


def operator_access_arn(account: str, access_request: str) -> str:
    """``access_request``: an ``oar-…`` id, or ``*`` for the listing."""
    return f"arn:aws:andromede::{account}:operator-access/{access_request}"


def operator_access_keys(request: AccessRequest) -> dict[str, ContextValue]:
    """The condition keys of an operation on one access request: what it would grant, so that
    a policy can let an officer decide on read-only requests of an hour at most, and leave
    the rest to the root."""
    return {
        "andromede:OperatorAccessMode": request.mode.value,
        "andromede:OperatorAccessDuration": request.duration_seconds,
        "andromede:OperatorName": request.operator_name,
        "andromede:OperatorAccessIncludesKms": request.include_kms,
    }


def usage_arn(account: str) -> str:
    return f"arn:aws:andromede::{account}:usage"


def bucket_arn(bucket: str) -> str:
    """A bucket's data-events setting is the bucket's: its S3 ARN, as in the audit event."""
    return f"arn:aws:s3:::{bucket}"


@dataclass(frozen=True, slots=True)
class Authorizer:
    """The authenticated caller of one request, asking the policy engine."""

    who: Caller
    ctx: ApiContext
    request: Request

    async def __call__(
        self,
        action: Action,
        resource: str,
        *,
        account: str,
        keys: dict[str, ContextValue] | None = None,
    ) -> None:
        """403 ``access-denied`` unless the caller's policies allow ``action`` on
        ``resource`` of the tenant ``account``, the refusal an event of the caller's tenant's
        log. ``keys``: the operation's own condition keys.

        The routes have already answered 404 for another tenant's things; ``account`` makes
        the engine refuse them too (no resource policy of another account allows them), so
        that a route which forgot would still not open another tenant to ``"Resource": "*"``.
        """
        allowed, reason = await self._decide(action, resource, account, keys)
        if allowed:
            return
        principal = self.who.principal
        self.ctx.audit.record(
            request_id=self.ctx.request_id(self.request),
            tenant_id=principal.tenant_id,
            principal=principal.arn,
            action=action.value,
            resource=resource,
            outcome=Outcome.FAILURE,
            details={"error": "access-denied", "reason": reason},
        )
        # AWS's wording; which policy decided stays in the audit event, not the answer.
        raise ApiProblem(
            "access-denied",
            403,
            "Access denied",
            f"User: {principal.arn} is not authorized to perform: {action.value} on "
            f"resource: {resource}",
        )

    async def allows(self, action: Action, resource: str, *, account: str) -> bool:
        """Whether the caller may, asked without refusing: for what an answer merely shows
        or leaves out (whoami's count of pending requests), so nothing is logged."""
        allowed, _ = await self._decide(action, resource, account, None)
        return allowed

    async def _decide(
        self,
        action: Action,
        resource: str,
        account: str,
        keys: dict[str, ContextValue] | None,
    ) -> tuple[bool, str]:
        principal = self.who.principal
        if principal.is_anonymous or principal.is_operator or principal.tenant_id is None:
            return False, "not a tenant's principal"
        policies = await self.ctx.identity.policies_for(principal)
        client = self.request.scope.get("client")
        context = principal_context(
            principal,
            action=action.value,
            resource=resource,
            source_ip=client[0] if client else None,
            secure=self.request.scope.get("scheme") == "https",
            region=self.ctx.settings.region,
            keys={**(keys or {}), **principal_keys(policies)},
        )
        identity, boundary, session = loaded_policies(policies)
        decision = evaluate(
            context,
            identity_policies=identity,
            permissions_boundary=boundary,
            session_policy=session,
            resource_account=account,
        )
        return decision.allowed, decision.reason


async def authorizer(
    request: Request,
    who: Annotated[Caller, Depends(caller)],
    ctx: Annotated[ApiContext, Depends(context)],
) -> Authorizer:
    """The dependency every tenant-facing route authorises through."""
    return Authorizer(who, ctx, request)
