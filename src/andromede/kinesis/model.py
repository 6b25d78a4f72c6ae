"""Amazon Kinesis Data Streams' pure core (decision 0228): streams, their shards and hash key
ranges, how a record finds its shard, sequence numbers, and resharding.

A record's partition key is hashed with MD5 into a 128-bit integer (or its
``ExplicitHashKey`` is taken as one); the open shard whose hash key range holds it takes the
record. A stream's records are numbered by one counter of the stream, so sequence numbers grow
within each shard, across a reshard too (a child's first number is above its parents' last),
written as AWS writes them: decimal strings of 56 digits (``SEQUENCE_BASE`` + the counter).

Resharding closes shards (their ``ending`` set to the last number given before) and opens
children whose ``parent``/``adjacent_parent`` name the shards they come from; the store sets
those numbers in the transaction that commits the change (:class:`ShardChange`).
"""

from __future__ import annotations

import bisect
import enum
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Protocol

from andromede.kinesis.errors import InvalidArgument

__all__ = [
    "DEFAULT_RECORD_KIB",
    "HASH_MAX",
    "MAX_RECORD_KIB",
    "MIN_RECORD_KIB",
    "SEQUENCE_BASE",
    "SHARD_LEVEL_METRICS",
    "Consumer",
    "NewRecord",
    "RecordSealer",
    "Shard",
    "ShardChange",
    "StoredRecord",
    "Stream",
    "StreamMode",
    "StreamStatus",
    "check_names",
    "check_target",
    "hash_key",
    "merge",
    "monitored",
    "parse_sequence",
    "sequence_text",
    "shard_id",
    "shard_index",
    "split",
    "stream_arn",
    "uniform_scaling",
    "uniform_shards",
]

HASH_MAX: Final = 2**128 - 1
# A stream's largest record (data and partition key), in KiB: AWS's default, and the bounds of
# UpdateMaxRecordSize (decision 0260).
DEFAULT_RECORD_KIB: Final = 1024
MIN_RECORD_KIB: Final = 1024
MAX_RECORD_KIB: Final = 10240
# AWS's sequence numbers are 56-digit decimals; the counter is added to this base.
SEQUENCE_BASE: Final = 49 * 10**54
_SEQUENCE_SPAN: Final = 10**54
# Enhanced monitoring's shard-level metrics, in AWS's order (``ALL`` names every one).
SHARD_LEVEL_METRICS: Final = (
    "IncomingBytes",
    "IncomingRecords",
    "OutgoingBytes",
    "OutgoingRecords",
    "WriteProvisionedThroughputExceeded",
    "ReadProvisionedThroughputExceeded",
    "IteratorAgeMilliseconds",
)


class StreamStatus(enum.Enum):
    CREATING = "CREATING"
    DELETING = "DELETING"
    ACTIVE = "ACTIVE"
    UPDATING = "UPDATING"


class StreamMode(enum.Enum):
    PROVISIONED = "PROVISIONED"
    ON_DEMAND = "ON_DEMAND"


@dataclass(frozen=True, slots=True)
class Shard:
    """``starting``/``ending``: counters (None ending: open); hash keys inclusive."""

    index: int
    start_hash: int
    end_hash: int
    starting: int
    ending: int | None = None
    parent: int | None = None
    adjacent_parent: int | None = None
    closed_at: int | None = None  # ms

    @property
    def id(self) -> str:
        return shard_id(self.index)

    @property
    def is_open(self) -> bool:
        return self.ending is None

    def holds(self, key: int) -> bool:
        return self.start_hash <= key <= self.end_hash


@dataclass(frozen=True, slots=True)
class Consumer:
    """A registered stream consumer (enhanced fan-out's registry, read through SubscribeToShard,
    decision 0242): its ARN is the stream's with ``/consumer/<name>:<creation seconds>``;
    ``policy``: its resource policy (decision 0248), gone with it when deregistered."""

    name: str
    created: int  # ms
    policy: str | None = None

    def arn(self, stream_arn: str) -> str:
        return f"{stream_arn}/consumer/{self.name}:{self.created // 1000}"


