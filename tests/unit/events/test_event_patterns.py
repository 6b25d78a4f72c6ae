"""Decision 0192's event pattern language, held to the examples of AWS's "Content filtering
in Amazon EventBridge event patterns" and "Comparison operators" pages, and to the refusals
of patterns EventBridge does not take."""

from __future__ import annotations

import json
from typing import Any

import pytest

from andromede.events.errors import InvalidEventPattern
from andromede.events.pattern import compile_pattern

EC2_EVENT: dict[str, Any] = {
    "version": "0",
    "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "111122223333",
    "time": "2017-12-22T18:43:48Z",
    "region": "us-west-1",
    "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
    "detail": {"instance-id": "i-1234567890abcdef0", "state": "terminated"},
}


def matches(pattern: Any, event: Any) -> bool:
    return compile_pattern(json.dumps(pattern)).matches(event)


def test_exact_values_arrays_as_or_and_fields_as_and() -> None:
    assert matches({"source": ["aws.ec2"]}, EC2_EVENT)
    assert matches({"source": ["aws.s3", "aws.ec2"]}, EC2_EVENT)
    assert not matches({"source": ["aws.s3"]}, EC2_EVENT)
    pattern = {"source": ["aws.ec2"], "detail": {"state": ["running", "terminated"]}}
    assert matches(pattern, EC2_EVENT)
    assert not matches({"source": ["aws.ec2"], "detail": {"state": ["running"]}}, EC2_EVENT)
    # Case matters, and a pattern's field must be in the event.
    assert not matches({"source": ["AWS.EC2"]}, EC2_EVENT)
    assert not matches({"detail": {"missing": ["x"]}}, EC2_EVENT)
    # An event array matches when any of its elements does.
    resource = EC2_EVENT["resources"][0]
    assert matches({"resources": [resource]}, EC2_EVENT)
    assert matches({}, EC2_EVENT)


def test_values_are_typed_numbers_compare_as_numbers() -> None:
    event = {"detail": {"n": 300, "s": "300", "b": True, "z": None, "e": ""}}
    assert matches({"detail": {"n": [300]}}, event)
    assert matches({"detail": {"n": [300.0]}}, event)
    assert not matches({"detail": {"n": ["300"]}}, event)
    assert not matches({"detail": {"s": [300]}}, event)
    assert matches({"detail": {"b": [True]}}, event)
    assert not matches({"detail": {"b": [1]}}, event)
    assert matches({"detail": {"z": [None]}}, event)
    assert not matches({"detail": {"b": [None]}}, event)
    assert matches({"detail": {"e": [""]}}, event)  # the empty-value example


def test_prefix_suffix_and_ignore_case() -> None:
    assert matches({"time": [{"prefix": "2017-12-22"}]}, EC2_EVENT)
    assert not matches({"time": [{"prefix": "2017-10-02"}]}, EC2_EVENT)
    event = {"detail": {"service": "EVENTBridge", "FileName": "photo.PNG"}}
    assert matches({"detail": {"service": [{"prefix": {"equals-ignore-case": "EventB"}}]}}, event)
    assert not matches({"detail": {"service": [{"prefix": "EventB"}]}}, event)
    assert matches({"detail": {"FileName": [{"suffix": {"equals-ignore-case": ".png"}}]}}, event)
    assert not matches({"detail": {"FileName": [{"suffix": ".png"}]}}, event)
    assert matches({"detail": {"service": [{"equals-ignore-case": "eventbridge"}]}}, event)
    # String operators match strings only.
    assert not matches({"detail": {"n": [{"prefix": "3"}]}}, {"detail": {"n": 300}})


