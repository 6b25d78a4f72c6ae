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

As AWS's log delivery role puts only into streams tagged ``LogDeliveryEnabled=true`` (its
policy's ``aws:ResourceTag`` condition, decision 0387), so does the platform: CreateFlowLogs
tags a stream of the flow log's account (:meth:`FlowLogStreams.enable_log_delivery`, its
maker allowed ``firehose:TagDeliveryStream``), and a stream without the tag — untagged since,
or made again after the flow log — is ``Access error``, audited, nothing put. Another
account's stream is tagged through its account's role (which the chain has just found allowed
``firehose:TagDeliveryStream`` on it) when a delivery finds it without the tag, and the
tagging audited in that account, as CloudTrail logs TagDeliveryStream by the role's session.

A stream of another account (decision 0370: ``DeliverCrossAccountRole``) is put into only when
``cross_account`` (``flow_log_roles.CrossAccountChain``: the flow log's role and the stream's
account's role, as AWS's guide asks) consents, and then as that account's: the records are its
stream's, metered in its ``firehose.ingested``. A refused chain is ``Access error``, audited in
the flow log's account (and the refused AssumeRole in the stream's). Without a chain in the
wiring, another account's stream is never put into.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from typing import Final, Protocol

from andromede.audit.model import Outcome
from andromede.audit.service import AuditService
from andromede.compute.flow_log import FlowLog
from andromede.firehose.errors import FirehoseError, InvalidArgument, StreamNotFound
from andromede.firehose.model import DeliveryStream, RecordSink
from andromede.flow_log_roles import LOG_DELIVERY_PRINCIPAL, SESSION_NAME, CrossAccountChain

__all__ = [
    "ACCESS_ERROR",
    "LOG_DELIVERY_PRINCIPAL",
    "LOG_DELIVERY_TAG",
    "RATE_LIMITED",
    "FirehoseStreams",
    "FlowLogStreams",
]

# The tag AWS's log delivery role (``AWSServiceRoleForLogDelivery``) may put into a stream by.
LOG_DELIVERY_TAG: Final = ("LogDeliveryEnabled", "true")
ACCESS_ERROR: Final = "Access error"
RATE_LIMITED: Final = "Rate limited"
UNKNOWN_ERROR: Final = "Unknown error"
# Firehose's PutRecordBatch takes at most this many records a call.
_BATCH: Final = 500

_log = logging.getLogger(__name__)


class FirehoseStreams(RecordSink, Protocol):
    """Firehose as the log delivery reaches it: its put path, and a stream's tags."""

    async def get(self, tenant_id: str, name: str) -> DeliveryStream: ...

    async def tag(self, tenant_id: str, name: str, tags: Sequence[tuple[str, str]]) -> None: ...


def _enabled(stream: DeliveryStream) -> bool:
    return LOG_DELIVERY_TAG in stream.tags


class FlowLogStreams:
    def __init__(
        self,
        sink: Callable[[], FirehoseStreams | None],
        *,
        audit: AuditService | None = None,
        cross_account: CrossAccountChain | None = None,
    ) -> None:
        # Found when delivering: ``serve`` makes Firehose after the flow logs' wiring.
        self._sink = sink
        self._audit = audit
        self._cross_account = cross_account

    async def deliver(self, flow_log: FlowLog, records: Sequence[bytes]) -> str | None:
        """``records`` into the flow log's stream, in batches; None, or EC2's
        ``deliverLogsErrorMessage`` (nothing more is put once a batch fails)."""
        arn = flow_log.destination.stream_arn
        sink = self._sink()
        if sink is None:  # a deployment without Firehose
            return UNKNOWN_ERROR
        parts = arn.split(":")
        owner = parts[4] if len(parts) == 6 else ""
        if owner != flow_log.tenant_id:
            # Another account's stream: only through the roles both accounts gave.
            if not flow_log.destination.cross_account or self._cross_account is None:
                why = "the stream is not the flow log's account's"
                return self._failed(flow_log, ACCESS_ERROR, why)
            refused = await self._cross_account.refusal(flow_log)
            if refused is not None:
                return self._failed(flow_log, ACCESS_ERROR, refused)
        try:
            stream = await sink.get(owner, arn.rsplit("/", 1)[-1])
            if not _enabled(stream) and owner != flow_log.tenant_id:
                await self._tag_as_destination_role(sink, stream, flow_log)
            elif not _enabled(stream):
                why = "the stream is not tagged LogDeliveryEnabled=true"
                return self._failed(flow_log, ACCESS_ERROR, why)
        except FirehoseError as exc:
            return self._failed(flow_log, ACCESS_ERROR, f"{type(exc).__name__}: {exc}")
        for first in range(0, len(records), _BATCH):
            batch = records[first : first + _BATCH]
            try:
                results = await sink.put_records(owner, arn, batch)
            except (StreamNotFound, InvalidArgument) as exc:
                return self._failed(flow_log, ACCESS_ERROR, f"{type(exc).__name__}: {exc}")
            except FirehoseError as exc:
                return self._failed(flow_log, UNKNOWN_ERROR, f"{type(exc).__name__}: {exc}")
            failed = [r for r in results if r.error_code is not None]
            if failed:
                why = f"{failed[0].error_code}: {failed[0].error_message or ''}"
                return self._failed(flow_log, RATE_LIMITED, why)
        return None

    async def enable_log_delivery(self, tenant_id: str, stream_arn: str) -> None:
        """What AWS does when a flow log to a stream of its account is made (decision 0387):
        the stream tagged ``LogDeliveryEnabled=true``. A stream that is not there yet (or
        takes no more tags) stays untagged, and its deliveries say ``Access error``, as a
        stream made later without the tag would on AWS."""
        sink = self._sink()
        parts = stream_arn.split(":")
        if sink is None or len(parts) != 6 or parts[4] != tenant_id:
            return
        try:
            await sink.tag(tenant_id, stream_arn.rsplit("/", 1)[-1], [LOG_DELIVERY_TAG])
        except FirehoseError as exc:
            _log.info("stream %s not tagged for log delivery: %s", stream_arn, exc)

    async def _tag_as_destination_role(
        self, sink: FirehoseStreams, stream: DeliveryStream, flow_log: FlowLog
    ) -> None:
        """Another account's stream tagged through its role, which the chain has just found
        allowed ``firehose:TagDeliveryStream`` on it; audited in that account."""
        await sink.tag(stream.tenant_id, stream.name, [LOG_DELIVERY_TAG])
        if self._audit is not None:
            role = flow_log.destination.cross_account_role.rsplit("/", 1)[-1]
            self._audit.record(
                request_id=uuid.uuid4().hex.upper()[:16],
                tenant_id=stream.tenant_id,
                principal=f"arn:aws:sts::{stream.tenant_id}:assumed-role/{role}/{SESSION_NAME}",
                action="firehose:TagDeliveryStream",
                resource=flow_log.destination.stream_arn,
                outcome=Outcome.SUCCESS,
                details={
                    "invoked_by": LOG_DELIVERY_PRINCIPAL,
                    "tags": "=".join(LOG_DELIVERY_TAG),
                    "flowLogId": flow_log.flow_log_id,
                },
            )

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
