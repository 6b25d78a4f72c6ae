"""Pure domain types of object storage: buckets, objects, their segments, multipart uploads.

No I/O here. An object's bytes live in one or more *blobs* (one per single PUT, one per part of a
completed multipart upload, in part order); its metadata row lists those blobs as *segments*. A
record carries ``format_version`` so rows written by this release stay readable by later ones.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Final, Generic, TypeVar

from andromede.storage.acl import AccessControlList
from andromede.storage.notification import NotificationConfiguration
from andromede.storage.object_lock import ObjectLock, ObjectLockConfiguration
from andromede.storage.replication import ReplicationConfiguration

__all__ = [
    "BUCKET_ACCESS_FIELDS",
    "RECORD_FORMAT_VERSION",
    "AccessPointUse",
    "Bucket",
    "BucketEncryption",
    "BucketStorage",
    "BucketUsage",
    "Checksum",
    "ChecksumAlgorithm",
    "ChecksumType",
    "ContentHeaders",
    "EncryptionMode",
    "ExpectedObject",
    "ListPage",
    "MultipartUpload",
    "ObjectLookup",
    "ObjectOwnership",
    "ObjectRecord",
    "ObjectSummary",
    "Part",
    "PublicAccessBlock",
    "SealedContext",
    "SealedHeaders",
    "Segment",
    "SegmentKey",
    "VersioningStatus",
]

# 1: segments without keys (plaintext blobs, before encryption at rest);
# 2: every segment carries its wrapped data key, and the representation headers are sealed.
RECORD_FORMAT_VERSION = 2

_T = TypeVar("_T")
_Built = TypeVar("_Built")


class ChecksumAlgorithm(enum.StrEnum):
    """The additional checksums S3 clients may ask for (``x-amz-checksum-<lower name>``)."""

    CRC32 = "CRC32"
    CRC32C = "CRC32C"
    CRC64NVME = "CRC64NVME"
    SHA1 = "SHA1"
    SHA256 = "SHA256"
    SHA512 = "SHA512"
    MD5 = "MD5"
    XXHASH64 = "XXHASH64"
    XXHASH3 = "XXHASH3"  # XXH3, 64 bits
    XXHASH128 = "XXHASH128"  # XXH3, 128 bits

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


def slots_builder(cls: type[_Built]) -> Callable[..., _Built]:
    """A constructor of the frozen slots dataclass ``cls`` that takes every field positionally,
    in declaration order, and sets the slots directly: the same instance as ``cls(...)``, for
    classes whose ``__init__`` does nothing else (no ``__post_init__``, no ``InitVar``).

    For what the request path builds on every request. A frozen dataclass's generated
    ``__init__`` sets each field through ``object.__setattr__``, about a thousand instructions a
    field; ``dataclasses.replace`` adds an introspection of the fields. The builder is made the
    way ``dataclasses`` makes ``__init__``, from source (the names are the class's own fields),
    so that a call is one Python frame and one C call per field."""
    if "__post_init__" in cls.__dict__ or not cls.__dataclass_params__.frozen:  # type: ignore[attr-defined]
        raise TypeError(f"{cls.__name__} is not a frozen dataclass built by __init__ alone")
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    if any(not f.init for f in fields(cls)):  # type: ignore[arg-type]
        raise TypeError(f"{cls.__name__} has fields __init__ does not set")
    namespace: dict[str, object] = {"_new": object.__new__, "_cls": cls}
    lines = [f"def build({', '.join(names)}):", "    self = _new(_cls)"]
    for name in names:
        namespace[f"_set_{name}"] = cls.__dict__[name].__set__
        lines.append(f"    _set_{name}(self, {name})")
    lines.append("    return self")
    exec("\n".join(lines), namespace)  # noqa: S102 - field names of our own classes only
    build = namespace["build"]
    build.__qualname__ = f"build_{cls.__name__}"  # type: ignore[attr-defined]
    return build  # type: ignore[return-value]


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
    # The object's tag set, in the order it was given (decision 0068): sealed with the headers,
    # as it is the customer's data as much as its metadata is.
    tags: tuple[tuple[str, str], ...] = ()
    # x-amz-website-redirect-location: where a website endpoint sends a reader of this object
    # (decision 0081). Not copied by CopyObject, as on AWS.
    website_redirect_location: str | None = None

    def field_values(self) -> list[object]:
        """The fields in order, the metadata as a new dict: what sealing serialises, and what
        ``build_content_headers`` takes to make an unshared copy."""
        return [
            self.content_type,
            self.content_encoding,
            self.content_disposition,
            self.content_language,
            self.cache_control,
            self.expires,
            dict(self.user_metadata),
            self.tags,
            self.website_redirect_location,
        ]

    def with_tags(self, tags: tuple[tuple[str, str], ...]) -> ContentHeaders:
        """These headers with another tag set (PutObjectTagging, a copy's tagging directive)."""
        values = self.field_values()
        values[_TAGS_FIELD] = tags
        return build_content_headers(*values)

    def with_website_redirect(self, location: str | None) -> ContentHeaders:
        """These headers with another website redirect (a copy's: never the source's)."""
        values = self.field_values()
        values[_REDIRECT_FIELD] = location
        return build_content_headers(*values)


_TAGS_FIELD: Final = 7
_REDIRECT_FIELD: Final = 8


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
    encryption: BucketEncryption | None = None  # None: the SSE-S3 default every bucket has
    # None: never versioned, the state every bucket starts in and never goes back to
    # (decision 0097).
    versioning: VersioningStatus | None = None
    # None: no Object Lock; set once, for good (decision 0102), and the bucket is then
    # versioned Enabled for good too.
    object_lock: ObjectLockConfiguration | None = None
    # Whether the tenant's own data reads (GET, HEAD, listings) become events of its
    # transparency log (decision 0109); writes are, whatever this says. Off by default.
    data_reads_logged: bool = False
    # Its replication configuration (decision 0112), read with the bucket as the data-events
    # setting is, so that a write knows whether to queue a copy without a read of its own.
    replication: ReplicationConfiguration | None = None
    # Its event notification configuration (decision 0132), read with the bucket likewise.
    notification: NotificationConfiguration | None = None
    # Requester Pays (decision 0133): another account's requests are billed to it, not to the
    # owner. Read with the bucket too, so that enforcing and metering it costs no query.
    requester_pays: bool = False
    # The owner account's Block Public Access (S3 Control, decision 0152), read with the bucket
    # (the account's row joined to it) and never stored with it.
    account_public_access_block: PublicAccessBlock | None = None
    # The access point a request came through (decision 0157): set on that request's copy of
    # the bucket, never stored, so that every authorisation of the request sees it.
    access_point: AccessPointUse | None = None
    # ABAC (decision 0418): None while Disabled, the default; Enabled, the bucket's tags (those
    # Put/GetBucketTagging and S3 Control's TagResource serve), read with the bucket in the
    # same query and given to the policy engine as aws:ResourceTag/<key> on every request.
    abac_tags: tuple[tuple[str, str], ...] | None = None

    @property
    def abac_enabled(self) -> bool:
        return self.abac_tags is not None

    @property
    def acls_enabled(self) -> bool:
        return self.object_ownership is not ObjectOwnership.BUCKET_OWNER_ENFORCED

    @property
    def effective_public_access_block(self) -> PublicAccessBlock | None:
        """What Block Public Access enforces on this bucket: each switch on where either the
        bucket's or its account's configuration turns it on (the stricter wins, as on S3) —
        or, for a request through an access point, the access point's too."""
        block = PublicAccessBlock.strictest(
            self.public_access_block, self.account_public_access_block
        )
        if self.access_point is not None:
            return PublicAccessBlock.strictest(block, self.access_point.public_access_block)
        return block


@dataclass(frozen=True, slots=True)
class BucketStorage:
    """What S3's daily storage metrics say of a bucket (decision 0181): every object kept —
    current objects, noncurrent versions, delete markers, and the parts of its incomplete
    multipart uploads — and their bytes (``NumberOfObjects``, ``BucketSizeBytes``)."""

    objects: int = 0
    bytes: int = 0


@dataclass(frozen=True, slots=True)
class BucketUsage:
    """What a bucket holds: its current objects and their plaintext bytes, and (a versioned
    bucket, decision 0099) its noncurrent versions and theirs, which are stored data too
    (AWS bills them; delete markers hold no bytes and are not counted)."""

    objects: int = 0
    bytes: int = 0
    noncurrent_versions: int = 0
    noncurrent_bytes: int = 0

    @property
    def stored_bytes(self) -> int:
        """Every byte the bucket keeps, noncurrent versions included."""
        return self.bytes + self.noncurrent_bytes


class VersioningStatus(enum.StrEnum):
    """A versioned bucket's state (``Status`` of a VersioningConfiguration, decision 0097).
    Either goes to the other; neither goes back to never versioned (``None``), as on S3."""

    ENABLED = "Enabled"
    SUSPENDED = "Suspended"


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

    @classmethod
    def strictest(
        cls, first: PublicAccessBlock | None, second: PublicAccessBlock | None
    ) -> PublicAccessBlock | None:
        """Each switch on where either turns it on; None when neither is configured."""
        if first is None or second is None:
            return first if second is None else second
        return cls(
            first.block_public_acls or second.block_public_acls,
            first.ignore_public_acls or second.ignore_public_acls,
            first.block_public_policy or second.block_public_policy,
            first.restrict_public_buckets or second.restrict_public_buckets,
        )


@dataclass(frozen=True, slots=True)
class AccessPointUse:
    """The access point a request came through (decision 0157): its ARN and account (the
    ``s3:DataAccessPoint*`` condition keys and the resource its policy is asked about), its
    policy's JSON text, its own Block Public Access, and the VPC it is restricted to (None:
    the Internet network origin; decision 0157's addendum)."""

    arn: str
    account: str
    policy: str | None
    public_access_block: PublicAccessBlock
    vpc_id: str | None = None


@dataclass(frozen=True, slots=True)
class BucketEncryption:
    """A bucket's default encryption (ServerSideEncryptionConfiguration, one rule)."""

    algorithm: str = "AES256"  # or "aws:kms" once customer-managed KMS keys exist
    kms_key_id: str | None = None
    bucket_key_enabled: bool = False

    def to_json(self) -> str:
        return json.dumps([self.algorithm, self.kms_key_id, self.bucket_key_enabled])

    @classmethod
    def from_json(cls, text: str) -> BucketEncryption:
        algorithm, key_id, bucket_key = json.loads(text)
        return cls(str(algorithm), key_id, bool(bucket_key))


# The bucket configuration updated in place (``MetadataStore.update_bucket_access``). Not
# Object Lock: ``set_bucket_object_lock`` checks the versioning state in its write (0104).
BUCKET_ACCESS_FIELDS = frozenset(
    {"object_ownership", "policy", "public_access_block", "acl", "encryption"}
)


class EncryptionMode(enum.StrEnum):
    """How an object is encrypted at rest, as ``x-amz-server-side-encryption`` names it."""

    SSE_S3 = "AES256"  # a data key wrapped under the tenant KEK (every object, by default)
    SSE_C = "SSE-C"  # the same, with the customer's key mixed in; answered as AES256 + key MD5
    SSE_KMS = "aws:kms"  # a data key wrapped under a customer-managed KMS key's ring
    # DSSE-KMS: two layers, each under a data key of its own wrapped under the KMS key's ring
    SSE_KMS_DSSE = "aws:kms:dsse"
    NONE = "none"  # legacy rows before encryption at rest, and the benchmark-only switch


@dataclass(frozen=True, slots=True)
class SealedContext:
    """An SSE-KMS encryption context sealed under a data key of the tenant (``wrapped``): the
    object's own data key is bound to the context, so it cannot be what seals it."""

    wrapped: bytes
    ciphertext: bytes  # nonce | AES-256-GCM(JSON of the context)


@dataclass(frozen=True, slots=True)
class SegmentKey:
    """What opens one blob again: its data key wrapped under the tenant's key-encryption key
    (or, for SSE-KMS, under the ring of the KMS key ``kms_key_arn``, which reads check again),
    and for SSE-C a keyed check value of the customer key (never the key itself).

    SSE-KMS: ``context`` is the encryption context the data key is bound to, sealed; with an
    S3 Bucket Key, ``wrapped`` is under the bucket key and ``bucket_key`` is that key wrapped
    under the KMS key's ring.

    DSSE-KMS (decision 0075): ``inner_wrapped`` is the data key of the inner layer, bound to the
    same context under the same KMS key; ``wrapped`` seals the outer layer, whose plaintext is
    the inner layer's sealed bytes."""

    wrapped: bytes
    customer_key_check: bytes | None = None
    kms_key_arn: str | None = None
    context: SealedContext | None = None
    bucket_key: bytes | None = None
    inner_wrapped: bytes | None = None

    @property
    def mode(self) -> EncryptionMode:
        if self.kms_key_arn is not None:
            if self.inner_wrapped is not None:
                return EncryptionMode.SSE_KMS_DSSE
            return EncryptionMode.SSE_KMS
        return EncryptionMode.SSE_C if self.customer_key_check else EncryptionMode.SSE_S3


@dataclass(frozen=True, slots=True)
class SealedHeaders:
    """Representation headers and user metadata sealed under a data key of the tenant."""

    wrapped: bytes
    ciphertext: bytes  # nonce | AES-256-GCM(JSON of the headers)


@dataclass(frozen=True, slots=True)
class Segment:
    """One blob of an object's bytes, in order. ``part_number`` is 0 for a single PUT."""

    blob_id: str
    size: int  # plaintext bytes (the blob holds the larger ciphertext)
    part_number: int = 0
    etag: str = ""  # hex MD5 of this segment (for parts: the part's ETag)
    checksum: Checksum | None = None  # the part's own checksum, for composite checksums
    key: SegmentKey | None = None  # None: a plaintext blob (legacy, or the benchmark switch)
    # The region whose store holds the blob (the bucket's); None: written before regions
    # existed, so in the default region's store.
    region: str | None = None
    # A small object's stored bytes (the same sealed format a blob has), kept in its metadata
    # row instead of the blob store: then no blob ``blob_id`` exists, and the id only binds
    # the chunks' AAD. Only the one segment of a single PUT or copy is ever inline.
    inline: bytes | None = field(default=None, repr=False)


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
    # The headers as stored; ``headers`` is filled from them when the service reads the row.
    sealed_headers: SealedHeaders | None = None
    # SSE-KMS: the encryption context, opened from the segment keys by the service (never
    # stored in this form).
    kms_context: dict[str, str] | None = None
    # The key check the service made opening the headers (an ``encryption.KeyCheck``), which
    # the body's read of the same request may spend instead of checking again (never stored;
    # not part of the record's value).
    key_check: object | None = field(default=None, compare=False, repr=False)
    # The version's id in a versioned bucket (decision 0097); None: S3's "null" version, the
    # only one a bucket never versioned has.
    version_id: str | None = None
    # The version's retention and legal hold (decision 0102); None: neither.
    lock: ObjectLock | None = None
    # The version's x-amz-replication-status (decision 0112), read with the version's row by
    # the reads GET and HEAD make; None: none, or a record not read so (a write's). Not part
    # of what the record is: it changes as the copy is made.
    replication_status: str | None = field(default=None, compare=False)

    def opened(
        self,
        headers: ContentHeaders,
        kms_context: dict[str, str] | None,
        key_check: object | None = None,
    ) -> ObjectRecord:
        """This record with its sealed headers (and SSE-KMS context) opened: every HEAD and GET
        of an encrypted object."""
        return self.rebuilt(headers, kms_context, key_check, self.format_version)

    def rebuilt(
        self,
        headers: ContentHeaders,
        kms_context: dict[str, str] | None,
        key_check: object | None,
        format_version: int,
    ) -> ObjectRecord:
        """This record with these four fields replaced, as ``dataclasses.replace`` would give
        it, for the request path (opening a record, the form the store keeps). Built from its
        slots (``slots_builder``), not through ``__init__``: a frozen dataclass's ``__init__``
        sets each of its fourteen fields through ``object.__setattr__``, and ``replace`` also
        introspects the fields per call; the slots way took a revisit of an encrypted object
        from 112,200 to 96,000 instructions at the storage level (decision 0033's amendment).
        The same record as ``__init__`` would build (tests/unit/storage/test_model_builders.py,
        and test_encryption.py against ``replace``)."""
        return build_object_record(
            self.bucket,
            self.key,
            self.size,
            self.etag,
            self.last_modified,
            headers,
            self.segments,
            self.owner_id,
            self.checksum,
            format_version,
            self.acl,
            self.sealed_headers,
            kms_context,
            key_check,
            self.version_id,
            self.lock,
            self.replication_status,
        )

    @property
    def bucket_key_enabled(self) -> bool:
        """Whether an SSE-KMS object's data keys are under an S3 Bucket Key."""
        key = self.segments[0].key if self.segments else None
        return key is not None and key.bucket_key is not None

    @property
    def encryption(self) -> EncryptionMode:
        key = self.segments[0].key if self.segments else None
        return EncryptionMode.NONE if key is None else key.mode

    @property
    def kms_key_arn(self) -> str | None:
        """The KMS key of an SSE-KMS object (every segment of it uses the same key)."""
        key = self.segments[0].key if self.segments else None
        return None if key is None else key.kms_key_arn

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

    def stored_in(self, region: str) -> bool:
        """Whether every blob of the object is in ``region``'s store (unlabelled segments,
        from before regions, are taken to be: only the default region's buckets have them)."""
        return all(s.region is None or s.region == region for s in self.segments)

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
    sealed_headers: SealedHeaders | None = None
    # SSE-C uploads: the check value of the customer key every part must be sent with.
    customer_key_check: bytes | None = None
    # SSE-KMS uploads: the KMS key (ARN) every part is encrypted under, the encryption context
    # (sealed as stored, opened by the service) and whether parts use an S3 Bucket Key.
    kms_key_arn: str | None = None
    sealed_kms_context: SealedContext | None = None
    kms_context: dict[str, str] | None = None
    bucket_key: bool = False
    dual_layer: bool = False  # DSSE-KMS: every part sealed in two layers
    # The Object Lock settings CreateMultipartUpload's headers asked for (decision 0104), as
    # asked: the completed version gets them, the bucket's default retention at completion
    # filling in a retention they do not give. None: none asked.
    lock: ObjectLock | None = None


@dataclass(frozen=True, slots=True)
class Part:
    upload_id: str
    part_number: int
    blob_id: str
    size: int
    etag: str  # hex MD5, without quotes
    last_modified: datetime
    checksum: Checksum | None = None
    key: SegmentKey | None = None
    region: str | None = None  # the store holding the blob, as for Segment


@dataclass(frozen=True, slots=True)
class ListPage(Generic[_T]):
    """One page of a listing: the entries, and whether more follow after the last one."""

    items: tuple[_T, ...]
    truncated: bool


@dataclass(frozen=True, slots=True)
class ObjectLookup:
    """A bucket and one of its objects, read together (one query on SQL): what a GET or a
    HEAD needs before it answers. ``record`` as stored (sealed headers not opened), None when
    the bucket has no such key."""

    bucket: Bucket
    record: ObjectRecord | None


@dataclass(frozen=True, slots=True)
class ExpectedObject:
    """What a conditional write needs the key to hold when its row commits: no object
    (``etag`` None, S3's ``If-None-Match: *``) or the object with this ETag (``If-Match``, the
    ETag of the object the condition was checked on). The store checks it in the commit itself,
    so a write or delete that landed after the request's check fails the write (ObjectChanged)
    instead of being overwritten."""

    etag: str | None

    def holds_for(self, current: ObjectRecord | None) -> bool:
        if current is None:
            return self.etag is None
        return self.etag is not None and current.etag == self.etag


# Positional constructors of what the request path builds on every request (``slots_builder``):
# the bucket and the record read from their rows, and an encrypted PUT's sealed headers, their
# key and the headers it remembers.
build_bucket = slots_builder(Bucket)
build_object_record = slots_builder(ObjectRecord)
build_content_headers = slots_builder(ContentHeaders)
build_segment_key = slots_builder(SegmentKey)
build_sealed_headers = slots_builder(SealedHeaders)
