"""S3 Inventory (decision 0154): a bucket's inventory configurations, when each report is due,
and what a report's rows and files are called and hold.

The configurations of a bucket are one document among its documents (``INVENTORY_DOCUMENT``,
a format-versioned JSON list, up to the quota, 1,000 as on S3); which report of each
configuration a gateway has claimed and delivered is another (``INVENTORY_RUNS_DOCUMENT``),
written by compare-and-set only, so that one gateway of many makes each report. The report
itself is ``storage/inventory_report.py``'s.

A report goes into the destination bucket as S3 lays it out:
``<prefix>/<source>/<id>/data/<uuid>.csv.gz`` (the data files),
``<prefix>/<source>/<id>/<YYYY-MM-DDTHH-MMZ>/manifest.json`` and ``manifest.checksum``, and
``<prefix>/<source>/<id>/hive/dt=<YYYY-MM-DD-HH-MM>/symlink.txt``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import quote_plus

__all__ = [
    "BASE_FIELDS",
    "FREQUENCIES",
    "INVENTORY_DOCUMENT",
    "INVENTORY_RUNS_DOCUMENT",
    "MANIFEST_VERSION",
    "OPTIONAL_FIELDS",
    "InventoryConfiguration",
    "InventoryRow",
    "InventoryRuns",
    "RunState",
    "configurations_from_text",
    "configurations_to_text",
    "report_slot",
]

INVENTORY_DOCUMENT: Final = "inventory"
INVENTORY_RUNS_DOCUMENT: Final = "inventory-runs"
MANIFEST_VERSION: Final = "2016-11-30"  # the manifest format S3 writes
_FORMAT_VERSION: Final = 1

FREQUENCIES: Final = ("Daily", "Weekly")
# S3's optional fields, in the order a report's columns follow (whatever the order asked):
# its manifests' (ETag before StorageClass, decision 0170 corrected 0154's order).
OPTIONAL_FIELDS: Final = (
    "Size",
    "LastModifiedDate",
    "ETag",
    "StorageClass",
    "IsMultipartUploaded",
    "ReplicationStatus",
    "EncryptionStatus",
    "ObjectLockRetainUntilDate",
    "ObjectLockMode",
    "ObjectLockLegalHoldStatus",
    "IntelligentTieringAccessTier",
    "BucketKeyStatus",
    "ChecksumAlgorithm",
    "ObjectAccessControlList",
    "ObjectOwner",
)
# The fields that need the object's own row (not only what a listing gives).
RECORD_FIELDS: Final = frozenset(
    {
        "ReplicationStatus",
        "EncryptionStatus",
        "ObjectLockRetainUntilDate",
        "ObjectLockMode",
        "ObjectLockLegalHoldStatus",
        "BucketKeyStatus",
        "ObjectAccessControlList",
    }
)
BASE_FIELDS: Final = ("Bucket", "Key")
_VERSION_FIELDS: Final = ("VersionId", "IsLatest", "IsDeleteMarker")


@dataclass(frozen=True, slots=True)
class InventoryConfiguration:
    """One ``InventoryConfiguration`` as S3 takes it. ``kms_key_id`` set: the report's files
    are sealed under that KMS key (``SSE-KMS``); ``sse_s3``: ``SSE-S3`` was asked (every
    object here is sealed so anyway)."""

    config_id: str
    enabled: bool
    destination_bucket: str
    destination_account: str | None = None
    file_format: str = "CSV"
    destination_prefix: str = ""
    sse_s3: bool = False
    kms_key_id: str | None = None
    filter_prefix: str | None = None
    all_versions: bool = False
    optional_fields: tuple[str, ...] = ()
    frequency: str = "Daily"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.config_id,
            "enabled": self.enabled,
            "bucket": self.destination_bucket,
            "account": self.destination_account,
            "format": self.file_format,
            "prefix": self.destination_prefix,
            "sse_s3": self.sse_s3,
            "kms": self.kms_key_id,
            "filter": self.filter_prefix,
            "all": self.all_versions,
            "fields": list(self.optional_fields),
            "frequency": self.frequency,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> InventoryConfiguration:
        return cls(
            config_id=str(data["id"]),
            enabled=bool(data["enabled"]),
            destination_bucket=str(data["bucket"]),
            destination_account=data.get("account"),
            file_format=str(data.get("format") or "CSV"),
            destination_prefix=str(data.get("prefix") or ""),
            sse_s3=bool(data.get("sse_s3")),
            kms_key_id=data.get("kms"),
            filter_prefix=data.get("filter"),
            all_versions=bool(data.get("all")),
            optional_fields=tuple(str(f) for f in data.get("fields") or ()),
            frequency=str(data.get("frequency") or "Daily"),
        )

    @property
    def columns(self) -> tuple[str, ...]:
        """The report's columns: S3's fixed ones, then the optional ones asked, in S3's order."""
        asked = set(self.optional_fields)
        return (
            *BASE_FIELDS,
            *(_VERSION_FIELDS if self.all_versions else ()),
            *(name for name in OPTIONAL_FIELDS if name in asked),
        )

    @property
    def needs_records(self) -> bool:
        return not RECORD_FIELDS.isdisjoint(self.optional_fields)

    def base_key(self, source: str) -> str:
        """``<prefix>/<source>/<id>``: where this configuration's reports go."""
        prefix = self.destination_prefix.rstrip("/")
        return f"{prefix}/{source}/{self.config_id}" if prefix else f"{source}/{self.config_id}"

    def ordered(self) -> InventoryConfiguration:
        """The same configuration with its optional fields in S3's order, without repeats."""
        asked = set(self.optional_fields)
        return replace(self, optional_fields=tuple(f for f in OPTIONAL_FIELDS if f in asked))


