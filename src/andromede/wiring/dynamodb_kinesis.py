"""Kinesis Data Streams for DynamoDB's wiring (decision 0262): Kinesis as a table's streaming
destinations reach it (:class:`OwnerKinesisStreams`, over the Kinesis service of ``serve``,
found in ``apis`` when needed), and the forwarder every ``serve`` runs.

The forwarder puts as DynamoDB does on AWS: as the service, into the table owner's stream,
which the owner was judged allowed to write (``kinesis:PutRecord``, ``kinesis:PutRecords``,
``kinesis:DescribeStream``) when enabling. Its puts go through the Kinesis service itself, so
they are sealed under the stream's key, throttled per shard, and counted into the owner's
Kinesis meters and metrics as any put."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Mapping, Sequence

from andromede.db.database import Database
from andromede.db.doorbells import DYNAMODB_KINESIS
from andromede.dynamodb.kinesis_destination_service import (
    DestinationStreamMissing,
    DestinationUnusable,
    ForwarderPolicy,
    KinesisDestinations,
    KinesisForwarder,
)
from andromede.dynamodbapi.app import DynamoApp
from andromede.kinesis.errors import KinesisError, KmsRefused, StreamNotFound
from andromede.kinesis.model import StreamStatus
from andromede.kinesis.service import Entry, KinesisService
from andromede.kinesisapi.app import KinesisApp
from andromede.settings import Settings

__all__ = ["OwnerKinesisStreams", "kinesis_destinations"]


class OwnerKinesisStreams:
    """:class:`~andromede.dynamodb.kinesis_destination_service.KinesisStreams` over the
    Kinesis service, as the table's owner."""

    def __init__(self, kinesis: Callable[[], KinesisService | None]) -> None:
        self._kinesis = kinesis

    def _service(self) -> KinesisService:
        service = self._kinesis()
        if service is None:
            raise DestinationUnusable("Kinesis Data Streams is not offered here")
        return service

    async def check(self, tenant_id: str, stream_name: str) -> None:
        service = self._service()
        try:
            stream = await service.get(tenant_id, stream_name)
            if stream.status is not StreamStatus.ACTIVE:
                raise DestinationUnusable(
                    f"Kinesis stream {stream_name} is {stream.status.value}, not ACTIVE"
                )
            if stream.key_id is not None:
                await service.sealer.check(stream, stream.key_id, None)
        except StreamNotFound:
            raise DestinationStreamMissing(
                f"Requested resource not found: Stream: {stream_name} not found"
            ) from None
        except KmsRefused as exc:
            raise DestinationUnusable(
                f"The KMS key of Kinesis stream {stream_name} is unusable: {exc}"
            ) from None

    async def put(
        self, tenant_id: str, stream_name: str, records: Sequence[tuple[str, bytes]]
    ) -> int:
        service = self._service()
        entries = [Entry(key, data) for key, data in records]
        try:
            _, outcomes = await service.put(tenant_id, stream_name, entries)
        except StreamNotFound:
            raise DestinationStreamMissing(
                f"Requested resource not found: Stream: {stream_name} not found"
            ) from None
        except KmsRefused as exc:
            raise DestinationUnusable(
                f"The KMS key of Kinesis stream {stream_name} is unusable: {exc}"
            ) from None
        except KinesisError:  # resharding, a record past the size: retried on the next pass
            return 0
        taken = 0
        for outcome in outcomes:
            if outcome.sequence is None:
                break
            taken += 1
        return taken


def kinesis_destinations(
    app: DynamoApp, apis: Mapping[str, object], settings: Settings, db: Database | None = None
) -> KinesisForwarder:
    """The destinations' calls given to ``app``, and the forwarder of this gateway."""

    def kinesis() -> KinesisService | None:
        found = apis.get(KinesisApp.name)
        return found.service if isinstance(found, KinesisApp) else None

    streams = OwnerKinesisStreams(kinesis)
    app.kinesis_destinations = KinesisDestinations(app.service, streams)
    queue = app.service.store
    policy = ForwarderPolicy(
        interval_s=settings.dynamodb_kinesis_interval,
        idle_poll_max=settings.background_idle_poll_max,
        lease_ms=int(settings.dynamodb_kinesis_lease * 1000),
    )
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    # Rung by the writes' commits (decision 0326); without a database, polled at the interval.
    bell = None if db is None else db.doorbells.of(DYNAMODB_KINESIS)
    return KinesisForwarder(app.service, queue, streams, owner, policy, bell)
