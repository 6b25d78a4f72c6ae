"""Pure domain types of object storage: buckets, objects, their segments, multipart uploads.

No I/O here. An object's bytes live in one or more *blobs* (one per single PUT, one per part of a
completed multipart upload, in part order); its metadata row lists those blobs as *segments*. A
record carries ``format_version`` so rows written by this release stay readable by later ones.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from andromede.storage.acl import AccessControlList

__all__ = [
    "BUCKET_ACCESS_FIELDS",
    "RECORD_FORMAT_VERSION",
    "Bucket",
    "Checksum",
    "ChecksumAlgorithm",
    "ChecksumType",
    "ContentHeaders",
    "ListPage",
    "MultipartUpload",
    "ObjectOwnership",
    "ObjectRecord",
    "ObjectSummary",
    "Part",
    "PublicAccessBlock",
    "Segment",
]

RECORD_FORMAT_VERSION = 1

_T = TypeVar("_T")


class ChecksumAlgorithm(enum.StrEnum):
    """The additional checksums S3 clients may ask for (``x-amz-checksum-<lower name>``)."""

    CRC32 = "CRC32"
    CRC32C = "CRC32C"
    CRC64NVME = "CRC64NVME"
    SHA1 = "SHA1"
    SHA256 = "SHA256"

    @property
    def header(self) -> str:
        return f"x-amz-checksum-{self.value.lower()}"

    @property
    def is_crc(self) -> bool:
        return self.value.startswith("CRC")


class ChecksumType(enum.StrEnum):
    """How an object's checksum relates to its parts (``x-amz-checksum-type``)."""

    FULL_OBJECT = "FULL_OBJECT"  # the checksum of the whole byte stream
    COMPOSITE = "COMPOSITE"  # checksum of the concatenated part checksums, suffixed "-N"


@dataclass(frozen=True, slots=True)
class Checksum:
    """A checksum value as S3 shows it: base64 of the digest, ``-N`` suffix when composite."""

    algorithm: ChecksumAlgorithm
    value: str
    type: ChecksumType = ChecksumType.FULL_OBJECT


@dataclass(frozen=True, slots=True)
class ContentHeaders:
    """The representation headers S3 stores with an object and returns on GET/HEAD."""

    content_type: str = "binary/octet-stream"
    content_encoding: str | None = None
    content_disposition: str | None = None
    content_language: str | None = None
    cache_control: str | None = None
    expires: str | None = None
    user_metadata: Mapping[str, str] = field(default_factory=dict)  # names lower-case, no prefix


@dataclass(frozen=True, slots=True)
class Bucket:
    name: str
    tenant_id: str
    owner_id: str  # canonical user id of the owner (the tenant's root user for now)
    region: str
    created_at: datetime
    # Access configuration, read with the bucket on every request (one row, no extra query).
    # None: no ownership controls (deleted), which S3 treats as ObjectWriter.
    object_ownership: ObjectOwnership | None = field(
        default_factory=lambda: ObjectOwnership.BUCKET_OWNER_ENFORCED
    )
    policy: str | None = None  # the bucket policy's JSON text, as the owner sent it
    public_access_block: PublicAccessBlock | None = None
    acl: AccessControlList | None = None  # None: the owner's private ACL

    @property
    def acls_enabled(self) -> bool:
        return self.object_ownership is not ObjectOwnership.BUCKET_OWNER_ENFORCED


class ObjectOwnership(enum.StrEnum):
    """Who owns uploaded objects, and whether ACLs count (S3 Object Ownership)."""

    BUCKET_OWNER_ENFORCED = "BucketOwnerEnforced"  # ACLs disabled; the default since 2023
    BUCKET_OWNER_PREFERRED = "BucketOwnerPreferred"
    OBJECT_WRITER = "ObjectWriter"


@dataclass(frozen=True, slots=True)
class PublicAccessBlock:
    """The four Block Public Access switches of a bucket; all on for new buckets, as on AWS."""

    block_public_acls: bool = True
    ignore_public_acls: bool = True
    block_public_policy: bool = True
    restrict_public_buckets: bool = True

    def to_json(self) -> str:
        return json.dumps(
            [
                self.block_public_acls,
                self.ignore_public_acls,
                self.block_public_policy,
                self.restrict_public_buckets,
            ]
        )

    @classmethod
    def from_json(cls, text: str) -> PublicAccessBlock:
        flags = json.loads(text)
        return cls(*(bool(flag) for flag in flags))


BUCKET_ACCESS_FIELDS = frozenset({"object_ownership", "policy", "public_access_block", "acl"})


@dataclass(frozen=True, slots=True)
class Segment:
    """One blob of an object's bytes, in order. ``part_number`` is 0 for a single PUT."""

    blob_id: str
    size: int
    part_number: int = 0
    etag: str = ""  # hex MD5 of this segment (for parts: the part's ETag)
    checksum: Checksum | None = None  # the part's own checksum, for composite checksums


@dataclass(frozen=True, slots=True)
class ObjectSummary:
    """What a listing shows of an object: no segments, no headers (cheaper to load)."""

    key: str
    size: int
    etag: str
    last_modified: datetime
    owner_id: str
    checksum_algorithm: ChecksumAlgorithm | None = None
    checksum_type: ChecksumType | None = None


@dataclass(frozen=True, slots=True)
class ObjectRecord:
    """A committed object. It exists from the moment this row commits."""

    bucket: str
    key: str
    size: int
    etag: str  # without quotes: hex MD5, or "<hex md5 of md5s>-<N>" after multipart
    last_modified: datetime  # UTC
    headers: ContentHeaders
    segments: tuple[Segment, ...]
    owner_id: str
    checksum: Checksum | None = None
    format_version: int = RECORD_FORMAT_VERSION
    acl: AccessControlList | None = None  # None: the owner's private ACL

    @property
    def summary(self) -> ObjectSummary:
        checksum = self.checksum
        return ObjectSummary(
            key=self.key,
            size=self.size,
            etag=self.etag,
            last_modified=self.last_modified,
            owner_id=self.owner_id,
            checksum_algorithm=checksum.algorithm if checksum else None,
            checksum_type=checksum.type if checksum else None,
        )

    @property
    def parts_count(self) -> int | None:
        """Number of parts for a multipart object, None for a single PUT."""
        if self.segments and self.segments[0].part_number > 0:
            return len(self.segments)
        return None


@dataclass(frozen=True, slots=True)
class MultipartUpload:
    bucket: str
    key: str
    upload_id: str
    initiated: datetime
    owner_id: str
    headers: ContentHeaders
    checksum_algorithm: ChecksumAlgorithm | None = None
    checksum_type: ChecksumType | None = None
    format_version: int = RECORD_FORMAT_VERSION
    acl: AccessControlList | None = None  # given to the completed object


@dataclass(frozen=True, slots=True)
class Part:
    upload_id: str
    part_number: int
    blob_id: str
    size: int
    etag: str  # hex MD5, without quotes
    last_modified: datetime
    checksum: Checksum | None = None


@dataclass(frozen=True, slots=True)
class ListPage(Generic[_T]):
    """One page of a listing: the entries, and whether more follow after the last one."""

    items: tuple[_T, ...]
    truncated: bool
