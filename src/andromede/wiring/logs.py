"""CloudWatch Logs' wiring (decision 0186): the service over the metadata database with the
settings' limits, the sealing of its events under the tenants' keys or the groups' KMS keys,
its API app, and the retention sweep every ``serve`` runs.

**Sealing.** As SQS's messages (decisions 0158, 0165): one data key per PutLogEvents batch,
made under the account's own key ring, or under the group's KMS key's when it has one; each
event sealed with AES-256-GCM under it with its own nonce, its AAD the account, group, stream
and timestamp (``logs.sealing.event_context``). The sealed form names its key ring (and, for
a KMS key, the key's ARN), so an event keeps the key it was sealed under whatever the group
says since. A KMS key is used for the service (``key_for_service_use``, as EBS volumes
use theirs): it must exist in the group's account and be usable; disabling it or scheduling
its deletion stops the group's writes and reads at the next call. Each use of a KMS key (a
data key made for a batch, or opened for a read) is a KMS request the group's account pays
(``kms.requests``) and an audit record (``kms:GenerateDataKey`` / ``kms:Decrypt`` on the key,
``invoked_by`` ``logs.amazonaws.com``), as the key uses SQS makes (decision 0165); a refused
use is audited, never counted.

**Metric filters** (session 48): the service tallies per minute what its groups' filters
match at PutLogEvents; every ``logs_metric_flush_interval`` the tally is written into the
accounts' metrics through :meth:`MetricsService.put_metric_data` (values with their counts,
stamped with the events' minute, as AWS stamps them), beside the retention sweep in the one
upkeep task of :func:`logs_api`.

**Subscription filters** (decision 0225): the Logs API's PutSubscriptionFilter and the
outbox's deliverer in the upkeep task, into the Firehose of ``serve`` (made after Logs, found
in ``apis`` when first needed) as the filters' roles (``log_subscription_delivery``), or into
the Lambda of ``serve`` as ``logs.amazonaws.com`` (decision 0304); a record given up is
audited (``logs:SubscriptionDeliveryFailed``) beside its WARNING.

**Export tasks** (session 49): every ``serve`` runs the export tasks' runner beside them,
claiming the tasks any gateway was asked for and writing them into their buckets through
``log_export_delivery`` (the bucket policy must let ``logs.<region>.amazonaws.com`` in)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import struct
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from andromede.audit.model import Outcome
from andromede.audit.service import AuditService
from andromede.billing.service import BillingService
from andromede.db.database import Database
from andromede.db.doorbells import LOGS_SUBSCRIPTIONS
from andromede.firehose.errors import FirehoseError
from andromede.firehose.service import FirehoseService
from andromede.firehoseapi.app import FirehoseApp
from andromede.flow_log_groups import FlowLogGroups
from andromede.flow_log_roles import CrossAccountChain
from andromede.flow_log_streams import FlowLogStreams
from andromede.function_invocations import lambda_invocations
from andromede.http.ratelimit import RateLimiter
from andromede.http.response import Receive, Scope, Send
from andromede.iam.service import IdentityService
from andromede.kinesisapi.app import KinesisApp
from andromede.kms.customer_keys import CustomerKeyService
from andromede.kms.errors import InvalidWrappedKey, KeyDestroyed, KeyNotFound
from andromede.kms.framing import pack_fields, unpack_fields
from andromede.kms.keys_errors import CustomerKeyError
from andromede.kms.service import KeyService
from andromede.log_export_delivery import BucketExportDestination, FindingsBucketDestination
from andromede.log_subscription_delivery import (
    LOGS_PRINCIPAL,
    LambdaFunctionDestination,
    RoleFirehoseDestination,
    RoleKinesisDestination,
    awslogs_record_bound,
)
from andromede.logs.errors import (
    InvalidOperation,
    InvalidParameter,
    KmsKeyUnusable,
    ResourceNotFound,
)
from andromede.logs.export_tasks import ExportLimits, ExportService
from andromede.logs.exports_sql import SqlExportStore
from andromede.logs.insights import InsightsLimits, InsightsService
from andromede.logs.live_tail import LiveTailLimits, LiveTails
from andromede.logs.metric_filters import MetricSample
from andromede.logs.model import LogGroup
from andromede.logs.queries_sql import SqlQueryStore
from andromede.logs.service import LogsLimits, LogsService
from andromede.logs.store_sql import SqlLogStore
from andromede.logs.subscription_service import SubscriptionLimits, Subscriptions
from andromede.logs.subscriptions import OutboxEntry, is_kinesis, is_lambda
from andromede.logs.subscriptions_sql import SqlSubscriptionStore
from andromede.logsapi.app import LogsApp
from andromede.metrics.errors import MetricsError
from andromede.metrics.service import MetricDatum, MetricsService
from andromede.metrics.sink import MetricsSink
from andromede.notifications.delivery import Deliverer
from andromede.notifications.delivery_status import DeliveryStatusLogger
from andromede.notifications.protected_messages import MetricRecorder
from andromede.notifications.pubsub import PubSubService
from andromede.role_log_groups import RoleLogGroups
from andromede.settings import Settings
from andromede.sse_kms_keys import ReplicaKmsKeys
from andromede.storage.service import ObjectService
from andromede.vended_log_groups import VendedLogGroups

__all__ = [
    "FirehoseOfServe",
    "FlowLogDestinations",
    "LogKeySealer",
    "export_service",
    "flow_log_destinations",
    "flow_log_groups",
    "insights_service",
    "logs_api",
    "logs_metric_flush",
    "logs_retention",
    "logs_service",
    "sns_observers",
    "sns_status_logger",
    "subscriptions",
    "write_metric_samples",
]

log = logging.getLogger(__name__)

_TENANT: Final = b"\x01"
_KMS: Final = b"\x02"
_NONCE: Final = 12
_LOGS_SERVICE: Final = "logs.amazonaws.com"
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class LogKeySealer:
    """``logs.sealing.LogSealer`` over the key service and the customer-managed keys."""

    def __init__(
        self,
        keys: KeyService,
        customer_keys: CustomerKeyService | None,
        audit: AuditService | None = None,
        billing: BillingService | None = None,
        region: str = "",
    ) -> None:
        self._keys = keys
        self._customer_keys = customer_keys
        self._audit = audit
        self._billing = billing
        self._region = region
        self._tenants_with_keys: set[str] = set()

    def _key_used(self, group: LogGroup, action: str, arn: str, error: str | None) -> None:
        if error is None and self._billing is not None:
            self._billing.count(group.tenant_id, self._region, "kms.requests")
        if self._audit is None:
            return
        details = {"via": "logs", "invoked_by": _LOGS_SERVICE, "region": self._region}
        details["log_group"] = group.name[:512]
        if error is not None:
            details["error"] = error
        self._audit.record(
            request_id=uuid.uuid4().hex.upper()[:16],
            tenant_id=group.tenant_id,
            principal=_LOGS_SERVICE,
            action=action,
            resource=arn[:2048],
            outcome=Outcome.FAILURE if error is not None else Outcome.SUCCESS,
            details=details,
        )

    async def _group_ring(self, group: LogGroup, key_arn: str, action: str) -> tuple[str, str]:
        """The key ring of the group's KMS key, its use recorded (a refusal too)."""
        try:
            ring, arn = await self._kms_ring(group.tenant_id, key_arn)
        except KmsKeyUnusable:
            self._key_used(group, action, key_arn, "KmsKeyUnusable")
            raise
        self._key_used(group, action, arn, None)
        return ring, arn

    async def _kms_ring(self, tenant_id: str, key_arn: str) -> tuple[str, str]:
        if self._customer_keys is None:
            raise KmsKeyUnusable("KMS keys are not offered by this deployment.")
        parts = key_arn.split(":")
        if len(parts) < 6 or parts[2] != "kms" or parts[4] != tenant_id:
            raise KmsKeyUnusable(
                f"The specified KMS key {key_arn[:256]!r} does not exist or is not an ARN of "
                "a key of this account."
            )
        try:
            key = await self._customer_keys.key_for_service_use(key_arn, alias_arn=True)
        except CustomerKeyError as exc:
            raise KmsKeyUnusable(
                f"The specified KMS key {key_arn[:256]!r} is not usable: {exc}"
            ) from None
        if key.external:
            raise KmsKeyUnusable(
                f"{key.arn} is in an external key store, which log groups do not use "
                "(decision 0186)."
            )
        return key.key_ring_id, key.arn

    async def check_key(self, tenant_id: str, key_arn: str) -> None:
        await self._kms_ring(tenant_id, key_arn)

    async def seal(self, group: LogGroup, items: Sequence[tuple[bytes, bytes]]) -> list[bytes]:
        if group.kms_key_id is not None:
            ring, arn = await self._group_ring(group, group.kms_key_id, "kms:GenerateDataKey")
            head = _KMS + pack_fields(ring.encode(), arn.encode())
        else:
            ring, head = group.tenant_id, _TENANT

        def work() -> list[bytes]:
            if ring == group.tenant_id and ring not in self._tenants_with_keys:
                self._keys.ensure_tenant_key(ring)  # made on first use, as for objects
                self._tenants_with_keys.add(ring)
            new = self._keys.new_data_key(ring)
            try:
                prefix = head + pack_fields(new.wrapped)
                sealed = []
                for plaintext, context in items:
                    nonce = os.urandom(_NONCE)
                    sealed.append(prefix + nonce + new.cipher.encrypt(nonce, plaintext, context))
                return sealed
            finally:
                new.plaintext[:] = bytes(len(new.plaintext))

        return await asyncio.to_thread(work)

    async def open(self, group: LogGroup, items: Sequence[tuple[bytes, bytes]]) -> list[bytes]:
        rings: dict[bytes, str] = {}
        parsed: list[tuple[str, bytes, bytes, bytes, bytes]] = []
        for sealed, context in items:
            try:
                if sealed[:1] == _KMS:
                    (_ring, arn_raw, wrapped), rest = unpack_fields(sealed[1:], 3)
                    if arn_raw not in rings:
                        used = await self._group_ring(group, arn_raw.decode(), "kms:Decrypt")
                        rings[arn_raw] = used[0]
                    ring = rings[arn_raw]
                elif sealed[:1] == _TENANT:
                    (wrapped,), rest = unpack_fields(sealed[1:], 1)
                    ring = group.tenant_id
                else:
                    raise ValueError("unknown sealed event format")
            except (struct.error, ValueError) as exc:
                raise KmsKeyUnusable("A stored event's sealed form is not readable.") from exc
            parsed.append((ring, wrapped, rest[:_NONCE], rest[_NONCE:], context))

        def work() -> list[bytes]:
            ciphers: dict[tuple[str, bytes], AESGCM] = {}
            opened = []
            for ring, wrapped, nonce, body, context in parsed:
                cipher = ciphers.get((ring, wrapped))
                if cipher is None:
                    cipher = self._keys.data_key_cipher(ring, wrapped)
                    ciphers[(ring, wrapped)] = cipher
                opened.append(cipher.decrypt(nonce, body, context))
            return opened

        try:
            return await asyncio.to_thread(work)
        except (KeyDestroyed, KeyNotFound, InvalidWrappedKey, InvalidTag) as exc:
            raise KmsKeyUnusable(
                f"The log group's events cannot be opened: {type(exc).__name__}"
            ) from None


