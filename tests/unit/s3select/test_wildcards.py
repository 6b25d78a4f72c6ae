"""Wildcards (``[*]``, ``.*``) in FROM, SELECT and WHERE paths, with the examples of AWS's
"SELECT command" page: a wildcard always emits a row (MISSING, an empty record, where the
path leads nowhere), the row named by the path's last name or ``_1`` without an alias."""

from __future__ import annotations

import pytest

from andromede.s3.handlers.select import select_request
from andromede.s3.xml import parse_xml
from andromede.s3select.errors import SelectError
from andromede.s3select.records import JsonOutput
from andromede.s3select.sql import parse
from andromede.s3select.syntax import Wildcard
from andromede.s3select.values import MISSING, follow
from unit.s3select.test_scan import Object, messages, output, request

RULES = (
    b'{ "Rules": [ {"id": "1"}, {"expr": "y > x"}, {"id": "2", "expr": "z = DEBUG"} ]}\n'
    b'{ "created": "June 27", "modified": "July 6" }\n'
)


async def select_json(expression: str, data: bytes, json_type: str = "DOCUMENT") -> bytes:
    found, _ = await messages(
        request(expression, csv_input=None, json_type=json_type, output=JsonOutput()),
        Object(data, 7),
    )
    return output(found)


@pytest.mark.parametrize("json_type", ["DOCUMENT", "LINES"])
async def test_aws_examples_of_the_from_wildcard(json_type: str) -> None:
    expected = b'{"id":"1"}\n{}\n{"id":"2"}\n{}\n'
    assert await select_json("SELECT id FROM S3Object[*].Rules[*].id", RULES, json_type) == (
        expected
    )
    assert await select_json("SELECT s.id FROM S3Object[*].Rules[*] s", RULES, json_type) == (
        expected
    )
    kept = "SELECT s.id FROM S3Object[*].Rules[*] s WHERE s.id IS NOT MISSING"
    assert await select_json(kept, RULES, json_type) == b'{"id":"1"}\n{"id":"2"}\n'
    assert await select_json("SELECT _1.id FROM S3Object[*].Rules[*]", RULES, json_type) == (
        expected
    )


async def test_aggregates_skip_the_missing_rows() -> None:
    assert await select_json("SELECT COUNT(*) FROM S3Object[*].Rules[*] r", RULES) == (
        b'{"_1":3}\n'
    )


async def test_a_wildcard_in_the_projection_lists_each_elements_value() -> None:
    data = b'{"items":[{"a":[{"b":1},{"c":2},{"b":3}]},{"a":[]},{"a":"x"}]}'
    found = await select_json("SELECT s.a[*].b FROM S3Object[*].items[*] s", data)
    assert found == b'{"b":[1,3]}\n{"b":[]}\n{}\n'
    members = await select_json("SELECT s.* AS v FROM S3Object[*] s", b'{"x":1,"y":[2]}')
    assert members == b'{"v":[1,[2]]}\n'


async def test_a_wildcard_in_where() -> None:
    data = b'{"n":"a","tags":[{"k":"x"},{"k":"y"}]}\n{"n":"b","tags":[{"k":"x"}]}\n'
    found = await select_json(
        "SELECT s.n FROM S3Object[*] s WHERE s.tags[*].k = s.tags[*].k AND s.tags[1] IS MISSING",
        data,
        "LINES",
    )
    assert found == b'{"n":"b"}\n'
    assert await select_json("SELECT s.n FROM S3Object s WHERE s.tags[*].k > 1", data) == b""


def test_follow_through_wildcards() -> None:
    value = {"a": [{"b": [1, 2]}, {"b": [3]}, {}]}
    steps = parse("SELECT s.a[*].b[*] FROM S3Object s").projections[0].expr.steps  # type: ignore[index, union-attr]
    assert steps[1] == Wildcard() and follow(value, steps) == [[1, 2], [3]]
    assert follow({"a": 1}, steps) is MISSING
    assert parse("SELECT s.a[*] FROM S3Object s").wildcards
    assert not parse("SELECT s.a FROM S3Object[*] s").wildcards


def test_a_csv_object_refuses_wildcards() -> None:
    body = (
        "<SelectObjectContentRequest><Expression>SELECT s._1[*] FROM S3Object s</Expression>"
        "<ExpressionType>SQL</ExpressionType><InputSerialization><CSV/></InputSerialization>"
        "<OutputSerialization><CSV/></OutputSerialization></SelectObjectContentRequest>"
    )
    with pytest.raises(SelectError) as raised:
        select_request(
            parse_xml(body.encode(), "SelectObjectContentRequest"),
            max_expression_size=1024,
            max_record_size=1024,
            parquet_max_read=1,
        )
    assert raised.value.code == "ParseInvalidPathComponent"
