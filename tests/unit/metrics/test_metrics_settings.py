"""Every CloudWatch limit is a setting (decision 0172): ``wiring.metrics`` hands each to the
service, which enforces it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from andromede.db.database import open_database
from andromede.metrics.errors import InvalidParameterCombination, InvalidParameterValue
from andromede.metrics.service import DataQuery, MetricDatum
from andromede.settings import Settings
from andromede.wiring.metrics import metrics_service
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
