"""Conditional requests of S3: what ``If-*`` headers decide before an object is read or written.

Pure decisions over header values, an ETag and a modification time; the handlers fetch the object,
ask here, and answer accordingly. Header names are looked up in lower case, as ASGI delivers
them; repeated fields must already be joined with ", ".

Reads (GetObject, HeadObject) follow RFC 9110 section 13.2.2, which is also what AWS documents
for GetObject: If-Match true makes If-Unmodified-Since irrelevant (so If-Match true and
If-Unmodified-Since false proceeds with 200), and If-None-Match, when present, makes
If-Modified-Since irrelevant (If-None-Match false and If-Modified-Since true is a 304).
``x-amz-copy-source-if-*`` follow the same order for CopyObject and UploadPartCopy, except that
every failure is a 412 (AWS's CopyObject documentation gives the same two combinations).

Writes (PutObject, CompleteMultipartUpload, CopyObject destination) take AWS's conditional
writes: ``If-None-Match: *`` (create only) and ``If-Match: <etag>`` (compare and swap). If-Match
on a missing key is 404 ``NoSuchKey`` on AWS, not 412 (aws s3api output quoted in
minio/minio#21526). Other forms, and both headers together, are refused by AWS with 501
``NotImplemented`` (LocalStack's AWS-validated provider); :class:`UnsupportedCondition` says so.

Deletes (DeleteObject, and each key of DeleteObjects) take ``If-Match`` alone, as AWS does since
September 2025: an ETag, or ``*`` for "if it exists"; a missing key is 404 ``NoSuchKey``.

Comparisons: If-Match is strong (a ``W/`` tag never matches), If-None-Match weak; ETags are
accepted quoted or bare, alone, in lists, or as ``*``. Dates that do not parse are ignored, as are
If-Modified-Since dates in the future (RFC 9110 13.1.3), and an object's time is compared at
whole seconds since HTTP dates have no fractions.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import UTC, datetime

from andromede.errors import AndromedeError
from andromede.http.dates import parse_http_date

__all__ = [
    "ConditionOutcome",
    "UnsupportedCondition",
    "evaluate_copy_source_conditions",
    "evaluate_delete_condition",
    "evaluate_get_conditions",
    "evaluate_put_conditions",
]


class ConditionOutcome(enum.Enum):
    """What the conditions decide; the value is the HTTP status the S3 layer answers with."""

    PROCEED = 200
    NOT_MODIFIED = 304
    PRECONDITION_FAILED = 412  # S3 code PreconditionFailed
    NO_SUCH_KEY = 404  # S3 code NoSuchKey (If-Match on a write to a missing key)


class UnsupportedCondition(AndromedeError):
    """A conditional-write header S3 does not implement: the S3 layer answers 501
    ``NotImplemented`` with ``header`` in the error's ``Header`` element."""

    def __init__(self, header: str, message: str) -> None:
        super().__init__(message)
        self.header = header
        self.message = message


def _entity_tags(value: str) -> list[tuple[bool, str]]:
    """The (weak, opaque tag) pairs of an If-Match / If-None-Match list, quotes removed."""
    tags = []
    for item in value.split(","):
        tag = item.strip()
        if not tag:
            continue
        weak = tag.startswith("W/")
        if weak:
            tag = tag[2:]
        if len(tag) >= 2 and tag[0] == '"' and tag[-1] == '"':
            tag = tag[1:-1]
        tags.append((weak, tag))
    return tags


def _strong_match(value: str, etag: str) -> bool:
    if value.strip() == "*":
        return True
    return any(not weak and tag == etag for weak, tag in _entity_tags(value))


def _weak_match(value: str, etag: str) -> bool:
    if value.strip() == "*":
        return True
    return any(tag == etag for _weak, tag in _entity_tags(value))


def _header(headers: Mapping[str, str], name: str) -> str | None:
    # An empty field carries no condition; treating it as absent beats failing every request.
    value = headers.get(name)
    return value if value and value.strip() else None


def _whole_seconds(dt: datetime) -> datetime:
    if dt.tzinfo is None:  # the stores keep UTC
        dt = dt.replace(tzinfo=UTC)
    return dt.replace(microsecond=0)


def _bare(etag: str) -> str:
    return etag.strip('"')