@dataclass(frozen=True, slots=True)
class Stream:
    """``revision`` guards every write of the row (compare-and-set); ``layout`` counts the
    reshards, which a put compares so that no record lands in a shard closed meanwhile;
    ``next_sequence`` is the counter the next record takes (the store's, read only here);
    ``iterator_key`` MACs the stream's shard iterators (a new stream of the same name has
    another, so its predecessor's iterators are refused); ``shard_level_metrics``: the
    enhanced monitoring enabled (decision 0245), in :data:`SHARD_LEVEL_METRICS`' order;
    ``policy``: its resource policy (decision 0248), the JSON text as put;
    ``max_record_kib``: its largest record, data and partition key (decision 0260)."""

    tenant_id: str
    name: str
    region: str
    status: StreamStatus
    mode: StreamMode
    created: int  # ms
    retention_hours: int
    shards: tuple[Shard, ...]
    iterator_key: bytes
    tags: tuple[tuple[str, str], ...] = ()
    encryption_type: str = "NONE"
    key_id: str | None = None
    consumers: tuple[Consumer, ...] = ()
    shard_level_metrics: tuple[str, ...] = ()
    policy: str | None = None
    max_record_kib: int = DEFAULT_RECORD_KIB
    revision: int = 1
    layout: int = 1
    next_sequence: int = 0

    @property
    def arn(self) -> str:
        return stream_arn(self.region, self.tenant_id, self.name)

    @property
    def open_shards(self) -> list[Shard]:
        return [s for s in self.shards if s.is_open]

    def shard(self, shard_ref: str) -> Shard | None:
        index = shard_index(shard_ref)
        return next((s for s in self.shards if s.index == index), None)

    def route(self, keys: Sequence[int]) -> list[Shard]:
        """The open shard holding each hash key (the open shards' ranges cover the space
        without overlap: a binary search over their starts)."""
        ordered = sorted(self.open_shards, key=lambda s: s.start_hash)
        starts = [s.start_hash for s in ordered]
        routed = []
        for key in keys:
            at = bisect.bisect_right(starts, key) - 1
            if at < 0 or not ordered[at].holds(key):
                raise InvalidArgument(f"No open shard of stream {self.name} holds hash key {key}.")
            routed.append(ordered[at])
        return routed

    def children(self, shard: Shard) -> list[Shard]:
        return [s for s in self.shards if shard.index in (s.parent, s.adjacent_parent)]


@dataclass(frozen=True, slots=True)
class NewRecord:
    shard: int
    partition_key: str
    data: bytes


@dataclass(frozen=True, slots=True)
class StoredRecord:
    shard: int
    sequence: int
    partition_key: str
    arrived: int  # ms
    size: int
    sealed: bytes = field(repr=False)


class RecordSealer(Protocol):
    """Seals records at rest under the stream's key (its KMS key, else the account's key
    ring) and opens them under the key that sealed each; ``caller``: the principal whose
    right to use a KMS key is judged (AWS: ``kms:GenerateDataKey`` to put, ``kms:Decrypt`` to
    read). Refusals are ``KmsRefused``."""

    async def seal(
        self, stream: Stream, records: Sequence[NewRecord], caller: object
    ) -> list[bytes]: ...

    async def open(
        self, stream: Stream, records: Sequence[StoredRecord], caller: object
    ) -> list[bytes]: ...

    async def check(self, stream: Stream, key_id: str, caller: object) -> None:
        """``KmsRefused`` unless ``key_id`` names a usable key the caller may use."""
        ...


@dataclass(frozen=True, slots=True)
class ShardChange:
    """Shards to close and shards to open, their sequence numbers set by the store."""

    closing: tuple[int, ...]
    opening: tuple[Shard, ...]


def stream_arn(region: str, tenant_id: str, name: str) -> str:
    return f"arn:aws:kinesis:{region}:{tenant_id}:stream/{name}"


def shard_id(index: int) -> str:
    return f"shardId-{index:012d}"


def shard_index(shard_ref: str) -> int:
    """A shard's index from ``shardId-000000000001`` (AWS also takes the bare number)."""
    digits = shard_ref.removeprefix("shardId-")
    if not digits.isdigit() or len(digits) > 12:
        raise InvalidArgument(f"Invalid ShardId: {shard_ref[:128]}")
    return int(digits)


def hash_key(partition_key: str, explicit: str | None = None) -> int:
    if explicit is not None:
        if not explicit.isdigit() or int(explicit) > HASH_MAX:
            raise InvalidArgument(
                f"Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, {HASH_MAX}]. "
                f"Specified value was {explicit[:64]}"
            )
        return int(explicit)
    return int.from_bytes(hashlib.md5(partition_key.encode(), usedforsecurity=False).digest())


def sequence_text(counter: int) -> str:
    return str(SEQUENCE_BASE + counter)


def parse_sequence(text: str) -> int:
    if not text.isdigit() or len(text) > 128:
        raise InvalidArgument(f"Invalid StartingSequenceNumber: {text[:128]}")
    counter = int(text) - SEQUENCE_BASE
    # -1: the continuation of a subscription before the stream's first record (decision 0242).
    if not -1 <= counter < _SEQUENCE_SPAN:
        raise InvalidArgument(f"Invalid StartingSequenceNumber: {text[:128]}")
    return counter


