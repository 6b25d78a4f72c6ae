"""The versioned half of the SQL metadata store: what ``SqlMetadataStore`` does in versioned
buckets only (decision 0097), each function run inside one of its jobs.

``objects`` keeps the current version of a key when it is an object (its ``version_id`` NULL
for the null version); ``object_versions`` keeps every other version and every delete marker;
``object_version_blobs`` names the blobs of the versions ``object_versions`` keeps, so the
sweeper never deletes them. Invariant, kept by every function here: when a key's newest
version is an object, it is in ``objects``; so a key without a row in ``objects`` either has
no version or has a delete marker as its newest.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.types import utc_from_stored
from andromede.storage.errors import InvalidBucketState, NoSuchBucket, ObjectChanged
from andromede.storage.model import (
    ExpectedObject,
    ListPage,
    ObjectRecord,
    Segment,
    VersioningStatus,
)
from andromede.storage.object_lock import (
    LOCK_NEEDS_VERSIONING,
    VERSIONING_LOCKED,
    LockChange,
    ObjectLockConfiguration,
    check_removal,
)
from andromede.storage.replication import ReplicationTarget
from andromede.storage.replication_queue_sql import queue_in_transaction
from andromede.storage.store_sql_rows import (
    _OBJECT_COLUMNS,
    _SUMMARY,
    _blob_ids,
    _key_range,
    _object_from_row,
    _object_lock,
    _object_values,
    _summary_from_row,
)
from andromede.storage.store_sql_statements import (
    _DELETE_OBJECT_BLOBS,
    _IS_OBJECT,
    _IS_OBJECT_BLOB,
    _OBJECT_STATUS,
)
from andromede.storage.versioning import (
    NULL_VERSION_ID,
    DeleteMarker,
    RemovalCondition,
    VersionedWrite,
    VersionEntry,
    check_replica,
    next_version_id,
)

__all__ = [
    "current_marker",
    "delete_version",
    "get_version",
    "has_versions",
    "list_versions",
    "put_marker",
    "put_version",
    "replace_headers",
    "set_acl",
    "set_versioning",
    "update_lock",
]

_B = tables.buckets
_O = tables.objects
_OB = tables.object_blobs
_V = tables.object_versions
_VB = tables.object_version_blobs

_VERSION_COLUMNS = tuple(c.name for c in _V.c)
_OF_KEY = (_V.c.bucket == sa.bindparam("bucket")) & (_V.c.key == sa.bindparam("key"))
_NEWEST = sa.select(_V).where(_OF_KEY).order_by(_V.c.version_id).limit(1)
_NULL_ROW = sa.select(_V).where(_OF_KEY & _V.c.is_null)
_BY_ID = sa.select(_V).where(_OF_KEY & (_V.c.version_id == sa.bindparam("version_id")))
_RS = tables.replication_statuses
_BY_ID_WITH_STATUS = (
    sa.select(_V, _RS.c.status)
    .select_from(
        _V.outerjoin(
            _RS,
            (_RS.c.bucket == _V.c.bucket)
            & (_RS.c.key == _V.c.key)
            & (_RS.c.version_id == _V.c.version_id),
        )
    )
    .where(_OF_KEY & (_V.c.version_id == sa.bindparam("version_id")))
)
_HOLD = (
    sa.select(_B.c.region, _B.c.versioning)
    .where(_B.c.name == sa.bindparam("bucket"))
    .with_for_update(read=True, key_share=True)
)
_CURRENT = (
    sa.select(_O)
    .where((_O.c.bucket == sa.bindparam("bucket")) & (_O.c.key == sa.bindparam("key")))
    .with_for_update()
)


def has_versions(conn: Connection, bucket: str) -> bool:
    """Whether the bucket keeps any version or marker (then it is not empty)."""
    return (
        conn.execute(sa.select(_V.c.key).where(_V.c.bucket == bucket).limit(1)).first() is not None
    )


def set_versioning(conn: Connection, name: str, status: VersioningStatus) -> None:
    """One UPDATE whose WHERE is the check: a bucket with Object Lock stays Enabled. Against
    a concurrent ``set_object_lock`` (whose WHERE wants Enabled), SQLite runs one writer at a
    time and PostgreSQL re-reads the row its UPDATE waited for before writing it, so one of
    the two sees the other's write and changes nothing (decision 0104)."""
    update = _B.update().where(_B.c.name == name)
    if status is not VersioningStatus.ENABLED:
        update = update.where(_B.c.object_lock.is_(None))
    if conn.execute(update.values(versioning=status.value)).rowcount == 0:
        _refused(conn, name, VERSIONING_LOCKED)


