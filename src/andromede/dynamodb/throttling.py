"""DynamoDB's throughput enforcement (decision 0267): a table's and each global secondary
index's read and write capacity as token buckets, held in this gateway's memory.

A bucket fills at its rate (units a second) and holds at most ``burst_seconds`` of it (AWS
keeps up to 300 s of unused capacity); it starts full. A call is let in while every bucket it
draws on holds something (AWS too lets a call through that overdraws, and throttles the next
ones): a read draws on the table's read bucket, or a global index's when it queries or scans
one (a local index's reads are the table's); a write draws on the table's write bucket and on
every global index's write bucket (a global index short of write capacity throttles the
table's writes, as on AWS). After the call, what it consumed (the units the bill counts,
decision 0247) is taken from the buckets, which may go below zero: the debt is paid back by
the rate before the next call is let in.

The rate of a ``PROVISIONED`` table or index is its capacity units; of a ``PAY_PER_REQUEST``
one its ``OnDemandThroughput`` maximum (-1: none), never above the per-table ceiling (AWS's
account quota, 40,000 request units a second), with one second of burst. Several gateways
each hold their own buckets and each enforce ``1 / gateways`` of the rate (as Kinesis's shard
throughput is per gateway, decisions 0248 and 0255): no database round trip per call.

Hot partitions (decision 0291): one partition key value of a table (or of the global index
a query reads) has its own read and write buckets, AWS's partition limits
(``partition_max_read`` 3,000 and ``partition_max_write`` 1,000 units a second, one second of
burst), whatever the table's capacity or mode; a call on a spent key is refused with the
reason ``…KeyRangeThroughputExceeded``. A scan reads across partitions and draws on none.

Refused: :class:`ThroughputExceeded`, carrying AWS's ``ThrottlingReasons``
(``TableReadProvisionedThroughputExceeded``, ``IndexWriteMaxOnDemandThroughputExceeded``…).

The rules for changing throughput (:func:`decrease_refusal`) are AWS's: four decreases at any
time in a UTC day, then one more an hour at most.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from andromede.dynamodb import capacity
from andromede.dynamodb.errors import DynamoError
from andromede.dynamodb.model import BillingMode, SecondaryIndex, Table

__all__ = [
    "ThroughputExceeded",
    "ThroughputGate",
    "ThroughputLimits",
    "cancellation_reasons",
    "decrease_refusal",
    "decreases_today",
]

_TABLE_MESSAGE: Final = (
    "The level of configured provisioned throughput for the table was exceeded. Consider "
    "increasing your provisioning level with the UpdateTable API."
)
_INDEX_MESSAGE: Final = (
    "The level of configured provisioned throughput for one or more global secondary indexes "
    "of the table was exceeded. Consider increasing your provisioning level for the "
    "under-provisioned global secondary indexes with the UpdateTable API"
)
_MAXIMUM_MESSAGE: Final = (
    "Throughput exceeds the maximum OnDemandThroughput configured on table or index"
)
_QUOTA_MESSAGE: Final = "Throughput exceeds the current throughput limit for your account."
_HOT_KEY_MESSAGE: Final = (
    "Throughput exceeds the current capacity of your table or index. DynamoDB is automatically "
    "scaling your table or index so please try again shortly. If exceptions persist, check if "
    "you have a hot key: "
    "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html"
)
_KEY_RANGE: Final = "KeyRangeThroughputExceeded"
_FREE_DECREASES: Final = 4
_DECREASE_SPACING_MS: Final = 3600 * 1000
_DAY_MS: Final = 86_400 * 1000
_PRUNE_EVERY: Final = 4096


@dataclass(frozen=True, slots=True)
class ThroughputLimits:
    """The settings the enforcement and UpdateTable's checks read."""

    table_max_read: int = 40_000
    table_max_write: int = 40_000
    account_max_read: int = 80_000
    account_max_write: int = 80_000
    on_demand_max_read: int = 40_000
    on_demand_max_write: int = 40_000
    burst_seconds: float = 300.0
    partition_max_read: int = 3_000  # decision 0291
    partition_max_write: int = 1_000
    gateways: int = 1
    enforced: bool = True


class ThroughputExceeded(DynamoError):
    """A call refused for want of capacity: the wire error type (AWS's), each reason with the
    ARN of the table or index it is about."""

    def __init__(self, error_type: str, message: str, reasons: list[tuple[str, str]]) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.reasons = reasons


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float  # when ``tokens`` was last brought up to date (monotonic s)
    share: float = 0.0  # this gateway's rate, units a second
    cap: float = 0.0  # the most it holds

    def full_at(self, now: float) -> bool:
        return self.share > 0 and self.tokens + (now - self.at) * self.share >= self.cap


