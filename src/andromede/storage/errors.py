"""Domain errors of object storage. No HTTP here: ``s3/errors.py`` maps them to wire errors.

AndromedeError
└── StorageError
    ├── BucketError
    │   ├── NoSuchBucket
    │   ├── BucketAlreadyExists          another tenant owns the name
    │   ├── BucketAlreadyOwnedByYou
    │   ├── BucketNotEmpty
    │   ├── BucketVersioned              versioning came on since the caller read the bucket
    │   ├── InvalidBucketState           Object Lock and versioning would disagree (0104)
    │   ├── BucketIsLogTarget            Requester Pays on a server access log target (0133)
    │   ├── InvalidLogTarget             a log target gone, or Requester Pays (0133, 0150)
    │   ├── ConfigurationContention      a configuration changed under too many writers (0154)
    │   ├── InvalidBucketName
    │   └── RegionNotServed              the bucket's region's data is not reachable from here
    ├── ObjectError
    │   ├── NoSuchKey
    │   ├── KeyTooLong
    │   ├── EntityTooLarge / EntityTooSmall
    │   ├── MetadataTooLarge
    │   ├── IncompleteBody               fewer bytes than announced
    │   ├── BadDigest                    Content-MD5 mismatch
    │   ├── ChecksumMismatch             x-amz-checksum-* mismatch
    │   ├── InvalidChecksumRequest       a checksum algorithm/type combination S3 refuses
    │   ├── InvalidRange
    │   ├── ObjectChanged                a conditional write or delete met another object
    │   ├── NoSuchVersion                no version of the key has that id
    │   ├── DeleteMarkerFound            the version asked for is a delete marker
    │   ├── ObjectLocked                 a retention or legal hold forbids it (decision 0102)
    │   ├── EncryptionError
    │   │   ├── EncryptionKeyUnavailable   the tenant key was destroyed (crypto-shredded)
    │   │   ├── KeyServiceUnavailable      the root-key provider cannot be reached (HSM down)
    │   │   ├── KmsKeyUnusable             the object's KMS key refuses the use now (its
    │   │   │   │                          external key store's proxy: unreachable, key disabled)
    │   │   │   └── KmsKeyDisabled         ... because the KMS key itself is disabled
    │   │   ├── CustomerKeyRequired        an SSE-C object read without its key
    │   │   ├── CustomerKeyMismatch        an SSE-C object read with another key
    │   │   └── CustomerKeyNotApplicable   a customer key for an object that has none
    │   └── ObjectCorrupted              stored bytes or headers failed authentication
    ├── UploadError
    │   ├── NoSuchUpload
    │   ├── InvalidPart / InvalidPartOrder / InvalidPartNumber
    │   ├── TooManyParts
    │   └── ObjectSizeMismatch           the parts do not add up to the size the client expects
    └── BlobError                        the backend failed to store or read bytes
        └── BlobStoreUnavailable         the backend cannot be reached (cluster down, timeout)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from andromede.errors import AndromedeError

if TYPE_CHECKING:
    from andromede.storage.versioning import DeleteMarker


class StorageError(AndromedeError):
    """Base of object-storage domain errors."""


class BucketError(StorageError):
    pass


class NoSuchBucket(BucketError):
    pass


class BucketAlreadyExists(BucketError):
    pass


class BucketAlreadyOwnedByYou(BucketError):
    pass


class RegionNotServed(BucketError):
    """The bytes asked for live in a region whose store this process does not open: another
    gateway serves it (residency keeps one region's data off the others' gateways)."""

    def __init__(self, region: str) -> None:
        super().__init__(f"region {region} is not served by this gateway")
        self.region = region


class BucketNotEmpty(BucketError):
    pass


class BucketVersioned(BucketError):
    """An unversioned write found the bucket versioned (PutBucketVersioning committed since
    the bucket was read): the service writes again as a versioned write. Never on the wire."""


class ReplicaRefused(BucketError):
    """A replica (a version written with its source's id, decision 0112) cannot be written:
    the destination's versioning is not Enabled, or the key already holds a newer version.
    ``present``: that very version is already there (a copy made twice), which is success.
    Never on the wire: the replication worker settles its task with it."""

    def __init__(self, message: str, *, present: bool = False) -> None:
        super().__init__(message)
        self.present = present


class InvalidBucketName(BucketError):
    pass


class InvalidBucketState(BucketError):
    """A change that would leave a bucket with Object Lock not versioned Enabled (suspending
    its versioning), or give Object Lock to a bucket not versioned Enabled: refused by the
    store in the change's own statement, against the bucket as it is then (decision 0104).
    The message is AWS's, for the client."""


class BucketIsLogTarget(BucketError):
    """Requester Pays asked for a bucket that its owner's buckets log into: S3 takes no
    Requester Pays bucket as a log target, "or vice versa" (decision 0133). Refused by the
    store in the write itself, against the logging configurations as they are then (decision
    0150). The message is for the client."""

    def __init__(
        self,
        message: str = "A bucket that receives server access logs cannot be a Requester Pays"
        " bucket: turn off logging into it first.",
    ) -> None:
        super().__init__(message)


class InvalidLogTarget(BucketError):
    """A server access log target that is gone or Requester Pays when the logging
    configuration is written: refused by the store in the write itself, under the target's
    row lock (decisions 0133, 0150). The message is S3's, for the client."""


class ConfigurationContention(BucketError):
    """A bucket configuration written by compare-and-set kept changing under the write
    (decision 0154): the client may retry, as S3's OperationAborted says."""


class ObjectError(StorageError):
    pass


class NoSuchKey(ObjectError):
    pass


class KeyTooLong(ObjectError):
    pass


class EntityTooLarge(ObjectError):
    pass


class EntityTooSmall(ObjectError):
    pass


class MetadataTooLarge(ObjectError):
    pass


class IncompleteBody(ObjectError):
    pass


class BadDigest(ObjectError):
    pass


class ChecksumMismatch(ObjectError):
    pass


class InvalidChecksumRequest(ObjectError):
    pass


class ObjectChanged(ObjectError):
    """A conditional delete or write found the key holding another object (or none) than the
    one its condition was checked against: a write or delete came in between."""


class NoSuchVersion(ObjectError):
    pass


class ObjectLocked(ObjectError):
    """The version is under a retention or legal hold that forbids the removal or the change
    asked for (S3 answers AccessDenied)."""


class DeleteMarkerFound(ObjectError):
    """The version a read asked for is a delete marker (S3: 405 MethodNotAllowed, with the
    marker's headers). ``marker`` is the :class:`~andromede.storage.versioning.DeleteMarker`."""

    def __init__(self, marker: DeleteMarker) -> None:
        super().__init__("the version is a delete marker")
        self.marker = marker


class InvalidRange(ObjectError):
    pass


class EncryptionError(ObjectError):
    pass


class EncryptionKeyUnavailable(EncryptionError):
    pass


class KeyServiceUnavailable(EncryptionError):
    pass


class KmsKeyUnusable(EncryptionError):
    """The object's KMS key cannot open its data key now: the key's external key store's
    proxy failed or refused (the customer disabled or deleted the external key, or the proxy
    is down), or the key is pending deletion. The message is AWS's, safe for clients."""


class KmsKeyDisabled(KmsKeyUnusable):
    pass


class CustomerKeyRequired(EncryptionError):
    pass


class CustomerKeyMismatch(EncryptionError):
    pass


class CustomerKeyNotApplicable(EncryptionError):
    pass


class ObjectCorrupted(ObjectError):
    pass


class UploadError(StorageError):
    pass


class NoSuchUpload(UploadError):
    pass


class InvalidPart(UploadError):
    pass


class InvalidPartOrder(UploadError):
    pass


class InvalidPartNumber(UploadError):
    pass


class ObjectSizeMismatch(UploadError):
    """CompleteMultipartUpload's parts do not add up to the size the client said to expect."""


class TooManyParts(UploadError):
    pass


class BlobError(StorageError):
    """The blob backend could not store or read bytes (disk full, I/O error, missing blob)."""


class BlobStoreUnavailable(BlobError):
    """The blob backend did not answer in time: a cluster down or unreachable. Retrying later
    may succeed; nothing was half-stored."""
