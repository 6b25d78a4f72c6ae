"""What both stores decide alike (decision 0228): a reshard's sequence numbers, and the
words of their refusals."""

from __future__ import annotations

import dataclasses

from andromede.kinesis.errors import LimitExceeded, StreamInUse
from andromede.kinesis.model import Shard, ShardChange, Stream

__all__ = ["apply_change", "in_use", "shard_limit", "unexpired"]

_HOUR_MS = 3_600_000


def apply_change(stream: Stream, change: ShardChange, now: int) -> Stream:
    """``stream`` with ``change`` applied at its counter ``n``: closing shards end at ``n``,
    a number no record takes (above every record they hold), opening ones start at ``n + 1``,
    the next record's."""
    ending = stream.next_sequence
    shards: list[Shard] = [
        dataclasses.replace(s, ending=ending, closed_at=now) if s.index in change.closing else s
        for s in stream.shards
    ]
    shards += [dataclasses.replace(s, starting=ending + 1) for s in change.opening]
    return dataclasses.replace(
        stream, shards=tuple(shards), layout=stream.layout + 1, next_sequence=ending + 1
    )


def unexpired(stream: Stream, now: int) -> tuple[Shard, ...] | None:
    """The stream's shards without those closed longer ago than its retention period (their
    records are gone: AWS stops listing them); None when none is to drop."""
    cutoff = now - stream.retention_hours * _HOUR_MS
    kept = tuple(s for s in stream.shards if s.closed_at is None or s.closed_at >= cutoff)
    return None if len(kept) == len(stream.shards) else kept


def in_use(stream: Stream) -> StreamInUse:
    return StreamInUse(f"Stream {stream.name} under account {stream.tenant_id} already exists.")


def shard_limit(open_shards: int, asked: int, max_shards: int) -> LimitExceeded:
    return LimitExceeded(
        f"This request would exceed the shard limit for the account {open_shards + asked} "
        f"(open shards {open_shards}, asked {asked}, limit {max_shards})."
    )
