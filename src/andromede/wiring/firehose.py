"""Amazon Data Firehose's wiring (decision 0223): the service over the metadata database with
the settings' limits, its records sealed under the accounts' key rings, its writes into the
buckets as the streams' roles (``andromede.firehose_delivery``), its API app, and the
deliverer every ``serve`` runs.

**Metrics and billing.** What a stream takes is counted into its account's ``AWS/Firehose``
metrics (dimension ``DeliveryStreamName``): ``IncomingRecords``, ``IncomingBytes``,
``IncomingPutRequests``; each delivery attempt ``DeliveryToS3.Records``,
``DeliveryToS3.Bytes`` and ``DeliveryToS3.Success`` (1 or 0) — ``DeliveryToHttpEndpoint.*``
for an HTTP endpoint destination (decision 0250), with ``.DataFreshness`` —, each source
record backup attempt ``BackupToS3.Records`` / ``.Bytes`` / ``.Success`` (decision 0376)
and after each pass over its copies ``.DataFreshness``, the oldest copy waiting's age
(decision 0379); every minute while data waits, ``DeliveryToS3.DataFreshness`` (or
``DeliveryToHttpEndpoint.``) and ``BackupToS3.DataFreshness`` (decision 0388), from the one
gateway that claims the minute in ``metric_runs`` (decision 0398); each Lambda
processor's invocation ``ExecuteProcessing.Duration`` / ``.Success`` and its records
``SucceedProcessing.Records`` / ``.Bytes`` (decision 0315) through the platform's metrics
sink. The bytes ingested are billed as AWS bills Direct PUT: each record
rounded up to 5 KiB, into the account's ``firehose.ingested``. Records the deliverer had to
drop are audited (``firehose:DeliveryFailed``), beside its WARNING.

**Kinesis sources** (decision 0235): the reader of ``KinesisStreamAsSource`` streams runs
beside the deliverer, under the same lease length and poll interval, reading the Kinesis of
``serve`` (found in ``apis`` when needed: it is made after Firehose). What it reads is counted
as ``DataReadFromKinesisStream.Records`` / ``.Bytes`` and billed as ingested bytes, as AWS
bills a Kinesis source's (each record rounded up to 5 KiB)."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Final

from andromede.audit.model import Outcome
from andromede.audit.service import AuditService
from andromede.billing.service import BillingService
from andromede.db.database import Database
from andromede.firehose.delivery import DeliveryPolicy, FirehoseDeliverer
from andromede.firehose.error_logs import ErrorLogs
from andromede.firehose.http_sender import HttpEndpointSender, SenderPolicy
from andromede.firehose.jq_runner import QueryPolicy, SubprocessQueryRunner
from andromede.firehose.model import DeliveryStream
from andromede.firehose.service import FirehoseLimits, FirehoseService
from andromede.firehose.source_reader import KinesisSourceReader, ReaderPolicy
from andromede.firehose.store_sql import SqlFirehoseStore
from andromede.firehose.transform_delivery import NoFunctions, TransformStep
from andromede.firehose.transformation import FunctionInvoker
from andromede.firehose_delivery import FIREHOSE_PRINCIPAL, KeyRingRecordSealer, RoleBucketWriter
from andromede.firehose_endpoint_secrets import SecretsManagerEndpointSecrets
from andromede.firehose_error_logs import SESSION_NAME as ERROR_LOG_SESSION
from andromede.firehose_error_logs import RoleErrorLogs
from andromede.firehose_kinesis_source import RoleKinesisSource
from andromede.firehose_transform import RoleFunctionInvoker
from andromede.firehoseapi.app import FirehoseApp
from andromede.http.outbound import networks
from andromede.http.ratelimit import RateLimiter
from andromede.http.response import Receive, Scope, Send
from andromede.iam.service import IdentityService
from andromede.kinesis.service import KinesisService
from andromede.kinesisapi.app import KinesisApp
from andromede.kms.customer_keys import CustomerKeyService
from andromede.kms.service import KeyService
from andromede.logs.service import LogsService
from andromede.logsapi.app import LogsApp
from andromede.metrics.runs_sql import SqlMetricRuns
from andromede.metrics.sink import MetricsSink
from andromede.role_log_groups import RoleLogGroups
from andromede.secretsapi.app import SecretsApp
from andromede.settings import Settings
from andromede.sse_kms_keys import ReplicaKmsKeys
from andromede.storage.replication import ReplicaKeys
from andromede.storage.service import ObjectService
from andromede.wiring.firehose_keys import StreamKmsSealer

__all__ = [
    "FirehoseMetrics",
    "billed_bytes",
    "endpoint_sender",
    "firehose_api",
    "firehose_deliverer",
    "role_error_logs",
    "source_reader",
]

NAMESPACE: Final = "AWS/Firehose"
INGESTED: Final = "firehose.ingested"
_BILLING_UNIT: Final = 5 * 1024  # AWS rounds each Direct PUT record up to 5 KiB
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def billed_bytes(sizes: Sequence[int]) -> int:
    return sum(max(1, -(-size // _BILLING_UNIT)) * _BILLING_UNIT for size in sizes)


class FirehoseMetrics:
    """``FirehoseObserver`` and ``DeliveryObserver`` over the metrics sink and billing."""

    def __init__(
        self, sink: MetricsSink | None, billing: BillingService | None, region: str
    ) -> None:
        self._sink = sink
        self._billing = billing
        self._region = region

    def _record(self, stream: DeliveryStream, name: str, value: float, unit: str) -> None:
        if self._sink is not None:
            dims = [("DeliveryStreamName", stream.name)]
            self._sink.record(stream.tenant_id, NAMESPACE, name, dims, value, unit)

    def incoming(self, stream: DeliveryStream, sizes: Sequence[int]) -> None:
        self._record(stream, "IncomingRecords", float(len(sizes)), "Count")
        self._record(stream, "IncomingBytes", float(sum(sizes)), "Bytes")
        self._record(stream, "IncomingPutRequests", 1.0, "Count")
        if self._billing is not None:
            self._billing.count(stream.tenant_id, self._region, INGESTED, billed_bytes(sizes))

    def read_from_source(self, stream: DeliveryStream, sizes: Sequence[int]) -> None:
        self._record(stream, "DataReadFromKinesisStream.Records", float(len(sizes)), "Count")
        self._record(stream, "DataReadFromKinesisStream.Bytes", float(sum(sizes)), "Bytes")
        if self._billing is not None:
            self._billing.count(stream.tenant_id, self._region, INGESTED, billed_bytes(sizes))

    def delivered(
        self,
        stream: DeliveryStream,
        records: int,
        size: int,
        ok: bool,
        destination: str = "S3",
        freshness_ms: int | None = None,
    ) -> None:
        prefix = f"DeliveryTo{destination}"
        self._record(stream, f"{prefix}.Success", 1.0 if ok else 0.0, "None")
        if ok:
            self._record(stream, f"{prefix}.Records", float(records), "Count")
            self._record(stream, f"{prefix}.Bytes", float(size), "Bytes")
        if freshness_ms is not None:  # AWS: the oldest record's age, in seconds
            self._record(stream, f"{prefix}.DataFreshness", freshness_ms / 1000, "Seconds")

    def partitioned(
        self, stream: DeliveryStream, partitions: int, exceeded: bool, objects: int
    ) -> None:
        """Dynamic partitioning's metrics (decision 0270), as AWS names them."""
        self._record(stream, "PartitionCount", float(partitions), "Count")
        self._record(stream, "PartitionCountExceeded", 1.0 if exceeded else 0.0, "None")
        self._record(stream, "DeliveryToS3.ObjectCount", float(objects), "Count")

    def backed_up(self, stream: DeliveryStream, records: int, size: int, ok: bool) -> None:
        """Source record backup's metrics (decision 0376), as AWS names them: the
        destination's ``DeliveryToS3.*`` shape under ``BackupToS3``."""
        self._record(stream, "BackupToS3.Success", 1.0 if ok else 0.0, "None")
        if ok:
            self._record(stream, "BackupToS3.Records", float(records), "Count")
            self._record(stream, "BackupToS3.Bytes", float(size), "Bytes")

    def backup_freshness(self, stream: DeliveryStream, freshness_ms: int) -> None:
        """AWS's ``BackupToS3.DataFreshness``: the oldest copy not yet backed up's age
        (decision 0379), in seconds."""
        self._record(stream, "BackupToS3.DataFreshness", freshness_ms / 1000, "Seconds")

    def data_freshness(self, stream: DeliveryStream, destination: str, freshness_ms: int) -> None:
        """AWS's ``DeliveryTo<destination>.DataFreshness`` each minute while data waits
        (decision 0388), in seconds."""
        self._record(
            stream, f"DeliveryTo{destination}.DataFreshness", freshness_ms / 1000, "Seconds"
        )

    def processed(
        self,
        stream: DeliveryStream,
        invocations: Sequence[tuple[float, bool]],
        records: int,
        size: int,
    ) -> None:
        """Lambda data transformation's metrics (decision 0315), as AWS names them."""
        for duration_ms, ok in invocations:
            self._record(stream, "ExecuteProcessing.Duration", duration_ms, "Milliseconds")
            self._record(stream, "ExecuteProcessing.Success", 1.0 if ok else 0.0, "None")
        if records:
            self._record(stream, "SucceedProcessing.Records", float(records), "Count")
            self._record(stream, "SucceedProcessing.Bytes", float(size), "Bytes")


