"""Decision 0186's session-49 addendum, its last part: Logs Insights' JSON functions
(``jsonParse``, ``jsonStringify``) and the fields and list items read into what they parse;
``limit``, ``sort`` on an aggregation's name or text and ``display`` after ``stats``; the
aggregation so far answered while a query runs; ``filterIndex`` and ``SOURCE`` refused by
name where they stand; ``unmask`` (decision 0211) reading ``@message`` only."""

from __future__ import annotations

import json

import pytest

from andromede.logs.insights_query import MalformedQuery, parse_query
from andromede.logs.insights_run import QueryRun, event_record

T0 = 1_800_000_000_000
EVENT = json.dumps(
    {"user": {"name": "ada", "roles": ["admin", {"scope": "s3"}], "active": True, "gone": None},
     "body": '{"k": [1, 2.5], "n": {"m": "deep"}}', "text": "plain", "list": "[3, 4]"}
)  # fmt: skip


def run(query: str, messages: list[str], limit: int = 1000) -> list[dict[str, str]]:
    job = QueryRun(parse_query(query), limit, 100, 1000)
    for n, message in enumerate(messages):
        job.feed(event_record("111", "/g", "s", T0 + n, T0, message, n), 10)
    return [{k: v for k, v in row if k != "@ptr"} for row in job.rows()]


def one(expression: str, prefix: str = "fields jsonParse(@message) as j") -> str | None:
    [row] = run(f"{prefix} | fields {expression} as v", [EVENT])
    return row.get("v")


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("j.user.name", "ada"),
        ("j.user.roles.0", "admin"),
        ("j.user.roles[0]", "admin"),
        ("j.user.roles[1].scope", "s3"),
        ("j.user.roles.1.scope", "s3"),
        ("j.user.roles[2]", None),  # past the list's end
        ("j.user.roles.x", None),  # a list has no key
        ("j.user.name.first", None),  # a text has no field
        ("j.user.active", "true"),
        ("j.user.gone", None),  # JSON null: absent
        ("j.nothing.here", None),
        ("j.user.roles", '["admin",{"scope":"s3"}]'),  # a list written as JSON
        ("jsonStringify(j.user.roles[1])", '{"scope":"s3"}'),
        ("jsonStringify(j.user.name)", None),  # only a map or a list
        ("jsonStringify(missing)", None),
        ("strlen(jsonStringify(j.user.roles))", "24"),
        ("jsonParse(text)", None),  # not JSON
        ("jsonParse(missing)", None),
        ("jsonParse(j.user.roles)", '["admin",{"scope":"s3"}]'),  # already parsed
        ('jsonParse("7")', None),  # a scalar is no map nor list
        ('jsonStringify(jsonParse("{ \\"a\\" : [1,true] }"))', '{"a":[1,true]}'),
        ('jsonParse("[" * 1)', None),
    ],
)
def test_json_functions_and_paths(expression: str, value: str | None) -> None:
    assert one(expression) == value


def test_a_parsed_field_in_every_command() -> None:
    messages = [json.dumps({"body": json.dumps({"k": k, "tags": [t]})}) for k, t in
                [(3, "a"), (1, "b"), (2, "a"), (1, "c")]]  # fmt: skip
    base = "fields jsonParse(body) as b"
    assert run(f"{base} | filter b.k > 1 | display b.k, b.tags[0]", messages) == [
        {"b.k": "3", "b.tags.0": "a"},
        {"b.k": "2", "b.tags.0": "a"},
    ]
    assert run(f"{base} | sort b.k asc | limit 2 | display b.k", messages) == [
        {"b.k": "1"},
        {"b.k": "1"},
    ]
    assert run(f"{base} | dedup b.k | sort b.k desc | display b.k", messages) == [
        {"b.k": "3"},
        {"b.k": "2"},
        {"b.k": "1"},
    ]
    assert run(f"{base} | stats sum(b.k) as s by b.tags.0 as tag", messages) == [
        {"tag": "a", "s": "5"},
        {"tag": "b", "s": "1"},
        {"tag": "c", "s": "1"},
    ]
    # Discovered fields of a JSON message read lists by index too.
    assert run("fields user.roles[1].scope as scope", [EVENT]) == [{"scope": "s3"}]
    # ``in [`` and ``in[`` both open a list, whatever the case.
    assert run('filter text IN["plain"] | fields text', [EVENT]) == [{"text": "plain"}]