def set_object_lock(conn: Connection, name: str, config: ObjectLockConfiguration) -> None:
    """Object Lock on, or its default changed, only on a bucket locked already or versioned
    Enabled: checked by the UPDATE's WHERE, as ``set_versioning`` checks its own."""
    update = (
        _B.update()
        .where(
            _B.c.name == name,
            sa.or_(
                _B.c.object_lock.is_not(None),
                _B.c.versioning == VersioningStatus.ENABLED.value,
            ),
        )
        .values(object_lock=config.to_json())
    )
    if conn.execute(update).rowcount == 0:
        _refused(conn, name, LOCK_NEEDS_VERSIONING)


def _refused(conn: Connection, name: str, message: str) -> None:
    """Why an UPDATE of the bucket row changed nothing: no bucket, or its state."""
    if conn.execute(sa.select(_B.c.name).where(_B.c.name == name)).first() is None:
        raise NoSuchBucket(name)
    raise InvalidBucketState(message)


def _status(conn: Connection, bucket: str, record: ObjectRecord | None = None) -> VersioningStatus:
    held = conn.execute(_HOLD, {"bucket": bucket}).first()
    if held is None or (record is not None and not record.stored_in(held.region)):
        raise NoSuchBucket(bucket)
    if held.versioning is None:
        raise ValueError(f"bucket {bucket} is not versioned")
    return VersioningStatus(held.versioning)


def _record_of(row: Any, replication_status: str | None = None) -> ObjectRecord:
    """The record of an ``object_versions`` row of an object (not a marker)."""
    m = row._mapping
    shown = None if m["is_null"] else m["version_id"]
    values = [shown if name == "version_id" else m[name] for name in _OBJECT_COLUMNS]
    return _object_from_row(values, replication_status)


def _marker_of(row: Any) -> DeleteMarker:
    m = row._mapping
    return DeleteMarker(
        m["bucket"],
        m["key"],
        None if m["is_null"] else m["version_id"],
        utc_from_stored(m["last_modified"]),
        m["owner_id"],
    )


def _version_of(row: Any) -> ObjectRecord | DeleteMarker:
    return _marker_of(row) if row._mapping["delete_marker"] else _record_of(row)


def _newest_id(conn: Connection, names: dict[str, str]) -> str | None:
    return conn.scalar(
        sa.select(_V.c.version_id).where(_OF_KEY).order_by(_V.c.version_id).limit(1), names
    )


def _retire(conn: Connection, current: ObjectRecord, sort_id: str) -> None:
    """Move the current object to ``object_versions`` under ``sort_id``, with its blobs."""
    names = {"bucket": current.bucket, "key": current.key}
    values = _object_values(current)
    values.pop("version_id")
    conn.execute(
        _V.insert(),
        {
            **values,
            "version_id": sort_id,
            "is_null": current.version_id is None,
            "delete_marker": False,
        },
    )
    blob_ids = conn.scalars(sa.select(_OB.c.blob_id).where(_IS_OBJECT_BLOB), names).all()
    if blob_ids:
        conn.execute(
            _VB.insert(), [{"blob_id": b, **names, "version_id": sort_id} for b in blob_ids]
        )
    conn.execute(_DELETE_OBJECT_BLOBS, names)
    conn.execute(_O.delete().where(_IS_OBJECT), names)


def _insert_noncurrent(conn: Connection, record: ObjectRecord, version_id: str) -> None:
    """A replica older than the key's newest version (decision 0112), put among its
    noncurrent versions at its place, with its blobs; the current object stays."""
    names = {"bucket": record.bucket, "key": record.key}
    values = _object_values(record)
    values.pop("version_id")
    conn.execute(
        _V.insert(), {**values, "version_id": version_id, "is_null": False, "delete_marker": False}
    )
    blob_ids = _blob_ids(record.segments)
    if blob_ids:
        conn.execute(
            _VB.insert(), [{"blob_id": b, **names, "version_id": version_id} for b in blob_ids]
        )


def _drop_current(conn: Connection, current: ObjectRecord) -> None:
    names = {"bucket": current.bucket, "key": current.key}
    conn.execute(_DELETE_OBJECT_BLOBS, names)
    conn.execute(_O.delete().where(_IS_OBJECT), names)


