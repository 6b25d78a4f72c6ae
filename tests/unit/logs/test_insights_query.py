"""The Logs Insights subset (decision 0186, session-48 addendum): the parser's pipeline and
its refusals in AWS's words with their offsets; each command and aggregation run over
records; JSON messages' fields discovered as AWS does; the bounds that fail a query rather
than let it grow."""

from __future__ import annotations

import json

import pytest

from andromede.logs.insights_query import (
    Aggregate,
    Call,
    Compare,
    Field,
    Filter,
    Like,
    Limit,
    Literal,
    Logical,
    MalformedQuery,
    Not,
    Period,
    Sort,
    Stats,
    parse_query,
)
from andromede.logs.insights_run import QueryRun, QueryTooLarge, event_record, format_value

T0 = 1_800_000_000_000  # 2027-01-15 08:00:00 UTC


def run(query: str, messages: list[str], limit: int = 1000, **bounds: int) -> list[dict[str, str]]:
    job = QueryRun(
        parse_query(query), limit, bounds.get("max_groups", 100), bounds.get("max_rows", 1000)
    )
    for n, message in enumerate(messages):
        job.feed(event_record("111", "/g", f"s{n % 2}", T0 + n * 20_000, T0, message, n), 10)
    return [dict(row) for row in job.rows()]


def test_the_pipeline_parsed() -> None:
    query = parse_query(
        'filter (a = 1 or b != "x") and not c like /er+/ | stats count(*) as n, '
        "pct(t, 90) by bin(5m), host | sort n desc | limit 3"
    )
    condition, stats, sort, limit = query.commands
    assert isinstance(condition, Filter)
    assert condition.condition == Logical(
        "and",
        Logical(
            "or",
            Compare("=", Field("a"), Literal(1)),
            Compare("!=", Field("b"), Literal("x")),
        ),
        Not(Like(Field("c"), condition.condition.right.operand.pattern)),  # type: ignore[union-attr]
    )
    count, pct = Aggregate("count", None), Aggregate("pct", Field("t"), 90.0, 1)
    assert stats == Stats(
        (("n", count), ("pct(t, 90)", pct)),
        (("bin(5m)", Call("bin", (Period(5, "m"),))), ("host", Field("host"))),
        (count, pct),
    )
    assert sort == Sort((("n", True),)) and limit == Limit(3)


@pytest.mark.parametrize(
    ("query", "message", "start"),
    [
        ("fields", "unexpected symbol found <EOF> at line 1 and position 7", 6),
        ("bogus x", "unexpected symbol found bogus at line 1 and position 1", 0),
        ("fields a | oops", "unexpected symbol found oops at line 1 and position 12", 11),
        ("stats median(x)", "unexpected symbol found median at line 1 and position 7", 6),
        ("stats x", "unexpected symbol found x at line 1 and position 7", 6),
        ("fields count(x)", "unexpected symbol found count at line 1 and position 8", 7),
        ("stats sum(count(x))", "unexpected symbol found count at line 1 and position 11", 10),
        ("filter a like", "unexpected symbol found <EOF> at line 1 and position 14", 13),
        ("filter x in [1,", "unexpected symbol found <EOF> at line 1 and position 16", 15),
        ("stats count(*) by bin(0m)", "unexpected symbol found 0m at line 1 and position 23", 22),
        ("fields a | limit 0", "limit must be between 1 and 100000 at line 1 and position 18", 17),
        ("filter a ~ b", "unexpected symbol found ~ at line 1 and position 10", 9),
        ("filter nosuch(a)", "unexpected symbol found nosuch at line 1 and position 8", 7),
    ],
)
def test_malformed_queries_in_aws_words(query: str, message: str, start: int) -> None:
    with pytest.raises(MalformedQuery) as caught:
        parse_query(query)
    assert (caught.value.message, caught.value.start) == (message, start)


