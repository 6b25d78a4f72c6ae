"""VPC flow logs into Amazon Data Firehose streams (decision 0348), where the compute and
Firehose contexts meet: :class:`FlowLogStreams` is the port
``flow_log_delivery.StreamDelivery`` that the flow-log pass hands a Firehose flow log's
records to.

The records go through Firehose's own put path (its ``RecordSink``, the one CloudWatch Logs
subscriptions and metric streams use), so the stream's buffering, processing, dynamic
partitioning and destination apply to them as to any Direct PUT record; the stream meters
them as it meters every record it takes (``IncomingRecords``/``IncomingBytes``, the account's
``firehose.ingested``).

As on AWS for a stream of the flow log's own account, no role is named: AWS delivers through
its service-linked role ``AWSServiceRoleForLogDelivery``, which the account gets with its
first such flow log; here the platform puts as the log delivery service itself, and only into
a stream of the flow log's own account (the ARN's account is checked again here, whatever
CreateFlowLogs checked). A stream that is gone, not ACTIVE, or takes no Direct PUT gives the
flow log ``DeliverLogsStatus`` FAILED with EC2's ``Access error``; a stream whose buffer is
full, ``Rate limited``. A failed delivery is audited (``firehose:PutRecordBatch`` by
``delivery.logs.amazonaws.com``, FAILURE, with the flow log's id); the successful puts are
data events, not audited, as the Firehose API's PutRecordBatch and the Logs destination's
PutLogEvents are not.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from typing import Final

from andromede.audit.model import Outcome
from andromede.audit.service import AuditService
from andromede.compute.flow_log import FlowLog
from andromede.firehose.errors import FirehoseError, InvalidArgument, StreamNotFound
from andromede.firehose.model import RecordSink

__all__ = ["ACCESS_ERROR", "LOG_DELIVERY_PRINCIPAL", "RATE_LIMITED", "FlowLogStreams"]

ACCESS_ERROR: Final = "Access error"
RATE_LIMITED: Final = "Rate limited"
UNKNOWN_ERROR: Final = "Unknown error"
# The principal AWS's vended logs are put by (the service-linked role's service).
LOG_DELIVERY_PRINCIPAL: Final = "delivery.logs.amazonaws.com"
# Firehose's PutRecordBatch takes at most this many records a call.
_BATCH: Final = 500

_log = logging.getLogger(__name__)


class FlowLogStreams:
    def __init__(
        self,
        sink: Callable[[], RecordSink | None],
        *,
        audit: AuditService | None = None,
    ) -> None:
        # Found when delivering: ``serve`` makes Firehose after the flow logs' wiring.
        self._sink = sink
        self._audit = audit

    async def deliver(self, flow_log: FlowLog, records: Sequence[bytes]) -> str | None:
        """``records`` into the flow log's stream, in batches; None, or EC2's
        ``deliverLogsErrorMessage`` (nothing more is put once a batch fails)."""
        arn = flow_log.destination.stream_arn
        sink = self._sink()
        if sink is None:  # a deployment without Firehose
            return UNKNOWN_ERROR
        parts = arn.split(":")
        if len(parts) != 6 or parts[4] != flow_log.tenant_id:
            why = "the stream is not the flow log's account's"
            return self._failed(flow_log, ACCESS_ERROR, why)
        for first in range(0, len(records), _BATCH):
            batch = records[first : first + _BATCH]
            try:
                results = await sink.put_records(flow_log.tenant_id, arn, batch)
            except (StreamNotFound, InvalidArgument) as exc:
                return self._failed(flow_log, ACCESS_ERROR, f"{type(exc).__name__}: {exc}")
            except FirehoseError as exc:
                return self._failed(flow_log, UNKNOWN_ERROR, f"{type(exc).__name__}: {exc}")
            refused = [r for r in results if r.error_code is not None]
            if refused:
                why = f"{refused[0].error_code}: {refused[0].error_message or ''}"
                return self._failed(flow_log, RATE_LIMITED, why)
        return None

    def _failed(self, flow_log: FlowLog, error: str, why: str) -> str:
        _log.info("flow log %s not delivered to its stream: %s", flow_log.flow_log_id, why[:256])
        if self._audit is not None:
            self._audit.record(
                request_id=uuid.uuid4().hex.upper()[:16],
                tenant_id=flow_log.tenant_id,
                principal=LOG_DELIVERY_PRINCIPAL,
                action="firehose:PutRecordBatch",
                resource=flow_log.destination.stream_arn,
                outcome=Outcome.FAILURE,
                details={"flowLogId": flow_log.flow_log_id, "error": why[:512]},
            )
        return error
