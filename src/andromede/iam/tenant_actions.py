"""The management API's and the console's tenant-facing operations as IAM actions of the
``andromede`` service (decision 0113): their names, their resources' ARNs, the condition keys
of a decision on an access request, and the one decision both ask, :func:`decide`.

Both front ends call :func:`decide`, so that a user the tenant allowed by policy (an auditor
with ``andromede:GetAudit*``) is allowed on the API and in the console alike, and refused in
both alike. The console may not import the API (``pyproject.toml``'s layers), and the API and
the console both depend on IAM, hence here.

The tenant's root user is allowed everything in its own account, as the engine decides for it;
an IAM user, a role session or a federated user needs an allow in its identity policies (its
own, its groups', its role's), within its permissions boundary and its session policies, and an
explicit deny wins. The condition keys are the caller's, as everywhere: ``aws:SourceIp``,
``aws:SecureTransport``, ``aws:MultiFactorAuthPresent``, ``aws:CurrentTime``,
``aws:PrincipalTag/<key>``, ``aws:RequestedRegion``…
"""

from __future__ import annotations

import enum
from typing import NamedTuple, Protocol

from andromede.iam.model import Principal
from andromede.iam.policy import ContextValue, evaluate
from andromede.iam.policy_context import loaded_policies, principal_context, principal_keys
from andromede.iam.service import IdentityService

__all__ = [
    "AccessTerms",
    "Action",
    "Decision",
    "audit_log_arn",
    "billing_profile_arn",
    "bucket_arn",
    "credit_note_arn",
    "decide",
    "invoice_arn",
    "operator_access_arn",
    "operator_access_keys",
    "usage_arn",
]


class Action(enum.StrEnum):
    """The tenant-facing IAM actions; ``iam/policy/actions.py`` catalogues the same names,
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
    GET_INVOICE = "andromede:GetInvoice"
    GET_BILLING_PROFILE = "andromede:GetBillingProfile"
    PUT_BILLING_PROFILE = "andromede:PutBillingProfile"


# The account-wide things have no region in their ARN, as IAM's: a tenant has one trail, one
# set of access requests and one usage report across the deployment's regions.
def audit_log_arn(account: str) -> str:
    return f"arn:aws:andromede::{account}:audit-log"


def operator_access_arn(account: str, access_request: str) -> str:
    """``access_request``: an ``oar-…`` id, or ``*`` for the listing."""
    return f"arn:aws:andromede::{account}:operator-access/{access_request}"


def usage_arn(account: str) -> str:
    return f"arn:aws:andromede::{account}:usage"


def invoice_arn(account: str, number: str) -> str:
    """``number``: an invoice's number, or ``*`` for the listing (decision 0123). Its credit
    notes are read under the invoice's ARN (decision 0126)."""
    return f"arn:aws:andromede::{account}:invoice/{number}"


def credit_note_arn(account: str, invoice: str, number: str) -> str:
    """A credit note, named under the invoice it credits: the resource of its issue's audit
    event (decision 0126)."""
    return f"{invoice_arn(account, invoice)}/credit-note/{number}"


def billing_profile_arn(account: str) -> str:
    return f"arn:aws:andromede::{account}:billing-profile"


def bucket_arn(bucket: str) -> str:
    """A bucket's data-events setting is the bucket's: its S3 ARN, as in the audit event."""
    return f"arn:aws:s3:::{bucket}"


class AccessTerms(Protocol):
    """What an operator access request would grant (the audit context's ``AccessRequest``,
    which IAM may not import)."""

    @property
    def mode(self) -> enum.Enum: ...
    @property
    def duration_seconds(self) -> int: ...
    @property
    def operator_name(self) -> str: ...
    @property
    def include_kms(self) -> bool: ...


def operator_access_keys(request: AccessTerms) -> dict[str, ContextValue]:
    """The condition keys of an operation on one access request: what it would grant, so that
    a policy can let an officer decide on read-only requests of an hour at most, and leave
    the rest to the root."""
    return {
        "andromede:OperatorAccessMode": str(request.mode.value),
        "andromede:OperatorAccessDuration": request.duration_seconds,
        "andromede:OperatorName": request.operator_name,
        "andromede:OperatorAccessIncludesKms": request.include_kms,
    }


class Decision(NamedTuple):
    allowed: bool
    reason: str  # the engine's, for the refusal's audit event; never shown to the caller


async def decide(
    identity: IdentityService,
    principal: Principal,
    action: Action,
    resource: str,
    *,
    account: str,
    source_ip: str | None,
    secure: bool,
    region: str,
    keys: dict[str, ContextValue] | None = None,
) -> Decision:
    """Whether ``principal`` may perform ``action`` on ``resource`` of the tenant ``account``.

    ``account`` is the tenant whose thing is named: should a caller forget to check that it is
    the principal's own, the engine's cross-account rule (no resource policy of another account
    allows anyone) still refuses, so ``"Resource": "*"`` never reaches another tenant."""
    if principal.is_anonymous or principal.is_operator or principal.tenant_id is None:
        return Decision(False, "not a tenant's principal")
    policies = await identity.policies_for(principal)
    context = principal_context(
        principal,
        action=action.value,
        resource=resource,
        source_ip=source_ip,
        secure=secure,
        region=region,
        keys={**(keys or {}), **principal_keys(policies)},
    )
    identity_policies, boundary, session = loaded_policies(policies)
    decision = evaluate(
        context,
        identity_policies=identity_policies,
        permissions_boundary=boundary,
        session_policy=session,
        resource_account=account,
    )
    return Decision(decision.allowed, decision.reason)
