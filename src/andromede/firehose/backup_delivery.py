"""The source record backup's delivery (decision 0376, ``firehose.backup_buffer``): the copies
of an Extended S3 destination's records, buffered as they arrived (or of the batches an HTTP
endpoint acknowledged in ``AllData``, buffered as sent: decision 0388), written into the backup
bucket when they reach the backup's own ``BufferingHints`` — at most its ``SizeInMBs`` an
object, as many objects as are due, under its prefix and compression, as its role —, apart
from the destination's delivery, which never waits for them (AWS: "concurrently").

A refused copy stays buffered and is tried again at the stream's next claim (the copies keep
it due); AWS retries a backup "until the retention period ends", so a copy still refused when
its oldest record is older than the retry window is given up, said and audited
(``dropped``). Copies whose key refuses to open them are held as long, never written
unsealed.

An HTTP endpoint's records given up past its retry window (decision 0388) are copies too,
their JSON error lines, written uncompressed under the backup's error output folder
(``http-endpoint-failed/…`` unless its ``ErrorOutputPrefix`` says otherwise), never in one
object with data copies.

``BackupToS3.DataFreshness`` is AWS's "age of the oldest record in Firehose": after each
pass over the stream's copies, the age of the oldest copy still waiting (0 when the pass left
none), not an attempted object's (decision 0379).
"""

from __future__ import annotations

import dataclasses
import gzip
import logging
from collections.abc import Callable, Sequence
from typing import Final

from andromede.errors import AndromedeError
from andromede.firehose.backup_buffer import backup_of, is_failed_copy
from andromede.firehose.errors import KmsResourceError
from andromede.firehose.http_endpoint import FAILED_TYPE
from andromede.firehose.model import (
    BufferedRecord,
    DeliveryFailed,
    DeliveryStream,
    S3Destination,
    error_object_key,
    object_key,
)
from andromede.firehose.service import FirehoseService

__all__ = ["BackupDeliverer"]

log = logging.getLogger(__name__)

_CONTENT_TYPE: Final = "application/octet-stream"
_MAX_OBJECTS_A_PASS: Final = 16  # a backlog goes out over passes, the lease never outlived

# (stream, records, bytes, ok)
Observe = Callable[[DeliveryStream, int, int, bool], None]
# (stream, the oldest copy waiting's age in ms)
Fresh = Callable[[DeliveryStream, int], None]
# (stream, backup, code, message)
LogError = Callable[[DeliveryStream, S3Destination, str, str], None]
# (stream, records, why)
Dropped = Callable[[DeliveryStream, int, str], None]


class BackupDeliverer:
    def __init__(
        self,
        firehose: FirehoseService,
        owner: str,
        retry_duration_ms: int,
        observe: Observe,
        log_error: LogError,
        dropped: Dropped,
        fresh: Fresh,
    ) -> None:
        self._firehose = firehose
        self._owner = owner
        self._retry_duration_ms = retry_duration_ms
        self._observe = observe
        self._log_error = log_error
        self._dropped = dropped
        self._fresh = fresh

    async def deliver(self, stream: DeliveryStream, now: int) -> int:
        """The stream's due copies written (how many objects); the lease kept; then the
        oldest copy still waiting's age said (AWS's ``DataFreshness``)."""
        made = await self._write_due(stream, now)
        waiting = await self._firehose.store.copies(stream.tenant_id, stream.name)
        if waiting.oldest is not None:
            self._fresh(stream, max(now - waiting.oldest, 0))
        elif made:  # every copy delivered: none older than now waits
            self._fresh(stream, 0)
        return made

    async def _write_due(self, stream: DeliveryStream, now: int) -> int:
        backup = backup_of(stream)
        store = self._firehose.store
        made = 0
        for _ in range(_MAX_OBJECTS_A_PASS):
            totals = await store.copies(stream.tenant_id, stream.name)
            if totals.oldest is None:
                return made
            if backup is not None and (
                totals.bytes < backup.size_bytes
                and totals.oldest + backup.interval_seconds * 1000 > now
            ):
                return made
            records = _one_kind(
                await store.batch(
                    stream.tenant_id, stream.name, backup.size_bytes if backup else 1, backup=True
                )
            )
            upto, oldest = records[-1].seq, records[0].arrived
            size = sum(record.size for record in records)
            refused = await self._write(stream, backup, records, oldest)
            if refused is not None:
                self._observe(stream, len(records), size, False)
                if now - oldest < self._retry_duration_ms:
                    log.info("Firehose stream %s: its backup refused (%s), retried",
                             stream.arn, refused)  # fmt: skip
                    return made
                self._dropped(stream, len(records), f"source record backup: {refused}")
            else:
                self._observe(stream, len(records), size, True)
                made += 1
            if not await store.copied(stream.tenant_id, stream.name, self._owner, upto):
                return made  # the lease lost: another gateway goes on
        return made

    async def _write(
        self,
        stream: DeliveryStream,
        backup: S3Destination | None,
        records: Sequence[BufferedRecord],
        oldest: int,
    ) -> str | None:
        """The copies as one object of the backup bucket; the refusal's code, if any (a
        refused write said in the backup's error log)."""
        if backup is None:  # no longer backed up (it cannot be disabled: a safeguard)
            return "S3.NoSuchBucket"
        try:
            opened = await self._firehose.sealer.open(stream, records)
        except KmsResourceError as exc:
            return exc.code
        except AndromedeError:  # the account's key destroyed: they can never be opened
            return "KMS.KeyUnusable"
        body = b"".join(opened)
        copying = dataclasses.replace(stream, destination=backup)
        key, kind = object_key(copying, oldest), _CONTENT_TYPE
        if is_failed_copy(records[0].record_id):  # JSON error lines, as AWS writes them
            key, kind = error_object_key(copying, oldest, FAILED_TYPE), "application/json"
        elif backup.compression == "GZIP":
            body = gzip.compress(body)
        try:
            await self._firehose.writer.write(copying, key, body, kind)
        except DeliveryFailed as exc:
            self._log_error(stream, backup, exc.code, exc.message)
            return exc.code
        return None


def _one_kind(records: Sequence[BufferedRecord]) -> list[BufferedRecord]:
    """The first run of copies of one kind — data copies, or an HTTP endpoint's failed
    records' error lines (decision 0388) —: each object holds one kind."""
    failed = is_failed_copy(records[0].record_id)
    cut = next(
        (i for i, r in enumerate(records) if is_failed_copy(r.record_id) != failed), len(records)
    )
    return list(records[:cut])
