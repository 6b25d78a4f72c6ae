"""DynamoDB's exports to S3 and imports from S3 (decision 0261): the jobs, their store and
their runs.

An **export** (ExportTableToPointInTime) writes a table's items as they were at its export
time — read from the point-in-time recovery history (decision 0253), each opened under the
table's key — into the account's bucket as AWS lays them out under
``<prefix>/AWSDynamoDB/<ExportId>/``: ``_started``, ``data/<id>.json.gz`` (gzip'd DynamoDB
JSON lines, at most ``items_per_file`` items each, streamed: one page of items in memory at a
time), ``manifest-files.json`` and ``manifest-summary.json``. The writes go through the
:class:`ExportBuckets` port as the caller (``s3:PutObject`` on each key, as AWS requires).

An **import** (ImportTable) reads every object under a prefix as the caller
(``s3:ListBucket``, ``s3:GetObject``), DynamoDB JSON lines or CSV rows, gzip'd or not, line
by line, and writes each item into the new table through the service (sealed under the
table's key, its indexes kept); a line that is no item, or an item without the table's keys,
is counted in ``ErrorCount`` and skipped, as AWS's.

Both run in the background: IN_PROGRESS, then COMPLETED or FAILED with AWS's FailureCode and
FailureMessage. The running gateway touches its job at least every third of ``lease``; a job
left untouched longer (its gateway stopped) is marked FAILED by any gateway's
:meth:`DynamoExports.recover`: its objects may be partial, as AWS's failed exports'.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import json
import logging
import secrets
import time
import zlib
from collections.abc import AsyncIterable, AsyncIterator, Coroutine, Sequence
from dataclasses import dataclass
from typing import Final, Protocol, TypeVar

from andromede.dynamodb.backups import BackupStore
from andromede.dynamodb.errors import DynamoError
from andromede.dynamodb.exports_format import (
    LineError,
    csv_item,
    csv_row,
    decompressed,
    item_line,
    lines,
    manifest_line,
    parse_json_line,
)
from andromede.dynamodb.model import Table
from andromede.dynamodb.service import DynamoService
from andromede.dynamodb.values import Item

__all__ = [
    "BucketRefused",
    "DynamoExports",
    "ExportBuckets",
    "ExportJob",
    "ExportStore",
    "ImportJob",
    "ImportSource",
    "JobStatus",
]

_PAGE: Final = 100
_GZIP: Final = 31
log = logging.getLogger(__name__)


class BucketRefused(DynamoError):
    """A bucket read or write refused or impossible: ``code`` is AWS's FailureCode."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class JobStatus(enum.Enum):
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class ExportJob:
    tenant_id: str
    export_id: str
    table_arn: str
    table_id: str
    export_time: int  # ms
    bucket: str
    prefix: str
    bucket_owner: str | None
    client_token: str
    started: int  # ms
    status: JobStatus = JobStatus.IN_PROGRESS
    ended: int | None = None
    item_count: int = 0
    billed_bytes: int = 0
    failure_code: str | None = None
    failure_message: str | None = None
    touched: int = 0  # ms: the running gateway's last sign of life (its lease)

    @property
    def arn(self) -> str:
        return f"{self.table_arn}/export/{self.export_id}"

    @property
    def root(self) -> str:
        """The key prefix of the export's objects."""
        head = f"{self.prefix.rstrip('/')}/" if self.prefix else ""
        return f"{head}AWSDynamoDB/{self.export_id}/"


@dataclass(frozen=True, slots=True)
class ImportSource:
    bucket: str
    prefix: str
    bucket_owner: str | None
    input_format: str  # DYNAMODB_JSON or CSV
    compression: str  # GZIP or NONE
    delimiter: str = ","
    header: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ImportJob:
    tenant_id: str
    import_id: str
    table_arn: str
    table_id: str
    source: ImportSource
    client_token: str
    started: int  # ms
    creation: str  # the TableCreationParameters, as given (JSON), for DescribeImport
    status: JobStatus = JobStatus.IN_PROGRESS
    ended: int | None = None
    processed_bytes: int = 0
    processed_items: int = 0
    imported_items: int = 0
    error_count: int = 0
    failure_code: str | None = None
    failure_message: str | None = None
    touched: int = 0  # ms: the running gateway's last sign of life (its lease)

    @property
    def arn(self) -> str:
        return f"{self.table_arn}/import/{self.import_id}"