def logs_service(
    settings: Settings,
    db: Database,
    keys: KeyService,
    customer_keys: CustomerKeyService | None,
    audit: AuditService | None = None,
    billing: BillingService | None = None,
) -> LogsService:
    """The service; closing a tenant deletes its export tasks too (session 49)."""
    service = LogsService(
        SqlLogStore(db),
        LogKeySealer(keys, customer_keys, audit, billing, settings.region),
        settings.region,
        LogsLimits(
            max_groups=settings.logs_max_groups,
            max_events=settings.logs_max_events,
            max_batch_bytes=settings.logs_max_batch_size,
            page=settings.logs_list_page,
            events_page=settings.logs_events_page,
            filter_scan=settings.logs_filter_scan,
            max_response_bytes=settings.logs_max_response_size,
            max_metric_filters=settings.logs_max_metric_filters,
            metric_filter_cache_ms=int(settings.logs_metric_filter_cache * 1000),
            metric_tally_keys=settings.logs_metric_tally_keys,
            max_resource_policies=settings.logs_max_resource_policies,
        ),
    )
    service.forgetters.append(SqlExportStore(db).forget_tenant)
    return service


def export_service(
    settings: Settings,
    db: Database,
    logs: LogsService,
    objects: ObjectService,
    kms_keys: ReplicaKmsKeys | None,
) -> ExportService:
    """Export tasks over their table, writing into buckets as ``logs.<region>.amazonaws.com``
    (``log_export_delivery``) under the bucket policy's say."""
    return ExportService(
        logs,
        SqlExportStore(db),
        BucketExportDestination(objects, settings.region, kms_keys),
        ExportLimits(
            batch=settings.logs_export_batch,
            max_object_size=settings.logs_export_max_object_size,
            lease_ms=int(settings.logs_export_lease * 1000),
        ),
    )


