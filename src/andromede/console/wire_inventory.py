"""S3 Inventory's configuration calls on one bucket (decision 0154), for the bucket settings
page: ListBucketInventoryConfigurations read, Put and DeleteBucketInventoryConfiguration made.

Each is S3's own call through ``S3Wire.request``, as the signed-in principal, so S3
authorises (``s3:GetInventoryConfiguration``, ``s3:PutInventoryConfiguration``), validates
(the id, the destination bucket and its region, the quota), audits and answers it as it would
boto3's. The console offers S3's three formats, CSV, ORC and Parquet, all written here
(decision 0170). A configuration is S3's per-id document: adding one with an id already held
replaces it, as ``PutBucketInventoryConfiguration`` does.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Final
from xml.etree.ElementTree import Element, SubElement, tostring

import defusedxml.ElementTree as SafeET

from andromede.console.wire import S3Wire, WireError
from andromede.http.response import Scope
from andromede.iam.model import Principal
from andromede.storage.inventory import FREQUENCIES, OPTIONAL_FIELDS

__all__ = [
    "FORMATS",
    "FREQUENCIES",
    "OPTIONAL_FIELDS",
    "VERSIONS",
    "BucketInventory",
    "InventoryRow",
    "NewInventory",
]

_S3_NS: Final = "http://s3.amazonaws.com/doc/2006-03-01/"
_ARN_PREFIX: Final = "arn:aws:s3:::"
VERSIONS: Final = ("Current", "All")
FORMATS: Final = ("CSV", "ORC", "Parquet")
_MAX_PAGES: Final = 10  # S3 lists 100 a page; 1,000 is S3's quota per bucket


@dataclass(frozen=True, slots=True)
class InventoryRow:
    config_id: str
    enabled: bool
    destination: str  # the bucket's ARN
    destination_prefix: str
    file_format: str
    frequency: str
    versions: str  # All or Current
    filter_prefix: str
    fields: tuple[str, ...]
    encryption: str  # "", SSE-S3, or SSE-KMS with its key


@dataclass(frozen=True, slots=True)
class NewInventory:
    config_id: str
    enabled: bool
    destination_bucket: str  # a name or an ARN
    destination_prefix: str
    frequency: str
    versions: str
    filter_prefix: str
    fields: tuple[str, ...]
    file_format: str = "CSV"


def _text(element: Element, path: str) -> str:
    return (element.findtext(path) or "").strip()


def _row(config: Element) -> InventoryRow:
    target = config.find("Destination/S3BucketDestination")
    if target is None:
        target = Element("S3BucketDestination")
    encryption = ""
    if target.find("Encryption/SSE-S3") is not None:
        encryption = "SSE-S3"
    elif target.find("Encryption/SSE-KMS") is not None:
        encryption = f"SSE-KMS {_text(target, 'Encryption/SSE-KMS/KeyId')}".strip()
    return InventoryRow(
        config_id=_text(config, "Id"),
        enabled=_text(config, "IsEnabled") == "true",
        destination=_text(target, "Bucket"),
        destination_prefix=_text(target, "Prefix"),
        file_format=_text(target, "Format"),
        frequency=_text(config, "Schedule/Frequency"),
        versions=_text(config, "IncludedObjectVersions"),
        filter_prefix=_text(config, "Filter/Prefix"),
        fields=tuple(_text(f, ".") for f in config.iterfind("OptionalFields/Field")),
        encryption=encryption,
    )


def _document(new: NewInventory) -> bytes:
    """An ``InventoryConfiguration`` in S3's element order."""
    root = Element("InventoryConfiguration", {"xmlns": _S3_NS})
    bucket = new.destination_bucket
    if bucket and not bucket.startswith("arn:"):
        bucket = f"{_ARN_PREFIX}{bucket}"
    target = SubElement(SubElement(root, "Destination"), "S3BucketDestination")
    SubElement(target, "Bucket").text = bucket
    SubElement(target, "Format").text = new.file_format
    if new.destination_prefix:
        SubElement(target, "Prefix").text = new.destination_prefix
    SubElement(root, "IsEnabled").text = "true" if new.enabled else "false"
    if new.filter_prefix:
        SubElement(SubElement(root, "Filter"), "Prefix").text = new.filter_prefix
    SubElement(root, "Id").text = new.config_id
    SubElement(root, "IncludedObjectVersions").text = new.versions
    if new.fields:
        optional = SubElement(root, "OptionalFields")
        for name in new.fields:
            SubElement(optional, "Field").text = name
    SubElement(SubElement(root, "Schedule"), "Frequency").text = new.frequency
    return bytes(tostring(root, encoding="utf-8", xml_declaration=True))


class BucketInventory:
    """The inventory calls on ``bucket``, as ``principal`` for the request ``origin``."""

    def __init__(self, s3: S3Wire, origin: Scope, principal: Principal, bucket: str) -> None:
        self._s3 = s3
        self._origin = origin
        self._principal = principal
        self._path = f"/{bucket}"

    async def configurations(self) -> list[InventoryRow]:
        """The bucket's configurations, by id, every page S3 answers (up to its quota)."""
        rows: list[InventoryRow] = []
        query = {"inventory": ""}
        for _ in range(_MAX_PAGES):
            answer = await self._s3.request(self._origin, self._principal, "GET", self._path, query)
            try:
                root: Element = SafeET.fromstring(answer.body)
            except SafeET.ParseError as exc:
                raise WireError("InternalError", "S3's answer could not be read.", 500) from exc
            for element in root.iter():  # S3's namespace off, so that paths read plain tags
                element.tag = element.tag.rsplit("}", 1)[-1]
            rows.extend(_row(c) for c in root.findall("InventoryConfiguration"))
            token = _text(root, "NextContinuationToken")
            if _text(root, "IsTruncated") != "true" or not token:
                break
            query = {"inventory": "", "continuation-token": token}
        return rows

    async def put(self, new: NewInventory) -> None:
        body = _document(new)
        md5 = base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest())
        headers = [
            (b"content-type", b"application/xml"),
            (b"content-length", str(len(body)).encode()),
            (b"content-md5", md5),
        ]
        await self._s3.request(
            self._origin, self._principal, "PUT", self._path,
            {"inventory": "", "id": new.config_id}, headers=headers, body=body,
        )  # fmt: skip

    async def delete(self, config_id: str) -> None:
        # The id is always named: without it S3 would not know which (InvalidArgument).
        await self._s3.request(
            self._origin, self._principal, "DELETE", self._path,
            {"inventory": "", "id": config_id},
        )  # fmt: skip
