"""S3 Inventory's pure core (decision 0154): what a report's row says of each field, the
report periods, and when a claimed report may be taken over."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from andromede.storage.inventory import (
    InventoryConfiguration,
    InventoryRow,
    InventoryRuns,
    RunState,
    configurations_from_text,
    configurations_to_text,
    report_slot,
)

MOMENT = datetime(2026, 12, 5, 10, 30, 15, 123456, tzinfo=UTC)
EVERY_FIELD = InventoryConfiguration(
    "all",
    True,
    "dest",
    all_versions=True,
    optional_fields=(
        "ObjectOwner",
        "Size",
        "LastModifiedDate",
        "StorageClass",
        "ETag",
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
    ),
).ordered()


def test_every_optional_field_has_its_column_in_s3s_order() -> None:
    acl = json.dumps({"version": "2022-11-10", "status": "AVAILABLE", "grants": []})
    row = InventoryRow(
        key="a b/c+d é",
        version_id="v1",
        is_latest=False,
        size=42,
        last_modified=MOMENT,
        etag="abc-3",
        replication_status="COMPLETED",
        encryption_status="SSE-KMS",
        retain_until=MOMENT + timedelta(days=1),
        lock_mode="COMPLIANCE",
        legal_hold=True,
        bucket_key=True,
        checksum_algorithm="CRC32C",
        acl_json=acl,
        owner_id="owner-1",
    )
    values = dict(zip(EVERY_FIELD.columns, row.values("src", EVERY_FIELD.columns), strict=True))
    assert values == {
        "Bucket": "src",
        "Key": "a+b/c%2Bd+%C3%A9",
        "VersionId": "v1",
        "IsLatest": "false",
        "IsDeleteMarker": "false",
        "Size": "42",
        "LastModifiedDate": "2026-12-05T10:30:15.123Z",
        "StorageClass": "STANDARD",
        "ETag": "abc-3",
        "IsMultipartUploaded": "true",
        "ReplicationStatus": "COMPLETED",
        "EncryptionStatus": "SSE-KMS",
        "ObjectLockRetainUntilDate": "2026-12-06T10:30:15.123Z",
        "ObjectLockMode": "COMPLIANCE",
        "ObjectLockLegalHoldStatus": "ON",
        "IntelligentTieringAccessTier": "",
        "BucketKeyStatus": "ENABLED",
        "ChecksumAlgorithm": "CRC32C",
        "ObjectAccessControlList": base64.b64encode(acl.encode()).decode(),
        "ObjectOwner": "owner-1",
    }


def test_a_delete_marker_has_no_object_fields() -> None:
    marker = InventoryRow(key="k", version_id="v2", delete_marker=True, last_modified=MOMENT)
    values = marker.values("src", EVERY_FIELD.columns)
    shown = {c: v for c, v in zip(EVERY_FIELD.columns, values, strict=True) if v}
    assert shown == {
        "Bucket": "src",
        "Key": "k",
        "VersionId": "v2",
        "IsLatest": "true",
        "IsDeleteMarker": "true",
        "LastModifiedDate": "2026-12-05T10:30:15.123Z",
    }


def test_a_replication_status_pending_or_failed_is_shown_and_none_is_empty() -> None:
    config = InventoryConfiguration("r", True, "d", optional_fields=("ReplicationStatus",))
    for status in ("PENDING", "FAILED", "REPLICA"):
        assert InventoryRow("k", replication_status=status).values("b", config.columns)[2] == status
    assert InventoryRow("k").values("b", config.columns) == ["b", "k", ""]


@pytest.mark.parametrize(
    ("frequency", "moment", "slot"),
    [
        ("Daily", datetime(2026, 12, 5, 23, 59, tzinfo=UTC), "2026-12-05"),
        ("Weekly", datetime(2026, 12, 5, 23, 59, tzinfo=UTC), "2026-11-29"),  # Saturday
        ("Weekly", datetime(2026, 12, 6, 0, 0, tzinfo=UTC), "2026-12-06"),  # Sunday
        ("Weekly", datetime(2026, 12, 7, 0, 0, tzinfo=UTC), "2026-12-06"),  # Monday
    ],
)
def test_report_periods(frequency: str, moment: datetime, slot: str) -> None:
    assert report_slot(frequency, moment) == slot


def test_a_claim_is_due_again_in_a_new_period_or_once_its_holder_ran_out() -> None:
    held = RunState("2026-12-05", False, MOMENT)
    assert not held.due("2026-12-05", MOMENT - timedelta(seconds=1))
    assert held.due("2026-12-05", MOMENT)
    done = RunState("2026-12-05", True, MOMENT)
    assert not done.due("2026-12-05", MOMENT + timedelta(days=0, hours=5))
    assert done.due("2026-12-06", MOMENT)
    runs = InventoryRuns({"a": held, "gone": done}).with_run("b", done, keep={"a", "b"})
    assert InventoryRuns.from_text(runs.to_text()) == runs
    assert set(runs.runs) == {"a", "b"}


def test_the_configurations_document_round_trips() -> None:
    configs = [
        EVERY_FIELD,
        InventoryConfiguration("k", False, "d", kms_key_id="arn:aws:kms:r:1:key/x"),
    ]
    text = configurations_to_text(configs)
    assert text is not None and json.loads(text)["v"] == 1
    assert configurations_from_text(text) == configs
    assert configurations_to_text([]) is None and configurations_from_text(None) == []
    assert EVERY_FIELD.base_key("src") == "src/all"
    prefixed = InventoryConfiguration("i", True, "d", destination_prefix="inv/")
    assert prefixed.base_key("src") == "inv/src/i"
