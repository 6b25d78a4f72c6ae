"""Decision 0186's filter patterns: AWS's terms, phrases, exclusions, OR terms and JSON
selectors over the subset documented in ``andromede.logs.filter``; what it does not read is
refused with InvalidParameter, never matched as text."""

from __future__ import annotations

import json

import pytest

from andromede.logs.errors import InvalidParameter
from andromede.logs.filter import compile_pattern

EVENT = json.dumps(
    {
        "level": "ERROR",
        "latency": 250,
        "ratio": 0.5,
        "ok": False,
        "user": {"id": "u-1234", "name": "Ana Lopez"},
        "tags": ["red", "blue"],
        "nothing": None,
    }
)


@pytest.mark.parametrize(
    ("pattern", "message", "expected"),
    [
        ("", "anything", True),
        ("ERROR", "an ERROR here", True),
        ("ERROR", "an error here", False),  # case-sensitive, as AWS
        ("ERROR timeout", "ERROR: timeout after 3s", True),
        ("ERROR timeout", "ERROR: refused", False),
        ('"connection refused"', "error: connection refused", True),
        ('"connection refused"', "refused connection", False),
        ("ERROR -debug", "ERROR in prod", True),
        ("ERROR -debug", "ERROR debug trace", False),
        ('ERROR -"health check"', "ERROR from health check", False),
        ("?ERROR ?WARN", "WARN disk", True),
        ("?ERROR ?WARN", "INFO disk", False),
    ],
)
def test_term_patterns(pattern: str, message: str, expected: bool) -> None:
    assert compile_pattern(pattern).matches(message) is expected


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ('{ $.level = "ERROR" }', True),
        ("{ $.level = ERROR }", True),
        ("{ $.level = ERR* }", True),
        ("{ $.level != ERROR }", False),
        ("{ $.level = INFO }", False),
        ("{ $.latency > 200 }", True),
        ("{ $.latency < 200 }", False),
        ("{ $.latency >= 250 && $.latency <= 250 }", True),
        ("{ $.ratio = 0.5 }", True),
        ("{ $.user.id = u-* }", True),
        ('{ $.user.name = "Ana Lopez" }', True),
        ("{ $.tags[1] = blue }", True),
        ("{ $.tags[0] = blue }", False),
        ("{ $.tags[*] = blue }", True),
        ("{ $.nothing IS NULL }", True),
        ("{ $.user IS NULL }", False),
        ("{ $.ok IS FALSE }", True),
        ("{ $.ok IS TRUE }", False),
        ("{ $.user.id EXISTS }", True),
        ("{ $.missing NOT EXISTS }", True),
        ("{ $.missing EXISTS }", False),
        ("{ $.missing = x }", False),
        ("{ ($.latency < 100) || ($.level = ERROR && $.user.id = u-1234) }", True),
        ("{ $.latency < 100 || $.level = INFO }", False),
    ],
)
def test_json_patterns(pattern: str, expected: bool) -> None:
    assert compile_pattern(pattern).matches(EVENT) is expected


def test_json_pattern_never_matches_text() -> None:
    assert not compile_pattern("{ $.level = ERROR }").matches("level=ERROR")
    assert not compile_pattern("{ $.level = ERROR }").matches('["ERROR"]')


@pytest.mark.parametrize(
    "pattern",
    [
        "[ip, user, status = 404]",  # space-delimited: not served
        "%ERROR [0-9]+%",  # regular expressions: not served
        "{ $.level = ERROR",
        "{ }",
        "{ level = ERROR }",
        "{ $.latency > high }",
        "{ $.a = 1 && }",
        "{ ($.a = 1 }",
        "{ $.a IS MAYBE }",
        "?ERROR WARN",  # '?' terms are not mixed with others
        '""',
    ],
)
def test_refused_patterns(pattern: str) -> None:
    with pytest.raises(InvalidParameter, match="decision 0186"):
        compile_pattern(pattern)
