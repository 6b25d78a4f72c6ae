"""Decision 0186's session-49 addendum: more of the Logs Insights language, parsed and
evaluated — arithmetic with ``^``, ``isblank`` and ``coalesce``, the string, numeric,
datetime and IP functions, periods in every AWS unit, the new aggregations, stats items
over aggregations and ``by`` expressions, two ``stats``, partial rows — and the refusals
in AWS's words."""

from __future__ import annotations

import json

import pytest

from andromede.logs.insights_functions import Stamp, time_ceil, time_floor
from andromede.logs.insights_query import MalformedQuery, Period, parse_query
from andromede.logs.insights_run import QueryRun, QueryTooLarge, event_record

T0 = 1_800_000_000_000  # 2027-01-15 08:00:00 UTC, a Friday


def run(query: str, messages: list[str], **bounds: int) -> list[dict[str, str]]:
    job = QueryRun(
        parse_query(query), 1000, bounds.get("max_groups", 100), bounds.get("max_rows", 1000)
    )
    for n, message in enumerate(messages):
        job.feed(event_record("111", "/g", f"s{n % 2}", T0 + n * 20_000, T0, message, n), 10)
    return [{k: v for k, v in row if k != "@ptr"} for row in job.rows()]


def one(expression: str, message: dict[str, object] | None = None) -> str | None:
    """The value of one expression over one event (None: the field stays absent)."""
    [row] = run(f"fields {expression} as v", [json.dumps(message or {})])
    return row.get("v")


EVENT = {"n": -7.5, "s": "  Hello World  ", "ip": "10.1.2.3", "ip6": "2001:db8::1", "e": ""}


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("2 ^ 3", "8"),
        ("2 ^ 3 ^ 2", "512"),  # right-associative
        ("-2 ^ 2", "4"),
        ("10 % 3", "1"),
        ("7 / 2", "3.5"),
        ("1 / 0", None),
        ("(1 + 2) * 3 - 4", "5"),
        ("n * 2", "-15"),
        ("(-8) ^ 0.5", None),  # no real root
        ("10 ^ 400", None),  # no finite number
        ("3 > 2 and not 1 = 2", "1"),
        ('"abc" < "abd"', "1"),
        ("isblank(s)", "0"),
        ("isblank(e)", "1"),
        ("isblank(missing)", "1"),
        ("isempty(e)", "1"),
        ("ispresent(missing)", "0"),
        ("coalesce(missing, e, s)", ""),
        ("coalesce(missing, ip)", "10.1.2.3"),
        ("coalesce(missing)", None),
        ('concat("a", ip, missing, 1)', "a10.1.2.31"),
        ("ltrim(s)", "Hello World  "),
        ("rtrim(s)", "  Hello World"),
        ("trim(s)", "Hello World"),
        ('trim("xxhixx", "x")', "hi"),
        ("strlen(trim(s))", "11"),
        ("toupper(trim(s))", "HELLO WORLD"),
        ("tolower(trim(s))", "hello world"),
        ("substr(trim(s), 6)", "World"),
        ("substr(trim(s), 0, 5)", "Hello"),
        ("substr(trim(s), 20)", ""),
        ('replace(s, "o", "0")', "  Hell0 W0rld  "),
        ('strcontains(s, "World")', "1"),
        ('strcontains(s, "world")', "0"),
        ("strlen(missing)", None),
        ("abs(n)", "7.5"),
        ("ceil(n)", "-7"),
        ("floor(n)", "-8"),
        ("greatest(1, n, 4, missing)", "4"),
        ("least(1, n, 4)", "-7.5"),
        ("log(1)", "0"),
        ("log(0)", None),
        ("sqrt(16)", "4"),
        ("sqrt(n)", None),
        ("abs(s)", None),
        ("isValidIp(ip)", "1"),
        ("isValidIp(s)", "0"),
        ("isValidIpV4(ip6)", "0"),
        ("isValidIpV6(ip6)", "1"),
        ('isIpInSubnet(ip, "10.0.0.0/8")', "1"),
        ('isIpInSubnet(ip, "10.2.0.0/16")', "0"),
        ('isIpv4InSubnet(ip6, "0.0.0.0/0")', "0"),
        ('isIpv6InSubnet(ip6, "2001:db8::/32")', "1"),
        ('isIpInSubnet(ip, "nonsense")', "0"),
        ("fromMillis(1800000000000)", "2027-01-15 08:00:00.000"),
        ("toMillis(@timestamp)", "1800000000000"),
        ('toMillis("2027-01-15 08:00:00.000")', "1800000000000"),
        ("toMillis(fromMillis(5))", "5"),
        ("bin(1h)", "2027-01-15 08:00:00.000"),
        ("datefloor(@timestamp + 59 * 60000, 1h)", "2027-01-15 08:00:00.000"),
        ("dateceil(@timestamp + 1, 1h)", "2027-01-15 09:00:00.000"),
        ("dateceil(@timestamp, 1h)", "2027-01-15 08:00:00.000"),
        ("datefloor(@timestamp, 1w)", "2027-01-11 00:00:00.000"),  # the Monday
        ("datefloor(@timestamp, 1mo)", "2027-01-01 00:00:00.000"),
        ("dateceil(@timestamp, 1mo)", "2027-02-01 00:00:00.000"),
        ("dateceil(@timestamp, 1q)", "2027-04-01 00:00:00.000"),
        ("datefloor(@timestamp, 2yrs)", "2026-01-01 00:00:00.000"),
        ("datefloor(@timestamp, 90mins)", "2027-01-15 07:30:00.000"),
        ("datefloor(missing, 1h)", None),
        ("fromMillis(10 ^ 17)", "100000000000000000"),  # past year 9999: the number
        ("datefloor(10 ^ 17, 1y)", None),
    ],
)
def test_an_expression(expression: str, value: str | None) -> None:
    assert one(expression, EVENT) == value