def live_tails(settings: Settings, logs: LogsService) -> LiveTails:
    """The gateway's live tail sessions, bounded per account and in time."""
    return LiveTails(
        logs,
        LiveTailLimits(
            max_sessions=settings.logs_live_tail_max_sessions,
            max_session=settings.logs_live_tail_max_session,
        ),
    )


def insights_service(
    settings: Settings, db: Database, logs: LogsService, billing: BillingService | None
) -> InsightsService:
    """Logs Insights over the queries' table, each query's read bytes in ``logs.scanned``."""

    def scanned(tenant_id: str, size: int) -> None:
        if billing is not None and size:
            billing.count(tenant_id, settings.region, "logs.scanned", size)

    return InsightsService(
        logs,
        SqlQueryStore(db),
        InsightsLimits(
            max_concurrent=settings.logs_query_max_concurrent,
            timeout_ms=int(settings.logs_query_timeout * 1000),
            retention_ms=int(settings.logs_query_retention * 1000),
            max_groups=settings.logs_query_max_groups,
            max_rows=settings.logs_query_max_rows,
            max_patterns=settings.logs_query_max_patterns,
            partial_interval=settings.logs_query_partial_interval,
            max_definitions=settings.logs_max_query_definitions,
        ),
        scanned,
    )


class FirehoseOfServe:
    """The Firehose ``serve`` makes after Logs, found in its ``apis`` when first needed: the
    subscription filters' destination, as the filters' roles, and data protection's findings
    streams (the account's own, as AWS's vended logs); none while it is not there. A filter
    into a Kinesis stream (decision 0235) goes to the Kinesis of ``serve`` the same way, one
    into a Lambda function (decision 0304) to its Lambda."""

    def __init__(self, apis: Mapping[str, ASGIApp], identity: IdentityService, region: str) -> None:
        self._apis = apis
        self._identity = identity
        self._region = region

    async def deliver(
        self,
        tenant_id: str,
        role_arn: str,
        destination_arn: str,
        records: Sequence[bytes],
        partition_key: str = "",
        *,
        source_arn: str = "",
    ) -> str | None:
        if is_lambda(destination_arn):
            function = LambdaFunctionDestination(lambda_invocations(self._apis), self._region)
            return await function.deliver(
                tenant_id, role_arn, destination_arn, records, source_arn=source_arn
            )
        if is_kinesis(destination_arn):
            kinesis = self._apis.get(KinesisApp.name)
            if not isinstance(kinesis, KinesisApp):
                return "Kinesis is not served by this deployment"
            into = RoleKinesisDestination(self._identity, kinesis.service, self._region)
            return await into.deliver(tenant_id, role_arn, destination_arn, records, partition_key)
        app = self._apis.get(FirehoseApp.name)
        if not isinstance(app, FirehoseApp):
            return "Firehose is not served by this deployment"
        destination = RoleFirehoseDestination(self._identity, app.service, self._region)
        return await destination.deliver(tenant_id, role_arn, destination_arn, records)

    def _firehose(self) -> FirehoseService:
        app = self._apis.get(FirehoseApp.name)
        if not isinstance(app, FirehoseApp):
            raise InvalidParameter("Firehose findings destinations are not served here.")
        return app.service

    async def check(self, tenant_id: str, stream: str) -> None:
        try:
            await self._firehose().get(tenant_id, stream)
        except FirehoseError:
            raise ResourceNotFound(
                f"The findings destination Firehose stream {stream[:64]} does not exist."
            ) from None

    async def write(self, tenant_id: str, stream: str, records: Sequence[bytes]) -> None:
        results = await self._firehose().put(tenant_id, stream, records)
        failed = [r for r in results if r.error_code is not None]
        if failed:
            code = failed[0].error_code
            raise InvalidOperation(f"{len(failed)} findings records refused: {code}")


