"""A shard's write throughput (decision 0228): AWS takes at most 1,000 records and 1 MiB a
second into one shard and answers the rest ``ProvisionedThroughputExceededException`` (each
record of a PutRecords, the whole PutRecord). This gateway counts what it took in the current
second per shard; with several gateways each counts its own, so a stream takes up to that
many times the bound (a bound against one runaway producer, not a bill)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

__all__ = ["ShardThrottle"]

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

    def admit(self, tenant_id: str, stream: str, shard: int, size: int) -> bool:
        """Whether one more record of ``size`` bytes fits the shard's current second (and,
        if so, counted)."""
        second = int(self._clock())
        key = (tenant_id, stream, shard)
        held = self._window.get(key)
        records, taken = (0, 0) if held is None or held[0] != second else held[1:]
        if records + 1 > self._records or taken + size > self._bytes:
            return False
        if held is None and len(self._window) >= _REMEMBERED:
            self._window.clear()
        self._window[key] = (second, records + 1, taken + size)
        return True