def _drop_version(conn: Connection, row: Any) -> ObjectRecord | DeleteMarker:
    m = row._mapping
    conn.execute(
        _V.delete().where(
            (_V.c.bucket == m["bucket"])
            & (_V.c.key == m["key"])
            & (_V.c.version_id == m["version_id"])
        )
    )
    conn.execute(
        _VB.delete().where(
            (_VB.c.bucket == m["bucket"])
            & (_VB.c.key == m["key"])
            & (_VB.c.version_id == m["version_id"])
        )
    )
    return _version_of(row)


def _promote(conn: Connection, bucket: str, key: str) -> None:
    """Keep the invariant after a version was removed: a newest version that is an object
    becomes the current object again."""
    names = {"bucket": bucket, "key": key}
    if conn.execute(sa.select(_O.c.key).where(_IS_OBJECT), names).first() is not None:
        return
    # Locked, so that a conditional removal of this very row (lifecycle) and this promotion
    # wait for each other. A row removed while we waited is skipped by the lock, with the
    # LIMIT leaving nothing; read again then, until the newest row is locked or none is left.
    newest = conn.execute(_NEWEST.with_for_update(), names).first()
    while newest is None and conn.execute(_NEWEST, names).first() is not None:
        newest = conn.execute(_NEWEST.with_for_update(), names).first()
    if newest is None or newest._mapping["delete_marker"]:
        return
    record = _record_of(newest)
    conn.execute(_O.insert(), _object_values(record))
    sort_id = newest._mapping["version_id"]
    is_version = (_VB.c.bucket == bucket) & (_VB.c.key == key) & (_VB.c.version_id == sort_id)
    blob_ids = conn.scalars(sa.select(_VB.c.blob_id).where(is_version)).all()
    conn.execute(_VB.delete().where(is_version))
    if blob_ids:
        conn.execute(_OB.insert(), [{"blob_id": b, **names} for b in blob_ids])
    conn.execute(_V.delete().where(_OF_KEY & (_V.c.version_id == sort_id)), names)


def _make_room(
    conn: Connection,
    status: VersioningStatus,
    current: ObjectRecord | None,
    names: dict[str, str],
) -> tuple[str | None, list[Segment]]:
    """Before a new version of the key: keep the current object as a noncurrent version, or
    (Suspended) release it if it is the null version, and the noncurrent null version too.
    Returns the newest version id the key then keeps, and the segments released."""
    released: list[Segment] = []
    if current is not None:
        if current.version_id is None and status is VersioningStatus.SUSPENDED:
            _drop_current(conn, current)
            released.extend(current.segments)
        elif current.version_id is None:
            _retire(conn, current, next_version_id(current.last_modified, _newest_id(conn, names)))
        else:
            _retire(conn, current, current.version_id)
    if status is VersioningStatus.SUSPENDED:
        null_row = conn.execute(_NULL_ROW, names).first()
        if null_row is not None:
            dropped = _drop_version(conn, null_row)
            if isinstance(dropped, ObjectRecord):
                released.extend(dropped.segments)
    return _newest_id(conn, names), released


def put_version(
    conn: Connection,
    record: ObjectRecord,
    expected: ExpectedObject | None,
    replication: ReplicationTarget | None = None,
) -> VersionedWrite:
    status = _status(conn, record.bucket, record)
    names = {"bucket": record.bucket, "key": record.key}
    row = conn.execute(_CURRENT, names).first()
    current = None if row is None else _object_from_row(row)
    if expected is not None and not expected.holds_for(current):
        raise ObjectChanged(f"{record.key} is not the object the condition was checked on")
    if record.version_id is not None:
        present = conn.execute(_BY_ID, {**names, "version_id": record.version_id}).first()
        if check_replica(
            record.version_id,
            status,
            None if current is None else current.version_id,
            _newest_id(conn, names),
            present=present is not None,
        ):
            _insert_noncurrent(conn, record, record.version_id)
            return VersionedWrite(record.version_id, ())
    newest, released = _make_room(conn, status, current, names)
    version_id = (
        None
        if status is VersioningStatus.SUSPENDED
        else record.version_id or next_version_id(record.last_modified, newest)
    )
    values = _object_values(record)
    values["version_id"] = version_id
    conn.execute(_O.insert(), values)
    blob_rows = [{"blob_id": b, **names} for b in _blob_ids(record.segments)]
    if blob_rows:
        conn.execute(_OB.insert(), blob_rows)
    if replication is not None and version_id is not None:
        queue_in_transaction(
            conn, replication, record.bucket, record.key, version_id, record.last_modified
        )
    return VersionedWrite(version_id, tuple(released))