class ExportStore(Protocol):
    async def put_export(self, job: ExportJob) -> ExportJob:
        """``job`` saved (or updated); if another of the account holds its client token,
        that one, unchanged."""
        ...

    async def get_export(self, tenant_id: str, arn: str) -> ExportJob | None: ...

    async def list_exports(
        self, tenant_id: str, table_arn: str | None, after: str | None, limit: int
    ) -> list[ExportJob]:
        """In ARN order after ``after``."""
        ...

    async def put_import(self, job: ImportJob) -> ImportJob: ...

    async def import_by_token(self, tenant_id: str, client_token: str) -> ImportJob | None:
        """The account's import started with ``client_token``, if any."""
        ...

    async def get_import(self, tenant_id: str, arn: str) -> ImportJob | None: ...

    async def list_imports(
        self, tenant_id: str, table_arn: str | None, after: str | None, limit: int
    ) -> list[ImportJob]: ...

    async def unfinished(self) -> tuple[list[ExportJob], list[ImportJob]]: ...

    async def forget_tenant(self, tenant_id: str) -> int: ...


class ExportBuckets(Protocol):
    """The account's buckets as the caller (``caller``: the request's principal) sees them;
    each method raises :class:`BucketRefused` with AWS's FailureCode."""

    async def write(
        self, caller: object, bucket: str, owner: str | None, key: str, body: AsyncIterable[bytes]
    ) -> str:
        """The object written (its body streamed); its ETag."""
        ...

    async def keys(self, caller: object, bucket: str, owner: str | None, prefix: str) -> list[str]:
        """The keys under ``prefix`` (``s3:ListBucket``), at most the import's limit."""
        ...

    def read(
        self, caller: object, bucket: str, owner: str | None, key: str
    ) -> AsyncIterator[bytes]: ...


def _now() -> int:
    return int(time.time() * 1000)


def job_id() -> str:
    """AWS's shape: 13 digits of milliseconds, a dash, 8 hex digits."""
    return f"{_now():013d}-{secrets.token_hex(4)}"


