"""A Batch Operations job's list of objects, as the worker reads it (decision 0152 and its
addenda), page by page so that a job's memory is bounded by a page, not by its manifest:

- ``S3BatchOperations_CSV_20180820``: a CSV of ``Bucket,Key[,VersionId]``, keys URL-encoded;
- ``S3InventoryReport_CSV_20161130``: an S3 Inventory report's ``manifest.json`` (decision
  0154): its gzip CSV files, read from the report's destination bucket, the columns named by
  its ``fileSchema`` (``Bucket``, ``Key`` — URL-encoded as S3 writes it —, ``VersionId``),
  delete markers left out;
- a generator (``S3JobManifestGenerator``): the source bucket's current objects listed a page
  at a time, kept when the filter takes them (created after/before, key prefixes, suffixes and
  substrings, sizes, storage classes, replication statuses and eligibility for the bucket's
  replication rules — these two read each object's record, only then), and, with
  ``EnableManifestOutput``, written out as an inventory-style manifest (``manifest.json`` and
  one gzip CSV of ``Bucket,Key,VersionId``) under ``<prefix>/job-<id>/`` of the output bucket,
  which another job can take as its manifest.

Each object read (the manifest, the inventory's files) and the source bucket listed is
allowed by ``authorise`` (the runner's: the account's bucket, the role's policies) first; a
refusal, an unreadable, malformed or oversized manifest, or a wrong ETag is
:class:`ManifestRefused`, which fails the job. At most ``max_tasks`` lines.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any, Final
from urllib.parse import unquote, unquote_plus

from andromede.errors import AndromedeError
from andromede.storage.batch_jobs import BatchJob, ManifestLine
from andromede.storage.batch_operations import RoleRefused
from andromede.storage.errors import NoSuchKey
from andromede.storage.model import ObjectRecord
from andromede.storage.replication import ReplicationConfiguration, ReplicationStatus
from andromede.storage.service import ObjectService

__all__ = [
    "GENERATED_FORMAT",
    "INVENTORY_FORMAT",
    "MANIFEST_FORMAT",
    "REPLICATION_STATUSES",
    "ManifestReader",
    "ManifestRefused",
]

MANIFEST_FORMAT: Final = "S3BatchOperations_CSV_20180820"
INVENTORY_FORMAT: Final = "S3InventoryReport_CSV_20161130"
GENERATED_FORMAT: Final = "S3InventoryReport_CSV_20211130"
REPLICATION_STATUSES: Final = frozenset({"NONE", "FAILED", "COMPLETED", "REPLICA"})
_PAGE: Final = 1000
# About 2 KiB per line at most (a bucket name and a 1,024-byte key, URL-encoded): a bigger
# manifest cannot hold fewer lines than the limit, refused before it is read.
_LINE_BYTES: Final = 4096

Authorise = Callable[[str, str, str], Awaitable[None]]


class ManifestRefused(Exception):
    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _bucket(arn: str) -> str:
    return arn.removeprefix("arn:aws:s3:::").partition("/")[0]


class ManifestReader:
    """One job's manifest (or generator), read once by :meth:`pages`."""

    def __init__(
        self, objects: ObjectService, job: BatchJob, authorise: Authorise, max_tasks: int
    ) -> None:
        self._objects = objects
        self._job = job
        self._authorise = authorise
        self._max_tasks = max_tasks
        self._count = 0
        self._output: io.StringIO | None = None

    async def pages(self) -> AsyncIterator[list[ManifestLine]]:
        manifest: dict[str, Any] = self._job.document["manifest"]
        generator = manifest.get("generator")
        if generator is not None:
            if generator.get("output") is not None:
                self._output = io.StringIO()
            async for page in self._generated(generator):
                yield self._counted(page)
            return
        record = await self._manifest_object(manifest)
        data = await self._read(record, self._max_tasks * _LINE_BYTES)
        if manifest["format"] == MANIFEST_FORMAT:
            fields = manifest.get("fields") or ["Bucket", "Key"]
            for page in _chunks(self._csv(data, fields, unquote)):
                yield self._counted(page)
            return
        async for page in self._inventory(data):
            yield self._counted(page)

    def _counted(self, page: list[ManifestLine]) -> list[ManifestLine]:
        self._count += len(page)
        if self._count > self._max_tasks:
            raise ManifestRefused("ManifestTooLarge", "The manifest lists too many objects")
        if self._output is not None:
            writer = csv.writer(self._output, quoting=csv.QUOTE_ALL, lineterminator="\n")
            for line in page:
                writer.writerow([line.bucket, line.key, line.version_id or ""])
        return page

    async def _get(self, bucket: str, key: str, version: str | None = None) -> ObjectRecord:
        try:
            await self._authorise(bucket, "s3:GetObject", key)
            if version:
                return await self._objects.get_version(bucket, key, version)
            return await self._objects.head_object(bucket, key)
        except AndromedeError as exc:
            code = "AccessDenied" if isinstance(exc, RoleRefused) else type(exc).__name__
            raise ManifestRefused(code, f"Reading the manifest failed: {code}") from exc

    async def _manifest_object(self, manifest: dict[str, Any]) -> ObjectRecord:
        bucket, _, key = manifest["object_arn"].removeprefix("arn:aws:s3:::").partition("/")
        record = await self._get(bucket, key, manifest.get("version_id"))
        if record.etag != manifest["etag"].strip().strip('"'):
            raise ManifestRefused(
                "ETagMismatch",
                "The ETag of the manifest object does not match the ETag in the request",
            )
        return record

    async def _read(self, record: ObjectRecord, limit: int) -> bytes:
        if record.size > limit:
            raise ManifestRefused("ManifestTooLarge", "The manifest lists too many objects")
        if record.size == 0:
            return b""
        chunks = [c async for c in self._objects.read_object(record, 0, record.size - 1)]
        return b"".join(chunks)

    def _csv(
        self, data: bytes, fields: list[str], decode: Callable[[str], str]
    ) -> list[ManifestLine]:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ManifestRefused("InvalidManifest", "The manifest is not UTF-8") from exc
        lines: list[ManifestLine] = []
        for row in csv.reader(io.StringIO(text)):
            if not row or row == [""]:
                continue
            if len(row) != len(fields):
                raise ManifestRefused(
                    "InvalidManifest",
                    f"Line {len(lines) + 1} has {len(row)} fields, not {len(fields)}",
                )
            values = dict(zip(fields, row, strict=True))
            if not values["Bucket"] or not values["Key"]:
                raise ManifestRefused("InvalidManifest", f"Line {len(lines) + 1} names no object")
            if values.get("IsDeleteMarker") == "true":
                continue  # an inventory's marker: no object to act on
            lines.append(
                ManifestLine(
                    values["Bucket"], decode(values["Key"]), values.get("VersionId") or None
                )
            )
            if self._count + len(lines) > self._max_tasks:
                raise ManifestRefused("ManifestTooLarge", "The manifest lists too many objects")
        return lines

    async def _inventory(self, data: bytes) -> AsyncIterator[list[ManifestLine]]:
        """An inventory report's files, one at a time."""
        try:
            document = json.loads(data)
            schema = [c.strip() for c in str(document["fileSchema"]).split(",")]
            files = [(str(f["key"]), str(f.get("MD5checksum") or "")) for f in document["files"]]
            destination = _bucket(str(document["destinationBucket"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise ManifestRefused("InvalidManifest", "The inventory manifest is malformed") from exc
        if document.get("fileFormat", "CSV") != "CSV" or not {"Bucket", "Key"} <= set(schema):
            raise ManifestRefused("InvalidManifest", "Only CSV inventory reports are read")
        for key, md5 in files:
            record = await self._get(destination, key)
            packed = await self._read(record, self._max_tasks * _LINE_BYTES)
            if md5 and hashlib.md5(packed, usedforsecurity=False).hexdigest() != md5:
                raise ManifestRefused("InvalidManifest", f"{key} does not match its MD5")
            unpacked = _gunzip(packed, self._max_tasks * _LINE_BYTES)
            for page in _chunks(self._csv(unpacked, schema, unquote_plus)):
                yield page

    async def _generated(self, generator: dict[str, Any]) -> AsyncIterator[list[ManifestLine]]:
        bucket = _bucket(generator["source_bucket"])
        found: dict[str, Any] = generator.get("filter") or {}
        try:
            await self._authorise(bucket, "s3:ListBucket", "")
            config = (await self._objects.get_bucket(bucket)).replication
            after: str | None = None
            while True:
                listing = await self._objects.list_objects(bucket, after=after, max_keys=_PAGE)
                page = []
                for summary in listing.objects:
                    if not _takes(found, summary.key, summary.size, summary.last_modified):
                        continue
                    version = None
                    if found.get("replication_statuses") or found.get("eligible_for_replication"):
                        try:
                            record = await self._objects.head_object(bucket, summary.key)
                        except NoSuchKey:
                            continue  # deleted since the listing
                        if found.get("eligible_for_replication") and not _eligible(config, record):
                            continue
                        shown = (
                            "NONE"
                            if record.replication_status is None
                            else ReplicationStatus.shown(record.replication_status)
                        )
                        if shown not in found.get("replication_statuses", [shown]):
                            continue
                        version = record.version_id
                    page.append(ManifestLine(bucket, summary.key, version))
                if page:
                    yield page
                if not listing.truncated or not listing.objects:
                    return
                after = listing.objects[-1].key
        except AndromedeError as exc:
            code = "AccessDenied" if isinstance(exc, RoleRefused) else type(exc).__name__
            raise ManifestRefused(code, f"Listing the source bucket failed: {code}") from exc

    def output(self) -> tuple[bytes, bytes] | None:
        """The generated manifest's data (gzip CSV) and ``manifest.json`` once listed, if
        the job asked for it; the caller writes them (keys: :meth:`output_keys`)."""
        if self._output is None:
            return None
        generator = self._job.document["manifest"]["generator"]
        data = gzip.compress(self._output.getvalue().encode(), mtime=0)
        _, data_key = self.output_keys()
        manifest = {
            "sourceBucket": _bucket(generator["source_bucket"]),
            "destinationBucket": generator["output"]["bucket"],
            "version": "2021-11-30",
            "fileFormat": "CSV",
            "fileSchema": "Bucket, Key, VersionId",
            "files": [
                {
                    "key": data_key,
                    "size": len(data),
                    "MD5checksum": hashlib.md5(data, usedforsecurity=False).hexdigest(),
                }
            ],
        }
        return data, json.dumps(manifest).encode()

    def output_keys(self) -> tuple[str, str]:
        """``(<prefix>/job-<id>, <that>/data/manifest.csv.gz)``."""
        prefix = (self._job.document["manifest"]["generator"]["output"] or {}).get("prefix")
        base = (
            f"{prefix.rstrip('/')}/job-{self._job.job_id}" if prefix else f"job-{self._job.job_id}"
        )
        return base, f"{base}/data/manifest.csv.gz"


def _takes(found: dict[str, Any], key: str, size: int, modified: datetime) -> bool:
    """Whether the generator's filter takes an object (every criterion given must hold)."""
    if "created_after" in found and modified <= datetime.fromisoformat(found["created_after"]):
        return False
    if "created_before" in found and modified >= datetime.fromisoformat(found["created_before"]):
        return False
    if "prefixes" in found and not any(key.startswith(p) for p in found["prefixes"]):
        return False
    if "suffixes" in found and not any(key.endswith(s) for s in found["suffixes"]):
        return False
    if "substrings" in found and not any(s in key for s in found["substrings"]):
        return False
    if "size_above" in found and size <= found["size_above"]:
        return False
    if "size_below" in found and size >= found["size_below"]:
        return False
    # Every object here is STANDARD: the only class served.
    return "storage_classes" not in found or "STANDARD" in found["storage_classes"]


def _eligible(config: ReplicationConfiguration | None, record: ObjectRecord) -> bool:
    """``EligibleForReplication``: an enabled rule of the bucket's configuration selects the
    object as it is (its key, tags, encryption), and it is not a replica."""
    if config is None or ReplicationStatus.is_replica(record.replication_status):
        return False
    kms = record.kms_key_arn is not None
    return config.rule_for(record.key, record.headers.tags, kms_encrypted=kms) is not None


def _chunks(lines: list[ManifestLine]) -> list[list[ManifestLine]]:
    return [lines[i : i + _PAGE] for i in range(0, len(lines), _PAGE)] or [[]]


def _gunzip(data: bytes, limit: int) -> bytes:
    """``data`` unpacked, refused past ``limit`` bytes (a small file may unpack to a lot)."""
    unpacker = zlib.decompressobj(wbits=31)
    try:
        out = unpacker.decompress(data, limit + 1)
    except zlib.error as exc:
        raise ManifestRefused("InvalidManifest", "An inventory file is not gzip") from exc
    if len(out) > limit or unpacker.unconsumed_tail:
        raise ManifestRefused("ManifestTooLarge", "The manifest lists too many objects")
    return out