def _destination_type(destination_arn: str) -> str:
    """The ``DestinationType`` dimension of AWS/Logs' forwarding metrics."""
    if is_lambda(destination_arn):
        return "Lambda"
    return "Kinesis" if is_kinesis(destination_arn) else "Firehose"


def subscriptions(
    settings: Settings,
    db: Database,
    logs: LogsService,
    keys: KeyService,
    identity: IdentityService,
    audit: AuditService | None,
    apis: Mapping[str, ASGIApp] | None,
    clock: Callable[[], int] | None = None,
    sink: MetricsSink | None = None,
) -> Subscriptions:
    """The subscription filters over their tables, their records sealed under the accounts'
    key rings, registered with the service (its ingestion, its groups' deletions, a closed
    tenant's filters and records); ``clock`` (ms) a test's. Each delivery attempt is counted
    into the account's ``AWS/Logs`` metrics as AWS counts them (``ForwardedLogEvents``,
    ``ForwardedBytes`` — compressed —, ``DeliveryErrors``; dimensions ``LogGroupName``,
    ``DestinationType``, ``FilterName``) through the platform's sink."""

    def delivered(entry: OutboxEntry, ok: bool) -> None:
        if sink is None:
            return
        dims = [
            ("LogGroupName", entry.group),
            ("DestinationType", _destination_type(entry.destination_arn)),
            ("FilterName", entry.filter_name),
        ]
        if ok:
            sink.record(
                entry.tenant_id, "AWS/Logs", "ForwardedLogEvents", dims, entry.events, "Count"
            )
            sink.record(entry.tenant_id, "AWS/Logs", "ForwardedBytes", dims, entry.size, "Bytes")
        else:
            sink.record(entry.tenant_id, "AWS/Logs", "DeliveryErrors", dims, 1.0, "Count")

    def dropped(entry: OutboxEntry, why: str) -> None:
        if audit is None:
            return
        audit.record(
            request_id=uuid.uuid4().hex.upper()[:16],
            tenant_id=entry.tenant_id,
            principal=LOGS_PRINCIPAL,
            action="logs:SubscriptionDeliveryFailed",
            resource=f"arn:aws:logs:{settings.region}:{entry.tenant_id}:log-group:{entry.group}"[
                :2048
            ],
            outcome=Outcome.FAILURE,
            details={
                "filter": entry.filter_name[:512],
                "destination": entry.destination_arn[:512],
                "error": why[:512],
            },
        )

    poll = settings.logs_subscription_poll_interval
    firehose = None if apis is None else FirehoseOfServe(apis, identity, settings.region)
    logs.protection.streams = firehose  # data protection's Firehose findings destinations
    found = Subscriptions(
        logs,
        SqlSubscriptionStore(db),
        LogKeySealer(keys, None),
        firehose,
        SubscriptionLimits(
            max_filters=settings.logs_max_subscription_filters,
            max_excluded=settings.logs_max_account_subscription_exclusions,
            max_outbox_bytes=settings.logs_subscription_outbox_size,
            cache_ms=int(settings.logs_metric_filter_cache * 1000),
            batch=settings.logs_subscription_batch,
            lease_ms=int(settings.logs_subscription_lease * 1000),
            retry_interval_ms=int(poll * 1000),
            retry_duration_ms=int(settings.logs_subscription_retry_duration * 1000),
            poll_interval=poll,
            idle_poll_max=settings.background_idle_poll_max,
            max_lambda_record=awslogs_record_bound(settings.lambda_max_event_payload_bytes),
        ),
        **({} if clock is None else {"clock": clock}),
        dropped=dropped,
        delivered=delivered,
        doorbell=db.doorbells.of(LOGS_SUBSCRIPTIONS),
    )
    logs.subscribers.append(found)
    logs.forgetters.append(found.forget_tenant)
    return found