def firehose_service(
    settings: Settings,
    db: Database,
    keys: KeyService,
    identity: IdentityService,
    objects: ObjectService,
    kms_keys: ReplicaKeys | None = None,
    metrics: FirehoseMetrics | None = None,
    stream_keys: StreamKmsSealer | None = None,
) -> FirehoseService:
    """``stream_keys``: the streams' customer-managed keys (without: the key ring only, and
    ``CUSTOMER_MANAGED_CMK`` refused)."""
    return FirehoseService(
        SqlFirehoseStore(db),
        stream_keys or KeyRingRecordSealer(keys),
        RoleBucketWriter(identity, objects, settings.region, kms_keys),
        settings.region,
        FirehoseLimits(
            max_streams=settings.firehose_max_delivery_streams,
            max_buffered_bytes=settings.firehose_max_buffered_bytes,
            http_endpoint_allow_http=settings.firehose_http_endpoint_allow_http,
        ),
        metrics,
        stream_keys,
    )


def _owner() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def source_reader(
    settings: Settings,
    firehose: FirehoseService,
    identity: IdentityService,
    kinesis: Callable[[], KinesisService | None],
) -> KinesisSourceReader:
    """The Kinesis sources' reader of one gateway (``firehose.sources`` set to what it reads
    through, for CreateDeliveryStream's checks), under a lease owner name of its own."""
    source = RoleKinesisSource(identity, kinesis, settings.region)
    firehose.sources = source
    policy = ReaderPolicy(
        poll_interval=settings.firehose_delivery_poll_interval,
        lease_ms=settings.firehose_delivery_lease * 1000,
    )
    return KinesisSourceReader(firehose, source, policy, _owner())


