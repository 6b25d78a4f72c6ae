"""VPC flow logs into CloudWatch Logs groups (decision 0153's session-48 addendum), where the
compute, identity and logs contexts meet: :class:`FlowLogGroups` is the port
``flow_log_delivery.LogGroupDelivery`` that the flow-log pass hands a CloudWatch Logs flow
log's events to.

As on AWS, the platform delivers as the flow log's role (``DeliverLogsPermissionArn``), never
as itself, through ``role_log_groups`` (shared with SNS's delivery status logs): the role must
be of the flow log's account and trust ``vpc-flow-logs.amazonaws.com``, and may
``logs:PutLogEvents`` (``logs:CreateLogStream``, ``logs:CreateLogGroup`` for what does not
exist yet). A role that does not, or is gone, gives the flow log ``DeliverLogsStatus`` FAILED
with EC2's ``Access error``; the account at its bound of log groups, ``Rate limited``.

One stream per network interface, named by its id; one event a record, timestamped with the
record's start (``compute.flow_log_files.log_events``). Metered and audited as
``role_log_groups`` says.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Final

from andromede.audit.service import AuditService
from andromede.compute.flow_log import FlowLog
from andromede.iam.service import IdentityService
from andromede.iam.service_roles import TrustSource
from andromede.logs.service import LogsService
from andromede.role_log_groups import ACCESS_ERROR, RATE_LIMITED, RoleLogGroups

__all__ = ["ACCESS_ERROR", "RATE_LIMITED", "VPC_FLOW_LOGS_SERVICE", "FlowLogGroups"]

# The principal a flow log's role must trust (AWS's VPC user guide).
VPC_FLOW_LOGS_SERVICE: Final = "vpc-flow-logs.amazonaws.com"


class FlowLogGroups:
    def __init__(
        self,
        identity: IdentityService,
        logs: LogsService,
        *,
        ingested: Callable[[str, int, str], None] | None = None,
        audit: AuditService | None = None,
    ) -> None:
        self._region = logs.region
        self._groups = RoleLogGroups(
            identity,
            logs,
            service=VPC_FLOW_LOGS_SERVICE,
            session_name="vpc-flow-logs",
            ingested=ingested,
            audit=audit,
        )

    async def deliver(
        self, flow_log: FlowLog, streams: Mapping[str, Sequence[tuple[int, str]]]
    ) -> str | None:
        """Each stream's events into the flow log's group as its role; None, or EC2's
        ``deliverLogsErrorMessage`` when the role may not (nothing more is tried then)."""
        # Decision 0321: the flow log as aws:SourceArn, as AWS's flow logs documentation has it.
        arn = f"arn:aws:ec2:{self._region}:{flow_log.tenant_id}:vpc-flow-log/{flow_log.flow_log_id}"
        return await self._groups.deliver(
            flow_log.tenant_id,
            flow_log.destination.role_arn,
            flow_log.destination.log_group,
            streams,
            TrustSource.of(arn),
        )
