"""The 5-field recurrences of scheduled actions (decision 0159): what is read, what is
refused, and the next firing in UTC from a time zone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from andromede.autoscaling.cron import CronError, parse, zone


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("*/15 * * * *", "2026-12-05T12:07:30", "2026-12-05T12:15:00"),
        ("0 9 * * *", "2026-12-05T09:00:00", "2026-12-06T09:00:00"),
        ("30 18 * * mon-fri", "2026-12-05T12:00:00", "2026-12-07T18:30:00"),  # a Saturday
        ("0 0 1 jan,jul *", "2026-12-05T00:00:00", "2027-01-01T00:00:00"),
        ("0 0 29 2 *", "2027-03-01T00:00:00", "2028-02-29T00:00:00"),
        ("5 4 * * 7", "2026-12-05T00:00:00", "2026-12-06T04:05:00"),  # 7 is Sunday
        # Both day fields restricted: either matches (the 10th, or a Monday).
        ("0 12 10 * 1", "2026-12-08T00:00:00", "2026-12-10T12:00:00"),
        ("0-10/5 8 * * *", "2026-12-05T08:06:00", "2026-12-05T08:10:00"),
    ],
)
def test_next_firing(expression: str, after: str, expected: str) -> None:
    assert parse(expression).next_after(at(after)) == at(expected)


def test_a_time_zone_moves_the_firing_to_utc() -> None:
    paris = zone("Europe/Paris")
    # 09:00 in Paris is 08:00 UTC in winter, 07:00 UTC in summer.
    assert parse("0 9 * * *").next_after(at("2026-12-05T10:00:00"), paris) == at(
        "2026-12-06T08:00:00"
    )
    assert parse("0 9 * * *").next_after(at("2026-07-05T10:00:00"), paris) == at(
        "2026-07-06T07:00:00"
    )
    assert zone("UTC") is None and zone(None) is None


def test_a_date_that_never_comes_has_no_firing() -> None:
    assert parse("0 0 30 2 *").next_after(at("2026-01-01T00:00:00")) is None


@pytest.mark.parametrize(
    "expression",
    ["* * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *", "*/0 * * * *",
     "5-1 * * * *", "x * * * *", "* * * * 8", "* * * * * *"],
)  # fmt: skip
def test_refusals(expression: str) -> None:
    with pytest.raises(CronError):
        parse(expression)


def test_an_unknown_zone_is_refused() -> None:
    with pytest.raises(CronError):
        zone("Mars/Olympus_Mons")