def firehose_deliverer(
    settings: Settings,
    firehose: FirehoseService,
    metrics: FirehoseMetrics | None = None,
    audit: AuditService | None = None,
    error_logs: ErrorLogs | None = None,
    invoker: FunctionInvoker | None = None,
    db: Database | None = None,
) -> FirehoseDeliverer:
    """The deliverer of one gateway, under a lease owner name of its own; ``error_logs``:
    where CloudWatchLoggingOptions' records go (decision 0270); ``invoker``: how Lambda
    processors are invoked (decision 0315; None: they are not, their records failed);
    ``db``: where the gateways claim each minute's ``DataFreshness`` round (decision 0398,
    ``metric_runs``; None: this gateway reports every round)."""
    owner = _owner()

    def dropped(stream: DeliveryStream, records: int, why: str) -> None:
        if audit is None:
            return
        audit.record(
            request_id=uuid.uuid4().hex.upper()[:16],
            tenant_id=stream.tenant_id,
            principal=FIREHOSE_PRINCIPAL,
            action="firehose:DeliveryFailed",
            resource=stream.arn,
            outcome=Outcome.FAILURE,
            details={"records": str(records), "error": why[:512]},
        )

    poll = settings.firehose_delivery_poll_interval
    deliverer = FirehoseDeliverer(
        firehose,
        DeliveryPolicy(
            poll_interval=poll,
            lease_ms=settings.firehose_delivery_lease * 1000,
            retry_interval_ms=int(poll * 1000),
            retry_duration_ms=settings.firehose_delivery_retry_duration * 1000,
            max_backoff_ms=settings.firehose_http_endpoint_max_backoff * 1000,
            max_active_partitions=settings.firehose_max_active_partitions,
            max_decompressed_record=settings.firehose_max_decompressed_record,
        ),
        owner,
        metrics,
        dropped,
        endpoint_sender(settings),
        error_logs,
        SubprocessQueryRunner(
            QueryPolicy(
                timeout=settings.firehose_jq_timeout, max_memory=settings.firehose_jq_max_memory
            )
        ),
        rounds=None if db is None else SqlMetricRuns(db),
    )
    deliverer.transform = TransformStep(
        invoker or NoFunctions(), settings.firehose_lambda_max_payload, metrics,
        deliverer.log_transform_error,
    )  # fmt: skip
    return deliverer


