"""Amazon Data Firehose's service (decision 0223): the delivery streams of an account, and the
records put into them, sealed and buffered in the store until the deliverer
(``firehose.delivery``) writes them into the stream's bucket.

A stream is made CREATING and turned ACTIVE by the deliverer's next pass (any gateway's), as
AWS makes a stream ACTIVE once its resources are provisioned; records are taken by an ACTIVE
stream only. The service is the :class:`~andromede.firehose.model.RecordSink` other services
put records through, by the stream's ARN. A Kinesis source's stream (decision 0235) takes
only what its reader (``firehose.source_reader``) reads: PutRecord(Batch) and server-side
encryption are refused as AWS refuses them. A stream may send to an HTTP endpoint instead
(decision 0250): its Url https unless the operator allows http, its AccessKey sealed under
the account's key ring here (bound to the stream) or kept in a Secrets Manager secret of the
account (:class:`~andromede.firehose.http_endpoint.EndpointSecrets`).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from andromede.firehose.backup_buffer import with_copies
from andromede.firehose.errors import (
    ConcurrentModification,
    InvalidArgument,
    InvalidSource,
    KmsResourceError,
    LimitExceeded,
    StreamInUse,
    StreamNotFound,
)
from andromede.firehose.http_endpoint import EndpointSecrets
from andromede.firehose.model import (
    CUSTOMER_MANAGED_CMK,
    SSE_DISABLED,
    SSE_DISABLING,
    SSE_ENABLED,
    SSE_ENABLING,
    SSE_ENABLING_FAILED,
    BufferedRecord,
    DeliveryStream,
    HttpEndpoint,
    KinesisSource,
    NewRecord,
    PutResult,
    RecordSealer,
    S3Destination,
    S3Writer,
    SourceRecord,
    SourceStreams,
    StreamKeyCheck,
    StreamStatus,
    kinesis_record_id,
    new_record_id,
)
from andromede.firehose.partitioning import check_destination
from andromede.firehose.store import BufferTotals, FirehoseStore, SealedRecord

__all__ = ["FirehoseLimits", "FirehoseObserver", "FirehoseService", "ServiceUnavailable"]

_SLOW_DOWN: Final = "Slow down."
# AWS offers server-side encryption to Direct PUT streams only (a source stream's records
# are the source's to encrypt); here they are sealed in the buffer whatever is asked.
_SSE_DIRECT_PUT_ONLY: Final = (
    "Server-side encryption is not supported for KinesisStreamAsSource delivery streams: "
    "enable it on the source Kinesis data stream."
)
# The record id an HTTP endpoint's AccessKey is sealed under (its AAD: the stream and this).
_ACCESS_KEY_RECORD: Final = "http-endpoint-access-key"
_NOT_DIRECT_PUT: Final = (
    "This operation is not permitted on KinesisStreamAsSource delivery stream type."
)
_LOGS_ONLY: Final = (
    "Only requests from CloudWatch Logs are supported when CloudWatch Logs decompression is "
    "enabled."
)


class ServiceUnavailable(LimitExceeded):
    """The stream's buffer is full: AWS's ``ServiceUnavailableException`` ("Slow down.")."""


@dataclass(frozen=True, slots=True)
class FirehoseLimits:
    max_streams: int = 5000
    max_buffered_bytes: int = 64 * 1024 * 1024
    max_tags: int = 50
    # Whether an HTTP endpoint's Url may be http:// (AWS: https only; loopback tests).
    http_endpoint_allow_http: bool = False


class FirehoseObserver(Protocol):
    def incoming(self, stream: DeliveryStream, sizes: Sequence[int]) -> None:
        """The sizes of the records a stream took (its metrics, its account's bill)."""
        ...

    def read_from_source(self, stream: DeliveryStream, sizes: Sequence[int]) -> None:
        """The sizes of the records a stream read from its Kinesis source and buffered."""
        ...


class _Unobserved:
    def incoming(self, stream: DeliveryStream, sizes: Sequence[int]) -> None:
        pass

    def read_from_source(self, stream: DeliveryStream, sizes: Sequence[int]) -> None:
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
        key_check: StreamKeyCheck | None = None,
    ) -> None:
        self.store = store
        self.key_check = key_check
        self.sealer = sealer
        self.writer = writer
        self.region = region
        self.limits = limits or FirehoseLimits()
        self.observer: FirehoseObserver = observer or _Unobserved()
        # The Kinesis data streams sources read (decision 0235); None: not served here.
        self.sources: SourceStreams | None = None
        # The secrets HTTP endpoints' access keys are read from (decision 0250); None: not
        # served here (SecretsManagerConfiguration refused).
        self.endpoint_secrets: EndpointSecrets | None = None

    async def create(
        self,
        tenant_id: str,
        name: str,
        destination: S3Destination,
        tags: Sequence[tuple[str, str]],
        sse_key_type: str | None = None,
        sse_key_arn: str | None = None,
        caller: object = None,
        source: KinesisSource | None = None,
        http: HttpEndpoint | None = None,
        access_key: str | None = None,
    ) -> DeliveryStream:
        """A CREATING stream; with encryption asked for, ENABLING until the deliverer's next
        pass checks the key (decision 0223's addendum). With a Kinesis ``source``, its reader
        starts from the creation (decision 0235). With ``http``, an HTTP endpoint destination
        backed up into ``destination`` (decision 0250), ``access_key`` sealed."""
        check_destination(destination)
        if source is not None and sse_key_type is not None:
            raise InvalidArgument(_SSE_DIRECT_PUT_ONLY)
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
            sse_status=SSE_DISABLED if sse_key_type is None else SSE_ENABLING,
            source=None if source is None else dataclasses.replace(source, delivery_start=now),
            http=http,
        )
        stream = await self._with_endpoint(stream, access_key)
        await self.writer.check(stream)
        if source is not None:
            if self.sources is None:
                raise InvalidArgument(
                    "Kinesis Data Streams are not served by this deployment: no "
                    "KinesisStreamAsSource delivery stream."
                )
            await self.sources.check(stream)
        await self._check_key(stream, sse_key_type, sse_key_arn, caller)
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

    async def _with_endpoint(
        self, stream: DeliveryStream, access_key: str | None
    ) -> DeliveryStream:
        """``stream`` with its HTTP endpoint checked (https, unless the operator allows
        http; its secret the account's) and ``access_key``, when given, sealed into it."""
        http = stream.http
        if http is None:
            return stream
        schemes = ("https://", "http://") if self.limits.http_endpoint_allow_http else ("https://",)
        if not http.url.lower().startswith(schemes):
            raise InvalidArgument(
                f"The URL {http.url[:256]!r} is not valid: HTTP endpoint URLs must use https."
            )
        if http.secret_enabled:
            if access_key is not None:
                raise InvalidArgument(
                    "AccessKey cannot be given with an enabled SecretsManagerConfiguration."
                )
            if self.endpoint_secrets is None:
                raise InvalidArgument("Secrets Manager is not served by this deployment.")
            await self.endpoint_secrets.check(stream)
        if access_key is None:
            return stream
        (sealed,) = await self.sealer.seal(
            dataclasses.replace(stream, sealing_key_arn=None),
            [NewRecord(_ACCESS_KEY_RECORD, access_key.encode())],
        )
        return dataclasses.replace(stream, http=dataclasses.replace(http, access_key=sealed))

    async def open_access_key(self, stream: DeliveryStream) -> str | None:
        """The HTTP endpoint's AccessKey, opened (the account's key ring's errors)."""
        if stream.http is None or stream.http.access_key is None:
            return None
        sealed = stream.http.access_key
        (opened,) = await self.sealer.open(
            stream, [BufferedRecord(0, _ACCESS_KEY_RECORD, 0, 0, sealed)]
        )
        return opened.decode()

    async def update_destination(
        self,
        tenant_id: str,
        name: str,
        current_version: str,
        destination: S3Destination,
        http: HttpEndpoint | None = None,
        access_key: str | None = None,
    ) -> DeliveryStream:
        """The destination replaced; an HTTP endpoint stream's (decision 0250) keeps being
        one (``http`` given, its S3 backup ``destination``), ``access_key`` sealed anew
        when given."""
        stream = await self.get(tenant_id, name)
        if (http is None) != (stream.http is None):
            raise InvalidArgument(
                "Changing the destination type of a delivery stream is not supported by this "
                "platform (decision 0250)."
            )
        if current_version != str(stream.version):
            raise ConcurrentModification(
                f"The delivery stream's version is {stream.version}, not {current_version}."
            )
        if stream.status != StreamStatus.ACTIVE:
            raise StreamInUse(f"Firehose {name} is not in the ACTIVE state.")
        check_destination(destination, stream.destination)
        changed = await self._with_endpoint(
            dataclasses.replace(stream, destination=destination, http=http), access_key
        )
        await self.writer.check(changed)
        return await self._replace(dataclasses.replace(changed, version=stream.version + 1))

    async def tag(self, tenant_id: str, name: str, tags: Sequence[tuple[str, str]]) -> None:
        stream = await self.get(tenant_id, name)
        merged = dict(stream.tags) | dict(tags)
        # A stream that migration 0157 took one over the quota (decision 0390) may still
        # change the values it has; a key more is refused.
        if len(merged) > max(self.limits.max_tags, len(stream.tags)):
            raise LimitExceeded(f"A delivery stream may carry at most {self.limits.max_tags} tags.")
        await self._replace(dataclasses.replace(stream, tags=tuple(merged.items())))

    async def untag(self, tenant_id: str, name: str, keys: Sequence[str]) -> None:
        stream = await self.get(tenant_id, name)
        kept = tuple((k, v) for k, v in stream.tags if k not in keys)
        await self._replace(dataclasses.replace(stream, tags=kept))

    async def _check_key(
        self, stream: DeliveryStream, key_type: str | None, key_arn: str | None, caller: object
    ) -> None:
        if key_type != CUSTOMER_MANAGED_CMK or key_arn is None:
            return
        if self.key_check is None:
            raise InvalidArgument("Customer managed keys are not offered by this deployment.")
        await self.key_check.authorise(stream, key_arn, caller)

    async def set_encryption(
        self,
        tenant_id: str,
        name: str,
        key_type: str | None,
        key_arn: str | None,
        caller: object = None,
    ) -> None:
        """Start (``key_type`` given: ENABLING) or stop (DISABLING) the stream's server-side
        encryption; the deliverer's next pass settles it (:meth:`settle_encryption`)."""
        stream = await self.get(tenant_id, name)
        if stream.status != StreamStatus.ACTIVE:
            raise StreamInUse(f"Firehose {name} is not in the ACTIVE state.")
        if stream.source is not None:
            raise InvalidArgument(_SSE_DIRECT_PUT_ONLY)
        if stream.sse_status in (SSE_ENABLING, SSE_DISABLING):
            raise StreamInUse(
                f"Firehose {name}'s encryption is {stream.sse_status}; retry once it is settled."
            )
        if key_type is None:
            changed = dataclasses.replace(stream, sse_status=SSE_DISABLING, sse_failure=None)
        else:
            await self._check_key(stream, key_type, key_arn, caller)
            changed = dataclasses.replace(
                stream,
                sse_key_type=key_type,
                sse_key_arn=key_arn,
                sse_status=SSE_ENABLING,
                sse_failure=None,
            )
        await self._replace(changed)

    async def settle_encryption(self, limit: int = 100) -> int:
        """The streams of this Region whose encryption is changing, settled: ENABLING becomes
        ENABLED once Firehose may use the key (its new records sealed under it), or
        ENABLING_FAILED with the key's FailureDescription (the key sealing before kept, as
        AWS keeps the old key when a change fails); DISABLING becomes DISABLED (new records
        under the account's key ring; those buffered keep the key that sealed them)."""
        settled = 0
        for stream in await self.store.settling(self.region, limit):
            if stream.sse_status == SSE_DISABLING:
                changed = dataclasses.replace(
                    stream, sse_status=SSE_DISABLED, sse_key_type=None, sse_key_arn=None,
                    sealing_key_arn=None,
                )  # fmt: skip
            elif stream.sse_key_type != CUSTOMER_MANAGED_CMK or stream.sse_key_arn is None:
                changed = dataclasses.replace(stream, sse_status=SSE_ENABLED, sealing_key_arn=None)
            else:
                changed = await self._enabled(stream, stream.sse_key_arn)
            try:
                await self._replace(changed)
            except ConcurrentModification:  # another gateway's pass, or a call: the next pass
                continue
            settled += 1
        return settled

    async def _enabled(self, stream: DeliveryStream, key_arn: str) -> DeliveryStream:
        try:
            if self.key_check is None:
                raise KmsResourceError(
                    "KMS.NotFoundException", "KMS_KEY_NOT_FOUND",
                    "Customer managed keys are not offered by this deployment.", lasting=True,
                )  # fmt: skip
            await self.key_check.usable(stream, key_arn)
        except KmsResourceError as exc:
            return dataclasses.replace(
                stream, sse_status=SSE_ENABLING_FAILED, sse_failure=(exc.failure_type, str(exc))
            )
        return dataclasses.replace(
            stream, sse_status=SSE_ENABLED, sse_failure=None, sealing_key_arn=key_arn
        )

    async def put(
        self, tenant_id: str, name: str, records: Sequence[bytes], *, from_logs: bool = False
    ) -> list[PutResult]:
        """Each record buffered, or its error (the stream's buffer full: AWS's
        ``ServiceUnavailableException``, "Slow down."); ``KmsResourceError`` for all when the
        stream's key refuses (AWS's ``InvalidKMSResourceException``): nothing is buffered
        unsealed. A stream decompressing CloudWatch Logs records takes Logs' only
        (``from_logs``; else ``InvalidSource``, decision 0334)."""
        stream = await self.get(tenant_id, name)
        if stream.status != StreamStatus.ACTIVE:
            raise StreamNotFound(
                f"Firehose {name} under account {tenant_id} is not ACTIVE ({stream.status.value})."
            )
        if stream.source is not None:  # as AWS: such a stream takes only what it reads
            raise InvalidArgument(_NOT_DIRECT_PUT)
        if stream.log_processing is not None and not from_logs:
            raise InvalidSource(_LOGS_ONLY)
        fresh = [NewRecord(new_record_id(), data) for data in records]
        taken = await self._buffer(stream, fresh)
        if taken:
            self.observer.incoming(stream, [len(r.data) for r in fresh[:taken]])
        return [
            PutResult(r.record_id)
            if i < taken
            else PutResult(None, "ServiceUnavailableException", _SLOW_DOWN)
            for i, r in enumerate(fresh)
        ]

    async def _buffer(self, stream: DeliveryStream, fresh: Sequence[NewRecord]) -> int:
        """The first records that fit the stream's buffer sealed and kept, each with its
        source record backup's copy (decision 0376); how many."""
        fresh = with_copies(stream, fresh)
        sealed = await self.sealer.seal(stream, fresh)
        return await self.store.append(
            stream.tenant_id,
            stream.name,
            [SealedRecord(r.record_id, len(r.data), s) for r, s in zip(fresh, sealed, strict=True)],
            _now(),
            self.limits.max_buffered_bytes,
        )

    async def take_from_source(
        self, stream: DeliveryStream, records: Sequence[SourceRecord], shard_id: str
    ) -> int:
        """What a Kinesis source's reader read from a shard, buffered as Direct PUT's records
        are (their data bytes, as AWS delivers them; their Kinesis metadata in their ids, for
        a Lambda processor: decision 0334): how many of the first fit the buffer's bound
        (the reader's back-pressure: it reads the rest again later)."""
        fresh = [NewRecord(kinesis_record_id(shard_id, r), r.data) for r in records]
        taken = await self._buffer(stream, fresh) if fresh else 0
        if taken:
            self.observer.read_from_source(stream, [len(r.data) for r in fresh[:taken]])
        return taken

    async def put_records(
        self, tenant_id: str, stream_arn: str, records: Sequence[bytes], *, from_logs: bool = False
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
        name = parts[5].removeprefix("deliverystream/")
        return await self.put(tenant_id, name, records, from_logs=from_logs)

    @staticmethod
    def slow_down() -> ServiceUnavailable:
        return ServiceUnavailable(_SLOW_DOWN)
