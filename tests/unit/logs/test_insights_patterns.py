"""Decision 0186's session-50 addendum: Logs Insights' ``unnest``, ``limit any`` and the
``limit`` command's bound, ``display``'s last word over ``fields``, ``lookup`` refused by
name; ``pattern`` (its output fields, clustering, determinism, bound), ``diff`` (the
compared window, each pattern's change) and ``anomaly`` (each kind served), and the
commands' refusals where they cannot stand."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from andromede.logs.insights_patterns import PatternMiner, QueryTooLarge
from andromede.logs.insights_query import MalformedQuery, parse_query
from andromede.logs.insights_run import QueryRun, compared_window, event_record

T0 = 1_800_000_000_000
WINDOW = (T0, T0 + 29_999)  # 30 slices of one second


def job(query: str, **options: int) -> QueryRun:
    return QueryRun(
        parse_query(query),
        options.get("limit", 1000),
        100,
        1000,
        options.get("max_patterns", 1000),
        WINDOW,
    )


def run(query: str, messages: list[str], **options: int) -> list[dict[str, str]]:
    query_run = job(query, **options)
    for n, message in enumerate(messages):
        query_run.feed(event_record("111", "/g", "s", T0 + n, T0, message, n), 10)
    return [{k: v for k, v in row if k != "@ptr"} for row in query_run.rows()]


# unnest, limit, display, lookup.

EVENTS = json.dumps({"events": [{"name": "exception"}, {"name": "user action"}], "n": 1})


def test_unnest_makes_a_row_per_item_as_aws_example() -> None:
    rows = run(
        "fields jsonParse(@message) as json_message | unnest json_message.events into event "
        "| display event.name",
        [EVENTS],
    )
    assert rows == [{"event.name": "exception"}, {"event.name": "user action"}]
    # The rows go on through filter and stats; the other fields come from the event.
    rows = run(
        "fields jsonParse(@message) as js | unnest js.events into e "
        '| filter e.name = "exception" | display e.name, js.n',
        [EVENTS],
    )
    assert rows == [{"e.name": "exception", "js.n": "1"}]
    rows = run(
        "fields jsonParse(@message) as js | unnest js.events into e "
        "| stats count(*) as c by e.name",
        [EVENTS, EVENTS],
    )
    assert rows == [{"e.name": "exception", "c": "2"}, {"e.name": "user action", "c": "2"}]


@pytest.mark.parametrize(
    ("message", "count"),
    [
        ('{"l": [1, "two", null, {"a": 3}]}', 3),  # null items: absent, as a JSON null
        ('{"l": {"a": 1}}', 1),  # a map is a list of one item
        ('{"l": "text"}', 1),
        ('{"l": []}', 0),  # nothing to unnest: the record goes
        ('{"other": 1}', 0),
    ],
)
def test_unnest_of_each_kind_of_value(message: str, count: int) -> None:
    rows = run("fields jsonParse(@message) as j | unnest j.l into item | display item", [message])
    assert len(rows) == count


def test_limit_any_stops_the_scan_and_the_limit_bound() -> None:
    query_run = job("filter @message like /x/ | limit any 2")
    for n in range(10):
        query_run.feed(event_record("111", "/g", "s", T0 + n, T0, f"x{n}", n), 10)
    assert query_run.done
    assert query_run.stats.records_matched == 2
    assert len(query_run.rows()) == 2
    # Anywhere in the query: the events reaching a sort stop at N too.
    sorted_run = job("fields @message | sort @message desc | limit any 3")
    for n in range(10):
        sorted_run.feed(event_record("111", "/g", "s", T0 + n, T0, f"m{n}", n), 10)
    assert sorted_run.done and len(sorted_run.rows()) == 3
    assert parse_query("limit 100000").commands[0].count == 100_000  # type: ignore[union-attr]
    with pytest.raises(MalformedQuery, match="between 1 and 100000"):
        parse_query("limit 100001")
    with pytest.raises(MalformedQuery):
        parse_query("limit any")
    # ``any`` is a field's name elsewhere.
    assert run("fields any | limit 1", ['{"any": 7}']) == [{"any": "7"}]


def test_display_is_the_last_word() -> None:
    message = '{"a": 1, "b": 2, "c": 3}'
    assert run("display a | fields b", [message]) == [{"a": "1"}]
    assert run("fields a | display b | display c", [message]) == [{"c": "3"}]
    assert run("fields a | fields b", [message]) == [{"a": "1", "b": "2"}]
    # A field computed after display is still read by what follows.
    assert run("display a | fields b * 10 as d | filter d = 20", [message]) == [{"a": "1"}]


def test_lookup_is_refused_by_name() -> None:
    with pytest.raises(MalformedQuery) as caught:
        parse_query("fields a | lookup users id OUTPUT name")
    assert caught.value.message.startswith("lookup is not supported: lookup tables")
    assert (caught.value.start, caught.value.end) == (11, 16)


# pattern.

DYNAMO = [
    "2023-01-01 19:00:01 [INFO] Calling DynamoDB to store for resource id 12342342k124-12345",
    "2023-01-01 19:00:02 [INFO] Calling DynamoDB to store for resource id 324892398123-12345",
    "2023-01-01 19:00:03 [INFO] Calling DynamoDB to store for resource id 3ff231242342-12345",
]


def test_pattern_of_aws_example() -> None:
    [row] = run("pattern @message", DYNAMO)
    assert row["@pattern"] == "<*> <*> [INFO] Calling DynamoDB to store for resource id <*>"
    assert (row["@sampleCount"], row["@ratio"], row["@severityLabel"]) == ("3", "1", "Info")
    tokens = json.loads(row["@tokens"])
    assert tokens[0] == {
        "dynamicTokenPosition": 1,
        "isDynamic": True,
        "tokenString": "<*>",
        "enumerations": {"2023-01-01": 3},
    }
    assert tokens[2] == {"isDynamic": False, "tokenString": "[INFO]"}
    assert len(tokens[-1]["enumerations"]) == 3
    assert json.loads(row["@visualization"]) == [3] + [0] * 29  # three events in 3 ms
    assert list(row) == [
        "@pattern",
        "@ratio",
        "@sampleCount",
        "@severityLabel",
        "@tokens",
        "@visualization",
    ]


def test_pattern_clusters_words_and_orders_by_count() -> None:
    messages = [
        "user alice logged in",
        "ERROR disk full on /var",
        "user bob logged in",
        "user carol logged in",
        "WARN slow request",
    ]
    rows = run("pattern @message", messages)
    assert [(r["@pattern"], r["@sampleCount"], r.get("@severityLabel")) for r in rows] == [
        ("user <*> logged in", "3", None),
        ("ERROR disk full on /var", "1", "Error"),
        ("WARN slow request", "1", "Warning"),
    ]
    assert rows[0]["@ratio"] == "0.6"
    # Deterministic: the same events make the same answer.
    assert run("pattern @message", messages) == rows
    # After pattern, its rows go through sort, filter, limit; no @ptr on them.
    asc = run("pattern @message | sort @sampleCount asc | limit 1", messages)
    assert asc[0]["@pattern"] == "ERROR disk full on /var"
    assert run('pattern @message | filter @severityLabel = "Warning"', messages) == [rows[2]]


def test_pattern_of_a_parsed_field_and_its_bound() -> None:
    rows = run(
        "filter @message like /Failed/ | parse @message 'Failed to do: *' as cause | pattern cause",
        ["Failed to do: open file 1", "Failed to do: open file 22", "ok"],
    )
    assert [(r["@pattern"], r["@sampleCount"]) for r in rows] == [("open file <*>", "2")]
    with pytest.raises(QueryTooLarge, match="more than 2 patterns"):
        run("pattern @message", ["a", "b", "c"], max_patterns=2)
    # A text of more than 100 tokens: the last holds the rest.
    [row] = run("pattern @message", [" ".join(["w"] * 150)])
    assert len(json.loads(row["@tokens"])) == 100


# diff.


def test_compared_windows() -> None:
    start = int(datetime(2026, 3, 31, 12, tzinfo=UTC).timestamp())
    assert compared_window(start, start + 599, "") == ((start - 600) * 1000, start * 1000 - 1)
    assert compared_window(start, start + 59, "day")[0] == (start - 86_400) * 1000
    assert compared_window(start, start + 59, "week")[0] == (start - 7 * 86_400) * 1000
    month = int(datetime(2026, 2, 28, 12, tzinfo=UTC).timestamp())  # 31 March: 28 February
    assert compared_window(start, start + 59, "month") == (month * 1000, (month + 60) * 1000 - 1)
    assert [type(c).__name__ for c in parse_query("diff previousWeek").commands] == ["Diff"]
    assert parse_query("diff previousMonth").commands[0].period == "month"  # type: ignore[union-attr]


def test_diff_compares_each_pattern_with_the_previous_window() -> None:
    query_run = job("filter @message not like /skip/ | diff")
    now = ["user a logged in"] * 3 + ["disk 1 full"] * 2 + ["brand new thing"]
    before = ["user b logged in"] * 1 + ["disk 9 full"] * 2 + ["gone away now"] * 4 + ["skip"]
    for n, message in enumerate(now):
        query_run.feed(event_record("111", "/g", "s", T0 + n, T0, message, n), 10)
    for n, message in enumerate(before):
        query_run.feed_previous(event_record("111", "/g", "s", T0 - 1000 + n, T0, message, n), 10)
    rows = [dict(row) for row in query_run.rows()]
    found = {
        r["@pattern"]: (r["@sampleCount"], r["@previousSampleCount"], r["@diffSampleCount"],
                        r["@diffStatus"])
        for r in rows
    }  # fmt: skip
    assert found == {
        "user a logged in": ("3", "1", "2", "Increased"),  # counted in it, unchanged
        "disk <*> full": ("2", "2", "0", "Unchanged"),
        "brand new thing": ("1", "0", "1", "New"),
        "gone away now": ("0", "4", "-4", "Gone"),
    }
    assert rows[0]["@pattern"] == "gone away now"  # the greatest change first
    # Both windows are scanned (and billed), as AWS's comparison queries are.
    assert query_run.stats.records_scanned == len(now) + len(before)
    assert query_run.stats.records_matched == len(now)
    assert [k for k, _ in query_run.rows()[0]][-4:] == [
        "@previousSampleCount",
        "@diffSampleCount",
        "@diffRatio",
        "@diffStatus",
    ]


def test_diff_never_changes_the_query_windows_patterns() -> None:
    miner = PatternMiner(10)
    miner.add("job alpha done", 0)
    miner.add_previous("job beta done")  # similar: counted in it, not merged into it
    [row] = miner.rows(diff=True)
    assert (row["@pattern"], row["@previousSampleCount"]) == ("job alpha done", 1)


# anomaly.


def test_anomaly_keeps_the_unusual_patterns() -> None:
    messages: list[tuple[int, str]] = []
    messages += [(n * 1000, f"GET /a {200 if n % 5 else 503}") for n in range(30)]  # HTTP 5xx
    messages += [(n * 1000, "heartbeat ok") for n in range(30)]  # steady: not unusual
    messages += [(29_000, "burst item") for _ in range(20)]  # a spike in the last slice
    messages += [(n * 1000, f"took {7 if n else 900} ms") for n in range(30)]  # an outlier
    query_run = job("pattern @message | anomaly")
    for n, (offset, message) in enumerate(messages):
        query_run.feed(event_record("111", "/g", "s", T0 + offset, T0, message, n), 10)
    rows = {r["@pattern"]: r for r in (dict(row) for row in query_run.rows())}
    assert set(rows) == {"GET /a <*>", "burst item", "took <*> ms"}
    assert rows["GET /a <*>"]["@anomalyType"] == "HttpErrorCode"
    assert rows["burst item"]["@anomalyType"] == "NewPattern,PatternFrequency"
    assert "20 events in the slice from" in rows["burst item"]["@anomalyDescription"]
    assert rows["took <*> ms"]["@anomalyType"] == "NumericalToken"
    assert "reached 900" in rows["took <*> ms"]["@anomalyDescription"]


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("anomaly", "reads the patterns"),
        ("pattern @message | pattern @message", "at most one pattern"),
        ("stats count(*) | pattern @message", "no stats, sort or dedup before"),
        ("sort @timestamp | diff", "no stats, sort or dedup before"),
        ("pattern @message | limit 5 | diff", "follows its pattern"),
        ("diff | pattern @message", "follows its pattern"),
        ("pattern @message | sort @sampleCount | anomaly", "follows its pattern"),
        ("diff | anomaly", "follows its pattern"),
        ("unnest a", "unexpected symbol found <EOF>"),
    ],
)
def test_refusals(query: str, words: str) -> None:
    with pytest.raises(MalformedQuery, match=words):
        parse_query(query)