def role_error_logs(
    logs: LogsService,
    identity: IdentityService,
    audit: AuditService | None,
    billing: BillingService | None,
    region: str,
) -> RoleErrorLogs:
    """Firehose's error logs written as the destinations' roles (decision 0270), metered as
    vended logs."""
    return RoleErrorLogs(
        RoleLogGroups(
            identity,
            logs,
            service=FIREHOSE_PRINCIPAL,
            session_name=ERROR_LOG_SESSION,
            audit=audit,
            ingested=None
            if billing is None
            else (lambda tenant, size, meter: billing.count(tenant, region, meter, size)),
        )
    )


def endpoint_sender(settings: Settings) -> HttpEndpointSender:
    """How HTTP endpoint destinations are called (decision 0250): the platform's egress
    guard under Firehose's own settings."""
    return HttpEndpointSender(
        SenderPolicy(
            timeout=settings.firehose_http_endpoint_timeout,
            max_response=settings.firehose_http_endpoint_max_response,
            allowed=networks(settings.firehose_http_endpoint_allow_cidrs),
            allow_http=settings.firehose_http_endpoint_allow_http,
        )
    )


def firehose_api(
    apis: MutableMapping[str, ASGIApp],
    settings: Settings,
    db: Database,
    keys: KeyService,
    identity: IdentityService,
    audit: AuditService,
    rate_limiter: RateLimiter | None,
    billing: BillingService | None,
    objects: ObjectService,
    customer_keys: CustomerKeyService,
    sink: MetricsSink | None,
    on_service: Callable[[FirehoseService], None] | None = None,
) -> tuple[asyncio.Task[None], Callable[[str], Awaitable[int]]]:
    """The Firehose API app of ``serve`` put into ``apis`` (under ``firehose``, its SigV4
    service), its deliverer and Kinesis sources' reader, started, and what closing a tenant
    deletes of it (its streams, their buffered records, already unreadable once its key ring
    is destroyed, and their sources' checkpoints).
    ``on_service``: told of the service, for the contexts that put records into it (SNS's
    firehose subscriptions, decision 0226)."""
    metrics = FirehoseMetrics(sink, billing, settings.region)
    kms_keys = ReplicaKmsKeys(customer_keys, audit, billing)  # a stream's or bucket's key
    stream_keys = StreamKmsSealer(
        KeyRingRecordSealer(keys), customer_keys, keys, audit, billing,
        cache_size=settings.queue_kms_data_key_cache_size,
    )  # fmt: skip
    firehose = firehose_service(
        settings, db, keys, identity, objects, kms_keys, metrics, stream_keys
    )
    logs_app = apis.get(LogsApp.name)  # made before Firehose's
    error_logs = (
        role_error_logs(logs_app.service, identity, audit, billing, settings.region)
        if isinstance(logs_app, LogsApp)
        else None
    )
    invoker = RoleFunctionInvoker(identity, lambda: apis.get("lambda"), settings.region)
    deliverer = firehose_deliverer(settings, firehose, metrics, audit, error_logs, invoker, db)

    def kinesis() -> KinesisService | None:
        app = apis.get(KinesisApp.name)
        return app.service if isinstance(app, KinesisApp) else None

    reader = source_reader(settings, firehose, identity, kinesis)
    # HTTP endpoints' keys in Secrets Manager (decision 0250), whose app is made before.
    secrets_app = apis.get(SecretsApp.name)
    if isinstance(secrets_app, SecretsApp):
        firehose.endpoint_secrets = SecretsManagerEndpointSecrets(
            secrets_app.service, identity, settings.region
        )
    if on_service is not None:
        on_service(firehose)
    apis[FirehoseApp.name] = FirehoseApp(firehose, identity, audit, settings, rate_limiter)

    async def run() -> None:
        await asyncio.gather(deliverer.run_forever(), reader.run_forever())

    task = asyncio.create_task(run(), name="firehose-delivery")
    return task, firehose.store.forget_tenant
