"""Metric math (decision 0183): the tokenizer, the parser's precedence and its errors with
positions, each function on small series (AWS's documented examples as vectors), alignment
and FILL, and GetMetricData with expressions over the in-memory store."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from andromede.metrics.errors import InvalidParameterValue
from andromede.metrics.math_eval import (
    ARITHMETIC_ERROR,
    MathContext,
    SeriesArray,
    TimeSeries,
    Value,
    as_series,
)
from andromede.metrics.math_parse import Binary, Call, Keyword, Number, Ref, parse, tokenize
from andromede.metrics.service import DataQuery, MetricDatum, MetricLimits, MetricsService
from andromede.metrics.store import MemoryMetricStore

T0 = 1_764_936_000  # 2025-12-05T12:00:00Z, a Friday


def series(*values: float | None, label: str = "m", period: int = 60) -> TimeSeries:
    return TimeSeries(
        label, period, {T0 + i * period: v for i, v in enumerate(values) if v is not None}
    )


def run(text: str, periods: int = 5, **metrics: TimeSeries) -> Value:
    context = MathContext(T0, T0 + periods * 60, 60, metrics, {"e": (parse(text), text)})
    return context.value_of("e")


def values(value: Value) -> list[float | None]:
    assert isinstance(value, TimeSeries)
    return [value.points.get(T0 + i * value.period) for i in range(5)]


def test_tokens_and_their_positions() -> None:
    tokens = tokenize('100*m1 / METRICS("err") >= 2.5e1')
    assert [(t.kind, t.text, t.at) for t in tokens] == [
        ("number", "100", 1),
        ("op", "*", 4),
        ("name", "m1", 5),
        ("op", "/", 8),
        ("name", "METRICS", 10),
        ("op", "(", 17),
        ("string", "err", 18),
        ("op", ")", 23),
        ("op", ">=", 25),
        ("number", "2.5e1", 28),
        ("end", "", 33),
    ]


def test_precedence_and_associativity() -> None:
    assert parse("1+2*3") == Binary("+", Number(1), Binary("*", Number(2), Number(3)))
    assert parse("2^3^2") == Binary("^", Number(2), Binary("^", Number(3), Number(2)))
    assert parse("10-4-3") == Binary("-", Binary("-", Number(10), Number(4)), Number(3))
    assert parse("m1 > 1 AND m2 < 2 || m3 == 0") == Binary(
        "OR",
        Binary(
            "AND",
            Binary(">", Ref("m1", 1), Number(1)),
            Binary("<", Ref("m2", 12), Number(2)),
        ),
        Binary("==", Ref("m3", 22), Number(0)),
    )
    assert parse("FILL(m1, REPEAT)") == Call("FILL", (Ref("m1", 6), Keyword("REPEAT", 10)), 1)
    assert run("-2^2") == -4.0  # the power binds tighter than the unary minus
    assert run("(1+2)*3") == 9.0 and run("2*-3") == -6.0 and run("NOT 0") == 1.0


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("m1 +", "at position 5"),
        ("(m1", "at position 4"),
        ("m1 $ 2", "Unrecognized character '$' at position 4"),
        ("SUM(m1,)", "at position 8"),
        ("m1 m2", "Unexpected token, found 'm2' at position 4"),
        ("", "must not be empty"),
    ],
)
def test_syntax_errors_name_their_position(text: str, where: str) -> None:
    with pytest.raises(InvalidParameterValue, match=where.replace("(", r"\(").replace("$", r"\$")):
        parse(text)


def test_length_and_depth_are_bounded() -> None:
    with pytest.raises(InvalidParameterValue, match="at most 10 characters"):
        parse("m1+m2+m3+m4", max_length=10)
    with pytest.raises(InvalidParameterValue, match="deeper than 3 levels"):
        parse("((((m1))))", max_depth=3)
    parse("(((m1)))", max_depth=3)
    with pytest.raises(InvalidParameterValue, match="too deep to parse"):
        parse("(" * 2000 + "m1" + ")" * 2000, max_length=5000, max_depth=5000)


def test_arithmetic_aligns_timestamps_and_broadcasts_scalars() -> None:
    errors, requests = series(1, 2, None, 4), series(10, 0, 5, 8)
    # AWS's error rate: a timestamp missing from one series has no result; x/0 is dropped.
    context = MathContext(
        T0, T0 + 300, 60, {"m1": errors, "m2": requests}, {"e": (parse("100*m1/m2"), "")}
    )
    assert values(context.value_of("e")) == [10.0, None, None, 50.0, None]
    assert context.messages == {ARITHMETIC_ERROR}
    assert values(run("m1 + 1", m1=series(1, 2))) == [2.0, 3.0, None, None, None]
    assert values(run("m1 > 1", m1=series(1, 2))) == [0.0, 1.0, None, None, None]
    assert values(run("2 ^ m1", m1=series(1, 3))) == [2.0, 8.0, None, None, None]


def test_reductions_of_a_series_and_of_an_array() -> None:
    m1, m2 = series(1, 2, 3), series(10, None, 30)
    assert run("AVG(m1)", m1=m1) == 2.0 and run("MAX(m1)", m1=m1) == 3.0
    assert run("MIN(m1)", m1=m1) == 1.0 and run("SUM(m1)", m1=m1) == 6.0
    assert run("STDDEV(m1)", m1=m1) == pytest.approx(math.sqrt(2 / 3))
    assert run("DATAPOINT_COUNT(m1)", m1=m1) == 3.0
    # Of an array: each timestamp across the series that hold it.
    assert values(run("SUM(METRICS())", m1=m1, m2=m2)) == [11.0, 2.0, 33.0, None, None]
    assert values(run("MAX([m1, m2])", m1=m1, m2=m2)) == [10.0, 2.0, 30.0, None, None]
    assert values(run("AVG(METRICS())", m1=m1, m2=m2)) == [5.5, 2.0, 16.5, None, None]
    # AWS's example: m1 - AVG(m1), each point's distance from the series' mean.
    assert values(run("m1 - AVG(m1)", m1=m1)) == [-1.0, 0.0, 1.0, None, None]


def test_point_functions() -> None:
    m1 = series(-1.5, 2.5, 100)
    assert values(run("ABS(m1)", m1=m1)) == [1.5, 2.5, 100.0, None, None]
    assert values(run("CEIL(m1)", m1=m1)) == [-1.0, 3.0, 100.0, None, None]
    assert values(run("FLOOR(m1)", m1=m1)) == [-2.0, 2.0, 100.0, None, None]
    assert values(run("LOG10(m1)", m1=m1)) == [None, pytest.approx(0.39794), 2.0, None, None]
    assert values(run("LOG(m1)", m1=m1))[2] == pytest.approx(math.log(100))


def test_differences_rates_and_running_sums() -> None:
    m1 = series(1, 4, None, 10)
    assert values(run("DIFF(m1)", m1=m1)) == [None, 3.0, None, 6.0, None]
    assert values(run("DIFF_TIME(m1)", m1=m1)) == [None, 60.0, None, 120.0, None]
    assert values(run("RATE(m1)", m1=m1)) == [None, 0.05, None, 0.05, None]
    assert values(run("RUNNING_SUM(m1)", m1=m1)) == [1.0, 5.0, None, 15.0, None]


def test_fill_with_a_value_repeat_and_linear() -> None:
    m1 = series(None, 2, None, None, 8)
    assert values(run("FILL(m1, 0)", m1=m1)) == [0.0, 2.0, 0.0, 0.0, 8.0]
    assert values(run("FILL(m1, REPEAT)", m1=m1)) == [None, 2.0, 2.0, 2.0, 8.0]
    assert values(run("FILL(m1, LINEAR)", m1=m1)) == [None, 2.0, 4.0, 6.0, 8.0]
    assert values(run("FILL(m1, m2)", m1=m1, m2=series(9, 9, 9))) == [9.0, 2.0, 9.0, None, 8.0]
    filled = run("FILL(METRICS(), 0)", m1=m1, m2=series(1))
    assert isinstance(filled, SeriesArray) and [len(s.points) for s in filled.items] == [5, 5]
    with pytest.raises(InvalidParameterValue, match="REPEAT, LINEAR"):
        run("FILL(m1, SIDEWAYS)", m1=m1)


def test_if_picks_per_point() -> None:
    m1, m2 = series(1, 5, 3), series(10, 20, 30)
    # AWS: IF(m1 > 2, m2) keeps m2 where the condition holds and drops the rest.
    assert values(run("IF(m1 > 2, m2)", m1=m1, m2=m2)) == [None, 20.0, 30.0, None, None]
    assert values(run("IF(m1 > 2, m2, 0)", m1=m1, m2=m2)) == [0.0, 20.0, 30.0, None, None]
    assert run("IF(1, 2, 3)") == 2.0


def test_arrays_metrics_filter_sort_slice_first_last() -> None:
    metrics = {"errors_a": series(1, 1), "errors_b": series(5, 5), "latency": series(100)}
    chosen = run('METRICS("errors")', **metrics)
    assert isinstance(chosen, SeriesArray) and len(chosen.items) == 2
    assert values(run('FIRST(SORT(METRICS("errors"), SUM, DESC))', **metrics))[0] == 5.0
    assert values(run('LAST(SORT(METRICS("errors"), AVG, DESC))', **metrics))[0] == 1.0
    top = run("SORT(METRICS(), MAX, DESC, 1)", **metrics)
    assert isinstance(top, SeriesArray) and values(top.items[0])[0] == 100.0
    sliced = run("SLICE(METRICS(), 1, 2)", **metrics)
    assert isinstance(sliced, SeriesArray) and values(sliced.items[0])[0] == 5.0
    empty = run("REMOVE_EMPTY([m1, m2])", m1=series(), m2=series(3))
    assert isinstance(empty, SeriesArray) and len(empty.items) == 1
    scaled = run("METRICS() * 2", m1=series(1), m2=series(3))
    assert isinstance(scaled, SeriesArray) and [values(s)[0] for s in scaled.items] == [2.0, 6.0]
    with pytest.raises(InvalidParameterValue, match="at most 1 time series"):
        MathContext(
            T0, T0 + 60, 60, {"a": series(1), "b": series(2)}, {"e": (parse("METRICS()"), "")}, 1
        ).value_of("e")


def test_time_functions_and_constants() -> None:
    m1 = series(7, 8)  # Friday 2025-12-05 12:00 and 12:01 UTC
    assert values(run("MINUTE(m1)", m1=m1))[:2] == [0.0, 1.0]
    assert values(run("HOUR(m1)", m1=m1))[0] == 12.0
    assert values(run("DAY(m1)", m1=m1))[0] == 5.0  # ISO weekday: Friday
    assert values(run("DATE(m1)", m1=m1))[0] == 5.0
    assert values(run("MONTH(m1)", m1=m1))[0] == 12.0
    assert values(run("YEAR(m1)", m1=m1))[0] == 2025.0
    assert values(run("EPOCH(m1)", m1=m1))[1] == float(T0 + 60)
    assert run("PERIOD(m1)", m1=m1) == 60.0
    assert values(run("TIME_SERIES(42)")) == [42.0] * 5
    # AWS's example (the June 2021 functions' blog): Monday to Friday, 9:00 to 17:00 only.
    business = "IF((DAY(m1)<6 AND (HOUR(m1)>=9 AND HOUR(m1)<17)),m1)"
    assert values(run(business, m1=m1))[:2] == [7.0, 8.0]
    saturday = TimeSeries("m", 3600, {T0 + 86400: 1.0, T0 + 86400 + 6 * 3600: 2.0})
    assert run(business, m1=saturday) == TimeSeries("m", 3600, {})
    evening = TimeSeries("m", 3600, {T0 + 5 * 3600: 3.0})  # Friday 17:00
    assert run(business, m1=evening) == TimeSeries("m", 3600, {})


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("SEARCH('{AWS/EC2} CPU', 'Average', 300)", "not supported in an alarm"),
        ("INSIGHT_RULE_METRIC(r, 'Sum')", "not served here"),  # not read before: no service
        ("SERVICE_QUOTA(m1)", "not supported here"),
        ("NOPE(m1)", "Unknown function NOPE at position 1"),
        ("ABS(m1, m1)", "takes 1 arguments"),
        ("zz + 1", "unknown Id zz"),
        ("METRICS() + METRICS()", "two arrays"),
        ("'text' + 1", "not strings"),
    ],
)
def test_evaluation_errors(text: str, why: str) -> None:
    with pytest.raises(InvalidParameterValue, match=why):
        run(text, m1=series(1))


def test_expressions_name_expressions() -> None:
    text = {"e1": "m1 * 2", "e2": "e1 + e1", "e3": "DIFF(e2)"}
    context = MathContext(
        T0,
        T0 + 300,
        60,
        {"m1": series(1, 2, 4)},
        {key: (parse(value), value) for key, value in text.items()},
    )
    assert values(context.value_of("e3")) == [None, 4.0, 8.0, None, None]


def test_chains_of_expressions_and_bad_numbers_are_refused() -> None:
    chain = {f"e{i}": (parse(f"e{i + 1} + 1"), "") for i in range(60)}
    chain["e60"] = (parse("m1"), "m1")
    context = MathContext(T0, T0 + 60, 60, {"m1": series(1)}, chain, max_depth=50)
    with pytest.raises(InvalidParameterValue, match="more than 50 deep"):
        context.value_of("e0")
    assert (
        values(MathContext(T0, T0 + 60, 60, {"m1": series(1)}, chain, max_depth=70).value_of("e0"))[
            0
        ]
        == 61.0
    )
    with pytest.raises(InvalidParameterValue, match="finite number"):
        run("SLICE(METRICS(), 0/0)", m1=series(1))


def test_an_expression_cycle_is_refused() -> None:
    context = MathContext(
        T0, T0 + 60, 60, {}, {"e1": (parse("e2 + 1"), "e2 + 1"), "e2": (parse("e1"), "e1")}
    )
    with pytest.raises(InvalidParameterValue, match="cycle"):
        context.value_of("e1")


NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


async def test_get_metric_data_with_expressions() -> None:
    metrics = MetricsService(MemoryMetricStore(), limits=MetricLimits(), clock=lambda: NOW)
    start = NOW - timedelta(minutes=3)
    await metrics.put_metric_data(
        "t1",
        "App",
        [MetricDatum("Errors", timestamp=start + timedelta(minutes=i), value=i) for i in range(3)]
        + [
            MetricDatum("Requests", timestamp=start + timedelta(minutes=i), value=10.0)
            for i in range(3)
        ],
    )
    queries = [
        DataQuery("m1", "App", "Errors", (), 60, "Sum", return_data=False),
        DataQuery("m2", "App", "Requests", (), 60, "Sum", return_data=False),
        DataQuery("rate", "", "", (), 0, "", label="Error rate", expression="100*m1/m2"),
        DataQuery("total", "", "", (), 0, "", expression="SUM(METRICS())"),
        DataQuery("each", "", "", (), 0, "", label="x2", expression="METRICS() * 2"),
    ]
    results, token = await metrics.get_metric_data(
        "t1", queries, start, NOW, scan_by="TimestampAscending"
    )
    assert token is None
    assert [(r.id, r.label, r.values) for r in results] == [
        ("rate", "Error rate", [0.0, 10.0, 20.0]),
        ("total", "total", [10.0, 11.0, 12.0]),
        ("each", "x2 Errors", [0.0, 2.0, 4.0]),
        ("each", "x2 Requests", [20.0, 20.0, 20.0]),
    ]
    # Pages run across an array's results too.
    page, token = await metrics.get_metric_data("t1", queries, start, NOW, max_datapoints=8)
    assert [r.status for r in page] == ["Complete", "Complete", "PartialData"] and token
    rest, token = await metrics.get_metric_data(
        "t1", queries, start, NOW, max_datapoints=8, next_token=token
    )
    assert [(r.id, len(r.values)) for r in rest] == [("each", 1), ("each", 3)] and token is None
    divided, _ = await metrics.get_metric_data(
        "t1", [*queries[:2], DataQuery("z", "", "", (), 0, "", expression="m1/(m2-10)")], start, NOW
    )
    assert divided[0].values == [] and divided[0].messages == [
        ("ArithmeticError", ARITHMETIC_ERROR)
    ]
    with pytest.raises(InvalidParameterValue, match="position"):
        await metrics.get_metric_data(
            "t1", [*queries[:2], DataQuery("bad", "", "", (), 0, "", expression="m1 +")], start, NOW
        )
    with pytest.raises(InvalidParameterValue, match="ReturnData"):
        await metrics.get_metric_data(
            "t1",
            [*queries[:2], DataQuery("e", "", "", (), 0, "", return_data=False, expression="m1")],
            start,
            NOW,
        )


_PIECES = [
    "m1", "m2", "e", "1", "0", "2.5", "-", "+", "*", "/", "^", "(", ")", "[", "]", ",", " ",
    "<", ">=", "==", "AND", "||", "NOT", '"m"', "SUM(", "FILL(", "REPEAT", "METRICS(", "IF(",
    "SORT(", "DESC", "AVG", "RATE(", "SLICE(", "TIME_SERIES(", "LOG(", "FIRST(", "DIFF(",
]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=25))
def test_any_text_is_evaluated_or_refused_in_cloudwatchs_words(pieces: list[str]) -> None:
    """Whatever the text, the answer is a value or InvalidParameterValue: never another
    exception (a 500), including an expression naming itself."""
    text = "".join(pieces)
    try:
        tree = parse(text, max_depth=20)
        context = MathContext(
            T0, T0 + 300, 60, {"m1": series(1, 0, 3), "m2": series(2, 2)}, {"e": (tree, text)}
        )
        value = context.value_of("e")
        as_series(value, context, "e", 60)
    except InvalidParameterValue:
        pass
