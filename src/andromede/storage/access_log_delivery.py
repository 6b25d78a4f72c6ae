"""The delivery of server access records (decision 0084): which buckets log where, their
buffered records, and the log objects written into the target buckets.

The records themselves (one line per request, S3's format) are made by the S3 application,
which knows the wire (``s3/access_log.py``). Log objects are written as the target's owner,
under the tenant's keys (SSE-S3), and are never logged themselves. Delivery is best effort, as
S3's: the records a process holds when it dies are lost; a delivery that fails is not retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from andromede.errors import AndromedeError
from andromede.storage.access_logging import LOGGING_DOCUMENT, LoggingTarget
from andromede.storage.service import ObjectService
from andromede.storage.store import MetadataStore

__all__ = ["AccessLogDelivery"]

_BUCKETS_PER_READ: Final = 500

_log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Pending:
    lines: list[str]
    first_event: datetime


def _utcnow() -> datetime:
    return datetime.now(UTC)


class AccessLogDelivery:
    """Which buckets log (re-read from the store every ``interval``, and told at once of this
    process's own changes), their buffered records, and the deliveries.

    ``logs(bucket)`` is what a request asks first: a dictionary look-up, so that buckets
    that do not log cost their requests nothing more."""

    def __init__(
        self,
        objects: ObjectService,
        store: MetadataStore,
        *,
        interval: float,
        max_buffered_lines: int,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._objects = objects
        self._store = store
        self._interval = interval
        self._max_lines = max_buffered_lines
        self._clock = clock
        self._targets: dict[str, LoggingTarget] = {}
        self._pending: dict[str, _Pending] = {}
        self._dropped = 0

    def logs(self, bucket: str) -> bool:
        return bucket in self._targets

    def configured(self, bucket: str, target: LoggingTarget | None) -> None:
        """This process changed ``bucket``'s logging (PutBucketLogging): effective now."""
        if target is None:
            self._targets.pop(bucket, None)
        else:
            self._targets[bucket] = target

    def record(self, bucket: str, line: str) -> None:
        """Buffer one access record of ``bucket`` (a logging one). Past ``max_buffered_lines``
        waiting records, new ones are dropped and counted, rather than held without bound."""
        pending = self._pending.get(bucket)
        if pending is None:
            self._pending[bucket] = _Pending([line], self._clock())
            return
        if len(pending.lines) >= self._max_lines:
            self._dropped += 1
            return
        pending.lines.append(line)

    async def refresh(self) -> None:
        """Re-read which buckets log where (another gateway may have changed it)."""
        targets: dict[str, LoggingTarget] = {}
        after: str | None = None
        while page := await self._store.list_bucket_documents(
            LOGGING_DOCUMENT, after, _BUCKETS_PER_READ
        ):
            for bucket, text in page:
                targets[bucket] = LoggingTarget.from_text(text)
            after = page[-1][0]
        self._targets = targets

    async def deliver(self) -> int:
        """Write every bucket's buffered records as one log object each; returns how many
        objects were written. A delivery that fails keeps nothing (best effort, as S3's)."""
        pending, self._pending = self._pending, {}
        if self._dropped:
            _log.warning("server access logging dropped %d records (buffer full)", self._dropped)
            self._dropped = 0
        written = 0
        for source, batch in pending.items():
            target = self._targets.get(source)
            if target is None:
                continue  # logging turned off meanwhile
            try:
                await self._write(source, target, batch)
                written += 1
            except AndromedeError:
                _log.warning("access log delivery for %s failed", source, exc_info=True)
        return written

    async def _write(self, source: str, target: LoggingTarget, batch: _Pending) -> None:
        source_bucket = await self._objects.get_bucket(source)
        target_bucket = await self._objects.get_bucket(target.bucket)
        if target_bucket.tenant_id != source_bucket.tenant_id:
            return  # the target changed hands: never deliver one account's records to another
        data = ("\n".join(batch.lines) + "\n").encode()
        key = target.object_key(
            account=source_bucket.tenant_id,
            region=source_bucket.region,
            source=source,
            first_event=batch.first_event,
            now=self._clock(),
        )
        await self._objects.put_delivered_object(target_bucket, key, data, "text/plain")

    async def run_forever(self) -> None:
        try:
            while True:
                try:
                    await self.refresh()
                    await self.deliver()
                except AndromedeError:
                    _log.warning("access log pass failed; the next one retries", exc_info=True)
                await asyncio.sleep(self._interval)
        finally:
            # Stopping: what is buffered goes out, if the stores still answer.
            with contextlib.suppress(Exception):
                await asyncio.shield(self.deliver())
