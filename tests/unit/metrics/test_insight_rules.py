"""Decision 0272's rule syntax: a definition read as AWS's "Contributor Insights rule syntax"
states it — JSON and CLF rules, keys, values, the eight filter criteria, log group names with
a trailing wildcard or given as this account's ARNs — and refused, naming what is wrong, in
CloudWatch's ``InvalidParameterValue``."""

from __future__ import annotations

import json
from typing import Any

import pytest

from andromede.metrics.errors import InvalidParameterValue, MissingParameter
from andromede.metrics.insight_rules import (
    check_rule_name,
    compile_definition,
    group_index,
    insight_rule_arn,
)
from support.insight_rules import definition, rule

ACCOUNT = "123456789012"


def compiled(**changes: Any) -> Any:
    return compile_definition(definition(**changes), ACCOUNT)


def test_a_json_rule_reads_keys_value_and_filters() -> None:
    found = compiled(
        Contribution={
            "Keys": ["$.ip", "$.request.path"],
            "ValueOf": "$.bytes",
            "Filters": [{"Match": "$.method", "In": ["PUT", "POST"]}],
        },
        AggregateOn="Sum",
    )
    assert found.key_labels == ("$.ip", "$.request.path")
    event = {"ip": "10.0.0.1", "request": {"path": "/a"}, "bytes": 120, "method": "PUT"}
    assert found.contribution(json.dumps(event)) == (("10.0.0.1", "/a"), 120.0)
    assert found.contribution(json.dumps({**event, "method": "GET"})) is None
    assert found.contribution(json.dumps({**event, "bytes": "12.5"})) == (("10.0.0.1", "/a"), 12.5)
    assert found.contribution(json.dumps({**event, "bytes": "many"})) is None  # no number
    assert found.contribution(json.dumps({"ip": "x", "bytes": 1, "method": "PUT"})) is None
    assert found.contribution("not json") is None
    assert found.contribution("[1, 2]") is None


def test_a_count_rule_counts_one_and_keys_keep_their_json_form() -> None:
    found = compiled(Contribution={"Keys": ["$.status", "$.tags[1]", "$.ok"]})
    assert found.contribution('{"status": 404, "tags": ["a", "b"], "ok": true}') == (
        ("404", "b", "true"),
        1.0,
    )
    assert found.contribution('{"status": 404, "tags": ["a"], "ok": true}') is None


@pytest.mark.parametrize(
    ("criterion", "matching", "failing"),
    [
        ({"In": ["a", "b"]}, ["a", "b"], ["c", None]),
        ({"NotIn": ["a"]}, ["b", 3], ["a", None]),
        ({"StartsWith": ["/api/", "/v2"]}, ["/api/x", "/v2"], ["/ap", None]),
        ({"GreaterThan": 10}, [11, "10.5"], [10, "x", None]),
        ({"LessThan": 0}, [-1], [0, None]),
        ({"EqualTo": 200}, [200, "200.0"], [201, None]),
        ({"NotEqualTo": 200}, [201], [200, None]),
        ({"IsPresent": True}, ["", 0], [None]),
        ({"IsPresent": False}, [None], ["", 0]),
    ],
)
def test_every_criterion(
    criterion: dict[str, Any], matching: list[Any], failing: list[Any]
) -> None:
    found = compiled(Contribution={"Keys": ["$.k"], "Filters": [{"Match": "$.f", **criterion}]})

    def event(value: Any) -> str:
        return json.dumps({"k": "x"} if value is None else {"k": "x", "f": value})

    assert all(found.contribution(event(v)) is not None for v in matching)
    assert all(found.contribution(event(v)) is None for v in failing)


def test_a_clf_rule_reads_fields_by_position() -> None:
    found = compiled(
        LogFormat="CLF",
        Fields={"1": "ip", "5": "request", "6": "status", "7": "size"},
        Contribution={
            "Keys": ["ip", "request"],
            "ValueOf": "size",
            "Filters": [{"Match": "status", "EqualTo": 200}],
        },
        AggregateOn="Sum",
    )
    line = '10.0.0.7 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326'
    assert found.contribution(line) == (("10.0.0.7", "GET /a.gif HTTP/1.0"), 2326.0)
    assert found.contribution(line.replace(" 200 ", " 404 ")) is None
    flows = compiled(LogFormat="CLF", Fields={"3": "source"}, Contribution={"Keys": ["source"]})
    assert flows.contribution("2 123 10.1.1.1 10.2.2.2") == (("10.1.1.1",), 1.0)
    assert flows.contribution("2 123") is None


def test_log_groups_by_name_prefix_or_arn() -> None:
    found = compiled(LogGroupNames=["api-*", "web"])
    assert [found.covers(g) for g in ("api-1", "api-", "web", "web2", "ap")] == [
        True, True, True, False, False,
    ]  # fmt: skip
    arns = compiled(
        LogGroupNames=None,
        LogGroupARNs=[
            f"arn:aws:logs:eu-fr-1:{ACCOUNT}:log-group:app:*",
            "arn:aws:logs:eu-fr-1:*:log-group:b*",
        ],
    )
    assert arns.group_names == ("app", "b*")


