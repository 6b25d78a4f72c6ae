"""Object storage tables: ``buckets`` and their documents, ``objects`` and their versions and
blobs, multipart uploads and parts, ``blob_deletions``, bucket replication's queue and
statuses, bucket event notifications' topics and queue, and the accounts' Block Public Access.

Storage design notes:

- ``objects`` is keyed by ``(bucket, key)``: the primary key is the listing index, and keys are
  compared in UTF-8 byte order (:func:`key_text`).
- An object's segments and representation headers are JSON text beside a ``format_version``, so
  a later release can read rows this one wrote.
- ``object_blobs`` names every blob an object uses (one row per segment): the sweeper asks
  which blobs are still referenced, which JSON text cannot answer through an index. A small
  object's sealed bytes may instead be in its row (``inline_data``): it then has no blob.
- Buckets do not reference ``tenants`` by foreign key: storage stays usable without the identity
  tables being filled (tests, imports), and tenants are closed, never deleted.

Part of the one ``MetaData`` (``andromede.db.metadata``); ``andromede.db.tables`` re-exports
every table, which the stores and the migrations import from there.
"""

from __future__ import annotations

import sqlalchemy as sa

from andromede.db.metadata import metadata
from andromede.db.types import UtcDateTime, big_id, key_text

__all__ = [
    "account_public_access_blocks",
    "batch_job_tasks",
    "batch_jobs",
    "blob_deletions",
    "bucket_cors",
    "bucket_documents",
    "bucket_policies",
    "bucket_tags",
    "buckets",
    "multipart_uploads",
    "notification_events",
    "notification_signing_keys",
    "notification_subscriptions",
    "notification_topics",
    "object_blobs",
    "object_version_blobs",
    "object_versions",
    "objects",
    "parts",
    "replication_statuses",
    "replication_tasks",
    "topic_archive",
    "topic_deduplications",
    "topic_replays",
]

