"""Billing's pure core: hours cut at their boundaries, the minute minimum of a run, prices
and VAT in Decimal rounded half up per line, months, and AWS's S3 request classes."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from andromede.billing.errors import InvalidPeriod, InvalidPrice
from andromede.billing.model import (
    Run,
    UsageIncrement,
    UsageTotal,
    byte_hours_by_hour,
    catalogue,
    instance_meter,
    line_amounts,
    parse_month,
    parse_price,
    parse_vat_rate,
    report,
    run_increments,
    s3_request_meter,
    seconds_by_hour,
)

H = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
METERS = catalogue(["t3.micro"])


def at(minutes: float) -> datetime:
    return H + timedelta(minutes=minutes)


def test_an_interval_is_cut_at_each_hour_and_adds_up_to_its_length() -> None:
    assert seconds_by_hour(at(50), at(130)) == [
        (H, 600),
        (H + timedelta(hours=1), 3600),
        (H + timedelta(hours=2), 600),
    ]
    assert seconds_by_hour(at(10), at(10)) == []
    assert seconds_by_hour(at(10), at(5)) == []


def test_consecutive_intervals_with_fractional_cuts_add_up_exactly() -> None:
    cuts = [H + timedelta(seconds=s) for s in (0.4, 1.7, 59.9, 3599.5, 3600.2, 7300.99)]
    total = sum(s for a, b in itertools.pairwise(cuts) for _, s in seconds_by_hour(a, b))
    assert total == 7300


def test_byte_hours_are_amount_times_hours_rounded_half_up() -> None:
    assert byte_hours_by_hour(3600, at(0), at(30)) == [(H, 1800)]
    assert byte_hours_by_hour(1, at(0), at(30)) == [(H, 1)]  # 0.5 rounds up
    assert byte_hours_by_hour(1, at(0), at(29)) == [(H, 0)]
    assert byte_hours_by_hour(0, at(0), at(60)) == []


def _run(start: datetime, billed: datetime | None = None) -> Run:
    return Run("i-1", "t", "eu-fr-1", "ec2.instance.t3.micro", start, billed or start)


def test_a_run_shorter_than_a_minute_is_billed_a_minute() -> None:
    made = run_increments(_run(at(10)), at(10) + timedelta(seconds=12), ended=True)
    assert [(i.hour, i.quantity) for i in made] == [(H, 60)]


def test_the_minimum_counts_what_earlier_billings_already_charged() -> None:
    start = H + timedelta(minutes=59, seconds=40)
    billed = H + timedelta(hours=1)  # a sample billed 20 s in the first hour
    made = run_increments(_run(start, billed), billed + timedelta(seconds=10), ended=True)
    assert [(i.hour, i.quantity) for i in made] == [(H + timedelta(hours=1), 40)]


def test_a_run_is_billed_per_second_past_the_minute() -> None:
    made = run_increments(_run(at(0)), at(0) + timedelta(seconds=61.9), ended=True)
    assert [i.quantity for i in made] == [61]
    # Still running: no minimum yet, only the seconds so far.
    assert [i.quantity for i in run_increments(_run(at(0)), at(0.5), ended=False)] == [30]


@pytest.mark.parametrize(
    ("operation", "method", "meter"),
    [
        ("PutObject", "PUT", "s3.requests.class-a"),
        ("CopyObject", "PUT", "s3.requests.class-a"),
        ("PostObject", "POST", "s3.requests.class-a"),
        ("ListObjectsV2", "GET", "s3.requests.class-a"),
        ("ListBuckets", "GET", "s3.requests.class-a"),
        ("GetObject", "GET", "s3.requests.class-b"),
        ("HeadObject", "HEAD", "s3.requests.class-b"),
        ("GetBucketLocation", "GET", "s3.requests.class-b"),
        ("SelectObjectContent", "POST", "s3.requests.class-b"),  # a read, priced as a GET
        ("DeleteObject", "DELETE", None),
        ("DeleteObjects", "POST", None),
        ("AbortMultipartUpload", "DELETE", None),
    ],
)
def test_s3_request_classes_follow_aws_tiers(operation: str, method: str, meter: str) -> None:
    assert s3_request_meter(operation, method) == meter


def test_a_line_rounds_net_and_vat_half_up_to_the_cent() -> None:
    meter = METERS["s3.requests.class-a"]  # per 1000 requests
    usage, net, vat = line_amounts(5, meter, Decimal("1.00"), Decimal("0.20"))
    assert (usage, net, vat) == (Decimal("0.005"), Decimal("0.01"), Decimal("0.00"))
    usage, net, vat = line_amounts(3, meter, Decimal("5"), Decimal("0.10"))  # 0.015 -> 0.02
    assert (net, vat) == (Decimal("0.02"), Decimal("0.00"))
    _, net, vat = line_amounts(1250, meter, Decimal("2"), Decimal("0.2"))  # 2.50, 0.50
    assert (net, vat) == (Decimal("2.50"), Decimal("0.50"))
    _, net, vat = line_amounts(25, meter, Decimal("1"), Decimal("0.2"))  # 0.025 -> 0.03
    assert (net, vat) == (Decimal("0.03"), Decimal("0.01"))  # 0.006 -> 0.01


def test_huge_quantities_keep_every_digit() -> None:
    meter = METERS["s3.storage"]  # byte-hours, priced per GiB-month
    quantity = 2**30 * 730 * 10**6 + 1  # a million GiB-months and one byte-hour
    usage, net, _ = line_amounts(quantity, meter, Decimal("0.02"), Decimal(0))
    assert usage > Decimal(10**6)
    assert net == Decimal("20000.00")


def test_a_report_prices_each_region_and_meter_and_sums_the_rounded_lines() -> None:
    totals = [
        UsageTotal("eu-fr-1", "s3.requests.class-a", 1500),
        UsageTotal("eu-fr-1", "ec2.instance.t3.micro", 3600 * 10),
        UsageTotal("eu-de-1", "s3.requests.class-a", 1000),
        UsageTotal("eu-fr-1", "kms.requests", 0),
    ]
    prices = {
        ("eu-fr-1", "s3.requests.class-a"): Decimal("0.005"),
        ("eu-fr-1", "ec2.instance.t3.micro"): Decimal("0.0125"),
    }
    made = report("t", parse_month("2026-12"), totals, METERS, prices, {"eu-fr-1": Decimal("0.2")})
    lines = {(line.region, line.meter): line for line in made.lines}
    assert set(lines) == {
        ("eu-de-1", "s3.requests.class-a"),
        ("eu-fr-1", "ec2.instance.t3.micro"),
        ("eu-fr-1", "s3.requests.class-a"),
    }
    assert lines[("eu-fr-1", "s3.requests.class-a")].net == Decimal("0.01")  # 0.0075
    assert lines[("eu-fr-1", "ec2.instance.t3.micro")].net == Decimal("0.13")  # 0.125
    assert lines[("eu-fr-1", "ec2.instance.t3.micro")].vat == Decimal("0.03")  # 0.026
    unpriced = lines[("eu-de-1", "s3.requests.class-a")]
    assert unpriced.unit_price is None and unpriced.net == 0 and unpriced.vat_rate == 0
    assert (made.net, made.vat, made.total) == (Decimal("0.14"), Decimal("0.03"), Decimal("0.17"))


@pytest.mark.parametrize("bad", ["-0.01", "abc", "NaN", "Infinity", "1e9", "0.0000000001", 0.1])
def test_prices_are_non_negative_finite_decimals(bad: object) -> None:
    with pytest.raises(InvalidPrice):
        parse_price(bad)


def test_prices_and_rates_that_are_fine() -> None:
    assert parse_price("0.000000001") == Decimal("0.000000001")
    assert parse_price("0") == 0
    assert parse_vat_rate("0.2") == Decimal("0.2")
    with pytest.raises(InvalidPrice):
        parse_vat_rate("1.5")


def test_months_are_utc_periods() -> None:
    december = parse_month("2026-12")
    assert (december.start, december.end) == (
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )
    assert parse_month("2027-02").end == datetime(2027, 3, 1, tzinfo=UTC)
    for bad in ("2026-13", "2026-00", "26-12", "2026-1", "1969-12", ""):
        with pytest.raises(InvalidPeriod):
            parse_month(bad)


def test_instance_meters_come_from_the_types_offered() -> None:
    assert "ec2.instance.t3.micro" in METERS
    assert METERS["ec2.instance.t3.micro"] == instance_meter("t3.micro")
    assert "ec2.instance.m5.large" not in METERS


def test_increments_are_values() -> None:
    assert UsageIncrement("t", "r", "m", H, 1) == UsageIncrement("t", "r", "m", H, 1)
