"""CloudWatch metrics' wiring (decision 0172): the service over the metadata database with
the settings' limits, its retention roll-up, and the sampling of the platform's own metrics.
Each loop survives a failed round (logged; the next round retries)."""

from __future__ import annotations

import asyncio
import logging

from andromede.compute.service import ComputeService
from andromede.db.database import Database
from andromede.instance_metrics import InstanceMetrics
from andromede.metrics.service import MetricLimits, MetricsService
from andromede.metrics.sink import MetricsSink
from andromede.metrics.store_sql import SqlMetricStore
from andromede.platform_metrics import PlatformMetrics
from andromede.settings import Settings

__all__ = [
    "instance_metrics_upkeep",
    "metrics_rollup",
    "metrics_service",
    "platform_metrics_upkeep",
]

log = logging.getLogger(__name__)


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
