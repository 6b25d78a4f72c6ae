"""On-demand streams' write capacity following their traffic (decision 0255).

AWS gives a new on-demand stream 4 shards and "accommodates up to double its previous peak
write throughput": its shards split as the observed writes near their capacity. Here each
gateway notes, per on-demand stream and shard, the busiest second of writes since the
scaler's last round (:class:`WriteTraffic`; a record refused past the shard's throughput
counts the shard as full), as a fraction of a shard's capacity (1 MiB and 1,000 records a
second, the throttle's). Every round the scaler (:class:`OnDemandScaler`) gives each stream
that was written what :func:`scale_out` decides: enough shards for double its peak (its
shards' loads summed, at least the 4 it started with), and every shard whose doubled peak
would pass a shard's capacity split, the hottest first, at most doubling the open shards in
one round and never past the stream's bound (``kinesis_max_on_demand_shards``) nor the
account's open shards (``kinesis_max_shards``).

A scale-out is one reshard through the store's own path (children whose ``ParentShardId``
names the shard split, parents closed at the counter, ``ChildShards`` at the parents' end):
a put routed by the old layout is refused by the store and routed again, so a key's records
stay in order (its parent's, then its child's). Another gateway's reshard of the same round
wins the layout; the loser's round is dropped, the next one sees the new shards. Each
gateway sees the writes it took: with several, a stream's load is split among them and it
scales later than one gateway would have it (as the throttle's own bound). Streams whose
shards stay cold are merged back by :meth:`OnDemandScaler.scale_in` (``kinesis.scaling_in``,
decision 0260)."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from andromede.kinesis.errors import LimitExceeded
from andromede.kinesis.model import Shard, ShardChange, Stream, StreamMode
from andromede.kinesis.store import KinesisStore

if TYPE_CHECKING:
    from andromede.kinesis.scaling_in import ColdShards

__all__ = ["ON_DEMAND_SHARDS", "OnDemandScaler", "ShardCapacity", "WriteTraffic", "scale_out"]

ON_DEMAND_SHARDS: Final = 4  # the shards AWS gives a new on-demand stream
PEAK_FACTOR: Final = 2  # AWS: up to double the previous peak
_REMEMBERED: Final = 100_000  # shards noted at once; beyond, the round's notes are dropped
_PAGE: Final = 100  # streams read at once by a scale-in pass
log = logging.getLogger(__name__)

_Key = tuple[str, str, int]  # account, stream, shard


@dataclass(frozen=True, slots=True)
class ShardCapacity:
    records_per_second: int
    bytes_per_second: int


class WriteTraffic:
    """The busiest second of each on-demand shard's writes since the last :meth:`take`."""

    def __init__(self, capacity: ShardCapacity, clock: Callable[[], float] = time.monotonic):
        self._capacity = capacity
        self._clock = clock
        self._second: dict[_Key, tuple[int, int, int]] = {}  # second, records, bytes
        self._peak: dict[_Key, float] = {}

    def note(
        self, stream: Stream, written: Sequence[tuple[int, int]], throttled: Sequence[int]
    ) -> None:
        """``written``: (shard, bytes) of each record taken; ``throttled``: the shard of each
        refused past its throughput (the observer's ``incoming``)."""
        if stream.mode is not StreamMode.ON_DEMAND:
            return
        if len(self._second) >= _REMEMBERED:
            self._second.clear()
            self._peak.clear()
        second = int(self._clock())
        for shard, size in written:
            key = (stream.tenant_id, stream.name, shard)
            held = self._second.get(key)
            records, taken = (0, 0) if held is None or held[0] != second else held[1:]
            self._second[key] = (second, records + 1, taken + size)
            self._raise(key, self._load(records + 1, taken + size))
        for shard in throttled:
            self._raise((stream.tenant_id, stream.name, shard), 1.0)

    def _load(self, records: int, size: int) -> float:
        capacity = self._capacity
        return max(records / capacity.records_per_second, size / capacity.bytes_per_second)

    def _raise(self, key: _Key, load: float) -> None:
        if load > self._peak.get(key, 0.0):
            self._peak[key] = load

    def take(self) -> dict[tuple[str, str], dict[int, float]]:
        """Each written stream's shards' peak loads (a shard's capacity is 1.0), forgotten."""
        peaks, self._peak = self._peak, {}
        self._second = {}
        loads: dict[tuple[str, str], dict[int, float]] = {}
        for (tenant_id, name, shard), load in peaks.items():
            loads.setdefault((tenant_id, name), {})[shard] = load
        return loads


