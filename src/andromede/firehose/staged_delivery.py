"""The second stage of a stream with a Lambda processor (decision 0344, ``firehose.staging``):
the function's ``Ok`` records, once its invocation is over, kept sealed in the buffer as
staged records with their partition keys, and delivered — one object, partitions, an HTTP
endpoint's request — when they reach the destination's hints.

Staging replaces the intake's batch by the staged records in one transaction, under the
delivery's lease: a restart between the invocation and the staging invokes the function
again on the same records (at least once, as a refused write already does, decision 0315);
after it, the staged records wait in the database as the intake's do. A staged batch is
delivered, retried and given up (``processing-failed``) as any batch is: the destination's
path is the deliverer's own.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence

from andromede.firehose.model import BufferedRecord, DeliveryStream, NewRecord
from andromede.firehose.service import FirehoseService
from andromede.firehose.staging import STAGED, frame, unframe
from andromede.firehose.store import SealedRecord
from andromede.firehose.transform_delivery import Transformed

__all__ = ["StagedDeliverer"]

log = logging.getLogger(__name__)

# (stream, records, now): the records' data, None when their key refused (lease let go)
OpenRecords = Callable[
    [DeliveryStream, Sequence[BufferedRecord], int], Awaitable[list[bytes] | None]
]
# (stream, records, opened, now, partition keys): objects written or batches sent
ToDestination = Callable[
    [
        DeliveryStream,
        Sequence[BufferedRecord],
        Sequence[bytes],
        int,
        Sequence[Mapping[str, str]] | None,
    ],
    Awaitable[int],
]


class StagedDeliverer:
    def __init__(
        self,
        firehose: FirehoseService,
        owner: str,
        open_records: OpenRecords,
        to_destination: ToDestination,
    ) -> None:
        self._firehose = firehose
        self._owner = owner
        self._open = open_records
        self._to_destination = to_destination

    async def stage(self, stream: DeliveryStream, step: Transformed) -> bool:
        """The function's records sealed and staged in place of the intake's batch (up to
        ``step.upto``); False when the lease was lost (nothing changed)."""
        staged_ids = [STAGED + record.record_id for record in step.records]
        sealed = await self._firehose.sealer.seal(
            stream,
            [
                NewRecord(record_id, frame(keys, data))
                for record_id, keys, data in zip(staged_ids, step.keys, step.opened, strict=True)
            ],
        )
        records = [
            SealedRecord(record_id, len(data), box, record.arrived)
            for record_id, data, box, record in zip(
                staged_ids, step.opened, sealed, step.records, strict=True
            )
        ]
        if not await self._firehose.store.stage(
            stream.tenant_id, stream.name, self._owner, step.upto, records
        ):
            log.info("Firehose stream %s: its lease was lost before staging", stream.arn)
            return False
        return True

    async def deliver(self, stream: DeliveryStream, now: int) -> int | None:
        """The staged records, when they reach the destination's hints, delivered (how many
        objects or HTTP batches that made); None when they do not (or there are none): the
        lease is still held."""
        store = self._firehose.store
        totals = await store.staged(stream.tenant_id, stream.name)
        if totals.oldest is None or (
            totals.bytes < stream.size_bytes
            and totals.oldest + stream.interval_seconds * 1000 > now
        ):
            return None
        records = await store.batch(stream.tenant_id, stream.name, stream.size_bytes, staged=True)
        framed = await self._open(stream, records, now)
        if framed is None:
            return 0
        keys: list[Mapping[str, str]] = []
        opened: list[bytes] = []
        for data in framed:
            record_keys, record_data = unframe(data)
            keys.append(record_keys)
            opened.append(record_data)
        return await self._to_destination(stream, records, opened, now, keys)