def logs_api(
    settings: Settings,
    db: Database,
    keys: KeyService,
    customer_keys: CustomerKeyService | None,
    identity: IdentityService,
    audit: AuditService,
    rate_limiter: RateLimiter | None,
    billing: BillingService | None,
    metrics: MetricsService | None = None,
    objects: ObjectService | None = None,
    kms_keys: ReplicaKmsKeys | None = None,
    apis: Mapping[str, ASGIApp] | None = None,
    sink: MetricsSink | None = None,
) -> tuple[LogsApp, asyncio.Task[None]]:
    """The Logs API app of ``serve`` and its upkeep started: the retention sweep, with
    ``metrics`` the metric filters' writes, with ``objects`` the export tasks' runner, and
    the subscription filters' deliverer, into the Firehose that ``apis`` will hold."""
    logs = logs_service(settings, db, keys, customer_keys, audit, billing)
    subscribed = subscriptions(settings, db, logs, keys, identity, audit, apis, sink=sink)
    insights = insights_service(settings, db, logs, billing)
    exports = None if objects is None else export_service(settings, db, logs, objects, kms_keys)
    if objects is not None:  # data protection's S3 findings destinations (decision 0211)
        logs.protection.buckets = FindingsBucketDestination(objects, settings.region, kms_keys)
    app = LogsApp(
        logs,
        identity,
        audit,
        settings,
        rate_limiter,
        billing=billing,
        insights=insights,
        exports=exports,
        live_tails=live_tails(settings, logs),
        subscriptions=subscribed,
    )
    owner = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"

    async def upkeep() -> None:
        loops = [logs_retention(settings, logs, insights), subscribed.run_forever(owner)]
        if metrics is not None:
            loops.append(logs_metric_flush(settings, logs, metrics))
        if exports is not None:
            loops.append(exports.run_forever(settings.logs_export_interval))
        try:
            await asyncio.gather(*loops)
        finally:  # serve stopping: the queries running here end Failed, not Running
            await insights.close()

    return app, asyncio.create_task(upkeep(), name="logs-upkeep")