buckets = sa.Table(
    "buckets",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("owner_id", sa.Text, nullable=False),
    sa.Column("region", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    # Access configuration (migration 0002): read with the bucket on every request.
    # NULL: no ownership controls (DeleteBucketOwnershipControls), which behaves as ObjectWriter.
    sa.Column("object_ownership", sa.Text, nullable=True, server_default="BucketOwnerEnforced"),
    sa.Column("public_access_block", sa.Text, nullable=True),
    sa.Column("acl", sa.Text, nullable=True),  # JSON; NULL: the owner's private ACL
    # Default encryption (migration 0004), JSON; NULL: SSE-S3, the default of every bucket.
    sa.Column("encryption", sa.Text, nullable=True),
    # SHA-256 (hex) of the bucket policy, whose text is in bucket_policies (migration 0017,
    # which added it after the columns above); NULL: no policy. Every request reads this row:
    # a policy of up to 20 KiB in it had SQLite walk and PostgreSQL de-TOAST its text on every
    # read; its digest says whether the text a gateway holds is still the one stored.
    sa.Column("policy_digest", sa.Text, nullable=True),
    sa.Index(None, "tenant_id", "name"),
    # Versioning (migration 0038, decision 0097): NULL never versioned, else "Enabled" or
    # "Suspended". In the row every request reads, so a PUT or DELETE knows which path to take
    # without another query; a NULL at the end of the row is all a bucket never versioned pays.
    sa.Column("versioning", sa.Text, nullable=True),
    # Object Lock (migration 0039, decision 0102), JSON; NULL: none. In the row every request
    # reads, as versioning is: a PUT needs the default retention without another query.
    sa.Column("object_lock", sa.Text, nullable=True),
    # Who pays for requests (migration 0055, decision 0133): NULL the bucket owner, the S3
    # default; "Requester" another account that asks for it. In the row every request reads.
    sa.Column("request_payer", sa.Text, nullable=True),
)

# A bucket's policy text (migration 0017), read only when a gateway does not hold the text of
# the bucket row's policy_digest.
bucket_policies = sa.Table(
    "bucket_policies",
    metadata,
    sa.Column("bucket", sa.Text, sa.ForeignKey("buckets.name"), primary_key=True),
    sa.Column("policy", sa.Text, nullable=False),
)

# A bucket's tag set (migration 0024), out of the bucket row every request reads: only
# Get/PutBucketTagging read or write it. JSON: [[key, value], …] in the order given.
bucket_tags = sa.Table(
    "bucket_tags",
    metadata,
    sa.Column("bucket", sa.Text, sa.ForeignKey("buckets.name"), primary_key=True),
    sa.Column("tags", sa.Text, nullable=False),
)

# A bucket's CORS rules (migration 0030), beside its row as its tags are: read only for
# requests that carry an Origin, and by the CORS calls. JSON, storage/cors.py's form.
bucket_cors = sa.Table(
    "bucket_cors",
    metadata,
    sa.Column("bucket", sa.Text, sa.ForeignKey("buckets.name"), primary_key=True),
    sa.Column("rules", sa.Text, nullable=False),
)

# A bucket's configuration documents, one per kind (migration 0031): its static website's now
# (storage/website.py), and the lifecycle, logging, notification and replication
# configurations to come. Each is read whole, by its calls and the requests it shapes; none is
# read on the common request path.
bucket_documents = sa.Table(
    "bucket_documents",
    metadata,
    sa.Column("bucket", sa.Text, sa.ForeignKey("buckets.name"), primary_key=True),
    sa.Column("kind", sa.Text, primary_key=True),
    sa.Column("document", sa.Text, nullable=False),
)

objects = sa.Table(
    "objects",
    metadata,
    sa.Column("bucket", sa.Text, sa.ForeignKey("buckets.name"), primary_key=True),
    sa.Column("key", key_text(), primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("etag", sa.Text, nullable=False),
    sa.Column("last_modified", UtcDateTime, nullable=False),
    sa.Column("owner_id", sa.Text, nullable=False),
    sa.Column("checksum_algorithm", sa.Text, nullable=True),
    sa.Column("checksum_type", sa.Text, nullable=True),
    sa.Column("checksum_value", sa.Text, nullable=True),
    sa.Column("headers", sa.Text, nullable=False),  # JSON
    sa.Column("segments", sa.Text, nullable=False),  # JSON
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.Column("acl", sa.Text, nullable=True),  # JSON; NULL: the owner's private ACL
    # A small object's sealed bytes (migration 0016), instead of a blob; NULL: in blobs. After
    # every column a listing reads, so that a listing never reads its overflow pages.
    sa.Column("inline_data", sa.LargeBinary, nullable=True),
    # The current version's id in a versioned bucket (migration 0038, decision 0097); NULL:
    # S3's "null" version, every object of a bucket never versioned. Added last, as SQLite and
    # PostgreSQL add columns: only a GET reads it (with the inline bytes it reads anyway) and
    # ListObjectVersions; ListObjects does not.
    sa.Column("version_id", sa.Text, nullable=True),
    # The version's Object Lock retention and legal hold, JSON (migration 0039, decision
    # 0102); NULL: neither. Last, as it was added.
    sa.Column("object_lock", sa.Text, nullable=True),
)

# The versions of a versioned bucket's keys that are not a current object (migration 0038,
# decision 0097): noncurrent versions, and every delete marker (a current one too: a key whose
# newest version is a marker has no row in ``objects``, so ListObjects is as it was). Written
# only in versioned buckets. ``version_id`` orders a key's versions newest first; the null
# version has one too (its place), with ``is_null`` saying it is shown as "null".
object_versions = sa.Table(
    "object_versions",
    metadata,
    sa.Column("bucket", sa.Text, sa.ForeignKey("buckets.name"), primary_key=True),
    sa.Column("key", key_text(), primary_key=True),
    sa.Column("version_id", sa.Text, primary_key=True),
    sa.Column("is_null", sa.Boolean, nullable=False),
    sa.Column("delete_marker", sa.Boolean, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("etag", sa.Text, nullable=False),
    sa.Column("last_modified", UtcDateTime, nullable=False),
    sa.Column("owner_id", sa.Text, nullable=False),
    sa.Column("checksum_algorithm", sa.Text, nullable=True),
    sa.Column("checksum_type", sa.Text, nullable=True),
    sa.Column("checksum_value", sa.Text, nullable=True),
    sa.Column("headers", sa.Text, nullable=True),  # JSON, as in objects; NULL: a marker
    sa.Column("segments", sa.Text, nullable=True),  # JSON, as in objects; NULL: a marker
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.Column("acl", sa.Text, nullable=True),
    sa.Column("inline_data", sa.LargeBinary, nullable=True),
    sa.Column("object_lock", sa.Text, nullable=True),  # as in objects (migration 0039)
)
# Ciphertext does not compress: moved out of line past ~2 KB as usual, without PostgreSQL
# trying to compress it first on every write (migrations 0016 and 0045). Here too, for a
# database created from these models rather than through the migrations (db.migrate, decision
# 0115).
for _table in (objects, object_versions):
    sa.event.listen(
        _table,
        "after_create",
        sa.DDL(  # type: ignore[no-untyped-call]
            f"ALTER TABLE {_table.name} ALTER COLUMN inline_data SET STORAGE EXTERNAL"
        ).execute_if(dialect="postgresql"),
    )

# The blobs of noncurrent versions (migration 0038), apart from ``object_blobs`` (those of
# current objects): the unversioned paths drop a key's object_blobs rows when they replace its
# object, and must never drop a noncurrent version's. The sweeper deletes no blob named here.
object_version_blobs = sa.Table(
    "object_version_blobs",
    metadata,
    sa.Column("blob_id", sa.Text, primary_key=True),
    sa.Column("bucket", sa.Text, nullable=False),
    sa.Column("key", key_text(), nullable=False),
    sa.Column("version_id", sa.Text, nullable=False),
)

object_blobs = sa.Table(
    "object_blobs",
    metadata,
    sa.Column("blob_id", sa.Text, primary_key=True),
    sa.Column("bucket", sa.Text, nullable=False),
    sa.Column("key", key_text(), nullable=False),
    sa.Index(None, "bucket", "key"),
)

multipart_uploads = sa.Table(
    "multipart_uploads",
    metadata,
    sa.Column("upload_id", sa.Text, primary_key=True),
    sa.Column("bucket", sa.Text, sa.ForeignKey("buckets.name"), nullable=False),
    sa.Column("key", key_text(), nullable=False),
    sa.Column("initiated", UtcDateTime, nullable=False),
    sa.Column("owner_id", sa.Text, nullable=False),
    sa.Column("headers", sa.Text, nullable=False),  # JSON
    sa.Column("checksum_algorithm", sa.Text, nullable=True),
    sa.Column("checksum_type", sa.Text, nullable=True),
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.Column("acl", sa.Text, nullable=True),  # the completed object's ACL
    sa.Index(None, "bucket", "key", "initiated", "upload_id"),
)

parts = sa.Table(
    "parts",
    metadata,
    sa.Column(
        "upload_id",
        sa.Text,
        sa.ForeignKey("multipart_uploads.upload_id"),
        primary_key=True,
    ),
    sa.Column("part_number", sa.Integer, primary_key=True),
    sa.Column("blob_id", sa.Text, nullable=False, index=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("etag", sa.Text, nullable=False),
    sa.Column("last_modified", UtcDateTime, nullable=False),
    sa.Column("checksum_algorithm", sa.Text, nullable=True),
    sa.Column("checksum_type", sa.Text, nullable=True),
    sa.Column("checksum_value", sa.Text, nullable=True),
    # The part's wrapped data key (migration 0004), JSON; NULL: a plaintext part (legacy).
    sa.Column("key", sa.Text, nullable=True),
    # The region whose store holds the blob (migration 0006); NULL: the default region.
    sa.Column("region", sa.Text, nullable=True),
)

blob_deletions = sa.Table(
    "blob_deletions",
    metadata,
    sa.Column("id", big_id(), primary_key=True, autoincrement=True),
    sa.Column("blob_id", sa.Text, nullable=False, index=True),
    sa.Column("not_before", UtcDateTime, nullable=False, index=True),
    # The region whose store holds the blob (migration 0006); NULL: the default region.
    sa.Column("region", sa.Text, nullable=True),
)

# -- bucket replication (migration 0043, decision 0112) -----------------------------------------
# One row per object version (or delete marker) waiting to be copied to a destination bucket:
# a durable work queue that gateways claim with FOR UPDATE SKIP LOCKED, each only the tasks
# whose two regions it serves, for a lease, retrying after a backoff (``not_before``).
replication_tasks = sa.Table(
    "replication_tasks",
    metadata,
    sa.Column("id", big_id(), primary_key=True, autoincrement=True),
    sa.Column("source_bucket", sa.Text, nullable=False),
    sa.Column("key", key_text(), nullable=False),
    sa.Column("version_id", sa.Text, nullable=False),
    sa.Column("destination_bucket", sa.Text, nullable=False),
    sa.Column("rule_id", sa.Text, nullable=False),
    sa.Column("source_region", sa.Text, nullable=False),
    sa.Column("destination_region", sa.Text, nullable=False),
    sa.Column("delete_marker", sa.Boolean, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("not_before", UtcDateTime, nullable=False, index=True),
    sa.Column("lease_until", UtcDateTime, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("last_error", sa.Text, nullable=True),
)
# x-amz-replication-status of a version: PENDING, COMPLETED or FAILED on a source, REPLICA on
# a destination. Apart from ``objects`` and ``object_versions`` so that a bucket that never
# replicates pays nothing for it; read only for buckets with a replication configuration or
# a replica written into them.
replication_statuses = sa.Table(
    "replication_statuses",
    metadata,
    sa.Column("bucket", sa.Text, primary_key=True),
    sa.Column("key", key_text(), primary_key=True),
    sa.Column("version_id", sa.Text, primary_key=True),
    sa.Column("status", sa.Text, nullable=False),
)

# -- bucket event notifications (decision 0132) -------------------------------------------------
# A tenant's SNS-style topics: where a bucket's events are pushed. The document is the topic's
# attributes as JSON with a format version (push-endpoint, OpaqueData, persistent…); no secret
# is in it, since a push endpoint carrying credentials is refused.
notification_topics = sa.Table(
    "notification_topics",
    metadata,
    sa.Column("tenant_id", sa.Text, primary_key=True),
    sa.Column("name", key_text(), primary_key=True),
    sa.Column("region", sa.Text, nullable=False),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)
# A FIFO topic's deduplication keys (SHA-256 digests bound to the topic) of the last five
# minutes, with the message each first published (decision 0171, migration 0079): a duplicate
# answers that message's id, and the row's id, its sequence number.
topic_deduplications = sa.Table(
    "topic_deduplications",
    metadata,
    sa.Column("id", big_id(), primary_key=True, autoincrement=True),
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("topic_name", key_text(), nullable=False),
    sa.Column("dedup_key", sa.Text, nullable=False),
    sa.Column("message_id", sa.Text, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("tenant_id", "topic_name", "dedup_key"),
)
# A FIFO topic's archived messages (decision 0175, migration 0081): each sealed under the
# tenant's key bound to the topic's ARN (as queued events are), kept until ``expires_at``
# (the retention when published; now once the archive ends), deleted by the upkeep in
# batches. ``size``: the record's bytes, for the archive's metering.
topic_archive = sa.Table(
    "topic_archive",
    metadata,
    sa.Column("id", big_id(), primary_key=True, autoincrement=True),
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("topic_arn", key_text(), nullable=False),
    sa.Column("published_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False, index=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.Index(None, "topic_arn", "id"),
)
# A subscription's replay of its topic's archive (decision 0175): the window asked, the last
# archive row queued (``cursor``) and ReplayStatus; one per subscription, a new ReplayPolicy
# replacing it.
topic_replays = sa.Table(
    "topic_replays",
    metadata,
    sa.Column("subscription_arn", key_text(), primary_key=True),
    sa.Column("topic_arn", key_text(), nullable=False),
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("starting", UtcDateTime, nullable=False),
    sa.Column("ending", UtcDateTime, nullable=True),
    sa.Column("cursor", sa.BigInteger, nullable=False),
    sa.Column("status", sa.Text, nullable=False, index=True),
)
# Events waiting to be pushed, written by the transaction that commits the version or the
# delete they tell of (so no committed write loses its event), claimed FOR UPDATE SKIP LOCKED.
# ``message`` is the S3 event JSON ready to send; the topic is looked up at delivery.
notification_events = sa.Table(
    "notification_events",
    metadata,
    sa.Column("id", big_id(), primary_key=True, autoincrement=True),
    sa.Column("tenant_id", sa.Text, nullable=False, index=True),
    sa.Column("topic_arn", sa.Text, nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("not_before", UtcDateTime, nullable=False, index=True),
    sa.Column("lease_until", UtcDateTime, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("last_error", sa.Text, nullable=True),
    # The caller's X-Amzn-Trace-Id, its Lambda lineage (decision 0336, migration 0149).
    sa.Column("trace", sa.Text, nullable=True),
    # A FIFO topic's subscription's events claimed in order (decision 0171, migration 0079).
    sa.Index(None, "topic_arn", "id"),
)
# A topic's subscriptions (decision 0163): keyed by their ARN (the topic's and a UUID);
# ``document`` holds the attributes and, until confirmed, the confirmation token.
notification_subscriptions = sa.Table(
    "notification_subscriptions",
    metadata,
    sa.Column("arn", key_text(), primary_key=True),
    sa.Column("topic_arn", key_text(), nullable=False, index=True),
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("owner", key_text(), nullable=False, index=True),
    sa.Column("protocol", sa.Text, nullable=False),
    sa.Column("endpoint", sa.Text, nullable=False),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)
# The region's SNS signing key (decision 0163): PKCS#8 PEM sealed under keys/secrets.key,
# and its certificate, served at SigningCertURL. One row; the first gateway makes it.
notification_signing_keys = sa.Table(
    "notification_signing_keys",
    metadata,
    sa.Column("key_id", key_text(), primary_key=True),
    sa.Column("sealed_key", sa.Text, nullable=False),
    sa.Column("certificate", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)
# The account-level S3 Block Public Access (S3 Control's PutPublicAccessBlock, decision 0152):
# one row per account (tenant), its four switches as PublicAccessBlock's JSON. Enforced
# together with each bucket's own, the stricter of the two winning.
account_public_access_blocks = sa.Table(
    "account_public_access_blocks",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("configuration", sa.Text, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)


# S3 Batch Operations (decision 0152's addendum): a job (its request as JSON, its status, its
# counters, the lease of the gateway working on it) and one row per manifest line (its result
# once done), so a gateway that restarts resumes where the job stands.
batch_jobs = sa.Table(
    "batch_jobs",
    metadata,
    sa.Column("job_id", key_text(), primary_key=True),
    sa.Column("tenant_id", key_text(), nullable=False),
    sa.Column("client_token", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("priority", sa.Integer, nullable=False),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("total_tasks", sa.Integer, nullable=True),
    sa.Column("succeeded", sa.Integer, nullable=False),
    sa.Column("failed", sa.Integer, nullable=False),
    sa.Column("failure_reasons", sa.Text, nullable=False),
    sa.Column("status_update_reason", sa.Text, nullable=True),
    sa.Column("lease_until", UtcDateTime, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("terminated_at", UtcDateTime, nullable=True),
    sa.UniqueConstraint("tenant_id", "client_token", name="uq_batch_jobs_token"),
)
sa.Index("ix_batch_jobs_tenant", batch_jobs.c.tenant_id, batch_jobs.c.created_at)

batch_job_tasks = sa.Table(
    "batch_job_tasks",
    metadata,
    sa.Column("job_id", key_text(), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("bucket", key_text(), nullable=False),
    sa.Column("key", key_text(), nullable=False),
    sa.Column("version_id", sa.Text, nullable=True),
    sa.Column("task_status", sa.Text, nullable=True),
    sa.Column("error_code", sa.Text, nullable=True),
    sa.Column("http_status", sa.Integer, nullable=True),
    sa.Column("message", sa.Text, nullable=True),
)
