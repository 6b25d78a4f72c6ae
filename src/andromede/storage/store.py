"""The metadata store interface: where buckets, objects, uploads and parts are recorded.

Implementations: ``store_sql.py`` (SQLAlchemy Core, SQLite now and PostgreSQL later, same
Alembic schema) and ``store_memory.py`` (the fast twin). ``tests/contract/`` runs one suite over
every implementation. Keys sort in UTF-8 byte order, as S3 lists them.

Every method is atomic. The ones that replace or drop records return what they replaced, so the
service can queue the blobs that nothing references any more for deferred deletion (a GET in
flight may still be reading them).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Protocol

from andromede.storage.access_logging import LoggingTarget
from andromede.storage.acl import AccessControlList
from andromede.storage.cors import CorsConfiguration
from andromede.storage.model import (
    Bucket,
    BucketStorage,
    BucketUsage,
    ExpectedObject,
    ListPage,
    MultipartUpload,
    ObjectRecord,
    ObjectSummary,
    Part,
    PublicAccessBlock,
    VersioningStatus,
)
from andromede.storage.notification import EventBatch
from andromede.storage.object_lock import LockChange, ObjectLockConfiguration
from andromede.storage.replication import ReplicationTarget
from andromede.storage.versioning import (
    DeleteMarker,
    RemovalCondition,
    VersionedWrite,
    VersionEntry,
)

__all__ = ["MetadataStore"]


class MetadataStore(Protocol):
    # -- buckets --------------------------------------------------------------------------
    async def create_bucket(self, bucket: Bucket) -> None:
        """Insert; BucketAlreadyOwnedByYou / BucketAlreadyExists if the name is taken."""

    async def get_bucket(self, name: str) -> Bucket | None: ...

    async def list_buckets(self, tenant_id: str) -> list[Bucket]:
        """The tenant's buckets, by name."""

    async def all_buckets(self) -> list[Bucket]:
        """Every bucket of every tenant, by tenant then name (the residency report)."""

    async def usage_by_bucket(self) -> dict[str, BucketUsage]:
        """Object count and stored bytes of every bucket that holds objects."""

    async def bucket_storage(self, name: str) -> BucketStorage:
        """One bucket's objects, versions, delete markers and incomplete uploads' parts, and
        their bytes, in one read (decision 0181); zeros for a bucket that does not exist."""

    async def update_bucket_access(self, name: str, **changes: object) -> Bucket:
        """Set access fields (``BUCKET_ACCESS_FIELDS``: object_ownership, policy,
        public_access_block; None clears the last two); returns the bucket. NoSuchBucket."""

    async def get_account_public_access_block(self, tenant_id: str) -> PublicAccessBlock | None:
        """The account's Block Public Access (S3 Control, decision 0152); None: none set."""

    async def put_account_public_access_block(
        self, tenant_id: str, block: PublicAccessBlock | None
    ) -> None:
        """Set (or, None, delete) the account's Block Public Access."""

    async def set_bucket_data_reads_logged(self, name: str, logged: bool) -> Bucket:
        """Whether the bucket's data reads are audited (decision 0109); returns the bucket,
        which carries it wherever a bucket is read. NoSuchBucket."""

    async def set_bucket_requester_pays(self, name: str, requester_pays: bool) -> Bucket:
        """Whether other accounts pay for their requests to the bucket (decision 0133);
        returns the bucket, which carries it wherever a bucket is read. NoSuchBucket;
        BucketIsLogTarget for True while a bucket of its owner in its region logs into it,
        checked in this write, so that no concurrent PutBucketLogging slips between the check
        and the change (decision 0150)."""

    async def put_bucket_logging(self, name: str, target: LoggingTarget | None) -> None:
        """Replace the bucket's server access logging configuration (its ``LOGGING_DOCUMENT``;
        None: logging off). NoSuchBucket; InvalidLogTarget when the target is gone or
        Requester Pays, checked in this write against the target as a concurrent
        PutBucketRequestPayment leaves it (decision 0150)."""

    async def get_bucket_tags(self, name: str) -> tuple[tuple[str, str], ...] | None:
        """The bucket's tag set (None: it has none). NoSuchBucket."""

    async def put_bucket_tags(self, name: str, tags: tuple[tuple[str, str], ...] | None) -> None:
        """Replace the bucket's tag set (None: remove it). NoSuchBucket."""

    async def get_bucket_cors(self, name: str) -> CorsConfiguration | None:
        """The bucket's CORS configuration (None: it has none). NoSuchBucket."""

    async def put_bucket_cors(self, name: str, cors: CorsConfiguration | None) -> None:
        """Replace the bucket's CORS configuration (None: remove it). NoSuchBucket."""

    async def get_bucket_document(self, name: str, kind: str) -> str | None:
        """The bucket's configuration document of ``kind`` (None: it has none). NoSuchBucket."""

    async def put_bucket_document(self, name: str, kind: str, document: str | None) -> None:
        """Replace the bucket's document of ``kind`` (None: remove it). NoSuchBucket."""

    async def swap_bucket_document(
        self, name: str, kind: str, expected: str | None, document: str | None
    ) -> bool:
        """Replace the bucket's document of ``kind`` by ``document`` (None: remove it) only if
        it is still ``expected`` (None: none), in one transaction; whether it did. The
        compare-and-set that gateways claim work with (decision 0154). NoSuchBucket."""

    async def list_bucket_documents(
        self, kind: str, after: str | None, limit: int
    ) -> list[tuple[str, str]]:
        """(bucket name, document) of the buckets that have a document of ``kind``, by name,
        strictly after ``after``, at most ``limit``."""

    async def list_tenant_bucket_documents(
        self, tenant_id: str, region: str, kind: str
    ) -> list[tuple[str, str]]:
        """(bucket name, document) of the tenant's buckets in ``region`` that have a document
        of ``kind``, by name: at most the tenant's bucket count, whatever other tenants hold
        (which buckets log into a given one, decision 0133)."""

    async def delete_bucket(self, name: str) -> list[Part]:
        """Delete an empty bucket, aborting its pending uploads (their parts are returned).

        NoSuchBucket if absent, BucketNotEmpty if it holds objects — checked in the same
        transaction as the delete, so a PUT landing concurrently wins or fails cleanly.
        """

    # -- objects --------------------------------------------------------------------------
    async def put_object(
        self,
        record: ObjectRecord,
        *,
        expected: ExpectedObject | None = None,
        notify: EventBatch | None = None,
    ) -> ObjectRecord | None:
        """Insert or replace ``(bucket, key)``; returns the replaced record. ``notify``: the
        write's events, queued in the same transaction (decision 0132). NoSuchBucket, also
        when the bucket's region is not the one the record's blobs were written in (the bucket
        was deleted and made again in another region while they were being written).
        ``expected``: write only if the key holds what it says, checked in the same step
        (``ObjectChanged`` otherwise, nothing written)."""

    async def get_object(self, bucket: str, key: str) -> ObjectRecord | None: ...

    async def get_bucket_and_object(
        self, bucket: str, key: str
    ) -> tuple[Bucket | None, ObjectRecord | None]:
        """The bucket and its object ``key`` as one read (one query on SQL): a GET needs both,
        the bucket to authorise and the object to answer. (None, None) without the bucket."""

    async def replace_object_segments(self, expected: ObjectRecord, record: ObjectRecord) -> bool:
        """Replace ``expected`` by ``record`` (same bucket and key) only if the stored object
        still has ``expected``'s blobs: whether it did. For the re-encryption of legacy rows,
        which must lose to any write that came meanwhile."""

    async def replace_object_headers(
        self,
        expected: ObjectRecord,
        record: ObjectRecord,
        *,
        replication: ReplicationTarget | None = None,
        notify: EventBatch | None = None,
    ) -> bool:
        """Store ``record``'s headers (sealed or clear) in place of ``expected``'s, nothing else
        of the row, only if the stored object still has ``expected``'s segments (no write came
        in between): whether it did. For PutObjectTagging and DeleteObjectTagging.
        ``replication``: the version's task (and PENDING) written in the same transaction, so
        that its replica takes the new tags (decision 0112, increment 6). ``notify``: the
        change's events, queued in that transaction when it lands (decision 0132)."""

    async def legacy_objects(
        self, after: tuple[str, str] | None, limit: int, format_version: int
    ) -> list[ObjectRecord]:
        """Objects whose record format is older than ``format_version``, by (bucket, key)
        strictly after ``after``."""

    async def set_object_acl(
        self,
        bucket: str,
        key: str,
        acl: AccessControlList | None,
        *,
        notify: EventBatch | None = None,
    ) -> ObjectRecord | None:
        """Replace the object's ACL (None: the owner's private ACL); None if no such object.
        ``notify``: the change's events, queued in its transaction when it lands."""

    async def delete_object(
        self,
        bucket: str,
        key: str,
        *,
        if_etag: str | None = None,
        if_last_modified: datetime | None = None,
        notify: EventBatch | None = None,
    ) -> ObjectRecord | None:
        """Remove and return the record, None if there was none (``notify``'s events queued
        in the same transaction when one was removed). ``if_etag`` (and
        ``if_last_modified``): only the object with that ETag (and last modification), in the
        same step (``ObjectChanged`` if the key holds another or none)."""

    async def list_objects(
        self, bucket: str, *, prefix: str, after: str | None, limit: int
    ) -> ListPage[ObjectSummary]:
        """Objects whose key starts with ``prefix`` and sorts strictly after ``after``."""

    # -- versioned buckets (decision 0097) ----------------------------------------------------
    # Only for buckets whose ``versioning`` is set: a bucket never versioned goes through the
    # methods above alone. ``put_object`` refuses a versioned bucket (BucketVersioned).
    async def set_bucket_versioning(self, name: str, status: VersioningStatus) -> None:
        """Set the bucket's versioning state. NoSuchBucket; InvalidBucketState for a state
        other than Enabled on a bucket with Object Lock, checked in the same statement as the
        write (a concurrent ``set_bucket_object_lock`` is either seen or sees this)."""

    async def set_bucket_object_lock(self, name: str, config: ObjectLockConfiguration) -> Bucket:
        """Give the bucket Object Lock or a new default retention; returns the bucket.
        NoSuchBucket; InvalidBucketState unless the bucket has Object Lock already or is
        versioned Enabled, checked in the same statement as the write (decision 0104)."""

    async def put_object_version(
        self,
        record: ObjectRecord,
        *,
        expected: ExpectedObject | None = None,
        replication: ReplicationTarget | None = None,
        notify: EventBatch | None = None,
    ) -> VersionedWrite:
        """Make ``record`` the key's current version, as the bucket's state says: Enabled, a
        new version id, the current object kept as a noncurrent version; Suspended, the null
        version, replacing the key's null version wherever it is (released). NoSuchBucket and
        ``expected`` as for :meth:`put_object` (the current object; a delete marker is none).
        ``replication``: the version's copy is queued (and the version PENDING) in the same
        transaction, when the version has an id (decision 0112)."""

    async def put_delete_marker(
        self,
        bucket: str,
        key: str,
        *,
        owner_id: str,
        now: datetime,
        if_etag: str | None = None,
        version_id: str | None = None,
        replication: ReplicationTarget | None = None,
        notify: EventBatch | None = None,
    ) -> VersionedWrite:
        """A delete without a version id: a delete marker becomes the key's newest version
        (the null one when Suspended, replacing the null version). NoSuchBucket. ``if_etag``:
        only over a current object with that ETag, checked in the same transaction
        (ObjectChanged otherwise: a conditional delete, decision 0058). ``version_id``: a
        replicated marker keeping its source's id (decision 0112; ReplicaRefused as for a
        replica's put_object_version). ``replication`` as for :meth:`put_object_version`."""

    async def get_object_version(
        self, bucket: str, key: str, version_id: str
    ) -> ObjectRecord | DeleteMarker | None:
        """The version ``version_id`` ("null": the null version), current or not."""

    async def get_current_delete_marker(self, bucket: str, key: str) -> DeleteMarker | None:
        """The key's newest version if it is a delete marker."""

    async def delete_object_version(
        self,
        bucket: str,
        key: str,
        version_id: str,
        *,
        only_if: RemovalCondition | None = None,
        now: datetime | None = None,
        bypass_governance: bool = False,
        notify: EventBatch | None = None,
    ) -> ObjectRecord | DeleteMarker | None:
        """Remove a version for good (the removed one, None if none had that id); the next
        newest becomes current. ``notify``: the removal's events, queued in its transaction
        when a version was removed (decision 0132). ``only_if``: removed only if that still
        holds, checked in the removal's own transaction (None returned otherwise). NoSuchBucket.

        ObjectLocked, nothing removed, when the version's lock forbids it at ``now`` (None:
        the clock's now), read in the same transaction (decision 0102): every caller goes
        through this check, the lifecycle runner and operator paths too.
        ``bypass_governance``: a GOVERNANCE retention does not count (the caller checked
        ``s3:BypassGovernanceRetention``); COMPLIANCE and legal holds always do."""

    async def update_version_lock(
        self,
        bucket: str,
        key: str,
        version_id: str,
        change: LockChange,
        now: datetime,
        *,
        replication: ReplicationTarget | None = None,
    ) -> ObjectRecord | DeleteMarker | None:
        """Apply ``change`` to the lock of version ``version_id`` ("null": the null version),
        current or not, as the version is in this transaction (ObjectLocked, nothing written,
        when the change would weaken a retention it may not); the version as it now is (a
        delete marker, which has no lock, left as it is), None if the key has no such
        version. ``replication``: as for :meth:`replace_object_headers`, written only when a
        version's lock was changed."""

    async def replace_version_headers(
        self,
        expected: ObjectRecord,
        record: ObjectRecord,
        *,
        replication: ReplicationTarget | None = None,
        notify: EventBatch | None = None,
    ) -> bool:
        """:meth:`replace_object_headers` for the version ``expected.version_id`` (None: the
        null version), current or noncurrent: whether it still had ``expected``'s segments
        and took ``record``'s headers. False for a delete marker or no such version."""

    async def set_version_acl(
        self,
        bucket: str,
        key: str,
        version_id: str,
        acl: AccessControlList | None,
        *,
        replication: ReplicationTarget | None = None,
        notify: EventBatch | None = None,
    ) -> ObjectRecord | DeleteMarker | None:
        """Replace the ACL of version ``version_id`` ("null": the null version), current or
        not; the version as it now is (a delete marker, which has no ACL, left as it is), None
        if the key has no such version. ``replication``: the change's task (and its status)
        written in the same transaction when it lands on a version (decision 0127);
        ``notify``: its events likewise (decision 0132)."""

    async def list_object_versions(
        self,
        bucket: str,
        *,
        prefix: str,
        after_key: str | None,
        after_version: str | None,
        limit: int,
    ) -> ListPage[VersionEntry]:
        """Versions and markers by key, newest first, strictly after (``after_key``,
        ``after_version``: an entry's ``sort_id``, or "null"); no ``after_version``: after
        every version of ``after_key``."""

    # -- multipart uploads ------------------------------------------------------------------
    async def create_upload(self, upload: MultipartUpload) -> None: ...

    async def get_upload(self, bucket: str, upload_id: str) -> MultipartUpload | None: ...

    async def put_part(self, part: Part) -> Part | None:
        """Insert or replace a part; returns the replaced one. NoSuchUpload if it is gone."""

    async def list_parts(
        self, upload_id: str, *, after_part: int, limit: int
    ) -> ListPage[Part]: ...

    async def get_parts(self, upload_id: str, part_numbers: Sequence[int]) -> list[Part]:
        """The named parts that exist, in part-number order."""

    async def list_uploads(
        self,
        bucket: str,
        *,
        prefix: str,
        after_key: str | None,
        after_upload_id: str | None,
        limit: int,
    ) -> ListPage[MultipartUpload]:
        """Uploads ordered by (key, initiated, upload_id), strictly after the markers."""

    async def complete_upload(
        self,
        upload_id: str,
        record: ObjectRecord,
        *,
        expected: ExpectedObject | None = None,
        replication: ReplicationTarget | None = None,
        notify: EventBatch | None = None,
    ) -> tuple[ObjectRecord | VersionedWrite | None, list[Part]]:
        """Atomically drop the upload and its parts and put ``record``.

        Returns the replaced object (in a versioned bucket, the :meth:`put_object_version`
        answer) and the parts that ``record`` does not use. NoSuchUpload if
        the upload was completed or aborted meanwhile (the caller lost the race).
        ``expected`` as for :meth:`put_object`: on ``ObjectChanged`` the upload is left as it
        was, so the client may complete it again or abort it. ``replication`` as for
        :meth:`put_object_version`, in a versioned bucket.
        """

    async def abort_upload(self, upload_id: str) -> list[Part]:
        """Drop the upload and return its parts. NoSuchUpload if absent."""

    # -- housekeeping -----------------------------------------------------------------------
    async def queue_blob_deletion(
        self, blob_ids: Iterable[str], not_before: datetime, *, region: str | None = None
    ) -> None:
        """Remember blobs of ``region``'s store (None: the default region's) to delete once no
        reader can still be using them."""

    async def take_due_blob_deletions(
        self, now: datetime, limit: int, *, regions: Collection[str | None] | None = None
    ) -> list[str]:
        """Remove and return up to ``limit`` queued blob ids whose time has come, of the
        ``regions`` given (None among them: queued without a region), or of all."""

    async def referenced_blob_ids(self, candidates: Iterable[str]) -> set[str]:
        """Which of ``candidates`` an object, a part or the deletion queue still names."""