def configurations_to_text(configs: Sequence[InventoryConfiguration]) -> str | None:
    """The bucket's document (None: it has no configuration left)."""
    if not configs:
        return None
    return json.dumps(
        {"v": _FORMAT_VERSION, "configurations": [c.to_json() for c in configs]},
        separators=(",", ":"),
    )


def configurations_from_text(text: str | None) -> list[InventoryConfiguration]:
    if text is None:
        return []
    data = json.loads(text)
    return [InventoryConfiguration.from_json(item) for item in data["configurations"]]


def report_slot(frequency: str, now: datetime) -> str:
    """The report period ``now`` is in: the UTC day for Daily, the week starting on the last
    Sunday for Weekly (S3 delivers weekly reports on Sundays)."""
    day = now.date()
    if frequency == "Weekly":
        day = day - timedelta(days=(day.weekday() + 1) % 7)
    return day.isoformat()


@dataclass(frozen=True, slots=True)
class RunState:
    """A configuration's last claimed report: its period, whether it was delivered, and until
    when the gateway that claimed it holds it (after which another may take it over)."""

    slot: str
    done: bool
    held_until: datetime

    def due(self, slot: str, now: datetime) -> bool:
        if self.slot != slot:
            return True
        return not self.done and self.held_until <= now


@dataclass(frozen=True, slots=True)
class InventoryRuns:
    """The ``INVENTORY_RUNS_DOCUMENT`` of a bucket, by configuration id."""

    runs: Mapping[str, RunState] = field(default_factory=dict)

    def to_text(self) -> str:
        return json.dumps(
            {
                "v": _FORMAT_VERSION,
                "runs": {
                    cid: [run.slot, run.done, run.held_until.isoformat()]
                    for cid, run in sorted(self.runs.items())
                },
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_text(cls, text: str | None) -> InventoryRuns:
        if text is None:
            return cls()
        data = json.loads(text)
        return cls(
            {
                str(cid): RunState(str(slot), bool(done), datetime.fromisoformat(until))
                for cid, (slot, done, until) in data["runs"].items()
            }
        )

    def with_run(self, config_id: str, run: RunState, keep: set[str]) -> InventoryRuns:
        """These runs with ``config_id``'s replaced, dropping those of configurations gone."""
        runs = {cid: state for cid, state in self.runs.items() if cid in keep}
        runs[config_id] = run
        return InventoryRuns(runs)


@dataclass(frozen=True, slots=True)
class InventoryRow:
    """What a report says of one object version or delete marker (None: not known)."""

    key: str
    version_id: str | None = None
    is_latest: bool = True
    delete_marker: bool = False
    size: int | None = None
    last_modified: datetime | None = None
    etag: str | None = None
    replication_status: str | None = None
    encryption_status: str | None = None
    retain_until: datetime | None = None
    lock_mode: str | None = None
    legal_hold: bool | None = None
    bucket_key: bool | None = None
    checksum_algorithm: str | None = None
    acl_json: str | None = None
    owner_id: str | None = None

    def values(self, bucket: str, columns: Sequence[str]) -> list[str]:
        """The row's CSV values for ``columns`` (S3's: the key URL-encoded, dates ISO 8601
        with milliseconds, empty where a field does not apply, as to a delete marker)."""
        return [self._value(bucket, column) for column in columns]

    def _value(self, bucket: str, column: str) -> str:
        marker = self.delete_marker
        if column == "Bucket":
            return bucket
        if column == "Key":
            return quote_plus(self.key, safe="/")
        if column == "VersionId":
            return self.version_id or ""
        if column == "IsLatest":
            return _flag(self.is_latest)
        if column == "IsDeleteMarker":
            return _flag(marker)
        if marker and column not in ("LastModifiedDate", "ObjectOwner"):
            return ""
        if column == "Size":
            return "" if self.size is None else str(self.size)
        if column == "LastModifiedDate":
            return _date(self.last_modified)
        if column == "StorageClass":
            return "STANDARD"  # one storage class here
        if column == "ETag":
            return self.etag or ""
        if column == "IsMultipartUploaded":
            return _flag("-" in (self.etag or ""))
        if column == "ReplicationStatus":
            return self.replication_status or ""
        if column == "EncryptionStatus":
            return self.encryption_status or ""
        if column == "ObjectLockRetainUntilDate":
            return _date(self.retain_until)
        if column == "ObjectLockMode":
            return self.lock_mode or ""
        if column == "ObjectLockLegalHoldStatus":
            return "ON" if self.legal_hold else "OFF"
        if column == "BucketKeyStatus":
            return "ENABLED" if self.bucket_key else "DISABLED"
        if column == "ChecksumAlgorithm":
            return self.checksum_algorithm or ""
        if column == "ObjectAccessControlList":
            if self.acl_json is None:
                return ""
            return base64.b64encode(self.acl_json.encode()).decode()
        if column == "ObjectOwner":
            return self.owner_id or ""
        return ""  # IntelligentTieringAccessTier: no such tier here


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _date(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
