"""Predictive scaling's load forecasts (decision 0197): the
:class:`~andromede.autoscaling.forecast.LoadForecaster` of the platform, reading a group's
load history from CloudWatch metrics and forecasting it with the anomaly detection model's
buckets (decision 0189). An adapter between the Auto Scaling and metrics contexts, which do
not import each other.

A load's hourly value:

- a predefined ``ASGTotal…`` load (CPUUtilization, NetworkIn, NetworkOut of the group's
  instances, published per ``AutoScalingGroupName`` by decision 0178): the hour's Sum of the
  group's samples times ``instance_metrics_interval`` / 3600 — one sample per instance per
  interval, this is the mean over the hour of the group's total at each sample, in the unit
  of the scaling metric's ``Average`` times the instances (so that the load over the target
  per instance is a number of instances);
- custom MetricDataQueries: the ReturnData query's value over the hour (AWS sums the hour's
  datapoints: its ``Stat`` should be ``Sum``, and the target is then per instance per hour).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Final

from andromede.autoscaling.forecast import LoadForecast, LoadMetric, hour_of
from andromede.errors import AndromedeError
from andromede.metrics.anomaly_model import hourly_forecast
from andromede.metrics.model import Series
from andromede.metrics.service import DataQuery, MetricsService

__all__ = ["MetricForecaster", "data_queries"]

log = logging.getLogger(__name__)

_HOUR: Final = 3600
_TOTALS: Final = {
    "ASGTotalCPUUtilization": "CPUUtilization",
    "ASGTotalNetworkIn": "NetworkIn",
    "ASGTotalNetworkOut": "NetworkOut",
}


def data_queries(queries: tuple[dict[str, Any], ...]) -> list[DataQuery]:
    """A policy's MetricDataQueries (AWS's shape) as the metrics context's, hourly."""
    made = []
    for query in queries:
        returned = bool(query.get("ReturnData", True))
        if "Expression" in query:
            made.append(
                DataQuery(
                    str(query["Id"]),
                    "",
                    "",
                    (),
                    0,
                    "",
                    label=query.get("Label"),
                    return_data=returned,
                    expression=str(query["Expression"]),
                )
            )
            continue
        stat = query["MetricStat"]
        metric = stat["Metric"]
        made.append(
            DataQuery(
                str(query["Id"]),
                str(metric["Namespace"]),
                str(metric["MetricName"]),
                tuple(sorted((d["Name"], d["Value"]) for d in metric.get("Dimensions", []))),
                _HOUR,
                str(stat["Stat"]),
                unit=stat.get("Unit"),
                label=query.get("Label"),
                return_data=returned,
            )
        )
    return made


class MetricForecaster:
    """Forecasts from the last ``history_days`` of hourly load, ``hours`` ahead."""

    def __init__(
        self,
        metrics: MetricsService,
        *,
        sample_interval: float,
        history_days: int = 14,
        minimum_hours: int = 24,
        hours: int = 48,
    ) -> None:
        self._metrics = metrics
        self._interval = sample_interval
        self._days = history_days
        self._minimum = minimum_hours
        self._hours = hours

    async def forecast(
        self, tenant_id: str, group_name: str, load: LoadMetric, now: datetime
    ) -> LoadForecast | None:
        first = hour_of(now)
        end = int(first.timestamp())
        periods = self._days * 24
        start = end - periods * _HOUR
        try:
            values = await self._history(tenant_id, group_name, load, start, periods)
        except AndromedeError:
            # A custom query the metrics context refuses (an expression it cannot compute):
            # no forecast rather than a failed reconciler round; the put checked the shape.
            log.info("no load history for %s/%s", tenant_id, group_name, exc_info=True)
            return None
        history = [(start + i * _HOUR, v) for i, v in enumerate(values) if v is not None]
        forecast = hourly_forecast(history, end, self._hours, minimum=self._minimum)
        if forecast is None:
            return None
        return LoadForecast(first, tuple(forecast))

    async def _history(
        self, tenant_id: str, group_name: str, load: LoadMetric, start: int, periods: int
    ) -> list[float | None]:
        if load.predefined is not None:
            series = Series.of(
                tenant_id,
                "AWS/EC2",
                _TOTALS[load.predefined],
                (("AutoScalingGroupName", group_name),),
            )
            sums = await self._metrics.period_values(series, start, periods, _HOUR, "Sum", None)
            scale = self._interval / _HOUR
            return [None if s is None else s * scale for s in sums]
        return await self._metrics.expression_values(
            tenant_id, data_queries(load.queries), start, periods, _HOUR
        )
