"""Decision 0260's pure parts: the billing commitment's transitions as AWS documents them
(24 hours at least; an early disable scheduled, cancelled by enabling again, DISABLED once its
end passed), a large record bursting through the shard throttle then paid back at the
sustained rate, and the cold shards an on-demand stream merges back (adjacent, cold for the
window here and by the stream's counter, never below 4, one pair a round)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from pydantic import ValidationError

from andromede.kinesis.accounts import COMMITMENT_MS, BillingCommitment, CommitmentStatus, commit
from andromede.kinesis.model import Shard, Stream, StreamMode, StreamStatus, uniform_shards
from andromede.kinesis.scaling_in import ColdShards
from andromede.kinesis.throughput import ShardThrottle
from andromede.settings import Settings
from andromede.wiring.kinesis import kinesis_limits

T0 = 1_800_000_000_000
MIB = 1024 * 1024


def test_a_commitment_holds_its_day_then_ends() -> None:
    off = BillingCommitment("t")
    on = commit(off, True, T0)
    assert (on.status, on.started_at, on.earliest_end) == (
        CommitmentStatus.ENABLED,
        T0,
        T0 + COMMITMENT_MS,
    )
    assert commit(on, True, T0 + 5) == on  # enabling again changes nothing
    early = commit(on, False, T0 + 1000)
    assert early.status is CommitmentStatus.ENABLED_UNTIL_EARLIEST_ALLOWED_END
    assert early.ended_at == T0 + COMMITMENT_MS
    assert early.as_of(T0 + COMMITMENT_MS - 1) == early
    assert early.as_of(T0 + COMMITMENT_MS).status is CommitmentStatus.DISABLED
    resumed = commit(early, True, T0 + 2000)
    assert (resumed.status, resumed.started_at, resumed.ended_at) == (
        CommitmentStatus.ENABLED,
        T0,
        None,
    )
    late = commit(on, False, T0 + COMMITMENT_MS + 1)
    assert (late.status, late.ended_at) == (CommitmentStatus.DISABLED, T0 + COMMITMENT_MS + 1)
    assert commit(late, False, T0 + COMMITMENT_MS + 2) == late
    again = commit(early, True, T0 + COMMITMENT_MS + 10)  # the scheduled end passed: anew
    assert (again.started_at, again.earliest_end) == (
        T0 + COMMITMENT_MS + 10,
        T0 + 2 * COMMITMENT_MS + 10,
    )


def test_a_large_record_bursts_then_the_shard_pays_it_back() -> None:
    now = [100.0]
    throttle = ShardThrottle(1000, MIB, clock=lambda: now[0])
    assert throttle.admit("t", "s", 0, MIB // 2)
    assert throttle.admit("t", "s", 0, 3 * MIB)  # bursts past a second's bytes, amid others
    assert not throttle.admit("t", "s", 0, 10)  # owed: 3.5 seconds at 1 MiB
    assert not throttle.admit("t", "s", 0, 2 * MIB)  # no burst on a burst
    assert throttle.admit("t", "s", 1, 10)  # another shard owes nothing
    now[0] = 103.49
    assert not throttle.admit("t", "s", 0, 10)
    now[0] = 103.5
    assert throttle.admit("t", "s", 0, 10)
    assert not throttle.admit("t", "s", 0, MIB)  # small records: the second's bound as before
    assert throttle.admit("t", "s", 0, MIB - 10)
    few = ShardThrottle(2, MIB, clock=lambda: now[0])
    assert few.admit("t", "s", 0, 1) and few.admit("t", "s", 0, 1)
    assert not few.admit("t", "s", 0, 2 * MIB)  # the second's records are spent


def _stream(count: int, next_sequence: int = 0, mode: StreamMode = StreamMode.ON_DEMAND) -> Stream:
    return Stream(
        tenant_id="t", name="s", region="eu-fr-1", status=StreamStatus.ACTIVE, mode=mode,
        created=T0, retention_hours=24, iterator_key=b"k" * 32, next_sequence=next_sequence,
        shards=tuple(Shard(i, a, b, 0) for i, a, b in uniform_shards(count)),
    )  # fmt: skip


def test_adjacent_cold_shards_merge_one_pair_a_round_never_below_four() -> None:
    cold = ColdShards(load=0.25, window=100.0, records_per_second=1000)
    six = _stream(6)
    assert cold.merge(six, 0.0) is None  # first seen: the window starts
    cold.note({("t", "s"): {0: 0.9, 1: 0.1}}, 50.0)  # shard 0 warm at 50, 1 below the load
    assert cold.merge(six, 99.0) is None
    change = cold.merge(six, 100.0)
    assert change is not None and change.closing == (1, 2)  # 0 was warm until 150
    (child,) = change.opening
    assert (child.parent, child.adjacent_parent) == (1, 2)
    assert (child.start_hash, child.end_hash) == (six.shards[1].start_hash, six.shards[2].end_hash)
    assert cold.merge(_stream(4), 1000.0) is None  # 4 shards: never fewer
    assert cold.merge(dataclasses.replace(six, mode=StreamMode.PROVISIONED), 1000.0) is None


def test_a_stream_written_through_another_gateway_is_not_merged() -> None:
    cold = ColdShards(load=0.25, window=100.0, records_per_second=10)
    assert cold.merge(_stream(6, 0), 0.0) is None
    # 300 records in 100 s: 3 a second, above a quarter of one shard's 10 records a second.
    assert cold.merge(_stream(6, 300), 100.0) is None
    assert cold.merge(_stream(6, 600), 200.0) is None  # marks rolled: 300 more since 100
    assert cold.merge(_stream(6, 610), 300.0) is not None  # 10 over the last window: quiet


def test_the_settings_bound_the_record_size_and_the_cold_load(tmp_path: Path) -> None:
    default = Settings(data_dir=tmp_path)
    assert kinesis_limits(default).max_record_kib == 10240
    assert default.kinesis_scale_in_window == 86_400 and default.kinesis_scale_in_load == 0.25
    small = Settings(data_dir=tmp_path, kinesis_max_record_size=1000)
    assert kinesis_limits(small).max_record_kib == 1024  # never below AWS's default
    assert kinesis_limits(Settings(data_dir=tmp_path, kinesis_max_record_size=3 * MIB)
                          ).max_record_kib == 3072  # fmt: skip
    for bad in ({"kinesis_scale_in_load": 0.3}, {"kinesis_scale_in_window": 0},
                {"kinesis_max_record_size": 10 * MIB + 1}):  # fmt: skip
        with pytest.raises(ValidationError):
            Settings(data_dir=tmp_path, **bad)
