"""CloudWatch metrics' wiring (decision 0172): the service over the metadata database with
the settings' limits, its retention roll-up, and the sampling of the platform's own metrics;
(decision 0177) the alarm service, its actions on SNS and Auto Scaling, and its evaluator;
(decision 0185) the dashboards; (decision 0189) the anomaly detectors, the metrics' bands.
Each loop survives a failed round (logged; the next round retries)."""

from __future__ import annotations

import asyncio
import logging

from andromede.alarm_adapters import AlarmActionRunner, TrackingAlarms
from andromede.autoscaling.service import AutoScalingService
from andromede.compute.service import ComputeService
from andromede.db.database import Database
from andromede.iam.errors import NoSuchTenant
from andromede.iam.model import TenantStatus
from andromede.iam.service import IdentityService
from andromede.instance_metrics import InstanceMetrics
from andromede.metrics.alarm_service import AlarmLimits, AlarmService
from andromede.metrics.alarm_store_sql import SqlAlarmStore
from andromede.metrics.anomaly import AnomalyLimits, AnomalyService
from andromede.metrics.anomaly_store_sql import SqlDetectorStore
from andromede.metrics.dashboards import DashboardLimits, DashboardService
from andromede.metrics.dashboards_sql import SqlDashboardStore
from andromede.metrics.runs_sql import SqlMetricRuns
from andromede.metrics.service import MetricLimits, MetricsService
from andromede.metrics.sink import MetricsSink
from andromede.metrics.store_sql import SqlMetricStore
from andromede.notifications.pubsub import PubSubService
from andromede.platform_metrics import PlatformMetrics
from andromede.settings import Settings
from andromede.storage.service import ObjectService
from andromede.storage_metrics import StorageMetrics

__all__ = [
    "alarm_service",
    "alarm_upkeep",
    "anomaly_service",
    "dashboard_service",
    "instance_metrics_upkeep",
    "metrics_rollup",
    "metrics_service",
    "platform_metrics_upkeep",
    "storage_metrics_upkeep",
]

log = logging.getLogger(__name__)


def dashboard_service(settings: Settings, db: Database) -> DashboardService:
    """The dashboards over the metadata database (decision 0185)."""
    return DashboardService(
        SqlDashboardStore(db),
        settings.region,
        DashboardLimits(
            max_per_account=settings.dashboard_max_per_account,
            max_body_size=settings.dashboard_max_body_size,
            max_widgets=settings.dashboard_max_widgets,
            list_page=settings.dashboard_list_page,
        ),
    )


def anomaly_service(settings: Settings, db: Database, metrics: MetricsService) -> AnomalyService:
    """The anomaly detectors over the metadata database, and the metrics service's source of
    ANOMALY_DETECTION_BAND's models (decision 0189)."""
    anomaly = AnomalyService(
        SqlDetectorStore(db),
        metrics,
        limits=AnomalyLimits(
            max_per_account=settings.anomaly_max_detectors,
            history=settings.anomaly_history_days * 86400,
            min_points=settings.anomaly_min_training_points,
            cache_seconds=settings.anomaly_model_cache_seconds,
            cache_size=settings.anomaly_model_cache_size,
            page=settings.anomaly_list_page,
        ),
    )
    metrics.bands = anomaly
    return anomaly


def metrics_service(settings: Settings, db: Database) -> MetricsService:
    return MetricsService(
        SqlMetricStore(db),
        limits=MetricLimits(
            max_metrics=settings.metrics_max_put_metrics,
            max_values=settings.metrics_max_values,
            max_dimensions=settings.metrics_max_dimensions,
            max_datapoints=settings.metrics_max_datapoints,
            max_data_points=settings.metrics_max_data_points,
            max_queries=settings.metrics_max_queries,
            list_page=settings.metrics_list_page,
            max_age=settings.metrics_max_age,
            max_ahead=settings.metrics_max_ahead,
            math_max_length=settings.metrics_math_max_length,
            math_max_depth=settings.metrics_math_max_depth,
            math_max_series=settings.metrics_math_max_series,
        ),
    )


async def metrics_rollup(settings: Settings, metrics: MetricsService) -> None:
    """Every ``metrics_rollup_interval``: old periods merged into coarser ones, as AWS keeps
    them. Every gateway may run it: a period rolled up once is not there to roll again (the
    rows are moved under their locks)."""
    while True:
        await asyncio.sleep(settings.metrics_rollup_interval)
        try:
            await metrics.roll_up(settings.metrics_rollup_batch)
        except Exception:  # a failed round must not end the loop; the next one retries
            log.exception("metrics roll-up failed")


