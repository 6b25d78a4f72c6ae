"""What Kinesis Data Streams' accounts hold, as AWS prices it (decision 0255): a pure tally
of their streams, read by billing's sampler a page at a time.

Per (account, region): the open shards of provisioned streams (AWS's shard hours), those of
them whose stream keeps records past 24 hours (extended retention shard hours), the
on-demand streams (stream hours), each provisioned stream's enhanced fan-out consumers times
its open shards (consumer-shard hours: AWS prices on-demand streams' fan-out by the byte
only), its enhanced monitoring's shard-level metrics times its open shards (CloudWatch
custom metrics), and the bytes retained by age: on-demand streams' bytes aged 24 hours to 7
days (extended retention, per GB-month there) and every stream's bytes aged past 7 days
(long-term retention, per GB-month in both modes)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from andromede.kinesis.model import Stream, StreamMode

__all__ = [
    "DAY_MS",
    "INGEST_UNIT",
    "WEEK_MS",
    "Holdings",
    "holdings",
    "ingested_bytes",
]

DAY_MS: Final = 24 * 3_600_000
WEEK_MS: Final = 7 * DAY_MS
BASE_RETENTION_HOURS: Final = 24  # AWS's retention included in the shard or stream hour
INGEST_UNIT: Final = 1024  # AWS rounds each record put into an on-demand stream up to 1 KB


@dataclass(slots=True)
class Holdings:
    """One (account, region)'s tally; see the module's docstring."""

    shards: int = 0
    extended_retention_shards: int = 0
    on_demand_streams: int = 0
    consumer_shards: int = 0
    shard_metrics: int = 0
    extended_retention_bytes: int = 0
    long_term_bytes: int = 0


def holdings(
    streams: Iterable[Stream],
    aged_a_day: Mapping[tuple[str, str], int],
    aged_a_week: Mapping[tuple[str, str], int],
) -> dict[tuple[str, str], Holdings]:
    """``aged_a_day``/``aged_a_week``: each (account, stream)'s bytes that arrived more than
    24 hours / 7 days ago (the store's ``stored_bytes``)."""
    tally: dict[tuple[str, str], Holdings] = {}
    for stream in streams:
        held = tally.setdefault((stream.tenant_id, stream.region), Holdings())
        shards = len(stream.open_shards)
        key = (stream.tenant_id, stream.name)
        week = aged_a_week.get(key, 0)
        held.long_term_bytes += week
        held.shard_metrics += shards * len(stream.shard_level_metrics)
        if stream.mode is StreamMode.ON_DEMAND:
            held.on_demand_streams += 1
            held.extended_retention_bytes += max(aged_a_day.get(key, 0) - week, 0)
            continue
        held.shards += shards
        held.consumer_shards += shards * len(stream.consumers)
        if stream.retention_hours > BASE_RETENTION_HOURS:
            held.extended_retention_shards += shards
    return tally


def ingested_bytes(sizes: Iterable[int]) -> int:
    """On-demand data ingested as AWS bills it: each record rounded up to 1 KB."""
    return sum(max(1, -(-size // INGEST_UNIT)) * INGEST_UNIT for size in sizes)
