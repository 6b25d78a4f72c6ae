"""The metadata store on SQLAlchemy Core: SQLite in embedded mode, PostgreSQL in distributed mode.

Each method is one read or one write job of :class:`andromede.db.database.Database`.
Keys are compared as text in UTF-8 byte order (SQLite's BINARY collation; ``COLLATE "C"`` on
PostgreSQL, see :func:`andromede.db.types.key_text`), and a prefix becomes a key range, so a
listing walks the ``(bucket, key)`` primary key. Segments and representation headers are JSON
text beside the row's ``format_version``.

Concurrency: on SQLite write jobs run one at a time. On PostgreSQL many gateways write at once at
READ COMMITTED, so every write job locks what its checks rely on, always in the same order —
bucket, then upload, then object or part row — so that two jobs never wait on each other in a
cycle:

- a job that adds rows under a bucket (PUT, complete, create upload) holds the bucket row
  ``FOR KEY SHARE``; DeleteBucket holds it ``FOR UPDATE``. Whichever comes second sees the
  other's outcome: no object or upload is ever left without its bucket, and a PUT that lost the
  race gets NoSuchBucket;
- complete and abort hold the upload ``FOR UPDATE``, UploadPart ``FOR KEY SHARE``: of two
  completes one wins and the other finds no upload, so parts are released once;
- an overwrite holds the old object row ``FOR UPDATE`` and a first write inserts with
  ``ON CONFLICT DO NOTHING`` (retrying as an overwrite when another insert won), so each
  replaced record is reported to exactly one writer, whose blobs then get deleted once. A
  conditional write or delete checks its condition on that locked row (or on the insert that
  found a row another writer made), so no other write slips between the check and the commit.

The store's parts, split off for size: ``store_sql_buckets`` (buckets and their settings) and
``store_sql_multipart`` (uploads and parts) are mixed into :class:`SqlMetadataStore`;
``store_sql_versions`` does what only versioned buckets need; the rows' encoding is
``store_sql_rows``'s and ``store_sql_bucket_rows``'s, and the statements built once and the
steps run inside a job's transaction are ``store_sql_statements``'s.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.database import Database
from andromede.db.notification_events import EventSealer
from andromede.storage import store_sql_versions as _versions
from andromede.storage.acl import AccessControlList
from andromede.storage.errors import ObjectChanged
from andromede.storage.model import (
    Bucket,
    ExpectedObject,
    ListPage,
    ObjectRecord,
    ObjectSummary,
    VersioningStatus,
)
from andromede.storage.notification import EventBatch
from andromede.storage.notification_queue_sql import queue_events, sealed
from andromede.storage.object_lock import LockChange, ObjectLockConfiguration
from andromede.storage.replication import ReplicationTarget
from andromede.storage.store_sql_account import SqlAccountMixin
from andromede.storage.store_sql_bucket_rows import _bucket_from_row, _known_policy, _policy_in
from andromede.storage.store_sql_buckets import SqlBucketsMixin
from andromede.storage.store_sql_multipart import SqlMultipartMixin
from andromede.storage.store_sql_rows import (
    _SUMMARY,
    DEFAULT_ROW_MEMO_SIZE,
    _blob_ids,
    _key_range,
    _object_from_row,
    _object_values,
    _stored_headers_json,
    _summary_from_row,
    prefix_upper_bound,
    set_row_memo_size,
)
from andromede.storage.store_sql_statements import (
    _BUCKET_WIDTH,
    _DELETE_OBJECT_BLOBS,
    _GET_BUCKET,
    _GET_OBJECT,
    _IN_BATCH,
    _INSERT_OBJECT_BLOB,
    _LOCK_OBJECT,
    _OBJECT_KEY_AT,
    _READ_BUCKET_AND_OBJECT,
    _READ_OBJECT,
    _UPDATE_OBJECT,
    _put_object,
    _put_object_in_one_statement,
    _queue_sync,
)
from andromede.storage.versioning import (
    DeleteMarker,
    RemovalCondition,
    VersionedWrite,
    VersionEntry,
)

__all__ = ["SqlMetadataStore", "prefix_upper_bound"]

_O = tables.objects
_OB = tables.object_blobs
_P = tables.parts
_D = tables.blob_deletions
_VB = tables.object_version_blobs


class SqlMetadataStore(SqlBucketsMixin, SqlMultipartMixin, SqlAccountMixin):
    """Every public method is one read (inline) or one write job (group-committed): see
    :class:`andromede.db.database.Database`. The ``_``-prefixed helpers run inside a job."""

    def __init__(
        self,
        db: Database,
        *,
        row_memo_size: int = DEFAULT_ROW_MEMO_SIZE,
        event_sealer: EventSealer | None = None,
    ) -> None:
        """``row_memo_size``: how many decoded sealed-header and key texts the process keeps
        (the setting opened_headers_cache_size: a worker that remembers an object's opened
        headers remembers its row's decoded text too). ``event_sealer``: seals the writes'
        notification events before their transactions (decision 0163's addendum); None
        queues them in clear (a store that only reads or migrates)."""
        if row_memo_size < 1:
            raise ValueError("the row memos hold at least one entry")
        set_row_memo_size(row_memo_size)
        self._db = db
        self._event_sealer = event_sealer
        # PostgreSQL has a PUT of its own, in one statement (_put_object_in_one_statement).
        self._postgresql = db.dialect == "postgresql"

    # -- objects --------------------------------------------------------------------------
    async def put_object(
        self,
        record: ObjectRecord,
        *,
        expected: ExpectedObject | None = None,
        notify: EventBatch | None = None,
    ) -> ObjectRecord | None:
        notify = await sealed(notify, self._event_sealer)
        if self._postgresql and expected is None and notify is None:
            return await _put_object_in_one_statement(self._db, record)
        # A conditional write takes the transaction: its condition is checked on the row it
        # holds locked (or, for "no object", on the insert that fails if one was made), which
        # the one-statement PUT, seeing only its snapshot, cannot do. So does a write whose
        # events are queued with it (decision 0132).
        return await self._db.write(lambda conn: _put_object(conn, record, expected, notify))

    async def get_object(self, bucket: str, key: str) -> ObjectRecord | None:
        row = await self._db.read_row(_READ_OBJECT, {"bucket": bucket, "key": key})
        return None if row is None else _object_from_row(row[:-1], row[-1])

    async def get_bucket_and_object(
        self, bucket: str, key: str
    ) -> tuple[Bucket | None, ObjectRecord | None]:
        row = await self._db.read_row(_READ_BUCKET_AND_OBJECT, {"name": bucket, "key": key})
        if row is None:
            return None, None
        policy = _known_policy(row)
        if policy == "":
            policy = await self._fetch_policy(bucket)
        found = _bucket_from_row(row[:_BUCKET_WIDTH], policy)
        if row[_OBJECT_KEY_AT] is None:  # the outer join found no object
            return found, None
        return found, _object_from_row(row[_BUCKET_WIDTH:-1], row[-1])

    async def replace_object_segments(self, expected: ObjectRecord, record: ObjectRecord) -> bool:
        names = {"bucket": record.bucket, "key": record.key}
        values = _object_values(record)

        def work(conn: Connection) -> bool:
            old = conn.execute(_LOCK_OBJECT, names).first()
            if old is None or _object_from_row(old).segments != expected.segments:
                return False
            conn.execute(_UPDATE_OBJECT, {**values, "b_bucket": record.bucket, "b_key": record.key})
            conn.execute(_DELETE_OBJECT_BLOBS, names)
            rows = [{"blob_id": blob_id, **names} for blob_id in _blob_ids(record.segments)]
            if rows:
                conn.execute(_INSERT_OBJECT_BLOB, rows)
            return True

        return await self._db.write(work)

    async def replace_object_headers(
        self,
        expected: ObjectRecord,
        record: ObjectRecord,
        *,
        replication: ReplicationTarget | None = None,
        notify: EventBatch | None = None,
    ) -> bool:
        notify = await sealed(notify, self._event_sealer)
        names = {"bucket": record.bucket, "key": record.key}
        text = _stored_headers_json(record.headers, record.sealed_headers)

        def work(conn: Connection) -> bool:
            # Locked, so that a PUT or copy landing meanwhile either commits first (and the
            # segments differ) or waits for this update and replaces it whole.
            old = conn.execute(_LOCK_OBJECT, names).first()
            if old is None or _object_from_row(old).segments != expected.segments:
                return False
            conn.execute(
                _O.update().where(_O.c.bucket == record.bucket, _O.c.key == record.key),
                {"headers": text},
            )
            _queue_sync(conn, replication, record.bucket, record.key, expected.version_id)
            queue_events(conn, notify, expected.version_id)
            return True

        return await self._db.write(work)

    async def legacy_objects(
        self, after: tuple[str, str] | None, limit: int, format_version: int
    ) -> list[ObjectRecord]:
        query = sa.select(_O).where(_O.c.format_version < format_version)
        if after is not None:
            query = query.where(sa.tuple_(_O.c.bucket, _O.c.key) > sa.tuple_(*after))
        query = query.order_by(_O.c.bucket, _O.c.key).limit(limit)

        def work(conn: Connection) -> list[ObjectRecord]:
            return [_object_from_row(row) for row in conn.execute(query)]

        return await self._db.read(work)

    async def set_object_acl(
        self,
        bucket: str,
        key: str,
        acl: AccessControlList | None,
        *,
        notify: EventBatch | None = None,
    ) -> ObjectRecord | None:
        notify = await sealed(notify, self._event_sealer)
        text = None if acl is None else acl.to_json()

        def work(conn: Connection) -> ObjectRecord | None:
            updated = conn.execute(
                _O.update().where(_O.c.bucket == bucket, _O.c.key == key).values(acl=text)
            )
            if updated.rowcount == 0:
                return None
            row = conn.execute(_GET_OBJECT, {"bucket": bucket, "key": key}).one()
            record = _object_from_row(row)
            queue_events(conn, notify, record.version_id)
            return record

        return await self._db.write(work)

    async def delete_object(
        self,
        bucket: str,
        key: str,
        *,
        if_etag: str | None = None,
        if_last_modified: datetime | None = None,
        notify: EventBatch | None = None,
    ) -> ObjectRecord | None:
        notify = await sealed(notify, self._event_sealer)

        def work(conn: Connection) -> ObjectRecord | None:
            # FOR UPDATE: of two deletes (or a delete and an overwrite) of the same key, only one
            # reports the record, so its blobs are released once; and a conditional delete
            # compares the ETag of the row it holds locked, the one it deletes.
            row = conn.execute(_LOCK_OBJECT, {"bucket": bucket, "key": key}).first()
            if if_etag is not None:
                current = None if row is None else _object_from_row(row)
                if (
                    current is None
                    or current.etag != if_etag
                    or (if_last_modified is not None and current.last_modified != if_last_modified)
                ):
                    raise ObjectChanged(f"{key} is not the object the condition was checked on")
            if row is None:
                return None
            conn.execute(_O.delete().where(_O.c.bucket == bucket, _O.c.key == key))
            conn.execute(_OB.delete().where(_OB.c.bucket == bucket, _OB.c.key == key))
            removed = _object_from_row(row)
            queue_events(conn, notify, None)
            return removed

        return await self._db.write(work)

    async def list_objects(
        self, bucket: str, *, prefix: str, after: str | None, limit: int
    ) -> ListPage[ObjectSummary]:
        conditions = [_O.c.bucket == bucket, *_key_range(_O.c.key, prefix)]
        if after is not None:
            conditions.append(_O.c.key > after)
        query = sa.select(*_SUMMARY).where(*conditions).order_by(_O.c.key).limit(limit + 1)

        def work(conn: Connection) -> ListPage[ObjectSummary]:
            rows = conn.execute(query).all()
            return ListPage(tuple(_summary_from_row(r) for r in rows[:limit]), len(rows) > limit)

        return await self._db.read(work)

    # -- versioned buckets (decision 0097; store_sql_versions.py) ----------------------------
    async def set_bucket_versioning(self, name: str, status: VersioningStatus) -> None:
        await self._db.write(lambda conn: _versions.set_versioning(conn, name, status))

    async def set_bucket_object_lock(self, name: str, config: ObjectLockConfiguration) -> Bucket:
        def work(conn: Connection) -> Bucket:
            _versions.set_object_lock(conn, name, config)
            row = conn.execute(_GET_BUCKET, {"name": name}).one()
            return _bucket_from_row(row, _policy_in(conn, row))

        return await self._db.write(work)

    async def put_object_version(
        self,
        record: ObjectRecord,
        *,
        expected: ExpectedObject | None = None,
        replication: ReplicationTarget | None = None,
        notify: EventBatch | None = None,
    ) -> VersionedWrite:
        notify = await sealed(notify, self._event_sealer)

        def work(conn: Connection) -> VersionedWrite:
            written = _versions.put_version(conn, record, expected, replication)
            queue_events(conn, notify, written.version_id)
            return written

        return await self._db.write(work)

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
        notify = await sealed(notify, self._event_sealer)

        def work(conn: Connection) -> VersionedWrite:
            written = _versions.put_marker(
                conn, bucket, key, owner_id, now, if_etag, version_id, replication
            )
            queue_events(conn, notify, written.version_id)
            return written

        return await self._db.write(work)

    async def get_object_version(
        self, bucket: str, key: str, version_id: str
    ) -> ObjectRecord | DeleteMarker | None:
        return await self._db.read(
            lambda conn: _versions.get_version(conn, bucket, key, version_id)
        )

    async def get_current_delete_marker(self, bucket: str, key: str) -> DeleteMarker | None:
        return await self._db.read(lambda conn: _versions.current_marker(conn, bucket, key))

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
        notify = await sealed(notify, self._event_sealer)
        moment = now or datetime.now(UTC)

        def work(conn: Connection) -> ObjectRecord | DeleteMarker | None:
            removed = _versions.delete_version(
                conn, bucket, key, version_id, only_if, moment, bypass_governance
            )
            if removed is not None:
                queue_events(conn, notify, removed.version_id)
            return removed

        return await self._db.write(work)

    async def replace_version_headers(
        self,
        expected: ObjectRecord,
        record: ObjectRecord,
        *,
        replication: ReplicationTarget | None = None,
        notify: EventBatch | None = None,
    ) -> bool:
        notify = await sealed(notify, self._event_sealer)
        text = _stored_headers_json(record.headers, record.sealed_headers)

        def work(conn: Connection) -> bool:
            if not _versions.replace_headers(conn, expected, text):
                return False
            _queue_sync(conn, replication, expected.bucket, expected.key, expected.version_id)
            queue_events(conn, notify, expected.version_id)
            return True

        return await self._db.write(work)

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
        notify = await sealed(notify, self._event_sealer)
        text = None if acl is None else acl.to_json()

        def work(conn: Connection) -> ObjectRecord | DeleteMarker | None:
            changed = _versions.set_acl(conn, bucket, key, version_id, text)
            if isinstance(changed, ObjectRecord):
                _queue_sync(conn, replication, bucket, key, version_id)
                queue_events(conn, notify, changed.version_id)
            return changed

        return await self._db.write(work)

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
        def work(conn: Connection) -> ObjectRecord | DeleteMarker | None:
            changed = _versions.update_lock(conn, bucket, key, version_id, change, now)
            if isinstance(changed, ObjectRecord):
                _queue_sync(conn, replication, bucket, key, version_id, now)
            return changed

        return await self._db.write(work)

    async def list_object_versions(
        self,
        bucket: str,
        *,
        prefix: str,
        after_key: str | None,
        after_version: str | None,
        limit: int,
    ) -> ListPage[VersionEntry]:
        return await self._db.read(
            lambda conn: _versions.list_versions(
                conn,
                bucket,
                prefix=prefix,
                after_key=after_key,
                after_version=after_version,
                limit=limit,
            )
        )

    # -- housekeeping -----------------------------------------------------------------------
    async def queue_blob_deletion(
        self, blob_ids: Iterable[str], not_before: datetime, *, region: str | None = None
    ) -> None:
        rows = [
            {"blob_id": blob_id, "not_before": not_before, "region": region} for blob_id in blob_ids
        ]
        if rows:
            await self._db.write(lambda conn: conn.execute(_D.insert(), rows))

    async def take_due_blob_deletions(
        self, now: datetime, limit: int, *, regions: Collection[str | None] | None = None
    ) -> list[str]:
        conditions = [_D.c.not_before <= now]
        if regions is not None:
            # A gateway's sweeper deletes only in the stores it opened.
            named = [r for r in regions if r is not None]
            of_region = [_D.c.region.in_(named)] if named else []
            if None in regions:
                of_region.append(_D.c.region.is_(None))
            conditions.append(sa.or_(*of_region) if of_region else sa.false())

        def work(conn: Connection) -> list[str]:
            rows = conn.execute(
                sa.select(_D.c.id, _D.c.blob_id)
                .where(*conditions)
                .order_by(_D.c.not_before, _D.c.id)
                .limit(limit)
                # Sweepers of several gateways share the queue: each takes rows the others
                # have not locked, and none waits.
                .with_for_update(skip_locked=True)
            ).all()
            ids = [r.id for r in rows]
            for i in range(0, len(ids), _IN_BATCH):
                conn.execute(_D.delete().where(_D.c.id.in_(ids[i : i + _IN_BATCH])))
            return [r.blob_id for r in rows]

        return await self._db.write(work)

    async def referenced_blob_ids(self, candidates: Iterable[str]) -> set[str]:
        wanted = list(set(candidates))

        def work(conn: Connection) -> set[str]:
            found: set[str] = set()
            for i in range(0, len(wanted), _IN_BATCH):
                batch = wanted[i : i + _IN_BATCH]
                query = sa.union(
                    sa.select(_OB.c.blob_id).where(_OB.c.blob_id.in_(batch)),
                    sa.select(_P.c.blob_id).where(_P.c.blob_id.in_(batch)),
                    sa.select(_D.c.blob_id).where(_D.c.blob_id.in_(batch)),
                    sa.select(_VB.c.blob_id).where(_VB.c.blob_id.in_(batch)),
                )
                found.update(conn.scalars(query).all())
            return found

        return await self._db.read(work)
