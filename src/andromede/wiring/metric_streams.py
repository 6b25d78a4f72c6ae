"""CloudWatch metric streams' wiring (decision 0233): the service over the metadata database
with the settings' limits, the deliverer every ``serve`` runs (each minute sent by the one
gateway that claims it in ``metric_runs``), its writes into Firehose as the streams' roles
(``andromede.metric_stream_delivery``, the Firehose service found in ``apis`` once ``serve``
made it), and what a closed account's streams become (forgotten).

**Metrics, billing, audit.** Each stream's minute is counted into its account's
``AWS/CloudWatch/MetricStreams`` metrics (dimension ``MetricStreamName``): ``MetricUpdate``
(the datapoints put) and ``PublishErrorRate`` (1 for a refused minute), through the platform's
metrics sink; the datapoints put are billed as ``cloudwatch.metric-stream-updates`` (AWS bills
metric streams per 1,000 metric updates). A refused minute is audited
(``cloudwatch:MetricStreamDeliveryFailed``, principal ``streams.metrics.cloudwatch.amazonaws.com``),
beside its WARNING."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Final

from andromede.audit.model import Outcome
from andromede.audit.service import AuditService
from andromede.billing.service import BillingService
from andromede.db.database import Database
from andromede.firehose.model import RecordSink
from andromede.firehoseapi.app import FirehoseApp
from andromede.http.response import Receive, Scope, Send
from andromede.iam.service import IdentityService
from andromede.metric_stream_delivery import STREAMS_PRINCIPAL, RoleStreamDestination
from andromede.metrics.runs_sql import SqlMetricRuns
from andromede.metrics.service import MetricsService
from andromede.metrics.sink import MetricsSink
from andromede.metrics.stream_minutes import MetricStreamDeliverer, StreamPolicy
from andromede.metrics.stream_service import MetricStreamService, StreamLimits
from andromede.metrics.streams import MetricStream
from andromede.metrics.streams_sql import SqlMetricStreamStore
from andromede.settings import Settings

__all__ = [
    "METRIC_STREAM_UPDATES",
    "StreamMetrics",
    "metric_stream_service",
    "metric_streams",
    "stream_policy",
]

log = logging.getLogger(__name__)

NAMESPACE: Final = "AWS/CloudWatch/MetricStreams"
METRIC_STREAM_UPDATES: Final = "cloudwatch.metric-stream-updates"
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class StreamMetrics:
    """``StreamObserver`` over the metrics sink, billing and the audit trail."""

    def __init__(
        self,
        sink: MetricsSink | None,
        billing: BillingService | None,
        audit: AuditService | None,
        region: str,
    ) -> None:
        self._sink = sink
        self._billing = billing
        self._audit = audit
        self._region = region

    def streamed(self, stream: MetricStream, updates: int, error: str | None) -> None:
        if self._sink is not None:
            dims = [("MetricStreamName", stream.name)]
            self._sink.record(stream.tenant_id, NAMESPACE, "MetricUpdate", dims, updates, "Count")
            failed = 0.0 if error is None else 1.0
            self._sink.record(stream.tenant_id, NAMESPACE, "PublishErrorRate", dims, failed)
        if self._billing is not None:
            self._billing.count(stream.tenant_id, self._region, METRIC_STREAM_UPDATES, updates)
        if error is not None and self._audit is not None:
            self._audit.record(
                request_id=uuid.uuid4().hex.upper()[:16],
                tenant_id=stream.tenant_id,
                principal=STREAMS_PRINCIPAL,
                action="cloudwatch:MetricStreamDeliveryFailed",
                resource=f"arn:aws:cloudwatch:{self._region}:{stream.tenant_id}:"
                f"metric-stream/{stream.name}",
                outcome=Outcome.FAILURE,
                details={"destination": stream.firehose_arn, "error": error[:512]},
            )


def _firehose_of(apis: Mapping[str, ASGIApp]) -> Callable[[], RecordSink | None]:
    def found() -> RecordSink | None:
        app = apis.get(FirehoseApp.name)
        return app.service if isinstance(app, FirehoseApp) else None

    return found


async def _deliver_forever(settings: Settings, deliverer: MetricStreamDeliverer) -> None:
    while True:
        await asyncio.sleep(settings.metric_streams_poll_interval)
        try:
            await deliverer.run_once()
        except Exception:  # a failed round must not end the loop; the next one retries
            log.exception("the metric streams' minute was not sent")


def metric_stream_service(settings: Settings, db: Database) -> MetricStreamService:
    """The streams over the metadata database, bounded by the settings."""
    return MetricStreamService(
        SqlMetricStreamStore(db),
        settings.region,
        StreamLimits(
            max_per_account=settings.metric_streams_max_per_account,
            max_filter_names=settings.metric_streams_max_filter_names,
            max_statistics_metrics=settings.metric_streams_max_statistics_metrics,
            list_page=settings.metric_streams_list_page,
        ),
    )


def stream_policy(settings: Settings) -> StreamPolicy:
    return StreamPolicy(
        delay=settings.metric_streams_delay,
        catch_up=settings.metric_streams_catch_up,
        record_bytes=settings.metric_streams_record_bytes,
    )


def metric_streams(
    settings: Settings,
    db: Database,
    metrics: MetricsService,
    identity: IdentityService,
    apis: Mapping[str, ASGIApp],
    sink: MetricsSink | None,
    billing: BillingService | None,
    audit: AuditService | None,
    owner: str,
) -> tuple[MetricStreamService, asyncio.Task[None], Callable[[str], Awaitable[int]]]:
    """The metric streams' service (for CloudWatch's app), its deliverer's task, started, and
    what closing a tenant deletes of it (its streams)."""
    service = metric_stream_service(settings, db)
    store = service.store
    deliverer = MetricStreamDeliverer(
        store,
        metrics.store,
        RoleStreamDestination(identity, _firehose_of(apis), settings.region),
        SqlMetricRuns(db),
        holder=owner,
        region=settings.region,
        policy=stream_policy(settings),
        observer=StreamMetrics(sink, billing, audit, settings.region),
    )
    task = asyncio.create_task(_deliver_forever(settings, deliverer), name="metric-streams")
    return service, task, store.forget_tenant
