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
        "[ip, user, status = 404",  # space-delimited: closed by ']'
        "[ip, ip]",
        "[ip, status > high]",
        "[ip, status = 1 && other = 2]",
        "[ip, , status]",
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


APACHE = '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 404 1534'


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("[ip, user, username, timestamp, request, status_code, bytes]", True),
        ("[ip, user, username, timestamp, request, status_code]", False),  # one field short
        ("[ip, user, username, timestamp, request, status_code = 4*, bytes > 1000]", True),
        ("[ip, user, username, timestamp, request, status_code = 4*, bytes > 2000]", False),
        ("[..., status_code = 404, bytes]", True),
        ("[..., status_code != 404, bytes]", False),
        ("[ip = 127.*, ...]", True),
        ('[ip, ..., request = "*.gif*", ...]', True),
        ('[ip, ..., request = "*.png*", ...]', False),
        ("[..., status_code = 5* || status_code = 4*, bytes]", True),
        ("[..., status_code >= 400 && status_code < 500, bytes]", True),
        ("[..., status_code = 2* || status_code = 3*, bytes]", False),
        ("[...]", True),
        ("[a, ..., b, ..., c]", True),
    ],
)
def test_space_delimited_patterns(pattern: str, expected: bool) -> None:
    assert compile_pattern(pattern).matches(APACHE) is expected


def test_space_delimited_extracts_named_fields_without_quotes_or_brackets() -> None:
    found = compile_pattern("[ip, user, username, timestamp, request, status_code, bytes]")
    match = found.extract(APACHE)
    assert match is not None
    assert match.extracted == {
        "$ip": "127.0.0.1",
        "$user": "-",
        "$username": "frank",
        "$timestamp": "10/Oct/2000:13:25:15 -0700",
        "$request": "GET /apache_pb.gif HTTP/1.0",
        "$status_code": "404",
        "$bytes": "1534",
    }
    ellipsis = compile_pattern("[..., status, size]").extract(APACHE)
    assert ellipsis is not None and ellipsis.extracted == {"$status": "404", "$size": "1534"}


def test_json_patterns_extract_their_selectors() -> None:
    match = compile_pattern("{ $.latency > 100 && $.user.id = u-* }").extract(EVENT)
    assert match is not None
    assert match.extracted == {"$.latency": "250", "$.user.id": "u-1234"}
    assert match.selected("$.ratio") == "0.5" and match.selected("$.missing") is None
    assert match.selected("$.user") is None  # an object is no value
    term = compile_pattern("ERROR").extract("an ERROR")
    assert term is not None and term.extracted == {}
