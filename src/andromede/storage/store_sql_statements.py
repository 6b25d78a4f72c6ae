"""The SQL metadata store's statements built once, at import, and the steps that run inside a
job's transaction (the PUT, the holds on a bucket or an upload, the drop of an upload, the
queueing of a replica's metadata change). Building and cache-keying a Core expression per call
was most of the writer's time on a 4 KiB PUT, so the hot paths' statements are built here once.
Split off ``store_sql`` for size; ``store_sql`` holds the locking order they follow.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.database import Database
from andromede.db.statements import InsertIgnoringConflict, RowQuery, RowStatement
from andromede.storage.abac import ABAC_DOCUMENT
from andromede.storage.data_events import DATA_EVENTS_DOCUMENT
from andromede.storage.errors import BucketVersioned, NoSuchBucket, ObjectChanged
from andromede.storage.model import ExpectedObject, ObjectRecord, Part
from andromede.storage.notification import NOTIFICATION_DOCUMENT, EventBatch
from andromede.storage.notification_queue_sql import queue_events
from andromede.storage.replication import REPLICATION_DOCUMENT, ReplicationTarget
from andromede.storage.replication_queue_sql import queue_in_transaction
from andromede.storage.store_sql_bucket_rows import _GET_POLICY
from andromede.storage.store_sql_rows import (
    _OBJECT_COLUMNS,
    _blob_ids,
    _object_from_row,
    _object_values,
    _part_from_row,
)

_B = tables.buckets
_BD = tables.bucket_documents
_O = tables.objects
_OB = tables.object_blobs
_U = tables.multipart_uploads
_P = tables.parts

# Bound the number of bound parameters per statement (SQLite's limit is 32766 nowadays, but
# older builds stop at 999).
_IN_BATCH = 500


def _queue_sync(
    conn: Connection,
    target: ReplicationTarget | None,
    bucket: str,
    key: str,
    version_id: str | None,
    now: datetime | None = None,
) -> None:
    """A version's metadata change queued for its replica in the change's own transaction
    (decision 0112, increment 6): the same task as its copy, which finds the replica there."""
    if target is None or version_id is None:
        return
    queue_in_transaction(conn, target, bucket, key, version_id, now or datetime.now(UTC))


# -- inside a job's transaction ---------------------------------------------------------------
# The statements of the hot paths are built once: building and cache-keying a Core expression
# per call was most of the writer's time on a 4 KiB PUT.
_IS_OBJECT = (_O.c.bucket == sa.bindparam("bucket")) & (_O.c.key == sa.bindparam("key"))
_IS_OBJECT_BLOB = (_OB.c.bucket == sa.bindparam("bucket")) & (_OB.c.key == sa.bindparam("key"))
# A bucket is read with its data-events setting (decision 0109), a row of bucket_documents
# found by its primary key in the same query: every GET knows whether to audit itself without
# a second read.
_DATA_EVENTS = _BD.alias("data_events")
_BUCKET_WITH_SETTINGS = _B.outerjoin(
    _DATA_EVENTS,
    (_DATA_EVENTS.c.bucket == _B.c.name)
    & (_DATA_EVENTS.c.kind == sa.literal_column(f"'{DATA_EVENTS_DOCUMENT}'")),
)
# Its replication configuration (decision 0112) likewise: a PUT knows whether to queue a copy
# of the version it writes, and a bucket that does not replicate pays a join that finds no row.
_REPLICATION = _BD.alias("replication")
_BUCKET_WITH_SETTINGS = _BUCKET_WITH_SETTINGS.outerjoin(
    _REPLICATION,
    (_REPLICATION.c.bucket == _B.c.name)
    & (_REPLICATION.c.kind == sa.literal_column(f"'{REPLICATION_DOCUMENT}'")),
)
# Its event notification configuration (decision 0132) likewise: a write knows whether to
# queue events without a read of its own.
_NOTIFICATION = _BD.alias("notification")
_BUCKET_WITH_SETTINGS = _BUCKET_WITH_SETTINGS.outerjoin(
    _NOTIFICATION,
    (_NOTIFICATION.c.bucket == _B.c.name)
    & (_NOTIFICATION.c.kind == sa.literal_column(f"'{NOTIFICATION_DOCUMENT}'")),
)
# Its account's Block Public Access (decision 0152) likewise: enforced with the bucket's own on
# every request, from the row it reads, so a change made through any gateway holds at once.
_ACCOUNT_BLOCK = tables.account_public_access_blocks
_BUCKET_WITH_SETTINGS = _BUCKET_WITH_SETTINGS.outerjoin(
    _ACCOUNT_BLOCK, _ACCOUNT_BLOCK.c.tenant_id == _B.c.tenant_id
)
# Its ABAC status (decision 0418), and with it, only while Enabled, its tags: every request's
# policies see aws:ResourceTag from the row they read, so a retagging through any gateway
# holds at once, and a bucket without ABAC pays two joins that find no row.
_ABAC = _BD.alias("abac")
_ABAC_TAGS = tables.bucket_tags.alias("abac_tags")
_BUCKET_WITH_SETTINGS = _BUCKET_WITH_SETTINGS.outerjoin(
    _ABAC,
    (_ABAC.c.bucket == _B.c.name) & (_ABAC.c.kind == sa.literal_column(f"'{ABAC_DOCUMENT}'")),
).outerjoin(_ABAC_TAGS, (_ABAC_TAGS.c.bucket == _B.c.name) & _ABAC.c.bucket.is_not(None))
_BUCKET_ROW = (
    *_B.c,
    _DATA_EVENTS.c.document.label("data_events"),
    _REPLICATION.c.document.label("replication"),
    _NOTIFICATION.c.document.label("notification"),
    _ACCOUNT_BLOCK.c.configuration.label("account_block"),
    _ABAC.c.document.label("abac"),
    _ABAC_TAGS.c.tags.label("abac_tags"),
)
_BUCKETS = sa.select(*_BUCKET_ROW).select_from(_BUCKET_WITH_SETTINGS)
_DATA_READS_ON = json.dumps({"read": True})
_GET_BUCKET = _BUCKETS.where(_B.c.name == sa.bindparam("name"))
_HOLD_BUCKET = (
    sa.select(_B.c.name, _B.c.region, _B.c.versioning)
    .where(_B.c.name == sa.bindparam("name"))
    .with_for_update(read=True, key_share=True)
)
_LOCK_BUCKET = sa.select(_B.c.name).where(_B.c.name == sa.bindparam("name")).with_for_update()
_INSERT_BUCKET = InsertIgnoringConflict(_B, ["name"])
_GET_OBJECT = sa.select(_O).where(_IS_OBJECT)
_READ_POLICY = RowQuery(_GET_POLICY)
# A GET's one query: the bucket (authorisation) with its object, if any (the answer). The
# object's columns are prefixed, since both tables have an ``acl``.
# The object's replication status (decision 0112) comes with it, found by the status table's
# primary key in the same query: a GET or HEAD of a versioned bucket makes no read of its own
# for x-amz-replication-status, and an unversioned object (no version id) matches no row.
_RS = tables.replication_statuses
_OBJECT_STATUS = (
    (_RS.c.bucket == _O.c.bucket) & (_RS.c.key == _O.c.key) & (_RS.c.version_id == _O.c.version_id)
)
_OBJECT_IN_BUCKET = _BUCKET_WITH_SETTINGS.outerjoin(
    _O, (_O.c.bucket == _B.c.name) & (_O.c.key == sa.bindparam("key"))
).outerjoin(_RS, _OBJECT_STATUS)
_READ_BUCKET_AND_OBJECT = RowQuery(
    sa.select(*_BUCKET_ROW, *(c.label(f"o_{c.name}") for c in _O.c), _RS.c.status)
    .select_from(_OBJECT_IN_BUCKET)
    .where(_B.c.name == sa.bindparam("name"))
)
_BUCKET_WIDTH = len(_BUCKET_ROW)
_OBJECT_KEY_AT = _BUCKET_WIDTH + _OBJECT_COLUMNS.index("key")
_READ_BUCKET = RowQuery(_GET_BUCKET)
_READ_OBJECT = RowQuery(
    sa.select(_O, _RS.c.status).select_from(_O.outerjoin(_RS, _OBJECT_STATUS)).where(_IS_OBJECT)
)
_LOCK_OBJECT = _GET_OBJECT.with_for_update()
_INSERT_OBJECT = InsertIgnoringConflict(_O, ["bucket", "key"])
_INSERT_PART = InsertIgnoringConflict(_P, ["upload_id", "part_number"])
_UPDATE_OBJECT = _O.update().where(
    (_O.c.bucket == sa.bindparam("b_bucket")) & (_O.c.key == sa.bindparam("b_key"))
)
_DELETE_OBJECT_BLOBS = _OB.delete().where(_IS_OBJECT_BLOB)
_INSERT_OBJECT_BLOB = _OB.insert()


_SHARED = "key share"
_EXCLUSIVE = "update"


def _hold_bucket(conn: Connection, name: str) -> bool:
    """Whether the bucket exists, keeping it from being deleted until the job ends."""
    return conn.execute(_HOLD_BUCKET, {"name": name}).first() is not None


def _upload_exists(conn: Connection, upload_id: str, *, lock: str) -> bool:
    query = sa.select(_U.c.upload_id).where(_U.c.upload_id == upload_id)
    if lock == _SHARED:
        query = query.with_for_update(read=True, key_share=True)
    else:
        query = query.with_for_update()
    return conn.execute(query).first() is not None


def _put_object(
    conn: Connection,
    record: ObjectRecord,
    expected: ExpectedObject | None = None,
    notify: EventBatch | None = None,
) -> ObjectRecord | None:
    held = conn.execute(_HOLD_BUCKET, {"name": record.bucket}).first()
    # A bucket made again in another region while the blobs were written is not theirs.
    if held is None or not record.stored_in(held.region):
        raise NoSuchBucket(record.bucket)
    if held.versioning is not None:
        # Versioning was turned on since the caller read the bucket: replacing the object
        # here would lose the version it must keep.
        raise BucketVersioned(record.bucket)
    names = {"bucket": record.bucket, "key": record.key}
    values = _object_values(record)
    while True:
        old = conn.execute(_LOCK_OBJECT, names).first()
        if expected is not None and not expected.holds_for(
            None if old is None else _object_from_row(old)
        ):
            raise ObjectChanged(f"{record.key} is not the object the condition was checked on")
        if old is not None:
            conn.execute(_UPDATE_OBJECT, {**values, "b_bucket": record.bucket, "b_key": record.key})
            conn.execute(_DELETE_OBJECT_BLOBS, names)
            break
        if _INSERT_OBJECT(conn, values):
            break
        # Another writer created the key since the read above: this write replaces theirs.
    blob_rows = [{"blob_id": blob_id, **names} for blob_id in _blob_ids(record.segments)]
    if blob_rows:
        conn.execute(_INSERT_OBJECT_BLOB, blob_rows)
    queue_events(conn, notify, None)
    return None if old is None else _object_from_row(old)


# PutObject on PostgreSQL, in one statement run in autocommit (its own transaction): one round
# trip where _put_object takes six (BEGIN, bucket, old row, insert or update, blob rows, COMMIT).
# The same locks in the same order: the bucket FOR KEY SHARE (so DeleteBucket, FOR UPDATE, waits
# for the PUT or the PUT finds no bucket), then the old object FOR UPDATE, held until the
# statement commits. At READ COMMITTED a locked row is re-read at its latest version once its
# lock is granted, so ``previous`` is the record this write replaces, whichever writer committed
# it, and it is reported to this writer alone. What a single statement cannot do is see rows
# committed after it started other than the ones it locks: ``seen`` tells when the replaced
# record is newer than the statement's snapshot, whose object_blobs rows the DELETE below could
# not see; the caller then deletes them in a second statement.
# A first write inserts with ON CONFLICT DO NOTHING; when another writer inserted the key since
# the snapshot, nothing is written and the caller runs the statement again, now an overwrite.
_PUT_OBJECT_STATEMENT = RowStatement(
    sa.text(
        """