# PutMetricData's bounds the written data keeps to: metrics a call, values a metric.
_DATUMS: Final = 1000
_VALUES: Final = 150
# How long a stopping ``serve`` waits for the tally's last write.
_LAST_FLUSH_SECONDS: Final = 5.0


async def write_metric_samples(metrics: MetricsService, samples: Sequence[MetricSample]) -> int:
    """The tallied minutes into their accounts' metrics; how many metric data were written.
    A refused datum (a minute gone past the metrics' age, say) is logged and dropped."""
    calls: dict[tuple[str, str], list[MetricDatum]] = {}
    for sample in samples:
        at = datetime.fromtimestamp(sample.minute, UTC)
        for start in range(0, len(sample.values), _VALUES):
            chunk = sample.values[start : start + _VALUES]
            calls.setdefault((sample.tenant_id, sample.namespace), []).append(
                MetricDatum(
                    sample.name,
                    sample.dimensions,
                    at,
                    values=tuple(v for v, _ in chunk),
                    counts=tuple(c for _, c in chunk),
                    unit=sample.unit,
                )
            )
    written = 0
    for (tenant_id, namespace), data in calls.items():
        for start in range(0, len(data), _DATUMS):
            batch = data[start : start + _DATUMS]
            try:
                await metrics.put_metric_data(tenant_id, namespace, batch)
                written += len(batch)
                continue
            except MetricsError:
                pass
            # One datum refused (a minute past the metrics' 14 days, say) must not cost the
            # others theirs: the chunk again a datum at a time, the refused ones dropped.
            for datum in batch:
                try:
                    await metrics.put_metric_data(tenant_id, namespace, [datum])
                    written += 1
                except MetricsError:
                    log.warning("a metric filter value of %s refused by the metrics", tenant_id)
    return written


async def logs_metric_flush(settings: Settings, logs: LogsService, metrics: MetricsService) -> None:
    """Every ``logs_metric_flush_interval``: the metric filters' tally written; once more when
    ``serve`` stops (the task cancelled), so a gateway shut down in order loses nothing."""
    try:
        while True:
            await asyncio.sleep(settings.logs_metric_flush_interval)
            try:
                await _flush_tally(logs, metrics)
            except Exception:  # a failed round must not end the loop
                log.exception("writing the metric filters' values failed")
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(_flush_tally(logs, metrics), _LAST_FLUSH_SECONDS)
        raise