def test_a_refusal_on_a_later_line() -> None:
    with pytest.raises(MalformedQuery) as caught:
        parse_query("fields a\n| sort a\n| oops")
    assert caught.value.message == "unexpected symbol found oops at line 3 and position 3"
    assert caught.value.start == 20


def test_other_refusals() -> None:
    for query in ("", "  ", "x" * 10_001, "stats count(*) | stats count(*) | stats count(*)"):
        with pytest.raises(MalformedQuery):
            parse_query(query)
    with pytest.raises(MalformedQuery, match="2 wildcards but 1 names"):
        parse_query('parse @message "a*b*" as x')
    with pytest.raises(MalformedQuery, match="invalid regular expression"):
        parse_query("filter a like /(/")


def test_the_consoles_queries() -> None:
    lines = [json.dumps({"level": lv, "ms": n}) for n, lv in enumerate(["INFO", "ERROR"] * 3)]
    query = (
        "# the console's default, with a comment\n"
        "fields @timestamp, @message, @logStream, @log\n| sort @timestamp desc\n| limit 20"
    )
    rows = run(query, lines)
    assert [r["@timestamp"][-12:] for r in rows][:2] == ["08:01:40.000", "08:01:20.000"]
    assert list(rows[0]) == ["@timestamp", "@message", "@logStream", "@log", "@ptr"]
    assert run("stats count(*) by @logStream", lines) == [
        {"@logStream": "s0", "count(*)": "3"},
        {"@logStream": "s1", "count(*)": "3"},
    ]
    assert len(run("filter @message like /ERROR/", lines)) == 3


def test_fields_and_json_discovery() -> None:
    message = json.dumps({"a": {"b": {"c": 7}}, "tags": ["x", "y"], "ok": True, "none": None})
    [row] = run("fields @timestamp, a.b.c, tags.1, ok, none, @logStream", [message])
    assert row == {
        "@timestamp": "2027-01-15 08:00:00.000",
        "a.b.c": "7",
        "tags.1": "y",
        "ok": "true",
        "@logStream": "s0",
        "@ptr": row["@ptr"],
    }
    # Without fields or display: the standard fields and every discovered one.
    [row] = run("filter ispresent(a.b.c)", [message, "plain"])
    assert list(row) == ["@timestamp", "@message", "@logStream", "@log", "a.b.c", "tags.0",
                         "tags.1", "ok", "@ptr"]  # fmt: skip
    assert row["@log"] == "111:/g"


def test_filter_comparisons_like_in_and_functions() -> None:
    messages = [json.dumps({"n": n, "level": lv}) for n, lv in enumerate(["INFO", "ERROR", "warn"])]
    assert [r["n"] for r in run("filter n >= 1 | fields n", messages)] == ["1", "2"]
    assert [r["n"] for r in run('filter level = "ERROR" or n = 0 | fields n', messages)] == [
        "0",
        "1",
    ]
    assert [r["n"] for r in run("filter level like /(?i)warn|error/ | fields n", messages)] == [
        "1",
        "2",
    ]
    assert [r["n"] for r in run('filter level like "RR" | fields n', messages)] == ["1"]
    assert [r["n"] for r in run('filter level not like "RR" | fields n', messages)] == ["0", "2"]
    assert [r["n"] for r in run('filter level in ["INFO", "warn"] | fields n', messages)] == [
        "0",
        "2",
    ]
    assert [r["n"] for r in run("filter n not in [0, 2] | fields n", messages)] == ["1"]
    assert [r["n"] for r in run("filter not ispresent(missing) and n * 2 > 3 | fields n",
                                messages)] == ["2"]  # fmt: skip
    assert run("filter isempty(missing) and n = 0 | fields tolower(level), strlen(level)",
               messages)[0] == {"tolower(level)": "info", "strlen(level)": "4",
                                "@ptr": run("fields n", messages)[0]["@ptr"]}  # fmt: skip
    assert run("filter missing > 0", messages) == []


