"""The delivery of a batch to an HTTP endpoint destination (decision 0250), for the deliverer
(``firehose.delivery``) once it has opened the batch's records.

- **Attempt.** The batch is POSTed as ``firehose.http_endpoint`` lays it out, the access key
  opened from its sealed copy or read from its Secrets Manager secret at each attempt. An
  acknowledged batch leaves the buffer; with S3BackupMode ``AllData`` its records, as sent,
  take its place as the backup's copies in the same transaction (decision 0388), written
  into the backup bucket on the ``S3Configuration``'s own hints by
  ``firehose.backup_delivery`` (``BackupToS3.*``), never sent to the endpoint again.
  Copies buffered again by decision 0270 before it (``allDataCopy:…``) are still written
  as they were, under a key made of their batch's request id.
- **Retries.** A failed attempt (no 200, a wrong requestId, a timeout, no connection) is
  retried while the failing streak is younger than RetryOptions.DurationInSeconds (0: not
  retried), with a backoff that doubles from the deliverer's retry interval up to
  ``max_backoff_ms`` (the streak's age is the delay: no attempt counter to keep). The lease
  is let go between attempts: another gateway may make the next one.
- **Backup.** Past the window, the batch leaves the buffer and its records' JSON error
  lines (AWS's fields) take its place as the backup's copies (decision 0388), written on
  the S3Configuration's own hints under ``http-endpoint-failed/YYYY/MM/DD/HH/`` (or its
  ErrorOutputPrefix) by ``firehose.backup_delivery``, retried as a backup is, then dropped
  with a WARNING and audited, never silently.
"""

from __future__ import annotations

import gzip
import logging
from collections.abc import Callable, Sequence
from typing import Final

from andromede.errors import AndromedeError
from andromede.firehose.backup_buffer import BACKUP, FAILED_COPY
from andromede.firehose.http_endpoint import (
    EndpointSender,
    check_answer,
    endpoint_request,
)
from andromede.firehose.model import (
    COPY_PENDING,
    BufferedRecord,
    DeliveryFailed,
    DeliveryStream,
    NewRecord,
    failure_lines,
    object_key,
)
from andromede.firehose.service import FirehoseService
from andromede.firehose.store import SealedRecord

__all__ = ["BUFFER_FULL", "HTTP_ENDPOINT", "HttpEndpointDeliverer", "Observe", "attempts_made"]

log = logging.getLogger(__name__)

HTTP_ENDPOINT: Final = "HttpEndpoint"  # the ``DeliveryTo<destination>.*`` metrics' name
# The platform's own code (AWS's buffer has no bound to report): copies past the stream's
# ``firehose_max_buffered_bytes`` (decision 0398).
BUFFER_FULL: Final = "Firehose.BackupBufferFull"
# (stream, records, bytes, ok, destination, freshness ms or None)
Observe = Callable[[DeliveryStream, int, int, bool, str, "int | None"], None]


def attempts_made(elapsed_ms: int, interval_ms: int, max_backoff_ms: int, window_ms: int) -> int:
    """How many attempts a streak ``elapsed_ms`` old has made under the doubling backoff,
    the last one at the end of its ``window_ms``."""
    attempts, at = 1, 0
    while at < window_ms:
        at = min(at + min(max(at, interval_ms), max_backoff_ms), window_ms)
        if at > elapsed_ms:
            break
        attempts += 1
    return attempts


