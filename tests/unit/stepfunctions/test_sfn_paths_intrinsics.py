"""Decision 0271's JSONPath (reading, with wildcards, slices, descendants and filters; writing
a reference path) and intrinsic functions (AWS's documented examples of each)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from andromede.stepfunctions.intrinsics import IntrinsicFailure, evaluate_intrinsic
from andromede.stepfunctions.jsonpath import PathMissing, is_definite, read_path, write_path

STORE = {
    "book": [
        {"title": "A", "price": 8.95, "isbn": "1"},
        {"title": "B", "price": 12.99},
        {"title": "C", "price": 22.99, "isbn": "3"},
    ],
    "bicycle": {"color": "red", "price": 19.95},
    "odd key": 1,
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$", STORE),
        ("$.bicycle.color", "red"),
        ("$['odd key']", 1),
        ("$.book[1].title", "B"),
        ("$.book[-1].title", "C"),
        ("$.book[*].title", ["A", "B", "C"]),
        ("$.book[0:2].title", ["A", "B"]),
        ("$..price", [19.95, 8.95, 12.99, 22.99]),
        ("$.book[?(@.isbn)].title", ["A", "C"]),
        ("$.book[?(@.price < 10)].title", ["A"]),
        ("$.book[?(@.title == 'B')].price", [12.99]),
        ("$.bicycle.*", ["red", 19.95]),
    ],
)
def test_paths_read(path: str, expected: Any) -> None:
    found = read_path(STORE, path)
    assert (
        sorted(found, key=str) == sorted(expected, key=str)
        if path == "$..price"
        else (found == expected)
    )


def test_paths_missing_and_definite() -> None:
    with pytest.raises(PathMissing):
        read_path(STORE, "$.car")
    with pytest.raises(PathMissing):
        read_path(STORE, "book")
    assert read_path(STORE, "$.car[*]") == []
    assert is_definite("$.a[0]['b']") and not is_definite("$.a[*]")


def test_reference_paths_are_written() -> None:
    original = {"a": {"b": 1}, "list": [1, 2]}
    assert write_path(original, "$.a.c.d", "x") == {"a": {"b": 1, "c": {"d": "x"}}, "list": [1, 2]}
    assert original == {"a": {"b": 1}, "list": [1, 2]}
    assert write_path(original, "$.list[1]", 9)["list"] == [1, 9]
    assert write_path(original, "$", 5) == 5
    with pytest.raises(PathMissing):
        write_path(original, "$.list[*]", 1)
    with pytest.raises(PathMissing):
        write_path("text", "$.a", 1)


@pytest.mark.parametrize(
    ("call", "data", "expected"),
    [
        ("States.Format('Hello, my name is {}.', $.name)", {"name": "Arnav"},
         "Hello, my name is Arnav."),
        ("States.Format('{} \\{literal\\} {}', $.a, $.b)", {"a": 1, "b": [2]}, "1 {literal} [2]"),
        ("States.StringToJson($.s)", {"s": '{"number": 20}'}, {"number": 20}),
        ("States.JsonToString($.o)", {"o": {"a": [1, None]}}, '{"a":[1,null]}'),
        ("States.Array('Foo', 2020, $.x, null)", {"x": True}, ["Foo", 2020, True, None]),
        ("States.ArrayPartition($.a, 4)", {"a": [1, 2, 3, 4, 5, 6, 7, 8, 9]},
         [[1, 2, 3, 4], [5, 6, 7, 8], [9]]),
        ("States.ArrayContains($.a, $.v)", {"a": [1, 2, 3], "v": 5}, False),
        ("States.ArrayRange(1, 9, 2)", {}, [1, 3, 5, 7, 9]),
        ("States.ArrayGetItem($.a, $.i)", {"a": [1, 2, 3], "i": 2}, 3),
        ("States.ArrayLength($.a)", {"a": [1, 2, 3]}, 3),
        ("States.ArrayUnique($.a)", {"a": [1, 2, 3, 3, 3, 3, 3, 3, 4]}, [1, 2, 3, 4]),
        ("States.Base64Encode($.s)", {"s": "Data to encode"}, "RGF0YSB0byBlbmNvZGU="),
        ("States.Base64Decode('RGF0YSB0byBlbmNvZGU=')", {}, "Data to encode"),
        ("States.Hash($.d, 'SHA-1')", {"d": "input data"},
         "aaff4a450a104cd177d28d18d74485e8cae074b7"),
        ("States.JsonMerge($.a, $.b, false)", {"a": {"x": 1, "y": 1}, "b": {"y": 2}},
         {"x": 1, "y": 2}),
        ("States.MathAdd($.v, -1)", {"v": 111}, 110),
        ("States.StringSplit($.s, ',')", {"s": "1,2,3,4,5"}, ["1", "2", "3", "4", "5"]),
        ("States.StringSplit('This.is+a,test=string', '.+,=')", {},
         ["This", "is", "a", "test", "string"]),
        ("States.ArrayLength(States.Array(1, 2))", {}, 2),
        ("States.Format('{}', $$.Execution.Name)", {}, "exec-1"),
    ],
)  # fmt: skip
def test_intrinsic_functions(call: str, data: Any, expected: Any) -> None:
    assert evaluate_intrinsic(call, data, {"Execution": {"Name": "exec-1"}}) == expected


def test_random_and_uuid() -> None:
    seeded = evaluate_intrinsic("States.MathRandom(1, 999, 1234)", {}, {})
    assert seeded == evaluate_intrinsic("States.MathRandom(1, 999, 1234)", {}, {})
    assert 1 <= evaluate_intrinsic("States.MathRandom(1, 5)", {}, {}) <= 5
    made = evaluate_intrinsic("States.UUID()", {}, {})
    assert re.fullmatch(r"[0-9a-f-]{36}", made)


@pytest.mark.parametrize(
    "call",
    [
        "States.Format('{} {}', $.a)",
        "States.Nope(1)",
        "States.ArrayRange(1, 5000, 1)",
        "States.Hash('x', 'CRC')",
        "States.StringToJson('not json')",
        "States.ArrayLength($.missing)",
        "States.MathAdd(1.5, 1)",
        "States.Format('unterminated)",
    ],
)
def test_intrinsic_failures(call: str) -> None:
    with pytest.raises(IntrinsicFailure):
        evaluate_intrinsic(call, {"a": 1}, {})
