"""The SQL metadata store's multipart uploads: create, read, put a part, list parts and
uploads, complete, abort. Complete and abort hold the upload ``FOR UPDATE``, UploadPart
``FOR KEY SHARE``: of two completes one wins and the other finds no upload.

Mixed into :class:`~andromede.storage.store_sql.SqlMetadataStore`; split off only for size.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.database import Database
from andromede.db.notification_events import EventSealer
from andromede.storage import store_sql_versions as _versions
from andromede.storage.errors import NoSuchBucket, NoSuchUpload
from andromede.storage.model import ExpectedObject, ListPage, MultipartUpload, ObjectRecord, Part
from andromede.storage.notification import EventBatch
from andromede.storage.notification_queue_sql import queue_events, sealed
from andromede.storage.replication import ReplicationTarget
from andromede.storage.store_sql_rows import (
    _checksum_columns,
    _key_range,
    _part_from_row,
    _segment_key_json,
    _stored_headers_json,
    _upload_from_row,
)
from andromede.storage.store_sql_statements import (
    _EXCLUSIVE,
    _HOLD_BUCKET,
    _IN_BATCH,
    _INSERT_PART,
    _SHARED,
    _drop_upload,
    _hold_bucket,
    _put_object,
    _upload_exists,
)
from andromede.storage.versioning import VersionedWrite

__all__ = ["SqlMultipartMixin"]

_U = tables.multipart_uploads
_P = tables.parts


class SqlMultipartMixin:
    """The SQL store's multipart uploads and parts (mixed into :class:`SqlMetadataStore`)."""

    _db: Database
    _event_sealer: EventSealer | None

    async def create_upload(self, upload: MultipartUpload) -> None:
        def work(conn: Connection) -> None:
            if not _hold_bucket(conn, upload.bucket):
                raise NoSuchBucket(upload.bucket)
            conn.execute(
                _U.insert().values(
                    upload_id=upload.upload_id,
                    bucket=upload.bucket,
                    key=upload.key,
                    initiated=upload.initiated,
                    owner_id=upload.owner_id,
                    headers=_stored_headers_json(upload.headers, upload.sealed_headers, upload),
                    checksum_algorithm=upload.checksum_algorithm,
                    checksum_type=upload.checksum_type,
                    format_version=upload.format_version,
                    acl=None if upload.acl is None else upload.acl.to_json(),
                )
            )

        await self._db.write(work)

    async def get_upload(self, bucket: str, upload_id: str) -> MultipartUpload | None:
        query = sa.select(_U).where(_U.c.upload_id == upload_id, _U.c.bucket == bucket)

        def work(conn: Connection) -> MultipartUpload | None:
            row = conn.execute(query).first()
            return None if row is None else _upload_from_row(row)

        return await self._db.read(work)

    async def put_part(self, part: Part) -> Part | None:
        where = (_P.c.upload_id == part.upload_id, _P.c.part_number == part.part_number)
        values = {
            "blob_id": part.blob_id,
            "size": part.size,
            "etag": part.etag,
            "last_modified": part.last_modified,
            "key": None if part.key is None else json.dumps(_segment_key_json(part.key)),
            "region": part.region,
            **_checksum_columns(part.checksum),
        }

        def work(conn: Connection) -> Part | None:
            # KEY SHARE: parts of one upload land side by side, but not beside its completion.
            if not _upload_exists(conn, part.upload_id, lock=_SHARED):
                raise NoSuchUpload(part.upload_id)
            while True:
                old = conn.execute(sa.select(_P).where(*where).with_for_update()).first()
                if old is not None:
                    conn.execute(_P.update().where(*where).values(**values))
                    return _part_from_row(old)
                keys = {"upload_id": part.upload_id, "part_number": part.part_number}
                if _INSERT_PART(conn, {**keys, **values}):
                    return None
                # Another gateway stored the same part number meanwhile: replace its part.

        return await self._db.write(work)

    async def list_parts(self, upload_id: str, *, after_part: int, limit: int) -> ListPage[Part]:
        query = (
            sa.select(_P)
            .where(_P.c.upload_id == upload_id, _P.c.part_number > after_part)
            .order_by(_P.c.part_number)
            .limit(limit + 1)
        )

        def work(conn: Connection) -> ListPage[Part]:
            rows = conn.execute(query).all()
            return ListPage(tuple(_part_from_row(r) for r in rows[:limit]), len(rows) > limit)

        return await self._db.read(work)

    async def get_parts(self, upload_id: str, part_numbers: Sequence[int]) -> list[Part]:
        wanted = sorted(set(part_numbers))

        def work(conn: Connection) -> list[Part]:
            found: list[Part] = []
            for i in range(0, len(wanted), _IN_BATCH):
                query = (
                    sa.select(_P)
                    .where(
                        _P.c.upload_id == upload_id,
                        _P.c.part_number.in_(wanted[i : i + _IN_BATCH]),
                    )
                    .order_by(_P.c.part_number)
                )
                found.extend(_part_from_row(r) for r in conn.execute(query).all())
            return found

        return await self._db.read(work)

    async def list_uploads(
        self,
        bucket: str,
        *,
        prefix: str,
        after_key: str | None,
        after_upload_id: str | None,
        limit: int,
    ) -> ListPage[MultipartUpload]:
        def work(conn: Connection) -> ListPage[MultipartUpload]:
            conditions = [_U.c.bucket == bucket, *_key_range(_U.c.key, prefix)]
            if after_key is not None:
                marker = None
                if after_upload_id is not None:
                    marker = conn.execute(
                        sa.select(_U.c.initiated).where(
                            _U.c.bucket == bucket,
                            _U.c.key == after_key,
                            _U.c.upload_id == after_upload_id,
                        )
                    ).first()
                if marker is None:
                    conditions.append(_U.c.key > after_key)
                else:
                    conditions.append(
                        sa.or_(
                            _U.c.key > after_key,
                            sa.and_(
                                _U.c.key == after_key,
                                sa.or_(
                                    _U.c.initiated > marker.initiated,
                                    sa.and_(
                                        _U.c.initiated == marker.initiated,
                                        _U.c.upload_id > after_upload_id,
                                    ),
                                ),
                            ),
                        )
                    )
            query = (
                sa.select(_U)
                .where(*conditions)
                .order_by(_U.c.key, _U.c.initiated, _U.c.upload_id)
                .limit(limit + 1)
            )
            rows = conn.execute(query).all()
            return ListPage(tuple(_upload_from_row(r) for r in rows[:limit]), len(rows) > limit)

        return await self._db.read(work)

    async def complete_upload(
        self,
        upload_id: str,
        record: ObjectRecord,
        *,
        expected: ExpectedObject | None = None,
        replication: ReplicationTarget | None = None,
        notify: EventBatch | None = None,
    ) -> tuple[ObjectRecord | VersionedWrite | None, list[Part]]:
        notify = await sealed(notify, self._event_sealer)

        def work(conn: Connection) -> tuple[ObjectRecord | VersionedWrite | None, list[Part]]:
            # The upload FOR UPDATE (the writer's turn on SQLite): of two racing completes, or a
            # complete and an abort, one wins and the other finds no upload. The bucket comes
            # first, as in every job (see the module docstring).
            held = conn.execute(_HOLD_BUCKET, {"name": record.bucket}).first()
            if held is None:  # no bucket, so no upload either
                raise NoSuchUpload(upload_id)
            if not _upload_exists(conn, upload_id, lock=_EXCLUSIVE):
                raise NoSuchUpload(upload_id)
            # The object first: a failed condition rolls back before the upload is touched.
            replaced: ObjectRecord | VersionedWrite | None
            if held.versioning is not None:
                written = _versions.put_version(conn, record, expected, replication)
                queue_events(conn, notify, written.version_id)
                replaced = written
            else:
                replaced = _put_object(conn, record, expected, notify)
            return replaced, _drop_upload(conn, upload_id)

        replaced, parts = await self._db.write(work)
        used = {s.blob_id for s in record.segments}
        return replaced, [p for p in parts if p.blob_id not in used]

    async def abort_upload(self, upload_id: str) -> list[Part]:
        def work(conn: Connection) -> list[Part]:
            if not _upload_exists(conn, upload_id, lock=_EXCLUSIVE):
                raise NoSuchUpload(upload_id)
            return _drop_upload(conn, upload_id)

        return await self._db.write(work)
