"""Object storage's wiring: the regions' blob stores, the storage limits, the services S3's
handlers use (authorisation with operator access checks, replication, notification topics and
their delivery), the audit of lifecycle actions, the S3 Inventory reporter, and the buckets'
CloudWatch request metrics (decision 0187).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from andromede.audit.access_service import OperatorAccessService
from andromede.audit.model import Outcome
from andromede.audit.service import AuditService
from andromede.db.database import Database
from andromede.http.asgi import new_request_id
from andromede.http.outbound import networks
from andromede.iam.model import Principal
from andromede.iam.service import IdentityService
from andromede.inventory_grants import S3_SERVICE, S3InventoryGrants
from andromede.notifications.delivery import DeliveryPolicy
from andromede.notifications.service import TopicService
from andromede.notifications.store import EventQueue, TopicStore
from andromede.replication_grants import S3ReplicationGrants
from andromede.s3.authorise import OperatorAccessCheck, S3Authoriser
from andromede.s3.handlers.common import NotificationFunctions, NotificationQueues, S3Services
from andromede.s3.handlers.encryption import KmsKeyResolver
from andromede.s3.request_metrics import RequestMetricsHook
from andromede.s3_request_metrics import PlatformWriter, S3RequestMetrics
from andromede.settings import Settings
from andromede.storage.access_log_delivery import AccessLogDelivery
from andromede.storage.access_points import AccessPointStore, SqlAccessPointStore
from andromede.storage.batch_jobs import BatchJobStore
from andromede.storage.batch_runner import BatchRunner, TaskEvent
from andromede.storage.blob_local import LocalBlobStore
from andromede.storage.blobs import BlobStore
from andromede.storage.expiration_view import ExpirationView
from andromede.storage.inventory_report import InventoryReport, InventoryReporter
from andromede.storage.lifecycle_runner import LifecycleAction
from andromede.storage.multi_region_access_points import (
    MultiRegionAccessPointStore,
    NearestRegion,
    SqlMultiRegionAccessPointStore,
)
from andromede.storage.regions import RegionalBlobs
from andromede.storage.replication import ReplicaKeys, ReplicationGrants
from andromede.storage.replication_queue import ReplicationQueue
from andromede.storage.replicator import Replicator
from andromede.storage.service import ObjectService, StorageLimits
from andromede.storage.store import MetadataStore
from andromede.wakeup import Doorbell

__all__ = [
    "LIFECYCLE_PRINCIPAL",
    "batch_runner",
    "delivery_policy",
    "inventory_reporter",
    "lifecycle_auditor",
    "open_blob_stores",
    "operator_access_check",
    "replication_grants",
    "replicator_for",
    "request_metrics",
    "s3_services",
    "storage_limits",
    "topic_service",
]


async def open_blob_stores(
    settings: Settings,
) -> tuple[RegionalBlobs, Callable[[], Awaitable[None]] | None]:
    """The blob store of each region this gateway serves, on the backend the settings choose,
    and what closes them (None: nothing to close). No other region's store is opened: its
    folder or pool may not even be reachable (or allowed, by cephx) from this host."""
    served = sorted(settings.served_region_names)
    if settings.blob_backend == "local":
        stores: dict[str, BlobStore] = {}
        for region in served:
            local = LocalBlobStore(settings.region_directory(region), fsync=settings.fsync)
            if settings.blob_directories_at_start:
                await asyncio.to_thread(local.prepare_layout)
            stores[region] = local
        return RegionalBlobs(stores, settings.region), None
    # Imported here: librados is a system package that only RADOS deployments need.
    from andromede.storage.blob_rados import RadosCluster, RadosConfig

    if settings.ceph_conf is None:  # the settings validator already refuses this
        raise ValueError("blob_backend = rados needs ceph_conf")
    cluster = await RadosCluster.connect(
        RadosConfig(
            conf_file=settings.ceph_conf,
            keyring=settings.ceph_keyring,
            user=settings.ceph_user,
            connect_timeout=settings.ceph_connect_timeout,
            op_timeout=settings.ceph_op_timeout,
            reconnect_delay=settings.ceph_reconnect_delay,
            reconnect_delay_max=settings.ceph_reconnect_delay_max,
        )
    )
    try:
        pools = await cluster.blob_stores_by_region(
            {region: settings.region_pool(region) for region in served},
            stripe_size=settings.rados_stripe_size,
        )
    except BaseException:
        await cluster.close()
        raise
    return RegionalBlobs(dict(pools), settings.region), cluster.close


def storage_limits(settings: Settings) -> StorageLimits:
    return StorageLimits(
        max_object_size=settings.max_object_size,
        max_part_size=settings.max_part_size,
        min_part_size=settings.min_part_size,
        max_parts=settings.max_parts,
        max_key_length=settings.max_key_length,
        max_user_metadata_size=settings.max_user_metadata_size,
        read_chunk_size=settings.read_chunk_size,
        deletion_grace=settings.orphan_grace,
        inline_object_max_bytes=settings.inline_object_max_bytes,
        inline_object_regions=settings.inline_region_names,
        opened_headers_memo_size=settings.opened_headers_cache_size,
        notification_queue_per_tenant=settings.notification_queue_per_tenant,
    )


def access_point_stores(db: Database) -> tuple[SqlAccessPointStore, SqlMultiRegionAccessPointStore]:
    """S3's access points (decision 0157) and Multi-Region Access Points (decision 0385),
    which the S3 API and S3 Control share."""
    return SqlAccessPointStore(db), SqlMultiRegionAccessPointStore(db)


def s3_services(
    settings: Settings,
    objects: ObjectService,
    identity: IdentityService,
    kms_keys: KmsKeyResolver | None = None,
    *,
    allowed_regions: Callable[[str], Awaitable[frozenset[str]]] | None = None,
    access_logs: AccessLogDelivery | None = None,
    expirations: ExpirationView | None = None,
    operator_access: OperatorAccessService | None = None,
    replicator: Replicator | None = None,
    replication_grants: ReplicationGrants | None = None,
    topics: TopicService | None = None,
    access_points: AccessPointStore | None = None,
    multi_region_access_points: MultiRegionAccessPointStore | None = None,
    queues: NotificationQueues | None = None,
    request_metrics: RequestMetricsHook | None = None,
    functions: NotificationFunctions | None = None,
    nearest_region: NearestRegion | None = None,
) -> S3Services:
    authoriser = S3Authoriser(
        identity.policies_for,
        settings.region,
        None if operator_access is None else operator_access_check(operator_access),
    )
    return S3Services(
        objects=objects,
        settings=settings,
        authoriser=authoriser,
        kms_keys=kms_keys,
        allowed_regions=allowed_regions,
        access_keys=identity,
        access_logs=access_logs,
        expirations=expirations,
        replicator=replicator,
        replication_grants=replication_grants,
        topics=topics,
        access_points=access_points,
        multi_region_access_points=multi_region_access_points,
        queues=queues,
        request_metrics=request_metrics,
        functions=functions,
        nearest_region=nearest_region,
    )


def operator_access_check(service: OperatorAccessService) -> OperatorAccessCheck:
    """S3's question to the access requests, for an operator's credentials (0107)."""

    async def check(principal: Principal, action: str, bucket: str | None) -> bool:
        if principal.session_name is None or principal.tenant_id is None:
            return False
        return await service.allows(
            principal.session_name,
            tenant_id=principal.tenant_id,
            operator_id=principal.user_id or "",
            action=action,
            bucket=bucket,
        )

    return check


def replication_grants(
    settings: Settings, identity: IdentityService, audit: AuditService | None
) -> S3ReplicationGrants:
    """Who may replicate into another tenant's bucket (decision 0112, increment 4), decided
    by an S3 authoriser of its own: a role's session is no operator, so it needs no
    operator-access check."""
    return S3ReplicationGrants(
        identity, S3Authoriser(identity.policies_for, settings.region), audit
    )


def replicator_for(
    settings: Settings,
    objects: ObjectService,
    queue: ReplicationQueue,
    replica_keys: ReplicaKeys | None = None,
    grants: ReplicationGrants | None = None,
    doorbell: Doorbell | None = None,
) -> Replicator:
    """Bucket replication's queueing and worker (decision 0112), claiming only the tasks
    whose two regions this gateway serves; ``replica_keys`` seal the replicas of versions
    under a KMS key; ``grants`` decide copies into another tenant's bucket."""
    return Replicator(
        objects,
        queue,
        regions=settings.served_region_names,
        interval=settings.replication_interval,
        batch=settings.replication_batch,
        lease=settings.replication_lease,
        max_attempts=settings.replication_max_attempts,
        retry_base=settings.replication_retry_base,
        replica_keys=replica_keys,
        grants=grants,
        idle_poll_max=settings.background_idle_poll_max,
        doorbell=doorbell,
    )


