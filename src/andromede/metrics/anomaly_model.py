"""The pure core of CloudWatch anomaly detection (decision 0189): a detector's definition, the
checks PutAnomalyDetector makes, and the model behind ``ANOMALY_DETECTION_BAND``.

AWS's model is an undisclosed machine-learning one trained on up to two weeks of the metric.
This one is documented and deterministic, so that a band can be explained and tested:

- the history is the metric's values at the band's period over the last ``history`` seconds
  (14 days), those in an ``ExcludedTimeRanges`` range dropped;
- each value falls in a seasonal bucket: its hour of the week in the detector's
  ``MetricTimezone`` (UTC by default), else its hour of the day, else the whole history — the
  finest of these holding at least :data:`BUCKET_MINIMUM` values at the time asked about;
- a bucket's expected value is its median, its spread the median absolute deviation scaled
  to a normal distribution's standard deviation (1.4826 * MAD), never under a floor (1 % of
  the median's magnitude, or :data:`SPREAD_FLOOR`) so that a flat series has a narrow band
  rather than none; the band is ``median +- stddevs * spread``. No trend is modelled;
- ``PeriodicSpikes`` (MetricCharacteristics) set: a bucket's band reaches at least its
  highest value seen, so that a spike that recurs in that hour is not an anomaly;
- fewer than ``minimum`` values in the history: the model is not trained (no band).

Auto Scaling's predictive scaling (decision 0197) reuses the same buckets as its load
forecast (:func:`hourly_forecast`: a bucket's median), asking for different bucket
minimums: the hour of the week once two weeks hold it, else the hour of the day from one
day on.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from andromede.metrics.errors import (
    InvalidParameterCombination,
    InvalidParameterValue,
    MissingParameter,
)
from andromede.metrics.service import DataQuery

__all__ = [
    "BUCKET_MINIMUM",
    "FORMAT_VERSION",
    "SPREAD_FLOOR",
    "Band",
    "Detector",
    "DetectorState",
    "Model",
    "band_of",
    "check_detector",
    "expected_value",
    "hourly_forecast",
    "train",
]

FORMAT_VERSION: Final = 1
BUCKET_MINIMUM: Final = 3
SPREAD_FLOOR: Final = 1e-6
_MAD_TO_STDDEV: Final = 1.4826
_MAX_EXCLUDED: Final = 100


class DetectorState(StrEnum):
    PENDING_TRAINING = "PENDING_TRAINING"
    TRAINED_INSUFFICIENT_DATA = "TRAINED_INSUFFICIENT_DATA"
    TRAINED = "TRAINED"


@dataclass(frozen=True, slots=True)
class Detector:
    """One anomaly detector of an account: a single metric's statistic, or a metric math
    expression's (``queries``), with its configuration."""

    tenant_id: str
    namespace: str = ""
    metric_name: str = ""
    dimensions: tuple[tuple[str, str], ...] = ()
    stat: str = ""
    queries: tuple[DataQuery, ...] = ()
    excluded: tuple[tuple[int, int], ...] = ()  # [start, end) epoch seconds
    timezone: str | None = None
    periodic_spikes: bool | None = None
    format_version: int = FORMAT_VERSION

    @property
    def key(self) -> str:
        """The detector's identity within the account: what it watches, not how."""
        if self.queries:
            return "math:" + json.dumps([_query_key(q) for q in self.queries], sort_keys=True)
        return "single:" + json.dumps(
            [self.namespace, self.metric_name, sorted(self.dimensions), self.stat]
        )

    def document(self) -> str:
        return json.dumps(
            {
                "namespace": self.namespace,
                "metric_name": self.metric_name,
                "dimensions": list(self.dimensions),
                "stat": self.stat,
                "queries": [_query_key(q) for q in self.queries],
                "excluded": list(self.excluded),
                "timezone": self.timezone,
                "periodic_spikes": self.periodic_spikes,
                "format_version": self.format_version,
            },
            sort_keys=True,
        )

    @classmethod
    def from_document(cls, tenant_id: str, document: str) -> Detector:
        data: dict[str, Any] = json.loads(document)
        return cls(
            tenant_id=tenant_id,
            namespace=data["namespace"],
            metric_name=data["metric_name"],
            dimensions=tuple((n, v) for n, v in data["dimensions"]),
            stat=data["stat"],
            queries=tuple(
                DataQuery(**{**q, "dimensions": tuple(tuple(d) for d in q["dimensions"])})
                for q in data["queries"]
            ),
            excluded=tuple((a, b) for a, b in data["excluded"]),
            timezone=data["timezone"],
            periodic_spikes=data["periodic_spikes"],
            format_version=data["format_version"],
        )


def _query_key(query: DataQuery) -> dict[str, Any]:
    return {
        "id": query.id,
        "namespace": query.namespace,
        "name": query.name,
        "dimensions": [list(d) for d in query.dimensions],
        "period": query.period,
        "stat": query.stat,
        "unit": query.unit,
        "label": query.label,
        "return_data": query.return_data,
        "expression": query.expression,
    }


