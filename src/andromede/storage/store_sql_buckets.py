"""The SQL metadata store's buckets: create, read, list, delete, and their settings (access,
tags, CORS, the configuration documents, data-read audit, Requester Pays, usage).

Mixed into :class:`~andromede.storage.store_sql.SqlMetadataStore`; split off only for size.
Each method is one read or one write job, locking in ``store_sql``'s order.
"""

from __future__ import annotations

import dataclasses
import json

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.database import Database
from andromede.db.statements import InsertIgnoringConflict
from andromede.storage import store_sql_versions as _versions
from andromede.storage.access_logging import (
    LOGGING_DOCUMENT,
    MISSING_TARGET,
    REQUESTER_PAYS_TARGET,
    LoggingTarget,
)
from andromede.storage.cors import CorsConfiguration
from andromede.storage.data_events import DATA_EVENTS_DOCUMENT
from andromede.storage.errors import (
    BucketAlreadyExists,
    BucketAlreadyOwnedByYou,
    BucketIsLogTarget,
    BucketNotEmpty,
    InvalidLogTarget,
    NoSuchBucket,
)
from andromede.storage.model import Bucket, BucketStorage, BucketUsage, Part
from andromede.storage.store_sql_bucket_rows import (
    _REQUESTER,
    _bucket_access_values,
    _bucket_from_row,
    _fetched_policy,
    _known_policy,
    _policy_in,
    _policy_rows,
    policy_digest,
)
from andromede.storage.store_sql_statements import (
    _BUCKETS,
    _DATA_READS_ON,
    _GET_BUCKET,
    _HOLD_BUCKET,
    _INSERT_BUCKET,
    _LOCK_BUCKET,
    _READ_BUCKET,
    _READ_POLICY,
    _drop_upload,
)

__all__ = ["SqlBucketsMixin", "put_logging", "set_requester_pays"]

_B = tables.buckets
_BP = tables.bucket_policies
_BT = tables.bucket_tags
_BC = tables.bucket_cors
_BD = tables.bucket_documents
_INSERT_DOCUMENT = InsertIgnoringConflict(_BD, ("bucket", "kind"))
_O = tables.objects
_U = tables.multipart_uploads
# A log target and Requester Pays exclude each other (decisions 0133, 0150). Both writes lock
# the target bucket's row, so that on PostgreSQL the second waits for the first and then
# reads what it committed: PutBucketRequestPayment holds it FOR NO KEY UPDATE before it reads
# the owner's logging configurations, PutBucketLogging FOR SHARE before it reads the target's
# payer (two loggings into one target do not wait on each other, and neither waits for the
# PUTs that hold the row FOR KEY SHARE). Each holds one row in a mode that can wait, so no
# cycle. SQLite runs write jobs one at a time.
_CLAIM_BUCKET = (
    sa.select(_B.c.tenant_id, _B.c.region)
    .where(_B.c.name == sa.bindparam("name"))
    .with_for_update(key_share=True)
)
_SHARE_BUCKET = (
    sa.select(_B.c.request_payer)
    .where(_B.c.name == sa.bindparam("name"))
    .with_for_update(read=True)
)


def set_requester_pays(conn: Connection, name: str, *, requester_pays: bool) -> Bucket:
    """PutBucketRequestPayment's write job: refused (BucketIsLogTarget) for Requester while
    a bucket of the owner in its region logs into it, read under the bucket's lock."""
    held = conn.execute(_CLAIM_BUCKET, {"name": name}).first()
    if held is None:
        raise NoSuchBucket(name)
    if requester_pays:
        documents = conn.execute(
            sa.select(_BD.c.document)
            .join(_B, _B.c.name == _BD.c.bucket)
            .where(
                _B.c.tenant_id == held.tenant_id,
                _B.c.region == held.region,
                _BD.c.kind == LOGGING_DOCUMENT,
            )
        )
        if any(LoggingTarget.from_text(text).bucket == name for text in documents.scalars()):
            raise BucketIsLogTarget
    payer = _REQUESTER if requester_pays else None
    conn.execute(_B.update().where(_B.c.name == name).values(request_payer=payer))
    row = conn.execute(_GET_BUCKET, {"name": name}).one()
    return _bucket_from_row(row, _policy_in(conn, row))


