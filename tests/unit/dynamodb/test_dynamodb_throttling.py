"""Decision 0267's token buckets (``dynamodb.throttling``) on a fake clock: provisioned
capacity with 300 s of burst, a global index's write capacity throttling the table's writes,
on-demand maximums and the per-table ceiling, the per-gateway share, AWS's decrease rule."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from andromede.dynamodb import capacity
from andromede.dynamodb.model import BillingMode, KeyElement, SecondaryIndex, Table
from andromede.dynamodb.throttling import (
    ThroughputExceeded,
    ThroughputGate,
    ThroughputLimits,
    cancellation_reasons,
    decrease_refusal,
    decreases_today,
)

PK = KeyElement("pk", "S")
GSI = SecondaryIndex("by-g", False, KeyElement("g", "S"), None, read_capacity=2, write_capacity=1)
LSI = SecondaryIndex("by-s", True, PK, KeyElement("s", "S"))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def table(mode: BillingMode = BillingMode.PROVISIONED, **changes: object) -> Table:
    made = Table("111122223333", "things", "eu-west-1", 1, PK, None, (PK,), mode, 10, 5, b"k")
    return dataclasses.replace(made, **changes)  # type: ignore[arg-type]


def gate(clock: Clock, **limits: object) -> ThroughputGate:
    return ThroughputGate(ThroughputLimits(**limits), clock)  # type: ignore[arg-type]


def test_a_table_bursts_then_is_throttled_until_the_rate_pays_the_debt() -> None:
    clock, things = Clock(), table()
    held = gate(clock, burst_seconds=300)
    held.admit(things, write=True)
    held.spend(things, 0, 5 * 300, {})  # the whole burst at once: empty, not refused yet
    with pytest.raises(ThroughputExceeded) as refused:
        held.admit(things, write=True)
    assert refused.value.error_type == "ProvisionedThroughputExceededException"
    assert str(refused.value).startswith("The level of configured provisioned throughput for the")
    assert refused.value.reasons == [("TableWriteProvisionedThroughputExceeded", things.arn)]
    held.admit(things, write=False)  # the reads have their own bucket
    held.spend(things, 0, 10, {})  # an overdraw: 10 units of debt, 2 s at 5 a second
    clock.now += 2.0
    with pytest.raises(ThroughputExceeded):
        held.admit(things, write=True)
    clock.now += 0.5
    held.admit(things, write=True)


def test_the_burst_is_at_most_the_settings_seconds_of_unused_capacity() -> None:
    clock, things = Clock(), table()
    held = gate(clock, burst_seconds=10)
    held.admit(things, write=False)
    clock.now += 10_000  # idle for long: still only 10 s of the 10 units a second
    held.spend(things, 100, 0, {})
    with pytest.raises(ThroughputExceeded):
        held.admit(things, write=False)


def test_a_global_index_short_of_write_capacity_throttles_the_tables_writes() -> None:
    clock, things = Clock(), table(indexes=(GSI, LSI))
    held = gate(clock, burst_seconds=1)
    held.spend(things, 0, 1, {"by-g": 1.0, "by-s": 1.0})
    with pytest.raises(ThroughputExceeded) as refused:
        held.admit(things, write=True)
    assert refused.value.reasons == [
        ("IndexWriteProvisionedThroughputExceeded", f"{things.arn}/index/by-g")
    ]
    assert "global secondary indexes" in str(refused.value)
    held.admit(things, write=False)  # reading the table is not the index's
    held.admit(things, write=False, reading=LSI)  # a local index reads the table's capacity
    held.spend(things, 2, 0, {}, reading=GSI)
    with pytest.raises(ThroughputExceeded) as read_refused:
        held.admit(things, write=False, reading=GSI)
    assert read_refused.value.reasons[0][0] == "IndexReadProvisionedThroughputExceeded"


def test_a_local_index_writes_draw_on_the_tables_capacity() -> None:
    clock, things = Clock(), table(indexes=(LSI,))
    held = gate(clock, burst_seconds=1)
    held.spend(things, 0, 4, {"by-s": 1.0})  # 5: the table's second of writes
    with pytest.raises(ThroughputExceeded):
        held.admit(things, write=True)


def test_an_on_demand_maximum_is_a_throttling_exception_the_ceiling_a_request_limit() -> None:
    clock = Clock()
    capped = table(BillingMode.PAY_PER_REQUEST, max_read_requests=3)
    held = gate(clock, on_demand_max_read=100, on_demand_max_write=50)
    held.spend(capped, 3, 50, {})
    with pytest.raises(ThroughputExceeded) as maximum:
        held.admit(capped, write=False)
    assert maximum.value.error_type == "ThrottlingException"
    assert maximum.value.reasons[0][0] == "TableReadMaxOnDemandThroughputExceeded"
    with pytest.raises(ThroughputExceeded) as ceiling:
        held.admit(capped, write=True)  # -1: the per-table ceiling
    assert ceiling.value.error_type == "RequestLimitExceeded"
    assert ceiling.value.reasons[0][0] == "TableWriteAccountLimitExceeded"
    clock.now += 1.0  # one second of burst on demand: refilled
    held.admit(capped, write=False)
    held.admit(capped, write=True)


def test_a_global_index_of_an_on_demand_table_has_its_own_maximum() -> None:
    clock = Clock()
    capped = dataclasses.replace(GSI, max_read_requests=1)
    things = table(BillingMode.PAY_PER_REQUEST, indexes=(capped,))
    held = gate(clock, on_demand_max_read=100)
    held.spend(things, 1, 0, {}, reading=capped)
    with pytest.raises(ThroughputExceeded) as refused:
        held.admit(things, write=False, reading=capped)
    assert refused.value.reasons == [
        ("IndexReadMaxOnDemandThroughputExceeded", f"{things.arn}/index/by-g")
    ]
    held.admit(things, write=False)  # the table's own reads: the ceiling


def test_each_gateway_enforces_its_share_and_the_switch_turns_it_off() -> None:
    clock, things = Clock(), table()
    shared = gate(clock, burst_seconds=1, gateways=2)
    shared.spend(things, 5, 0, {})  # half of 10 a second
    with pytest.raises(ThroughputExceeded):
        shared.admit(things, write=False)
    off = gate(clock, burst_seconds=1, enforced=False)
    off.spend(things, 1000, 1000, {})
    off.admit(things, write=False)
    off.admit(things, write=True)


def test_a_table_made_again_under_its_name_starts_afresh() -> None:
    clock, things = Clock(), table()
    held = gate(clock, burst_seconds=1)
    held.spend(things, 100, 0, {})
    held.admit(dataclasses.replace(things, created=2), write=False)


def test_a_refusal_is_told_to_the_calls_tally_and_a_transaction_is_cancelled() -> None:
    clock, things = Clock(), table(indexes=(GSI,))
    held = gate(clock, burst_seconds=1)
    held.spend(things, 0, 0, {"by-g": 1.0})
    other = dataclasses.replace(things, name="other", indexes=())
    with capacity.measuring() as tally:
        with pytest.raises(ThroughputExceeded):
            held.admit(things, write=True)
        reasons = cancellation_reasons(held, [(other, True), (things, True)])
    assert tally.throttle_events == [("things", "by-g", True), ("things", "by-g", True)]
    assert reasons is not None
    assert [r["Code"] for r in reasons] == ["None", "ThrottlingError"]
    assert cancellation_reasons(held, [(other, True)]) is None  # not measured: not enforced


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def test_four_decreases_a_day_then_one_an_hour_counted_per_utc_day() -> None:
    morning = _ms("2026-12-06T08:00:00")
    worn = table(decreases_today=4, last_decrease=morning)
    assert decreases_today(worn, morning + 60_000) == 4
    refusal = decrease_refusal(worn, morning + 60_000)
    assert refusal is not None and "Number of decreases today: 4" in refusal
    assert decrease_refusal(worn, morning + 3600 * 1000) is None
    assert decrease_refusal(table(decreases_today=3, last_decrease=morning), morning) is None
    next_day = _ms("2026-12-07T00:00:01")
    assert decreases_today(worn, next_day) == 0
    assert decrease_refusal(worn, next_day) is None


def test_idle_buckets_are_forgotten_but_a_debt_is_kept_until_paid() -> None:
    clock, things = Clock(), table()
    other = dataclasses.replace(things, name="other")
    held = gate(clock, burst_seconds=1)
    held.spend(things, 10_000, 0, {})  # 1,000 s of debt at 10 a second
    held.spend(other, 0, 5, {})
    held.spend(dataclasses.replace(things, name="gone"), 0, 5, {})  # a table since deleted
    clock.now += 400  # beyond any burst: "other" is full again, "things" still owes
    for _ in range(5000):  # enough calls for the pruning to run
        held.admit(other, write=True)
    with pytest.raises(ThroughputExceeded):
        held.admit(things, write=False)
    # "gone"'s forgotten, "other"'s made again since, "things"' kept.
    assert len(held._buckets) == 2
