"""Decision 0255's on-demand scaling, pure: the busiest second of each shard's writes as a
fraction of its capacity (a refusal counting it full), forgotten once taken; and the split
decided for double the peak, the hottest shards first, at their ranges' middles, at most
doubling the open shards, never past the stream's bound."""

from __future__ import annotations

import dataclasses

from andromede.kinesis.model import (
    HASH_MAX,
    Shard,
    Stream,
    StreamMode,
    StreamStatus,
    uniform_shards,
)
from andromede.kinesis.scaling import ShardCapacity, WriteTraffic, scale_out


def stream(shards: int = 4, mode: StreamMode = StreamMode.ON_DEMAND) -> Stream:
    return Stream(
        tenant_id="t1",
        name="s",
        region="eu-fr-1",
        status=StreamStatus.ACTIVE,
        mode=mode,
        created=0,
        retention_hours=24,
        shards=tuple(Shard(i, s, e, 0) for i, s, e in uniform_shards(shards)),
        iterator_key=b"k" * 32,
    )


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_busiest_second_of_each_shard_is_kept_until_taken() -> None:
    clock = Clock()
    traffic = WriteTraffic(ShardCapacity(10, 1000), clock)
    made = stream()
    traffic.note(made, [(0, 100), (0, 100), (1, 5)], [])
    traffic.note(made, [(0, 100)], [])  # the same second: 3 records, 300 bytes
    clock.now = 101.5
    traffic.note(made, [(0, 50)], [])  # a quieter second leaves the peak
    traffic.note(made, [], [2])  # refused: the shard is full
    traffic.note(stream(mode=StreamMode.PROVISIONED), [(3, 999)], [3])  # not on-demand
    assert traffic.take() == {("t1", "s"): {0: 0.3, 1: 0.1, 2: 1.0}}
    assert traffic.take() == {}


def test_a_quiet_stream_keeps_its_four_shards() -> None:
    assert scale_out(stream(), {0: 0.4, 1: 0.4, 2: 0.4, 3: 0.4}, 200) is None
    assert scale_out(stream(), {}, 200) is None


def test_a_hot_shard_is_split_at_its_middle() -> None:
    change = scale_out(stream(), {2: 0.6, 0: 0.1}, 200)
    assert change is not None and change.closing == (2,)
    low, high = change.opening
    parent = stream().shards[2]
    assert (low.index, high.index) == (4, 5)
    assert (low.parent, high.parent) == (2, 2) and low.adjacent_parent is None
    assert low.start_hash == parent.start_hash and high.end_hash == parent.end_hash
    assert low.end_hash + 1 == high.start_hash == (parent.start_hash + parent.end_hash + 1) // 2


def test_double_the_peak_is_provisioned_hottest_first_and_bounded() -> None:
    loads = {0: 0.9, 1: 0.45, 2: 0.7, 3: 0.2}  # 2.25 shards: 5 needed; 2 shards are hot
    change = scale_out(stream(), loads, 200)
    assert change is not None and change.closing == (0, 2)
    assert [s.parent for s in change.opening] == [0, 0, 2, 2]
    full = {i: 1.0 for i in range(4)}  # 8 needed: all four split (at most double)
    change = scale_out(stream(), full, 200)
    assert change is not None and len(change.closing) == 4 and len(change.opening) == 8
    change = scale_out(stream(), full, 5)  # the stream's bound: one more shard
    assert change is not None and change.closing == (0,)
    assert scale_out(stream(), full, 4) is None


def test_a_shard_of_one_hash_key_is_not_split() -> None:
    single = dataclasses.replace(stream(1), shards=(Shard(0, 7, 7, 0), Shard(1, 8, HASH_MAX, 0)))
    change = scale_out(single, {0: 1.0, 1: 0.1}, 200)
    assert change is not None and change.closing == (1,)
