"""Decision 0228's pure core: the hash key space divided evenly, MD5 routing, sequence numbers
as AWS writes them, splits, merges and uniform scaling (children naming their parents), the
bounds of one UpdateShardCount, and iterators that refuse any change."""

from __future__ import annotations

import hashlib
import itertools

import pytest

from andromede.kinesis.errors import ExpiredIterator, InvalidArgument
from andromede.kinesis.iterators import IteratorPosition, open_iterator, seal_iterator
from andromede.kinesis.model import (
    HASH_MAX,
    SHARD_LEVEL_METRICS,
    Shard,
    Stream,
    StreamMode,
    StreamStatus,
    check_target,
    hash_key,
    merge,
    monitored,
    parse_sequence,
    sequence_text,
    shard_index,
    split,
    uniform_scaling,
    uniform_shards,
)


def stream(count: int) -> Stream:
    shards = tuple(Shard(i, a, b, 0) for i, a, b in uniform_shards(count))
    return Stream("t", "s", "eu-fr-1", StreamStatus.ACTIVE, StreamMode.PROVISIONED, 0, 24,
                  shards, b"k" * 32)  # fmt: skip


@pytest.mark.parametrize("count", [1, 2, 3, 7, 100])
def test_shards_cover_the_hash_key_space_evenly(count: int) -> None:
    ranges = uniform_shards(count)
    assert ranges[0][1] == 0 and ranges[-1][2] == HASH_MAX
    assert all(a[2] + 1 == b[1] for a, b in itertools.pairwise(ranges))
    sizes = {end - start for _, start, end in ranges}
    assert max(sizes) - min(sizes) <= 1


def test_a_partition_key_hashes_with_md5_unless_a_hash_key_is_explicit() -> None:
    assert hash_key("a") == int(hashlib.md5(b"a").hexdigest(), 16)  # noqa: S324 (AWS's)
    assert hash_key("a", "42") == 42
    for bad in ("-1", "x", str(HASH_MAX + 1)):
        with pytest.raises(InvalidArgument):
            hash_key("a", bad)
    two = stream(2)
    assert [s.index for s in two.route([0, HASH_MAX, two.shards[1].start_hash - 1])] == [0, 1, 0]


def test_sequence_numbers_are_56_digit_decimals() -> None:
    assert len(sequence_text(0)) == 56 and parse_sequence(sequence_text(12345)) == 12345
    assert int(sequence_text(2)) > int(sequence_text(1))
    for bad in ("12", "x", "9" * 57):
        with pytest.raises(InvalidArgument):
            parse_sequence(bad)
    assert shard_index("shardId-000000000007") == 7 and shard_index("7") == 7
    with pytest.raises(InvalidArgument):
        shard_index("shard-7")


def test_split_and_merge_name_their_parents() -> None:
    one = stream(2)
    change = split(one, "shardId-000000000000", "1000")
    assert change.closing == (0,)
    left, right = change.opening
    assert (left.index, left.start_hash, left.end_hash, left.parent) == (2, 0, 999, 0)
    assert (right.start_hash, right.end_hash) == (1000, one.shards[0].end_hash)
    for bad in ("0", str(one.shards[0].end_hash + 1), "x"):
        with pytest.raises(InvalidArgument):
            split(one, "shardId-000000000000", bad)
    with pytest.raises(InvalidArgument):
        split(one, "shardId-000000000009", "1000")
    merged = merge(one, "shardId-000000000001", "shardId-000000000000")
    (child,) = merged.opening
    assert (child.parent, child.adjacent_parent) == (1, 0)
    assert (child.start_hash, child.end_hash) == (0, HASH_MAX)
    three = stream(3)
    with pytest.raises(InvalidArgument):  # not adjacent
        merge(three, "shardId-000000000000", "shardId-000000000002")


@pytest.mark.parametrize(("current", "target"), [(1, 2), (2, 1), (3, 5), (5, 3), (4, 4)])
def test_uniform_scaling_opens_even_children_of_the_shards_they_overlap(
    current: int, target: int
) -> None:
    change = uniform_scaling(stream(current), target)
    assert change.closing == tuple(range(current))
    assert [(s.start_hash, s.end_hash) for s in change.opening] == [
        (a, b) for _, a, b in uniform_shards(target)
    ]
    parents = stream(current).shards
    for child in change.opening:
        assert parents[child.parent or 0].holds(child.start_hash)
        if child.adjacent_parent is not None:
            other = parents[child.adjacent_parent]
            assert other.start_hash <= child.end_hash and child.start_hash <= other.end_hash


def test_one_update_of_the_shard_count_is_bounded() -> None:
    check_target(4, 8, 100)
    check_target(4, 2, 100)
    for target in (9, 1):
        with pytest.raises(InvalidArgument):
            check_target(4, target, 100)
    with pytest.raises(InvalidArgument):
        check_target(4, 8, 6)


def test_iterators_refuse_any_change_and_expire() -> None:
    where = IteratorPosition("s", 3, 42, 1000)
    token = seal_iterator(b"k" * 32, "t1", where)
    assert open_iterator(b"k" * 32, "t1", token, 2000, 300_000) == where
    with pytest.raises(InvalidArgument):
        open_iterator(b"j" * 32, "t1", token, 2000, 300_000)  # another stream's key
    with pytest.raises(InvalidArgument):
        open_iterator(b"k" * 32, "t2", token, 2000, 300_000)  # another account
    with pytest.raises(ExpiredIterator):
        open_iterator(b"k" * 32, "t1", token, 1000 + 300_001, 300_000)
    with pytest.raises(InvalidArgument):
        open_iterator(b"k" * 32, "t1", token[:-4], 2000, 300_000)


def test_shard_level_metrics_are_kept_in_awss_order_and_all_expands() -> None:
    """Decision 0245: enabling adds, disabling removes, ``ALL`` stands for the seven."""
    assert monitored((), ["OutgoingBytes", "IncomingBytes"], enable=True) == (
        "IncomingBytes", "OutgoingBytes",
    )  # fmt: skip
    assert monitored(("IncomingBytes",), ["ALL"], enable=True) == SHARD_LEVEL_METRICS
    assert monitored(SHARD_LEVEL_METRICS, ["ALL"], enable=False) == ()
    assert monitored(("IncomingBytes",), ["OutgoingBytes"], enable=False) == ("IncomingBytes",)
    with pytest.raises(InvalidArgument):
        monitored((), ["IncomingBits"], enable=True)
    with pytest.raises(InvalidArgument):
        monitored((), [], enable=True)
