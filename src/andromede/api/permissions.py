"""Who of a tenant may call the management API's tenant-facing operations: each is an IAM action
of the ``andromede`` service, on a resource with an ARN of the tenant's account, decided by the
policy engine S3, IAM, KMS and EC2 use (decision 0113). The actions, ARNs and the decision are
``iam/tenant_actions.py``'s, shared with the console; this module binds them to a request.

Routes check first that the thing named is the caller's tenant's (404 otherwise, so that a
name's existence does not leak), then ask :class:`Authorizer` (403 ``access-denied``, an
event of the tenant's log with outcome failure). Every ARN carries the caller's own account:
``"Resource": "*"`` can never reach another tenant's trail, requests or usage.

Platform operators never reach the engine: their routes keep the ``operator`` dependency.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from andromede.api.auth import Caller, caller, context
from andromede.api.context import ApiContext
from andromede.api.problems import ApiProblem
from andromede.audit.model import Outcome
from andromede.iam.policy import ContextValue
from andromede.iam.tenant_actions import (
    Action,
    Decision,
    audit_log_arn,
    billing_profile_arn,
    bucket_arn,
    credit_note_arn,
    decide,
    invoice_arn,
    operator_access_arn,
    operator_access_keys,
    usage_arn,
)

__all__ = [
    "Action",
    "Authorizer",
    "audit_log_arn",
    "authorizer",
    "billing_profile_arn",
    "bucket_arn",
    "credit_note_arn",
    "invoice_arn",
    "operator_access_arn",
    "operator_access_keys",
    "usage_arn",
]


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
    ) -> Decision:
        client = self.request.scope.get("client")
        return await decide(
            self.ctx.identity,
            self.who.principal,
            action,
            resource,
            account=account,
            source_ip=client[0] if client else None,
            secure=self.request.scope.get("scheme") == "https",
            region=self.ctx.settings.region,
            keys=keys,
        )


async def authorizer(
    request: Request,
    who: Annotated[Caller, Depends(caller)],
    ctx: Annotated[ApiContext, Depends(context)],
) -> Authorizer:
    """The dependency every tenant-facing route authorises through."""
    return Authorizer(who, ctx, request)