async def platform_metrics_upkeep(settings: Settings, platform: PlatformMetrics) -> None:
    """Every ``metrics_platform_interval``: the platform's gauges sampled, its counts written."""
    while True:
        await asyncio.sleep(settings.metrics_platform_interval)
        try:
            await platform.run_once()
        except Exception:  # a failed round must not end the loop; the next one retries
            log.exception("the platform's metrics were not written")


async def instance_metrics_upkeep(
    settings: Settings, compute: ComputeService, sink: MetricsSink
) -> None:
    """Every ``instance_metrics_interval``: the hosts' measures of their instances gathered
    into the sink (decision 0178). Every gateway may run it: a host hands each measure out
    once, to whichever gateway asks."""
    instances = InstanceMetrics(compute, sink)
    while True:
        await asyncio.sleep(settings.instance_metrics_interval)
        try:
            await instances.run_once()
        except Exception:  # a failed round must not end the loop; the next one retries
            log.exception("the instances' metrics were not gathered")


async def storage_metrics_upkeep(settings: Settings, storage: StorageMetrics) -> None:
    """Every five minutes (or ``s3_storage_metrics_interval``, if shorter): the day's AWS/S3
    storage metrics written if they are due and this gateway claims them (decision 0181)."""
    while True:
        await asyncio.sleep(min(settings.s3_storage_metrics_interval, 300))
        try:
            await storage.run_once()
        except Exception:  # a failed round must not end the loop; the next one retries
            log.exception("the S3 storage metrics were not written")


def alarm_service(
    settings: Settings,
    db: Database,
    metrics: MetricsService,
    pubsub: PubSubService | None,
    scaling: AutoScalingService | None,
    identity: IdentityService | None = None,
) -> tuple[AlarmService, TrackingAlarms]:
    """The alarms over the metadata database, their actions publishing to the account's SNS
    topics and invoking its scaling policies, evaluated for active accounts only (decision
    0177); and the port through which target tracking policies own their alarms."""
    alarms = AlarmService(
        SqlAlarmStore(db),
        metrics,
        settings.region,
        limits=AlarmLimits(
            max_alarms=settings.alarm_max_per_account,
            history_days=settings.alarm_history_days,
            batch=settings.alarm_evaluation_batch,
            range_extra=settings.alarm_evaluation_range_extra,
        ),
    )
    alarms.actions = AlarmActionRunner(pubsub, scaling)
    if identity is not None:

        async def active(tenant_id: str) -> bool:
            try:
                return (await identity.get_tenant(tenant_id)).status is TenantStatus.ACTIVE
            except NoSuchTenant:
                return False

        alarms.active = active
    return alarms, TrackingAlarms(alarms)


async def alarm_upkeep(settings: Settings, alarms: AlarmService) -> None:
    """Every ``alarm_evaluation_interval``: the alarms whose period ended evaluated (each by
    the one gateway that claims it), and the history older than ``alarm_history_days``
    forgotten once a minute or so."""
    rounds = 0
    purge_every = max(1, round(60 / settings.alarm_evaluation_interval))
    while True:
        await asyncio.sleep(settings.alarm_evaluation_interval)
        try:
            await alarms.evaluate_due()
            rounds += 1
            if rounds % purge_every == 0:
                await alarms.forget_history()
        except Exception:  # a failed round must not end the loop; the next one retries
            log.exception("alarm evaluation failed")


def metrics_tasks(
    settings: Settings,
    db: Database,
    metrics: MetricsService,
    sink: MetricsSink,
    platform: PlatformMetrics,
    compute: ComputeService,
    alarms: AlarmService,
    objects: ObjectService,
    owner: str,
) -> list[asyncio.Task[None]]:
    """The metrics' loops of a gateway: the roll-up, the platform's own metrics, the
    instances' AWS/EC2 and AWS/EBS metrics (decision 0178), the alarms' evaluation and the
    buckets' daily AWS/S3 storage metrics, written by one gateway a day (decision 0181)."""
    storage = StorageMetrics(
        objects,
        metrics,
        SqlMetricRuns(db),
        holder=owner,
        hour=settings.s3_storage_metrics_hour,
        interval=settings.s3_storage_metrics_interval,
    )
    return [
        asyncio.create_task(metrics_rollup(settings, metrics), name="metrics-rollup"),
        asyncio.create_task(platform_metrics_upkeep(settings, platform), name="metrics"),
        asyncio.create_task(
            instance_metrics_upkeep(settings, compute, sink), name="instance-metrics"
        ),
        asyncio.create_task(alarm_upkeep(settings, alarms), name="alarms"),
        asyncio.create_task(storage_metrics_upkeep(settings, storage), name="s3-storage-metrics"),
    ]
