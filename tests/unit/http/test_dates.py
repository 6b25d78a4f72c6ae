"""HTTP, S3 XML and x-amz-date formats, against RFC 9110's examples and the standard library."""

from __future__ import annotations

import email.utils
import locale
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from andromede.http.dates import http_date, iso8601_ms, parse_amz_date, parse_http_date

SUNDAY = datetime(1994, 11, 6, 8, 49, 37, tzinfo=UTC)  # RFC 9110's example date

aware_datetimes = st.datetimes(
    min_value=datetime(1900, 1, 1),
    max_value=datetime(9999, 12, 30),
    timezones=st.just(UTC)
    | st.builds(timezone, st.timedeltas(-timedelta(hours=23), timedelta(hours=23))),
)


def test_http_date_example() -> None:
    assert (
        http_date(datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC)) == "Wed, 21 Oct 2015 07:28:00 GMT"
    )
    assert http_date(SUNDAY) == "Sun, 06 Nov 1994 08:49:37 GMT"


def test_http_date_converts_to_utc_and_drops_subseconds() -> None:
    paris = timezone(timedelta(hours=2))
    assert http_date(datetime(2024, 7, 1, 1, 30, 5, 999_999, tzinfo=paris)) == (
        "Sun, 30 Jun 2024 23:30:05 GMT"
    )


def test_naive_datetimes_are_taken_as_utc() -> None:
    assert http_date(datetime(1994, 11, 6, 8, 49, 37)) == "Sun, 06 Nov 1994 08:49:37 GMT"
    assert iso8601_ms(datetime(2009, 10, 12, 17, 50, 30)) == "2009-10-12T17:50:30.000Z"


@given(aware_datetimes)
def test_http_date_matches_the_standard_library(dt: datetime) -> None:
    utc = dt.astimezone(UTC).replace(microsecond=0)
    assert http_date(dt) == email.utils.format_datetime(utc, usegmt=True)


@given(aware_datetimes)
def test_http_date_round_trips(dt: datetime) -> None:
    assert parse_http_date(http_date(dt)) == dt.astimezone(UTC).replace(microsecond=0)


def test_http_date_ignores_the_locale() -> None:
    previous = locale.setlocale(locale.LC_TIME)
    for name in ("fr_FR.UTF-8", "de_DE.UTF-8", "C.UTF-8"):
        try:
            locale.setlocale(locale.LC_TIME, name)
        except locale.Error:
            continue
        try:
            assert http_date(SUNDAY) == "Sun, 06 Nov 1994 08:49:37 GMT"
        finally:
            locale.setlocale(locale.LC_TIME, previous)


@pytest.mark.parametrize(
    "value",
    [
        "Sun, 06 Nov 1994 08:49:37 GMT",  # IMF-fixdate
        "Sunday, 06-Nov-94 08:49:37 GMT",  # obsolete RFC 850 format
        "Sun Nov  6 08:49:37 1994",  # ANSI C's asctime() format
        "  Sun, 06 Nov 1994 08:49:37 GMT ",
    ],
)
def test_parse_the_three_forms_of_rfc_9110(value: str) -> None:
    assert parse_http_date(value) == SUNDAY


def test_parse_asctime_with_two_digit_day() -> None:
    assert parse_http_date("Thu Dec 31 23:59:59 1998") == datetime(
        1998, 12, 31, 23, 59, 59, tzinfo=UTC
    )


def test_rfc850_two_digit_years_fall_within_fifty_years_ahead() -> None:
    this_year = datetime.now(UTC).year
    near_future = (this_year + 10) % 100
    far_future = (this_year + 60) % 100
    near = parse_http_date(f"Monday, 01-Jan-{near_future:02d} 00:00:00 GMT")
    far = parse_http_date(f"Monday, 01-Jan-{far_future:02d} 00:00:00 GMT")
    assert near is not None and near.year == this_year + 10
    assert far is not None and far.year == this_year + 60 - 100


@pytest.mark.parametrize(
    "value",
    [
        "",
        "yesterday",
        "Sun, 06 Nov 1994 08:49:37",  # no zone
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 06 Nov 1994 08:49:37 +0000",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 06 nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 94 08:49:37 GMT",
        "Sun, 31 Feb 1994 08:49:37 GMT",  # no such day
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 08:61:00 GMT",
        "Sun, ٠٦ Nov 1994 08:49:37 GMT",  # Arabic-Indic digits
        "Sunday, 06-Nov-1994 08:49:37 GMT",
        "Sun Nov 6 08:49:37 1994",
        "1994-11-06T08:49:37Z",
        "20130524T000000Z",
    ],
)
def test_parse_rejects_everything_else(value: str) -> None:
    assert parse_http_date(value) is None


@pytest.mark.parametrize(
    ("dt", "expected"),
    [
        (datetime(2009, 10, 12, 17, 50, 30, tzinfo=UTC), "2009-10-12T17:50:30.000Z"),
        (datetime(2009, 10, 12, 17, 50, 30, 123_999, tzinfo=UTC), "2009-10-12T17:50:30.123Z"),
        (
            datetime(2009, 10, 12, 19, 50, 30, 5_000, tzinfo=timezone(timedelta(hours=2))),
            "2009-10-12T17:50:30.005Z",
        ),
        (datetime(1, 1, 1, tzinfo=UTC), "0001-01-01T00:00:00.000Z"),
    ],
)
def test_iso8601_ms(dt: datetime, expected: str) -> None:
    assert iso8601_ms(dt) == expected


@given(aware_datetimes)
def test_iso8601_ms_agrees_with_isoformat(dt: datetime) -> None:
    utc = dt.astimezone(UTC)
    assert iso8601_ms(dt) == utc.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def test_parse_amz_date() -> None:
    assert parse_amz_date("20130524T000000Z") == datetime(2013, 5, 24, tzinfo=UTC)
    assert parse_amz_date("20150830T123600Z") == datetime(2015, 8, 30, 12, 36, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "20130524",
        "20130524T000000",
        "20130524T000000z",
        "2013-05-24T00:00:00Z",
        "20130532T000000Z",
        "20130524T250000Z",
        " 20130524T000000Z",
        "20130524T000000Z\n",
        "2013\uff10524T000000Z",  # fullwidth digit zero
    ],
)
def test_parse_amz_date_rejects(value: str) -> None:
    assert parse_amz_date(value) is None
