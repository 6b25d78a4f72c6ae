"""Where a Batch Operations job's objects come from (decision 0152 and its addenda): a
``Manifest`` (a CSV of ``Bucket,Key[,VersionId]``, or an S3 Inventory report's
``manifest.json``) or a ``ManifestGenerator`` (``S3JobManifestGenerator``: the source bucket
listed by the worker, filtered, the list written out if asked). Parsed from CreateJob into the
job's document and written back in DescribeJob; the reading is the worker's
(``storage/batch_manifests.py``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from xml.etree.ElementTree import Element

from andromede.http.xml import XmlWriter
from andromede.s3control.errors import S3ControlError
from andromede.s3control.job_operations import bad, child, local, text
from andromede.storage.batch_manifests import (
    GENERATED_FORMAT,
    INVENTORY_FORMAT,
    MANIFEST_FORMAT,
    REPLICATION_STATUSES,
)
from andromede.storage.batch_runner import bucket_of_arn, split_object_arn

__all__ = ["parse_generator", "parse_manifest", "write_manifest"]

_FIELDS = (["Bucket", "Key"], ["Bucket", "Key", "VersionId"])
_STORAGE_CLASSES = frozenset(
    {"STANDARD", "STANDARD_IA", "ONEZONE_IA", "GLACIER", "INTELLIGENT_TIERING",
     "DEEP_ARCHIVE", "GLACIER_IR", "REDUCED_REDUNDANCY", "OUTPOSTS", "SNOW", "EXPRESS_ONEZONE"}
)  # fmt: skip


def _members(parent: Element, name: str) -> list[str] | None:
    node = child(parent, name)
    if node is None:
        return None
    return [(m.text or "").strip() for m in node]


def _only(node: Element, served: set[str]) -> None:
    for element in node:
        if local(element.tag) not in served:
            raise S3ControlError("MalformedXML")


def parse_manifest(node: Element) -> dict[str, Any]:
    spec = child(node, "Spec")
    location = child(node, "Location")
    if spec is None or location is None:
        raise bad("Manifest needs a Spec and a Location")
    manifest_format = text(spec, "Format", required=True)
    fields = _members(spec, "Fields") or []
    if manifest_format == MANIFEST_FORMAT:
        if fields not in _FIELDS:
            raise bad("Fields must be Bucket,Key or Bucket,Key,VersionId")
    elif manifest_format == INVENTORY_FORMAT:
        fields = []  # the inventory's manifest.json names its columns
    else:
        raise bad(f"The manifest's Format is {MANIFEST_FORMAT} or {INVENTORY_FORMAT}")
    arn = text(location, "ObjectArn", required=True) or ""
    if split_object_arn(arn) is None:
        raise bad("ObjectArn must be an object's ARN (arn:aws:s3:::bucket/key)")
    return {
        "format": manifest_format,
        "fields": fields,
        "object_arn": arn,
        "version_id": text(location, "ObjectVersionId"),
        "etag": text(location, "ETag", required=True),
    }


def _time(value: str, name: str) -> str:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise bad(f"{name} must be an ISO 8601 timestamp") from exc
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC).isoformat()


def _size(node: Element, name: str) -> int | None:
    value = text(node, name)
    if value is None:
        return None
    try:
        size = int(value)
    except ValueError as exc:
        raise bad(f"{name} must be a number of bytes") from exc
    if size < 0:
        raise bad(f"{name} must be a number of bytes")
    return size


def parse_generator(node: Element) -> dict[str, Any]:
    """``ManifestGenerator``'s ``S3JobManifestGenerator`` as the job's ``generator``."""
    _only(node, {"S3JobManifestGenerator"})
    spec = child(node, "S3JobManifestGenerator")
    if spec is None:
        raise bad("ManifestGenerator needs an S3JobManifestGenerator")
    _only(spec, {"ExpectedBucketOwner", "SourceBucket", "ManifestOutputLocation", "Filter",
                 "EnableManifestOutput"})  # fmt: skip
    source = text(spec, "SourceBucket", required=True) or ""
    if bucket_of_arn(source) is None:
        raise bad("SourceBucket must be a bucket's ARN (arn:aws:s3:::bucket)")
    enabled = (text(spec, "EnableManifestOutput", required=True) or "").lower()
    if enabled not in ("true", "false"):
        raise S3ControlError("MalformedXML")
    generator: dict[str, Any] = {
        "source_bucket": source,
        "expected_owner": text(spec, "ExpectedBucketOwner"),
        "output": None,
        "filter": _filter(child(spec, "Filter")),
    }
    location = child(spec, "ManifestOutputLocation")
    if enabled == "true":
        if location is None:
            raise bad("EnableManifestOutput needs a ManifestOutputLocation")
        _only(location, {"ExpectedManifestBucketOwner", "Bucket", "ManifestPrefix",
                         "ManifestEncryption", "ManifestFormat"})  # fmt: skip
        encryption = child(location, "ManifestEncryption")
        if encryption is not None and child(encryption, "SSEKMS") is not None:
            raise S3ControlError("NotImplemented", "A manifest sealed under SSE-KMS is not served")
        bucket = text(location, "Bucket", required=True) or ""
        if bucket_of_arn(bucket) is None:
            raise bad("ManifestOutputLocation's Bucket must be a bucket's ARN")
        if text(location, "ManifestFormat", required=True) != GENERATED_FORMAT:
            raise bad(f"ManifestFormat must be {GENERATED_FORMAT}")
        generator["output"] = {"bucket": bucket, "prefix": text(location, "ManifestPrefix")}
    return generator


def _filter(node: Element | None) -> dict[str, Any]:
    if node is None:
        return {}
    _only(node, {"EligibleForReplication", "CreatedAfter", "CreatedBefore",
                 "ObjectReplicationStatuses", "KeyNameConstraint", "ObjectSizeGreaterThanBytes",
                 "ObjectSizeLessThanBytes", "MatchAnyStorageClass"})  # fmt: skip
    found: dict[str, Any] = {}
    eligible = (text(node, "EligibleForReplication") or "").lower()
    if eligible not in ("", "true", "false"):
        raise S3ControlError("MalformedXML")
    if eligible == "true":
        found["eligible_for_replication"] = True
    for name, key in (("CreatedAfter", "created_after"), ("CreatedBefore", "created_before")):
        value = text(node, name)
        if value is not None:
            found[key] = _time(value, name)
    statuses = _members(node, "ObjectReplicationStatuses")
    if statuses is not None:
        if not statuses or any(s not in REPLICATION_STATUSES for s in statuses):
            raise bad("ObjectReplicationStatuses are NONE, FAILED, COMPLETED or REPLICA")
        found["replication_statuses"] = statuses
    constraint = child(node, "KeyNameConstraint")
    if constraint is not None:
        _only(constraint, {"MatchAnyPrefix", "MatchAnySuffix", "MatchAnySubstring"})
        for name, key in (("MatchAnyPrefix", "prefixes"), ("MatchAnySuffix", "suffixes"),
                          ("MatchAnySubstring", "substrings")):  # fmt: skip
            values = _members(constraint, name)
            if values is not None:
                found[key] = values
    for name, key in (("ObjectSizeGreaterThanBytes", "size_above"),
                      ("ObjectSizeLessThanBytes", "size_below")):  # fmt: skip
        size = _size(node, name)
        if size is not None:
            found[key] = size
    classes = _members(node, "MatchAnyStorageClass")
    if classes is not None:
        if any(c not in _STORAGE_CLASSES for c in classes):
            raise bad("MatchAnyStorageClass names an unknown storage class")
        found["storage_classes"] = classes
    return found


def write_manifest(xml: XmlWriter, manifest: dict[str, Any]) -> None:
    """DescribeJob's ``Manifest`` or ``ManifestGenerator``, as CreateJob took it."""
    generator = manifest.get("generator")
    if generator is not None:
        xml.open("ManifestGenerator")
        xml.open("S3JobManifestGenerator")
        if generator.get("expected_owner"):
            xml.element("ExpectedBucketOwner", generator["expected_owner"])
        xml.element("SourceBucket", generator["source_bucket"])
        output = generator.get("output")
        if output is not None:
            xml.open("ManifestOutputLocation")
            xml.element("Bucket", output["bucket"])
            if output.get("prefix"):
                xml.element("ManifestPrefix", output["prefix"])
            xml.element("ManifestFormat", GENERATED_FORMAT)
            xml.close("ManifestOutputLocation")
        _write_filter(xml, generator.get("filter") or {})
        xml.element("EnableManifestOutput", output is not None)
        xml.close("S3JobManifestGenerator")
        xml.close("ManifestGenerator")
        return
    xml.open("Manifest")
    xml.open("Spec")
    xml.element("Format", manifest["format"])
    if manifest["fields"]:
        xml.open("Fields")
        xml.elements("member", manifest["fields"])
        xml.close("Fields")
    xml.close("Spec")
    xml.open("Location")
    xml.element("ObjectArn", manifest["object_arn"])
    if manifest.get("version_id"):
        xml.element("ObjectVersionId", manifest["version_id"])
    xml.element("ETag", manifest["etag"])
    xml.close("Location")
    xml.close("Manifest")