class DynamoExports:
    def __init__(
        self,
        dynamodb: DynamoService,
        history: BackupStore,
        store: ExportStore,
        buckets: ExportBuckets,
        items_per_file: int = 100_000,
        lease: float = 120.0,
    ) -> None:
        self.dynamodb = dynamodb
        self.history = history
        self.store = store
        self.buckets = buckets
        self.items_per_file = items_per_file
        self.lease = lease  # s: a running job untouched this long is taken for interrupted
        self._running: set[asyncio.Task[None]] = set()
        self._touched: dict[str, ExportJob] = {}  # running exports, as last touched

    def _start(self, work: Coroutine[object, object, None], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def settle(self) -> None:
        """Every running job's end awaited (tests, and a stopping process)."""
        while self._running:
            await asyncio.gather(*list(self._running), return_exceptions=True)

    async def recover(self) -> int:
        """Jobs whose gateway stopped (untouched for ``lease``) marked FAILED, as their objects
        or items may be partial; how many."""
        exports, imports = await self.store.unfinished()
        stale = _now() - int(self.lease * 1000)
        failed = 0
        for export in exports:
            if export.touched < stale:
                await self.store.put_export(_failed(export, "Interrupted", _INTERRUPTED))
                failed += 1
        for job in imports:
            if job.touched < stale:
                await self.store.put_import(_failed(job, "Interrupted", _INTERRUPTED))
                failed += 1
        return failed

    async def forever(self, interval: float) -> None:
        """:meth:`recover` every ``interval`` seconds (every gateway may: a job is failed once)."""
        while True:
            try:
                await self.recover()
            except Exception:  # a failed round must not end the loop
                log.exception("DynamoDB export and import jobs could not be recovered")
            await asyncio.sleep(interval)

    async def _alive(self, job: _Job) -> _Job:
        """``job`` touched in the store when a third of its lease went by since it last was."""
        now = _now()
        if now - job.touched < self.lease * 1000 / 3:
            return job
        touched = dataclasses.replace(job, touched=now)
        if isinstance(touched, ExportJob):
            await self.store.put_export(touched)
        else:
            await self.store.put_import(touched)
        return touched

    # --- exports ------------------------------------------------------------------------------

    async def export(self, job: ExportJob, table: Table, caller: object) -> ExportJob:
        """``job`` saved and run in the background (the same client token's job instead, if
        one was started)."""
        saved = await self.store.put_export(dataclasses.replace(job, touched=_now()))
        if saved.export_id == job.export_id:
            self._start(self._run_export(saved, table, caller), f"dynamodb-export-{job.export_id}")
        return saved

    async def _run_export(self, job: ExportJob, table: Table, caller: object) -> None:
        try:
            job = await self._write_export(job, table, caller)
        except BucketRefused as exc:
            job = _failed(job, exc.code, str(exc))
        except Exception:  # a failed run is the job's state, never a lost task
            log.exception("DynamoDB export %s failed", job.export_id)
            job = _failed(job, "InternalError", "The export failed; retry it")
        self._touched.pop(job.export_id, None)
        await self.store.put_export(job)

    async def _write_export(self, job: ExportJob, table: Table, caller: object) -> ExportJob:
        root, buckets = job.root, self.buckets

        async def nothing() -> AsyncIterator[bytes]:
            yield b""

        await buckets.write(caller, job.bucket, job.bucket_owner, root + "_started", nothing())
        manifest = b""
        counts = _Counts()
        cursor = _Cursor(self, job, table)
        while cursor.more or cursor.pending:
            key = f"{root}data/{secrets.token_hex(13)}.json.gz"
            file_count = _Counts()
            etag = await buckets.write(
                caller, job.bucket, job.bucket_owner, key, cursor.data_file(file_count)
            )
            if file_count.items == 0 and counts.items > 0:
                continue  # the table's end fell on a file's: an empty object, left harmless
            counts.items += file_count.items
            counts.bytes += file_count.bytes
            manifest += manifest_line(file_count.items, etag, key)
        files_key = root + "manifest-files.json"
        files_etag = await buckets.write(
            caller, job.bucket, job.bucket_owner, files_key, _once(manifest)
        )
        ended = _now()
        summary = {
            "version": "2020-06-30",
            "exportArn": job.arn,
            "startTime": _iso(job.started),
            "endTime": _iso(ended),
            "tableArn": job.table_arn,
            "tableId": job.table_id,
            "exportTime": _iso(job.export_time),
            "s3Bucket": job.bucket,
            "s3Prefix": job.prefix or None,
            "s3SseAlgorithm": "AES256",
            "s3SseKmsKeyId": None,
            "manifestFilesS3Key": files_key,
            "manifestFilesMd5Checksum": files_etag,
            "billedSizeBytes": counts.bytes,
            "itemCount": counts.items,
            "outputFormat": "DYNAMODB_JSON",
            "exportType": "FULL_EXPORT",
        }
        await buckets.write(
            caller,
            job.bucket,
            job.bucket_owner,
            root + "manifest-summary.json",
            _once(json.dumps(summary).encode()),
        )
        return dataclasses.replace(
            job,
            status=JobStatus.COMPLETED,
            ended=ended,
            item_count=counts.items,
            billed_bytes=counts.bytes,
        )

    async def page(
        self, job: ExportJob, table: Table, after: tuple[bytes, bytes] | None
    ) -> tuple[list[Item], tuple[bytes, bytes] | None, bool]:
        self._touched[job.export_id] = await self._alive(self._touched.get(job.export_id, job))
        rows = await self.history.items_at(
            table.tenant_id, table.name, table.created, job.export_time, after, _PAGE
        )
        items = [await self.dynamodb.open_item(table, row) for row in rows]
        last = (rows[-1].hash_token, rows[-1].sort_token) if rows else after
        return items, last, len(rows) == _PAGE

    # --- imports ------------------------------------------------------------------------------

    async def start_import(self, job: ImportJob, table: Table, caller: object) -> ImportJob:
        saved = await self.store.put_import(dataclasses.replace(job, touched=_now()))
        if saved.import_id == job.import_id:
            self._start(self._run_import(saved, table, caller), f"dynamodb-import-{job.import_id}")
        return saved

    async def _run_import(self, job: ImportJob, table: Table, caller: object) -> None:
        try:
            job = await self._read_import(job, table, caller)
        except BucketRefused as exc:
            job = _failed(job, exc.code, str(exc))
        except LineError as exc:
            job = _failed(job, "ItemValidationError", str(exc))
        except Exception:
            log.exception("DynamoDB import %s failed", job.import_id)
            job = _failed(job, "InternalError", "The import failed")
        await self.store.put_import(job)

    async def _read_import(self, job: ImportJob, table: Table, caller: object) -> ImportJob:
        source = job.source
        keys = await self.buckets.keys(caller, source.bucket, source.bucket_owner, source.prefix)
        counts = _ImportCounts()
        for key in keys:
            if key.endswith("/"):
                continue
            job = await self._alive(job)
            raw = self.buckets.read(caller, source.bucket, source.bucket_owner, key)
            await self._import_object(table, source, _counted(raw, counts), counts)
        if not keys:
            raise BucketRefused("S3NoSuchKey", f"No object under the prefix {source.prefix!r}")
        return dataclasses.replace(
            job,
            status=JobStatus.COMPLETED,
            ended=_now(),
            processed_bytes=counts.bytes,
            processed_items=counts.processed,
            imported_items=counts.imported,
            error_count=counts.errors,
        )

    async def _import_object(
        self, table: Table, source: ImportSource, raw: AsyncIterable[bytes], counts: _ImportCounts
    ) -> None:
        names: Sequence[str] | None = source.header or None
        async for line in lines(decompressed(raw, source.compression)):
            if not line.strip():
                continue
            if source.input_format == "CSV" and names is None:
                names = csv_row(line, source.delimiter)
                continue
            counts.processed += 1
            try:
                if source.input_format == "CSV":
                    assert names is not None  # noqa: S101 (read above)
                    item = csv_item(names, csv_row(line, source.delimiter))
                else:
                    item = parse_json_line(line)
                await self.dynamodb.put_item(table, item, None)
            except (LineError, DynamoError):
                counts.errors += 1
                continue
            counts.imported += 1

    async def forget_tenant(self, tenant_id: str) -> int:
        return await self.store.forget_tenant(tenant_id)


_INTERRUPTED: Final = "The job was interrupted by a restart of the service; start it again"


@dataclass(slots=True)
class _Counts:
    items: int = 0
    bytes: int = 0


class _Cursor:
    """Where an export's read of the table stands: the page read but not yet written."""

    def __init__(self, exports: DynamoExports, job: ExportJob, table: Table) -> None:
        self._exports, self._job, self._table = exports, job, table
        self.after: tuple[bytes, bytes] | None = None
        self.pending: list[Item] = []
        self.more = True

    async def data_file(self, counts: _Counts) -> AsyncIterator[bytes]:
        """One data file's gzip'd lines, at most ``items_per_file`` items, a page at a time."""
        per_file = self._exports.items_per_file
        deflater = zlib.compressobj(6, zlib.DEFLATED, _GZIP)
        while counts.items < per_file and (self.more or self.pending):
            if not self.pending:
                self.pending, self.after, self.more = await self._exports.page(
                    self._job, self._table, self.after
                )
                continue
            room = per_file - counts.items
            batch, self.pending = self.pending[:room], self.pending[room:]
            data = b"".join(item_line(i) for i in batch)
            counts.items += len(batch)
            counts.bytes += len(data)
            yield deflater.compress(data)
        yield deflater.flush()


@dataclass(slots=True)
class _ImportCounts:
    bytes: int = 0
    processed: int = 0
    imported: int = 0
    errors: int = 0


async def _counted(chunks: AsyncIterator[bytes], counts: _ImportCounts) -> AsyncIterator[bytes]:
    async for chunk in chunks:
        counts.bytes += len(chunk)
        yield chunk


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


_Job = TypeVar("_Job", ExportJob, ImportJob)


def _failed(job: _Job, code: str, message: str) -> _Job:
    return dataclasses.replace(
        job,
        status=JobStatus.FAILED,
        ended=_now(),
        failure_code=code,
        failure_message=message[:1024],
    )


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"
