"""Kinesis Data Streams' meters (decision 0255): what its accounts hold, read for billing's
sampler in one pass over every stream, as the meters AWS prices it by.

The counted meters (records put, bytes read) are ``wiring.kinesis.KinesisMetrics``'; the
tally itself is ``kinesis.metering``'s, pure."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Final

from andromede.kinesis.metering import DAY_MS, WEEK_MS, Holdings, holdings
from andromede.kinesis.model import Stream
from andromede.kinesis.store import KinesisStore

__all__ = ["HELD_METERS", "kinesis_holdings"]

_PAGE: Final = 500
# Each sampled meter (billing's ``KINESIS_SAMPLERS``) and the tally's field it bills.
HELD_METERS: Final[Mapping[str, Callable[[Holdings], int]]] = {
    "kinesis.shard-hours": lambda h: h.shards,
    "kinesis.extended-retention": lambda h: h.extended_retention_shards,
    "kinesis.on-demand.stream-hours": lambda h: h.on_demand_streams,
    "kinesis.fan-out.consumer-shard-hours": lambda h: h.consumer_shards,
    "kinesis.shard-level-metrics": lambda h: h.shard_metrics,
    "kinesis.on-demand.extended-retention": lambda h: h.extended_retention_bytes,
    "kinesis.long-term-retention": lambda h: h.long_term_bytes,
}


def kinesis_holdings(
    store: KinesisStore, clock: Callable[[], float] = time.time
) -> Callable[[], Awaitable[dict[str, dict[tuple[str, str], int]]]]:
    """The reading billing's sampler calls: every held meter, each per (account, region),
    every meter named even when nothing is held (so each watermark advances)."""

    async def read() -> dict[str, dict[tuple[str, str], int]]:
        now = int(clock() * 1000)
        streams: list[Stream] = []
        after: tuple[str, str] | None = None
        while True:
            page = await store.every_stream(after, _PAGE)
            streams.extend(page)
            if len(page) < _PAGE:
                break
            after = (page[-1].tenant_id, page[-1].name)
        tally = holdings(
            streams, await store.stored_bytes(now - DAY_MS), await store.stored_bytes(now - WEEK_MS)
        )
        return {
            meter: {where: n for where, held in tally.items() if (n := field(held))}
            for meter, field in HELD_METERS.items()
        }

    return read