def put_marker(
    conn: Connection,
    bucket: str,
    key: str,
    owner_id: str,
    now: datetime,
    if_etag: str | None = None,
    version_id: str | None = None,
    replication: ReplicationTarget | None = None,
) -> VersionedWrite:
    status = _status(conn, bucket)
    names = {"bucket": bucket, "key": key}
    row = conn.execute(_CURRENT, names).first()
    current = None if row is None else _object_from_row(row)
    if if_etag is not None and (current is None or current.etag != if_etag):
        # Checked under the current row's lock: a conditional delete (decision 0058) whose
        # object was replaced or deleted since its condition was evaluated.
        raise ObjectChanged(f"{key} is not the object the condition was checked on")
    older = False
    if version_id is not None:
        present = conn.execute(_BY_ID, {**names, "version_id": version_id}).first()
        older = check_replica(
            version_id,
            status,
            None if current is None else current.version_id,
            _newest_id(conn, names),
            present=present is not None,
        )
    # An older replicated marker goes among the noncurrent versions: nothing is retired.
    newest, released = (None, []) if older else _make_room(conn, status, current, names)
    sort_id = version_id or next_version_id(now, newest)
    suspended = status is VersioningStatus.SUSPENDED
    conn.execute(
        _V.insert(),
        {
            **names,
            "version_id": sort_id,
            "is_null": suspended,
            "delete_marker": True,
            "size": 0,
            "etag": "",
            "last_modified": now,
            "owner_id": owner_id,
            "format_version": 0,
        },
    )
    if replication is not None and not suspended:
        queue_in_transaction(conn, replication, bucket, key, sort_id, now)
    return VersionedWrite(None if suspended else sort_id, tuple(released))


def get_version(
    conn: Connection, bucket: str, key: str, version_id: str
) -> ObjectRecord | DeleteMarker | None:
    """The version ``version_id`` ("null": the null version) of the key, wherever it is."""
    names = {"bucket": bucket, "key": key}
    is_current = (
        _O.c.version_id.is_(None)
        if version_id == NULL_VERSION_ID
        else (_O.c.version_id == version_id)
    )
    # Each read with the version's replication status (decision 0112), by the status table's
    # primary key: a GET of a version makes no read of its own for it.
    row = conn.execute(
        sa.select(_O, _RS.c.status)
        .select_from(_O.outerjoin(_RS, _OBJECT_STATUS))
        .where(_IS_OBJECT & is_current),
        names,
    ).first()
    if row is not None:
        return _object_from_row(row[:-1], row[-1])
    if version_id == NULL_VERSION_ID:
        found = conn.execute(_NULL_ROW, names).first()
        return None if found is None else _version_of(found)
    found = conn.execute(_BY_ID_WITH_STATUS, {**names, "version_id": version_id}).first()
    if found is None:
        return None
    return _marker_of(found) if found.delete_marker else _record_of(found, found.status)


def current_marker(conn: Connection, bucket: str, key: str) -> DeleteMarker | None:
    """The key's newest version when it is a delete marker (the key has no current object)."""
    names = {"bucket": bucket, "key": key}
    if conn.execute(sa.select(_O.c.key).where(_IS_OBJECT), names).first() is not None:
        return None
    newest = conn.execute(_NEWEST, names).first()
    if newest is None or not newest._mapping["delete_marker"]:
        return None
    return _marker_of(newest)


