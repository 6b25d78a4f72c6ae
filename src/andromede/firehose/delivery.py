"""Firehose's deliverer (decision 0223): every gateway runs one; each pass turns the CREATING
streams ACTIVE, then claims the streams whose buffer reached a hint (under a lease: one
gateway at a time a stream) and writes the oldest records of each, up to the size hint, into
one object of the stream's bucket, as the stream's role — or, for an HTTP endpoint
destination (decision 0250), sends them to it (``firehose.http_delivery``).

Each pass also settles the streams whose encryption is changing (ENABLING, DISABLING).

A refused write (the role may not, the bucket is gone, its key refuses) is retried every
``retry_interval_ms`` while the streak lasts less than ``retry_duration_ms`` (AWS retries an
S3 destination for 24 hours); past it, the records are written under the stream's error
output prefix (``processing-failed/…``, one JSON line a record with AWS's fields) and taken
out of the buffer; if even that write is refused, they are dropped with a WARNING and the
``on_dropped`` callback (the wiring audits it), never silently. Records whose customer-managed
key refuses to open them (disabled, pending deletion) are held and retried the same way, then
given up as loudly; never written unsealed.

A Kinesis source's opened batch has its KPL aggregates undone first, each into its user
records (decision 0342, ``firehose.kpl``). A stream with a ``Decompression`` processor (an S3
or an HTTP endpoint destination, decision 0342) has its opened batch's CloudWatch Logs records
gunzipped, and their messages extracted, then (decision 0334, ``firehose.log_records``).
A stream with a Lambda processor has its opened batch transformed then (decision 0315,
``firehose.transform_delivery``) when the processor's own hints are reached, and the
function's records staged until the destination's are (decision 0344,
``firehose.staged_delivery``). A dynamically partitioned stream's batch (decision 0270)
is written partition by partition
(``firehose.partitioned_delivery``). Every failed attempt is also written, as AWS's JSON error
record, into the destination's ``CloudWatchLoggingOptions`` log group and stream when they
are enabled (decision 0270), as the destination's role, through ``error_logs``.

An Extended S3 destination's source record backup (decisions 0367, 0376) has its own
buffer: each record's copy, buffered with it, is written by ``firehose.backup_delivery`` at
the backup's hints, first in each claim of the stream — the destination never waits for it
(a claim due for the copies only lets the intake wait for its own hints); a copy counts in
the ``BackupToS3.*`` metrics and a refused one goes into the backup's own error log, as its
role. An HTTP endpoint's ``AllData`` copies and its records given up past its retry window
wait there too, on its ``S3Configuration``'s hints (decision 0388). Every pass ends with the
``DataFreshness`` gauges' tick (``firehose.freshness``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from andromede.errors import AndromedeError
from andromede.firehose.backup_delivery import BackupDeliverer
from andromede.firehose.error_logs import ErrorLogs, error_record
from andromede.firehose.errors import KmsResourceError
from andromede.firehose.freshness import FreshnessGauges, RoundClaims
from andromede.firehose.http_delivery import HttpEndpointDeliverer
from andromede.firehose.http_endpoint import EndpointSender
from andromede.firehose.jq_runner import SubprocessQueryRunner
from andromede.firehose.kpl import expand
from andromede.firehose.log_records import failure_lines as log_failure_lines
from andromede.firehose.log_records import unpack
from andromede.firehose.model import (
    BufferedRecord,
    DeliveryFailed,
    DeliveryStream,
    LoggingOptions,
    S3Destination,
    error_object_key,
    failure_lines,
    object_key,
)
from andromede.firehose.partitioned_delivery import PartitionedDeliverer
from andromede.firehose.partitioning import QueryRunner
from andromede.firehose.service import FirehoseService
from andromede.firehose.staged_delivery import StagedDeliverer
from andromede.firehose.staging import intake_hints
from andromede.firehose.transform_delivery import NoFunctions, TransformStep

__all__ = ["DeliveryObserver", "DeliveryPolicy", "FirehoseDeliverer"]

log = logging.getLogger(__name__)

_CONTENT_TYPE: Final = "application/octet-stream"


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    poll_interval: float = 5.0
    lease_ms: int = 60_000
    retry_interval_ms: int = 5_000
    retry_duration_ms: int = 86_400_000
    streams_a_pass: int = 100
    # An HTTP endpoint's retries back off, doubling, up to this (decision 0250).
    max_backoff_ms: int = 60_000
    # A dynamically partitioned batch's partitions at most (AWS: 500 active a stream).
    max_active_partitions: int = 500
    # The bytes a record may inflate to under a Decompression processor (decision 0334).
    max_decompressed_record: int = 8 * 1024 * 1024


class DeliveryObserver(Protocol):
    def delivered(
        self,
        stream: DeliveryStream,
        records: int,
        size: int,
        ok: bool,
        destination: str = "S3",
        freshness_ms: int | None = None,
    ) -> None:
        """One attempt's outcome (``DeliveryTo<destination>.*`` metrics: ``S3``,
        ``HttpEndpoint``), and the age of the oldest record delivered, when it was."""
        ...

    def partitioned(
        self, stream: DeliveryStream, partitions: int, exceeded: bool, objects: int
    ) -> None:
        """A dynamically partitioned batch (decision 0270): its partitions, whether the
        active partitions limit was passed, the objects written into the bucket."""
        ...

    def backed_up(self, stream: DeliveryStream, records: int, size: int, ok: bool) -> None:
        """One source record backup attempt (decision 0376, ``BackupToS3.*`` metrics): its
        records and bytes, whether the backup bucket took it."""
        ...

    def backup_freshness(self, stream: DeliveryStream, freshness_ms: int) -> None:
        """The age of the oldest copy the backup has not delivered, after a pass over its
        copies (``BackupToS3.DataFreshness``, decision 0379)."""
        ...

    def data_freshness(self, stream: DeliveryStream, destination: str, freshness_ms: int) -> None:
        """The age of the oldest record the destination has not taken, each minute while
        data waits (``DeliveryTo<destination>.DataFreshness``, decision 0388)."""
        ...


class FirehoseDeliverer:
    def __init__(
        self,
        firehose: FirehoseService,
        policy: DeliveryPolicy,
        owner: str,
        observer: DeliveryObserver | None = None,
        on_dropped: Callable[[DeliveryStream, int, str], None] | None = None,
        endpoints: EndpointSender | None = None,
        error_logs: ErrorLogs | None = None,
        queries: QueryRunner | None = None,
        transform: TransformStep | None = None,
        rounds: RoundClaims | None = None,
    ) -> None:
        """``endpoints``: how HTTP endpoint destinations are called (decision 0250; None:
        their attempts fail, and their batches go to the backup bucket); ``error_logs``:
        where CloudWatchLoggingOptions' error records go (decision 0270; None: nowhere);
        ``queries``: where dynamic partitioning's JQ queries run (default: a sandboxed
        process with the default limits); ``transform``: how Lambda processors are invoked
        (decision 0315; default: none is, their batches' records failed); ``rounds``: where
        the gateways claim each minute's freshness round (decision 0398; None: every
        round this gateway's)."""
        self.transform = transform or TransformStep(
            NoFunctions(), log_error=self.log_transform_error
        )
        self._error_logs = error_logs
        self.queries = queries or SubprocessQueryRunner()
        self._pending_logs: list[tuple[DeliveryStream, LoggingOptions, str, str]] = []
        self._firehose = firehose
        self.policy = policy
        self.owner = owner
        self._observer = observer
        self._on_dropped = on_dropped
        self._http = HttpEndpointDeliverer(
            firehose,
            endpoints,
            owner,
            retry_interval_ms=policy.retry_interval_ms,
            backup_retry_ms=policy.retry_duration_ms,
            max_backoff_ms=policy.max_backoff_ms,
            observe=self._observed,
            dropped=self._dropped,
            log_error=self._log_http_error,
            backup_log_error=self.log_s3_error,
            backed_up=self._backed_up,
        )
        self._partitioned = PartitionedDeliverer(
            firehose,
            owner,
            retry_interval_ms=policy.retry_interval_ms,
            retry_duration_ms=policy.retry_duration_ms,
            max_partitions=policy.max_active_partitions,
            queries=self.queries,
            observe=self._observed,
            log_error=self.log_s3_error,
            dropped=self._dropped,
            partitioned=self._partitioned_batch,
        )
        self._staged = StagedDeliverer(
            firehose, owner, open_records=self.open, to_destination=self.to_destination
        )
        self._backups = BackupDeliverer(
            firehose,
            owner,
            policy.retry_duration_ms,
            observe=self._backed_up,
            log_error=self.log_backup_error,
            dropped=self._dropped,
            fresh=self._backup_fresh,
        )
        self._gauges = FreshnessGauges(
            firehose.store,
            firehose.region,
            policy.streams_a_pass,
            fresh=self._data_fresh,
            backup_fresh=self._backup_fresh,
            claims=rounds,
            holder=owner,
        )

    async def run_forever(self) -> None:
        while True:
            try:
                await self.run_pass()
            except Exception:  # a failed pass must not end the loop; the next one retries
                log.exception("Firehose delivery pass failed")
            await asyncio.sleep(self.policy.poll_interval)

    async def run_pass(self, now: int | None = None) -> int:
        """One pass; how many objects it wrote (error outputs included) and batches HTTP
        endpoints acknowledged."""
        store = self._firehose.store
        await store.activate()
        await self._firehose.settle_encryption()
        now = int(time.time() * 1000) if now is None else now
        claimed = await store.claim(
            self.owner,
            now,
            now + self.policy.lease_ms,
            self.policy.streams_a_pass,
            self._firehose.region,
        )
        written = 0
        for stream in claimed:
            try:
                written += await self._deliver(stream, now)
            except Exception:  # one stream's fault must not stop the others' delivery
                log.exception("Firehose stream %s: delivery failed", stream.arn)
                since = stream.failing_since or now
                await store.failed(
                    stream.tenant_id, stream.name, self.owner, since,
                    now + self.policy.retry_interval_ms,
                )  # fmt: skip
        await self._flush_error_logs(now)
        try:  # the DataFreshness gauges while data waits (decision 0388)
            await self._gauges.tick(now)
        except Exception:  # a gauge must never stop the deliveries
            log.exception("Firehose freshness gauges failed")
        return written

    def log_s3_error(self, stream: DeliveryStream, code: str, message: str) -> None:
        """A failed write into the stream's bucket, for its error log (decision 0270)."""
        destination = stream.destination
        record = error_record(stream, destination.bucket_arn, code, message)
        self._pending_logs.append((stream, destination.logging, destination.role_arn, record))

    def log_backup_error(
        self, stream: DeliveryStream, backup: S3Destination, code: str, message: str
    ) -> None:
        """A refused source record backup, for the backup's own ``CloudWatchLoggingOptions``
        (decision 0376): AWS's record names the backup bucket; written as the backup's role."""
        record = error_record(stream, backup.bucket_arn, code, message)
        self._pending_logs.append((stream, backup.logging, backup.role_arn, record))

    def log_transform_error(self, stream: DeliveryStream, code: str, message: str) -> None:
        """A failed transformation, for the destination's error log (decision 0315)."""
        processor = stream.transform
        if processor is None:
            return
        options = stream.destination.logging if stream.http is None else stream.http.logging
        role = processor.role_arn or stream.destination.role_arn
        if stream.http is not None and stream.http.role_arn and not processor.role_arn:
            role = stream.http.role_arn
        record = error_record(stream, processor.function_arn, code, message)
        self._pending_logs.append((stream, options, role, record))

    def _log_http_error(self, stream: DeliveryStream, code: str, message: str) -> None:
        http = stream.http
        if http is None:
            return
        role = http.role_arn or stream.destination.role_arn
        self._pending_logs.append(
            (stream, http.logging, role, error_record(stream, http.url, code, message))
        )

    async def _flush_error_logs(self, now: int) -> None:
        """The pass's error records, written after its deliveries (a log group refusing
        must not hold a delivery back)."""
        pending, self._pending_logs = self._pending_logs, []
        if self._error_logs is None:
            return
        for stream, options, role, record in pending:
            if not options.enabled or not options.group or not options.stream:
                continue
            try:
                await self._error_logs.write(stream, options, role, record, now)
            except Exception:  # an error log must never break the delivery loop
                log.exception("Firehose stream %s: its error log could not be written",
                              stream.arn)  # fmt: skip

    async def _deliver(self, stream: DeliveryStream, now: int) -> int:
        # The source record backup's copies, on their own hints (decision 0376).
        copies = await self._backups.deliver(stream, now)
        return copies + await self._to_destination(stream, now)

    async def _to_destination(self, stream: DeliveryStream, now: int) -> int:
        store = self._firehose.store
        if stream.transform is not None:  # the processor's own buffer (decision 0344)
            return await self._two_stages(stream, now)
        # Records staged by a processor since taken away go out first (decision 0344).
        made = await self._staged.deliver(stream, now)
        if made is not None:
            return made
        totals = await store.totals(stream.tenant_id, stream.name)
        records = await store.batch(stream.tenant_id, stream.name, stream.size_bytes)
        if not records or (  # claimed for the backup's copies only (decision 0376)
            totals.bytes < stream.size_bytes
            and records[0].arrived + stream.interval_seconds * 1000 > now
        ):
            await store.delivered(stream.tenant_id, stream.name, self.owner, 0)
            return 0
        opened = await self.open(stream, records, now)
        if opened is None:
            return 0
        made, _ = await self._deliver_opened(stream, records, opened, now)
        return made

    async def _two_stages(self, stream: DeliveryStream, now: int) -> int:
        """A stream with a Lambda processor (decision 0344): each intake batch that reached
        the processor's hints transformed and staged — as many as make one destination
        buffer, within half the lease —, then the staged records delivered if they reached
        the destination's; the lease let go either way."""
        store = self._firehose.store
        size_hint, interval_hint = intake_hints(stream)
        rounds = max(1, -(-stream.size_bytes // size_hint))
        started = time.monotonic()
        made = 0
        for _ in range(rounds):
            totals = await store.totals(stream.tenant_id, stream.name)
            records = await store.batch(stream.tenant_id, stream.name, size_hint)
            if not records or (
                totals.bytes < size_hint and records[0].arrived + interval_hint > now
            ):
                break
            opened = await self.open(stream, records, now)
            if opened is None:
                return made
            done, held = await self._deliver_opened(stream, records, opened, now)
            made += done
            if not held:  # failed and let go, or a copy batch delivered
                return made
            if (time.monotonic() - started) * 1000 > self.policy.lease_ms / 2:
                break
        staged = await self._staged.deliver(stream, now)
        if staged is None:  # not due: the lease let go, nothing removed
            await store.delivered(stream.tenant_id, stream.name, self.owner, 0)
            return made
        return made + staged

    async def open(
        self, stream: DeliveryStream, records: Sequence[BufferedRecord], now: int
    ) -> list[bytes] | None:
        """The records' data; None when their key refuses (held and retried) or can never
        open them (dropped, said): the lease is let go then."""
        store = self._firehose.store
        upto = records[-1].seq
        try:
            return await self._firehose.sealer.open(stream, records)
        except KmsResourceError as exc:
            if exc.lasting:
                self._dropped(stream, len(records), f"{exc.code}: {exc}")
                await store.delivered(stream.tenant_id, stream.name, self.owner, upto)
                return None
            await self._key_refused(stream, records, exc, now)
            return None
        except AndromedeError as exc:
            # The account's key no longer opens them (destroyed: crypto-shredded): they can
            # never be delivered; said, then taken out of the buffer.
            self._dropped(stream, len(records), f"KMS.KeyUnusable: {exc}")
            await store.delivered(stream.tenant_id, stream.name, self.owner, upto)
            return None

    async def _deliver_opened(
        self,
        stream: DeliveryStream,
        records: Sequence[BufferedRecord],
        opened: Sequence[bytes],
        now: int,
    ) -> tuple[int, bool]:
        """An opened batch through its processors to its destination: the objects (or
        HTTP batches) it made, and whether the lease is still held — the batch of a stream
        with a Lambda processor ends staged (decision 0344), the pass goes on."""
        store = self._firehose.store
        upto = records[-1].seq
        size = sum(len(data) for data in opened)
        made = 0
        if stream.source is not None:  # KPL aggregates undone (decision 0342)
            deaggregated = expand(records, opened)
            if deaggregated.aggregates:
                records, opened = deaggregated.records, deaggregated.opened
                size = sum(len(data) for data in opened)
        if stream.log_processing is not None:  # decisions 0334, 0342
            try:
                records, opened, made = await self._unpack_logs(stream, records, opened, now)
            except DeliveryFailed as exc:  # its failed records' object refused
                self._observe(stream, len(records), size, ok=False)
                self.log_s3_error(stream, exc.code, exc.message)
                return await self._failed(stream, records, opened, exc, now), False
            if not records:
                await store.delivered(stream.tenant_id, stream.name, self.owner, upto)
                return made, False
            size = sum(len(data) for data in opened)
        if stream.transform is not None:  # decision 0315
            try:
                step = await self.transform.run(
                    stream, records, opened, self._firehose.writer.write, now
                )
            except DeliveryFailed as exc:  # its failed records' object refused
                self._observe(stream, len(records), size, ok=False)
                self.log_s3_error(stream, exc.code, exc.message)
                return await self._failed(stream, records, opened, exc, now), False
            if step is not None:  # the function's Ok records staged (decision 0344)
                return made + step.written, await self._staged.stage(stream, step)
        return made + await self.to_destination(stream, records, opened, now, None), False

    async def to_destination(
        self,
        stream: DeliveryStream,
        records: Sequence[BufferedRecord],
        opened: Sequence[bytes],
        now: int,
        lambda_keys: Sequence[Mapping[str, str]] | None,
    ) -> int:
        """An opened batch, its processors run, written or sent; ``lambda_keys``: each
        record's partition keys from a Lambda processor (decision 0315)."""
        store = self._firehose.store
        destination = stream.destination
        upto = records[-1].seq
        size = sum(len(data) for data in opened)
        if stream.http is not None:
            return await self._http.deliver(stream, records, opened, now)
        partitioning = destination.partitioning
        if partitioning is not None and (partitioning.enabled or partitioning.processing):
            # Partitioned, or processed (de-aggregated, delimited, transformed) into one object.
            return await self._partitioned.deliver(stream, records, opened, now, lambda_keys)
        body = b"".join(opened)
        if destination.compression == "GZIP":
            body = gzip.compress(body)
        try:
            await self._firehose.writer.write(
                stream, object_key(stream, records[0].arrived), body, _CONTENT_TYPE
            )
        except DeliveryFailed as exc:
            self._observe(stream, len(records), size, ok=False)
            self.log_s3_error(stream, exc.code, exc.message)
            return await self._failed(stream, records, opened, exc, now)
        await store.delivered(stream.tenant_id, stream.name, self.owner, upto)
        self._observe(stream, len(records), size, ok=True)
        return 1

    async def _unpack_logs(
        self,
        stream: DeliveryStream,
        records: Sequence[BufferedRecord],
        opened: Sequence[bytes],
        now: int,
    ) -> tuple[list[BufferedRecord], list[bytes], int]:
        """The batch's CloudWatch Logs records decompressed and, when asked, their messages
        extracted (decision 0334); those that fail written under the error output prefix
        (``DeliveryFailed`` when refused), each failure said in the error log. The last
        record kept carries the batch's last sequence number (delivering it takes the whole
        batch out of the buffer)."""
        processing = stream.log_processing
        assert processing is not None  # noqa: S101 (the caller checked)
        unpacked = unpack(processing, records, opened, self.policy.max_decompressed_record)
        written = 0
        for folder in sorted({failure.folder for failure in unpacked.failed}):
            failed = [failure for failure in unpacked.failed if failure.folder == folder]
            first = min(records[failure.index].arrived for failure in failed)
            lines = log_failure_lines(records, opened, failed, now)
            key = error_object_key(stream, first, folder)
            await self._firehose.writer.write(stream, key, lines, "application/json")
            written += 1
            for code in sorted({failure.code for failure in failed}):
                message = next(f.message for f in failed if f.code == code)
                log.info("Firehose stream %s: records failed (%s)", stream.arn, code)
                # An HTTP endpoint's processing errors are its own log's (decision 0342).
                said = self.log_s3_error if stream.http is None else self._log_http_error
                said(stream, code, message)
        kept = unpacked.records
        if kept:
            kept[-1] = dataclasses.replace(kept[-1], seq=records[-1].seq)
        return kept, unpacked.opened, written

    async def _key_refused(
        self, stream: DeliveryStream, records: Sequence[BufferedRecord], exc: KmsResourceError,
        now: int,
    ) -> int:  # fmt: skip
        """The key that sealed the records refuses for now (disabled, pending deletion): they
        are held and retried as a refused write is, never written unsealed; past the retry
        window they are given up, said and audited (they cannot be opened for the error
        output either)."""
        store = self._firehose.store
        since = stream.failing_since or now
        self._observe(stream, len(records), sum(r.size for r in records), ok=False)
        self.log_s3_error(stream, exc.code, str(exc))
        if now - since < self.policy.retry_duration_ms:
            log.info("Firehose stream %s: its key refuses (%s), retried", stream.arn, exc.code)
            await store.failed(
                stream.tenant_id, stream.name, self.owner, since,
                now + self.policy.retry_interval_ms,
            )  # fmt: skip
            return 0
        self._dropped(stream, len(records), f"{exc.code}: {exc}")
        await store.delivered(stream.tenant_id, stream.name, self.owner, records[-1].seq)
        return 0

    async def _failed(
        self,
        stream: DeliveryStream,
        records: Sequence[BufferedRecord],
        opened: Sequence[bytes],
        exc: DeliveryFailed,
        now: int,
    ) -> int:
        store = self._firehose.store
        since = stream.failing_since or now
        if now - since < self.policy.retry_duration_ms:
            log.info("Firehose stream %s: %s, retried", stream.arn, exc.code)
            await store.failed(
                stream.tenant_id, stream.name, self.owner, since,
                now + self.policy.retry_interval_ms,
            )  # fmt: skip
            return 0
        attempts = 1 + (now - since) // max(self.policy.retry_interval_ms, 1)
        lines = failure_lines(stream, records, opened, exc, attempts, now)
        written = 0
        try:
            await self._firehose.writer.write(
                stream, error_object_key(stream, records[0].arrived), lines, "application/json"
            )
            written = 1
            log.warning(
                "Firehose stream %s: %d records past their retry window written under the "
                "error output prefix (%s)", stream.arn, len(records), exc.code,
            )  # fmt: skip
        except DeliveryFailed as error_exc:
            self.log_s3_error(stream, error_exc.code, error_exc.message)
            self._dropped(stream, len(records), f"{exc.code}; error output: {error_exc.code}")
        await store.delivered(stream.tenant_id, stream.name, self.owner, records[-1].seq)
        return written

    def _dropped(self, stream: DeliveryStream, records: int, why: str) -> None:
        log.warning("Firehose stream %s: %d records dropped (%s)", stream.arn, records, why)
        if self._on_dropped is not None:
            self._on_dropped(stream, records, why)

    def _partitioned_batch(
        self, stream: DeliveryStream, partitions: int, exceeded: bool, objects: int
    ) -> None:
        if self._observer is not None:
            self._observer.partitioned(stream, partitions, exceeded, objects)

    def _backed_up(self, stream: DeliveryStream, records: int, size: int, ok: bool) -> None:
        if self._observer is not None:
            self._observer.backed_up(stream, records, size, ok)

    def _backup_fresh(self, stream: DeliveryStream, freshness_ms: int) -> None:
        if self._observer is not None:
            self._observer.backup_freshness(stream, freshness_ms)

    def _data_fresh(self, stream: DeliveryStream, destination: str, freshness_ms: int) -> None:
        if self._observer is not None:
            self._observer.data_freshness(stream, destination, freshness_ms)

    def _observe(self, stream: DeliveryStream, records: int, size: int, *, ok: bool) -> None:
        self._observed(stream, records, size, ok, "S3", None)

    def _observed(
        self, stream: DeliveryStream, records: int, size: int, ok: bool, destination: str,
        freshness_ms: int | None,
    ) -> None:  # fmt: skip
        if self._observer is not None:
            self._observer.delivered(stream, records, size, ok, destination, freshness_ms)