WITH bucket AS (
    SELECT region, versioning FROM buckets WHERE name = :bucket FOR KEY SHARE
), target AS (
    SELECT 1 FROM bucket
    WHERE (CAST(:region AS text) IS NULL OR bucket.region = CAST(:region AS text))
        AND bucket.versioning IS NULL
), previous AS (
    SELECT o.*, o.xmin AS version FROM objects AS o
    WHERE o.bucket = :bucket AND o.key = :key AND EXISTS (SELECT 1 FROM target)
    FOR UPDATE OF o
), seen AS (
    SELECT o.xmin AS version FROM objects AS o WHERE o.bucket = :bucket AND o.key = :key
), updated AS (
    UPDATE objects AS o SET
        size = CAST(:size AS bigint), etag = :etag,
        last_modified = CAST(:last_modified AS timestamptz), owner_id = :owner_id,
        checksum_algorithm = :checksum_algorithm, checksum_type = :checksum_type,
        checksum_value = :checksum_value, headers = :headers, segments = :segments,
        format_version = CAST(:format_version AS integer), acl = :acl,
        inline_data = CAST(:inline_data AS bytea)
    FROM previous WHERE o.bucket = previous.bucket AND o.key = previous.key
    RETURNING previous.*
), inserted AS (
    INSERT INTO objects (bucket, key, size, etag, last_modified, owner_id, checksum_algorithm,
        checksum_type, checksum_value, headers, segments, format_version, acl, inline_data)
    SELECT :bucket, :key, CAST(:size AS bigint), :etag, CAST(:last_modified AS timestamptz),
        :owner_id, :checksum_algorithm, :checksum_type, :checksum_value, :headers, :segments,
        CAST(:format_version AS integer), :acl, CAST(:inline_data AS bytea)
    FROM target WHERE NOT EXISTS (SELECT 1 FROM previous)
    ON CONFLICT (bucket, key) DO NOTHING
    RETURNING 1
), dropped_blobs AS (
    DELETE FROM object_blobs
    WHERE bucket = :bucket AND key = :key AND EXISTS (SELECT 1 FROM updated)
), added_blobs AS (
    INSERT INTO object_blobs (blob_id, bucket, key)
    SELECT blob_id, :bucket, :key FROM unnest(CAST(:blob_ids AS text[])) AS blob_id
    WHERE EXISTS (SELECT 1 FROM updated) OR EXISTS (SELECT 1 FROM inserted)
)
SELECT
    EXISTS (SELECT 1 FROM target) AS bucket_held,
    EXISTS (SELECT 1 FROM bucket WHERE versioning IS NOT NULL) AS versioned,
    EXISTS (SELECT 1 FROM inserted) AS inserted,
    (SELECT version FROM seen) IS DISTINCT FROM updated.version AS raced,
    updated.*
