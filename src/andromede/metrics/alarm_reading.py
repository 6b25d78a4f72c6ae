"""What an alarm's evaluation reads (decisions 0177, 0183, 0189): its periods over AWS's
evaluation range, an anomaly detection alarm's value and band each period, and whether a
percentile alarm's periods hold enough samples.

- Evaluation range: the evaluator reads ``extra`` periods more than EvaluationPeriods, and
  :func:`~andromede.metrics.alarms.lookback` picks the periods evaluated, as AWS's
  "Configuring how CloudWatch alarms treat missing data" describes it.
- Band alarms: the alarm's Metrics read as GetMetricData reads them; the ThresholdMetricId
  query gives two series (the band's lower and upper edges), the other ReturnData query the
  values compared with them.
- Low sample counts: AWS counts a percentile pNN's period as too small to be significant
  under 10 / (1 - NN/100) samples from p50 up, 10 / (NN/100) below (p99: 1,000 samples);
  EvaluateLowSampleCountPercentile ``ignore`` then keeps the alarm's state.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime

from andromede.metrics.alarms import Alarm
from andromede.metrics.model import Series, percentile_of
from andromede.metrics.service import MetricsService

__all__ = ["band_readings", "read_periods", "too_few_samples"]


async def read_periods(
    metrics: MetricsService, alarm: Alarm, start: int, periods: int
) -> list[float | None]:
    """The alarm's value at each of ``periods`` periods from ``start``, oldest first."""
    if alarm.metrics:
        return await metrics.expression_values(
            alarm.tenant_id, alarm.metrics, start, periods, alarm.period
        )
    return await metrics.period_values(
        Series.of(alarm.tenant_id, alarm.namespace, alarm.metric_name, alarm.dimensions),
        start,
        periods,
        alarm.period,
        alarm.stat,
        alarm.unit,
    )


async def band_readings(
    metrics: MetricsService, alarm: Alarm, start: int, periods: int
) -> tuple[list[float | None], list[tuple[float, float] | None]]:
    """An anomaly detection alarm's value and band at each period, oldest first."""
    period = alarm.period
    results, _ = await metrics.get_metric_data(
        alarm.tenant_id,
        alarm.metrics,
        datetime.fromtimestamp(start, UTC),
        datetime.fromtimestamp(start + periods * period, UTC),
        scan_by="TimestampAscending",
    )
    edges = [r for r in results if r.id == alarm.threshold_metric_id]
    watched = next((r for r in results if r.id != alarm.threshold_metric_id), None)
    held = {} if watched is None else dict(zip(watched.timestamps, watched.values, strict=True))
    lower: dict[int, float] = {}
    upper: dict[int, float] = {}
    if len(edges) == 2:  # [lower, upper], as the band's SeriesArray orders them
        lower = dict(zip(edges[0].timestamps, edges[0].values, strict=True))
        upper = dict(zip(edges[1].timestamps, edges[1].values, strict=True))
    grid = range(start, start + periods * period, period)
    bands: list[tuple[float, float] | None] = [
        (lower[at], upper[at]) if at in lower and at in upper else None for at in grid
    ]
    return [held.get(at) for at in grid], bands


def _samples_needed(extended_statistic: str) -> float:
    percentile = percentile_of(extended_statistic)
    if percentile is None:
        return 0.0
    # In percent, so that p90 needs exactly 100 samples (10 / 0.1 is not exact in binary).
    tail = 100 - percentile if percentile >= 50 else percentile
    # p0 and p100 are the minimum and maximum: one sample gives them.
    return 1000 / tail if tail > 0 else 1.0


async def too_few_samples(
    metrics: MetricsService, alarm: Alarm, start: int, indexes: Sequence[int | None]
) -> bool:
    """Whether a period evaluated (``indexes`` of the periods read from ``start``) has fewer
    samples than the alarm's percentile needs to be significant."""
    if alarm.extended_statistic is None or alarm.metrics:
        return False
    needed = _samples_needed(alarm.extended_statistic)
    read = [i for i in indexes if i is not None]
    if not read:
        return False
    counts = await metrics.period_values(
        Series.of(alarm.tenant_id, alarm.namespace, alarm.metric_name, alarm.dimensions),
        start,
        max(read) + 1,
        alarm.period,
        "SampleCount",
        alarm.unit,
    )
    return any(math.isfinite(needed) and (counts[i] or 0.0) < needed for i in read)
