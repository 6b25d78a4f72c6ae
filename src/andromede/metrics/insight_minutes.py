"""Contributor Insights' minutes (decision 0272): what a rule saw in one minute — the events
it matched, the sum, least and greatest of their values, its distinct contributors, and the
``max_contributors`` greatest of them with their value (AWS keeps its top contributors, not
all) — the tally a gateway keeps of them between flushes, their stored form, and
GetInsightRuleReport's arithmetic over them. Pure: no I/O.

A minute may be stored in several parts (each gateway writes what it tallied, each flush
its own part): a report merges them, so the unique count across gateways is approximate,
as AWS's ``ApproximateUniqueCount`` is.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

__all__ = [
    "METRICS",
    "ContributionTally",
    "Minute",
    "Report",
    "merge",
    "report",
]

METRICS: Final = (
    "UniqueContributors", "MaxContributorValue", "SampleCount", "Sum", "Minimum", "Maximum",
    "Average",
)  # fmt: skip
FORMAT_VERSION: Final = 1


@dataclass(slots=True)
class Minute:
    """One rule's minute (or part of it): ``contributors`` maps key values to their count
    (a Count rule) or sum (a Sum rule); ``unique`` counts the distinct ones seen, those
    dropped from the top too."""

    samples: int = 0
    total: float = 0.0
    low: float = float("inf")
    high: float = float("-inf")
    unique: int = 0
    contributors: dict[tuple[str, ...], float] = field(default_factory=dict)

    def add(self, keys: tuple[str, ...], value: float, keep: int) -> None:
        self.samples += 1
        self.total += value
        self.low = min(self.low, value)
        self.high = max(self.high, value)
        if keys not in self.contributors:
            self.unique += 1
            self.contributors[keys] = 0.0
        self.contributors[keys] += value
        if len(self.contributors) > 2 * keep:
            self.trim(keep)

    def trim(self, keep: int) -> None:
        """Keep the ``keep`` greatest contributors (ties by key, so a trim is repeatable)."""
        if len(self.contributors) > keep:
            ranked = sorted(self.contributors.items(), key=lambda kv: (-kv[1], kv[0]))
            self.contributors = dict(ranked[:keep])

    def encode(self) -> bytes:
        return json.dumps(
            {
                "v": FORMAT_VERSION,
                "n": self.samples,
                "s": self.total,
                "lo": self.low,
                "hi": self.high,
                "u": self.unique,
                "c": [[list(k), v] for k, v in self.contributors.items()],
            },
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode()

    @classmethod
    def decode(cls, raw: bytes) -> Minute:
        data = json.loads(raw)
        return cls(
            samples=data["n"],
            total=data["s"],
            low=data["lo"],
            high=data["hi"],
            unique=data["u"],
            contributors={tuple(k): v for k, v in data["c"]},
        )


def merge(parts: Iterable[Minute], keep: int) -> Minute:
    """One minute from its parts (the unique count the greatest part's or the distinct kept
    contributors', whichever is more)."""
    whole = Minute()
    for part in parts:
        whole.samples += part.samples
        whole.total += part.total
        whole.low = min(whole.low, part.low)
        whole.high = max(whole.high, part.high)
        whole.unique = max(whole.unique, part.unique)
        for keys, value in part.contributors.items():
            whole.contributors[keys] = whole.contributors.get(keys, 0.0) + value
    whole.unique = max(whole.unique, len(whole.contributors))
    whole.trim(keep)
    return whole


class ContributionTally:
    """A gateway's minutes not yet stored, per (account, rule, minute); bounded by
    ``max_contributors`` per minute (twice that between trims)."""

    def __init__(self, max_contributors: int) -> None:
        self.keep = max_contributors
        self._minutes: dict[tuple[str, str, int], Minute] = {}
        self.matched: dict[str, int] = {}  # matched events per account, for billing

    def add(
        self, tenant_id: str, rule: str, at_ms: int, keys: tuple[str, ...], value: float
    ) -> None:
        slot = (tenant_id, rule, at_ms // 60_000)
        minute = self._minutes.get(slot)
        if minute is None:
            minute = self._minutes[slot] = Minute()
        minute.add(keys, value, self.keep)
        self.matched[tenant_id] = self.matched.get(tenant_id, 0) + 1

    def drain(self) -> tuple[dict[tuple[str, str, int], Minute], dict[str, int]]:
        """The minutes and matched counts since the last drain, each minute trimmed."""
        minutes, matched = self._minutes, self.matched
        self._minutes, self.matched = {}, {}
        for minute in minutes.values():
            minute.trim(self.keep)
        return minutes, matched

    def restore(self, minutes: dict[tuple[str, str, int], Minute]) -> None:
        """Put back minutes a failed store did not keep (merged with any tallied since)."""
        for slot, minute in minutes.items():
            held = self._minutes.get(slot)
            self._minutes[slot] = minute if held is None else merge([held, minute], self.keep)


@dataclass(frozen=True, slots=True)
class Report:
    aggregate_value: float
    unique_count: int
    # (keys, aggregate over the range, [(period start ms, value)])
    contributors: list[tuple[tuple[str, ...], float, list[tuple[int, float]]]]
    # (period start ms, {metric: value}) for the metrics asked
    datapoints: list[tuple[int, dict[str, float]]]


def _metrics_of(minutes: Sequence[Minute], keep: int) -> tuple[Minute, dict[str, float]]:
    period = merge(minutes, keep)
    values = {
        "UniqueContributors": float(period.unique),
        "MaxContributorValue": max(period.contributors.values(), default=0.0),
        "SampleCount": float(period.samples),
        "Sum": period.total,
        "Minimum": period.low if period.samples else 0.0,
        "Maximum": period.high if period.samples else 0.0,
        "Average": period.total / period.samples if period.samples else 0.0,
    }
    return period, values


def report(
    minutes: dict[int, Minute],
    start_minute: int,
    end_minute: int,
    period_minutes: int,
    metrics: Sequence[str],
    max_contributors: int,
    order_by: str,
    keep: int,
) -> Report:
    """GetInsightRuleReport over the merged ``minutes`` (minute number → minute) of
    [start, end): periods from ``start_minute``; the contributors greatest by their sum
    over the range (``Sum``) or by their greatest period (``Maximum``)."""
    periods: dict[int, list[Minute]] = {}
    for number, minute in minutes.items():
        if start_minute <= number < end_minute:
            first = start_minute + (number - start_minute) // period_minutes * period_minutes
            periods.setdefault(first, []).append(minute)
    datapoints = []
    series: dict[tuple[str, ...], list[tuple[int, float]]] = {}
    everything = []
    for first in sorted(periods):
        period, values = _metrics_of(periods[first], keep)
        everything.append(period)
        datapoints.append((first * 60_000, {m: values[m] for m in metrics}))
        for keys, value in period.contributors.items():
            series.setdefault(keys, []).append((first * 60_000, value))
    whole = merge(everything, keep)

    def rank(keys: tuple[str, ...]) -> tuple[float, tuple[str, ...]]:
        points = [v for _, v in series[keys]]
        return (-(max(points) if order_by == "Maximum" else sum(points)), keys)

    chosen = sorted(series, key=rank)[:max_contributors]
    return Report(
        aggregate_value=whole.total,
        unique_count=whole.unique,
        contributors=[(k, sum(v for _, v in series[k]), series[k]) for k in chosen],
        datapoints=datapoints,
    )
