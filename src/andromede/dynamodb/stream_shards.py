"""DynamoDB Streams' shards (decision 0275): how one stream's single change log is split into
AWS's shards, and which of them a reader sees.

A stream keeps one log of records numbered in commit order (decision 0246); the Kinesis
forwarder and the global-table replicator read that log and know nothing of shards. A shard is
a view over it: a **generation** (the records whose numbers carry a time in
``[start, start + lifetime)``, the stream's creation plus a multiple of its shard lifetime —
AWS rolls shards about every four hours) and a **partition** (the records whose item's
partition-key token falls there, out of the stream's fixed partition count). An item's records
are therefore all in one partition, in order, and its shard in the next generation is the
child of the one before (``ParentShardId``): a reader that finishes a parent before its child
reads each item's changes once, in order.

A generation closes once a record of a later one is numbered (numbers only grow: nothing more
can fall in it) or, with no write since, :data:`SETTLE_MS` after its end — the time a write
that read the clock before the boundary has to commit (its number carries the time it read).
A disabled stream's shards are all closed. A closed shard's ``EndingSequenceNumber`` is the
last number it can hold; a shard whose generation ended longer ago than the retention (all
its records expired) is no longer listed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Final

from andromede.dynamodb.streams import SEQUENCE_BASE, Stream, StreamRecord, format_sequence

__all__ = [
    "SETTLE_MS",
    "Shard",
    "ShardScan",
    "generation_of",
    "listed_shards",
    "partition_of",
]

# A write reads the clock, then commits under the stream's lock: one that read it before a
# generation's end and commits later still lands in that generation. A minute covers a slow
# commit; past it, an idle generation counts as closed.
SETTLE_MS: Final = 60_000
_ID_PREFIX: Final = "shardId-"


def partition_of(hash_token: bytes, partitions: int) -> int:
    """The partition an item's records fall in: its partition-key token (a MAC, uniformly
    spread) modulo the stream's partitions."""
    return int.from_bytes(hash_token[:8], "big") % partitions


def generation_of(stream: Stream, sequence: int) -> int:
    """The generation a record numbered ``sequence`` belongs to (its number carries its time)."""
    at = (sequence - 1) // SEQUENCE_BASE
    return max(0, (at - stream.created) // stream.shard_lifetime_ms)


@dataclass(frozen=True, slots=True)
class Shard:
    stream: Stream
    generation: int
    partition: int

    @property
    def start_ms(self) -> int:
        return self.stream.created + self.generation * self.stream.shard_lifetime_ms

    @property
    def end_ms(self) -> int:
        return self.start_ms + self.stream.shard_lifetime_ms

    @property
    def first_sequence(self) -> int:
        return self.start_ms * SEQUENCE_BASE + 1

    @property
    def bound(self) -> int:
        """The first number of the next generation: the shard's numbers are below it."""
        return self.end_ms * SEQUENCE_BASE + 1

    @property
    def shard_id(self) -> str:
        """Named as AWS names shards: its opening time and a digest. A stream's first shard
        keeps the name decision 0246 gave the one shard, so a reader's checkpoint survives."""
        arn = self.stream.arn
        seed = (
            arn
            if self.generation == self.partition == 0
            else (f"{arn}#{self.generation}#{self.partition}")
        )
        digest = hashlib.sha256(seed.encode()).hexdigest()[:8]
        return f"{_ID_PREFIX}{self.start_ms:020d}-{digest}"

    @property
    def parent(self) -> Shard | None:
        if self.generation == 0:
            return None
        return Shard(self.stream, self.generation - 1, self.partition)

    @property
    def parent_id(self) -> str | None:
        parent = self.parent
        return None if parent is None else parent.shard_id

    def closed(self, now: int) -> bool:
        stream = self.stream
        return bool(
            stream.disabled or stream.next_sequence >= self.bound or now >= self.end_ms + SETTLE_MS
        )

    @property
    def end(self) -> int:
        """Once closed: the number past the last the shard can hold."""
        return min(self.bound, self.stream.next_sequence)

    def describe(self, now: int) -> dict[str, Any]:
        start = max(self.first_sequence, self.stream.trimmed_to)
        numbers = {"StartingSequenceNumber": format_sequence(start)}
        if self.closed(now):
            numbers["EndingSequenceNumber"] = format_sequence(max(self.end - 1, start))
        shown: dict[str, Any] = {"ShardId": self.shard_id, "SequenceNumberRange": numbers}
        if self.parent_id is not None:
            shown["ParentShardId"] = self.parent_id
        return shown


def _last_generation(stream: Stream, now: int) -> int:
    until = stream.disabled or now
    newest = max(0, (until - stream.created) // stream.shard_lifetime_ms)
    if stream.next_sequence > stream.first_sequence:
        newest = max(newest, generation_of(stream, stream.next_sequence - 1))
    return newest


def listed_shards(stream: Stream, now: int, retention_ms: int) -> list[Shard]:
    """The stream's shards a reader sees, in ``ShardId`` order (opening time first): every
    generation up to the open one (the last before a disabled stream's end), but those whose
    records have all expired."""
    lifetime = stream.shard_lifetime_ms
    oldest = max(0, (now - retention_ms - stream.created) // lifetime)
    shards: list[Shard] = []
    for generation in range(oldest, _last_generation(stream, now) + 1):
        layer = [Shard(stream, generation, p) for p in range(stream.partitions)]
        if layer[0].bound <= stream.trimmed_to:
            continue  # the upkeep removed all of them
        shards.extend(sorted(layer, key=lambda s: s.shard_id))
    return shards


@dataclass(slots=True)
class ShardScan:
    """A read of one shard over the stream's log in number order: the records of its
    partition below ``end``, at most ``limit`` of them and ``max_bytes`` (the first always),
    examining at most ``budget`` records of the log (other partitions' included) in one call.
    ``following`` is the number to go on from; ``exhausted`` that the log had no more below
    ``end``."""

    partition: int
    partitions: int
    end: int
    limit: int
    max_bytes: int
    budget: int
    following: int
    records: list[StreamRecord] = field(default_factory=list)
    exhausted: bool = False
    _size: int = 0

    def offer(self, record: StreamRecord) -> bool:
        """``record`` (the next of the log) taken or passed over; False once the scan stops
        (that record is then left for the next call)."""
        if record.sequence >= self.end:
            self.exhausted = True
            return False
        if self.budget <= 0 or len(self.records) >= self.limit:
            return False
        change = record.change
        if partition_of(change.hash_token, self.partitions) == self.partition:
            if self.records and self._size + change.size > self.max_bytes:
                return False
            self.records.append(record)
            self._size += change.size
        self.budget -= 1
        self.following = record.sequence + 1
        return True