def uniform_shards(count: int, first_index: int = 0) -> list[tuple[int, int, int]]:
    """``count`` (index, start hash, end hash) dividing the hash key space evenly."""
    span = HASH_MAX + 1
    return [(first_index + i, span * i // count, span * (i + 1) // count - 1) for i in range(count)]


def _next_index(stream: Stream) -> int:
    return max((s.index for s in stream.shards), default=-1) + 1


def _open(stream: Stream, shard_ref: str) -> Shard:
    shard = stream.shard(shard_ref)
    if shard is None:
        raise InvalidArgument(f"Shard {shard_ref[:128]} in stream {stream.name} does not exist.")
    if not shard.is_open:
        raise InvalidArgument(f"Shard {shard.id} in stream {stream.name} is closed.")
    return shard


def split(stream: Stream, shard_ref: str, new_starting_hash: str) -> ShardChange:
    shard = _open(stream, shard_ref)
    if not new_starting_hash.isdigit():
        raise InvalidArgument(f"NewStartingHashKey {new_starting_hash[:64]} is not a number.")
    start = int(new_starting_hash)
    if not shard.start_hash < start <= shard.end_hash:
        raise InvalidArgument(
            f"NewStartingHashKey {start} used in SplitShard() on shard {shard.id} in stream "
            f"{stream.name} is not both greater than the shard's StartingHashKey "
            f"{shard.start_hash} and less than or equal to its EndingHashKey {shard.end_hash}."
        )
    first = _next_index(stream)
    return ShardChange(
        (shard.index,),
        (
            Shard(first, shard.start_hash, start - 1, 0, parent=shard.index),
            Shard(first + 1, start, shard.end_hash, 0, parent=shard.index),
        ),
    )


def merge(stream: Stream, shard_ref: str, adjacent_ref: str) -> ShardChange:
    one, other = _open(stream, shard_ref), _open(stream, adjacent_ref)
    low, high = sorted((one, other), key=lambda s: s.start_hash)
    if one.index == other.index or low.end_hash + 1 != high.start_hash:
        raise InvalidArgument(
            f"Shards {one.id} and {other.id} in stream {stream.name} are not adjacent: their "
            "hash key ranges must meet."
        )
    child = Shard(
        _next_index(stream), low.start_hash, high.end_hash, 0,
        parent=one.index, adjacent_parent=other.index,
    )  # fmt: skip
    return ShardChange((one.index, other.index), (child,))


def uniform_scaling(stream: Stream, target: int) -> ShardChange:
    """Every open shard closed and ``target`` shards of even ranges opened; each child names
    the two parents it overlaps most (its ``ParentShardId`` the one its range starts in)."""
    current = sorted(stream.open_shards, key=lambda s: s.start_hash)
    opening: list[Shard] = []
    for index, start, end in uniform_shards(target, _next_index(stream)):
        overlaps = [
            (min(end, s.end_hash) - max(start, s.start_hash), s)
            for s in current
            if s.start_hash <= end and start <= s.end_hash
        ]
        first = next(s for s in current if s.holds(start))
        others = sorted((o for o in overlaps if o[1].index != first.index), key=lambda o: -o[0])
        adjacent = others[0][1].index if others else None
        opening.append(Shard(index, start, end, 0, parent=first.index, adjacent_parent=adjacent))
    return ShardChange(tuple(s.index for s in current), tuple(opening))


def check_target(current: int, target: int, max_target: int) -> None:
    """AWS's bounds of one UpdateShardCount: at most double, at least half the open shards."""
    if target > 2 * current or target * 2 < current:
        raise InvalidArgument(
            f"UpdateShardCount target {target} must be between half ({(current + 1) // 2}) and "
            f"double ({2 * current}) of the stream's open shard count {current}."
        )
    if target > max_target:
        raise InvalidArgument(f"Target shard count {target} exceeds the limit {max_target}.")


def monitored(current: Sequence[str], named: Sequence[str], *, enable: bool) -> tuple[str, ...]:
    """The shard-level metrics once ``named`` are enabled (or disabled) over ``current``:
    ``ALL`` stands for every one, as AWS expands it; any other name is refused."""
    unknown = [n for n in named if n != "ALL" and n not in SHARD_LEVEL_METRICS]
    if unknown or not named:
        raise InvalidArgument(
            f"ShardLevelMetrics must name among {', '.join((*SHARD_LEVEL_METRICS, 'ALL'))}."
        )
    chosen = set(SHARD_LEVEL_METRICS) if "ALL" in named else set(named)
    kept = set(current) | chosen if enable else set(current) - chosen
    return tuple(m for m in SHARD_LEVEL_METRICS if m in kept)


def check_names(names: Sequence[str]) -> None:
    for name in names:
        if name.startswith("aws:"):
            raise InvalidArgument(f"Tag key {name[:128]} uses the reserved prefix aws:.")