def test_anything_but() -> None:
    assert matches({"detail": {"state": [{"anything-but": "initializing"}]}}, EC2_EVENT)
    assert not matches({"detail": {"state": [{"anything-but": "terminated"}]}}, EC2_EVENT)
    assert not matches(
        {"detail": {"state": [{"anything-but": ["stopped", "terminated"]}]}}, EC2_EVENT
    )
    assert matches({"detail": {"x-limit": [{"anything-but": 123}]}}, {"detail": {"x-limit": 124}})
    assert not matches(
        {"detail": {"x-limit": [{"anything-but": [100, 123]}]}}, {"detail": {"x-limit": 123}}
    )
    assert not matches({"detail": {"state": [{"anything-but": {"prefix": "term"}}]}}, EC2_EVENT)
    assert matches({"detail": {"state": [{"anything-but": {"prefix": "init"}}]}}, EC2_EVENT)
    files = {"FileName": "image.png"}
    assert not matches({"FileName": [{"anything-but": {"suffix": ".png"}}]}, files)
    assert matches({"FileName": [{"anything-but": {"suffix": ".txt"}}]}, files)
    assert not matches(
        {"detail": {"state": [{"anything-but": {"equals-ignore-case": "TERMINATED"}}]}}, EC2_EVENT
    )
    assert not matches(
        {
            "detail": {
                "state": [{"anything-but": {"equals-ignore-case": ["Stopped", "TERMINATED"]}}]
            }
        },
        EC2_EVENT,
    )
    path = {"FilePath": "/usr/lib/libc.so"}
    assert not matches({"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]}, path)
    assert matches({"FilePath": [{"anything-but": {"wildcard": ["*/bin/*", "*.txt"]}}]}, path)
    # A field the event lacks is no "anything but" value: only exists:false matches absence.
    assert not matches({"detail": {"missing": [{"anything-but": "x"}]}}, EC2_EVENT)


def test_numeric_ranges() -> None:
    event = {"detail": {"c-count": 5, "d-count": 0, "x-limit": 301.8, "label": "5"}}
    assert matches(
        {
            "detail": {
                "c-count": [{"numeric": [">", 0, "<=", 5]}],
                "d-count": [{"numeric": ["<", 10]}],
                "x-limit": [{"numeric": ["=", 301.8]}],
            }
        },
        event,
    )
    assert not matches({"detail": {"c-count": [{"numeric": [">", 5]}]}}, event)
    assert matches({"detail": {"c-count": [{"numeric": [">=", 5]}]}}, event)
    assert not matches({"detail": {"label": [{"numeric": ["=", 5]}]}}, event)


def test_exists() -> None:
    assert matches({"detail": {"state": [{"exists": True}]}}, EC2_EVENT)
    assert not matches({"detail": {"state": [{"exists": False}]}}, EC2_EVENT)
    assert matches({"detail": {"c-count": [{"exists": False}]}}, EC2_EVENT)
    assert not matches({"detail": {"c-count": [{"exists": True}]}}, EC2_EVENT)
    # Leaf nodes only: an object is no leaf value.
    nested = {"detail": {"inner": {"a": 1}}}
    assert not matches({"detail": {"inner": [{"exists": True}]}}, nested)
    # A null is a value; an empty array has none.
    assert matches({"detail": {"z": [{"exists": True}]}}, {"detail": {"z": None}})
    assert matches({"detail": {"z": [{"exists": False}]}}, {"detail": {"z": []}})
    # Absence under a missing object.
    assert matches({"nope": {"deeper": [{"exists": False}]}}, EC2_EVENT)


def test_cidr() -> None:
    event = {"detail": {"sourceIPAddress": "10.0.0.255", "v6": "2001:db8::1"}}
    assert matches({"detail": {"sourceIPAddress": [{"cidr": "10.0.0.0/24"}]}}, event)
    assert not matches({"detail": {"sourceIPAddress": [{"cidr": "10.0.1.0/24"}]}}, event)
    assert matches({"detail": {"v6": [{"cidr": "2001:db8::/32"}]}}, event)
    assert not matches({"detail": {"v6": [{"cidr": "10.0.0.0/8"}]}}, event)
    assert not matches(
        {"detail": {"sourceIPAddress": [{"cidr": "10.0.0.0/8"}]}},
        {"detail": {"sourceIPAddress": "host"}},
    )


def test_wildcard() -> None:
    event = {"EventBusArn": "arn:aws:events:us-east-1:123456789012:event-bus/myEventBus"}
    assert matches({"EventBusArn": [{"wildcard": "arn:aws:events:us-east-1:*:event-bus/*"}]}, event)
    assert not matches({"EventBusArn": [{"wildcard": "arn:aws:events:eu-west-1:*"}]}, event)
    assert matches({"f": [{"wildcard": "dir/*.png"}]}, {"f": "dir/a.b.png"})
    assert not matches({"f": [{"wildcard": "dir/*.png"}]}, {"f": "dir/a.png.txt"})
    assert matches({"f": [{"wildcard": "a\\*b"}]}, {"f": "a*b"})
    assert not matches({"f": [{"wildcard": "a\\*b"}]}, {"f": "axb"})
    assert matches({"f": [{"wildcard": "*"}]}, {"f": ""})


def test_or() -> None:
    pattern = {
        "source": ["aws.ec2"],
        "$or": [{"detail": {"state": ["running"]}}, {"detail-type": [{"prefix": "EC2 Instance"}]}],
    }
    assert matches(pattern, EC2_EVENT)
    assert not matches({**pattern, "source": ["aws.s3"]}, EC2_EVENT)
    nested = {
        "detail": {
            "$or": [
                {"c-count": [{"numeric": [">", 0, "<=", 5]}]},
                {"d-count": [{"numeric": ["<", 10]}]},
                {"x-limit": [{"numeric": ["=", 3.018e2]}]},
            ]
        }
    }
    assert matches(nested, {"detail": {"x-limit": 301.8}})
    assert not matches(nested, {"detail": {"c-count": 6, "d-count": 11}})


def test_arrays_of_objects_match_within_one_element() -> None:
    event = {"detail": {"items": [{"name": "a", "size": 1}, {"name": "b", "size": 2}]}}
    assert matches({"detail": {"items": {"name": ["b"], "size": [2]}}}, event)
    assert not matches({"detail": {"items": {"name": ["a"], "size": [2]}}}, event)
    assert matches({"detail": {"items": {"name": ["a"]}}}, event)


@pytest.mark.parametrize(
    "pattern",
    [
        "[]",
        "not json",
        '{"source": "aws.ec2"}',
        '{"source": []}',
        '{"source": [["a"]]}',
        '{"source": [{"prefix": 1}]}',
        '{"source": [{"prefix": "a", "suffix": "b"}]}',
        '{"source": [{"unknown-op": "a"}]}',
        '{"n": [{"numeric": [">", "1"]}]}',
        '{"n": [{"numeric": ["<", 5, ">", 1]}]}',
        '{"n": [{"numeric": [">", 5, "<", 1]}]}',
        '{"n": [{"numeric": ["!=", 5]}]}',
        '{"n": [{"numeric": [">", 5, "<"]}]}',
        '{"n": [{"exists": "yes"}]}',
        '{"ip": [{"cidr": "10.0.0.0/33"}]}',
        '{"f": [{"wildcard": "a**b"}]}',
        '{"f": [{"wildcard": "a\\\\qb"}]}',
        '{"s": [{"anything-but": ["a", 1]}]}',
        '{"s": [{"anything-but": []}]}',
        '{"s": [{"anything-but": {"contains": "x"}}]}',
        '{"s": [{"anything-but": {"prefix": ["a", "b"]}}]}',
        '{"s": [{"equals-ignore-case": ["a"]}]}',
        '{"$or": [{"a": ["1"]}]}',
        '{"$or": {"a": ["1"]}}',
        '{"n": [NaN]}',
    ],
)
def test_invalid_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(InvalidEventPattern, match="Event pattern is not valid"):
        compile_pattern(pattern)


def test_pattern_length_is_bounded() -> None:
    text = json.dumps({"source": ["x" * 100]})
    compile_pattern(text, max_length=len(text))
    with pytest.raises(InvalidEventPattern, match="longer"):
        compile_pattern(text, max_length=len(text) - 1)


def test_nesting_is_bounded() -> None:
    deep: dict[str, Any] = {"a": ["x"]}
    for _ in range(40):
        deep = {"a": deep}
    with pytest.raises(InvalidEventPattern, match="nests"):
        compile_pattern(json.dumps(deep))
