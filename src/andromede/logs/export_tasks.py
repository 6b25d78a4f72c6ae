"""CloudWatch Logs export tasks to S3 (decision 0186, session-49 addendum): CreateExportTask,
DescribeExportTasks and CancelExportTask over :mod:`andromede.logs.exports`' store, and the
runner every gateway has. A task is a durable row: any gateway claims a PENDING one (or a
RUNNING one whose lease ran out: its gateway stopped) under a lease it renews after each
batch, reads the group's streams one after the other, each stream's events in time order a
batch at a time through :meth:`LogsService.scan` (opened as FilterLogEvents opens them), and
writes them gzipped into ``<prefix>/<taskId>/<stream>/000000.gz``, ``000001.gz``… each cut
past ``max_object_size`` compressed bytes — so a gateway holds one object's bytes and one
batch of events, whatever the group's size. A taken-over task starts again from its first
object: the keys are the same, so what the stopped gateway wrote is overwritten, not
doubled. The bucket is reached through the :class:`ExportDestination` port, which the
wiring fills (``log_export_delivery``): whether the bucket's policy lets Logs in, and the
writes as the object service's. CancelExportTask marks the task CANCELLED in the store; the
gateway running it sees it at its next renewal and stops."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Protocol

from andromede.errors import AndromedeError
from andromede.logs.errors import InvalidOperation, InvalidParameter, ResourceNotFound
from andromede.logs.exports import (
    DEFAULT_PREFIX,
    WRITE_TEST_BODY,
    ExportStatus,
    ExportStore,
    ExportTask,
    export_line,
    object_key,
    write_test_key,
)
from andromede.logs.model import check_group_name
from andromede.logs.service import LogsService
from andromede.wakeup import set_within

__all__ = ["ExportDestination", "ExportLimits", "ExportService"]

log = logging.getLogger(__name__)

_PAGE: Final = 50  # DescribeExportTasks' limit: its default and ceiling, as AWS's
_NAME_MAX: Final = 512
_GZIP: Final = 31  # zlib's wbits for a gzip member


class ExportDestination(Protocol):
    async def check(self, task: ExportTask) -> None:
        """ExportRefused (AWS's message) when the task's bucket cannot be written."""
        ...

    async def put(self, task: ExportTask, key: str, body: bytes, content_type: str) -> None:
        """Write one object into the task's bucket as Logs; ExportRefused when its policy no
        longer lets Logs in."""
        ...


@dataclass(frozen=True, slots=True)
class ExportLimits:
    batch: int = 1000  # events read from the store at a time
    max_object_size: int = 8 * 1024 * 1024  # compressed bytes of one object
    lease_ms: int = 60_000


class _Lost(Exception):
    """The task is no longer this gateway's: cancelled, or taken over."""


class _GzipObject:
    """One object's gzip member being made. ``size`` bounds what it will weigh: the bytes
    compressed so far, plus the lines zlib still holds uncompressed (it answers output a
    deflate block at a time, so this overestimates by less than one block)."""

    def __init__(self) -> None:
        self._compressor = zlib.compressobj(6, zlib.DEFLATED, _GZIP)
        self._parts: list[bytes] = []
        self._compressed = 0
        self._held = 0
        self.lines = 0

    @property
    def size(self) -> int:
        return self._compressed + self._held

    def add(self, line: bytes) -> None:
        out = self._compressor.compress(line)
        if out:
            self._parts.append(out)
            self._compressed += len(out)
            self._held = 0
        self._held += len(line)
        self.lines += 1

    def close(self) -> bytes:
        self._parts.append(self._compressor.flush())
        return b"".join(self._parts)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _text(value: object, name: str, *, required: bool) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= _NAME_MAX:
        raise InvalidParameter(
            f"1 validation error detected: Value at '{name}' failed to satisfy constraint: "
            f"Member must have length between 1 and {_NAME_MAX}"
        )
    return value


def _millis(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParameter(f"{name} is required: milliseconds since the epoch")
    return value


class ExportService:
    def __init__(
        self,
        logs: LogsService,
        store: ExportStore,
        destination: ExportDestination,
        limits: ExportLimits | None = None,
        clock: Callable[[], int] = _now_ms,
    ) -> None:
        self._logs = logs
        self._store = store
        self._destination = destination
        self.limits = limits or ExportLimits()
        self._clock = clock
        self.owner = uuid.uuid4().hex
        self._wake = asyncio.Event()

    async def create(
        self,
        tenant_id: str,
        *,
        name: object,
        group: object,
        stream_prefix: object,
        start: object,
        end: object,
        bucket: object,
        prefix: object,
    ) -> str:
        group_name = check_group_name(group)
        task_name = _text(name, "taskName", required=False)
        streams = _text(stream_prefix, "logStreamNamePrefix", required=False)
        bucket_name = _text(bucket, "destination", required=True)
        key_prefix = _text(prefix, "destinationPrefix", required=False)
        first, last = _millis(start, "from"), _millis(end, "to")
        if first < 0 or last < 0 or first > last:
            raise InvalidParameter(
                f"Specified time range of {first} and {last} is not valid. Please make sure "
                "the values are non-negative and the start time is before the end time."
            )
        await self._logs.group(tenant_id, group_name)
        task_id = str(uuid.uuid4())
        task = ExportTask(
            tenant_id,
            task_id,
            task_name or task_id,
            group_name,
            streams or "",
            first,
            last,
            bucket_name or "",
            key_prefix or DEFAULT_PREFIX,
            self._clock(),
        )
        # As AWS: a bucket Logs may not write into refuses the call itself; the runner asks
        # again, as the policy may change before the task runs.
        await self._destination.check(task)
        await self._store.create(task)
        self._wake.set()  # this gateway runs it at once rather than at its next poll
        return task_id

    async def describe(
        self,
        tenant_id: str,
        task_id: str | None,
        status: str | None,
        limit: int | None,
        token: str | None,
    ) -> tuple[list[ExportTask], str | None]:
        wanted: ExportStatus | None = None
        if status is not None:
            if status == "PENDING_CANCEL":
                return [], None  # a cancel here is immediate: never in that state
            try:
                wanted = ExportStatus(status)
            except ValueError:
                raise InvalidParameter(
                    "1 validation error detected: Value at 'statusCode' failed to satisfy "
                    "constraint: Member must satisfy enum value set: [CANCELLED, COMPLETED, "
                    "FAILED, PENDING, PENDING_CANCEL, RUNNING]"
                ) from None
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= _PAGE
        ):
            raise InvalidParameter(f"limit must be between 1 and {_PAGE}")
        if task_id is not None:
            found = await self._store.get(tenant_id, task_id)
            if found is None or (wanted is not None and found.status != wanted):
                return [], None
            return [found], None
        size = limit or _PAGE
        before = None if token is None else _position(token)
        found_tasks = await self._store.recent(tenant_id, wanted, before, size + 1)
        more = len(found_tasks) > size
        found_tasks = found_tasks[:size]
        if not more or not found_tasks:
            return found_tasks, None
        last = found_tasks[-1]
        return found_tasks, base64.urlsafe_b64encode(
            json.dumps([last.created, last.task_id]).encode()
        ).decode()

    async def cancel(self, tenant_id: str, task_id: str) -> None:
        if await self._store.cancel(tenant_id, task_id, self._clock()):
            return
        found = await self._store.get(tenant_id, task_id)
        if found is None:
            raise ResourceNotFound("The specified export task does not exist.")
        raise InvalidOperation(
            f"The specified export task has already finished: it is {found.status.value}"
        )

    async def forget_tenant(self, tenant_id: str) -> int:
        return await self._store.forget_tenant(tenant_id)

    # The runner.

    async def run_once(self) -> bool:
        """Claim one task and run it to its end; False when none was waiting."""
        now = self._clock()
        task = await self._store.claim(self.owner, now, now + self.limits.lease_ms)
        if task is None:
            return False
        try:
            await self._export(task)
        except _Lost:
            return True
        except asyncio.CancelledError:
            # serve stopping: the lease given up, so a gateway (this one restarted) takes
            # the task over at once rather than after the lease.
            with contextlib.suppress(Exception):
                await asyncio.shield(self._store.renew(task.tenant_id, task.task_id, self.owner, 0))
            raise
        except AndromedeError as exc:
            message = getattr(exc, "message", None) or type(exc).__name__
            await self._end(task, ExportStatus.FAILED, str(message)[:1024])
            return True
        except Exception:  # a fault must end the task, not leave it RUNNING to the lease
            log.exception("export task %s failed", task.task_id)
            await self._end(task, ExportStatus.FAILED, "Internal failure")
            return True
        await self._end(task, ExportStatus.COMPLETED, "Completed successfully")
        return True

    async def run_forever(self, interval: float) -> None:
        """Claim and run the waiting tasks every ``interval`` seconds, or at once when one is
        created through this gateway."""
        while True:
            try:
                while await self.run_once():
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:  # a failed round must not end the loop; the next one retries
                log.exception("the export tasks' round failed")
            await set_within(self._wake, interval)
            self._wake.clear()

    async def _end(self, task: ExportTask, status: ExportStatus, message: str) -> None:
        await self._store.finish(
            task.tenant_id, task.task_id, self.owner, status, message, self._clock()
        )

    async def _renew(self, task: ExportTask) -> None:
        until = self._clock() + self.limits.lease_ms
        if not await self._store.renew(task.tenant_id, task.task_id, self.owner, until):
            raise _Lost

    async def _export(self, task: ExportTask) -> None:
        await self._destination.check(task)
        await self._destination.put(
            task, write_test_key(task.prefix), WRITE_TEST_BODY, "text/plain"
        )
        token: str | None = None
        while True:
            streams, token = await self._logs.describe_streams(
                task.tenant_id, task.group, task.stream_prefix, "LogStreamName", False, None, token
            )
            for stream in streams:
                await self._export_stream(task, stream.name)
            if token is None:
                return

    async def _export_stream(self, task: ExportTask, stream: str) -> None:
        part, index = _GzipObject(), 0
        async for events in self._logs.scan(
            task.tenant_id, task.group, task.start, task.end + 1, self.limits.batch, [stream]
        ):
            for event in events:
                part.add(export_line(event.timestamp, event.message).encode())
                if part.size >= self.limits.max_object_size:
                    await self._destination.put(
                        task, object_key(task, stream, index), part.close(), "application/x-gzip"
                    )
                    part, index = _GzipObject(), index + 1
            await self._renew(task)
        if part.lines:
            await self._destination.put(
                task, object_key(task, stream, index), part.close(), "application/x-gzip"
            )
            await self._renew(task)


def _position(token: str) -> tuple[int, str]:
    try:
        created, task_id = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError, binascii.Error, UnicodeError):
        raise InvalidParameter("The specified nextToken is invalid.") from None
    if not isinstance(created, int) or not isinstance(task_id, str):
        raise InvalidParameter("The specified nextToken is invalid.")
    return created, task_id
