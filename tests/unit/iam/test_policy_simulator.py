"""The policy simulator's pure parts (decision 0193): where each statement sits in a policy's
text, whatever the JSON holds before it, and how ContextEntries' typed values are read."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from andromede.iam.errors import InvalidInput
from andromede.iam.policy_simulator import ContextEntry, context_value, statement_spans


def test_spans_of_a_lone_statement_and_of_a_list() -> None:
    lone = '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}'
    ((start, end),) = statement_spans(lone)
    assert lone[start] == "{" and lone[end] == "}" and end == len(lone) - 2
    tricky = (
        '{ "Id" : "a}\\"{b", "Version": "2012-10-17", "Other": [ {"x": "]"} ],\n'
        ' "Statement" : [ {"Sid": "s{1}", "Effect": "Allow", "Action": "*", "Resource": "*"} ,\n'
        '   {"Effect": "Deny", "Action": "*", "Resource": "*",'
        ' "Condition": {"Bool": {"aws:SecureTransport": false}}} ] }'
    )
    spans = statement_spans(tricky)
    assert [tricky[a : b + 1][:12] for a, b in spans] == ['{"Sid": "s{1', '{"Effect": "']
    assert all(tricky[b] == "}" for _, b in spans)
    assert tricky[spans[1][1] - 2 : spans[1][1] + 1] == "}}}"


@pytest.mark.parametrize(
    ("kind", "values", "expected"),
    [
        ("string", ("a",), "a"),
        ("stringList", ("a", "b"), ["a", "b"]),
        ("numeric", ("42",), "42"),
        ("boolean", ("TRUE",), True),
        ("ip", ("10.0.0.1",), "10.0.0.1"),
        ("binary", ("aGk=",), b"hi"),
        ("date", ("2026-12-05T10:00:00Z",), datetime(2026, 12, 5, 10, tzinfo=UTC)),
        ("numericList", ("1", "2.5"), ["1", "2.5"]),
    ],
)
def test_context_values_by_type(kind: str, values: tuple[str, ...], expected: object) -> None:
    assert context_value(ContextEntry("k", kind, values)) == expected


@pytest.mark.parametrize(
    ("kind", "values"),
    [
        ("numeric", ("ten",)),
        ("boolean", ("yes",)),
        ("date", ("tomorrow",)),
        ("binary", ("***",)),
        ("string", ("a", "b")),
        ("strings", ("a",)),
        ("string", ()),
    ],
)
def test_context_values_refused(kind: str, values: tuple[str, ...]) -> None:
    with pytest.raises(InvalidInput):
        context_value(ContextEntry("k", kind, values))


def test_a_statement_key_written_with_escapes_places_statements_at_the_document() -> None:
    from andromede.iam.policy_simulator import (
        PolicySource,
        SimulatedCaller,
        SimulationInput,
        SourceType,
        simulate,
    )

    text = '{"Version": "2012-10-17", "State\\u006dent": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}'  # noqa: E501
    given = SimulationInput(
        SimulatedCaller("111122223333"), [PolicySource("PolicyInputList.1", SourceType.NONE, text)]
    )
    (result,) = simulate(given, ["s3:GetObject"], ["*"])
    assert result.decision == "allowed"
    (matched,) = result.matched
    assert (matched.start.line, matched.start.column, matched.end.column) == (1, 1, len(text))
