"""On-demand streams' shards merged back once their traffic stays low (decision 0260).

AWS scales an on-demand stream in as well as out, over hours. Here :class:`ColdShards` keeps,
per gateway, when each open shard of an on-demand stream was last warm (its busiest second
of writes, :class:`~andromede.kinesis.scaling.WriteTraffic`'s peak, at or above
``kinesis_scale_in_load`` of a shard's capacity) and when it was first seen; a shard is cold
once neither happened within ``kinesis_scale_in_window``. Each round, a stream with more than
the 4 shards it started with has its first pair of adjacent cold open shards (by hash key)
merged, one pair a round: the child is seen anew, so a stream steps down gradually and never
below 4.

Each gateway sees only the writes it took, so a shard cold here may be written through
another. The stream's sequence counter is shared by every gateway: the stream must also have
taken, all told, fewer records over the last window than the cold fraction of one shard's
record capacity (the counter read at each round, two marks a window apart kept per stream).
A stream written anywhere at any real rate is therefore never merged.

The merge is MergeShards' own change (:func:`~andromede.kinesis.model.merge`) through the
store's ``reshard`` under the layout read: the parents close at the counter and the child
names them (``ParentShardId``, ``AdjacentParentShardId``); a put routed by the old layout is
refused by the store and routed again, so a key's records stay in order (its parent's, then
the child's), none lost. With the load at most a quarter of a shard, the child's peak stays
within half its capacity, which the scale-out leaves as it is."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Final

from andromede.kinesis.model import ShardChange, Stream, StreamMode, merge
from andromede.kinesis.scaling import ON_DEMAND_SHARDS

__all__ = ["ColdShards"]

_REMEMBERED: Final = 100_000  # streams noted at once; beyond, all start anew
_Stream = tuple[str, str]


class ColdShards:
    """When each on-demand shard was last warm or first seen, and each stream's counter
    marks; times in seconds (the scaler's wall clock)."""

    def __init__(self, *, load: float, window: float, records_per_second: int) -> None:
        self._load = load
        self._window = window
        self._records_per_second = records_per_second
        # Per stream, each open shard's last warm second, or when it was first seen.
        self._warm: dict[_Stream, dict[int, float]] = {}
        self._marks: dict[_Stream, tuple[tuple[float, int], tuple[float, int]]] = {}

    def note(self, loads: Mapping[tuple[str, str], Mapping[int, float]], now: float) -> None:
        """A round's peaks (``WriteTraffic.take``): the shards at or above the load warm."""
        for key, shards in loads.items():
            for shard, load in shards.items():
                if load >= self._load:
                    self._warm.setdefault(key, {})[shard] = now

    def retain(self, streams: Collection[tuple[str, str]]) -> None:
        """Only ``streams`` remembered (a pass over every stream forgets the deleted ones)."""
        for gone in set(self._warm).union(self._marks).difference(streams):
            self._warm.pop(gone, None)
            self._marks.pop(gone, None)

    def merge(self, stream: Stream, now: float) -> ShardChange | None:
        """The merge of the stream's first adjacent pair of cold open shards, if it has more
        than 4 and took few records all told over the window; None otherwise."""
        if stream.mode is not StreamMode.ON_DEMAND:
            return None
        if len(self._marks) >= _REMEMBERED:
            self._warm.clear()
            self._marks.clear()
        key = (stream.tenant_id, stream.name)
        quiet = self._quiet(key, stream.next_sequence, now)
        ordered = sorted(stream.open_shards, key=lambda s: s.start_hash)
        held = self._warm.get(key, {})
        # Closed shards are forgotten; a shard first seen now starts its window.
        warm = self._warm[key] = {s.index: held.get(s.index, now) for s in ordered}
        cold = [now - warm[s.index] >= self._window for s in ordered]
        if not quiet or len(ordered) <= ON_DEMAND_SHARDS:
            return None
        for at in range(len(ordered) - 1):
            low, high = ordered[at], ordered[at + 1]
            if cold[at] and cold[at + 1] and low.end_hash + 1 == high.start_hash:
                return merge(stream, low.id, high.id)
        return None

    def _quiet(self, key: _Stream, counter: int, now: float) -> bool:
        """Whether the stream's counter grew less than the cold fraction of one shard's
        records over at least the last window (its marks roll a window apart)."""
        marks = self._marks.get(key)
        if marks is None or counter < marks[0][1]:  # new here, or a new stream of the name
            self._marks[key] = ((now, counter), (now, counter))
            return False
        oldest, newest = marks
        if now - newest[0] >= self._window:
            self._marks[key] = (newest, (now, counter))
        elapsed = now - oldest[0]
        if elapsed < self._window:
            return False
        return (counter - oldest[1]) / elapsed < self._load * self._records_per_second
