"""A listing function's JSON answer (decision 0399): AWS lets a function transforming
ListObjects or ListObjectsV2 return ``listBucketResult`` — the listing as JSON, in AWS's
camel-cased field names — instead of ``listResultXml``; S3 Object Lambda writes it as the
``ListBucketResult`` document the caller's SDK parses.

ListObjects' fields: ``name``, ``prefix``, ``marker``, ``nextMarker``, ``maxKeys``,
``delimiter``, ``encodingType``, ``isTruncated``; ListObjectsV2's: ``name``, ``prefix``,
``delimiter``, ``maxKeys``, ``encodingType``, ``keyCount``, ``isTruncated``,
``continuationToken``, ``nextContinuationToken``, ``startAfter``; both ``contents`` (``key``,
``lastModified``, ``eTag``, ``checksumAlgorithm``, ``size``, ``owner`` {``displayName``,
``id``}, ``storageClass``) and ``commonPrefixes`` (``prefix``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from andromede.http.xml import XmlWriter

__all__ = ["S3_NAMESPACE", "ListingShapeError", "list_bucket_result_xml"]

S3_NAMESPACE: Final = "http://s3.amazonaws.com/doc/2006-03-01/"

_V1_FIELDS: Final = (
    ("name", "Name"),
    ("prefix", "Prefix"),
    ("marker", "Marker"),
    ("nextMarker", "NextMarker"),
    ("maxKeys", "MaxKeys"),
    ("delimiter", "Delimiter"),
    ("encodingType", "EncodingType"),
    ("isTruncated", "IsTruncated"),
)
_V2_FIELDS: Final = (
    ("name", "Name"),
    ("prefix", "Prefix"),
    ("delimiter", "Delimiter"),
    ("maxKeys", "MaxKeys"),
    ("encodingType", "EncodingType"),
    ("keyCount", "KeyCount"),
    ("isTruncated", "IsTruncated"),
    ("continuationToken", "ContinuationToken"),
    ("nextContinuationToken", "NextContinuationToken"),
    ("startAfter", "StartAfter"),
)
_CONTENT_FIELDS: Final = (
    ("key", "Key"),
    ("lastModified", "LastModified"),
    ("eTag", "ETag"),
    ("checksumAlgorithm", "ChecksumAlgorithm"),
    ("size", "Size"),
)


class ListingShapeError(ValueError):
    """``listBucketResult`` is not the shape AWS documents."""


def _scalar(value: object, where: str) -> str | int | bool | None:
    if value is None or isinstance(value, str | int | bool):
        return value
    raise ListingShapeError(f"{where} is not a string, number or boolean")


def _objects(value: object, where: str) -> list[Mapping[str, object]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ListingShapeError(f"{where} is not a list of objects")
    return value


def list_bucket_result_xml(operation: str, result: object) -> bytes:
    """S3's ``ListBucketResult`` document for ``operation`` (ListObjects, ListObjectsV2) out of
    a function's ``listBucketResult``; ListingShapeError when it is not AWS's shape."""
    if not isinstance(result, dict):
        raise ListingShapeError("listBucketResult is not an object")
    xml = XmlWriter("ListBucketResult", namespace=S3_NAMESPACE)
    for field, element in _V2_FIELDS if operation == "ListObjectsV2" else _V1_FIELDS:
        xml.element(element, _scalar(result.get(field), field))
    for entry in _objects(result.get("contents"), "contents"):
        xml.open("Contents")
        for field, element in _CONTENT_FIELDS:
            xml.element(element, _scalar(entry.get(field), f"contents.{field}"))
        owner = entry.get("owner")
        if owner is not None:
            if not isinstance(owner, dict):
                raise ListingShapeError("contents.owner is not an object")
            xml.open("Owner")
            xml.element("ID", _scalar(owner.get("id"), "owner.id"))
            xml.element("DisplayName", _scalar(owner.get("displayName"), "owner.displayName"))
            xml.close("Owner")
        xml.element("StorageClass", _scalar(entry.get("storageClass"), "contents.storageClass"))
        xml.close("Contents")
    for entry in _objects(result.get("commonPrefixes"), "commonPrefixes"):
        xml.open("CommonPrefixes")
        xml.element("Prefix", _scalar(entry.get("prefix"), "commonPrefixes.prefix"))
        xml.close("CommonPrefixes")
    return xml.document()