class HttpEndpointDeliverer:
    def __init__(
        self,
        firehose: FirehoseService,
        sender: EndpointSender | None,
        owner: str,
        *,
        retry_interval_ms: int,
        backup_retry_ms: int,
        max_backoff_ms: int,
        observe: Observe,
        dropped: Callable[[DeliveryStream, int, str], None],
        log_error: Callable[[DeliveryStream, str, str], None] | None = None,
        backup_log_error: Callable[[DeliveryStream, str, str], None] | None = None,
        backed_up: Callable[[DeliveryStream, int, int, bool], None] | None = None,
    ) -> None:
        """``log_error``: a failed attempt at the endpoint, for its CloudWatch error log
        (decision 0270); ``backup_log_error``: a refused write into the backup bucket, for
        the backup's (its S3Configuration's CloudWatchLoggingOptions); ``backed_up``: a
        backup attempt's ``BackupToS3.*`` metrics (copies dropped at the bound: 0398)."""
        self._backed_up = backed_up
        self._log_error = log_error
        self._backup_log_error = backup_log_error
        self._firehose = firehose
        self._sender = sender
        self._owner = owner
        self._interval = max(retry_interval_ms, 1)
        self._backup_retry = backup_retry_ms
        self._max_backoff = max(max_backoff_ms, self._interval)
        self._observe = observe
        self._dropped = dropped

    async def deliver(
        self,
        stream: DeliveryStream,
        records: Sequence[BufferedRecord],
        opened: Sequence[bytes],
        now: int,
    ) -> int:
        """One attempt at the batch; how many deliveries it made (the endpoint's, and the
        objects written into the backup bucket)."""
        if records[0].record_id.startswith(COPY_PENDING):
            return await self._copy_again(stream, records, opened, now)
        # An acknowledged batch's copy buffered again is never sent to the endpoint.
        cut = next(
            (i for i, r in enumerate(records) if r.record_id.startswith(COPY_PENDING)),
            len(records),
        )
        records, opened = records[:cut], opened[:cut]
        size = sum(r.size for r in records)
        try:
            request = endpoint_request(stream, records, opened, await self._access_key(stream), now)
            if self._sender is None:
                raise DeliveryFailed(
                    "HttpEndpoint.ConnectionFailed",
                    "HTTP endpoints are not called by this deployment.",
                )
            answer = await self._sender.send(stream, request)
            check_answer(answer, request.request_id)
        except DeliveryFailed as exc:
            self._observe(stream, len(records), size, False, HTTP_ENDPOINT, None)
            if self._log_error is not None:
                self._log_error(stream, exc.code, exc.message)
            return await self._failed(stream, records, opened, exc, now)
        self._observe(
            stream, len(records), size, True, HTTP_ENDPOINT, max(now - records[0].arrived, 0)
        )
        copies: list[SealedRecord] = []
        if stream.http is not None and stream.http.backup_mode == "AllData":
            copies = await self._copies(stream, records, opened, now)
        kept = await self._firehose.store.delivered_copies(
            stream.tenant_id, stream.name, self._owner, records[-1].seq, copies,
            self._firehose.limits.max_buffered_bytes,
        )  # fmt: skip
        if kept is not None and kept < len(copies):
            # The endpoint has the data: its backup copies past the bound are the ones lost
            # (decision 0398), never the delivery held or sent twice.
            self._over_bound(stream, copies[kept:], "AllData backup")
        return 1

    async def _copies(
        self,
        stream: DeliveryStream,
        records: Sequence[BufferedRecord],
        opened: Sequence[bytes],
        now: int,
    ) -> list[SealedRecord]:
        """``AllData``: the acknowledged batch's records as sent, sealed as the backup's
        copies (their id the record's behind ``backup:``, bound by the sealer), arrived now —
        AWS: the backup's interval runs from when Firehose has the data it delivers. A key
        that refuses to seal them loses the copy, never the delivery: said and audited."""
        fresh = [
            NewRecord(BACKUP + record.record_id, data)
            for record, data in zip(records, opened, strict=True)
        ]
        try:
            sealed = await self._firehose.sealer.seal(stream, fresh)
        except AndromedeError as exc:
            self._dropped(stream, len(records), f"AllData backup: {type(exc).__name__}")
            return []
        return [
            SealedRecord(r.record_id, len(r.data), s, now)
            for r, s in zip(fresh, sealed, strict=True)
        ]

    def _over_bound(self, stream: DeliveryStream, lost: Sequence[SealedRecord], what: str) -> None:
        """Copies the stream's ``firehose_max_buffered_bytes`` had no room for (decision
        0398): a failed backup attempt as AWS counts one (``BackupToS3.Success`` 0), a line
        in the backup's error log, a WARNING and the audit (``dropped``)."""
        size = sum(copy.size for copy in lost)
        if self._backed_up is not None:
            self._backed_up(stream, len(lost), size, False)
        message = (
            f"{len(lost)} records ({size} bytes) did not fit in the stream's buffer for "
            "its Amazon S3 backup and were not backed up."
        )
        if self._backup_log_error is not None:
            self._backup_log_error(stream, BUFFER_FULL, message)
        self._dropped(stream, len(lost), f"{what}: {BUFFER_FULL}")

    def _log_backup(self, stream: DeliveryStream, exc: DeliveryFailed) -> None:
        if self._backup_log_error is not None:
            self._backup_log_error(stream, exc.code, exc.message)

    async def _access_key(self, stream: DeliveryStream) -> str | None:
        http = stream.http
        if http is None:
            return None
        if http.secret_enabled:
            secrets = self._firehose.endpoint_secrets
            if secrets is None:
                raise DeliveryFailed(
                    "SecretsManager.AccessDenied",
                    "Secrets Manager is not served by this deployment.",
                )
            return await secrets.access_key(stream)
        try:
            return await self._firehose.open_access_key(stream)
        except AndromedeError:  # the account's key ring no longer opens it
            raise DeliveryFailed(
                "HttpEndpoint.AccessKeyUnreadable",
                "The endpoint's access key can no longer be opened.",
            ) from None

    async def _copy(
        self,
        stream: DeliveryStream,
        first_arrival: int,
        records: Sequence[BufferedRecord],
        opened: Sequence[bytes],
        request_id: str,
    ) -> int:
        body = b"".join(opened)
        size = sum(r.size for r in records)
        if stream.destination.compression == "GZIP":
            body = gzip.compress(body)
        key = object_key(stream, first_arrival, unique=request_id)
        try:
            await self._firehose.writer.write(stream, key, body, "application/octet-stream")
        except DeliveryFailed as exc:
            self._observe(stream, len(records), size, False, "S3", None)
            self._log_backup(stream, exc)
            raise
        self._observe(stream, len(records), size, True, "S3", None)
        return 1

    async def _copy_again(
        self,
        stream: DeliveryStream,
        records: Sequence[BufferedRecord],
        opened: Sequence[bytes],
        now: int,
    ) -> int:
        """The copy of one acknowledged batch buffered again (its records lead the batch),
        written under the same key; retried as a refused backup is, then given up, said and
        audited."""
        _, request_id, first, _ = records[0].record_id.split(":", 3)
        mark = f"{COPY_PENDING}{request_id}:"
        run = next((i for i, r in enumerate(records) if not r.record_id.startswith(mark)),
                   len(records))  # fmt: skip
        records, opened = records[:run], opened[:run]
        store = self._firehose.store
        try:
            made = await self._copy(stream, int(first), records, opened, request_id)
        except DeliveryFailed as exc:
            since = stream.failing_since or now
            if now - since < self._backup_retry:
                await store.failed(
                    stream.tenant_id, stream.name, self._owner, since, now + self._interval
                )
                return 0
            self._dropped(stream, len(records), f"AllData backup: {exc.code}")
            made = 0
        await store.delivered(stream.tenant_id, stream.name, self._owner, records[-1].seq)
        return made

    async def _failed(
        self,
        stream: DeliveryStream,
        records: Sequence[BufferedRecord],
        opened: Sequence[bytes],
        exc: DeliveryFailed,
        now: int,
    ) -> int:
        store = self._firehose.store
        http = stream.http
        window = 0 if http is None else http.retry_seconds * 1000
        since = stream.failing_since or now
        elapsed = now - since
        if elapsed < window:
            backoff = min(max(elapsed, self._interval), self._max_backoff)
            log.info("Firehose stream %s: %s, retried", stream.arn, exc.code)
            await store.failed(
                stream.tenant_id, stream.name, self._owner, since,
                min(now + backoff, since + window),
            )  # fmt: skip
            return 0
        attempts = attempts_made(elapsed, self._interval, self._max_backoff, window)
        lines = [
            failure_lines(stream, [record], [data], exc, attempts, now)
            for record, data in zip(records, opened, strict=True)
        ]
        failed = [
            NewRecord(FAILED_COPY + record.record_id, line)
            for record, line in zip(records, lines, strict=True)
        ]
        try:
            sealed = await self._firehose.sealer.seal(stream, failed)
        except AndromedeError as seal_exc:  # the stream's key refuses for now: held
            if elapsed < window + self._backup_retry:
                log.info("Firehose stream %s: failed records not sealed, retried", stream.arn)
                await store.failed(
                    stream.tenant_id, stream.name, self._owner, since, now + self._interval
                )
                return 0
            self._dropped(stream, len(records), f"{exc.code}; backup: {type(seal_exc).__name__}")
            await store.delivered(stream.tenant_id, stream.name, self._owner, records[-1].seq)
            return 0
        copies = [
            SealedRecord(r.record_id, len(r.data), s, now)
            for r, s in zip(failed, sealed, strict=True)
        ]
        bound, upto = self._firehose.limits.max_buffered_bytes, records[-1].seq
        kept = await store.delivered_copies(
            stream.tenant_id, stream.name, self._owner, upto, copies, bound, whole=True
        )
        if kept == 0:  # their lines do not fit beside what the stream holds (decision 0398)
            waiting = await store.copies(stream.tenant_id, stream.name)
            if waiting.records and elapsed < window + self._backup_retry:
                # AWS pauses a stream whose failed data cannot reach its backup: held
                # while the backup's copies, which free room, go out (or are given up).
                log.info("Firehose stream %s: failed records wait for backup room", stream.arn)
                await store.failed(
                    stream.tenant_id, stream.name, self._owner, since, now + self._interval
                )
                return 0
            # No copy left to make room (the intake behind this batch cannot drain while
            # it waits): the lines that fit kept, the others said lost.
            kept = await store.delivered_copies(
                stream.tenant_id, stream.name, self._owner, upto, copies, bound
            )
        if kept is None:
            return 0  # the lease lost: another gateway goes on
        log.warning(
            "Firehose stream %s: %d records past their retry window buffered for the backup "
            "bucket (%s)", stream.arn, kept, exc.code,
        )  # fmt: skip
        if kept < len(copies):
            self._over_bound(stream, copies[kept:], exc.code)
        return 0
