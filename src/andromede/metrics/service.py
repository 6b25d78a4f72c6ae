"""The metrics service (decision 0172): CloudWatch's PutMetricData, GetMetricStatistics,
GetMetricData and ListMetrics over a :class:`~andromede.metrics.store.MetricStore`, for one
account at a time, and the retention roll-up. GetMetricData's metric math (decision 0183):
the queries checked and parsed here, the MetricStat ones read, then each expression evaluated
by :mod:`~andromede.metrics.math_eval` (SEARCH's series read first, bounded).

Everything is the caller's account's: no call names another account's series. Namespaces
starting ``AWS/`` are the platform's, written through :meth:`MetricsService.put_platform`
(the :class:`~andromede.metrics.sink.MetricsSink` of the other contexts) and readable by the
account they describe; a tenant's PutMetricData into one is refused as AWS refuses it.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from andromede.metrics.errors import (
    InvalidNextToken,
    InvalidParameterCombination,
    InvalidParameterValue,
    MissingParameter,
)
from andromede.metrics.math_band import BAND, BandSource, band_calls
from andromede.metrics.math_eval import MathContext, SeriesArray, TimeSeries, as_series
from andromede.metrics.math_insight import INSIGHT, InsightSource, insight_calls
from andromede.metrics.math_parse import Call, Node, parse
from andromede.metrics.math_search import Search, search_series, searches_in
from andromede.metrics.model import (
    RESOLUTIONS,
    RETENTION,
    UNITS,
    Aggregate,
    Series,
    epoch,
    merge_all,
    percentile_of,
    statistic,
)
from andromede.metrics.store import MetricStore, Point, StoredSeries

__all__ = [
    "DataQuery",
    "Datapoint",
    "DimensionFilter",
    "MetricDatum",
    "MetricLimits",
    "MetricsService",
    "QueryResult",
]

# AWS's range of a value: 0, or a magnitude in [8.515920e-109, 1.174271e+108].
_LARGEST: Final = 1.174271e108
_SMALLEST: Final = 8.515920e-109
_QUERY_ID = re.compile(r"^[a-z][a-zA-Z0-9_]{0,254}$")
_HIGH_PERIODS: Final = (1, 5, 10, 30)
_PLATFORM_PREFIX: Final = "AWS/"


@dataclass(frozen=True, slots=True)
class MetricLimits:
    max_metrics: int = 1000
    max_values: int = 150
    max_dimensions: int = 30
    max_datapoints: int = 1440
    max_data_points: int = 100_800
    max_queries: int = 500
    list_page: int = 500
    max_age: int = 14 * 86400
    max_ahead: int = 7200
    math_max_length: int = 2048
    math_max_depth: int = 50
    math_max_series: int = 500


@dataclass(frozen=True, slots=True)
class MetricDatum:
    """One metric of a PutMetricData, as the wire gave it: exactly one of ``value``,
    ``values`` (with ``counts``) or ``statistics`` (SampleCount, Sum, Minimum, Maximum)."""

    name: str
    dimensions: tuple[tuple[str, str], ...] = ()
    timestamp: datetime | None = None
    value: float | None = None
    values: tuple[float, ...] | None = None
    counts: tuple[float, ...] | None = None
    statistics: tuple[float, float, float, float] | None = None
    unit: str | None = None
    resolution: int | None = None


@dataclass(frozen=True, slots=True)
class Datapoint:
    timestamp: int
    unit: str
    statistics: dict[str, float]
    extended: dict[str, float]


@dataclass(frozen=True, slots=True)
class DimensionFilter:
    name: str
    value: str | None = None


@dataclass(frozen=True, slots=True)
class DataQuery:
    """One MetricDataQuery: a MetricStat (namespace … stat), or a metric math ``expression``
    (decision 0183) over the other queries, whose ``period`` is then optional (0)."""

    id: str
    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]
    period: int
    stat: str
    unit: str | None = None
    label: str | None = None
    return_data: bool = True
    expression: str | None = None


@dataclass(slots=True)
class QueryResult:
    id: str
    label: str
    timestamps: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    status: str = "Complete"
    # (Code, Value) pairs: AWS's per-result MessageData, e.g. an expression's ArithmeticError.
    messages: list[tuple[str, str]] = field(default_factory=list)


def _now() -> datetime:
    return datetime.now(UTC)


def _text(name: str, value: str | None, longest: int) -> str:
    if value is None or value == "":
        raise MissingParameter(f"The parameter {name} is required.")
    if len(value) > longest:
        raise InvalidParameterValue(
            f"The parameter {name} must be at most {longest} characters long."
        )
    return value


def _number(name: str, value: float) -> float:
    if not math.isfinite(value) or (value != 0 and not _SMALLEST <= abs(value) <= _LARGEST):
        raise InvalidParameterValue(
            f"The value {value!r} for parameter {name} is invalid: CloudWatch takes 0 or a "
            "magnitude between 8.515920e-109 and 1.174271e+108."
        )
    return value


def _unit(unit: str | None) -> str:
    if unit is None:
        return "None"
    if unit not in UNITS:
        raise InvalidParameterValue(f"The unit {unit[:64]!r} is not a CloudWatch unit.")
    return unit


def _period(period: int) -> int:
    if (
        period <= 0
        or (period < 60 and period not in _HIGH_PERIODS)
        or (period >= 60 and period % 60)
    ):
        raise InvalidParameterValue(
            "The parameter Period must be 1, 5, 10, 30 or a multiple of 60."
        )
    return period


def _token(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


def _untoken(token: str) -> object:
    try:
        return json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, binascii.Error, UnicodeError) as exc:
        raise ValueError(token) from exc


class MetricsService:
    def __init__(
        self,
        store: MetricStore,
        *,
        limits: MetricLimits | None = None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.store = store
        self._limits = limits or MetricLimits()
        self._clock = clock
        # ANOMALY_DETECTION_BAND's models (decision 0189): the anomaly detectors' service.
        self.bands: BandSource | None = None
        # INSIGHT_RULE_METRIC's rules (decision 0272): the Contributor Insights service.
        self.insights: InsightSource | None = None

    # --- writing -----------------------------------------------------------------------------

    async def put_metric_data(
        self, tenant_id: str, namespace: str | None, data: Sequence[MetricDatum]
    ) -> None:
        """A tenant's PutMetricData: never into an ``AWS/`` namespace."""
        namespace = _text("Namespace", namespace, 255)
        if namespace.startswith(_PLATFORM_PREFIX) or namespace.startswith(":"):
            raise InvalidParameterValue(
                f"The value {namespace[:255]} for parameter Namespace is invalid: the AWS/ "
                "namespaces are reserved for the platform's own metrics."
            )
        await self._put(tenant_id, namespace, data)

    async def put_platform(self, points: Sequence[Point]) -> None:
        """The platform's own periods (``AWS/`` namespaces) for the accounts they describe,
        merged into the store a bounded batch a transaction."""
        for point in points:
            if not point.series.namespace.startswith(_PLATFORM_PREFIX):
                raise InvalidParameterValue(f"{point.series.namespace} is no platform namespace")
        now = epoch(self._clock())
        batch = self._limits.max_metrics
        for at in range(0, len(points), batch):
            await self.store.put(points[at : at + batch], now)

    async def _put(self, tenant_id: str, namespace: str, data: Sequence[MetricDatum]) -> None:
        limits = self._limits
        if not data:
            raise MissingParameter("The parameter MetricData is required.")
        if len(data) > limits.max_metrics:
            raise InvalidParameterValue(
                f"The collection MetricData must not have a size greater than {limits.max_metrics}."
            )
        now = epoch(self._clock())
        points = [self._point(tenant_id, namespace, datum, now, i) for i, datum in enumerate(data)]
        await self.store.put(points, now)

    def _point(
        self, tenant_id: str, namespace: str, datum: MetricDatum, now: int, index: int
    ) -> Point:
        limits = self._limits
        where = f"MetricData.member.{index + 1}"
        name = _text(f"{where}.MetricName", datum.name, 255)
        if len(datum.dimensions) > limits.max_dimensions:
            raise InvalidParameterValue(
                f"The collection {where}.Dimensions must not have a size greater than "
                f"{limits.max_dimensions}."
            )
        names = [_text(f"{where}.Dimensions.Name", n, 255) for n, _ in datum.dimensions]
        for _, value in datum.dimensions:
            _text(f"{where}.Dimensions.Value", value, 1024)
        if len(set(names)) != len(names):
            raise InvalidParameterValue(f"The dimensions of {where} must have distinct names.")
        at = now if datum.timestamp is None else epoch(datum.timestamp)
        if at < now - limits.max_age or at > now + limits.max_ahead:
            raise InvalidParameterValue(
                f"The parameter {where}.Timestamp must be within the last "
                f"{limits.max_age // 86400} days and the next {limits.max_ahead} seconds."
            )
        resolution = 60 if datum.resolution is None else datum.resolution
        if resolution not in (1, 60):
            raise InvalidParameterValue(f"The parameter {where}.StorageResolution must be 1 or 60.")
        aggregate = self._aggregate(datum, where)
        return Point(
            Series.of(tenant_id, namespace, name, datum.dimensions),
            resolution,
            at - at % resolution,
            _unit(datum.unit),
            aggregate,
        )

    def _aggregate(self, datum: MetricDatum, where: str) -> Aggregate:
        given = [
            name
            for name, present in (
                ("Value", datum.value is not None),
                ("Values", datum.values is not None),
                ("StatisticValues", datum.statistics is not None),
            )
            if present
        ]
        if len(given) > 1:
            raise InvalidParameterCombination(
                f"The parameters {where}.{given[0]} and {where}.{given[1]} are mutually "
                "exclusive and you have specified both."
            )
        if datum.value is not None:
            return Aggregate.of_values([(_number(f"{where}.Value", datum.value), 1.0)])
        if datum.values is not None:
            if not datum.values or len(datum.values) > self._limits.max_values:
                raise InvalidParameterValue(
                    f"The collection {where}.Values must have 1 to {self._limits.max_values} "
                    "members."
                )
            counts = datum.counts if datum.counts else (1.0,) * len(datum.values)
            if len(counts) != len(datum.values):
                raise InvalidParameterValue(
                    f"The parameters {where}.Values and {where}.Counts must be of the same size."
                )
            for count in counts:
                if not math.isfinite(count) or count < 0:
                    raise InvalidParameterValue(f"The {where}.Counts must be positive numbers.")
            return Aggregate.of_values(
                (_number(f"{where}.Values", v), c)
                for v, c in zip(datum.values, counts, strict=True)
                if c > 0
            )
        if datum.statistics is not None:
            count, total, low, high = (
                _number(f"{where}.StatisticValues", v) for v in datum.statistics
            )
            if count <= 0 or low > high:
                raise InvalidParameterValue(
                    f"The {where}.StatisticValues must have a positive SampleCount and a "
                    "Minimum not above the Maximum."
                )
            if low >= 0 and (count == 1 or low == high):
                # AWS keeps percentiles of a set whose values are known: one sample, or all
                # equal.
                return Aggregate.of_values([(low, count)])
            return Aggregate(count, total, low, high, None)
        raise MissingParameter(
            f"One of the parameters {where}.Value, {where}.Values or {where}.StatisticValues "
            "is required."
        )

    # --- reading -----------------------------------------------------------------------------

    async def get_metric_statistics(
        self,
        tenant_id: str,
        namespace: str | None,
        name: str | None,
        dimensions: Sequence[tuple[str, str]],
        start: datetime | None,
        end: datetime | None,
        period: int | None,
        statistics: Sequence[str],
        extended: Sequence[str],
        unit: str | None,
    ) -> list[Datapoint]:
        namespace = _text("Namespace", namespace, 255)
        name = _text("MetricName", name, 255)
        if start is None or end is None or period is None:
            missing = "StartTime" if start is None else "EndTime" if end is None else "Period"
            raise MissingParameter(f"The parameter {missing} is required.")
        period = _period(period)
        if not statistics and not extended:
            raise MissingParameter("Either Statistics or ExtendedStatistics must be given.")
        if statistics and extended:
            raise InvalidParameterCombination(
                "The parameters Statistics and ExtendedStatistics are mutually exclusive and "
                "you have specified both."
            )
        if len(statistics) > 5 or len(extended) > 10:
            raise InvalidParameterValue(
                "At most 5 Statistics and 10 ExtendedStatistics may be asked for."
            )
        for one in statistics:
            if one not in ("SampleCount", "Average", "Sum", "Minimum", "Maximum"):
                raise InvalidParameterValue(f"The statistic {one[:64]} is not supported.")
        for one in extended:
            if percentile_of(one) is None:
                raise InvalidParameterValue(
                    f"The extended statistic {one[:64]} is not supported: pNN or pNN.NN."
                )
        low, high = self._range(start, end, period)
        if math.ceil((high - low) / period) > self._limits.max_datapoints:
            raise InvalidParameterCombination(
                f"You have requested up to {math.ceil((high - low) / period)} datapoints, which "
                f"exceeds the limit of {self._limits.max_datapoints}. You may reduce the "
                "datapoints requested by increasing Period, or decreasing the time range."
            )
        series = Series.of(tenant_id, namespace, name, dimensions)
        wanted = None if unit is None else _unit(unit)
        grouped = await self._grouped(series, low, high, period, wanted)
        return [
            Datapoint(
                at,
                unit_name,
                {one: float(statistic(aggregate, one) or 0.0) for one in statistics},
                {
                    one: value
                    for one in extended
                    if (value := statistic(aggregate, one)) is not None
                },
            )
            for (at, unit_name), aggregate in sorted(grouped.items())
        ]

    def _range(self, start: datetime, end: datetime, period: int) -> tuple[int, int]:
        low, high = epoch(start), epoch(end)
        if low >= high:
            raise InvalidParameterValue(
                "The parameter StartTime must be less than the parameter EndTime."
            )
        # AWS rounds the start down to the period's grain (a minute for 60 s and above).
        grain = period if period < 60 else 60
        return low - low % grain, high

    async def _grouped(
        self, series: Series, low: int, high: int, period: int, unit: str | None
    ) -> dict[tuple[int, str], Aggregate]:
        """The series' stored periods in [low, high) grouped into ``period``-long buckets
        from ``low``, by unit: every stored resolution that divides the period counts."""
        resolutions = [r for r in RESOLUTIONS if r <= period and period % r == 0]
        points = await self.store.read(series, resolutions, low, high)
        buckets: dict[tuple[int, str], list[Aggregate]] = {}
        for point in points:
            if unit is not None and point.unit != unit:
                continue
            at = low + (point.start - low) // period * period
            buckets.setdefault((at, point.unit), []).append(point.aggregate)
        grouped: dict[tuple[int, str], Aggregate] = {}
        for key, aggregates in buckets.items():
            merged = merge_all(aggregates)
            if merged is not None:
                grouped[key] = merged
        return grouped

    async def period_values(
        self,
        series: Series,
        start: int,
        periods: int,
        period: int,
        stat: str,
        unit: str | None,
    ) -> list[float | None]:
        """An alarm's reading (decision 0177): ``stat`` of each of ``periods`` periods from
        ``start``, oldest first; None for a period without datapoints (or whose percentile
        is unknown). Without a unit every unit's datapoints count together."""
        end = start + periods * period
        grouped = await self._grouped(series, start, end, period, unit)
        merged: dict[int, list[Aggregate]] = {}
        for (at, _), aggregate in grouped.items():
            merged.setdefault(at, []).append(aggregate)
        values: list[float | None] = []
        for at in range(start, end, period):
            held = merge_all(merged.get(at, []))
            values.append(None if held is None else statistic(held, stat))
        return values

    async def get_metric_data(
        self,
        tenant_id: str,
        queries: Sequence[DataQuery],
        start: datetime | None,
        end: datetime | None,
        *,
        scan_by: str | None = None,
        max_datapoints: int | None = None,
        next_token: str | None = None,
    ) -> tuple[list[QueryResult], str | None]:
        """The results of a page of GetMetricData, and the token of the next page. A page
        holds at most ``max_datapoints`` values across its queries; the token says where the
        next one resumes (query, then value), the values recomputed from the store."""
        limits = self._limits
        if not queries:
            raise MissingParameter("The parameter MetricDataQueries is required.")
        if len(queries) > limits.max_queries:
            raise InvalidParameterValue(
                f"The collection MetricDataQueries must not have a size greater than "
                f"{limits.max_queries}."
            )
        if start is None or end is None:
            raise MissingParameter("The parameters StartTime and EndTime are required.")
        if scan_by not in (None, "TimestampDescending", "TimestampAscending"):
            raise InvalidParameterValue(
                "The parameter ScanBy must be TimestampDescending or TimestampAscending."
            )
        budget = limits.max_data_points if max_datapoints is None else max_datapoints
        if budget <= 0 or budget > limits.max_data_points:
            raise InvalidParameterValue(
                f"The parameter MaxDatapoints must be between 1 and {limits.max_data_points}."
            )
        trees = self.check_queries(queries)
        computed = await self._compute(tenant_id, queries, trees, start, end)
        descending = scan_by != "TimestampAscending"
        if descending:
            for one in computed:
                one.timestamps.reverse()
                one.values.reverse()
        first_query, first_value = 0, 0
        if next_token is not None:
            first_query, first_value = self._resume(next_token, max(len(computed), 1))
        results: list[QueryResult] = []
        token: str | None = None
        for index in range(first_query, len(computed)):
            result = computed[index]
            skip = first_value if index == first_query else 0
            result.timestamps = result.timestamps[skip:]
            result.values = result.values[skip:]
            if len(result.values) > budget:
                result.timestamps = result.timestamps[:budget]
                result.values = result.values[:budget]
                result.status = "PartialData"
                token = _token({"q": index, "v": skip + budget})
                results.append(result)
                break
            budget -= len(result.values)
            results.append(result)
            if budget == 0 and index + 1 < len(computed):
                token = _token({"q": index + 1, "v": 0})
                break
        return results, token

    def check_queries(self, queries: Sequence[DataQuery]) -> dict[str, tuple[Node, str]]:
        """The checks of a request's queries (GetMetricData's, a math alarm's Metrics): Ids,
        MetricStats, expressions parsed; the expressions' trees by Id."""
        ids = [q.id for q in queries]
        if len(set(ids)) != len(ids):
            raise InvalidParameterValue("The Ids of MetricDataQueries must be unique.")
        trees: dict[str, tuple[Node, str]] = {}
        for query in queries:
            if not _QUERY_ID.match(query.id):
                raise InvalidParameterValue(
                    f"The Id {query.id[:255]!r} must start with a lowercase letter and hold "
                    "only letters, digits and underscores."
                )
            if query.expression is not None:
                if query.period:
                    _period(query.period)
                trees[query.id] = (self._parse(query.expression), query.expression)
                continue
            _period(query.period)
            _text("MetricStat.Metric.Namespace", query.namespace, 255)
            _text("MetricStat.Metric.MetricName", query.name, 255)
            statistic(Aggregate(1, 0, 0, 0), query.stat)  # refuses an unknown statistic
        if trees and not any(q.return_data for q in queries):
            raise InvalidParameterValue("At least one query must have ReturnData true.")
        return trees

    async def expression_values(
        self, tenant_id: str, queries: Sequence[DataQuery], start: int, periods: int, period: int
    ) -> list[float | None]:
        """A metric math alarm's reading (decision 0183): the value of its one ReturnData
        query at each of ``periods`` periods from ``start``, oldest first (None: no value)."""
        trees = self.check_queries(queries)
        low = datetime.fromtimestamp(start, UTC)
        high = datetime.fromtimestamp(start + periods * period, UTC)
        results = await self._compute(tenant_id, queries, trees, low, high, searching=False)
        if len(results) != 1:
            raise InvalidParameterValue("An alarm's expression must give one time series.")
        held = dict(zip(results[0].timestamps, results[0].values, strict=True))
        return [held.get(at) for at in range(start, start + periods * period, period)]

    @staticmethod
    def _resume(token: str, queries: int) -> tuple[int, int]:
        try:
            place = _untoken(token)
            if not isinstance(place, dict):
                raise ValueError(token)
            index, value = int(place["q"]), int(place["v"])
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidNextToken("The NextToken is not valid.") from exc
        if not 0 <= index < queries or value < 0:
            raise InvalidNextToken("The NextToken is not valid for these queries.")
        return index, value

    def _parse(self, expression: str) -> Node:
        limits = self._limits
        return parse(expression, max_length=limits.math_max_length, max_depth=limits.math_max_depth)

    async def _search(
        self, tenant_id: str, search: Search, start: datetime, end: datetime
    ) -> tuple[SeriesArray, bool]:
        async def read(series: Series) -> dict[int, float]:
            query = DataQuery(
                "search",
                series.namespace,
                series.name,
                series.dimensions,
                search.period,
                search.stat,
            )
            result = await self._query(tenant_id, query, start, end, descending=False)
            return dict(zip(result.timestamps, result.values, strict=True))

        limits = self._limits
        return await search_series(
            self.store, tenant_id, search, read, page=limits.list_page, most=limits.math_max_series
        )

    async def _compute(
        self,
        tenant_id: str,
        queries: Sequence[DataQuery],
        trees: dict[str, tuple[Node, str]],
        start: datetime,
        end: datetime,
        *,
        searching: bool = True,
    ) -> list[QueryResult]:
        """Every query's results, oldest first, in the request's order: the MetricStat ones
        read (all of them when an expression may name them), then each expression evaluated
        over them (an array gives one result a series, under the expression's Id)."""
        series: dict[str, TimeSeries] = {}
        by_id: dict[str, QueryResult] = {}
        for query in queries:
            if query.expression is None and (query.return_data or trees):
                result = await self._query(tenant_id, query, start, end, descending=False)
                by_id[query.id] = result
                series[query.id] = TimeSeries(
                    result.label,
                    query.period,
                    dict(zip(result.timestamps, result.values, strict=True)),
                )
        searched: dict[Call, SeriesArray] = {}
        cut = False
        for query in queries if searching else ():
            if query.expression is None:
                continue
            for call, search in searches_in(trees[query.id][0], query.period or 300):
                _period(search.period)
                statistic(Aggregate(1, 0, 0, 0), search.stat)  # refuses an unknown statistic
                if call not in searched:
                    searched[call], bounded = await self._search(tenant_id, search, start, end)
                    cut = cut or bounded
        for query in queries:  # alarms' too: a band is their threshold (decision 0189)
            if query.expression is None:
                continue
            for call, ref, width in band_calls(trees[query.id][0]):
                if self.bands is None:
                    raise InvalidParameterValue(f"{BAND} is not served here (decision 0189).")
                if call not in searched:
                    period = query.period or next(iter(s.period for s in series.values()), 60)
                    low, high = self._range(start, end, period)
                    searched[call] = await self.bands.band(
                        tenant_id, ref, width, queries, low, high, period
                    )
            for call, rule, name in insight_calls(*trees[query.id]):  # decision 0272
                if self.insights is None:
                    raise InvalidParameterValue(f"{INSIGHT} is not served here (decision 0272).")
                period = query.period or next(iter(s.period for s in series.values()), 60)
                low, high = self._range(start, end, period)
                found = await self.insights.rule_metric(tenant_id, rule, name, low, high, period)
                searched[call] = SeriesArray([TimeSeries(f"{rule} {name}", period, found)])
        computed: list[QueryResult] = []
        for query in queries:
            if not query.return_data:
                continue
            if query.expression is None:
                computed.append(by_id[query.id])
                continue
            period = query.period or next(iter(s.period for s in series.values()), 60)
            low, high = self._range(start, end, period)
            context = MathContext(
                low,
                high,
                period,
                series,
                trees,
                max_series=self._limits.math_max_series,
                max_depth=self._limits.math_max_depth,
                searched=searched,
            )
            value = context.value_of(query.id)
            messages = [("ArithmeticError", text) for text in sorted(context.messages)]
            if cut and any(call in searched for call, _ in searches_in(trees[query.id][0], 0)):
                messages.append(
                    (
                        "MaxQueryTimeSeriesExceeded",
                        "The SEARCH matched more series than metrics_math_max_series, or more "
                        "than it looks at; the first ones are answered.",
                    )
                )
            for one in as_series(value, context, query.label or query.id, period):
                ordered = one.ordered()
                computed.append(
                    QueryResult(
                        query.id,
                        one.label,
                        [at for at, _ in ordered],
                        [v for _, v in ordered],
                        messages=list(messages),
                    )
                )
        return computed

    async def _query(
        self, tenant_id: str, query: DataQuery, start: datetime, end: datetime, descending: bool
    ) -> QueryResult:
        low, high = self._range(start, end, query.period)
        series = Series.of(tenant_id, query.namespace, query.name, query.dimensions)
        wanted = None if query.unit is None else _unit(query.unit)
        grouped = await self._grouped(series, low, high, query.period, wanted)
        # One value a period: the units of a period merged (a query asks for one metric).
        by_time: dict[int, list[Aggregate]] = {}
        for (at, _), aggregate in grouped.items():
            by_time.setdefault(at, []).append(aggregate)
        result = QueryResult(query.id, query.label or query.name)
        for at in sorted(by_time, reverse=descending):
            merged = merge_all(by_time[at])
            value = None if merged is None else statistic(merged, query.stat)
            if value is not None:
                result.timestamps.append(at)
                result.values.append(value)
        return result

    async def list_metrics(
        self,
        tenant_id: str,
        namespace: str | None,
        name: str | None,
        filters: Sequence[DimensionFilter],
        *,
        recently_active: str | None = None,
        next_token: str | None = None,
    ) -> tuple[list[Series], str | None]:
        if len(filters) > 10:
            raise InvalidParameterValue("At most 10 dimension filters may be given.")
        for one in filters:
            _text("Dimensions.member.Name", one.name, 255)
        if recently_active not in (None, "PT3H"):
            raise InvalidParameterValue("The parameter RecentlyActive must be PT3H.")
        after: tuple[str, str, str] | None = None
        if next_token is not None:
            try:
                place = _untoken(next_token)
                if not isinstance(place, list) or len(place) != 3:
                    raise ValueError(next_token)
                after = (str(place[0]), str(place[1]), str(place[2]))
            except ValueError as exc:
                raise InvalidParameterValue("The parameter NextToken is not valid.") from exc
        active = None if recently_active is None else epoch(self._clock()) - 3 * 3600
        page = self._limits.list_page
        found: list[Series] = []
        # Dimension filters are applied here, over pages of the store; a few store pages at
        # most per call, so that a filter matching little answers a short page and a token.
        for _ in range(8):
            chunk = await self.store.list_series(tenant_id, namespace, name, after, active, page)
            for stored in chunk:
                after = _key_of(stored)
                if _matches(stored.series, filters):
                    found.append(stored.series)
                    if len(found) == page:
                        return found, _token(list(after))
            if len(chunk) < page:
                return found, None
        return found, None if after is None else _token(list(after))

    # --- retention ---------------------------------------------------------------------------

    async def roll_up(self, batch: int) -> int:
        """One pass of the retention roll-up: each resolution's periods older than its
        retention merged into the next resolution (the coarsest deleted), and the series
        not put for 455 days forgotten. The number of periods moved."""
        now = epoch(self._clock())
        moved = 0
        for finer, coarser in zip(RESOLUTIONS, (*RESOLUTIONS[1:], None), strict=True):
            cutoff = now - RETENTION[finer]
            # Whole coarse periods only: a coarse period is never part rolled, part not.
            if coarser is not None:
                cutoff -= cutoff % coarser
            while True:
                done = await self.store.roll_up(finer, coarser, cutoff, batch)
                moved += done
                if done < batch:
                    break
        while await self.store.forget_series(now - RETENTION[3600], batch) == batch:
            pass
        return moved


def _key_of(stored: StoredSeries) -> tuple[str, str, str]:
    s = stored.series
    return (s.namespace, s.name, s.dimensions_hash)


def _matches(series: Series, filters: Iterable[DimensionFilter]) -> bool:
    held = dict(series.dimensions)
    return all(
        one.name in held and (one.value is None or held[one.name] == one.value) for one in filters
    )