def topic_service(
    settings: Settings, store: TopicStore, queue: EventQueue | None = None
) -> TopicService:
    """The tenants' notification topics (decision 0132), whose ARNs name this region;
    ``queue``: where the test event of each configuration accepted goes (increment 4)."""
    return TopicService(
        store,
        region=settings.region,
        max_topics=settings.max_notification_topics,
        queue=queue,
        queue_bound=settings.notification_queue_per_tenant,
        max_tags=settings.sns_max_tags_per_topic,
    )


def delivery_policy(settings: Settings) -> DeliveryPolicy:
    """How event notifications are pushed (decision 0132), from the settings."""
    return DeliveryPolicy(
        interval=settings.notification_interval,
        batch=settings.notification_batch,
        lease=settings.notification_lease,
        max_attempts=settings.notification_max_attempts,
        retry_base=settings.notification_retry_base,
        timeout=settings.notification_timeout,
        allowed=networks(settings.notification_endpoint_allow_cidrs),
        sweep_interval=settings.sns_pending_sweep_interval,
        idle_poll_max=settings.background_idle_poll_max,
    )


# Who the audit names for lifecycle actions: the platform's service, acting on the bucket
# owner's rule (AWS's is the S3 service principal).
LIFECYCLE_PRINCIPAL = "s3.lifecycle"