def _write_filter(xml: XmlWriter, found: dict[str, Any]) -> None:
    if not found:
        return
    xml.open("Filter")
    if found.get("eligible_for_replication"):
        xml.element("EligibleForReplication", True)
    for key, name in (("created_after", "CreatedAfter"), ("created_before", "CreatedBefore")):
        if found.get(key):
            xml.element(name, datetime.fromisoformat(found[key]).strftime("%Y-%m-%dT%H:%M:%SZ"))
    if found.get("replication_statuses"):
        xml.open("ObjectReplicationStatuses")
        xml.elements("member", found["replication_statuses"])
        xml.close("ObjectReplicationStatuses")
    if any(k in found for k in ("prefixes", "suffixes", "substrings")):
        xml.open("KeyNameConstraint")
        for key, name in (("prefixes", "MatchAnyPrefix"), ("suffixes", "MatchAnySuffix"),
                          ("substrings", "MatchAnySubstring")):  # fmt: skip
            if key in found:
                xml.open(name)
                xml.elements("member", found[key])
                xml.close(name)
        xml.close("KeyNameConstraint")
    if "size_above" in found:
        xml.element("ObjectSizeGreaterThanBytes", found["size_above"])
    if "size_below" in found:
        xml.element("ObjectSizeLessThanBytes", found["size_below"])
    if found.get("storage_classes"):
        xml.open("MatchAnyStorageClass")
        xml.elements("member", found["storage_classes"])
        xml.close("MatchAnyStorageClass")
    xml.close("Filter")