def test_parse_glob() -> None:
    lines = ["user=ann action=login took 12ms", "user=bob action=logout took 3ms", "noise"]
    rows = run(
        'parse @message "user=* action=* took *ms" as user, action, ms | filter ms > 5 '
        "| display user, action, ms",
        lines,
    )
    # @ptr comes with every row of a query without stats, as AWS answers it.
    assert [{k: v for k, v in r.items() if k != "@ptr"} for r in rows] == [
        {"user": "ann", "action": "login", "ms": "12"}
    ]


def test_stats_aggregations_by_field_and_bin() -> None:
    messages = [json.dumps({"host": h, "t": t}) for h, t in
                [("a", 10), ("b", 20), ("a", 30), ("a", 40), ("b", 5)]]  # fmt: skip
    rows = run(
        "stats count(*), count(t), sum(t), avg(t), min(t), max(t), pct(t, 50) by host",
        [*messages, "no json"],
    )
    assert rows == [
        {"count(*)": "1", "count(t)": "0"},  # the event without a host: its own group, host absent
        {"host": "a", "count(*)": "3", "count(t)": "3", "sum(t)": "80",
         "avg(t)": "26.666666666666668", "min(t)": "10", "max(t)": "40", "pct(t, 50)": "30"},
        {"host": "b", "count(*)": "2", "count(t)": "2", "sum(t)": "25", "avg(t)": "12.5",
         "min(t)": "5", "max(t)": "20", "pct(t, 50)": "5"},
    ]  # fmt: skip
    # Events 20 s apart: three in each minute.
    rows = run("stats count(*) as n by bin(1m) | sort n asc", messages)
    assert rows == [
        {"bin(1m)": "2027-01-15 08:01:00.000", "n": "2"},
        {"bin(1m)": "2027-01-15 08:00:00.000", "n": "3"},
    ]
    assert run("stats avg(t) as mean | filter mean > 100", messages) == []


def test_sort_limit_dedup() -> None:
    messages = [json.dumps({"k": k, "v": v}) for k, v in [("x", 3), ("y", 1), ("x", 2), ("z", 5)]]
    assert [r["v"] for r in run("fields v | sort v", messages)] == ["5", "3", "2", "1"]
    assert [r["v"] for r in run("fields v | sort v asc | limit 2", messages)] == ["1", "2"]
    deduplicated = run("fields k, v | sort v desc | dedup k", messages)
    assert [r["v"] for r in deduplicated] == ["5", "3", "1"]
    assert [r["v"] for r in run("fields v | limit 3 | sort v asc", messages)] == ["1", "2", "3"]
    assert len(run("fields v", messages, limit=2)) == 2
    # A sort followed only by limit keeps the rows it answers, whatever the events' count.
    many = [json.dumps({"v": n}) for n in range(500)]
    assert [r["v"] for r in run("sort v desc | limit 2 | fields v", many, max_rows=10)] == [
        "499",
        "498",
    ]


def test_bounds_fail_the_query() -> None:
    many = [json.dumps({"v": n}) for n in range(50)]
    with pytest.raises(QueryTooLarge):
        run("stats count(*) by v", many, max_groups=10)
    with pytest.raises(QueryTooLarge):
        run("fields v | dedup v", many, max_rows=10)
    with pytest.raises(QueryTooLarge):
        run("stats pct(v, 50)", many, max_rows=10)


def test_statistics_and_early_end() -> None:
    job = QueryRun(parse_query("filter v > 1 | limit 2"), 1000, 10, 10)
    for n in range(10):
        job.feed(event_record("1", "/g", "s", T0 + n, T0, json.dumps({"v": n}), n), 100)
    assert job.done
    assert (job.stats.records_scanned, job.stats.records_matched) == (10, 2)
    assert job.stats.bytes_scanned == 1000
    assert format_value(2.5) == "2.5" and format_value(3.0) == "3"
