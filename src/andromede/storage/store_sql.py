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
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import functools
import hashlib
import json
from collections import OrderedDict
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.database import Database
from andromede.db.statements import InsertIgnoringConflict, RowQuery, RowStatement
from andromede.db.types import utc_from_stored
from andromede.storage.acl import AccessControlList
from andromede.storage.cors import CorsConfiguration
from andromede.storage.data_events import DATA_EVENTS_DOCUMENT
from andromede.storage.errors import (
    BucketAlreadyExists,
    BucketAlreadyOwnedByYou,
    BucketNotEmpty,
    BucketVersioned,
    NoSuchBucket,
    NoSuchUpload,
    ObjectChanged,
)
from andromede.storage.model import (
    BUCKET_ACCESS_FIELDS,
    Bucket,
    BucketEncryption,
    BucketUsage,
    Checksum,
    ChecksumAlgorithm,
    ChecksumType,
    ContentHeaders,
    ExpectedObject,
    ListPage,
    MultipartUpload,
    ObjectOwnership,
    ObjectRecord,
    ObjectSummary,
    Part,
    PublicAccessBlock,
    SealedContext,
    SealedHeaders,
    Segment,
    SegmentKey,
    VersioningStatus,
    build_bucket,
    build_object_record,
)
from andromede.storage.notification import (
    NOTIFICATION_DOCUMENT,
    EventBatch,
    NotificationConfiguration,
)
from andromede.storage.notification_queue_sql import queue_events
from andromede.storage.object_lock import LockChange, ObjectLock, ObjectLockConfiguration
from andromede.storage.replication import (
    REPLICATION_DOCUMENT,
    ReplicationConfiguration,
    ReplicationTarget,
)
from andromede.storage.replication_queue_sql import queue_in_transaction
from andromede.storage.versioning import (
    DeleteMarker,
    RemovalCondition,
    VersionedWrite,
    VersionEntry,
)

__all__ = ["SqlMetadataStore", "prefix_upper_bound"]

_B = tables.buckets
_BP = tables.bucket_policies
_BT = tables.bucket_tags
_BC = tables.bucket_cors
_BD = tables.bucket_documents
_O = tables.objects
_OB = tables.object_blobs
_U = tables.multipart_uploads
_P = tables.parts
_D = tables.blob_deletions
_VB = tables.object_version_blobs

_MAX_CODE_POINT = 0x10FFFF
# Bound the number of bound parameters per statement (SQLite's limit is 32766 nowadays, but
# older builds stop at 999).
_IN_BATCH = 500