def test_filters_with_the_new_functions() -> None:
    pairs = [("10.0.0.1", "/a"), ("192.168.1.9", "/B"), ("bad", "/c"), ("10.9.9.9", " ")]
    lines = [json.dumps({"ip": ip, "path": p}) for ip, p in pairs]
    kept = run('filter isIpInSubnet(ip, "10.0.0.0/8") and not isblank(path) | fields ip', lines)
    assert kept == [{"ip": "10.0.0.1"}]
    assert run("filter path =~ /^\\/[a-z]$/ | fields path", lines) == [
        {"path": "/a"},
        {"path": "/c"},
    ]
    assert run('filter tolower(path) in ["/b"] | fields ip', lines) == [{"ip": "192.168.1.9"}]
    assert run("filter isValidIp(ip) and strlen(ip) ^ 2 > 100 | fields ip", lines) == [
        {"ip": "192.168.1.9"}
    ]


def test_periods_in_every_unit() -> None:
    for text, period in [
        ("bin(250ms)", Period(250, "ms")),
        ("bin(2msecs)", Period(2, "ms")),
        ("bin(30sec)", Period(30, "s")),
        ("bin(5min)", Period(5, "m")),
        ("bin(2hrs)", Period(2, "h")),
        ("bin(1d)", Period(1, "d")),
        ("bin(1w)", Period(1, "w")),
        ("bin(3mon)", Period(3, "mo")),
        ("bin(1qtr)", Period(1, "q")),
        ("bin(1yr)", Period(1, "y")),
    ]:
        [fields] = parse_query(f"fields {text}").commands
        assert fields.items[0][1].args == (period,), text  # type: ignore[union-attr]
    moment = Stamp(T0 + 123)
    assert time_floor(moment, Period(1, "s")) == T0
    assert time_ceil(moment, Period(1, "s")) == T0 + 1000
    assert time_ceil(T0, Period(1, "y")) == 1830297600000  # 2028-01-01


def test_new_aggregations_and_items_over_them() -> None:
    values = [("a", 2, "x"), ("a", 4, "y"), ("a", 4, "x"), ("b", 9, "z"), ("a", 6, "w")]
    lines = [json.dumps({"k": k, "t": t, "u": u}) for k, t, u in values]
    rows = run(
        "stats count_distinct(u) as users, stddev(t) as sd, earliest(u) as first, "
        "latest(u) as last, sortsFirst(u) as lo, sortsLast(u) as hi, "
        "sum(t) / count() as mean, count(*) * 10 as tens, max(t) - min(t) as spread by k",
        lines,
    )
    assert rows == [
        {"k": "a", "users": "3", "sd": "1.632993161855452", "first": "x", "last": "w",
         "lo": "w", "hi": "y", "mean": "4", "tens": "40", "spread": "4"},
        {"k": "b", "users": "1", "sd": "0", "first": "z", "last": "z", "lo": "z", "hi": "z",
         "mean": "9", "tens": "10", "spread": "0"},
    ]  # fmt: skip
    # by any expression, named by its text or as.
    assert run("stats count(*) as n by datefloor(@timestamp, 1m), toupper(k) as K", lines) == [
        {"datefloor(@timestamp, 1m)": "2027-01-15 08:00:00.000", "K": "A", "n": "3"},
        {"datefloor(@timestamp, 1m)": "2027-01-15 08:01:00.000", "K": "A", "n": "1"},
        {"datefloor(@timestamp, 1m)": "2027-01-15 08:01:00.000", "K": "B", "n": "1"},
    ]
    assert run("stats avg(t * 2) as a2, pct(t + 1, 50) as p", lines) == [{"a2": "10", "p": "5"}]
    with pytest.raises(QueryTooLarge):
        run("stats count_distinct(t)", lines, max_rows=2)