def check_detector(detector: Detector) -> Detector:
    """PutAnomalyDetector's checks; the detector with its dimensions sorted."""
    single = bool(detector.namespace or detector.metric_name or detector.stat)
    if single and detector.queries:
        raise InvalidParameterCombination(
            "SingleMetricAnomalyDetector and MetricMathAnomalyDetector are mutually exclusive."
        )
    if detector.queries:
        if sum(1 for q in detector.queries if q.return_data) != 1:
            raise InvalidParameterValue(
                "Exactly one of the MetricDataQueries must have ReturnData true."
            )
    else:
        for name, value in (
            ("Namespace", detector.namespace),
            ("MetricName", detector.metric_name),
            ("Stat", detector.stat),
        ):
            if not value:
                raise MissingParameter(f"The parameter {name} is required.")
            if len(value) > 255:
                raise InvalidParameterValue(f"{name} may be 255 characters at most.")
    if detector.timezone is not None:
        try:
            ZoneInfo(detector.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise InvalidParameterValue(
                f"MetricTimezone {detector.timezone[:64]} is not a time zone name."
            ) from exc
    if len(detector.excluded) > _MAX_EXCLUDED:
        raise InvalidParameterValue(f"ExcludedTimeRanges may hold {_MAX_EXCLUDED} ranges at most.")
    for start, end in detector.excluded:
        if start >= end:
            raise InvalidParameterValue("Each excluded time range must end after it starts.")
    return Detector(
        tenant_id=detector.tenant_id,
        namespace=detector.namespace,
        metric_name=detector.metric_name,
        dimensions=tuple(sorted(detector.dimensions)),
        stat=detector.stat,
        queries=detector.queries,
        excluded=tuple(sorted(detector.excluded)),
        timezone=detector.timezone,
        periodic_spikes=detector.periodic_spikes,
    )


@dataclass(frozen=True, slots=True)
class Band:
    lower: float
    upper: float


@dataclass(frozen=True, slots=True)
class _Bucket:
    median: float
    spread: float
    highest: float


@dataclass(slots=True)
class Model:
    """A trained model: each level's buckets (hour of week, hour of day, all)."""

    state: DetectorState
    timezone: ZoneInfo | None
    periodic_spikes: bool
    weekly: dict[int, _Bucket] = field(default_factory=dict)
    daily: dict[int, _Bucket] = field(default_factory=dict)
    overall: _Bucket | None = None

    def expected(self, at: int) -> _Bucket | None:
        hour_of_week, hour = _hours(at, self.timezone)
        return self.weekly.get(hour_of_week) or self.daily.get(hour) or self.overall


def _hours(at: int, zone: ZoneInfo | None) -> tuple[int, int]:
    moment = datetime.fromtimestamp(at, zone or UTC)
    return moment.weekday() * 24 + moment.hour, moment.hour


def _bucket(values: Sequence[float]) -> _Bucket:
    median = statistics.median(values)
    mad = statistics.median(abs(v - median) for v in values)
    spread = max(_MAD_TO_STDDEV * mad, 0.01 * abs(median), SPREAD_FLOOR)
    return _Bucket(median, spread, max(values))


def train(
    history: Iterable[tuple[int, float]],
    *,
    excluded: Sequence[tuple[int, int]] = (),
    timezone: str | None = None,
    periodic_spikes: bool = False,
    minimum: int = 24,
    weekly_minimum: int = BUCKET_MINIMUM,
    daily_minimum: int = BUCKET_MINIMUM,
) -> Model:
    """The model of ``history`` (timestamp, value): its buckets, or its state only when the
    history holds fewer than ``minimum`` values (none: PENDING_TRAINING). A bucket of the
    hour of the week (of the day) is kept when it holds ``weekly_minimum``
    (``daily_minimum``) values."""
    zone = ZoneInfo(timezone) if timezone else None
    kept = [
        (at, v)
        for at, v in history
        if math.isfinite(v) and not any(start <= at < end for start, end in excluded)
    ]
    if not kept:
        return Model(DetectorState.PENDING_TRAINING, zone, periodic_spikes)
    if len(kept) < minimum:
        return Model(DetectorState.TRAINED_INSUFFICIENT_DATA, zone, periodic_spikes)
    weekly: dict[int, list[float]] = {}
    daily: dict[int, list[float]] = {}
    for at, value in kept:
        hour_of_week, hour = _hours(at, zone)
        weekly.setdefault(hour_of_week, []).append(value)
        daily.setdefault(hour, []).append(value)
    return Model(
        DetectorState.TRAINED,
        zone,
        periodic_spikes,
        {k: _bucket(v) for k, v in weekly.items() if len(v) >= weekly_minimum},
        {k: _bucket(v) for k, v in daily.items() if len(v) >= daily_minimum},
        _bucket([v for _, v in kept]),
    )


def band_of(model: Model, at: int, stddevs: float) -> Band | None:
    """The band at ``at``: None where the model is not trained."""
    if model.state is not DetectorState.TRAINED:
        return None
    bucket = model.expected(at)
    if bucket is None:
        return None
    lower = bucket.median - stddevs * bucket.spread
    upper = bucket.median + stddevs * bucket.spread
    if model.periodic_spikes:
        upper = max(upper, bucket.highest)
    return Band(lower, upper)


def expected_value(model: Model, at: int) -> float | None:
    """The value the model expects at ``at`` (its bucket's median): None where it is not
    trained."""
    if model.state is not DetectorState.TRAINED:
        return None
    bucket = model.expected(at)
    return None if bucket is None else bucket.median


def hourly_forecast(
    history: Iterable[tuple[int, float]], first: int, hours: int, *, minimum: int = 24
) -> list[float] | None:
    """Auto Scaling's load forecast (decision 0197): ``hours`` hourly values from ``first``
    (an hour's start), each the median the model of the hourly ``history`` expects — the
    same hour of the week once two weeks hold it, else the same hour of the day, else the
    whole history's; None when the history holds fewer than ``minimum`` hours."""
    model = train(history, minimum=minimum, weekly_minimum=2, daily_minimum=1)
    if model.state is not DetectorState.TRAINED:
        return None
    values = [expected_value(model, first + i * 3600) for i in range(hours)]
    return [v if v is not None else 0.0 for v in values]
