"""Amazon Kinesis Data Streams' service (decision 0228): the streams of an account, the
records put into them (sealed, numbered, stored by shard), shard iterators and reads,
resharding, retention and encryption.

A stream is ACTIVE as soon as it is made and a reshard is applied at once (AWS passes through
CREATING and UPDATING for seconds: its waiters, which wait for ACTIVE, return at their first
call here). Records are always sealed at rest: under the stream's KMS key when its
encryption is ``KMS``, else under the account's key ring.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from andromede.kinesis.accounts import BillingCommitment, commit
from andromede.kinesis.errors import (
    InvalidArgument,
    LimitExceeded,
    StreamInUse,
    StreamNotFound,
    ThroughputExceeded,
)
from andromede.kinesis.iterators import (
    IteratorPosition,
    iterator_stream,
    open_iterator,
    seal_iterator,
)
from andromede.kinesis.model import (
    DEFAULT_RECORD_KIB,
    MAX_RECORD_KIB,
    MIN_RECORD_KIB,
    Consumer,
    NewRecord,
    RecordSealer,
    Shard,
    ShardChange,
    Stream,
    StreamMode,
    StreamStatus,
    check_target,
    hash_key,
    merge,
    monitored,
    parse_sequence,
    split,
    uniform_scaling,
    uniform_shards,
)
from andromede.kinesis.scaling import ON_DEMAND_SHARDS
from andromede.kinesis.store import AccountUsage, KinesisStore, SealedRecord
from andromede.kinesis.throughput import ShardReadThrottle, ShardThrottle

__all__ = [
    "Entry",
    "KinesisLimits",
    "KinesisObserver",
    "KinesisService",
    "PutOutcome",
    "ReadCounts",
    "ReadRecord",
    "RecordsRead",
]

MIN_RETENTION: Final = 24
MAX_RETENTION: Final = 8760
_PUT_ATTEMPTS: Final = 3  # a put that met a reshard routes again


@dataclass(frozen=True, slots=True)
class KinesisLimits:
    max_shards: int = 500
    max_on_demand_streams: int = 50
    max_tags: int = 50
    max_consumers: int = 20
    iterator_lifetime_ms: int = 300_000
    max_read_bytes: int = 10 * 1024 * 1024
    max_record_kib: int = MAX_RECORD_KIB  # the largest MaxRecordSizeInKiB a stream may set


class KinesisObserver(Protocol):
    """What the service tells of a stream's use, shard by shard (for the shard-level metrics
    of decision 0245): ``written`` the (shard index, bytes) of each record taken,
    ``throttled`` the shard index of each refused past its throughput; ``operation`` is the
    reading API's metric prefix (``GetRecords``, or ``SubscribeToShardEvent`` for an enhanced
    fan-out page), ``age`` the milliseconds since the last record read arrived (0 if none);
    ``read_throttled`` a GetRecords refused past the shard's read throughput (decision 0248)."""

    def incoming(
        self, stream: Stream, written: Sequence[tuple[int, int]], throttled: Sequence[int]
    ) -> None: ...

    def read(self, stream: Stream, shard: int, read: ReadCounts, operation: str) -> None: ...

    def rate_exceeded(self, stream: Stream, operation: str) -> None: ...

    def read_throttled(self, stream: Stream, shard: int) -> None: ...


@dataclass(frozen=True, slots=True)
class ReadCounts:
    """One read of a shard: its records and their bytes, ``MillisBehindLatest`` and the
    iterator's age (the time since its last record arrived)."""

    records: int
    size: int
    millis_behind: int
    age: int


class _Unobserved:
    def incoming(
        self, stream: Stream, written: Sequence[tuple[int, int]], throttled: Sequence[int]
    ) -> None:
        pass

    def read(self, stream: Stream, shard: int, read: ReadCounts, operation: str) -> None:
        pass

    def rate_exceeded(self, stream: Stream, operation: str) -> None:
        pass

    def read_throttled(self, stream: Stream, shard: int) -> None:
        pass


@dataclass(frozen=True, slots=True)
class Entry:
    partition_key: str
    data: bytes
    explicit_hash_key: str | None = None


@dataclass(frozen=True, slots=True)
class PutOutcome:
    """A record taken (``sequence``) or refused (``error``: AWS's code, and its message)."""

    shard: Shard
    sequence: int | None
    error: tuple[str, str] | None = None