def _evaluate(
    headers: Mapping[str, str],
    names: tuple[str, str, str, str],
    etag: str,
    last_modified: datetime,
    not_modified: ConditionOutcome,
    now: datetime | None,
) -> ConditionOutcome:
    """RFC 9110 13.2.2 steps 1 to 4, with the header names of the request kind."""
    if_match, if_unmodified_since, if_none_match, if_modified_since = (
        _header(headers, name) for name in names
    )
    etag = _bare(etag)
    modified = _whole_seconds(last_modified)
    if if_match is not None:
        if not _strong_match(if_match, etag):
            return ConditionOutcome.PRECONDITION_FAILED
    elif if_unmodified_since is not None:
        since = parse_http_date(if_unmodified_since)
        if since is not None and modified > since:
            return ConditionOutcome.PRECONDITION_FAILED
    if if_none_match is not None:
        if _weak_match(if_none_match, etag):
            return not_modified
    elif if_modified_since is not None:
        since = parse_http_date(if_modified_since)
        if since is not None and (now is None or since <= now) and modified <= since:
            return not_modified
    return ConditionOutcome.PROCEED


_GET_HEADERS = ("if-match", "if-unmodified-since", "if-none-match", "if-modified-since")
_COPY_SOURCE_HEADERS = (
    "x-amz-copy-source-if-match",
    "x-amz-copy-source-if-unmodified-since",
    "x-amz-copy-source-if-none-match",
    "x-amz-copy-source-if-modified-since",
)


def evaluate_get_conditions(
    headers: Mapping[str, str],
    *,
    etag: str,
    last_modified: datetime,
    now: datetime | None = None,
) -> ConditionOutcome:
    """Decide a GET or HEAD: PROCEED, NOT_MODIFIED (304) or PRECONDITION_FAILED (412).

    ``now`` (default: the clock) is the server time beyond which an If-Modified-Since is ignored.
    """
    return _evaluate(
        headers,
        _GET_HEADERS,
        etag,
        last_modified,
        ConditionOutcome.NOT_MODIFIED,
        datetime.now(UTC) if now is None else now,
    )


def evaluate_copy_source_conditions(
    headers: Mapping[str, str], *, etag: str, last_modified: datetime
) -> ConditionOutcome:
    """Decide the ``x-amz-copy-source-if-*`` headers of a copy: PROCEED or PRECONDITION_FAILED.

    A future ``-if-modified-since`` is not ignored here: the RFC's exemption is about caches, and
    a copy has none, so "modified since tomorrow" is simply false.
    """
    return _evaluate(
        headers,
        _COPY_SOURCE_HEADERS,
        etag,
        last_modified,
        ConditionOutcome.PRECONDITION_FAILED,
        None,
    )


def evaluate_put_conditions(
    headers: Mapping[str, str], *, current_etag: str | None
) -> ConditionOutcome:
    """Decide a conditional write against the key's current object (None: there is none).

    Returns PROCEED, PRECONDITION_FAILED (412) or NO_SUCH_KEY (404); raises
    :class:`UnsupportedCondition` for the forms AWS does not implement.
    """
    if_match = _header(headers, "if-match")
    if_none_match = _header(headers, "if-none-match")
    if if_match is not None and if_none_match is not None:
        raise UnsupportedCondition(
            "If-Match,If-None-Match", "Multiple conditional request headers present in the request"
        )
    if if_none_match is not None:
        if if_none_match.strip() != "*":
            raise UnsupportedCondition(
                "If-None-Match",
                "We don't accept the provided value of If-None-Match header for this API",
            )
        if current_etag is not None:
            return ConditionOutcome.PRECONDITION_FAILED
        return ConditionOutcome.PROCEED
    if if_match is not None:
        if if_match.strip() == "*":
            raise UnsupportedCondition(
                "If-Match", "We don't accept the provided value of If-Match header for this API"
            )
        if current_etag is None:
            return ConditionOutcome.NO_SUCH_KEY
        if not _strong_match(if_match, _bare(current_etag)):
            return ConditionOutcome.PRECONDITION_FAILED
    return ConditionOutcome.PROCEED


def evaluate_delete_condition(if_match: str, current_etag: str | None) -> ConditionOutcome:
    """Decide a conditional delete (DeleteObject's ``If-Match``, a DeleteObjects entry's
    ``ETag``) against the key's current object (None: there is none): NO_SUCH_KEY without an
    object, PRECONDITION_FAILED when its ETag is not the one given (``*`` matches any object,
    a ``W/`` tag none), PROCEED otherwise."""
    if current_etag is None:
        return ConditionOutcome.NO_SUCH_KEY
    if not _strong_match(if_match, _bare(current_etag)):
        return ConditionOutcome.PRECONDITION_FAILED
    return ConditionOutcome.PROCEED