def prefix_upper_bound(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix``, in code point
    (= UTF-8 byte) order; None when there is none (empty prefix, or only U+10FFFF)."""
    stripped = prefix.rstrip(chr(_MAX_CODE_POINT))
    if not stripped:
        return None
    last = ord(stripped[-1]) + 1
    if 0xD800 <= last <= 0xDFFF:  # surrogates cannot appear in a str we encode to UTF-8
        last = 0xE000
    return stripped[:-1] + chr(last)


# -- row <-> record ---------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    # binascii directly: base64.b64decode's argument handling took three times as long, and
    # every GET decodes its sealed headers and wrapped keys (ASCII text written by _b64).
    return binascii.a2b_base64(text)


# The start of an object row's sealed headers, and what separates their two base64 texts.
_SEALED_OPEN = '{"sealed":["'
_SEALED_SEP = '","'


def _stored_headers_json(
    headers: ContentHeaders,
    sealed: SealedHeaders | None,
    upload: MultipartUpload | None = None,
) -> str:
    """Sealed headers (format 2) when there are some; clear ones for the benchmark switch.
    An upload's row also keeps its SSE-C check value and SSE-KMS key, context and bucket key,
    and the Object Lock settings its completion gives (decision 0104: no column of its own,
    as the upload's other per-upload settings)."""
    data: dict[str, Any]
    if sealed is None:
        if upload is None or upload.lock is None:
            return _headers_json(headers)
        data = json.loads(_headers_json(headers))
    elif upload is None:
        # Every encrypted PUT: what json.dumps gives for {"sealed": [...]}, without its scan
        # for characters to escape over two base64 texts, which have none.
        return _SEALED_OPEN + _b64(sealed.wrapped) + _SEALED_SEP + _b64(sealed.ciphertext) + '"]}'
    else:
        data = {"sealed": [_b64(sealed.wrapped), _b64(sealed.ciphertext)]}
        if upload.customer_key_check is not None:
            data["customer_key_check"] = _b64(upload.customer_key_check)
        if upload.kms_key_arn is not None:
            data["kms_key_arn"] = upload.kms_key_arn
        context = upload.sealed_kms_context
        if context is not None:
            data["kms_context"] = [_b64(context.wrapped), _b64(context.ciphertext)]
        if upload.bucket_key:
            data["bucket_key"] = True
        if upload.dual_layer:
            data["dual_layer"] = True
    if upload.lock is not None:
        data["object_lock"] = upload.lock.to_json()
    return json.dumps(data, separators=(",", ":"))


# Decoded sealed headers and segment keys by their stored text. Every GET of an object decodes
# the same immutable text again (JSON, base64); what it decodes to is immutable ciphertext, so
# the result is shared. Bounded: the oldest entry goes first. OrderedDict, whose popitem finds
# the oldest at once: a dict's ``del memo[next(iter(memo))]`` scans the slots its earlier
# deletions left empty at the front, thousands of them once full (decision 0039).
# The bound is the process's, set by the last SqlMetadataStore made (its ``row_memo_size``, the
# setting opened_headers_cache_size): entries decode immutable text, so stores share them.
DEFAULT_ROW_MEMO_SIZE = 10_000
_POLICY_TEXTS_SIZE = 4096  # the bucket-policy texts' bound (below)
_row_memo_size = DEFAULT_ROW_MEMO_SIZE
_T = TypeVar("_T")
_decoded_headers: OrderedDict[str, SealedHeaders] = OrderedDict()
_decoded_keys: OrderedDict[str, SegmentKey] = OrderedDict()


def _stored_headers_from_json(text: str) -> tuple[ContentHeaders, SealedHeaders | None]:
    sealed = _decoded_headers.get(text)
    if sealed is not None:
        return ContentHeaders(), sealed
    if text.startswith(_SEALED_OPEN) and text.endswith('"]}'):
        # An object row's sealed headers, as _stored_headers_json writes them: two base64
        # texts, which hold no quote, so splitting finds them (an upload row's longer form
        # splits into more parts and goes to json.loads).
        parts = text[len(_SEALED_OPEN) : -3].split(_SEALED_SEP)
        if len(parts) == 2:
            sealed = SealedHeaders(_unb64(parts[0]), _unb64(parts[1]))
            _remember(_decoded_headers, text, sealed, _row_memo_size)
            return ContentHeaders(), sealed
    data = json.loads(text)
    if "sealed" not in data:
        return _headers_from_json(text), None
    wrapped, ciphertext = data["sealed"]
    sealed = SealedHeaders(_unb64(wrapped), _unb64(ciphertext))
    _remember(_decoded_headers, text, sealed, _row_memo_size)
    return ContentHeaders(), sealed


def _remember(memo: OrderedDict[str, _T], text: str, value: _T, bound: int) -> None:
    while len(memo) >= bound:
        memo.popitem(last=False)
    memo[text] = value


def _upload_keys_from_json(text: str) -> dict[str, Any]:
    """The SSE fields and Object Lock settings of an upload row (``MultipartUpload`` keyword
    arguments)."""
    data = json.loads(text)
    check = data.get("customer_key_check")
    context = data.get("kms_context")
    lock = data.get("object_lock")
    return {
        "lock": None if lock is None else ObjectLock.from_json(lock),
        "customer_key_check": None if check is None else _unb64(check),
        "kms_key_arn": data.get("kms_key_arn"),
        "sealed_kms_context": None
        if context is None
        else SealedContext(_unb64(context[0]), _unb64(context[1])),
        "bucket_key": bool(data.get("bucket_key", False)),
        "dual_layer": bool(data.get("dual_layer", False)),
    }


def _segment_key_json(key: SegmentKey | None) -> list[str] | None:
    """``[wrapped]``, ``[wrapped, check]`` (SSE-C) or ``[wrapped, "", key ARN]`` (SSE-KMS),
    then for SSE-KMS with a context ``[..., context wrapped, context sealed, bucket key]``,
    and for DSSE-KMS ``[..., inner layer's wrapped key]``: the shorter forms are the rows
    written before, read unchanged."""
    if key is None:
        return None
    check = key.customer_key_check
    data = [_b64(key.wrapped)] + ([] if check is None else [_b64(check)])
    if key.kms_key_arn is not None:
        data = [data[0], data[1] if len(data) > 1 else "", key.kms_key_arn]
        if key.context is not None:
            data += [
                _b64(key.context.wrapped),
                _b64(key.context.ciphertext),
                "" if key.bucket_key is None else _b64(key.bucket_key),
            ]
            if key.inner_wrapped is not None:
                data.append(_b64(key.inner_wrapped))
    return data


def _segment_key_from_json(data: list[str] | None) -> SegmentKey | None:
    if data is None:
        return None
    if len(data) == 1:  # SSE-S3: the wrapped key alone, the same text on every read
        known = _decoded_keys.get(data[0])
        if known is None:
            known = SegmentKey(_unb64(data[0]))
            _remember(_decoded_keys, data[0], known, _row_memo_size)
        return known
    check = _unb64(data[1]) if len(data) > 1 and data[1] else None
    context = None
    bucket_key = None
    inner_wrapped = None
    if len(data) > 5:
        context = SealedContext(_unb64(data[3]), _unb64(data[4]))
        bucket_key = _unb64(data[5]) if data[5] else None
        inner_wrapped = _unb64(data[6]) if len(data) > 6 else None
    return SegmentKey(
        _unb64(data[0]),
        check,
        data[2] if len(data) > 2 else None,
        context,
        bucket_key,
        inner_wrapped,
    )


def _headers_json(headers: ContentHeaders) -> str:
    return json.dumps(
        {
            "content_type": headers.content_type,
            "content_encoding": headers.content_encoding,
            "content_disposition": headers.content_disposition,
            "content_language": headers.content_language,
            "cache_control": headers.cache_control,
            "expires": headers.expires,
            "user_metadata": dict(headers.user_metadata),
            **({"tags": headers.tags} if headers.tags else {}),
            **(
                {"website_redirect_location": headers.website_redirect_location}
                if headers.website_redirect_location is not None
                else {}
            ),
        },
        separators=(",", ":"),
    )


def _headers_from_json(text: str) -> ContentHeaders:
    data = json.loads(text)
    return ContentHeaders(
        content_type=data["content_type"],
        content_encoding=data["content_encoding"],
        content_disposition=data["content_disposition"],
        content_language=data["content_language"],
        cache_control=data["cache_control"],
        expires=data["expires"],
        user_metadata=dict(data["user_metadata"]),
        tags=tuple((key, value) for key, value in data.get("tags", ())),
        website_redirect_location=data.get("website_redirect_location"),
    )


def _checksum_json(checksum: Checksum | None) -> list[str] | None:
    if checksum is None:
        return None
    return [checksum.algorithm.value, checksum.value, checksum.type.value]


def _checksum_from_json(data: list[str] | None) -> Checksum | None:
    if data is None:
        return None
    return Checksum(ChecksumAlgorithm(data[0]), data[1], ChecksumType(data[2]))


def _segments_json(segments: Sequence[Segment]) -> str:
    return json.dumps(
        [
            {
                "blob_id": s.blob_id,
                "size": s.size,
                "part_number": s.part_number,
                "etag": s.etag,
                "checksum": _checksum_json(s.checksum),
                **({"key": _segment_key_json(s.key)} if s.key is not None else {}),
                **({"region": s.region} if s.region is not None else {}),
            }
            for s in segments
        ],
        separators=(",", ":"),
    )


def _segments_from_json(text: str, inline: bytes | None = None) -> tuple[Segment, ...]:
    """The segments of a row; ``inline``: the row's inline bytes, which are its one segment's."""
    return tuple(
        Segment(
            blob_id=s["blob_id"],
            size=s["size"],
            part_number=s["part_number"],
            etag=s["etag"],
            checksum=_checksum_from_json(s["checksum"]),
            key=_segment_key_from_json(s.get("key")),
            region=s.get("region"),
            inline=inline,
        )
        for s in json.loads(text)
    )


def _checksum_columns(checksum: Checksum | None) -> dict[str, str | None]:
    if checksum is None:
        return {"checksum_algorithm": None, "checksum_type": None, "checksum_value": None}
    return {
        "checksum_algorithm": checksum.algorithm.value,
        "checksum_type": checksum.type.value,
        "checksum_value": checksum.value,
    }


def _checksum_from_row(row: Any) -> Checksum | None:
    if row.checksum_algorithm is None:
        return None
    return Checksum(
        ChecksumAlgorithm(row.checksum_algorithm),
        row.checksum_value,
        ChecksumType(row.checksum_type),
    )


def _object_values(record: ObjectRecord) -> dict[str, Any]:
    return {
        "bucket": record.bucket,
        "key": record.key,
        "size": record.size,
        "etag": record.etag,
        "last_modified": record.last_modified,
        "owner_id": record.owner_id,
        "headers": _stored_headers_json(record.headers, record.sealed_headers),
        "segments": _segments_json(record.segments),
        "format_version": record.format_version,
        "acl": None if record.acl is None else record.acl.to_json(),
        "inline_data": _inline_data(record.segments),
        "version_id": record.version_id,
        "object_lock": None if record.lock is None else record.lock.to_json(),
        **_checksum_columns(record.checksum),
    }


def _inline_data(segments: Sequence[Segment]) -> bytes | None:
    """The bytes an object keeps in its row: its one segment's, when that one is inline."""
    if len(segments) == 1:
        return segments[0].inline
    return None


def _blob_ids(segments: Sequence[Segment]) -> list[str]:
    """The blobs an object's segments are in (an inline segment is in none)."""
    return [s.blob_id for s in segments if s.inline is None]


# Rows are decoded by position (a row of select(table) lists the table's columns in this order;
# RowQuery rows are plain tuples): attribute look-ups by name were a fifth of a small GET's
# row decoding. A column added to a table must be added here too, in its place.
_OBJECT_COLUMNS = (
    "bucket",
    "key",
    "size",
    "etag",
    "last_modified",
    "owner_id",
    "checksum_algorithm",
    "checksum_type",
    "checksum_value",
    "headers",
    "segments",
    "format_version",
    "acl",
    "inline_data",
    "version_id",
    "object_lock",
)
_BUCKET_COLUMNS = (
    "name",
    "tenant_id",
    "owner_id",
    "region",
    "created_at",
    "object_ownership",
    "public_access_block",
    "acl",
    "encryption",
    "policy_digest",
    "versioning",
    "object_lock",
    "request_payer",
)
_ALGORITHMS = {a.value: a for a in ChecksumAlgorithm}
_TYPES = {t.value: t for t in ChecksumType}
_OWNERSHIPS = {o.value: o for o in ObjectOwnership}
_VERSIONING = {v.value: v for v in VersioningStatus}
# ``buckets.request_payer`` of a Requester Pays bucket (decision 0133); NULL: the owner pays.
_REQUESTER = "Requester"


def _object_from_row(row: Sequence[Any], replication_status: str | None = None) -> ObjectRecord:
    """The record of a row of ``select(objects)`` (its columns in ``_OBJECT_COLUMNS`` order);
    ``replication_status``: the version's, where the read joined it (decision 0112)."""
    (
        bucket,
        key,
        size,
        etag,
        last_modified,
        owner_id,
        algorithm,
        checksum_type,
        checksum_value,
        headers_json,
        segments_json,
        format_version,
        acl,
        inline_data,
        version_id,
        object_lock,
    ) = row
    headers, sealed = _stored_headers_from_json(headers_json)
    # bytes, whatever the driver hands out (asyncpg: bytes; sqlite3: bytes or memoryview)
    inline = None if inline_data is None else bytes(inline_data)
    # Positionally, in the record's field order (every GET and HEAD: see slots_builder).
    return build_object_record(
        bucket,
        key,
        size,
        etag,
        utc_from_stored(last_modified),
        headers,
        _segments_from_json(segments_json, inline),
        owner_id,
        None
        if algorithm is None
        else Checksum(_ALGORITHMS[algorithm], checksum_value, _TYPES[checksum_type]),
        format_version,
        None if acl is None else AccessControlList.from_json(acl),
        sealed,
        None,  # kms_context: opened by the service
        None,  # key_check: made by the service
        version_id,
        None if object_lock is None else _object_lock(object_lock),
        replication_status,
    )


def _acl_from_text(text: str | None) -> AccessControlList | None:
    return None if text is None else AccessControlList.from_json(text)


# Listings read only these columns: no JSON to decode for a thousand rows. The timestamp comes
# raw (type_coerce) and is converted below: SQLAlchemy's per-value processor call was a quarter
# of the database side of a LIST.
_SUMMARY = (
    _O.c.key,
    _O.c.size,
    _O.c.etag,
    sa.type_coerce(_O.c.last_modified, sa.BigInteger()).label("last_modified"),
    _O.c.owner_id,
    _O.c.checksum_algorithm,
    _O.c.checksum_type,
)


def _summary_from_row(row: Any) -> ObjectSummary:
    key, size, etag, last_modified, owner_id, algorithm, checksum_type = row
    return ObjectSummary(
        key,
        size,
        etag,
        utc_from_stored(last_modified),
        owner_id,
        None if algorithm is None else _ALGORITHMS[algorithm],
        None if checksum_type is None else _TYPES[checksum_type],
    )


def _bucket_from_row(row: Sequence[Any], policy: str | None) -> Bucket:
    """The bucket of a row of ``_BUCKETS`` (its columns in ``_BUCKET_COLUMNS`` order, then its
    data-events document), with the text of the policy its ``policy_digest`` names
    (``_known_policy``, else read by ``_fetch_policy`` or ``_policy_in``)."""
    (
        name,
        tenant_id,
        owner_id,
        region,
        created_at,
        ownership,
        block,
        acl,
        encryption,
        _,
        versioning,
        object_lock,
        request_payer,
        data_events,
        replication,
        notification,
    ) = row
    # Positionally, in the bucket's field order (every request: see slots_builder).
    return build_bucket(
        name,
        tenant_id,
        owner_id,
        region,
        utc_from_stored(created_at),
        None if ownership is None else _OWNERSHIPS[ownership],
        policy,
        None if block is None else _public_access_block(block),
        None if acl is None else AccessControlList.from_json(acl),
        None if encryption is None else _bucket_encryption(encryption),
        None if versioning is None else _VERSIONING[versioning],
        None if object_lock is None else _lock_configuration(object_lock),
        data_events is not None and _data_reads_logged(data_events),
        None if replication is None else _replication(replication),
        None if notification is None else _notification(notification),
        request_payer == _REQUESTER,
    )


@functools.lru_cache(maxsize=16)
def _data_reads_logged(document: str) -> bool:
    """A bucket's data-events document (decision 0109): ``{"read": true}``; no row is off."""
    selected = json.loads(document)
    return isinstance(selected, dict) and selected.get("read") is True


@functools.lru_cache(maxsize=256)
def _replication(document: str) -> ReplicationConfiguration:
    """A bucket's replication configuration (decision 0112), parsed once per text: every PUT
    to a replicating bucket reads it with the bucket."""
    return ReplicationConfiguration.from_text(document)


@functools.lru_cache(maxsize=256)
def _notification(document: str) -> NotificationConfiguration:
    """A bucket's event notification configuration (decision 0132), parsed once per text."""
    return NotificationConfiguration.from_text(document)


# Bucket policy texts by their SHA-256 (``buckets.policy_digest``), as read from
# bucket_policies. A bucket row names its policy by digest: while this process holds that text,
# a request reads neither the text (up to 20 KiB) nor a second row, and the same str object,
# whose hash Python keeps, goes on to the authoriser, which finds the parsed policy by it. A
# change made by any gateway changes the digest, so the next read fetches the new text
# (docs/decisions/0034-bucket-policy-out-of-the-bucket-row.md). Bounded by _POLICY_TEXTS_SIZE.
_policy_texts: OrderedDict[str, str] = OrderedDict()
_POLICY_DIGEST_AT = _BUCKET_COLUMNS.index("policy_digest")


def policy_digest(text: str) -> str:
    """The digest a bucket row keeps of its policy text (migration 0017 computes the same)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _known_policy(row: Sequence[Any]) -> str | None:
    """The policy text of a bucket row when it has none or this process holds it; else ''."""
    digest = row[_POLICY_DIGEST_AT]
    if digest is None:
        return None
    return _policy_texts.get(digest, "")  # a policy is never '': PutBucketPolicy refuses it


def _fetched_policy(text: str | None) -> str | None:
    """A policy text just read from bucket_policies, remembered by its digest (a gateway that
    changed it between the bucket's read and this one: the newer text, under its own)."""
    if text is None:
        return None  # deleted meanwhile
    digest = policy_digest(text)
    known = _policy_texts.get(digest)
    if known is not None:
        return known
    _remember(_policy_texts, digest, text, _POLICY_TEXTS_SIZE)
    return text


def _policy_in(conn: Connection, row: Sequence[Any]) -> str | None:
    """``_known_policy``, reading the text through ``conn`` when this process lacks it."""
    known = _known_policy(row)
    if known != "":
        return known
    return _fetched_policy(conn.scalar(_GET_POLICY, {"bucket": row[0]}))


def _policy_rows(conn: Connection, name: str, policy: str | None) -> None:
    """Store ``policy`` as ``name``'s text (None: remove it), in the job that sets the bucket
    row's ``policy_digest``."""
    conn.execute(_BP.delete().where(_BP.c.bucket == name))
    if policy is not None:
        conn.execute(_BP.insert().values(bucket=name, policy=policy))


# Every request reads its bucket: its settings, immutable values of a few distinct texts, are
# decoded once per text rather than per request (JSON parsing showed in small GETs' profiles).
@functools.lru_cache(maxsize=64)
def _public_access_block(text: str) -> PublicAccessBlock:
    return PublicAccessBlock.from_json(text)


@functools.lru_cache(maxsize=1024)
def _bucket_encryption(text: str) -> BucketEncryption:
    return BucketEncryption.from_json(text)


@functools.lru_cache(maxsize=64)
def _lock_configuration(text: str) -> ObjectLockConfiguration:
    return ObjectLockConfiguration.from_json(text)


@functools.lru_cache(maxsize=1024)
def _object_lock(text: str) -> ObjectLock:
    return ObjectLock.from_json(text)


def _check_column_order() -> None:
    """The positional decoders above match the tables (checked once, at import)."""
    for table, expected in ((_O, _OBJECT_COLUMNS), (_B, _BUCKET_COLUMNS)):
        actual = tuple(column.name for column in table.c)
        if actual != expected:
            raise RuntimeError(f"{table.name} columns {actual} are not the decoder's {expected}")


_check_column_order()


def _bucket_access_values(changes: Mapping[str, object]) -> dict[str, object]:
    unknown = set(changes) - BUCKET_ACCESS_FIELDS
    if unknown:
        raise ValueError(f"not bucket access fields: {sorted(unknown)}")
    values: dict[str, object] = {}
    for name, value in changes.items():
        if isinstance(
            value,
            PublicAccessBlock | AccessControlList | BucketEncryption,
        ):
            value = value.to_json()
        elif isinstance(value, ObjectOwnership):
            value = value.value
        values[name] = value
    return values


def _upload_from_row(row: Any) -> MultipartUpload:
    headers, sealed = _stored_headers_from_json(row.headers)
    return MultipartUpload(
        bucket=row.bucket,
        key=row.key,
        upload_id=row.upload_id,
        initiated=row.initiated,
        owner_id=row.owner_id,
        headers=headers,
        sealed_headers=sealed,
        **_upload_keys_from_json(row.headers),
        checksum_algorithm=(
            None if row.checksum_algorithm is None else ChecksumAlgorithm(row.checksum_algorithm)
        ),
        checksum_type=None if row.checksum_type is None else ChecksumType(row.checksum_type),
        format_version=row.format_version,
        acl=_acl_from_text(row.acl),
    )


def _part_from_row(row: Any) -> Part:
    return Part(
        upload_id=row.upload_id,
        part_number=row.part_number,
        blob_id=row.blob_id,
        size=row.size,
        etag=row.etag,
        last_modified=row.last_modified,
        checksum=_checksum_from_row(row),
        key=_segment_key_from_json(None if row.key is None else json.loads(row.key)),
        region=row.region,
    )


def _key_range(column: sa.ColumnElement[str], prefix: str) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = []
    if prefix:
        conditions.append(column >= prefix)
        upper = prefix_upper_bound(prefix)
        if upper is not None:
            conditions.append(column < upper)
    return conditions


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


class SqlMetadataStore:
    """Every public method is one read (inline) or one write job (group-committed): see
    :class:`andromede.db.database.Database`. The ``_``-prefixed helpers run inside a job."""

    def __init__(self, db: Database, *, row_memo_size: int = DEFAULT_ROW_MEMO_SIZE) -> None:
        """``row_memo_size``: how many decoded sealed-header and key texts the process keeps
        (the setting opened_headers_cache_size: a worker that remembers an object's opened
        headers remembers its row's decoded text too)."""
        global _row_memo_size
        if row_memo_size < 1:
            raise ValueError("the row memos hold at least one entry")
        _row_memo_size = row_memo_size
        self._db = db
        # PostgreSQL has a PUT of its own, in one statement (_put_object_in_one_statement).
        self._postgresql = db.dialect == "postgresql"

    # -- buckets --------------------------------------------------------------------------
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
        payer = _REQUESTER if requester_pays else None
        update = _B.update().where(_B.c.name == name).values(request_payer=payer)

        def work(conn: Connection) -> Bucket:
            if conn.execute(update).rowcount == 0:
                raise NoSuchBucket(name)
            row = conn.execute(_GET_BUCKET, {"name": name}).one()
            return _bucket_from_row(row, _policy_in(conn, row))

        return await self._db.write(work)

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

    # -- objects --------------------------------------------------------------------------
    async def put_object(
        self,
        record: ObjectRecord,
        *,
        expected: ExpectedObject | None = None,
        notify: EventBatch | None = None,
    ) -> ObjectRecord | None:
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
            queue_events(conn, notify, expected.version_id, datetime.now(UTC))
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
        text = None if acl is None else acl.to_json()

        def work(conn: Connection) -> ObjectRecord | None:
            updated = conn.execute(
                _O.update().where(_O.c.bucket == bucket, _O.c.key == key).values(acl=text)
            )
            if updated.rowcount == 0:
                return None
            row = conn.execute(_GET_OBJECT, {"bucket": bucket, "key": key}).one()
            record = _object_from_row(row)
            queue_events(conn, notify, record.version_id, datetime.now(UTC))
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
            queue_events(conn, notify, None, datetime.now(UTC))
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
        def work(conn: Connection) -> VersionedWrite:
            written = _versions.put_version(conn, record, expected, replication)
            queue_events(conn, notify, written.version_id, record.last_modified)
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
        def work(conn: Connection) -> VersionedWrite:
            written = _versions.put_marker(
                conn, bucket, key, owner_id, now, if_etag, version_id, replication
            )
            queue_events(conn, notify, written.version_id, now)
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
        moment = now or datetime.now(UTC)

        def work(conn: Connection) -> ObjectRecord | DeleteMarker | None:
            removed = _versions.delete_version(
                conn, bucket, key, version_id, only_if, moment, bypass_governance
            )
            if removed is not None:
                queue_events(conn, notify, removed.version_id, moment)
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
        text = _stored_headers_json(record.headers, record.sealed_headers)

        def work(conn: Connection) -> bool:
            if not _versions.replace_headers(conn, expected, text):
                return False
            _queue_sync(conn, replication, expected.bucket, expected.key, expected.version_id)
            queue_events(conn, notify, expected.version_id, datetime.now(UTC))
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
        text = None if acl is None else acl.to_json()

        def work(conn: Connection) -> ObjectRecord | DeleteMarker | None:
            changed = _versions.set_acl(conn, bucket, key, version_id, text)
            if isinstance(changed, ObjectRecord):
                _queue_sync(conn, replication, bucket, key, version_id)
                queue_events(conn, notify, changed.version_id, datetime.now(UTC))
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

    # -- multipart uploads ------------------------------------------------------------------
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
                queue_events(conn, notify, written.version_id, record.last_modified)
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
_BUCKET_ROW = (
    *_B.c,
    _DATA_EVENTS.c.document.label("data_events"),
    _REPLICATION.c.document.label("replication"),
    _NOTIFICATION.c.document.label("notification"),
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
_GET_POLICY = sa.select(_BP.c.policy).where(_BP.c.bucket == sa.bindparam("bucket"))
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
    queue_events(conn, notify, None, record.last_modified)
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


# Last: it uses this module's helpers, and this module calls it only from inside jobs.
from andromede.storage import store_sql_versions as _versions  # noqa: E402