async def _flush_tally(logs: LogsService, metrics: MetricsService) -> None:
    if logs.tally.dropped:
        log.warning("%d metric filter values dropped: the tally was full", logs.tally.dropped)
        logs.tally.dropped = 0
    await write_metric_samples(metrics, logs.drain_metrics())


def flow_log_groups(
    settings: Settings,
    identity: IdentityService,
    logs: LogsService,
    billing: BillingService | None,
    audit: AuditService | None,
) -> FlowLogGroups:
    """The VPC flow logs' CloudWatch Logs destination (decision 0153's session-48 addendum):
    what it delivers counted in the group's account's ``logs.ingested``, as vended logs."""
    return FlowLogGroups(identity, logs, ingested=_ingested(settings, billing), audit=audit)


@dataclass(frozen=True, slots=True)
class FlowLogDestinations:
    """The VPC flow logs' destinations beyond S3: CloudWatch Logs groups and (decision 0348)
    Firehose streams."""

    groups: FlowLogGroups
    streams: FlowLogStreams


def flow_log_destinations(
    settings: Settings,
    identity: IdentityService,
    logs: LogsService,
    billing: BillingService | None,
    audit: AuditService | None,
    apis: Mapping[str, ASGIApp],
) -> FlowLogDestinations:
    """The flow logs' log groups (:func:`flow_log_groups`) and Firehose streams: the Firehose
    ``serve`` makes after this, found in ``apis`` when delivering (decision 0348)."""

    def firehose() -> FirehoseService | None:
        app = apis.get(FirehoseApp.name)
        return app.service if isinstance(app, FirehoseApp) else None

    return FlowLogDestinations(
        flow_log_groups(settings, identity, logs, billing, audit),
        FlowLogStreams(
            firehose,
            audit=audit,
            cross_account=CrossAccountChain(identity, settings.region, audit=audit),
        ),
    )


def sns_status_logger(
    settings: Settings,
    identity: IdentityService,
    logs: LogsService,
    billing: BillingService | None,
    audit: AuditService | None,
) -> DeliveryStatusLogger:
    """SNS's delivery status logs (decision 0212): written as the topic's feedback role, which
    must trust ``sns.amazonaws.com``; counted in ``logs.ingested`` as vended logs."""
    groups = RoleLogGroups(
        identity,
        logs,
        service="sns.amazonaws.com",
        session_name="sns-delivery-status",
        ingested=_ingested(settings, billing),
        audit=audit,
    )
    return DeliveryStatusLogger(groups)


def sns_observers(
    pubsub: PubSubService,
    deliverer: Deliverer,
    settings: Settings,
    logs: LogsService,
    billing: BillingService | None,
    metrics: MetricRecorder,
) -> None:
    """SNS message data protection's audit (decision 0215): its reports as vended logs into
    the topic owner's ``/aws/vendedlogs/`` group, counted in ``logs.ingested``; its
    ``AWS/SNS`` metrics, and the topics' own (decision 0221: published, filtered out,
    delivered, failed, redriven), into the platform's buffered sink."""
    pubsub.guard.findings = VendedLogGroups(logs, ingested=_ingested(settings, billing))
    pubsub.guard.metrics = metrics
    pubsub.metrics.recorder = metrics
    deliverer.topic_metrics = pubsub.metrics


def _ingested(
    settings: Settings, billing: BillingService | None
) -> Callable[[str, int, str], None]:
    """Vended logs' bytes into the meter of their group's class (decisions 0186, 0222)."""

    def ingested(tenant_id: str, size: int, meter: str) -> None:
        if billing is not None:
            billing.count(tenant_id, settings.region, meter, size)

    return ingested


async def logs_retention(
    settings: Settings, logs: LogsService, insights: InsightsService | None = None
) -> None:
    """Every ``logs_retention_interval``: events past their group's retention deleted, a
    batch at a time until none is left, and Logs Insights queries past
    ``logs_query_retention``. Every gateway may run it: the rows are deleted under
    their locks (SKIP LOCKED on PostgreSQL), so none is deleted twice."""
    while True:
        await asyncio.sleep(settings.logs_retention_interval)
        try:
            while await logs.expire(settings.logs_retention_batch) >= settings.logs_retention_batch:
                await asyncio.sleep(0)
            if insights is not None:
                await insights.expire()
        except Exception:  # a failed round must not end the loop; the next one retries
            log.exception("the log retention sweep failed")