def delete_version(
    conn: Connection,
    bucket: str,
    key: str,
    version_id: str,
    only_if: RemovalCondition | None = None,
    now: datetime | None = None,
    bypass_governance: bool = False,
) -> ObjectRecord | DeleteMarker | None:
    """Remove the version for good; the next newest becomes current. None if there is none,
    or if ``only_if`` no longer holds.

    The version's row is locked before it is dropped, as ``_promote`` locks the row it moves:
    a removal and a promotion of the same version (a client deleting the newer one) wait for
    each other, and the second finds the row gone rather than acting on what it read before
    (under PostgreSQL's READ COMMITTED, each statement sees what committed before it).
    The version's lock is read from that locked row too (ObjectLocked, decision 0102): a
    retention or hold set meanwhile is waited for and seen."""
    moment = now or datetime.now(UTC)
    if conn.execute(_HOLD, {"bucket": bucket}).first() is None:
        raise NoSuchBucket(bucket)
    names = {"bucket": bucket, "key": key}
    row = conn.execute(_CURRENT, names).first()
    if row is not None:
        current = _object_from_row(row)
        shown = current.version_id or NULL_VERSION_ID
        if shown == version_id:
            if only_if is not None:
                return None  # the current object is neither noncurrent nor a marker
            check_removal(current.lock, moment, bypass_governance=bypass_governance)
            _drop_current(conn, current)
            _promote(conn, bucket, key)
            return current
    if version_id == NULL_VERSION_ID:
        found = conn.execute(_NULL_ROW.with_for_update(), names).first()
    else:
        found = conn.execute(_BY_ID.with_for_update(), {**names, "version_id": version_id}).first()
    if found is None:
        return None
    if only_if is not None and not _holds(conn, only_if, names, found):
        return None
    lock_text = found._mapping["object_lock"]
    if lock_text is not None:
        check_removal(_object_lock(lock_text), moment, bypass_governance=bypass_governance)
    removed = _drop_version(conn, found)
    _promote(conn, bucket, key)
    return removed


def _holds(conn: Connection, condition: RemovalCondition, names: dict[str, str], row: Any) -> bool:
    """Whether the locked ``object_versions`` row may go under ``condition``, read now."""
    has_object = conn.execute(sa.select(_O.c.key).where(_IS_OBJECT), names).first()
    sort_id = row._mapping["version_id"]
    if condition is RemovalCondition.NONCURRENT:
        # Ids sort newest first: a smaller one is a newer version of the key.
        newer = conn.execute(
            sa.select(_V.c.version_id).where(_OF_KEY & (_V.c.version_id < sort_id)).limit(1),
            names,
        ).first()
        return has_object is not None or newer is not None
    other = conn.execute(
        sa.select(_V.c.version_id).where(_OF_KEY & (_V.c.version_id != sort_id)).limit(1),
        names,
    ).first()
    return bool(row._mapping["delete_marker"]) and has_object is None and other is None


def _locked_version(
    conn: Connection, bucket: str, key: str, version_id: str | None
) -> tuple[bool, Any]:
    """The row of version ``version_id`` (None or "null": the null version), locked: (True,
    its ``objects`` row) when it is the current object, (False, its ``object_versions`` row),
    or (False, None)."""
    names = {"bucket": bucket, "key": key}
    wanted = version_id or NULL_VERSION_ID
    row = conn.execute(_CURRENT, names).first()
    if row is not None and (row._mapping["version_id"] or NULL_VERSION_ID) == wanted:
        return True, row
    if wanted == NULL_VERSION_ID:
        found = conn.execute(_NULL_ROW.with_for_update(), names).first()
    else:
        found = conn.execute(_BY_ID.with_for_update(), {**names, "version_id": wanted}).first()
    return False, found


def _where_version(row: Any) -> sa.ColumnElement[bool]:
    m = row._mapping
    return sa.and_(
        _V.c.bucket == m["bucket"], _V.c.key == m["key"], _V.c.version_id == m["version_id"]
    )


def replace_headers(conn: Connection, expected: ObjectRecord, headers_text: str | None) -> bool:
    """Store ``headers_text`` as the headers of version ``expected.version_id`` if it still
    has ``expected``'s segments (a tagging write that lost to nothing)."""
    current, row = _locked_version(conn, expected.bucket, expected.key, expected.version_id)
    if row is None:
        return False
    if current:
        if _object_from_row(row).segments != expected.segments:
            return False
        conn.execute(
            _O.update().where(_O.c.bucket == expected.bucket, _O.c.key == expected.key),
            {"headers": headers_text},
        )
        return True
    if row._mapping["delete_marker"] or _record_of(row).segments != expected.segments:
        return False
    conn.execute(_V.update().where(_where_version(row)), {"headers": headers_text})
    return True


def set_acl(
    conn: Connection, bucket: str, key: str, version_id: str, acl_text: str | None
) -> ObjectRecord | DeleteMarker | None:
    """Replace the ACL of the version; the version as it now is (a marker is left alone)."""
    current, row = _locked_version(conn, bucket, key, version_id)
    if row is None:
        return None
    if current:
        conn.execute(_O.update().where(_O.c.bucket == bucket, _O.c.key == key), {"acl": acl_text})
        return _object_from_row(conn.execute(_CURRENT, {"bucket": bucket, "key": key}).one())
    if row._mapping["delete_marker"]:
        return _marker_of(row)
    conn.execute(_V.update().where(_where_version(row)), {"acl": acl_text})
    return _version_of(conn.execute(sa.select(_V).where(_where_version(row))).one())


