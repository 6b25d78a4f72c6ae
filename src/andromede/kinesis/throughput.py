"""A shard's write and read throughput (large records' bursts, decision 0260).

Writes (decision 0228): AWS takes at most 1,000 records and 1 MiB a second into one shard and
answers the rest ``ProvisionedThroughputExceededException`` (each record of a PutRecords, the
whole PutRecord). Reads (decision 0248): AWS serves a shard at most 5 GetRecords calls a
second and 2 MB a second; a call may return more than a second's share (up to 10 MiB), after
which the shard's next calls are refused until the reads are paid back (AWS: "subsequent
calls made within the next 5 seconds throw"). Enhanced fan-out reads have their own
throughput and are not counted. This gateway counts what it took in the current second per
shard; with several gateways each counts its own, so a stream takes up to that many times the
bound (a bound against one runaway client, not a bill)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

__all__ = ["ShardReadThrottle", "ShardThrottle"]

_REMEMBERED: Final = 100_000  # shards counted at once; the window is emptied beyond


class ShardThrottle:
    def __init__(
        self,
        records_per_second: int,
        bytes_per_second: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._records = records_per_second
        self._bytes = bytes_per_second
        self._clock = clock
        self._window: dict[tuple[str, str, int], tuple[int, int, int]] = {}
        self._paying: dict[tuple[str, str, int], float] = {}  # shard: refused until

    def admit(self, tenant_id: str, stream: str, shard: int, size: int) -> bool:
        """Whether one more record of ``size`` bytes fits the shard's current second (and,
        if so, counted). A record larger than a second's bytes (up to 10 MiB, decision 0260)
        bursts: taken whatever the second took already, unless the shard still owes a burst,
        then the shard refuses every write until the second's bytes and the record's are
        paid back at the sustained rate, as AWS "temporarily bursts beyond its sustained
        write throughput" (so a large record gets in amid steady small writes, and the
        shard's average stays within its bound)."""
        now = self._clock()
        second = int(now)
        key = (tenant_id, stream, shard)
        if self._paying and now < self._paying.get(key, 0.0):
            return False
        held = self._window.get(key)
        records, taken = (0, 0) if held is None or held[0] != second else held[1:]
        if size > self._bytes and records < self._records:
            if len(self._paying) >= _REMEMBERED:
                self._paying.clear()
            self._paying[key] = now + (taken + size) / self._bytes
            self._window[key] = (second, records + 1, taken + size)
            return True
        if records + 1 > self._records or taken + size > self._bytes:
            return False
        if held is None and len(self._window) >= _REMEMBERED:
            self._window.clear()
        self._window[key] = (second, records + 1, taken + size)
        return True


class ShardReadThrottle:
    """GetRecords' bound per shard: calls in the current second, and a balance of bytes
    refilled at ``bytes_per_second`` (at most one second's worth), which a read spends and may
    overdraw; a call is refused while the balance is not positive."""

    def __init__(
        self,
        calls_per_second: int,
        bytes_per_second: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._calls = calls_per_second
        self._bytes = float(bytes_per_second)
        self._clock = clock
        # (second, calls in it, byte balance, when the balance was last refilled)
        self._window: dict[tuple[str, str, int], tuple[int, int, float, float]] = {}

    def admit(self, tenant_id: str, stream: str, shard: int) -> bool:
        """Whether one more GetRecords of the shard may run now (and, if so, counted)."""
        now = self._clock()
        second = int(now)
        key = (tenant_id, stream, shard)
        held = self._window.get(key)
        if held is None:
            calls, balance = 0, self._bytes
            if len(self._window) >= _REMEMBERED:
                self._window.clear()
        else:
            calls = held[1] if held[0] == second else 0
            balance = min(self._bytes, held[2] + (now - held[3]) * self._bytes)
        admitted = calls < self._calls and balance > 0
        self._window[key] = (second, calls + admitted, balance, now)
        return admitted

    def spend(self, tenant_id: str, stream: str, shard: int, size: int) -> None:
        """``size`` bytes read from the shard by the call just admitted."""
        key = (tenant_id, stream, shard)
        held = self._window.get(key)
        if held is not None:
            self._window[key] = (held[0], held[1], held[2] - size, held[3])