FROM (SELECT 1) AS one LEFT JOIN updated ON true
"""
    )
)
_DELETE_BLOB_ROWS = _OB.delete().where(_OB.c.blob_id.in_(sa.bindparam("ids", expanding=True)))


async def _put_object_in_one_statement(db: Database, record: ObjectRecord) -> ObjectRecord | None:
    """:func:`_put_object` on PostgreSQL, mostly in one round trip (see the statement)."""
    regions = {s.region for s in record.segments if s.region is not None}
    if len(regions) > 1:  # stored in no single region: in no bucket's
        raise NoSuchBucket(record.bucket)
    values = {
        **_object_values(record),
        "region": next(iter(regions), None),
        "blob_ids": _blob_ids(record.segments),
    }
    while True:
        row = await db.write_row(_PUT_OBJECT_STATEMENT, values)
        if row is None:  # the statement always answers one row
            raise RuntimeError("the PUT statement returned no row")
        if not row["bucket_held"]:
            if row["versioned"]:  # turned on since the caller read the bucket (_put_object)
                raise BucketVersioned(record.bucket)
            raise NoSuchBucket(record.bucket)
        if row["inserted"]:
            return None
        if row["key"] is not None:
            break
        # Another writer created the key since the statement's snapshot: run it again.
    replaced = _object_from_row([row[name] for name in _OBJECT_COLUMNS])
    if row["raced"]:
        stale = _blob_ids(replaced.segments)
        if stale:
            await db.write_statement(lambda conn: conn.execute(_DELETE_BLOB_ROWS, {"ids": stale}))
    return replaced


def _drop_upload(conn: Connection, upload_id: str) -> list[Part]:
    rows = conn.execute(
        sa.select(_P).where(_P.c.upload_id == upload_id).order_by(_P.c.part_number)
    ).all()
    conn.execute(_P.delete().where(_P.c.upload_id == upload_id))
    conn.execute(_U.delete().where(_U.c.upload_id == upload_id))
    return [_part_from_row(r) for r in rows]