def _rate(
    table: Table, index: SecondaryIndex | None, write: bool, limits: ThroughputLimits
) -> tuple[float, str]:
    """The units a second of the table's or a global index's reads or writes, and the kind
    of limit it is (the end of a ``ThrottlingReasons`` reason)."""
    if table.billing_mode is BillingMode.PROVISIONED:
        owner = index if index is not None else table
        units = owner.write_capacity if write else owner.read_capacity
        if not units and index is not None:
            # An index made on demand whose table turned provisioned without giving it a
            # capacity: the table's, rather than nothing at all (which would stop every write).
            units = table.write_capacity if write else table.read_capacity
        return float(units), "ProvisionedThroughputExceeded"
    ceiling = limits.on_demand_max_write if write else limits.on_demand_max_read
    holder = index if index is not None else table
    maximum = holder.max_write_requests if write else holder.max_read_requests
    if 0 < maximum <= ceiling:
        return float(maximum), "MaxOnDemandThroughputExceeded"
    return float(ceiling), "AccountLimitExceeded"


class ThroughputGate:
    """This gateway's buckets; ``clock`` (monotonic seconds) is injected for the tests."""

    def __init__(
        self, limits: ThroughputLimits, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limits = limits
        self._clock = clock
        self._buckets: dict[tuple[str, str, int, str, bool], _Bucket] = {}
        # A partition key value's, keyed (account, table, created, index or "", key, write).
        self._partitions: dict[tuple[str, str, int, str, str, bool], _Bucket] = {}
        self._calls = 0

    def _partition(self, table: Table, index: str | None, key: str, write: bool) -> _Bucket:
        name = "" if index is None else index
        held_key = (table.tenant_id, table.name, table.created, name, key, write)
        now = self._clock()
        limit = self.limits.partition_max_write if write else self.limits.partition_max_read
        share = limit / self.limits.gateways
        held = self._partitions.get(held_key)
        if held is None:
            held = self._partitions[held_key] = _Bucket(share, now, share, share)
        else:
            held.tokens = min(share, held.tokens + (now - held.at) * share)
            held.at, held.share, held.cap = now, share, share
        return held

    def admit_key(self, table: Table, write: bool, index: str | None, key: str) -> None:
        """Refuses (:class:`ThroughputExceeded`, ``KeyRangeThroughputExceeded``) a call on a
        partition key value whose partition bucket is spent (decision 0291): a table's key, or
        the key of the global index a query reads."""
        if not self.limits.enforced:
            return
        reading = None if index is None else table.index(index)
        if reading is not None and reading.local:
            index = None  # a local index lives in its table's partitions
        if self._partition(table, index, key, write).tokens > 0:
            return
        capacity.throttled(table.name, index, write, key_range=True)
        operation = "Write" if write else "Read"
        arn = table.arn if index is None else f"{table.arn}/index/{index}"
        reason = f"{'Table' if index is None else 'Index'}{operation}{_KEY_RANGE}"
        if table.billing_mode is BillingMode.PROVISIONED:
            message = _TABLE_MESSAGE if index is None else _INDEX_MESSAGE
            raise ThroughputExceeded(
                "ProvisionedThroughputExceededException", message, [(reason, arn)]
            )
        raise ThroughputExceeded("ThrottlingException", _HOT_KEY_MESSAGE, [(reason, arn)])

    def spend_key(
        self, table: Table, index: str | None, key: str, read: float, write: float
    ) -> None:
        """What a call on one partition key value consumed, taken from its partition."""
        if not self.limits.enforced:
            return
        reading = None if index is None else table.index(index)
        if reading is not None and reading.local:
            index = None
        if read:
            self._partition(table, index, key, False).tokens -= read
        if write:
            self._partition(table, None, key, True).tokens -= write

    def _bucket(self, table: Table, index: str, write: bool, rate: float, burst: float) -> _Bucket:
        key = (table.tenant_id, table.name, table.created, index, write)
        now = self._clock()
        share = rate / self.limits.gateways
        held = self._buckets.get(key)
        if held is None:
            held = self._buckets[key] = _Bucket(share * burst, now)
        else:
            held.tokens = min(share * burst, held.tokens + (now - held.at) * held.share)
            held.at = now
        held.share, held.cap = share, share * burst
        return held

    def _burst(self, table: Table) -> float:
        return self.limits.burst_seconds if table.billing_mode is BillingMode.PROVISIONED else 1.0

    def _targets(
        self, table: Table, write: bool, reading: SecondaryIndex | None
    ) -> list[SecondaryIndex | None]:
        if not write:
            return [reading if reading is not None and not reading.local else None]
        return [None, *(i for i in table.indexes if not i.local)]

    def admit(self, table: Table, write: bool, reading: SecondaryIndex | None = None) -> None:
        """Refuses (:class:`ThroughputExceeded`) a call whose buckets are empty."""
        if not self.limits.enforced:
            return
        self._calls += 1
        if self._calls % _PRUNE_EVERY == 0:
            self._prune()
        burst = self._burst(table)
        refused: list[tuple[SecondaryIndex | None, str]] = []
        for target in self._targets(table, write, reading):
            rate, kind = _rate(table, target, write, self.limits)
            bucket = self._bucket(table, "" if target is None else target.name, write, rate, burst)
            if bucket.tokens <= 0:
                refused.append((target, kind))
        if not refused:
            return
        for target, _ in refused:  # ReadThrottleEvents / WriteThrottleEvents (decision 0254)
            capacity.throttled(table.name, None if target is None else target.name, write)
        raise _exceeded(table, write, refused)

    def spend(
        self,
        table: Table,
        read: float,
        write: float,
        index_writes: Mapping[str, float],
        reading: SecondaryIndex | None = None,
    ) -> None:
        """What a call consumed, taken from its buckets."""
        if not self.limits.enforced:
            return
        if read:
            target = reading if reading is not None and not reading.local else None
            self._take(table, target, False, read)
        own = write
        for name, units in index_writes.items():
            index = table.index(name)
            if index is None or index.local:  # a local index's writes are the table's
                own += units
            else:
                self._take(table, index, True, units)
        if own:
            self._take(table, None, True, own)

    def _take(self, table: Table, target: SecondaryIndex | None, write: bool, units: float) -> None:
        rate = _rate(table, target, write, self.limits)[0]
        name = "" if target is None else target.name
        self._bucket(table, name, write, rate, self._burst(table)).tokens -= units

    def _prune(self) -> None:
        """Buckets refilled to the full are forgotten (made again full when next used), so
        idle and deleted tables' buckets do not stay; one in debt is kept until paid."""
        now = self._clock()
        for key in [k for k, b in self._buckets.items() if b.full_at(now)]:
            del self._buckets[key]
        for held in [k for k, b in self._partitions.items() if b.full_at(now)]:
            del self._partitions[held]


def cancellation_reasons(
    gate: ThroughputGate | None,
    actions: Sequence[tuple[Table, bool]],
    keys: Sequence[str] | None = None,
) -> list[dict[str, str]] | None:
    """A transaction's ``CancellationReasons`` when one of its actions (its table, a write?)
    would be throttled (``ThrottlingError``, the others ``None``) — its table's capacity, or
    its partition key's (``keys``, decision 0291); None when all may go."""
    if gate is None or not capacity.measured():
        return None
    reasons: list[dict[str, str]] = []
    for position, (table, write) in enumerate(actions):
        try:
            gate.admit(table, write)
            if keys is not None:
                gate.admit_key(table, write, None, keys[position])
        except ThroughputExceeded as exc:
            reasons.append({"Code": "ThrottlingError", "Message": str(exc)})
        else:
            reasons.append({"Code": "None"})
    return reasons if any(r["Code"] != "None" for r in reasons) else None


def _exceeded(
    table: Table, write: bool, refused: list[tuple[SecondaryIndex | None, str]]
) -> ThroughputExceeded:
    operation = "Write" if write else "Read"
    reasons = [
        (
            f"{'Table' if target is None else 'Index'}{operation}{kind}",
            table.arn if target is None else f"{table.arn}/index/{target.name}",
        )
        for target, kind in refused
    ]
    kinds = {kind for _, kind in refused}
    if "ProvisionedThroughputExceeded" in kinds:
        on_table = any(target is None for target, _ in refused)
        message = _TABLE_MESSAGE if on_table else _INDEX_MESSAGE
        return ThroughputExceeded("ProvisionedThroughputExceededException", message, reasons)
    if "MaxOnDemandThroughputExceeded" in kinds:
        return ThroughputExceeded("ThrottlingException", _MAXIMUM_MESSAGE, reasons)
    return ThroughputExceeded("RequestLimitExceeded", _QUOTA_MESSAGE, reasons)


def decreases_today(table: Table, now_ms: int) -> int:
    """NumberOfDecreasesToday: the decreases of the current UTC day."""
    if not table.last_decrease or table.last_decrease // _DAY_MS != now_ms // _DAY_MS:
        return 0
    return table.decreases_today


def decrease_refusal(table: Table, now_ms: int) -> str | None:
    """Why a decrease of the table's throughput is refused now (None: allowed): AWS lets four
    happen at any time in a UTC day, then one an hour."""
    count = decreases_today(table, now_ms)
    if count < _FREE_DECREASES or now_ms - table.last_decrease >= _DECREASE_SPACING_MS:
        return None
    last = datetime.fromtimestamp(table.last_decrease / 1000, UTC)
    following = datetime.fromtimestamp((table.last_decrease + _DECREASE_SPACING_MS) / 1000, UTC)
    return (
        "Subscriber limit exceeded: Provisioned throughput decreases are limited within a given "
        f"UTC day. After the first {_FREE_DECREASES} decreases, each subsequent decrease in the "
        f"same UTC day can be performed at most once every 3600 seconds. Number of decreases "
        f"today: {count}. Last decrease at {last:%A, %B %d, %Y %H:%M:%S %Z}. Next decrease can be "
        f"made at {following:%A, %B %d, %Y %H:%M:%S %Z}"
    )
