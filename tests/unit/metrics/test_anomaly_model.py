"""The anomaly model (decision 0189) on synthetic series: a seasonal day whose band follows the
hour, a spike outside it, a flat series' narrow band, excluded ranges dropped, the time zone's
hours, periodic spikes inside the band, and the training states; then the service's band
through GetMetricData over the in-memory store, its detector's configuration and its cache."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from andromede.metrics.anomaly import AnomalyLimits, AnomalyService
from andromede.metrics.anomaly_model import (
    Detector,
    DetectorState,
    band_of,
    check_detector,
    train,
)
from andromede.metrics.anomaly_store import MemoryDetectorStore
from andromede.metrics.errors import (
    InvalidParameterCombination,
    InvalidParameterValue,
    LimitExceeded,
    MissingParameter,
    ResourceNotFound,
)
from andromede.metrics.math_band import band_calls
from andromede.metrics.math_parse import parse
from andromede.metrics.service import DataQuery, MetricDatum, MetricsService
from andromede.metrics.store import MemoryMetricStore

TENANT = "111122223333"
# A Monday at midnight UTC: the history's hours start there.
MONDAY = int(datetime(2026, 11, 16, tzinfo=UTC).timestamp())
HOUR = 3600


def seasonal(days: int, *, noise: float = 1.0) -> list[tuple[int, float]]:
    """Every 5 minutes: 100 by night, 500 from 09:00 to 18:00 UTC, a small deterministic
    wobble."""
    points = []
    for step in range(days * 24 * 12):
        at = MONDAY + step * 300
        hour = (at // HOUR) % 24
        base = 500.0 if 9 <= hour < 18 else 100.0
        points.append((at, base + noise * math.sin(step)))
    return points


def test_a_seasonal_band_follows_the_hour_and_a_spike_falls_outside() -> None:
    model = train(seasonal(14), minimum=24)
    assert model.state is DetectorState.TRAINED
    night = band_of(model, MONDAY + 14 * 86400 + 3 * HOUR, 2)
    day = band_of(model, MONDAY + 14 * 86400 + 12 * HOUR, 2)
    assert night is not None and day is not None
    assert night.lower < 100 < night.upper < 200
    assert day.lower < 500 < day.upper and day.lower > 400
    assert not night.lower <= 450 <= night.upper  # a day's level at night is an anomaly
    # A wider band for more standard deviations, centred on the same median.
    wide = band_of(model, MONDAY + 14 * 86400 + 3 * HOUR, 6)
    assert wide is not None and wide.lower < night.lower and wide.upper > night.upper


def test_a_flat_series_has_a_narrow_band_not_none() -> None:
    flat = [(MONDAY + i * 300, 10.0) for i in range(100)]
    band = band_of(train(flat), MONDAY + 100 * 300, 2)
    assert band is not None
    assert band.lower < 10.0 < band.upper
    assert band.upper - band.lower == pytest.approx(0.4)  # 1 % of the level, 2 deviations
    zero = band_of(train([(MONDAY + i * 300, 0.0) for i in range(100)]), MONDAY, 2)
    assert zero is not None and zero.lower < 0 < zero.upper  # never a zero-width band


def test_excluded_ranges_are_not_learned() -> None:
    history = [(MONDAY + i * 300, 10.0) for i in range(200)]
    outage = (MONDAY + 50 * 300, MONDAY + 80 * 300)
    spiked = [(at, 1000.0 if outage[0] <= at < outage[1] else v) for at, v in history]
    # 05:00 to 06:00 lies wholly in the outage: learned, its hour's band is the outage's.
    learned = band_of(train(spiked), MONDAY + 5 * HOUR, 2)
    kept = band_of(train(spiked, excluded=[outage]), MONDAY + 5 * HOUR, 2)
    assert learned is not None and kept is not None
    assert learned.lower > 900
    assert kept.lower < 10 < kept.upper < 11  # the hour unknown: the whole history's band


def test_the_time_zone_decides_the_hours() -> None:
    # Busy from 09:00 to 18:00 in Paris (UTC+1 in November): in UTC, 08:00 to 17:00.
    points = []
    for step in range(7 * 24 * 12):
        at = MONDAY + step * 300
        local = datetime.fromtimestamp(at, UTC) + timedelta(hours=1)
        points.append((at, 500.0 if 9 <= local.hour < 18 else 100.0))
    paris = train(points, timezone="Europe/Paris")
    at_eight_utc = MONDAY + 7 * 86400 + 8 * HOUR + 1800  # 09:30 in Paris
    band = band_of(paris, at_eight_utc, 2)
    assert band is not None and band.lower < 500 < band.upper


def test_periodic_spikes_stay_inside_the_band() -> None:
    # Every day at 02:00 a batch job spikes to 900; otherwise 100.
    points = []
    for step in range(14 * 24 * 12):
        at = MONDAY + step * 300
        spike = (at // HOUR) % 24 == 2 and (at // 300) % 12 == 0
        points.append((at, 900.0 if spike else 100.0))
    at_two = MONDAY + 14 * 86400 + 2 * HOUR
    plain = band_of(train(points), at_two, 2)
    spiky = band_of(train(points, periodic_spikes=True), at_two, 2)
    assert plain is not None and spiky is not None
    assert plain.upper < 900 <= spiky.upper


def test_training_states() -> None:
    assert train([]).state is DetectorState.PENDING_TRAINING
    few = train([(MONDAY + i * 300, 1.0) for i in range(5)], minimum=24)
    assert few.state is DetectorState.TRAINED_INSUFFICIENT_DATA
    assert band_of(few, MONDAY, 2) is None  # no band before the model is trained
    assert train(seasonal(1), minimum=24).state is DetectorState.TRAINED


def test_the_checks_of_a_detector() -> None:
    good = Detector(TENANT, "App", "Latency", (("B", "2"), ("A", "1")), "Average")
    assert check_detector(good).dimensions == (("A", "1"), ("B", "2"))
    query = DataQuery("m1", "App", "Latency", (), 300, "Average")
    bad: list[tuple[Detector, type[Exception]]] = [
        (Detector(TENANT, "App", "", (), "Average"), MissingParameter),
        (Detector(TENANT, "App", "Latency", (), ""), MissingParameter),
        (Detector(TENANT, "App", "Latency", (), "Average", queries=(query,)),
         InvalidParameterCombination),
        (Detector(TENANT, queries=(query, query)), InvalidParameterValue),
        (Detector(TENANT, "App", "L", (), "Average", timezone="Mars/Olympus"),
         InvalidParameterValue),
        (Detector(TENANT, "App", "L", (), "Average", excluded=((10, 5),)), InvalidParameterValue),
    ]  # fmt: skip
    for detector, error in bad:
        with pytest.raises(error):
            check_detector(detector)


def test_band_calls_are_found_and_checked() -> None:
    calls = band_calls(parse("ANOMALY_DETECTION_BAND(m1, 3) * 2 + [ANOMALY_DETECTION_BAND(m2)]"))
    assert [(ref, width) for _, ref, width in calls] == [("m1", 3.0), ("m2", 2.0)]
    for text in ("ANOMALY_DETECTION_BAND(1, 2)", "ANOMALY_DETECTION_BAND(m1, 0)",
                 "ANOMALY_DETECTION_BAND(m1, 2, 3)"):  # fmt: skip
        with pytest.raises(InvalidParameterValue):
            band_calls(parse(text))


# --- the service -------------------------------------------------------------------------------

NOW = datetime.fromtimestamp(MONDAY + 7 * 86400, UTC)
LATENCY = DataQuery("m1", "App", "Latency", (), 300, "Average", return_data=True)
BAND = DataQuery("ad1", "", "", (), 0, "", expression="ANOMALY_DETECTION_BAND(m1, 2)")


async def services() -> tuple[MetricsService, AnomalyService]:
    metrics = MetricsService(MemoryMetricStore(), clock=lambda: NOW)
    anomaly = AnomalyService(
        MemoryDetectorStore(), metrics, limits=AnomalyLimits(max_per_account=2), clock=lambda: NOW
    )
    metrics.bands = anomaly
    history = [(at, v) for at, v in seasonal(7) if at < NOW.timestamp()]
    for chunk in range(0, len(history), 1000):
        await metrics.put_metric_data(
            TENANT,
            "App",
            [
                MetricDatum("Latency", (), datetime.fromtimestamp(at, UTC), value=v)
                for at, v in history[chunk : chunk + 1000]
            ],
        )
    return metrics, anomaly


async def test_get_metric_data_reads_the_band_of_a_metric() -> None:
    metrics, anomaly = await services()
    start, end = NOW - timedelta(hours=3), NOW
    results, _ = await metrics.get_metric_data(
        TENANT, [LATENCY, BAND], start, end, scan_by="TimestampAscending"
    )
    assert [(r.id, r.label) for r in results] == [
        ("m1", "Latency"),
        ("ad1", "ad1 Lower"),
        ("ad1", "ad1 Upper"),
    ]
    values, lower, upper = results
    assert len(lower.values) == len(upper.values) == 36
    inside = [
        lo <= v <= hi for v, lo, hi in zip(values.values, lower.values, upper.values, strict=True)
    ]
    assert all(inside)
    # Once trained, the model is cached: new data does not move the band at once.
    assert len(anomaly._cache) == 1


async def test_a_detector_configures_the_band_and_is_listed() -> None:
    _, anomaly = await services()
    detector = Detector(TENANT, "App", "Latency", (), "Average", periodic_spikes=True)
    await anomaly.put(detector)
    await anomaly.put(detector)  # a second put replaces it
    found, token = await anomaly.describe(TENANT)
    assert token is None
    assert [(d.detector.metric_name, d.state) for d in found] == [
        ("Latency", DetectorState.TRAINED)
    ]
    await anomaly.put(Detector(TENANT, "App", "Errors", (), "Sum"))
    found, _ = await anomaly.describe(TENANT, metric_name="Errors")
    assert [d.state for d in found] == [DetectorState.PENDING_TRAINING]
    first, token = await anomaly.describe(TENANT, max_results=1)
    assert token is not None and len(first) == 1
    second, token = await anomaly.describe(TENANT, max_results=1, next_token=token)
    assert token is None or not (await anomaly.describe(TENANT, next_token=token))[0]
    assert first[0].detector != second[0].detector
    with pytest.raises(LimitExceeded):
        await anomaly.put(Detector(TENANT, "App", "Third", (), "Sum"))
    await anomaly.delete(detector)
    with pytest.raises(ResourceNotFound):
        await anomaly.delete(detector)
