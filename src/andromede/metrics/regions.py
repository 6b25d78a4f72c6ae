"""Whose series a Region's metrics are (decision 0360): the one metrics store keeps each
series under its owner, and a deployment declaring several Regions keeps another Region's
apart from the default Region's under an owner of its own, ``<account>~<region>`` — ``~`` is
in no account id, so no account reads them by its own — as EventBridge keeps another Region's
buses apart (decision 0349). No column, no migration: the default Region's series are the
account's, as before.

Only the metric data (PutMetricData, GetMetricData, GetMetricStatistics, ListMetrics) has a
Region here; alarms, dashboards, anomaly detectors, metric streams and Contributor Insights
stay the default Region's, over its series only."""

from __future__ import annotations

__all__ = ["series_owner"]


def series_owner(tenant_id: str, region: str, home: str) -> str:
    """Who the series of ``tenant_id`` in ``region`` belong to, ``home`` the default Region."""
    return tenant_id if region == home else f"{tenant_id}~{region}"