def put_logging(conn: Connection, name: str, target: LoggingTarget | None) -> None:
    """PutBucketLogging's write job: refused (InvalidLogTarget) when the target is gone or
    Requester Pays, read under the target's lock."""
    # Held as PutBucketTagging holds it: a racing DeleteBucket waits, or this fails.
    if conn.execute(_HOLD_BUCKET, {"name": name}).first() is None:
        raise NoSuchBucket(name)
    if target is not None:
        payer = conn.execute(_SHARE_BUCKET, {"name": target.bucket}).first()
        if payer is None:
            raise InvalidLogTarget(MISSING_TARGET)
        if payer.request_payer is not None:
            raise InvalidLogTarget(REQUESTER_PAYS_TARGET)
    is_logging = (_BD.c.bucket == name) & (_BD.c.kind == LOGGING_DOCUMENT)
    conn.execute(_BD.delete().where(is_logging))
    if target is not None:
        conn.execute(
            _BD.insert().values(bucket=name, kind=LOGGING_DOCUMENT, document=target.to_text())
        )


class SqlBucketsMixin:
    """The SQL store's buckets and their configuration (mixed into :class:`SqlMetadataStore`)."""

    _db: Database

    async def create_bucket(self, bucket: Bucket) -> None:
        values = {
            "name": bucket.name,
            "tenant_id": bucket.tenant_id,
            "owner_id": bucket.owner_id,
            "region": bucket.region,
            "created_at": bucket.created_at,
            **_bucket_access_values(
                {
                    "object_ownership": bucket.object_ownership,
                    "public_access_block": bucket.public_access_block,
                    "acl": bucket.acl,
                }
            ),
            "object_lock": None if bucket.object_lock is None else bucket.object_lock.to_json(),
            # A bucket made with Object Lock is versioned from its first moment (decision 0102).
            "versioning": None if bucket.versioning is None else bucket.versioning.value,
            "policy_digest": None if bucket.policy is None else policy_digest(bucket.policy),
            "request_payer": _REQUESTER if bucket.requester_pays else None,
        }

        def work(conn: Connection) -> None:
            while not _INSERT_BUCKET(conn, values):
                # Taken, perhaps a moment ago by another gateway: say by whom (unless it was
                # deleted again meanwhile, and the name is free once more).
                owner = conn.scalar(sa.select(_B.c.tenant_id).where(_B.c.name == bucket.name))
                if owner == bucket.tenant_id:
                    raise BucketAlreadyOwnedByYou(bucket.name)
                if owner is not None:
                    raise BucketAlreadyExists(bucket.name)
            _policy_rows(conn, bucket.name, bucket.policy)

        await self._db.write(work)

    async def get_bucket(self, name: str) -> Bucket | None:
        row = await self._db.read_row(_READ_BUCKET, {"name": name})
        if row is None:
            return None
        policy = _known_policy(row)
        if policy == "":
            policy = await self._fetch_policy(name)
        return _bucket_from_row(row, policy)

    async def _fetch_policy(self, bucket: str) -> str | None:
        """The policy text of a bucket row whose digest this process has no text for."""
        found = await self._db.read_row(_READ_POLICY, {"bucket": bucket})
        return _fetched_policy(None if found is None else found[0])

    async def list_buckets(self, tenant_id: str) -> list[Bucket]:
        query = _BUCKETS.where(_B.c.tenant_id == tenant_id).order_by(_B.c.name)

        def work(conn: Connection) -> list[Bucket]:
            return [_bucket_from_row(r, _policy_in(conn, r)) for r in conn.execute(query).all()]

        return await self._db.read(work)

    async def all_buckets(self) -> list[Bucket]:
        query = _BUCKETS.order_by(_B.c.tenant_id, _B.c.name)

        def work(conn: Connection) -> list[Bucket]:
            return [_bucket_from_row(r, _policy_in(conn, r)) for r in conn.execute(query).all()]

        return await self._db.read(work)

    async def usage_by_bucket(self) -> dict[str, BucketUsage]:
        query = sa.select(_O.c.bucket, sa.func.count(), sa.func.sum(_O.c.size)).group_by(
            _O.c.bucket
        )
        versions = tables.object_versions
        noncurrent = (
            sa.select(versions.c.bucket, sa.func.count(), sa.func.sum(versions.c.size))
            .where(~versions.c.delete_marker)
            .group_by(versions.c.bucket)
        )

        def work(conn: Connection) -> dict[str, BucketUsage]:
            usage = {
                bucket: BucketUsage(int(count), int(total or 0))
                for bucket, count, total in conn.execute(query).all()
            }
            for bucket, count, total in conn.execute(noncurrent).all():
                usage[bucket] = dataclasses.replace(
                    usage.get(bucket, BucketUsage()),
                    noncurrent_versions=int(count),
                    noncurrent_bytes=int(total or 0),
                )
            return usage

        return await self._db.read(work)

    async def bucket_storage(self, name: str) -> BucketStorage:
        # One statement of three scalar aggregates, each one range of an index that starts
        # with the bucket (the primary keys of objects and object_versions, the uploads'
        # bucket index then the parts' primary key): measured in decision 0181. The name is
        # written into the statement, not bound: PostgreSQL would otherwise settle on one
        # generic plan for every bucket after five runs, a whole-table scan once the first
        # buckets read were large (24 ms instead of 0.04 for a one-object bucket, measured).
        bucket: sa.BindParameter[str] = sa.bindparam("bucket", name, literal_execute=True)
        versions, uploads, parts = tables.object_versions, tables.multipart_uploads, tables.parts
        sources = (
            sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(_O.c.size), 0)).where(
                _O.c.bucket == bucket
            ),
            sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(versions.c.size), 0)).where(
                versions.c.bucket == bucket
            ),
            sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(parts.c.size), 0))
            .select_from(parts.join(uploads, parts.c.upload_id == uploads.c.upload_id))
            .where(uploads.c.bucket == bucket),
        )
        query = sa.union_all(*sources)

        def work(conn: Connection) -> BucketStorage:
            rows = conn.execute(query).all()
            return BucketStorage(sum(int(r[0]) for r in rows), sum(int(r[1]) for r in rows))

        return await self._db.read(work)

    async def update_bucket_access(self, name: str, **changes: object) -> Bucket:
        values = _bucket_access_values(changes)
        new_policy = values.pop("policy", None)
        if new_policy is not None and not isinstance(new_policy, str):
            raise TypeError("a bucket policy is its JSON text")

        def work(conn: Connection) -> Bucket:
            update = dict(values)
            if "policy" in changes:
                update["policy_digest"] = None if new_policy is None else policy_digest(new_policy)
            updated = conn.execute(_B.update().where(_B.c.name == name).values(**update))
            if updated.rowcount == 0:
                raise NoSuchBucket(name)
            if "policy" in changes:
                _policy_rows(conn, name, new_policy)
            row = conn.execute(_GET_BUCKET, {"name": name}).one()
            return _bucket_from_row(row, _policy_in(conn, row))

        return await self._db.write(work)

    async def set_bucket_data_reads_logged(self, name: str, logged: bool) -> Bucket:
        # A row only when on: the bucket read of every request joins this kind's row, and most
        # buckets have none (decision 0109).
        is_setting = (_BD.c.bucket == name) & (_BD.c.kind == DATA_EVENTS_DOCUMENT)

        def work(conn: Connection) -> Bucket:
            # Held as PutBucketTagging holds it: a racing DeleteBucket waits, or this fails.
            if conn.execute(_HOLD_BUCKET, {"name": name}).first() is None:
                raise NoSuchBucket(name)
            conn.execute(_BD.delete().where(is_setting))
            if logged:
                conn.execute(
                    _BD.insert().values(
                        bucket=name, kind=DATA_EVENTS_DOCUMENT, document=_DATA_READS_ON
                    )
                )
            row = conn.execute(_GET_BUCKET, {"name": name}).one()
            return _bucket_from_row(row, _policy_in(conn, row))

        return await self._db.write(work)

    async def set_bucket_requester_pays(self, name: str, requester_pays: bool) -> Bucket:
        return await self._db.write(
            lambda conn: set_requester_pays(conn, name, requester_pays=requester_pays)
        )

    async def put_bucket_logging(self, name: str, target: LoggingTarget | None) -> None:
        await self._db.write(lambda conn: put_logging(conn, name, target))

    async def get_bucket_tags(self, name: str) -> tuple[tuple[str, str], ...] | None:
        def work(conn: Connection) -> tuple[tuple[str, str], ...] | None:
            if conn.execute(_GET_BUCKET, {"name": name}).first() is None:
                raise NoSuchBucket(name)
            text = conn.scalar(sa.select(_BT.c.tags).where(_BT.c.bucket == name))
            return None if text is None else tuple((k, v) for k, v in json.loads(text))

        return await self._db.read(work)

    async def put_bucket_tags(self, name: str, tags: tuple[tuple[str, str], ...] | None) -> None:
        def work(conn: Connection) -> None:
            # The bucket held as a PUT holds it: a DeleteBucket waits, or this finds no bucket.
            if conn.execute(_HOLD_BUCKET, {"name": name}).first() is None:
                raise NoSuchBucket(name)
            conn.execute(_BT.delete().where(_BT.c.bucket == name))
            if tags is not None:
                conn.execute(
                    _BT.insert().values(bucket=name, tags=json.dumps([list(t) for t in tags]))
                )

        await self._db.write(work)

    async def get_bucket_cors(self, name: str) -> CorsConfiguration | None:
        def work(conn: Connection) -> CorsConfiguration | None:
            if conn.execute(_GET_BUCKET, {"name": name}).first() is None:
                raise NoSuchBucket(name)
            text = conn.scalar(sa.select(_BC.c.rules).where(_BC.c.bucket == name))
            return None if text is None else CorsConfiguration.from_text(text)

        return await self._db.read(work)

    async def put_bucket_cors(self, name: str, cors: CorsConfiguration | None) -> None:
        def work(conn: Connection) -> None:
            # Held as PutBucketTagging holds it: a racing DeleteBucket waits, or this fails.
            if conn.execute(_HOLD_BUCKET, {"name": name}).first() is None:
                raise NoSuchBucket(name)
            conn.execute(_BC.delete().where(_BC.c.bucket == name))
            if cors is not None:
                conn.execute(_BC.insert().values(bucket=name, rules=cors.to_text()))

        await self._db.write(work)

    async def get_bucket_document(self, name: str, kind: str) -> str | None:
        def work(conn: Connection) -> str | None:
            if conn.execute(_GET_BUCKET, {"name": name}).first() is None:
                raise NoSuchBucket(name)
            return conn.scalar(
                sa.select(_BD.c.document).where(_BD.c.bucket == name, _BD.c.kind == kind)
            )

        return await self._db.read(work)

    async def put_bucket_document(self, name: str, kind: str, document: str | None) -> None:
        def work(conn: Connection) -> None:
            # Held as PutBucketTagging holds it: a racing DeleteBucket waits, or this fails.
            if conn.execute(_HOLD_BUCKET, {"name": name}).first() is None:
                raise NoSuchBucket(name)
            conn.execute(_BD.delete().where(_BD.c.bucket == name, _BD.c.kind == kind))
            if document is not None:
                conn.execute(_BD.insert().values(bucket=name, kind=kind, document=document))

        await self._db.write(work)

    async def swap_bucket_document(
        self, name: str, kind: str, expected: str | None, document: str | None
    ) -> bool:
        def work(conn: Connection) -> bool:
            # Held as PutBucketTagging holds it: a racing DeleteBucket waits, or this fails.
            if conn.execute(_HOLD_BUCKET, {"name": name}).first() is None:
                raise NoSuchBucket(name)
            this = (_BD.c.bucket == name) & (_BD.c.kind == kind)
            if expected is None:
                if document is None:
                    return conn.scalar(sa.select(_BD.c.kind).where(this)) is None
                # Two claims of a document none has: the primary key lets one insert.
                return _INSERT_DOCUMENT(conn, {"bucket": name, "kind": kind, "document": document})
            if document is None:
                gone = conn.execute(_BD.delete().where(this & (_BD.c.document == expected)))
                return gone.rowcount == 1
            # The conditional update locks the row: a second swap from the same document
            # waits, then finds it changed and updates nothing.
            changed = conn.execute(
                _BD.update().where(this & (_BD.c.document == expected)).values(document=document)
            )
            return changed.rowcount == 1

        return await self._db.write(work)

    async def list_bucket_documents(
        self, kind: str, after: str | None, limit: int
    ) -> list[tuple[str, str]]:
        conditions = [_BD.c.kind == kind]
        if after is not None:
            conditions.append(_BD.c.bucket > after)
        query = (
            sa.select(_BD.c.bucket, _BD.c.document)
            .where(*conditions)
            .order_by(_BD.c.bucket)
            .limit(limit)
        )

        def work(conn: Connection) -> list[tuple[str, str]]:
            return [(row.bucket, row.document) for row in conn.execute(query)]

        return await self._db.read(work)

    async def list_tenant_bucket_documents(
        self, tenant_id: str, region: str, kind: str
    ) -> list[tuple[str, str]]:
        # Through buckets' (tenant_id, name) index, then each bucket's document by its key:
        # the tenant's buckets are read, not every bucket's documents of this kind.
        query = (
            sa.select(_BD.c.bucket, _BD.c.document)
            .join(_B, _B.c.name == _BD.c.bucket)
            .where(_B.c.tenant_id == tenant_id, _B.c.region == region, _BD.c.kind == kind)
            .order_by(_BD.c.bucket)
        )

        def work(conn: Connection) -> list[tuple[str, str]]:
            return [(row.bucket, row.document) for row in conn.execute(query)]

        return await self._db.read(work)

    async def delete_bucket(self, name: str) -> list[Part]:
        def work(conn: Connection) -> list[Part]:
            # FOR UPDATE: waits for the PUTs and uploads landing in the bucket (they hold it FOR
            # KEY SHARE) and keeps new ones out until this job ends.
            if conn.execute(_LOCK_BUCKET, {"name": name}).first() is None:
                raise NoSuchBucket(name)
            has_object = conn.execute(
                sa.select(_O.c.key).where(_O.c.bucket == name).limit(1)
            ).first()
            if has_object is not None or _versions.has_versions(conn, name):
                raise BucketNotEmpty(name)
            upload_ids = list(
                conn.scalars(
                    sa.select(_U.c.upload_id).where(_U.c.bucket == name).with_for_update()
                ).all()
            )
            dropped: list[Part] = []
            for upload_id in upload_ids:
                dropped.extend(_drop_upload(conn, upload_id))
            conn.execute(_BP.delete().where(_BP.c.bucket == name))
            conn.execute(_BT.delete().where(_BT.c.bucket == name))
            conn.execute(_BC.delete().where(_BC.c.bucket == name))
            conn.execute(_BD.delete().where(_BD.c.bucket == name))
            conn.execute(_B.delete().where(_B.c.name == name))
            return dropped

        return await self._db.write(work)
