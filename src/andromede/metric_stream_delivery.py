"""Where CloudWatch metric streams meet Amazon Data Firehose (decision 0233): the
``metrics.stream_minutes.StreamDestination`` that puts a stream's records into its Firehose
stream as the stream's role, through Firehose's ``RecordSink`` port (decision 0223).

As on AWS, CloudWatch delivers as the role, never as itself: the role must be of the stream's
account and trust ``streams.metrics.cloudwatch.amazonaws.com`` (its trust policy, seeing the
metric stream as ``aws:SourceArn`` and its account as ``aws:SourceAccount``: decision 0321),
and its identity policies — by the same engine as every request — must allow
``firehose:PutRecordBatch`` (or ``firehose:PutRecord``) on the Firehose stream, checked at each
minute. Then the records go into the stream's buffer, sealed there under the account's keys
and delivered by Firehose's deliverer. The Firehose service is found when needed (``serve``
makes it after CloudWatch): none is a refusal like any other."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

from andromede.firehose.errors import FirehoseError
from andromede.firehose.model import RecordSink
from andromede.iam.service import IdentityService
from andromede.iam.service_roles import ServiceRoleSessions, TrustSource
from andromede.metrics.streams import MetricStream, metric_stream_arn

__all__ = ["STREAMS_PRINCIPAL", "RoleStreamDestination"]

STREAMS_PRINCIPAL: Final = "streams.metrics.cloudwatch.amazonaws.com"
_SESSION: Final = "CloudWatchMetricStreams"
_ACTIONS: Final = ("firehose:PutRecordBatch", "firehose:PutRecord")


class RoleStreamDestination:
    def __init__(
        self, identity: IdentityService, sink: Callable[[], RecordSink | None], region: str
    ) -> None:
        self._roles = ServiceRoleSessions(identity, STREAMS_PRINCIPAL, region)
        self._sink = sink
        self._region = region

    async def deliver(self, stream: MetricStream, records: Sequence[bytes]) -> str | None:
        sink = self._sink()
        if sink is None:
            return "Firehose is not served by this deployment"
        source = TrustSource.of(metric_stream_arn(self._region, stream.tenant_id, stream.name))
        session = await self._roles.session(stream.tenant_id, stream.role_arn, _SESSION, source)
        if session is None:
            return f"CloudWatch cannot assume {stream.role_arn[:256]}"
        if not await self._roles.allowed_any(session, _ACTIONS, stream.firehose_arn):
            return "the role may not put records into the Firehose stream"
        try:
            results = await sink.put_records(stream.tenant_id, stream.firehose_arn, records)
        except FirehoseError as exc:
            return f"{type(exc).__name__}: {str(exc)[:256]}"
        failed = [r for r in results if r.error_code is not None]
        if failed:
            return f"{failed[0].error_code}: {(failed[0].error_message or '')[:256]}"
        return None
