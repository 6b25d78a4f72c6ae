"""Every CloudWatch limit is a setting (decisions 0172, 0177): ``wiring.metrics`` hands each
to the service, which enforces it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from andromede.db.database import open_database
from andromede.metrics.alarms import Alarm
from andromede.metrics.anomaly_model import Detector
from andromede.metrics.errors import (
    InvalidParameterCombination,
    InvalidParameterValue,
    LimitExceeded,
)
from andromede.metrics.service import DataQuery, MetricDatum
from andromede.settings import Settings
from andromede.wiring.metrics import alarm_service, anomaly_service, metrics_service
from support.schema import migrated_sqlite


async def test_the_settings_are_the_services_limits(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        metrics_max_put_metrics=2,
        metrics_max_values=2,
        metrics_max_dimensions=1,
        metrics_max_datapoints=5,
        metrics_max_data_points=1,
        metrics_max_queries=1,
        metrics_list_page=1,
        metrics_max_age=60,
        metrics_max_ahead=0,
    )
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    metrics = metrics_service(settings, db)
    now = datetime.now(UTC)
    try:
        refused = [
            [MetricDatum("M", value=1)] * 3,
            [MetricDatum("M", values=(1.0, 2.0, 3.0))],
            [MetricDatum("M", (("a", "1"), ("b", "2")), value=1)],
            [MetricDatum("M", timestamp=now - timedelta(minutes=5), value=1)],
            [MetricDatum("M", timestamp=now + timedelta(minutes=5), value=1)],
        ]
        for data in refused:
            with pytest.raises(InvalidParameterValue):
                await metrics.put_metric_data("t1", "App", data)
        await metrics.put_metric_data("t1", "App", [MetricDatum("A", value=1)] * 2)
        await metrics.put_metric_data("t1", "App", [MetricDatum("B", value=1)])
        with pytest.raises(InvalidParameterCombination):
            await metrics.get_metric_statistics(
                "t1", "App", "A", [], now - timedelta(minutes=6), now, 60, ["Sum"], [], None
            )
        query = DataQuery("q", "App", "A", (), 60, "Sum")
        with pytest.raises(InvalidParameterValue):
            await metrics.get_metric_data("t1", [query, query], now - timedelta(hours=1), now)
        with pytest.raises(InvalidParameterValue):
            await metrics.get_metric_data(
                "t1", [query], now - timedelta(hours=1), now, max_datapoints=2
            )
        page, token = await metrics.list_metrics("t1", "App", None, [])
        assert len(page) == 1 and token is not None
    finally:
        await db.close()


async def test_the_alarm_settings_are_the_alarm_services_limits(tmp_path: Path) -> None:
    """Decision 0177: the alarms per account, the history's days and the round's batch."""
    settings = Settings(
        data_dir=tmp_path,
        alarm_max_per_account=2,
        alarm_history_days=1,
        alarm_evaluation_batch=1,
    )
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    metrics = metrics_service(settings, db)
    alarms, _ = alarm_service(settings, db, metrics, None, None)
    clock = [datetime(2026, 12, 5, 12, 0, 5, tzinfo=UTC)]
    alarms.clock = lambda: clock[0]
    base = Alarm("t1", "a", "App", "M", (), 60, 1, 1, 1.0, "GreaterThanThreshold", "Sum")
    try:
        await alarms.put_alarm(base)
        await alarms.put_alarm(replace(base, name="b"))
        with pytest.raises(LimitExceeded):
            await alarms.put_alarm(replace(base, name="c"))
        await alarms.put_alarm(replace(base, threshold=2.0))  # a replacement is not a new one
        clock[0] += timedelta(minutes=1)
        assert await alarms.evaluate_due() == 1  # one alarm a round
        assert await alarms.evaluate_due() == 1
        assert await alarms.evaluate_due() == 0
        history, _ = await alarms.history("t1")
        assert len(history) == 3  # the configuration updates (no data: no state change)
        clock[0] += timedelta(days=1)
        assert await alarms.forget_history() == 1  # a batch at a time, older than a day
        assert len((await alarms.history("t1"))[0]) == 2
    finally:
        await db.close()


@pytest.mark.parametrize(
    ("expression", "why"),
    [
        ("a + b + a", "at most 8 characters"),
        ("((a))", "deeper than 1 levels"),
        ("[a, b]", "at most 1 time series"),
    ],
)
async def test_the_metric_math_settings_bound_expressions(
    tmp_path: Path, expression: str, why: str
) -> None:
    """Decision 0183: an expression's length, its nesting and its arrays' series."""
    settings = Settings(
        data_dir=tmp_path,
        metrics_math_max_length=8,
        metrics_math_max_depth=1,
        metrics_math_max_series=1,
    )
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    metrics = metrics_service(settings, db)
    now = datetime.now(UTC)
    queries = [
        DataQuery("a", "App", "A", (), 60, "Sum", return_data=False),
        DataQuery("b", "App", "B", (), 60, "Sum", return_data=False),
        DataQuery("e", "", "", (), 0, "", expression="(a)"),
    ]
    try:
        results, _ = await metrics.get_metric_data("t1", queries, now - timedelta(hours=1), now)
        assert [r.id for r in results] == ["e"]
        queries[2] = DataQuery("e", "", "", (), 0, "", expression=expression)
        with pytest.raises(InvalidParameterValue, match=why):
            await metrics.get_metric_data("t1", queries, now - timedelta(hours=1), now)
    finally:
        await db.close()


async def test_the_anomaly_settings_are_the_services_limits(tmp_path: Path) -> None:
    """Decision 0189: the detectors' bound and page, the model's history and minimum, the
    cache, and the alarms' evaluation range reach the services built by the wiring."""
    settings = Settings(
        data_dir=tmp_path,
        anomaly_max_detectors=1,
        anomaly_list_page=1,
        anomaly_history_days=2,
        anomaly_min_training_points=5,
        anomaly_model_cache_seconds=7,
        anomaly_model_cache_size=3,
        alarm_evaluation_range_extra=4,
    )
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    metrics = metrics_service(settings, db)
    try:
        anomaly = anomaly_service(settings, db, metrics)
        assert metrics.bands is anomaly
        assert (anomaly.limits.history, anomaly.limits.min_points) == (2 * 86400, 5)
        assert (anomaly.limits.cache_seconds, anomaly.limits.cache_size) == (7, 3)
        await anomaly.put(Detector("t1", "App", "A", (), "Sum"))
        with pytest.raises(LimitExceeded):
            await anomaly.put(Detector("t1", "App", "B", (), "Sum"))
        with pytest.raises(InvalidParameterValue):
            await anomaly.describe("t1", max_results=2)
        alarms, _ = alarm_service(settings, db, metrics, None, None)
        assert alarms.limits.range_extra == 4
    finally:
        await db.close()