@dataclass(frozen=True, slots=True)
class ReadRecord:
    sequence: int
    partition_key: str
    arrived: int
    data: bytes


@dataclass(frozen=True, slots=True)
class RecordsRead:
    """``position``: the counter the next read of the shard starts at (a subscription's
    ``ContinuationSequenceNumber`` is the one before it)."""

    stream: Stream
    records: list[ReadRecord]
    next_iterator: str | None
    millis_behind: int
    children: list[Shard]
    position: int = 0


_THROTTLED: Final = "ProvisionedThroughputExceededException"


def _throttled(stream: Stream, shard: Shard) -> str:
    return (
        f"Rate exceeded for shard {shard.id} in stream {stream.name} under account "
        f"{stream.tenant_id}."
    )


def _check_sizes(stream: Stream, entries: Sequence[Entry]) -> None:
    """Each record's data and partition key within the stream's MaxRecordSizeInKiB (AWS
    counts both, decision 0260): the whole request refused otherwise, nothing stored."""
    bound = stream.max_record_kib * 1024
    for at, entry in enumerate(entries):
        size = len(entry.data) + len(entry.partition_key.encode())
        if size > bound:
            raise InvalidArgument(
                f"Record {at} of {size} bytes (data and partition key) exceeds the maximum "
                f"record size of stream {stream.name}: {stream.max_record_kib} KiB "
                "(UpdateMaxRecordSize raises it)."
            )


def _now() -> int:
    return int(time.time() * 1000)


def _not_found(tenant_id: str, name: str) -> StreamNotFound:
    return StreamNotFound(f"Stream {name} under account {tenant_id} not found.")