def update_lock(
    conn: Connection, bucket: str, key: str, version_id: str, change: LockChange, now: datetime
) -> ObjectRecord | DeleteMarker | None:
    """Apply ``change`` to the version's lock, read from its locked row (decision 0102)."""
    current, row = _locked_version(conn, bucket, key, version_id)
    if row is None:
        return None
    if current:
        record = _object_from_row(row)
        lock = change.apply(record.lock, now)
        conn.execute(
            _O.update().where(_O.c.bucket == bucket, _O.c.key == key),
            {"object_lock": None if lock is None else lock.to_json()},
        )
        return _object_from_row(conn.execute(_CURRENT, {"bucket": bucket, "key": key}).one())
    if row._mapping["delete_marker"]:
        return _marker_of(row)
    lock = change.apply(_record_of(row).lock, now)
    conn.execute(
        _V.update().where(_where_version(row)),
        {"object_lock": None if lock is None else lock.to_json()},
    )
    return _version_of(conn.execute(sa.select(_V).where(_where_version(row))).one())


def list_versions(
    conn: Connection,
    bucket: str,
    *,
    prefix: str,
    after_key: str | None,
    after_version: str | None,
    limit: int,
) -> ListPage[VersionEntry]:
    """Versions by key, newest first, strictly after (``after_key``, ``after_version``): a
    sort id, "" (after the current object) or "null" (after the null version); without
    ``after_version``, after every version of ``after_key``."""
    after_sort = after_version
    if after_key is not None and after_version == NULL_VERSION_ID:
        after_sort = _null_sort_id(conn, bucket, after_key)
    current_where = [_O.c.bucket == bucket, *_key_range(_O.c.key, prefix)]
    version_where = [_V.c.bucket == bucket, *_key_range(_V.c.key, prefix)]
    if after_key is not None:
        current_where.append(_O.c.key > after_key)
        if after_sort is None:
            version_where.append(_V.c.key > after_key)
        else:
            version_where.append(
                (_V.c.key > after_key) | ((_V.c.key == after_key) & (_V.c.version_id > after_sort))
            )
    currents = conn.execute(
        sa.select(*_SUMMARY, _O.c.version_id)
        .where(*current_where)
        .order_by(_O.c.key)
        .limit(limit + 1)
    ).all()
    others = _V.alias("newer")
    latest = ~sa.exists().where((_O.c.bucket == _V.c.bucket) & (_O.c.key == _V.c.key)) & ~(
        sa.exists().where(
            (others.c.bucket == _V.c.bucket)
            & (others.c.key == _V.c.key)
            & (others.c.version_id < _V.c.version_id)
        )
    )
    versions = conn.execute(
        sa.select(_V, (_V.c.delete_marker & latest).label("is_latest"))
        .where(*version_where)
        .order_by(_V.c.key, _V.c.version_id)
        .limit(limit + 1)
    ).all()
    entries: list[tuple[bytes, str, VersionEntry]] = []
    for row in currents:
        summary = _summary_from_row(row[:-1])
        version_id = row[-1]
        entries.append(
            (
                summary.key.encode(),
                version_id or "",
                VersionEntry(
                    summary.key,
                    version_id,
                    version_id or "",
                    True,
                    False,
                    summary.last_modified,
                    summary.owner_id,
                    summary.size,
                    summary.etag,
                    summary.checksum_algorithm,
                    summary.checksum_type,
                ),
            )
        )
    for row in versions:
        sort_id = row._mapping["version_id"]
        is_latest = bool(row._mapping["is_latest"])
        version = _version_of(row)
        entry = (
            VersionEntry.of_marker(version, sort_id, is_latest=is_latest)
            if isinstance(version, DeleteMarker)
            else VersionEntry.of_record(version, sort_id, is_latest=False)
        )
        entries.append((version.key.encode(), sort_id, entry))
    entries.sort(key=lambda e: (e[0], e[1]))
    page = [entry for _, _, entry in entries[: limit + 1]]
    return ListPage(tuple(page[:limit]), len(page) > limit)


def _null_sort_id(conn: Connection, bucket: str, key: str) -> str:
    """Where the key's null version sorts: "" when it is the current object."""
    names = {"bucket": bucket, "key": key}
    found = conn.scalar(sa.select(_V.c.version_id).where(_OF_KEY & _V.c.is_null), names)
    return "" if found is None else str(found)