def test_two_stats_as_aws_allows() -> None:
    lines = [json.dumps({"n": n}) for n in range(9)]  # 20 s apart: 3, 3 and 3 a minute
    rows = run(
        "stats sum(n) as total by bin(1m) | stats max(total) as peak, avg(total) as mean",
        lines,
    )
    assert rows == [{"peak": "21", "mean": "12"}]
    rows = run("stats count(*) as c by bin(1m) | fields c * 2 as d | stats sum(d) as s", lines)
    assert rows == [{"s": "18"}]
    for query, message in [
        ("stats count(*) as c | stats sum(n)", "reads n, which the first"),
        ("stats count(*) | stats count(*) | stats count(*)", "at most 2 stats"),
    ]:
        with pytest.raises(MalformedQuery, match=message):
            parse_query(query)


def test_parse_with_a_regex() -> None:
    lines = ["GET /a 200 12ms", "POST /b 503 7ms", "noise"]
    query = r"parse @message /(?<verb>[A-Z]+) (?<path>\S+) (?<code>\d+)( (?<ms>\d+)ms)?/"
    rows = run(f"{query} | filter code >= 500 or ms > 10 | display verb, path, code, ms", lines)
    assert rows == [
        {"verb": "GET", "path": "/a", "code": "200", "ms": "12"},
        {"verb": "POST", "path": "/b", "code": "503", "ms": "7"},
    ]
    assert run("parse @message /x(?<rest>.*)/ | stats count(rest) as n", ["xa", "b"]) == [
        {"n": "1"}
    ]
    with pytest.raises(MalformedQuery, match="names no group"):
        parse_query("parse @message /(a)/")
    with pytest.raises(MalformedQuery, match="invalid regular expression"):
        parse_query("parse @message /(?<a>/")


def test_partial_rows_with_and_without_stats() -> None:
    plain = QueryRun(parse_query("fields n | sort n asc"), 1000, 10, 10)
    counted = QueryRun(parse_query("stats count(*)"), 1000, 10, 10)
    for job in (plain, counted):
        for n in (3, 1):
            job.feed(event_record("1", "/g", "s", T0 + n, T0, json.dumps({"n": n}), n), 10)
    assert [row[0] for row in plain.partial_rows()] == [("n", "1"), ("n", "3")]
    assert counted.partial_rows() == counted.rows() == [[("count(*)", "2")]]


@pytest.mark.parametrize(
    ("query", "message", "start"),
    [
        ("fields substr(a)", "substr takes at least 2 and at most 3 arguments at line 1 and "
         "position 8", 7),
        ("fields concat()", "concat takes at least 1 and any number of arguments at line 1 and "
         "position 8", 7),
        ("fields datefloor(@timestamp, 5)", "datefloor takes a time period (5m, 1h…) as "
         "argument 2 at line 1 and position 8", 7),
        ("fields bin(x)", "bin takes a time period (5m, 1h…) as argument 1 at line 1 and "
         "position 8", 7),
        ("fields bin(0h)", "unexpected symbol found 0h at line 1 and position 12", 11),
        ("fields 2 ^", "unexpected symbol found <EOF> at line 1 and position 11", 10),
        ("stats pct(x, 101)", "unexpected symbol found 101 at line 1 and position 14", 13),
        ("stats count(*) by count(*)", "unexpected symbol found count at line 1 and position 19",
         18),
    ],
)  # fmt: skip
def test_refusals_in_aws_words(query: str, message: str, start: int) -> None:
    with pytest.raises(MalformedQuery) as caught:
        parse_query(query)
    assert (caught.value.message, caught.value.start) == (message, start)
