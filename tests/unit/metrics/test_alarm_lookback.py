"""Decision 0189's alarm evaluation: AWS's evaluation range (more periods read than
EvaluationPeriods when data is missing, real datapoints preferred to TreatMissingData),
anomaly detection alarms against their band, and EvaluateLowSampleCountPercentile
``ignore`` keeping the state of a percentile alarm with too few samples."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest

from andromede.metrics.alarm_service import AlarmLimits, AlarmService, alarm_message
from andromede.metrics.alarm_store import MemoryAlarmStore
from andromede.metrics.alarms import Alarm, AlarmState, check_alarm, evaluate, lookback
from andromede.metrics.anomaly import AnomalyService
from andromede.metrics.anomaly_store import MemoryDetectorStore
from andromede.metrics.errors import InvalidParameterValue, MissingParameter
from andromede.metrics.service import DataQuery, MetricDatum, MetricsService
from andromede.metrics.store import MemoryMetricStore

REGION = "eu-fr-1"
TENANT = "111122223333"
START = datetime(2026, 12, 5, 12, 0, 0, tzinfo=UTC)
X, G, M = 20.0, 0.0, None  # breaching (X), good (not breaching), missing


def alarm(**changes: object) -> Alarm:
    base = Alarm(
        tenant_id=TENANT,
        name="high",
        namespace="App",
        metric_name="Load",
        dimensions=(),
        period=60,
        evaluation_periods=5,
        datapoints_to_alarm=3,
        threshold=10.0,
        comparison="GreaterThanThreshold",
        statistic="Average",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def state_after(held: Alarm, read: Sequence[float | None]) -> AlarmState:
    picked = lookback(read, held.evaluation_periods)
    return evaluate(held, [None if i is None else read[i] for i in picked]).state


@pytest.mark.parametrize(
    ("read", "missing", "ignore", "breaching", "not_breaching"),
    [
        # 3 of 5, two periods more read (oldest first). Nothing older: AWS's table as it is.
        ((M, M, G, M, X, M, X), "OK", "OK", "ALARM", "OK"),
        ((M, M, M, M, X, M, M), "ALARM", "kept", "ALARM", "OK"),
        ((M, M, M, M, M, M, M), "INSUFFICIENT_DATA", "kept", "ALARM", "OK"),
        # Older real datapoints fill the gaps before TreatMissingData is asked: 3 breaching.
        ((X, X, M, M, X, M, M), "ALARM", "ALARM", "ALARM", "ALARM"),
        # Five real ones in the range: the most recent five decide, missing ones not counted.
        ((X, G, G, M, G, X, X), "OK", "OK", "OK", "OK"),
        ((X, X, G, M, X, M, G), "ALARM", "ALARM", "ALARM", "ALARM"),
    ],
)
def test_the_evaluation_range_with_each_treatment(
    read: Sequence[float | None], missing: str, ignore: str, breaching: str, not_breaching: str
) -> None:
    for treat, expected in (
        ("missing", missing),
        ("ignore", ignore),
        ("breaching", breaching),
        ("notBreaching", not_breaching),
    ):
        for before in AlarmState:
            got = state_after(alarm(treat_missing_data=treat, state=before), read)
            want = before if expected == "kept" else AlarmState(expected)
            assert got is want, (read, treat, before)


def test_lookback_picks_the_recent_real_periods() -> None:
    assert lookback([1.0, None, 2.0, 3.0, None], 2) == [2, 3]
    assert lookback([None, 1.0, None], 3) == [None, None, 1]
    assert lookback([None, None], 1) == [None]


# --- the evaluator -----------------------------------------------------------------------------


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


def world(extra: int = 2) -> tuple[MetricsService, AlarmService, MemoryAlarmStore, Clock]:
    clock = Clock(START)
    metrics = MetricsService(MemoryMetricStore(), clock=clock)
    anomaly = AnomalyService(MemoryDetectorStore(), metrics, clock=clock)
    metrics.bands = anomaly
    store = MemoryAlarmStore()
    limits = AlarmLimits(range_extra=extra)
    return metrics, AlarmService(store, metrics, REGION, clock=clock, limits=limits), store, clock


async def put(metrics: MetricsService, at: datetime, *values: float) -> None:
    await metrics.put_metric_data(
        TENANT, "App", [MetricDatum("Load", (), at, values=values)] if values else []
    )


async def test_a_datapoint_holds_until_it_leaves_the_evaluation_range() -> None:
    metrics, service, store, clock = world(extra=1)
    await service.put_alarm(alarm(evaluation_periods=1, datapoints_to_alarm=1))
    await put(metrics, START + timedelta(seconds=5), 50.0)
    states = []
    for minute in (1, 2, 3):
        clock.now = START + timedelta(minutes=minute, seconds=1)
        await service.evaluate_due()
        [held] = await store.alarms(TENANT)
        states.append(held.state)
    # Read 1 + 1 periods: the datapoint counts at the first and the second evaluation.
    assert states == [AlarmState.ALARM, AlarmState.ALARM, AlarmState.INSUFFICIENT_DATA]


LOAD = DataQuery("m1", "App", "Load", (), 60, "Average", return_data=True)
BAND = DataQuery("ad1", "", "", (), 0, "", expression="ANOMALY_DETECTION_BAND(m1, 2)")


def band_alarm(**changes: object) -> Alarm:
    defaults: dict[str, object] = {
        "namespace": "",
        "metric_name": "",
        "statistic": None,
        "period": 0,
        "evaluation_periods": 1,
        "datapoints_to_alarm": 1,
        "threshold": 0.0,
        "comparison": "GreaterThanUpperThreshold",
        "metrics": (LOAD, BAND),
        "threshold_metric_id": "ad1",
    }
    return alarm(**{**defaults, **changes})


def test_the_checks_of_a_band_alarm() -> None:
    assert check_alarm(band_alarm(), REGION).period == 60
    bad: list[tuple[Alarm, type[Exception]]] = [
        (band_alarm(comparison="GreaterThanThreshold"), InvalidParameterValue),
        (band_alarm(threshold_metric_id="m1"), InvalidParameterValue),
        (band_alarm(metrics=(LOAD, replace(BAND, return_data=False))), InvalidParameterValue),
        (alarm(comparison="GreaterThanUpperThreshold"), InvalidParameterValue),
        (alarm(threshold_metric_id="ad1"), MissingParameter),
    ]
    for one, error in bad:
        with pytest.raises(error):
            check_alarm(one, REGION)


async def test_a_band_alarm_goes_to_alarm_above_the_band_and_back() -> None:
    metrics, service, store, clock = world()
    # A day of a steady 10 a minute: the model is trained, its band close around 10.
    history = [
        MetricDatum("Load", (), START - timedelta(minutes=m), value=10.0 + (m % 3) * 0.1)
        for m in range(1, 1000)
    ]
    for chunk in range(0, len(history), 500):
        await metrics.put_metric_data(TENANT, "App", history[chunk : chunk + 500])
    await service.put_alarm(band_alarm())
    await put(metrics, START + timedelta(seconds=5), 100.0)
    clock.now = START + timedelta(minutes=1, seconds=1)
    await service.evaluate_due()
    [held] = await store.alarms(TENANT)
    assert held.state is AlarmState.ALARM
    assert "greater than the band's upper edge" in held.state_reason
    trigger = json.loads(alarm_message(held, AlarmState.OK, REGION))["Trigger"]
    assert trigger["ThresholdMetricId"] == "ad1" and "Threshold" not in trigger
    await put(metrics, START + timedelta(minutes=1, seconds=5), 10.1)
    clock.now = START + timedelta(minutes=2, seconds=1)
    await service.evaluate_due()
    [held] = await store.alarms(TENANT)
    assert held.state is AlarmState.OK
    # Lower: the value under the band's lower edge breaches, not one above the upper.
    lower = band_alarm(name="low", comparison="LessThanLowerThreshold")
    assert evaluate(lower, [100.0], [(9.0, 11.0)]).state is AlarmState.OK
    assert evaluate(lower, [1.0], [(9.0, 11.0)]).state is AlarmState.ALARM
    both = band_alarm(comparison="LessThanLowerOrGreaterThanUpperThreshold")
    assert evaluate(both, [1.0], [(9.0, 11.0)]).state is AlarmState.ALARM
    assert evaluate(both, [10.0], [(9.0, 11.0)]).state is AlarmState.OK
    # No band (the model not trained): the period counts as missing.
    assert evaluate(both, [100.0], [None]).state is AlarmState.INSUFFICIENT_DATA


async def test_an_untrained_band_alarm_has_insufficient_data() -> None:
    metrics, service, store, clock = world()
    await service.put_alarm(band_alarm())
    await put(metrics, START + timedelta(seconds=5), 100.0)
    clock.now = START + timedelta(minutes=1, seconds=1)
    await service.evaluate_due()
    [held] = await store.alarms(TENANT)
    assert held.state is AlarmState.INSUFFICIENT_DATA


async def test_low_sample_percentiles_keep_the_state_when_ignored() -> None:
    metrics, service, store, clock = world()
    p90 = alarm(
        statistic=None,
        extended_statistic="p90",
        evaluation_periods=1,
        datapoints_to_alarm=1,
    )
    await service.put_alarm(replace(p90, name="ignored", evaluate_low_sample="ignore"))
    await service.put_alarm(replace(p90, name="evaluated"))
    # p90 needs 10 / (1 - 0.9) = 100 samples: 5 are too few.
    await put(metrics, START + timedelta(seconds=5), 50.0, 50.0, 50.0, 50.0, 50.0)
    clock.now = START + timedelta(minutes=1, seconds=1)
    await service.evaluate_due()
    states = {a.name: a.state for a in await store.alarms(TENANT)}
    assert states == {"ignored": AlarmState.INSUFFICIENT_DATA, "evaluated": AlarmState.ALARM}
    # 100 samples: significant, evaluated.
    await put(metrics, START + timedelta(minutes=1, seconds=5), *([50.0] * 100))
    clock.now = START + timedelta(minutes=2, seconds=1)
    await service.evaluate_due()
    states = {a.name: a.state for a in await store.alarms(TENANT)}
    assert states == {"ignored": AlarmState.ALARM, "evaluated": AlarmState.ALARM}
    with pytest.raises(InvalidParameterValue):
        check_alarm(replace(p90, evaluate_low_sample="maybe"), REGION)
