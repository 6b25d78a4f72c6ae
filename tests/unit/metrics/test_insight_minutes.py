"""Decision 0272's minutes: a rule's minute tallied (samples, sum, least, greatest, distinct
contributors, the greatest kept), stored and merged from several gateways' parts, and
GetInsightRuleReport's arithmetic over them — periods, the seven metrics, the contributors
ranked by their sum or their greatest period."""

from __future__ import annotations

from andromede.metrics.insight_minutes import (
    METRICS,
    ContributionTally,
    Minute,
    merge,
    report,
)


def minute(*pairs: tuple[str, float]) -> Minute:
    held = Minute()
    for key, value in pairs:
        held.add((key,), value, keep=10)
    return held


def test_a_minute_counts_and_keeps_the_greatest() -> None:
    held = Minute()
    for key, value in [("a", 5.0), ("b", 1.0), ("a", 2.0), ("c", 3.0), ("d", 0.5)]:
        held.add((key,), value, keep=2)
    # Trimmed only past twice the bound while adding; exactly at a trim.
    assert (held.samples, held.total, held.low, held.high, held.unique) == (5, 11.5, 0.5, 5, 4)
    assert len(held.contributors) == 4
    held.trim(2)
    assert held.contributors == {("a",): 7.0, ("c",): 3.0}
    assert Minute.decode(held.encode()) == held
    for key in "efghij":  # past twice keep: trimmed as it goes
        held.add((key,), 0.1, keep=2)
    assert len(held.contributors) <= 4 and held.unique == 10


def test_parts_merge_into_one_minute() -> None:
    one = minute(("a", 1.0), ("b", 4.0))
    two = minute(("a", 2.0), ("c", 1.0))
    whole = merge([one, two], keep=10)
    assert whole.contributors == {("a",): 3.0, ("b",): 4.0, ("c",): 1.0}
    assert (whole.samples, whole.total, whole.low, whole.high) == (4, 8.0, 1.0, 4.0)
    assert whole.unique == 3
    assert merge([one, two], keep=1).contributors == {("b",): 4.0}


def test_the_tally_drains_per_minute_and_restores_a_failed_write() -> None:
    tally = ContributionTally(max_contributors=10)
    tally.add("t1", "r", 60_000, ("a",), 1.0)
    tally.add("t1", "r", 119_999, ("a",), 1.0)
    tally.add("t1", "r", 120_000, ("b",), 1.0)
    tally.add("t2", "r", 60_000, ("a",), 1.0)
    minutes, matched = tally.drain()
    assert sorted(minutes) == [("t1", "r", 1), ("t1", "r", 2), ("t2", "r", 1)]
    assert minutes["t1", "r", 1].samples == 2
    assert matched == {"t1": 3, "t2": 1}
    assert tally.drain() == ({}, {})
    tally.add("t1", "r", 60_000, ("a",), 1.0)
    tally.restore(minutes)
    again, _ = tally.drain()
    assert again["t1", "r", 1].samples == 3


def test_a_report_over_periods() -> None:
    minutes = {
        10: minute(("a", 1.0), ("b", 5.0)),
        11: minute(("a", 3.0)),
        12: minute(("c", 2.0), ("a", 1.0)),
        20: minute(("z", 100.0)),  # outside the range
    }
    found = report(minutes, 10, 14, 2, list(METRICS), 2, "Sum", keep=10)
    assert found.aggregate_value == 12.0
    assert found.unique_count == 3
    # a: 4 (first period) + 1 (second) = 5; b: 5; c: 2 — ties by key.
    assert found.contributors == [
        (("a",), 5.0, [(600_000, 4.0), (720_000, 1.0)]),
        (("b",), 5.0, [(600_000, 5.0)]),
    ]
    first, second = found.datapoints
    assert first == (
        600_000,
        {
            "UniqueContributors": 2.0,
            "MaxContributorValue": 5.0,
            "SampleCount": 3.0,
            "Sum": 9.0,
            "Minimum": 1.0,
            "Maximum": 5.0,
            "Average": 3.0,
        },
    )
    assert second[0] == 720_000 and second[1]["SampleCount"] == 2.0
    by_maximum = report(minutes, 10, 14, 2, ["Sum"], 1, "Maximum", keep=10)
    assert [k for k, _, _ in by_maximum.contributors] == [("b",)]
    assert by_maximum.datapoints == [(600_000, {"Sum": 9.0}), (720_000, {"Sum": 3.0})]
    empty = report({}, 0, 10, 1, ["Sum"], 10, "Sum", keep=10)
    assert (empty.aggregate_value, empty.unique_count, empty.contributors) == (0.0, 0, [])
