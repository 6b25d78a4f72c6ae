"""Decision 0255's tally of what Kinesis accounts hold: provisioned streams' open shards (and
those past 24 hours' retention), on-demand streams, consumer-shards of provisioned streams
only, shard-level metrics times shards in both modes, retained bytes by age; and on-demand
ingestion rounded up to 1 KiB a record."""

from __future__ import annotations

import dataclasses

from andromede.kinesis.metering import Holdings, holdings, ingested_bytes
from andromede.kinesis.model import (
    Consumer,
    Shard,
    Stream,
    StreamMode,
    StreamStatus,
    uniform_shards,
)


def stream(
    name: str, shards: int, mode: StreamMode = StreamMode.PROVISIONED, tenant: str = "t1"
) -> Stream:
    return Stream(
        tenant_id=tenant,
        name=name,
        region="eu-fr-1",
        status=StreamStatus.ACTIVE,
        mode=mode,
        created=0,
        retention_hours=24,
        shards=tuple(Shard(i, s, e, 0) for i, s, e in uniform_shards(shards)),
        iterator_key=b"k" * 32,
    )


def test_provisioned_and_on_demand_streams_are_tallied_apart() -> None:
    closed = dataclasses.replace(
        stream("p", 2), shards=(*stream("p", 2).shards, Shard(9, 0, 1, 0, ending=5))
    )
    long_kept = dataclasses.replace(
        stream("long", 3), retention_hours=48, consumers=(Consumer("a", 0), Consumer("b", 0)),
        shard_level_metrics=("IncomingBytes", "OutgoingBytes"),
    )  # fmt: skip
    on_demand = dataclasses.replace(
        stream("od", 4, StreamMode.ON_DEMAND), retention_hours=200,
        consumers=(Consumer("c", 0),), shard_level_metrics=("IncomingRecords",),
    )  # fmt: skip
    other = stream("x", 1, tenant="t2")
    day = {("t1", "od"): 1000, ("t1", "long"): 50, ("t1", "p"): 7}
    week = {("t1", "od"): 300, ("t1", "long"): 20}
    tally = holdings([closed, long_kept, on_demand, other], day, week)
    assert tally[("t1", "eu-fr-1")] == Holdings(
        shards=5,  # the closed shard is not held
        extended_retention_shards=3,
        on_demand_streams=1,
        consumer_shards=6,  # the on-demand stream's consumer is billed by the byte
        shard_metrics=2 * 3 + 1 * 4,
        extended_retention_bytes=700,  # on-demand only: aged a day, not yet a week
        long_term_bytes=320,
    )
    assert tally[("t2", "eu-fr-1")] == Holdings(shards=1)
    assert holdings([], day, week) == {}


def test_on_demand_ingestion_rounds_each_record_up_to_a_kib() -> None:
    assert ingested_bytes([]) == 0
    assert ingested_bytes([0, 1, 1024]) == 3 * 1024
    assert ingested_bytes([1025, 5000]) == 2 * 1024 + 5 * 1024
