"""S3 Storage Lens's daily metrics export (decision 0415): for each enabled configuration
with a ``DataExport`` S3 destination (or CloudWatch publishing), once a period
(``storage_lens_export_interval``, a day by default), the free metrics AWS lists —
``StorageBytes`` and ``ObjectCount`` by bucket and storage class, and their account-level
sums by Region — written in AWS's export schema into
the destination bucket. An adapter between S3 Control's configurations and the object
service, which do not import each other.

Where: ``<prefix>/StorageLens/<account>/<config-id>/V_1/reports/dt=<YYYY-MM-DD>/<uuid>.csv``
(or ``.parquet``), then ``…/V_1/manifests/dt=<YYYY-MM-DD>/manifest.json`` listing it (its
key, size and MD5), as AWS lays them out. Each write goes through the object service as the
destination owner's (sealed as every object; under the configuration's KMS key for
SSE-KMS), and only if the destination's bucket policy lets ``storage-lens.s3.amazonaws.com``
``s3:PutObject`` there (``aws:SourceAccount``, ``aws:SourceArn`` the configuration's ARN,
``s3:x-amz-acl`` ``bucket-owner-full-control``), as AWS requires; a destination refused, of
another account than the configuration names, or gone, skips the export, logged and reported.

With ``CloudWatchMetrics`` enabled, the same figures go to CloudWatch as the account's
``AWS/S3/Storage-Lens`` metrics (dimensions ``configuration_id``, ``metrics_version``,
``aws_account_number``, ``aws_region``, ``storage_class``, ``record_type``, and
``bucket_name`` for a bucket's), stamped at the day's midnight.

The figures are the object service's (``bucket_storage``: what the ``AWS/S3`` storage metrics
report, every object kept and its bytes); the platform keeps one storage class, ``STANDARD``.
Activity metrics are not exported: no per-bucket request counts are kept for every bucket
(decision 0415 says what is left). One gateway exports each configuration's period: it
claims it in the store (``claim_export``) for ``_CLAIM`` at most, so another takes over
a period whose gateway died.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import quote

from andromede.errors import AndromedeError
from andromede.iam.policy.service_grants import service_may
from andromede.metrics.model import Aggregate, Series, epoch
from andromede.metrics.service import MetricsService
from andromede.metrics.store import Point
from andromede.s3control.errors import S3ControlError
from andromede.s3control.storage_lens_xml import (
    ExportDestination,
    LensConfiguration,
    configuration_of,
)
from andromede.storage.encryption import ObjectEncryption
from andromede.storage.errors import NoSuchBucket
from andromede.storage.integrity import BodyIntegrity
from andromede.storage.model import Bucket, ContentHeaders
from andromede.storage.replication import ReplicaKeys
from andromede.storage.service import ObjectService
from andromede.storage.storage_lens import StorageLensRecord, StorageLensStore

__all__ = [
    "COLUMNS",
    "NAMESPACE",
    "STORAGE_LENS_SERVICE",
    "LensExport",
    "MetricRow",
    "StorageLensExporter",
]

STORAGE_LENS_SERVICE: Final = "storage-lens.s3.amazonaws.com"
NAMESPACE: Final = "AWS/S3/Storage-Lens"
_METRICS_VERSION: Final = "1.0"  # the metrics_version dimension AWS publishes
_HOUR: Final = 3600
_DAY: Final = 86400
_UNITS: Final = {"StorageBytes": "Bytes", "ObjectCount": "Count"}
COLUMNS: Final = (
    "version_number", "configuration_id", "report_date", "aws_account_number", "aws_region",
    "storage_class", "record_type", "record_value", "bucket_name", "metric_name",
    "metric_value",
)  # fmt: skip
_PARQUET_SCHEMA: Final = (
    "message s3.storage.lens { "
    + " ".join(f"required string {c};" for c in COLUMNS[:-1])
    + " required long metric_value; }"
)
_VERSION: Final = "V_1"
_STORAGE_CLASS: Final = "STANDARD"  # the platform's one storage class
# How long a gateway holds a period's claim: far more than an export takes; a gateway that
# died leaves the period to another within the hour.
_CLAIM: Final = timedelta(hours=1)
# The longest wait between two passes: a shorter interval checks as often as it exports.
_PASS_MAX: Final = 300.0

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MetricRow:
    region: str
    record_type: str  # ACCOUNT or BUCKET
    record_value: str
    bucket: str
    metric: str
    value: int


@dataclass(frozen=True, slots=True)
class LensExport:
    """One export made (or skipped): whose, where, how many rows."""

    tenant_id: str
    config_id: str
    destination: str
    manifest_key: str
    rows: int
    delivered: bool


class DeliveryRefused(AndromedeError):
    """The destination cannot take the export (policy, owner, gone, KMS)."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


