"""The inventory reporter (decision 0154): in every ``serve``, a pass every
``inventory_interval`` makes the reports that are due, each claimed by one gateway.

A configuration's report is due once per period (the UTC day, or the week from Sunday) it has
not been delivered in; the first one at the first pass after the configuration is put. The
claim is a compare-and-set of the bucket's ``inventory-runs`` document (``swap_bucket_
document``), held for ``inventory_claim_seconds``: another gateway takes a claim over only once
that has run out (its holder died mid-report).

A report lists the source bucket (its current objects, or every version and delete marker),
page by page, writing CSV rows into gzip files (or ORC or Parquet files of row groups of
``inventory_row_group_rows`` rows, ``inventory_columnar.py``, decision 0170) spooled to disk
past a few MiB and cut at ``inventory_file_size`` compressed bytes: memory stays bounded
whatever the bucket holds. The files, then ``manifest.json`` and ``manifest.checksum``, then
the Hive ``symlink.txt``, are written into the destination through the object service (sealed
as every object; under the configuration's KMS key for SSE-KMS), each write checked first
against the destination's bucket policy for S3's delivery principal (``InventoryGrants``), as
S3 checks it. A report whose delivery is refused writes nothing more and is reported
(``on_report``) as refused.
"""

from __future__ import annotations

import asyncio
import csv
import gzip
import hashlib
import io
import json
import logging
import tempfile
import uuid
import zlib
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import IO, TYPE_CHECKING, Final, Protocol

from andromede.errors import AndromedeError
from andromede.storage.encryption import ObjectEncryption
from andromede.storage.errors import NoSuchBucket
from andromede.storage.integrity import BodyIntegrity
from andromede.storage.inventory import (
    INVENTORY_DOCUMENT,
    INVENTORY_RUNS_DOCUMENT,
    MANIFEST_VERSION,
    InventoryConfiguration,
    InventoryRow,
    InventoryRuns,
    RunState,
    configurations_from_text,
    report_slot,
)
from andromede.storage.model import Bucket, ContentHeaders, EncryptionMode, ObjectRecord
from andromede.storage.replication import ReplicaKeys
from andromede.storage.service import ObjectService
from andromede.storage.store import MetadataStore
from andromede.storage.versioning import NULL_VERSION_ID

if TYPE_CHECKING:
    from andromede.storage.inventory_columnar import ColumnarDataFile

__all__ = ["InventoryGrants", "InventoryReport", "InventoryReporter"]

_BUCKETS_PER_READ: Final = 100
_PAGE: Final = 1000
_SPOOL: Final = 4 * 1024 * 1024  # bytes of a data file kept in memory before it spills to disk
_READ: Final = 256 * 1024
# A data file's name ending and content type, by the configuration's format.
_DATA_FILES: Final = {
    "CSV": ("csv.gz", "application/gzip"),
    "ORC": ("orc", "application/octet-stream"),
    "Parquet": ("parquet", "application/octet-stream"),
}
_ENCRYPTION_STATUS: Final = {
    EncryptionMode.SSE_S3: "SSE-S3",
    EncryptionMode.SSE_C: "SSE-C",
    EncryptionMode.SSE_KMS: "SSE-KMS",
    EncryptionMode.SSE_KMS_DSSE: "DSSE-KMS",
    EncryptionMode.NONE: "NOT-SSE",
}

_log = logging.getLogger(__name__)


