"""The SQL metadata store's rows of objects, uploads and parts, and the records they hold:
their encoding (headers, sealed headers, segments and their keys, checksums as JSON text
beside the row's ``format_version``) and their decoding by position, with the process-wide
memos of decoded texts (decision 0039). Split off ``store_sql`` for size; buckets' rows are
``store_sql_bucket_rows``'s.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, TypeVar

import sqlalchemy as sa

from andromede.db import tables
from andromede.db.types import utc_from_stored
from andromede.storage.acl import AccessControlList
from andromede.storage.model import (
    Checksum,
    ChecksumAlgorithm,
    ChecksumType,
    ContentHeaders,
    MultipartUpload,
    ObjectRecord,
    ObjectSummary,
    Part,
    SealedContext,
    SealedHeaders,
    Segment,
    SegmentKey,
    build_object_record,
)
from andromede.storage.object_lock import ObjectLock

__all__ = ["DEFAULT_ROW_MEMO_SIZE", "prefix_upper_bound", "set_row_memo_size"]

_O = tables.objects

_MAX_CODE_POINT = 0x10FFFF


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
_ALGORITHMS = {a.value: a for a in ChecksumAlgorithm}
_TYPES = {t.value: t for t in ChecksumType}


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


@functools.lru_cache(maxsize=1024)
def _object_lock(text: str) -> ObjectLock:
    return ObjectLock.from_json(text)


def set_row_memo_size(size: int) -> None:
    """The bound of the memos of decoded texts, the process's (the last store made sets it)."""
    global _row_memo_size
    _row_memo_size = size


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
