"""What each CloudWatch operation is handed (decisions 0172, 0177, 0185, 0189, 0233, 0272):
the caller's account, its typed input document, and the services it acts through."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from andromede.metrics.alarm_service import AlarmService
from andromede.metrics.anomaly import AnomalyService
from andromede.metrics.dashboards import DashboardService
from andromede.metrics.insight_service import InsightRuleService
from andromede.metrics.service import MetricsService
from andromede.metrics.stream_service import MetricStreamService

__all__ = ["MetricsCall"]


@dataclass(frozen=True, slots=True)
class MetricsCall:
    tenant_id: str
    params: Mapping[str, Any]
    metrics: MetricsService
    # None where alarms are not wired (their calls then answer NotImplemented).
    alarms: AlarmService | None = None
    # None where dashboards are not wired (decision 0185).
    dashboards: DashboardService | None = None
    # None where anomaly detectors are not wired (decision 0189).
    anomaly: AnomalyService | None = None
    # None where metric streams are not wired (decision 0233).
    streams: MetricStreamService | None = None
    # None where Contributor Insights is not wired (decision 0272).
    insights: InsightRuleService | None = None