def metric_rows(account: str, figures: Sequence[tuple[Bucket, int, int]]) -> list[MetricRow]:
    """The free metrics of ``figures`` (bucket, bytes, objects): each bucket's, then the
    account's sums by Region."""
    rows: list[MetricRow] = []
    totals: dict[str, tuple[int, int]] = {}
    for bucket, size, count in figures:
        rows.append(MetricRow(bucket.region, "BUCKET", bucket.name, bucket.name,
            "StorageBytes", size))  # fmt: skip
        rows.append(MetricRow(bucket.region, "BUCKET", bucket.name, bucket.name,
            "ObjectCount", count))  # fmt: skip
        was = totals.get(bucket.region, (0, 0))
        totals[bucket.region] = (was[0] + size, was[1] + count)
    for region, (size, count) in sorted(totals.items()):
        rows.append(MetricRow(region, "ACCOUNT", account, "", "StorageBytes", size))
        rows.append(MetricRow(region, "ACCOUNT", account, "", "ObjectCount", count))
    return rows


def _csv(config_id: str, date: str, account: str, rows: Sequence[MetricRow]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(_values(config_id, date, account, row))
    return out.getvalue().encode()


def _values(config_id: str, date: str, account: str, row: MetricRow) -> tuple[str | int, ...]:
    # AWS URL-encodes record_value (a prefix's may hold anything; a bucket's or account's
    # never changes).
    return (_VERSION, config_id, date, account, row.region, _STORAGE_CLASS, row.record_type,
        quote(row.record_value, safe=""), row.bucket, row.metric, row.value)  # fmt: skip


def _parquet(config_id: str, date: str, account: str, rows: Sequence[MetricRow]) -> bytes:
    # Imported here: pyarrow starts a thread, which a process that forks must not hold at
    # start (as inventory_columnar's note says).
    import pyarrow as pa
    import pyarrow.parquet as pq

    fields: list[pa.Field[Any]] = [pa.field(c, pa.string(), nullable=False) for c in COLUMNS[:-1]]
    fields.append(pa.field("metric_value", pa.int64(), nullable=False))
    records = [
        dict(zip(COLUMNS, _values(config_id, date, account, row), strict=True)) for row in rows
    ]
    table = pa.Table.from_pylist(records, schema=pa.schema(fields))
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


async def _publish(
    metrics: MetricsService,
    account: str,
    config_id: str,
    rows: Sequence[MetricRow],
    now: datetime,
) -> None:
    """The rows as ``AWS/S3/Storage-Lens`` metrics of the account, with AWS's dimensions,
    stamped at the day's midnight as S3's daily storage metrics are (``storage_metrics``)."""
    stamp = epoch(now)
    day = stamp - stamp % _DAY
    points = []
    for row in rows:
        dimensions = [
            ("configuration_id", config_id),
            ("metrics_version", _METRICS_VERSION),
            ("aws_account_number", account),
            ("aws_region", row.region),
            ("storage_class", _STORAGE_CLASS),
            ("record_type", row.record_type),
        ]
        if row.bucket:
            dimensions.append(("bucket_name", row.bucket))
        series = Series.of(account, NAMESPACE, row.metric, dimensions)
        aggregate = Aggregate.of_values([(float(row.value), 1.0)])
        points.append(Point(series, _HOUR, day, _UNITS[row.metric], aggregate))
    await metrics.put_platform(points)


class StorageLensExporter:
    def __init__(
        self,
        objects: ObjectService,
        store: StorageLensStore,
        *,
        region: str,
        interval: float,
        on_export: Callable[[LensExport], None],
        kms_keys: ReplicaKeys | None = None,
        metrics: MetricsService | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._objects = objects
        self._store = store
        self._region = region
        self._interval = interval
        self._on_export = on_export
        self._kms_keys = kms_keys
        self._metrics = metrics
        self._clock = clock

    async def run_forever(self) -> None:
        while True:
            try:
                await self.run_once()
            except AndromedeError:
                _log.warning("Storage Lens export pass failed; the next one retries",
                    exc_info=True)  # fmt: skip
            await asyncio.sleep(min(self._interval, _PASS_MAX))

    async def run_once(self) -> list[LensExport]:
        """Every export due that this gateway claims, made; returns them."""
        made: list[LensExport] = []
        for record in await self._store.enabled():
            try:
                config = configuration_of(record.document)
            except S3ControlError:
                continue  # never: the document was checked when put
            if config.destination is None and not (config.cloudwatch and self._metrics):
                continue
            now = self._clock()
            slot = int(now.timestamp() // self._interval)
            label = f"{int(self._interval)}:{slot}"
            if not await self._store.claim_export(record.tenant_id, record.config_id, label,
                    now=now, until=now + _CLAIM):  # fmt: skip
                continue
            try:
                rows = await self._rows(record.tenant_id, config)
                if config.cloudwatch and self._metrics is not None:
                    await _publish(self._metrics, record.tenant_id, config.config_id, rows, now)
                if config.destination is not None:
                    made.append(await self._export(record, config, config.destination, now, rows))
            finally:
                await self._store.exported(record.tenant_id, record.config_id, label)
        return made

    async def _export(
        self,
        record: StorageLensRecord,
        config: LensConfiguration,
        destination: ExportDestination,
        now: datetime,
        rows: Sequence[MetricRow],
    ) -> LensExport:
        account = record.tenant_id
        date = now.astimezone(UTC).date().isoformat()
        base = f"{destination.prefix.strip('/')}/" if destination.prefix.strip("/") else ""
        base += f"StorageLens/{account}/{config.config_id}/{_VERSION}"
        manifest_key = f"{base}/manifests/dt={date}/manifest.json"
        parquet = destination.format == "Parquet"
        data = (_parquet if parquet else _csv)(config.config_id, date, account, rows)
        data_key = f"{base}/reports/dt={date}/{uuid.uuid4()}.{'parquet' if parquet else 'csv'}"
        try:
            target = await self._destination(record, destination)
            await self._put(record, target, destination, data_key, data,
                "application/octet-stream" if parquet else "text/csv")  # fmt: skip
            manifest = {
                "sourceAccountId": account,
                "configId": config.config_id,
                "destinationBucket": f"arn:aws:s3:::{target.name}",
                "reportVersion": _VERSION,
                "reportDate": date,
                "reportFormat": destination.format,
                "reportSchema": _PARQUET_SCHEMA if parquet else ",".join(COLUMNS),
                "reportFiles": [
                    {"key": data_key, "size": len(data),
                     "md5Checksum": hashlib.md5(data, usedforsecurity=False).hexdigest()}
                ],
            }  # fmt: skip
            text = json.dumps(manifest, separators=(",", ":")).encode()
            await self._put(record, target, destination, manifest_key, text, "application/json")
        except DeliveryRefused as exc:
            _log.warning("Storage Lens export of %s/%s skipped: %s", account, config.config_id,
                exc)  # fmt: skip
            done = LensExport(account, config.config_id, destination.bucket, manifest_key,
                len(rows), delivered=False)  # fmt: skip
        else:
            done = LensExport(account, config.config_id, destination.bucket, manifest_key,
                len(rows), delivered=True)  # fmt: skip
        self._on_export(done)
        return done

    async def _rows(self, account: str, config: LensConfiguration) -> list[MetricRow]:
        figures = []
        for bucket in await self._objects.list_buckets(account):
            if config.covers(bucket.name, bucket.region):
                used = await self._objects.bucket_storage(bucket.name)
                figures.append((bucket, used.bytes, used.objects))
        return metric_rows(account, figures)

    async def _destination(
        self, record: StorageLensRecord, destination: ExportDestination
    ) -> Bucket:
        try:
            target = await self._objects.get_bucket(destination.bucket)
        except NoSuchBucket as exc:
            raise DeliveryRefused(f"the bucket {destination.bucket} does not exist") from exc
        if target.tenant_id != destination.account_id:
            raise DeliveryRefused(
                f"the bucket {destination.bucket} is not account {destination.account_id}'s"
            )
        return target

    async def _put(
        self,
        record: StorageLensRecord,
        target: Bucket,
        destination: ExportDestination,
        key: str,
        data: bytes,
        content_type: str,
    ) -> None:
        allowed = service_may(
            target.policy,
            service=STORAGE_LENS_SERVICE,
            action="s3:PutObject",
            resource=f"arn:aws:s3:::{target.name}/{key}",
            resource_account=target.tenant_id,
            source_arn=record.arn(self._region),
            source_account=record.tenant_id,
            keys={"s3:x-amz-acl": "bucket-owner-full-control"},
        )
        if not allowed:
            raise DeliveryRefused(
                f"the bucket policy of {target.name} does not let {STORAGE_LENS_SERVICE} put {key}"
            )
        encryption = ObjectEncryption(tenant_id=target.tenant_id)
        if destination.kms_key is not None:
            if self._kms_keys is None:
                raise DeliveryRefused("SSE-KMS needs the KMS service")
            try:
                encryption = await self._kms_keys.replica_encryption(
                    target.tenant_id, destination.kms_key, bucket=target.name, key=key,
                    dual_layer=False, region=target.region, payer=record.tenant_id,
                )  # fmt: skip
            except AndromedeError as exc:
                raise DeliveryRefused(f"the KMS key cannot seal the export: {exc}") from exc

        async def body() -> AsyncIterator[bytes]:
            yield data

        await self._objects.put_object(
            target,
            key,
            body(),
            size=len(data),
            headers=ContentHeaders(content_type=content_type),
            owner_id=target.owner_id,
            integrity=BodyIntegrity(),
            encryption=encryption,
        )