class InventoryGrants(Protocol):
    """Whether the destination's bucket policy lets S3's delivery principal
    (``s3.amazonaws.com``) put ``key`` there for ``source`` (``aws:SourceAccount``,
    ``aws:SourceArn``): implemented at the composition root over the policy engine."""

    def allows(self, source: Bucket, destination: Bucket, key: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class InventoryReport:
    """One report made (or refused): where, how many rows and files."""

    source: str
    tenant_id: str
    config_id: str
    destination: str
    manifest_key: str
    rows: int
    files: int
    delivered: bool


def _utcnow() -> datetime:
    return datetime.now(UTC)


class DeliveryRefused(AndromedeError):
    """The destination's bucket policy does not let S3 deliver there."""


class InventoryReporter:
    def __init__(
        self,
        objects: ObjectService,
        store: MetadataStore,
        grants: InventoryGrants,
        *,
        interval: float,
        file_size: int,
        claim_seconds: float,
        on_report: Callable[[InventoryReport], None],
        row_group_rows: int = 100_000,
        kms_keys: ReplicaKeys | None = None,
        regions: Collection[str] | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._objects = objects
        self._store = store
        self._grants = grants
        self._interval = interval
        self._file_size = file_size
        self._row_group_rows = row_group_rows
        self._claim = timedelta(seconds=claim_seconds)
        self._on_report = on_report
        self._kms_keys = kms_keys
        self._regions = regions
        self._clock = clock

    async def run_forever(self) -> None:
        while True:
            try:
                await self.run_once()
            except AndromedeError:
                _log.warning("inventory pass failed; the next one retries", exc_info=True)
            await asyncio.sleep(self._interval)

    async def run_once(self) -> list[InventoryReport]:
        """Make every report due that this gateway claims; returns them."""
        made: list[InventoryReport] = []
        after: str | None = None
        while page := await self._store.list_bucket_documents(
            INVENTORY_DOCUMENT, after, _BUCKETS_PER_READ
        ):
            for name, text in page:
                try:
                    bucket = await self._objects.get_bucket(name)
                    if self._regions is not None and bucket.region not in self._regions:
                        continue
                    for config in configurations_from_text(text):
                        if config.enabled and await self._claim_run(bucket, config, text):
                            made.append(await self._report(bucket, config))
                except NoSuchBucket:
                    continue  # deleted meanwhile
            after = page[-1][0]
        return made

    async def _claim_run(self, bucket: Bucket, config: InventoryConfiguration, doc: str) -> bool:
        now = self._clock()
        slot = report_slot(config.frequency, now)
        keep = {c.config_id for c in configurations_from_text(doc)}
        text = await self._store.get_bucket_document(bucket.name, INVENTORY_RUNS_DOCUMENT)
        runs = InventoryRuns.from_text(text)
        current = runs.runs.get(config.config_id)
        if current is not None and not current.due(slot, now):
            return False
        claimed = runs.with_run(config.config_id, RunState(slot, False, now + self._claim), keep)
        return await self._store.swap_bucket_document(
            bucket.name, INVENTORY_RUNS_DOCUMENT, text, claimed.to_text()
        )

    async def _finish_run(self, bucket: Bucket, config: InventoryConfiguration) -> None:
        """Mark the claimed report delivered (or given up: the next period makes the next)."""
        for _ in range(5):
            text = await self._store.get_bucket_document(bucket.name, INVENTORY_RUNS_DOCUMENT)
            runs = InventoryRuns.from_text(text)
            current = runs.runs.get(config.config_id)
            if current is None:
                return
            done = RunState(current.slot, True, current.held_until)
            if await self._store.swap_bucket_document(
                bucket.name,
                INVENTORY_RUNS_DOCUMENT,
                text,
                runs.with_run(config.config_id, done, set(runs.runs)).to_text(),
            ):
                return

    async def _report(self, source: Bucket, config: InventoryConfiguration) -> InventoryReport:
        started = self._clock()
        base = config.base_key(source.name)
        manifest_key = f"{base}/{started.strftime('%Y-%m-%dT%H-%MZ')}/manifest.json"
        rows = 0
        files: list[tuple[str, int, str]] = []
        delivered = False
        try:
            destination = await self._objects.get_bucket(config.destination_bucket)
            if destination.region != source.region:
                raise DeliveryRefused("the destination is in another region")
            writer = self._data_file(config)
            async for row in self._rows(source, config):
                writer.write(row, source.name)
                rows += 1
                if writer.full():
                    files.append(await self._put_data(source, destination, config, writer))
                    writer = self._data_file(config)
            if writer.rows or not files:
                files.append(await self._put_data(source, destination, config, writer))
            manifest = _manifest(source, destination, config, started, files)
            await self._put(source, destination, config, manifest_key, manifest, "application/json")
            checksum = hashlib.md5(manifest, usedforsecurity=False).hexdigest().encode()
            checksum_key = manifest_key.rsplit("/", 1)[0] + "/manifest.checksum"
            await self._put(source, destination, config, checksum_key, checksum, "text/plain")
            symlink = "".join(f"s3://{destination.name}/{key}\n" for key, _, _ in files)
            hive_key = f"{base}/hive/dt={started.strftime('%Y-%m-%d-%H-%M')}/symlink.txt"
            await self._put(source, destination, config, hive_key, symlink.encode(), "text/plain")
            delivered = True
        except (DeliveryRefused, NoSuchBucket) as exc:
            _log.warning("inventory %s of %s not delivered: %s", config.config_id, source.name, exc)
        except AndromedeError:
            _log.warning("inventory %s of %s failed", config.config_id, source.name, exc_info=True)
        finally:
            await self._finish_run(source, config)
        report = InventoryReport(
            source.name,
            source.tenant_id,
            config.config_id,
            config.destination_bucket,
            manifest_key,
            rows,
            len(files),
            delivered,
        )
        self._on_report(report)
        return report

    def _data_file(self, config: InventoryConfiguration) -> _DataFiles | ColumnarDataFile:
        if config.file_format == "CSV":
            return _DataFiles(self._file_size, config.columns)
        # Imported here, not at the server's start: importing pyarrow starts a thread.
        from andromede.storage.inventory_columnar import ColumnarDataFile

        return ColumnarDataFile(
            config.columns, config.file_format, self._file_size, self._row_group_rows
        )

    async def _rows(
        self, bucket: Bucket, config: InventoryConfiguration
    ) -> AsyncIterator[InventoryRow]:
        prefix = config.filter_prefix or ""
        if not config.all_versions:
            after: str | None = None
            while True:
                listing = await self._objects.list_objects(
                    bucket.name, prefix=prefix, after=after, max_keys=_PAGE
                )
                for summary in listing.objects:
                    record = None
                    if config.needs_records:
                        record = await self._store.get_object(bucket.name, summary.key)
                        if record is None:
                            continue  # deleted since the listing
                    yield _with_record(
                        InventoryRow(
                            key=summary.key,
                            size=summary.size,
                            last_modified=summary.last_modified,
                            etag=summary.etag,
                            checksum_algorithm=_value(summary.checksum_algorithm),
                            owner_id=summary.owner_id,
                        ),
                        record,
                    )
                if not listing.truncated or not listing.objects:
                    return
                after = listing.objects[-1].key
                await asyncio.sleep(0)  # a large bucket's report leaves room for requests
        key_marker: str | None = None
        version_marker: str | None = None
        while True:
            versions = await self._objects.list_versions(
                bucket.name,
                prefix=prefix,
                key_marker=key_marker,
                version_marker=version_marker,
                max_keys=_PAGE,
            )
            for entry in versions.versions:
                record = None
                if config.needs_records and not entry.delete_marker:
                    found = await self._store.get_object_version(
                        bucket.name, entry.key, entry.version_id or NULL_VERSION_ID
                    )
                    if not isinstance(found, ObjectRecord):
                        continue  # removed since the listing
                    record = found
                yield _with_record(
                    InventoryRow(
                        key=entry.key,
                        version_id=entry.version_id or NULL_VERSION_ID,
                        is_latest=entry.is_latest,
                        delete_marker=entry.delete_marker,
                        size=entry.size,
                        last_modified=entry.last_modified,
                        etag=entry.etag,
                        checksum_algorithm=_value(entry.checksum_algorithm),
                        owner_id=entry.owner_id,
                    ),
                    record,
                )
            if not versions.truncated or versions.next_key_marker is None:
                return
            key_marker = versions.next_key_marker
            version_marker = versions.next_version_marker
            await asyncio.sleep(0)

    async def _put_data(
        self,
        source: Bucket,
        destination: Bucket,
        config: InventoryConfiguration,
        files: _DataFiles | ColumnarDataFile,
    ) -> tuple[str, int, str]:
        ending, content_type = _DATA_FILES[config.file_format]
        key = f"{config.base_key(source.name)}/data/{uuid.uuid4()}.{ending}"
        spool, size = files.close()
        try:
            spool.seek(0)

            async def body() -> AsyncIterator[bytes]:
                while chunk := spool.read(_READ):
                    yield chunk

            record = await self._write(source, destination, config, key, body(), size, content_type)
        finally:
            spool.close()
        return key, size, record.etag

    async def _put(
        self,
        source: Bucket,
        destination: Bucket,
        config: InventoryConfiguration,
        key: str,
        data: bytes,
        content_type: str,
    ) -> None:
        async def body() -> AsyncIterator[bytes]:
            yield data

        await self._write(source, destination, config, key, body(), len(data), content_type)

    async def _write(
        self,
        source: Bucket,
        destination: Bucket,
        config: InventoryConfiguration,
        key: str,
        body: AsyncIterator[bytes],
        size: int,
        content_type: str,
    ) -> ObjectRecord:
        if not self._grants.allows(source, destination, key):
            raise DeliveryRefused(
                f"the bucket policy of {destination.name} does not let s3.amazonaws.com put {key}"
            )
        encryption = ObjectEncryption(tenant_id=destination.tenant_id)
        if config.kms_key_id is not None:
            if self._kms_keys is None:
                raise DeliveryRefused("SSE-KMS needs the KMS service")
            encryption = await self._kms_keys.replica_encryption(
                destination.tenant_id,
                config.kms_key_id,
                bucket=destination.name,
                key=key,
                dual_layer=False,
                region=destination.region,
                payer=source.tenant_id,
            )
        return await self._objects.put_object(
            destination,
            key,
            body,
            size=size,
            headers=ContentHeaders(content_type=content_type),
            owner_id=destination.owner_id,
            integrity=BodyIntegrity(),
            encryption=encryption,
        )


class _DataFiles:
    """One gzip CSV data file being written: spooled, cut past ``limit`` compressed bytes."""

    def __init__(self, limit: int, columns: tuple[str, ...]) -> None:
        self._columns = columns
        self._limit = limit
        self._spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_SPOOL)
        self._gzip = gzip.GzipFile(fileobj=self._spool, mode="wb")
        self._text = io.TextIOWrapper(self._gzip, encoding="utf-8", newline="")
        self._csv = csv.writer(self._text, quoting=csv.QUOTE_ALL, lineterminator="\n")
        self.rows = 0
        self._pending = 0
        self._flush_every = max(1024, min(limit // 4, 16 * 1024 * 1024))

    def write(self, row: InventoryRow, bucket: str) -> None:
        values = row.values(bucket, self._columns)
        self._csv.writerow(values)
        self.rows += 1
        # zlib holds what it compresses until it has enough: flushed now and then, the
        # file's size on the spool is what the cut goes by, a quarter of the limit late at most.
        self._pending += sum(len(v) for v in values) + 3 * len(values)
        if self._pending >= self._flush_every:
            self._text.flush()
            self._gzip.flush(zlib.Z_SYNC_FLUSH)
            self._pending = 0

    def full(self) -> bool:
        return self._spool.tell() >= self._limit

    def close(self) -> tuple[IO[bytes], int]:
        self._text.flush()
        self._text.detach()
        self._gzip.close()
        size = self._spool.tell()
        return self._spool, size


def _value(algorithm: object | None) -> str | None:
    return None if algorithm is None else str(algorithm)


def _with_record(row: InventoryRow, record: ObjectRecord | None) -> InventoryRow:
    """The fields a listing does not give, from the version's own row (its sealed headers
    stay sealed: none of them needs a key)."""
    if record is None:
        return row
    lock = record.lock
    acl = record.acl
    grants = (
        [
            {"permission": g.permission.value, "type": g.grantee_type.value, "id": g.grantee}
            for g in acl.grants
        ]
        if acl is not None
        else [{"permission": "FULL_CONTROL", "type": "CanonicalUser", "id": record.owner_id}]
    )
    return replace(
        row,
        replication_status=record.replication_status,
        encryption_status=_ENCRYPTION_STATUS.get(record.encryption, "SSE-S3"),
        retain_until=None if lock is None else lock.retain_until,
        lock_mode=None if lock is None or lock.mode is None else lock.mode.value,
        legal_hold=None if lock is None else lock.legal_hold,
        bucket_key=record.bucket_key_enabled,
        acl_json=json.dumps(
            {"version": "2022-11-10", "status": "AVAILABLE", "grants": grants},
            separators=(",", ":"),
        ),
    )


def _file_schema(config: InventoryConfiguration) -> str:
    if config.file_format == "CSV":
        return ", ".join(config.columns)
    from andromede.storage.inventory_columnar import file_schema  # pyarrow: see _data_file

    return file_schema(config.columns, config.file_format)


def _manifest(
    source: Bucket,
    destination: Bucket,
    config: InventoryConfiguration,
    started: datetime,
    files: list[tuple[str, int, str]],
) -> bytes:
    return json.dumps(
        {
            "sourceBucket": source.name,
            "destinationBucket": f"arn:aws:s3:::{destination.name}",
            "version": MANIFEST_VERSION,
            "creationTimestamp": str(int(started.timestamp() * 1000)),
            "fileFormat": config.file_format,
            "fileSchema": _file_schema(config),
            "files": [{"key": key, "size": size, "MD5checksum": md5} for key, size, md5 in files],
        },
        indent=2,
    ).encode()
