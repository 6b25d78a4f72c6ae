"""The pure core of metrics (decision 0172): series, aggregates, periods, statistics, roll-up.

A datapoint is never kept raw: each (series, resolution, period start, unit) holds one
:class:`Aggregate` — SampleCount, Sum, Minimum, Maximum, and a sparse log-scale histogram of
the values (buckets 10 % wide) from which percentiles are estimated. An aggregate made from a
StatisticSet, or holding a negative value, has no histogram: as on AWS, its percentiles are
not available. Two aggregates merge by adding counts and sums and taking the extremes, which
is what the store does on each write and the roll-up does when it coarsens old periods.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from andromede.metrics.errors import InvalidParameterValue

__all__ = [
    "RESOLUTIONS",
    "RETENTION",
    "STATISTICS",
    "UNITS",
    "Aggregate",
    "Series",
    "dimensions_hash",
    "epoch",
    "merge_all",
    "percentile_of",
    "period_start",
    "statistic",
]

# AWS's StandardUnit values.
UNITS: Final = frozenset(
    {
        "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes",
        "Gigabytes", "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits",
        "Percent", "Count", "Bytes/Second", "Kilobytes/Second", "Megabytes/Second",
        "Gigabytes/Second", "Terabytes/Second", "Bits/Second", "Kilobits/Second",
        "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None",
    }
)  # fmt: skip
STATISTICS: Final = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
# The stored resolutions, finest first: 1 s (high resolution), 1 min, 5 min, 1 h.
RESOLUTIONS: Final = (1, 60, 300, 3600)
# How long each resolution is kept (seconds) before the roll-up coarsens it into the next
# (the last is deleted): AWS's 3 hours, 15 days, 63 days, 455 days. A period of one
# resolution is read for any asked period that it divides, so a high-resolution point is
# written once (at 1 s) and still counts in a minute's statistics.
RETENTION: Final = {1: 3 * 3600, 60: 15 * 86400, 300: 63 * 86400, 3600: 455 * 86400}

_PERCENTILE = re.compile(r"^p(\d{1,2}(?:\.\d{1,2})?|100)$")
# Histogram buckets: value v > 0 goes to floor(log(v) / log(1.1)); zero has its own bucket.
_BASE: Final = math.log(1.1)
_ZERO: Final = "z"


@dataclass(frozen=True, slots=True)
class Series:
    """One metric of one account: namespace, name and dimensions (sorted by name)."""

    tenant_id: str
    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]

    @property
    def dimensions_hash(self) -> str:
        return dimensions_hash(self.dimensions)

    @staticmethod
    def of(
        tenant_id: str, namespace: str, name: str, dimensions: Iterable[tuple[str, str]]
    ) -> Series:
        return Series(tenant_id, namespace, name, tuple(sorted(dimensions)))


def dimensions_hash(dimensions: Iterable[tuple[str, str]]) -> str:
    """The stored key of a set of dimensions, whatever their order."""
    canonical = json.dumps(sorted(dimensions), separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Aggregate:
    """What a period holds: the statistic set, and the histogram when percentiles are known."""

    count: float
    total: float
    minimum: float
    maximum: float
    # Bucket (a str: JSON keys) -> count; None once a StatisticSet or a negative value came in.
    histogram: Mapping[str, float] | None = None

    @staticmethod
    def of_values(values: Iterable[tuple[float, float]]) -> Aggregate:
        """From (value, count) pairs, each value seen ``count`` times."""
        count = total = 0.0
        low, high = math.inf, -math.inf
        histogram: dict[str, float] | None = {}
        for value, times in values:
            count += times
            total += value * times
            low, high = min(low, value), max(high, value)
            if histogram is not None:
                if value < 0:
                    histogram = None
                else:
                    bucket = _bucket(value)
                    histogram[bucket] = histogram.get(bucket, 0.0) + times
        return Aggregate(count, total, low, high, histogram)

    def merged(self, other: Aggregate) -> Aggregate:
        histogram: dict[str, float] | None = None
        if self.histogram is not None and other.histogram is not None:
            histogram = dict(self.histogram)
            for bucket, times in other.histogram.items():
                histogram[bucket] = histogram.get(bucket, 0.0) + times
        return Aggregate(
            self.count + other.count,
            self.total + other.total,
            min(self.minimum, other.minimum),
            max(self.maximum, other.maximum),
            histogram,
        )

    def histogram_text(self) -> str | None:
        if self.histogram is None:
            return None
        return json.dumps(dict(sorted(self.histogram.items())), separators=(",", ":"))

    @staticmethod
    def histogram_of(text: str | None) -> dict[str, float] | None:
        return None if text is None else {str(k): float(v) for k, v in json.loads(text).items()}


def merge_all(aggregates: Iterable[Aggregate]) -> Aggregate | None:
    merged: Aggregate | None = None
    for one in aggregates:
        merged = one if merged is None else merged.merged(one)
    return merged


def _bucket(value: float) -> str:
    if value == 0:
        return _ZERO
    return str(math.floor(math.log(value) / _BASE))


def _bucket_value(bucket: str) -> float:
    if bucket == _ZERO:
        return 0.0
    index = int(bucket)
    # The geometric middle of [1.1^i, 1.1^(i+1)): within 5 % of any value of the bucket.
    return math.exp((index + 0.5) * _BASE)


def percentile_of(name: str) -> float | None:
    """The percentile a statistic name asks for (``p99`` → 99.0), None when it names none."""
    found = _PERCENTILE.match(name)
    return None if found is None else float(found.group(1))


def statistic(aggregate: Aggregate, name: str) -> float | None:
    """One statistic of a period; None for a percentile the period cannot give."""
    if name == "SampleCount":
        return aggregate.count
    if name == "Sum":
        return aggregate.total
    if name == "Average":
        return aggregate.total / aggregate.count if aggregate.count else 0.0
    if name == "Minimum":
        return aggregate.minimum
    if name == "Maximum":
        return aggregate.maximum
    wanted = percentile_of(name)
    if wanted is None:
        raise InvalidParameterValue(f"The statistic {name[:64]} is not supported.")
    if aggregate.histogram is None or aggregate.count <= 0:
        return None
    if wanted >= 100:
        return aggregate.maximum
    rank = aggregate.count * wanted / 100
    seen = 0.0
    ordered = sorted(aggregate.histogram.items(), key=lambda item: _bucket_value(item[0]))
    for bucket, times in ordered:
        seen += times
        if seen >= rank:
            return min(max(_bucket_value(bucket), aggregate.minimum), aggregate.maximum)
    return aggregate.maximum


def epoch(moment: datetime) -> int:
    """Whole seconds since the epoch (a naive datetime is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return math.floor(moment.timestamp())


def period_start(seconds: int, period: int) -> int:
    return seconds - seconds % period