def test_the_group_index_finds_exact_names_and_prefixes() -> None:
    one = rule("one", LogGroupNames=["a", "pre*"])
    two = rule("two", LogGroupNames=["a"])
    exact, prefixes = group_index([one, two])
    assert [r.name for r in exact["a"]] == ["one", "two"]
    assert [(p, r.name) for p, r in prefixes] == [("pre", "one")]


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"Schema": {"Name": "Other", "Version": 1}}, "Schema"),
        ({"Schema": {"Name": "CloudWatchLogRule", "Version": 2}}, "Version"),
        ({"LogFormat": "XML"}, "LogFormat"),
        ({"AggregateOn": "Max"}, "AggregateOn"),
        ({"LogGroupNames": None}, "LogGroupNames or LogGroupARNs"),
        ({"LogGroupARNs": ["arn:aws:logs:r:123:log-group:x"]}, "not both"),
        ({"LogGroupNames": []}, "LogGroupNames"),
        ({"LogGroupNames": [f"g{i}" for i in range(21)]}, "1 to 20"),
        ({"LogGroupNames": None, "LogGroupARNs": ["arn:aws:logs:r:999:log-group:x"]},
         "another account"),
        ({"LogGroupNames": None, "LogGroupARNs": ["arn:aws:s3:::b"]}, "not a log group ARN"),
        ({"Contribution": None}, "Contribution is required"),
        ({"Contribution": {"Keys": []}}, "Keys"),
        ({"Contribution": {"Keys": ["$.a", "$.b", "$.c", "$.d", "$.e"]}}, "1 to 4"),
        ({"Contribution": {"Keys": ["ip"]}}, "JSON path"),
        ({"Contribution": {"Keys": ["$.a..b"]}}, "not a valid JSON path"),
        ({"Contribution": {"Keys": ["$.a"], "Other": 1}}, "Contribution.Other"),
        ({"AggregateOn": "Sum"}, "ValueOf"),
        ({"Contribution": {"Keys": ["$.a"], "ValueOf": "$.b"}}, "Sum only"),
        ({"Contribution": {"Keys": ["$.a"], "Filters": [{"Match": "$.b"}] * 5}}, "at most 4"),
        ({"Contribution": {"Keys": ["$.a"], "Filters": [{"In": ["x"]}]}}, "Match"),
        ({"Contribution": {"Keys": ["$.a"], "Filters": [{"Match": "$.b"}]}}, "exactly one"),
        ({"Contribution": {"Keys": ["$.a"], "Filters": [{"Match": "$.b", "In": ["x"],
                                                          "NotIn": ["y"]}]}}, "exactly one"),
        ({"Contribution": {"Keys": ["$.a"], "Filters": [{"Match": "$.b", "Like": ["x"]}]}},
         "exactly one"),
        ({"Contribution": {"Keys": ["$.a"], "Filters": [{"Match": "$.b", "In": []}]}},
         "1 to 10"),
        ({"Contribution": {"Keys": ["$.a"], "Filters": [{"Match": "$.b", "In": ["x"] * 11}]}},
         "1 to 10"),
        ({"Contribution": {"Keys": ["$.a"], "Filters": [{"Match": "$.b", "EqualTo": "1"}]}},
         "number"),
        ({"Contribution": {"Keys": ["$.a"], "Filters": [{"Match": "$.b", "IsPresent": 1}]}},
         "true or false"),
        ({"Fields": {"1": "a"}}, "CLF rule only"),
        ({"LogFormat": "CLF"}, "Fields"),
        ({"LogFormat": "CLF", "Fields": {"0": "a"}, "Contribution": {"Keys": ["a"]}},
         "positions from 1"),
        ({"LogFormat": "CLF", "Fields": {"1": "a"}, "Contribution": {"Keys": ["b"]}},
         "not a name given in Fields"),
        ({"Extra": True}, "unknown field 'Extra'"),
    ],
)  # fmt: skip
def test_refusals_name_what_is_wrong(changes: dict[str, Any], says: str) -> None:
    with pytest.raises(InvalidParameterValue) as caught:
        compiled(**changes)
    assert caught.value.message.startswith("The RuleDefinition is not valid: ")
    assert says in caught.value.message


@pytest.mark.parametrize("given", ["", "{", "[]", "x" * 8193, '{"é": 1}', 3])
def test_a_definition_that_is_no_json_object(given: Any) -> None:
    with pytest.raises(InvalidParameterValue):
        compile_definition(given, ACCOUNT)
    with pytest.raises(MissingParameter):
        compile_definition(None, ACCOUNT)


def test_names_and_arns() -> None:
    assert check_rule_name("My rule (1)") == "My rule (1)"
    for bad in ("", "x" * 129, "tab\there", "é", 7):
        with pytest.raises(InvalidParameterValue):
            check_rule_name(bad)
    with pytest.raises(MissingParameter):
        check_rule_name(None)
    assert insight_rule_arn("eu-fr-1", ACCOUNT, "r") == (
        f"arn:aws:cloudwatch:eu-fr-1:{ACCOUNT}:insight-rule/r"
    )