def test_commands_after_stats_compose() -> None:
    messages = [json.dumps({"x": i % 3, "b": i}) for i in range(10)]
    counted = "stats count(*) as c, sum(b) as total by x"
    assert run(f"{counted} | sort c desc | limit 2", messages) == [
        {"x": "0", "c": "4", "total": "18"},
        {"x": "1", "c": "3", "total": "12"},
    ]
    assert run(f"{counted} | sort total asc | display total, x", messages) == [
        {"total": "12", "x": "1"},
        {"total": "15", "x": "2"},
        {"total": "18", "x": "0"},
    ]
    # An unnamed aggregation is sorted by its text, the column's name.
    assert run("stats count(*) by x | sort count(*) asc, x desc | limit 2", messages) == [
        {"x": "2", "count(*)": "3"},
        {"x": "1", "count(*)": "3"},
    ]
    assert run("stats pct(b, 50) by x | sort pct(b, 50) desc | limit 1", messages) == [
        {"x": "2", "pct(b, 50)": "5"}
    ]
    # A limit before stats bounds the events; StartQuery's limit the rows.
    assert run("limit 4 | stats count(*) as c", messages) == [{"c": "4"}]
    assert run(counted, messages, limit=1) == [{"x": "0", "c": "4", "total": "18"}]
    with pytest.raises(MalformedQuery, match="unexpected symbol found <EOF>"):
        parse_query("stats count(*) | sort count(*")


def test_stats_rows_while_running() -> None:
    """The aggregation so far, through the commands after it and the limit: GetQueryResults'
    partial rows of a query with ``stats``."""
    job = QueryRun(parse_query("stats count(*) as c by x | sort c desc | limit 2"), 1000, 10, 10)
    plain = QueryRun(parse_query("fields x | sort x asc"), 1000, 10, 10)
    seen: list[list[list[tuple[str, str]]]] = []
    for n, x in enumerate((1, 2, 2, 3, 3, 3)):
        for each in (job, plain):
            each.feed(event_record("1", "/g", "s", T0 + n, T0, json.dumps({"x": x}), n), 10)
        seen.append(job.partial_rows())
    assert seen[0] == [[("x", "1"), ("c", "1")]]
    assert seen[2] == [[("x", "2"), ("c", "2")], [("x", "1"), ("c", "1")]]
    assert seen[5] == job.rows() == [[("x", "3"), ("c", "3")], [("x", "2"), ("c", "2")]]
    assert [row[0] for row in plain.partial_rows()][:2] == [("x", "1"), ("x", "2")]


@pytest.mark.parametrize(
    ("query", "message", "start", "end"),
    [
        ("fields @message | unmask(a)", "unmask takes @message as its argument at line 1 "
         "and position 26", 25, 25),
        ("fields unmask(@logStream)", "unmask takes @message as its argument at line 1 and "
         "position 15", 14, 23),
        ("fields a\n| filterIndex a = 1", "filterIndex is not supported: field indexes are "
         "not served; use filter at line 2 and position 3", 11, 21),
        ('SOURCE logGroups(namePrefix: ["app"]) | fields a', "SOURCE is not supported: name "
         "the log groups in StartQuery's logGroupNames or logGroupIdentifiers at line 1 and "
         "position 1", 0, 5),
        ("  source x", "source is not supported: name the log groups in StartQuery's "
         "logGroupNames or logGroupIdentifiers at line 1 and position 3", 2, 7),
        ("fields jsonParse(a, b)", "jsonParse takes at least 1 and at most 1 arguments at "
         "line 1 and position 8", 7, 15),
        # A field of a call's value is not read: name it first (``as j``).
        ("fields jsonParse(body).k", "unexpected symbol found . at line 1 and position 23",
         22, 22),
        ("fields unnest(a)", "unexpected symbol found unnest at line 1 and position 8", 7, 12),
    ],
)  # fmt: skip
def test_refused_by_name(query: str, message: str, start: int, end: int) -> None:
    with pytest.raises(MalformedQuery) as caught:
        parse_query(query)
    assert (caught.value.message, caught.value.start, caught.value.end) == (message, start, end)


def test_deeply_nested_messages() -> None:
    """A message nested deeper than the parser goes is text, not a failed query; one within
    it is discovered to 100 levels and parsed whole by jsonParse."""
    query = "fields x, jsonStringify(jsonParse(@message)) as s | display x, s"
    nested = '{"x":1,"a":' + "[" * 150 + "]" * 150 + "}"
    assert run(query, [nested]) == [{"x": "1", "s": nested}]
    too_deep = '{"x":1,"a":' + "[" * 5000 + "]" * 5000 + "}"
    assert run(query, [too_deep]) == [{}]


@pytest.mark.parametrize(
    ("query", "unmasks"),
    [
        ("fields @message | unmask(@message)", True),
        ("fields unmask(@message) as m", True),
        ("filter strlen(unmask(@message)) > 3", True),
        ("stats count(*) by unmask(@message)", True),
        ("fields @message | filter @message like /unmask/", False),
        ("fields `unmask`", False),
    ],
)
def test_a_query_says_whether_it_unmasks(query: str, unmasks: bool) -> None:
    assert parse_query(query).unmasks is unmasks
