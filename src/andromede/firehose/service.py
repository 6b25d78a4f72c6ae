"""Amazon Data Firehose's service (decision 0223): the delivery streams of an account, and the
records put into them, sealed and buffered in the store until the deliverer
(``firehose.delivery``) writes them into the stream's bucket.

A stream is made CREATING and turned ACTIVE by the deliverer's next pass (any gateway's), as
AWS makes a stream ACTIVE once its resources are provisioned; records are taken by an ACTIVE
stream only. The service is the :class:`~andromede.firehose.model.RecordSink` other services
put records through, by the stream's ARN.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from andromede.firehose.errors import (
    ConcurrentModification,
    InvalidArgument,
    LimitExceeded,
    StreamInUse,
    StreamNotFound,
)
from andromede.firehose.model import (
    DeliveryStream,
    NewRecord,
    PutResult,
    RecordSealer,
    S3Destination,
    S3Writer,
    StreamStatus,
    check_prefixes,
    new_record_id,
)
from andromede.firehose.store import BufferTotals, FirehoseStore, SealedRecord

__all__ = ["FirehoseLimits", "FirehoseObserver", "FirehoseService", "ServiceUnavailable"]

_SLOW_DOWN: Final = "Slow down."


class ServiceUnavailable(LimitExceeded):
    """The stream's buffer is full: AWS's ``ServiceUnavailableException`` ("Slow down.")."""


@dataclass(frozen=True, slots=True)
class FirehoseLimits:
    max_streams: int = 5000
    max_buffered_bytes: int = 64 * 1024 * 1024
    max_tags: int = 50


class FirehoseObserver(Protocol):
    def incoming(self, stream: DeliveryStream, sizes: Sequence[int]) -> None:
        """The sizes of the records a stream took (its metrics, its account's bill)."""
        ...


class _Unobserved:
    def incoming(self, stream: DeliveryStream, sizes: Sequence[int]) -> None:
        pass


def _now() -> int:
    return int(time.time() * 1000)


def _not_found(tenant_id: str, name: str) -> StreamNotFound:
    return StreamNotFound(f"Firehose {name} under account {tenant_id} not found.")


class FirehoseService:
    def __init__(
        self,
        store: FirehoseStore,
        sealer: RecordSealer,
        writer: S3Writer,
        region: str,
        limits: FirehoseLimits | None = None,
        observer: FirehoseObserver | None = None,
    ) -> None:
        self.store = store
        self.sealer = sealer
        self.writer = writer
        self.region = region
        self.limits = limits or FirehoseLimits()
        self.observer: FirehoseObserver = observer or _Unobserved()

    async def create(
        self,
        tenant_id: str,
        name: str,
        destination: S3Destination,
        tags: Sequence[tuple[str, str]],
        sse_key_type: str | None = None,
        sse_key_arn: str | None = None,
    ) -> DeliveryStream:
        check_prefixes(destination.prefix, destination.error_output_prefix)
        if len(tags) > self.limits.max_tags:
            raise LimitExceeded(f"A delivery stream may carry at most {self.limits.max_tags} tags.")
        now = _now()
        stream = DeliveryStream(
            tenant_id=tenant_id,
            name=name,
            region=self.region,
            status=StreamStatus.CREATING,
            version=1,
            created=now,
            updated=now,
            destination=destination,
            tags=tuple(dict(tags).items()),
            sse_key_type=sse_key_type,
            sse_key_arn=sse_key_arn,
        )
        await self.writer.check(stream)
        await self.store.create(stream, self.limits.max_streams)
        return stream

    async def get(self, tenant_id: str, name: str) -> DeliveryStream:
        stream = await self.store.get(tenant_id, name)
        if stream is None:
            raise _not_found(tenant_id, name)
        return stream

    async def describe(self, tenant_id: str, name: str) -> tuple[DeliveryStream, BufferTotals]:
        stream = await self.get(tenant_id, name)
        return stream, await self.store.totals(tenant_id, name)

    async def names(self, tenant_id: str, after: str | None, limit: int) -> tuple[list[str], bool]:
        found = await self.store.names(tenant_id, after, limit + 1)
        return found[:limit], len(found) > limit

    async def delete(self, tenant_id: str, name: str) -> None:
        """The stream and what it still buffers: AWS deletes a stream with the data it has
        not delivered yet (its documentation asks to stop writing first)."""
        if not await self.store.delete(tenant_id, name):
            raise _not_found(tenant_id, name)

    async def _replace(self, stream: DeliveryStream) -> DeliveryStream:
        """``stream`` (a changed copy of one read) written, unless another write came first."""
        changed = dataclasses.replace(stream, revision=stream.revision + 1, updated=_now())
        if not await self.store.replace(changed):
            raise ConcurrentModification(
                f"Another request changed delivery stream {stream.name} meanwhile; retry."
            )
        return changed

    async def update_destination(
        self, tenant_id: str, name: str, current_version: str, destination: S3Destination
    ) -> DeliveryStream:
        stream = await self.get(tenant_id, name)
        if current_version != str(stream.version):
            raise ConcurrentModification(
                f"The delivery stream's version is {stream.version}, not {current_version}."
            )
        if stream.status != StreamStatus.ACTIVE:
            raise StreamInUse(f"Firehose {name} is not in the ACTIVE state.")
        check_prefixes(destination.prefix, destination.error_output_prefix)
        await self.writer.check(dataclasses.replace(stream, destination=destination))
        return await self._replace(
            dataclasses.replace(stream, destination=destination, version=stream.version + 1)
        )

    async def tag(self, tenant_id: str, name: str, tags: Sequence[tuple[str, str]]) -> None:
        stream = await self.get(tenant_id, name)
        merged = dict(stream.tags) | dict(tags)
        if len(merged) > self.limits.max_tags:
            raise LimitExceeded(f"A delivery stream may carry at most {self.limits.max_tags} tags.")
        await self._replace(dataclasses.replace(stream, tags=tuple(merged.items())))

    async def untag(self, tenant_id: str, name: str, keys: Sequence[str]) -> None:
        stream = await self.get(tenant_id, name)
        kept = tuple((k, v) for k, v in stream.tags if k not in keys)
        await self._replace(dataclasses.replace(stream, tags=kept))

    async def set_encryption(
        self, tenant_id: str, name: str, key_type: str | None, key_arn: str | None
    ) -> None:
        """Start (``key_type`` given) or stop the stream's server-side encryption. The records
        it buffers are sealed under the account's keys whichever it is (decision 0223)."""
        stream = await self.get(tenant_id, name)
        if stream.status != StreamStatus.ACTIVE:
            raise StreamInUse(f"Firehose {name} is not in the ACTIVE state.")
        await self._replace(dataclasses.replace(stream, sse_key_type=key_type, sse_key_arn=key_arn))

    async def put(self, tenant_id: str, name: str, records: Sequence[bytes]) -> list[PutResult]:
        """Each record buffered, or its error (the stream's buffer full: AWS's
        ``ServiceUnavailableException``, "Slow down.")."""
        stream = await self.get(tenant_id, name)
        if stream.status != StreamStatus.ACTIVE:
            raise StreamNotFound(
                f"Firehose {name} under account {tenant_id} is not ACTIVE ({stream.status.value})."
            )
        fresh = [NewRecord(new_record_id(), data) for data in records]
        sealed = await self.sealer.seal(stream, fresh)
        taken = await self.store.append(
            tenant_id,
            name,
            [SealedRecord(r.record_id, len(r.data), s) for r, s in zip(fresh, sealed, strict=True)],
            _now(),
            self.limits.max_buffered_bytes,
        )
        if taken:
            self.observer.incoming(stream, [len(r.data) for r in fresh[:taken]])
        return [
            PutResult(r.record_id)
            if i < taken
            else PutResult(None, "ServiceUnavailableException", _SLOW_DOWN)
            for i, r in enumerate(fresh)
        ]

    async def put_records(
        self, tenant_id: str, stream_arn: str, records: Sequence[bytes]
    ) -> list[PutResult]:
        """:class:`~andromede.firehose.model.RecordSink`: a stream of ``tenant_id``'s by ARN."""
        parts = stream_arn.split(":", 5)
        if (
            len(parts) != 6
            or parts[2] != "firehose"
            or parts[4] != tenant_id
            or not parts[5].startswith("deliverystream/")
        ):
            raise InvalidArgument(f"{stream_arn[:256]!r} is no delivery stream of the account.")
        return await self.put(tenant_id, parts[5].removeprefix("deliverystream/"), records)

    @staticmethod
    def slow_down() -> ServiceUnavailable:
        return ServiceUnavailable(_SLOW_DOWN)