def lifecycle_auditor(audit: AuditService) -> Callable[[LifecycleAction], None]:
    """Each lifecycle expiry and abort as an audit event of the bucket owner's account: the
    platform acting on the customer's data, under the customer's rule, is an access like any
    other (decision 0082)."""

    def record(action: LifecycleAction) -> None:
        expired = action.upload_id is None
        audit.record(
            request_id=new_request_id(),
            tenant_id=action.tenant_id,
            principal=LIFECYCLE_PRINCIPAL,
            action="s3:DeleteObject" if expired else "s3:AbortMultipartUpload",
            resource=f"arn:aws:s3:::{action.bucket}/{action.key}",
            outcome=Outcome.SUCCESS,
            details={
                "operation": "LifecycleExpiration" if expired else "LifecycleAbort",
                "rule": action.rule_id or "",
                **({} if expired else {"upload_id": action.upload_id or ""}),
            },
        )

    return record


def inventory_reporter(
    settings: Settings,
    objects: ObjectService,
    store: MetadataStore,
    audit: AuditService,
    kms_keys: ReplicaKeys | None,
) -> InventoryReporter:
    """The S3 Inventory reporter of this gateway (decision 0154): each report made, or refused
    by the destination's policy, is an audit event of the source bucket owner's account, as S3
    writing into a bucket on the customer's configuration is an access like any other."""

    def record(report: InventoryReport) -> None:
        audit.record(
            request_id=new_request_id(),
            tenant_id=report.tenant_id,
            principal=S3_SERVICE,
            action="s3:PutObject",
            resource=f"arn:aws:s3:::{report.destination}/{report.manifest_key}"[:2048],
            outcome=Outcome.SUCCESS if report.delivered else Outcome.FAILURE,
            details={
                "operation": "InventoryReport",
                "source_bucket": report.source,
                "inventory_id": report.config_id,
                "rows": str(report.rows),
                "files": str(report.files),
            },
        )

    return InventoryReporter(
        objects,
        store,
        S3InventoryGrants(),
        interval=settings.inventory_interval,
        file_size=settings.inventory_file_size,
        row_group_rows=settings.inventory_row_group_rows,
        claim_seconds=settings.inventory_claim_seconds,
        on_report=record,
        kms_keys=kms_keys,
        regions=settings.served_region_names,
    )


def batch_runner(
    settings: Settings,
    objects: ObjectService,
    jobs: BatchJobStore,
    audit: AuditService,
    grants: ReplicationGrants,
    queue: ReplicationQueue | None = None,
) -> BatchRunner:
    """The S3 Batch Operations worker of this gateway (decision 0152's addendum): the job's
    role authorised as replication's is (``grants``), each task audited in the job's account
    as the S3 action it performs, by the job's role; Batch Replication queues onto
    replication's ``queue``."""

    def record(event: TaskEvent) -> None:
        failed = event.result.status != "succeeded"
        details = {"operation": "BatchOperations", "job_id": event.job.job_id}
        if failed:
            details["error"] = event.result.error_code or ""
        audit.record(
            request_id=new_request_id(),
            tenant_id=event.job.tenant_id,
            principal=str(event.job.document.get("role_arn") or ""),
            action=event.action,
            resource=f"arn:aws:s3:::{event.line.bucket}/{event.line.key}",
            outcome=Outcome.FAILURE if failed else Outcome.SUCCESS,
            details=details,
        )

    return BatchRunner(
        objects,
        jobs,
        interval=settings.batch_job_interval,
        batch=settings.batch_job_batch_size,
        max_tasks=settings.batch_job_max_tasks,
        lease=settings.batch_job_lease_seconds,
        grants=grants,
        queue=queue,
        on_task=record,
    )


def request_metrics(
    settings: Settings, store: MetadataStore, writer: PlatformWriter
) -> S3RequestMetrics:
    """The S3 request metrics of this gateway (decision 0187), written through ``writer``
    (the metrics service's platform write)."""
    return S3RequestMetrics(
        store,
        writer,
        flush_interval=settings.s3_request_metrics_flush_interval,
        refresh_interval=settings.s3_request_metrics_refresh,
        max_series=settings.s3_request_metrics_max_series,
    )
