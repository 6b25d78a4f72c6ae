"""Firehose's CloudWatch error logs (decision 0270), where the Firehose and Logs contexts meet:
``firehose.error_logs.ErrorLogs`` over ``role_log_groups``.

As AWS, Firehose writes a destination's error records into the log group and stream its
``CloudWatchLoggingOptions`` name, in the stream's account, as the destination's role: the
role must be the account's and trust ``firehose.amazonaws.com``, and its policies allow
``logs:PutLogEvents`` on the log stream (AWS's documented role policy; a missing group or
stream is made only when the role may ``logs:CreateLogGroup`` / ``logs:CreateLogStream``, as
the console makes them on AWS). A refusal is said at INFO and the delivery goes on: error
logging never holds records back. What is written is metered as vended logs are.
"""

from __future__ import annotations

import logging
from typing import Final

from andromede.firehose.model import DeliveryStream, LoggingOptions
from andromede.firehose_delivery import trust_source
from andromede.role_log_groups import RoleLogGroups

__all__ = ["SESSION_NAME", "RoleErrorLogs"]

log = logging.getLogger(__name__)

SESSION_NAME: Final = "AWSFirehoseToCloudWatchLogs"


class RoleErrorLogs:
    """``firehose.error_logs.ErrorLogs`` written as the destination's role."""

    def __init__(self, groups: RoleLogGroups) -> None:
        self._groups = groups

    async def write(
        self, stream: DeliveryStream, options: LoggingOptions, role_arn: str, record: str,
        when: int,
    ) -> None:  # fmt: skip
        if not options.enabled or not options.group or not options.stream:
            return
        refused = await self._groups.write(
            stream.tenant_id,
            role_arn,
            options.group,
            options.stream,
            (when, record),
            trust_source(stream),
        )
        if refused is not None:
            log.info(
                "Firehose stream %s: its error log %s/%s refused (%s)",
                stream.arn, options.group, options.stream, refused,
            )  # fmt: skip
