"""The chain of roles a VPC flow log crosses to deliver into a Firehose stream of another
account (decision 0370), where the compute and identity contexts meet.

As AWS's VPC user guide ("IAM roles for cross account delivery") has it, two roles consent:

- the **source role** (``DeliverLogsPermissionArn``), of the flow log's account, which the log
  delivery service ``delivery.logs.amazonaws.com`` assumes — its trust policy sees the flow log
  as ``aws:SourceArn`` and its account as ``aws:SourceAccount`` (decision 0321) — and whose
  identity policies must allow ``sts:AssumeRole`` on the destination role;
- the **destination role** (``DeliverCrossAccountRole``), of the stream's account, whose trust
  policy must let the source role in (a cross-account AssumeRole: the source's identity allow
  and the destination's trust both, by the same engine as STS's AssumeRole, with the same
  confused-deputy keys), and whose identity policies must allow ``firehose:TagDeliveryStream``
  on the stream — the one Firehose permission AWS's guide gives that role, with which AWS
  enables its log delivery on the stream.

:func:`CrossAccountChain.refusal` says why the chain refuses (None: both consent). The
destination account is told of its role's use as CloudTrail tells a role's account of every
AssumeRole: ``sts:AssumeRole`` on its role by the source role's session, invoked by the log
delivery service, SUCCESS or FAILURE, in its own audit trail.
"""

from __future__ import annotations

import uuid
from typing import Final

from andromede.audit.model import Outcome
from andromede.audit.service import AuditService
from andromede.compute.flow_log import FlowLog
from andromede.iam.errors import IamError
from andromede.iam.model import Principal, Role
from andromede.iam.policy import MalformedPolicy, PolicyKind, load_policy
from andromede.iam.policy_context import policies_allow, principal_context, principal_keys
from andromede.iam.service import IdentityService
from andromede.iam.service_roles import ServiceRoleSessions, TrustSource, role_session

__all__ = ["LOG_DELIVERY_PRINCIPAL", "SESSION_NAME", "CrossAccountChain", "flow_log_arn"]

# The principal AWS's vended logs are delivered by, which assumes the source role.
LOG_DELIVERY_PRINCIPAL: Final = "delivery.logs.amazonaws.com"
SESSION_NAME: Final = "vpc-flow-logs"


def flow_log_arn(region: str, flow_log: FlowLog) -> str:
    """The flow log's ARN: its ``aws:SourceArn`` (AWS's flow logs documentation)."""
    return f"arn:aws:ec2:{region}:{flow_log.tenant_id}:vpc-flow-log/{flow_log.flow_log_id}"


class CrossAccountChain:
    def __init__(
        self, identity: IdentityService, region: str, *, audit: AuditService | None = None
    ) -> None:
        self._identity = identity
        self._roles = ServiceRoleSessions(identity, LOG_DELIVERY_PRINCIPAL, region)
        self._region = region
        self._audit = audit

    async def refusal(self, flow_log: FlowLog) -> str | None:
        """None when the log delivery service may reach the flow log's stream through its two
        roles; otherwise why not (for the logs and the flow log account's audit, never the
        wire)."""
        destination = flow_log.destination
        source = TrustSource.of(flow_log_arn(self._region, flow_log))
        session = await self._roles.session(
            flow_log.tenant_id, destination.role_arn, SESSION_NAME, source
        )
        if session is None:
            return (
                "DeliverLogsPermissionArn is not a role of the account that trusts"
                f" {LOG_DELIVERY_PRINCIPAL}"
            )
        owner = destination.stream_arn.split(":")[4]
        try:
            role = await self._identity.get_role_by_arn(destination.cross_account_role)
        except IamError:
            return "DeliverCrossAccountRole does not exist"
        if role.tenant_id != owner or owner == flow_log.tenant_id:
            return "DeliverCrossAccountRole is not a role of the stream's account"
        if not await self._may_assume(session, role, source):
            self._record(role, session.arn, Outcome.FAILURE, flow_log)
            return "the source role may not assume DeliverCrossAccountRole"
        chained = role_session(role, SESSION_NAME)
        if not await self._roles.allowed(
            chained, "firehose:TagDeliveryStream", destination.stream_arn
        ):
            self._record(role, session.arn, Outcome.FAILURE, flow_log)
            return "DeliverCrossAccountRole may not firehose:TagDeliveryStream the stream"
        self._record(role, session.arn, Outcome.SUCCESS, flow_log)
        return None

    async def _may_assume(self, session: Principal, role: Role, source: TrustSource) -> bool:
        """A cross-account AssumeRole, as STS decides one: the session's identity policies
        (within its boundary) and the role's trust policy, as its account's resource policy,
        must both allow it; the service's confused-deputy keys are given to both."""
        policies = await self._identity.policies_for(session)
        try:
            trust = load_policy(role.assume_role_policy_document, kind=PolicyKind.TRUST)
        except MalformedPolicy:
            return False  # a trust policy the engine cannot read trusts nobody
        context = principal_context(
            session,
            action="sts:AssumeRole",
            resource=role.arn,
            source_ip=None,
            secure=True,
            region=self._region,
            keys={**source.keys(), **principal_keys(policies)},
        )
        return policies_allow(
            context, policies, resource_policy=trust, resource_account=role.tenant_id
        )

    def _record(self, role: Role, by: str, outcome: Outcome, flow_log: FlowLog) -> None:
        if self._audit is None:
            return
        self._audit.record(
            request_id=uuid.uuid4().hex.upper()[:16],
            tenant_id=role.tenant_id,
            principal=by,
            action="sts:AssumeRole",
            resource=role.arn,
            outcome=outcome,
            details={
                "invoked_by": LOG_DELIVERY_PRINCIPAL,
                "sourceAccount": flow_log.tenant_id,
                "flowLogId": flow_log.flow_log_id,
            },
        )