class KinesisService:
    def __init__(
        self,
        store: KinesisStore,
        sealer: RecordSealer,
        region: str,
        limits: KinesisLimits | None = None,
        observer: KinesisObserver | None = None,
        throttle: ShardThrottle | None = None,
        read_throttle: ShardReadThrottle | None = None,
    ) -> None:
        self.store = store
        self.throttle = throttle
        self.read_throttle = read_throttle
        self.sealer = sealer
        self.region = region
        self.limits = limits or KinesisLimits()
        self.observer: KinesisObserver = observer or _Unobserved()

    # -- streams --------------------------------------------------------------------------

    async def create(
        self,
        tenant_id: str,
        name: str,
        shard_count: int | None,
        mode: StreamMode,
        tags: Sequence[tuple[str, str]] = (),
        max_record_kib: int = DEFAULT_RECORD_KIB,
    ) -> Stream:
        if mode is StreamMode.ON_DEMAND:
            count = ON_DEMAND_SHARDS
        elif shard_count is None:
            raise InvalidArgument("ShardCount is required for a PROVISIONED stream.")
        else:
            count = shard_count
        if len(dict(tags)) > self.limits.max_tags:
            raise InvalidArgument(f"A stream may carry at most {self.limits.max_tags} tags.")
        if count > self.limits.max_shards:
            raise LimitExceeded(
                f"This request would exceed the shard limit for the account {count} (limit "
                f"{self.limits.max_shards})."
            )
        stream = Stream(
            tenant_id=tenant_id,
            name=name,
            region=self.region,
            status=StreamStatus.ACTIVE,
            mode=mode,
            created=_now(),
            retention_hours=MIN_RETENTION,
            shards=tuple(Shard(i, start, end, 0) for i, start, end in uniform_shards(count)),
            iterator_key=os.urandom(32),
            tags=tuple(dict(tags).items()),
            max_record_kib=max_record_kib,
        )
        if not MIN_RECORD_KIB <= max_record_kib <= self.limits.max_record_kib:
            raise InvalidArgument(
                f"MaxRecordSizeInKiB {max_record_kib} is out of range: between "
                f"{MIN_RECORD_KIB} and {self.limits.max_record_kib} on this platform."
            )
        await self.store.create(stream, self.limits.max_shards, self.limits.max_on_demand_streams)
        return stream

    async def get(self, tenant_id: str, name: str) -> Stream:
        stream = await self.store.get(tenant_id, name)
        if stream is None:
            raise _not_found(tenant_id, name)
        return stream

    async def streams(
        self, tenant_id: str, after: str | None, limit: int
    ) -> tuple[list[Stream], bool]:
        found = await self.store.streams(tenant_id, after, limit + 1)
        return found[:limit], len(found) > limit

    async def usage(self, tenant_id: str) -> AccountUsage:
        return await self.store.usage(tenant_id)

    async def delete(self, tenant_id: str, name: str, *, enforce_consumers: bool = False) -> None:
        """The stream and its records; refused while consumers are registered unless
        ``enforce_consumers`` (AWS's ``EnforceConsumerDeletion``)."""
        stream = await self.get(tenant_id, name)
        if stream.consumers and not enforce_consumers:
            raise StreamInUse(
                f"Stream {name} under account {tenant_id} has registered consumers: deregister "
                "them or set EnforceConsumerDeletion."
            )
        if not await self.store.delete(tenant_id, name):
            raise _not_found(tenant_id, name)

    # -- consumers ------------------------------------------------------------------------

    async def register_consumer(self, tenant_id: str, name: str, consumer: str) -> Consumer:
        made = Consumer(consumer, _now())

        def register(stream: Stream) -> Stream:
            if any(c.name == consumer for c in stream.consumers):
                raise StreamInUse(f"Consumer {consumer} under stream {name} already exists.")
            if len(stream.consumers) >= self.limits.max_consumers:
                raise LimitExceeded(
                    f"Stream {name} has {len(stream.consumers)} registered consumers, the limit."
                )
            return dataclasses.replace(stream, consumers=(*stream.consumers, made))

        await self._update(tenant_id, name, register)
        return made

    async def consumer(self, tenant_id: str, name: str, consumer: str) -> Consumer:
        stream = await self.get(tenant_id, name)
        found = next((c for c in stream.consumers if c.name == consumer), None)
        if found is None:
            raise StreamNotFound(f"Consumer {consumer} under stream {name} not found.")
        return found

    async def deregister_consumer(self, tenant_id: str, name: str, consumer: str) -> None:
        found = await self.consumer(tenant_id, name, consumer)
        await self._update(tenant_id, name, lambda stream: dataclasses.replace(
            stream, consumers=tuple(c for c in stream.consumers if c.name != found.name)
        ))  # fmt: skip

    async def set_policy(
        self, tenant_id: str, name: str, consumer: str | None, policy: str | None
    ) -> Stream:
        """PutResourcePolicy (``policy``) or DeleteResourcePolicy (None) of the stream, or of
        its consumer ``consumer`` (decision 0248): the text checked by the API already."""

        def put(stream: Stream) -> Stream:
            if consumer is None:
                return dataclasses.replace(stream, policy=policy)
            if not any(c.name == consumer for c in stream.consumers):
                raise StreamNotFound(f"Consumer {consumer} under stream {name} not found.")
            kept = tuple(
                dataclasses.replace(c, policy=policy) if c.name == consumer else c
                for c in stream.consumers
            )
            return dataclasses.replace(stream, consumers=kept)

        return await self._update(tenant_id, name, put)

    async def _update(
        self, tenant_id: str, name: str, change: Callable[[Stream], Stream]
    ) -> Stream:
        """``change`` applied to the stream as it is now, again on a fresh read when another
        write came first (Terraform registers a consumer and puts a policy at once)."""
        for _ in range(_PUT_ATTEMPTS):
            stream = await self.get(tenant_id, name)
            changed = dataclasses.replace(change(stream), revision=stream.revision + 1)
            if await self.store.replace(changed):
                return changed
        raise StreamInUse(f"Stream {name} was changed by another request; retry.")

    async def _replace(self, stream: Stream) -> Stream:
        changed = dataclasses.replace(stream, revision=stream.revision + 1)
        if not await self.store.replace(changed):
            raise StreamInUse(f"Stream {stream.name} was changed by another request; retry.")
        return changed

    async def tag(self, tenant_id: str, name: str, tags: Sequence[tuple[str, str]]) -> None:
        def add(stream: Stream) -> Stream:
            merged = dict(stream.tags) | dict(tags)
            if len(merged) > self.limits.max_tags:
                raise LimitExceeded(f"A stream may carry at most {self.limits.max_tags} tags.")
            return dataclasses.replace(stream, tags=tuple(merged.items()))

        await self._update(tenant_id, name, add)

    async def untag(self, tenant_id: str, name: str, keys: Sequence[str]) -> None:
        await self._update(tenant_id, name, lambda stream: dataclasses.replace(
            stream, tags=tuple((k, v) for k, v in stream.tags if k not in keys)
        ))  # fmt: skip

    async def set_retention(self, tenant_id: str, name: str, hours: int, *, increase: bool) -> None:
        stream = await self.get(tenant_id, name)
        if not MIN_RETENTION <= hours <= MAX_RETENTION:
            raise InvalidArgument(
                f"Minimum allowed retention period is {MIN_RETENTION} hours. Maximum allowed "
                f"retention period is {MAX_RETENTION} hours. Requested retention period "
                f"({hours} hours) is out of range."
            )
        current = stream.retention_hours
        if increase and hours < current:
            raise InvalidArgument(
                f"Requested retention period ({hours} hours) for stream {name} can not be "
                f"shorter than existing retention period ({current} hours). Use "
                "DecreaseRetentionPeriod API."
            )
        if not increase and hours > current:
            raise InvalidArgument(
                f"Requested retention period ({hours} hours) for stream {name} can not be "
                f"longer than existing retention period ({current} hours). Use "
                "IncreaseRetentionPeriod API."
            )
        await self._replace(dataclasses.replace(stream, retention_hours=hours))

    async def set_mode(self, tenant_id: str, name: str, mode: StreamMode) -> None:
        """UpdateStreamMode: the shards stay as they are; an on-demand stream counts against
        the account's bound of them and is not resharded by hand."""
        stream = await self.get(tenant_id, name)
        if stream.mode is mode:
            return
        if mode is StreamMode.ON_DEMAND:
            usage = await self.store.usage(tenant_id)
            if usage.on_demand_streams >= self.limits.max_on_demand_streams:
                raise LimitExceeded(
                    f"This request would exceed the limit of "
                    f"{self.limits.max_on_demand_streams} on-demand streams."
                )
        await self._replace(dataclasses.replace(stream, mode=mode))

    async def set_encryption(
        self, tenant_id: str, name: str, key_id: str | None, caller: object = None
    ) -> None:
        """StartStreamEncryption (``key_id``: a key the caller may use) or StopStreamEncryption
        (None): records put from now on are sealed accordingly; those stored keep theirs."""
        stream = await self.get(tenant_id, name)
        if key_id is None:
            if stream.encryption_type == "NONE":
                raise InvalidArgument(f"Stream {name} is not encrypted.")
            changed = dataclasses.replace(stream, encryption_type="NONE", key_id=None)
        else:
            await self.sealer.check(stream, key_id, caller)
            changed = dataclasses.replace(stream, encryption_type="KMS", key_id=key_id)
        await self._replace(changed)

    async def set_monitoring(
        self, tenant_id: str, name: str, metrics: Sequence[str], *, enable: bool
    ) -> tuple[Stream, Stream]:
        """EnableEnhancedMonitoring (``enable``) or DisableEnhancedMonitoring of ``metrics``
        (``ALL`` for every one): the stream before and after."""
        stream = await self.get(tenant_id, name)
        chosen = monitored(stream.shard_level_metrics, metrics, enable=enable)
        if chosen == stream.shard_level_metrics:
            return stream, stream
        return stream, await self._replace(dataclasses.replace(stream, shard_level_metrics=chosen))

    async def set_max_record_size(self, tenant_id: str, name: str, kib: int) -> Stream:
        """UpdateMaxRecordSize (decision 0260): records put from now on are bounded by it;
        those stored stay readable whatever their size."""
        if not MIN_RECORD_KIB <= kib <= self.limits.max_record_kib:
            raise InvalidArgument(
                f"MaxRecordSizeInKiB {kib} is out of range: between {MIN_RECORD_KIB} and "
                f"{self.limits.max_record_kib} on this platform."
            )
        return await self._update(tenant_id, name, lambda stream: dataclasses.replace(
            stream, max_record_kib=kib
        ))  # fmt: skip

    # -- account settings -----------------------------------------------------------------

    async def commitment(self, tenant_id: str) -> BillingCommitment:
        """The account's minimum throughput billing commitment as it stands (decision 0260)."""
        return (await self.store.commitment(tenant_id)).as_of(_now())

    async def set_commitment(self, tenant_id: str, *, enable: bool) -> BillingCommitment:
        for _ in range(_PUT_ATTEMPTS):
            held = await self.store.commitment(tenant_id)
            now = _now()
            changed = dataclasses.replace(commit(held, enable, now), revision=held.revision + 1)
            if await self.store.put_commitment(changed):
                return changed.as_of(now)
        raise LimitExceeded("The account's settings were changed by another request; retry.")

    # -- records --------------------------------------------------------------------------

    async def put(
        self, tenant_id: str, name: str, entries: Sequence[Entry], caller: object = None
    ) -> tuple[Stream, list[PutOutcome]]:
        """Each entry's shard and sequence number, or its refusal (past the shard's
        throughput, ``ProvisionedThroughputExceededException``); ``KmsRefused`` for all when
        the stream's key refuses: nothing is stored unsealed."""
        keys = [hash_key(e.partition_key, e.explicit_hash_key) for e in entries]
        for _ in range(_PUT_ATTEMPTS):
            stream = await self.get(tenant_id, name)
            _check_sizes(stream, entries)
            shards = stream.route(keys)
            admitted = [
                self.throttle is None
                or self.throttle.admit(tenant_id, name, shard.index, len(entry.data))
                for shard, entry in zip(shards, entries, strict=True)
            ]
            fresh = [
                NewRecord(s.index, e.partition_key, e.data)
                for s, e, ok in zip(shards, entries, admitted, strict=True)
                if ok
            ]
            sealed = await self.sealer.seal(stream, fresh, caller) if fresh else []
            numbers = await self.store.append(
                tenant_id,
                name,
                stream.layout,
                [
                    SealedRecord(r.shard, r.partition_key, len(r.data), s)
                    for r, s in zip(fresh, sealed, strict=True)
                ],
                _now(),
            )
            if numbers is None:
                continue
            refused = [s.index for s, ok in zip(shards, admitted, strict=True) if not ok]
            if fresh or refused:
                self.observer.incoming(stream, [(r.shard, len(r.data)) for r in fresh], refused)
            taken = iter(numbers)
            return stream, [
                PutOutcome(shard, next(taken))
                if ok
                else PutOutcome(shard, None, (_THROTTLED, _throttled(stream, shard)))
                for shard, ok in zip(shards, admitted, strict=True)
            ]
        raise StreamInUse(f"Stream {name} is being resharded; retry.")

    async def iterator(
        self,
        tenant_id: str,
        name: str,
        shard_ref: str,
        kind: str,
        sequence: str | None = None,
        timestamp: int | None = None,
    ) -> str:
        stream = await self.get(tenant_id, name)
        shard = stream.shard(shard_ref)
        if shard is None:
            raise StreamNotFound(
                f"Shard {shard_ref[:128]} in stream {name} under account {tenant_id} does not exist"
            )
        if kind in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
            if sequence is None:
                raise InvalidArgument(f"StartingSequenceNumber is required for {kind}.")
            number = parse_sequence(sequence)
            # A subscription's continuation before a shard's first record is the number
            # just below it (decision 0242): read AFTER it, it starts the shard.
            lowest = shard.starting - (kind == "AFTER_SEQUENCE_NUMBER")
            if number < lowest or (shard.ending is not None and number > shard.ending):
                raise InvalidArgument(
                    f"StartingSequenceNumber {sequence} used in GetShardIterator on shard "
                    f"{shard.id} in stream {name} under account {tenant_id} is invalid because "
                    "it did not come from this stream."
                )
            position = number + (kind == "AFTER_SEQUENCE_NUMBER")
        elif kind == "TRIM_HORIZON":
            position = shard.starting
        elif kind == "LATEST":
            position = stream.next_sequence
        elif kind == "AT_TIMESTAMP":
            if timestamp is None:
                raise InvalidArgument("Timestamp is required for AT_TIMESTAMP.")
            found = await self.store.first_since(tenant_id, name, shard.index, timestamp)
            position = stream.next_sequence if found is None else found
        else:
            raise InvalidArgument(f"Invalid ShardIteratorType: {kind[:64]}")
        where = IteratorPosition(name, shard.index, max(position, shard.starting), _now())
        return seal_iterator(stream.iterator_key, tenant_id, where)

    async def records(
        self,
        tenant_id: str,
        token: str,
        limit: int,
        caller: object = None,
        operation: str = "GetRecords",
        *,
        throttled: bool = False,
    ) -> RecordsRead:
        """The records at the iterator; ``throttled``: a GetRecords call, bound by the shard's
        read throughput (``ProvisionedThroughputExceededException`` past it, decision 0248);
        enhanced fan-out and the platform's own readers are not."""
        _, name = iterator_stream(token)
        stream = await self.store.get(tenant_id, name)
        if stream is None:
            raise InvalidArgument("Invalid ShardIterator.")
        now = _now()
        where = open_iterator(
            stream.iterator_key, tenant_id, token, now, self.limits.iterator_lifetime_ms
        )
        shard = next((s for s in stream.shards if s.index == where.shard), None)
        if shard is None:
            raise InvalidArgument("Invalid ShardIterator.")
        bound = self.read_throttle if throttled else None
        if bound is not None and not bound.admit(tenant_id, name, shard.index):
            self.observer.read_throttled(stream, shard.index)
            raise ThroughputExceeded(_throttled(stream, shard))
        stored = await self.store.read(
            tenant_id, name, shard.index, where.position, limit, self.limits.max_read_bytes
        )
        if bound is not None:
            bound.spend(tenant_id, name, shard.index, sum(r.size for r in stored))
        opened = await self.sealer.open(stream, stored, caller) if stored else []
        after = stored[-1].sequence + 1 if stored else where.position
        more = bool(await self.store.read(tenant_id, name, shard.index, after, 1, 1))
        records = [
            ReadRecord(r.sequence, r.partition_key, r.arrived, data)
            for r, data in zip(stored, opened, strict=True)
        ]
        behind = max(now - stored[-1].arrived if stored and more else 0, 0)
        age = max(now - stored[-1].arrived, 0) if stored else 0
        counts = ReadCounts(len(stored), sum(r.size for r in stored), behind, age)
        self.observer.read(stream, shard.index, counts, operation)
        if not shard.is_open and not more:
            return RecordsRead(stream, records, None, behind, stream.children(shard), after)
        nxt = seal_iterator(
            stream.iterator_key, tenant_id, IteratorPosition(name, shard.index, after, now)
        )
        return RecordsRead(stream, records, nxt, behind, [], after)

    # -- resharding -----------------------------------------------------------------------

    async def _reshard(self, tenant_id: str, name: str, change_for: _ChangeFor) -> Stream:
        stream = await self.get(tenant_id, name)
        if stream.mode is StreamMode.ON_DEMAND:
            raise InvalidArgument(
                f"Stream {name} is in ON_DEMAND mode: its shards are not managed by hand."
            )
        change = change_for(stream)
        changed = await self.store.reshard(
            tenant_id, name, stream.layout, change, _now(), self.limits.max_shards
        )
        if changed is None:
            raise StreamInUse(f"Stream {name} is being resharded by another request; retry.")
        return changed

    async def split(self, tenant_id: str, name: str, shard_ref: str, new_start: str) -> Stream:
        return await self._reshard(tenant_id, name, lambda s: split(s, shard_ref, new_start))

    async def merge(self, tenant_id: str, name: str, shard_ref: str, adjacent: str) -> Stream:
        return await self._reshard(tenant_id, name, lambda s: merge(s, shard_ref, adjacent))

    async def update_shard_count(self, tenant_id: str, name: str, target: int) -> tuple[int, int]:
        """(open shards before, after)."""
        current = 0

        def change(stream: Stream) -> ShardChange:
            nonlocal current
            current = len(stream.open_shards)
            check_target(current, target, self.limits.max_shards)
            return uniform_scaling(stream, target)

        await self._reshard(tenant_id, name, change)
        return current, target

    # -- upkeep ---------------------------------------------------------------------------

    async def trim(self) -> int:
        """Records past their stream's retention period removed, and the shards closed longer
        ago than it no longer listed, as AWS (the upkeep's pass); how many records."""
        now = _now()
        removed = await self.store.trim(now)
        await self.store.expire_shards(now)
        return removed


class _ChangeFor(Protocol):
    def __call__(self, stream: Stream, /) -> ShardChange: ...
