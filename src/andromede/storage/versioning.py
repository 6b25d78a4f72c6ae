"""Bucket versioning's pure rules: the states, version ids, delete markers, listing entries.

No I/O here (decision 0097). A bucket is never versioned (``Bucket.versioning`` None) until
PutBucketVersioning; then Enabled or Suspended, and never again unversioned. The ``objects``
table keeps the current version of each key when it is an object; the stores keep the other
versions (noncurrent ones, and every delete marker) apart, written only in versioned buckets, so
a bucket never versioned reads and writes exactly what it did before.

Version ids are ordered per key, newest first: 16 hex digits of the time (microseconds since
the epoch subtracted from 2^64 - 1, so a later version sorts first) then 22 characters of
URL-safe base64 of 128 random bits, which make them unguessable. A store that holds a newer
version than the clock says (another gateway's clock ahead) takes the next id below it, so the
order of the ids is the order of the writes of a key, whatever the clocks.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Final

from andromede.storage.errors import ReplicaRefused
from andromede.storage.model import (
    ChecksumAlgorithm,
    ChecksumType,
    ObjectRecord,
    Segment,
    VersioningStatus,
)

__all__ = [
    "NULL_VERSION_ID",
    "DeleteMarker",
    "RemovalCondition",
    "VersionEntry",
    "VersionedWrite",
    "VersioningStatus",
    "check_replica",
    "is_version_id",
    "next_version_id",
    "shown_version_id",
]

NULL_VERSION_ID: Final = "null"  # what S3 calls the version a key gets while unversioned
_TIME_DIGITS: Final = 16
_MAX_TIME: Final = 2**64 - 1
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


class RemovalCondition(Enum):
    """What must still hold, in the removal's own transaction, for a version to be removed
    (lifecycle, decision 0099): a version seen noncurrent in a listing may have become
    current again since (a client removed the newer one), and a delete marker seen alone may
    now hide a new version."""

    NONCURRENT = "noncurrent"  # a newer version of the key (object or marker) exists
    SOLE_MARKER = "sole-marker"  # a delete marker, and the key's only version


def next_version_id(now: datetime, newer_than: str | None = None) -> str:
    """A new version id for a version made at ``now``, sorting before ``newer_than`` (the
    newest id the key already has, if any): the key's versions sort newest first."""
    micros = (now - _EPOCH) // _ONE_MICROSECOND
    inverted = _MAX_TIME - max(micros, 0)
    if newer_than is not None:
        try:
            newest = int(newer_than[:_TIME_DIGITS], 16)
        except ValueError:
            newest = _MAX_TIME
        inverted = min(inverted, newest - 1)
    random = base64.urlsafe_b64encode(secrets.token_bytes(16)).rstrip(b"=").decode()
    return f"{inverted:0{_TIME_DIGITS}x}{random}"


_ID_LENGTH: Final = _TIME_DIGITS + 22
_HEX: Final = frozenset("0123456789abcdef")
_URL_SAFE: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def is_version_id(text: str) -> bool:
    """Whether ``text`` has the form of a version id made here (S3 answers InvalidArgument to
    a malformed one, NoSuchVersion to a well-formed one it does not hold)."""
    return (
        len(text) == _ID_LENGTH
        and set(text[:_TIME_DIGITS]) <= _HEX
        and set(text[_TIME_DIGITS:]) <= _URL_SAFE
    )


def shown_version_id(version_id: str | None) -> str:
    """The id S3 shows: ``null`` for the null version."""
    return NULL_VERSION_ID if version_id is None else version_id


@dataclass(frozen=True, slots=True)
class DeleteMarker:
    """A delete marker: the version a delete made in a versioned bucket. ``version_id`` None
    is the null version (a delete in a Suspended bucket)."""

    bucket: str
    key: str
    version_id: str | None
    last_modified: datetime
    owner_id: str


@dataclass(frozen=True, slots=True)
class VersionedWrite:
    """What a write in a versioned bucket made: the new version's id (None: the null version)
    and the segments of the version it replaced for good (a null version), to release."""

    version_id: str | None
    released: tuple[Segment, ...] = ()


@dataclass(frozen=True, slots=True)
class VersionEntry:
    """One entry of ListObjectVersions: a version or a delete marker. ``sort_id`` places it
    among its key's versions (the id a next page starts after)."""

    key: str
    version_id: str | None
    sort_id: str
    is_latest: bool
    delete_marker: bool
    last_modified: datetime
    owner_id: str
    size: int = 0
    etag: str = ""
    checksum_algorithm: ChecksumAlgorithm | None = None
    checksum_type: ChecksumType | None = None

    @classmethod
    def of_record(cls, record: ObjectRecord, sort_id: str, *, is_latest: bool) -> VersionEntry:
        checksum = record.checksum
        return cls(
            record.key,
            record.version_id,
            sort_id,
            is_latest,
            False,
            record.last_modified,
            record.owner_id,
            record.size,
            record.etag,
            checksum.algorithm if checksum else None,
            checksum.type if checksum else None,
        )

    @classmethod
    def of_marker(cls, marker: DeleteMarker, sort_id: str, *, is_latest: bool) -> VersionEntry:
        return cls(
            marker.key,
            marker.version_id,
            sort_id,
            is_latest,
            True,
            marker.last_modified,
            marker.owner_id,
        )


_ONE_MICROSECOND: Final = datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC) - _EPOCH


def check_replica(
    version_id: str,
    status: VersioningStatus,
    current_id: str | None,
    newest_kept_id: str | None,
    *,
    present: bool,
) -> bool:
    """Whether a replica may be written with its source's ``version_id`` (decision 0112), and
    where: ReplicaRefused unless the bucket's versioning is Enabled. True when the key already
    holds a newer version (ids sort newest first): the replica then goes among the noncurrent
    versions at its place, as on S3, and the current version stays (the key's order is its
    versions' times, wherever they were written). ``present`` (that id is already held, in
    ``objects`` or among the versions): a copy made twice, ReplicaRefused with ``present``,
    which its worker takes as done."""
    if present or current_id == version_id:
        raise ReplicaRefused(f"version {version_id} is already there", present=True)
    if status is not VersioningStatus.ENABLED:
        raise ReplicaRefused("the destination bucket's versioning is not Enabled")
    return any(held is not None and version_id >= held for held in (current_id, newest_kept_id))