def scale_out(stream: Stream, loads: Mapping[int, float], max_shards: int) -> ShardChange | None:
    """The shards to split for double the stream's peak ``loads`` (per open shard, in shards'
    capacities), each at the middle of its hash key range; None when it has enough."""
    current = stream.open_shards
    peak = sum(loads.get(s.index, 0.0) for s in current)
    needed = max(ON_DEMAND_SHARDS, math.ceil(PEAK_FACTOR * peak - 1e-9))
    hot = [s for s in current if PEAK_FACTOR * loads.get(s.index, 0.0) > 1.0]
    splittable = [s for s in current if s.end_hash > s.start_hash]
    adding = min(
        max(needed - len(current), len(hot)),
        len(current),  # at most double in one round
        max_shards - len(current),
        len(splittable),
    )
    if adding <= 0:
        return None
    chosen = sorted(
        splittable,
        key=lambda s: (-loads.get(s.index, 0.0), -(s.end_hash - s.start_hash), s.index),
    )[:adding]
    first = max(s.index for s in stream.shards) + 1
    opening: list[Shard] = []
    for shard in sorted(chosen, key=lambda s: s.start_hash):
        middle = (shard.start_hash + shard.end_hash + 1) // 2
        index = first + len(opening)
        opening.append(Shard(index, shard.start_hash, middle - 1, 0, parent=shard.index))
        opening.append(Shard(index + 1, middle, shard.end_hash, 0, parent=shard.index))
    return ShardChange(tuple(s.index for s in sorted(chosen, key=lambda s: s.start_hash)),
                       tuple(opening))  # fmt: skip


class OnDemandScaler:
    """One round of scale-outs over the streams :class:`WriteTraffic` saw written; with
    ``cold``, scale-ins too (decision 0260)."""

    def __init__(
        self,
        store: KinesisStore,
        traffic: WriteTraffic,
        *,
        max_stream_shards: int,
        max_account_shards: int,
        clock: Callable[[], float] = time.time,
        cold: ColdShards | None = None,
    ) -> None:
        self._store = store
        self._traffic = traffic
        self._max_stream_shards = max_stream_shards
        self._max_account_shards = max_account_shards
        self._clock = clock
        self._cold = cold

    async def scale(self) -> list[Stream]:
        """The streams scaled out this round, as they are now."""
        scaled = []
        taken = self._traffic.take()
        if self._cold is not None:
            self._cold.note(taken, self._clock())
        for (tenant_id, name), loads in sorted(taken.items()):
            stream = await self._store.get(tenant_id, name)
            if stream is None or stream.mode is not StreamMode.ON_DEMAND:
                continue
            change = scale_out(stream, loads, self._max_stream_shards)
            if change is None:
                continue
            try:
                changed = await self._store.reshard(
                    tenant_id, name, stream.layout, change, int(self._clock() * 1000),
                    self._max_account_shards,
                )  # fmt: skip
            except LimitExceeded:
                log.info("on-demand stream %s of %s not scaled: account shard limit", name,
                         tenant_id)  # fmt: skip
                continue
            if changed is not None:  # else another reshard came first: the next round
                scaled.append(changed)
        return scaled

    async def scale_in(self) -> list[Stream]:
        """The on-demand streams one pair of whose cold shards was merged this round, as they
        are now (every stream read a page at a time)."""
        merged: list[Stream] = []
        if self._cold is None:
            return merged
        after: tuple[str, str] | None = None
        seen: set[tuple[str, str]] = set()
        while True:
            page = await self._store.every_stream(after, _PAGE)
            for stream in page:
                seen.add((stream.tenant_id, stream.name))
                change = self._cold.merge(stream, self._clock())
                if change is None:
                    continue
                changed = await self._store.reshard(
                    stream.tenant_id, stream.name, stream.layout, change,
                    int(self._clock() * 1000), self._max_account_shards,
                )  # fmt: skip
                if changed is not None:  # else a reshard came first: the next round
                    merged.append(changed)
            if len(page) < _PAGE:
                self._cold.retain(seen)
                return merged
            after = (page[-1].tenant_id, page[-1].name)
