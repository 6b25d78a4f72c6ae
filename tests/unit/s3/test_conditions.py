"""Conditional requests, one row per combination RFC 9110 and the S3 documentation describe."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from andromede.s3.conditions import (
    ConditionOutcome,
    UnsupportedCondition,
    evaluate_copy_source_conditions,
    evaluate_delete_condition,
    evaluate_get_conditions,
    evaluate_put_conditions,
)

PROCEED = ConditionOutcome.PROCEED
NOT_MODIFIED = ConditionOutcome.NOT_MODIFIED
FAILED = ConditionOutcome.PRECONDITION_FAILED
NO_SUCH_KEY = ConditionOutcome.NO_SUCH_KEY

ETAG = "9b2cf535f27731c974343645a3985328"
QUOTED = f'"{ETAG}"'
OTHER = '"0123456789abcdef0123456789abcdef"'
LAST_MODIFIED = datetime(2024, 5, 1, 12, 0, 0, 500_000, tzinfo=UTC)  # sub-second on purpose
NOW = datetime(2024, 6, 1, tzinfo=UTC)

BEFORE = "Wed, 01 May 2024 11:59:59 GMT"  # the object was modified after this
SAME = "Wed, 01 May 2024 12:00:00 GMT"  # equal at HTTP's one-second precision
AFTER = "Wed, 01 May 2024 12:00:01 GMT"
FUTURE = "Mon, 01 Jul 2024 00:00:00 GMT"  # after NOW
GARBAGE = "the day before yesterday"

GET_CASES: list[tuple[str, dict[str, str], ConditionOutcome]] = [
    ("no conditions", {}, PROCEED),
    # If-Match: strong comparison, quoted or bare, lists, *.
    ("if-match quoted", {"if-match": QUOTED}, PROCEED),
    ("if-match bare", {"if-match": ETAG}, PROCEED),
    ("if-match other", {"if-match": OTHER}, FAILED),
    ("if-match star", {"if-match": "*"}, PROCEED),
    ("if-match list hit", {"if-match": f"{OTHER}, {QUOTED}"}, PROCEED),
    ("if-match list miss", {"if-match": f'{OTHER},"x"'}, FAILED),
    ("if-match weak never matches", {"if-match": f"W/{QUOTED}"}, FAILED),
    ("if-match empty is absent", {"if-match": " "}, PROCEED),
    # If-Unmodified-Since.
    ("ius before", {"if-unmodified-since": BEFORE}, FAILED),
    ("ius same second", {"if-unmodified-since": SAME}, PROCEED),
    ("ius after", {"if-unmodified-since": AFTER}, PROCEED),
    ("ius garbage ignored", {"if-unmodified-since": GARBAGE}, PROCEED),
    ("ius rfc850", {"if-unmodified-since": "Wednesday, 01-May-24 11:59:59 GMT"}, FAILED),
    ("ius asctime", {"if-unmodified-since": "Wed May  1 11:59:59 2024"}, FAILED),
    # AWS: If-Match true and If-Unmodified-Since false -> 200.
    ("if-match true, ius false", {"if-match": QUOTED, "if-unmodified-since": BEFORE}, PROCEED),
    ("if-match false, ius true", {"if-match": OTHER, "if-unmodified-since": AFTER}, FAILED),
    # If-None-Match: weak comparison.
    ("inm match", {"if-none-match": QUOTED}, NOT_MODIFIED),
    ("inm bare", {"if-none-match": ETAG}, NOT_MODIFIED),
    ("inm weak matches", {"if-none-match": f"W/{QUOTED}"}, NOT_MODIFIED),
    ("inm star", {"if-none-match": "*"}, NOT_MODIFIED),
    ("inm other", {"if-none-match": OTHER}, PROCEED),
    ("inm list hit", {"if-none-match": f"{OTHER}, W/{QUOTED}"}, NOT_MODIFIED),
    # If-Modified-Since.
    ("ims before", {"if-modified-since": BEFORE}, PROCEED),
    ("ims same second", {"if-modified-since": SAME}, NOT_MODIFIED),
    ("ims after", {"if-modified-since": AFTER}, NOT_MODIFIED),
    ("ims future ignored", {"if-modified-since": FUTURE}, PROCEED),
    ("ims garbage ignored", {"if-modified-since": GARBAGE}, PROCEED),
    # AWS: If-None-Match false and If-Modified-Since true -> 304.
    ("inm false, ims true", {"if-none-match": QUOTED, "if-modified-since": BEFORE}, NOT_MODIFIED),
    # RFC: If-None-Match present (and true) makes If-Modified-Since irrelevant.
    ("inm true, ims false", {"if-none-match": OTHER, "if-modified-since": AFTER}, PROCEED),
    # 412 conditions are evaluated before 304 conditions.
    ("if-match false, inm false", {"if-match": OTHER, "if-none-match": QUOTED}, FAILED),
    ("ius false, ims false", {"if-unmodified-since": BEFORE, "if-modified-since": AFTER}, FAILED),
    (
        "if-match true, inm false",
        {"if-match": QUOTED, "if-none-match": QUOTED},
        NOT_MODIFIED,
    ),
    (
        "all four satisfied",
        {
            "if-match": QUOTED,
            "if-unmodified-since": AFTER,
            "if-none-match": OTHER,
            "if-modified-since": BEFORE,
        },
        PROCEED,
    ),
]


@pytest.mark.parametrize(
    ("headers", "expected"), [c[1:] for c in GET_CASES], ids=[c[0] for c in GET_CASES]
)
def test_get_conditions(headers: dict[str, str], expected: ConditionOutcome) -> None:
    outcome = evaluate_get_conditions(headers, etag=ETAG, last_modified=LAST_MODIFIED, now=NOW)
    assert outcome is expected


def test_get_conditions_accept_a_quoted_object_etag_and_a_naive_time() -> None:
    naive = LAST_MODIFIED.replace(tzinfo=None)
    headers = {"if-match": QUOTED, "if-modified-since": SAME}
    assert (
        evaluate_get_conditions(headers, etag=QUOTED, last_modified=naive, now=NOW) is NOT_MODIFIED
    )


def test_get_conditions_use_the_clock_by_default() -> None:
    # A date far in the future is ignored, a date in the past applies.
    far = {"if-modified-since": "Fri, 01 Jan 9999 00:00:00 GMT"}
    assert evaluate_get_conditions(far, etag=ETAG, last_modified=LAST_MODIFIED) is PROCEED
    past = {"if-modified-since": AFTER}
    assert evaluate_get_conditions(past, etag=ETAG, last_modified=LAST_MODIFIED) is NOT_MODIFIED


def _copy(headers: dict[str, str]) -> dict[str, str]:
    return {f"x-amz-copy-source-{name}": value for name, value in headers.items()}


COPY_CASES: list[tuple[str, dict[str, str], ConditionOutcome]] = [
    ("no conditions", {}, PROCEED),
    ("if-match", {"if-match": QUOTED}, PROCEED),
    ("if-match other", {"if-match": OTHER}, FAILED),
    ("ius before", {"if-unmodified-since": BEFORE}, FAILED),
    ("ius after", {"if-unmodified-since": AFTER}, PROCEED),
    ("inm match", {"if-none-match": QUOTED}, FAILED),
    ("inm other", {"if-none-match": OTHER}, PROCEED),
    ("ims before", {"if-modified-since": BEFORE}, PROCEED),
    ("ims after", {"if-modified-since": AFTER}, FAILED),
    ("ims future", {"if-modified-since": FUTURE}, FAILED),
    ("ims garbage ignored", {"if-modified-since": GARBAGE}, PROCEED),
    # AWS CopyObject: if-match true and if-unmodified-since false -> 200, copies.
    ("if-match true, ius false", {"if-match": QUOTED, "if-unmodified-since": BEFORE}, PROCEED),
    # AWS CopyObject: if-none-match false and if-modified-since true -> 412.
    ("inm false, ims true", {"if-none-match": QUOTED, "if-modified-since": BEFORE}, FAILED),
    ("inm true, ims false", {"if-none-match": OTHER, "if-modified-since": AFTER}, PROCEED),
]


@pytest.mark.parametrize(
    ("headers", "expected"), [c[1:] for c in COPY_CASES], ids=[c[0] for c in COPY_CASES]
)
def test_copy_source_conditions(headers: dict[str, str], expected: ConditionOutcome) -> None:
    outcome = evaluate_copy_source_conditions(
        _copy(headers), etag=ETAG, last_modified=LAST_MODIFIED
    )
    assert outcome is expected


def test_copy_source_conditions_ignore_the_plain_headers() -> None:
    # If-Match on a copy is about the destination (a conditional write), not the source.
    headers = {"if-match": OTHER, "if-none-match": QUOTED}
    assert (
        evaluate_copy_source_conditions(headers, etag=ETAG, last_modified=LAST_MODIFIED) is PROCEED
    )


PUT_CASES: list[tuple[str, dict[str, str], str | None, ConditionOutcome]] = [
    ("no conditions, new key", {}, None, PROCEED),
    ("no conditions, existing key", {}, ETAG, PROCEED),
    ("inm star, new key", {"if-none-match": "*"}, None, PROCEED),
    ("inm star, existing key", {"if-none-match": "*"}, ETAG, FAILED),
    ("if-match, same etag", {"if-match": QUOTED}, ETAG, PROCEED),
    ("if-match bare, same etag", {"if-match": ETAG}, ETAG, PROCEED),
    ("if-match, quoted current etag", {"if-match": ETAG}, QUOTED, PROCEED),
    ("if-match, other etag", {"if-match": OTHER}, ETAG, FAILED),
    ("if-match, weak tag", {"if-match": f"W/{QUOTED}"}, ETAG, FAILED),
    ("if-match, missing key", {"if-match": QUOTED}, None, NO_SUCH_KEY),
]


@pytest.mark.parametrize(
    ("headers", "current", "expected"), [c[1:] for c in PUT_CASES], ids=[c[0] for c in PUT_CASES]
)
def test_put_conditions(
    headers: dict[str, str], current: str | None, expected: ConditionOutcome
) -> None:
    assert evaluate_put_conditions(headers, current_etag=current) is expected


@pytest.mark.parametrize(
    ("headers", "header"),
    [
        ({"if-match": QUOTED, "if-none-match": "*"}, "If-Match,If-None-Match"),
        ({"if-none-match": QUOTED}, "If-None-Match"),
        ({"if-match": "*"}, "If-Match"),
    ],
)
@pytest.mark.parametrize("current", [None, ETAG])
def test_put_conditions_aws_does_not_implement(
    headers: dict[str, str], header: str, current: str | None
) -> None:
    with pytest.raises(UnsupportedCondition) as caught:
        evaluate_put_conditions(headers, current_etag=current)
    assert caught.value.header == header


def test_outcomes_carry_their_status() -> None:
    assert [o.value for o in ConditionOutcome] == [200, 304, 412, 404]


@pytest.mark.parametrize(
    ("if_match", "current", "expected"),
    [
        (QUOTED, ETAG, PROCEED),
        (ETAG, QUOTED, PROCEED),
        ("*", ETAG, PROCEED),
        (OTHER, ETAG, FAILED),
        (f"W/{QUOTED}", ETAG, FAILED),  # strong comparison: a weak tag never matches
        (f"{OTHER}, {QUOTED}", ETAG, PROCEED),
        (QUOTED, None, NO_SUCH_KEY),
        ("*", None, NO_SUCH_KEY),
    ],
)
def test_delete_conditions(if_match: str, current: str | None, expected: ConditionOutcome) -> None:
    assert evaluate_delete_condition(if_match, current) is expected


def test_a_raced_conditional_delete_is_a_conflict_the_client_may_retry() -> None:
    # The store refuses to delete another object than the one the condition was checked on
    # (tests/contract/test_metadata_store.py); the client hears AWS's 409.
    from andromede.s3.errors import to_s3_error
    from andromede.storage.errors import ObjectChanged

    wire = to_s3_error(ObjectChanged("k changed"))
    assert wire is not None
    assert (wire.status, wire.code) == (409, "ConditionalRequestConflict")
