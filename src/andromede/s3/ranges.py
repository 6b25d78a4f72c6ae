"""Byte ranges as S3 reads them: the ``Range`` header of GetObject/HeadObject and the
``x-amz-copy-source-range`` header of UploadPartCopy.

Pure parsing against the object's size, no I/O. What S3 does, and therefore what we do:

- ``bytes=a-b``, ``bytes=a-`` and ``bytes=-n`` (the last n bytes) select one range; an end past the
  object is clamped to its last byte.
- A range starting at or after the end of the object cannot be satisfied: 416 ``InvalidRange``.
  That includes every ``bytes=a-…`` range on an empty object (ceph/s3-tests
  ``test_ranged_request_empty_object``; minio/minio#6557 compares with AWS) and ``bytes=-0``.
- A suffix range on an empty object is not an error: AWS returns the (empty) object with 200, as
  scality/cloudserver#675 found against AWS (``validRangeOnEmptyFile``) and floci-io/floci#1141.
- A header that does not parse (``bytes=5-2``, ``items=0-1``, ``bytes=x-``) is ignored: 200 with the
  whole object (versity/versitygw#1120, scality/cloudserver#2194).
- Several ranges (``bytes=0-1,5-6``) are ignored the same way: AWS answers 200 with the whole object
  and no ``Content-Range`` (awslabs/aws-c-s3#257, basho/riak_cs#304).

UploadPartCopy is stricter: only ``bytes=first-last`` is allowed and anything else is a 400
``InvalidArgument`` (gaul/s3proxy#304, minio/minio#14246), as is a range past the end of the
source (versity/versitygw#610, message "Range specified is not valid for source object of size: N").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from andromede.errors import AndromedeError

__all__ = [
    "COPY_SOURCE_RANGE_FORMAT_MESSAGE",
    "ByteRange",
    "InvalidCopySourceRange",
    "RangeNotSatisfiable",
    "parse_copy_source_range",
    "parse_range",
]

COPY_SOURCE_RANGE_FORMAT_MESSAGE = (
    "The x-amz-copy-source-range value must be of the form bytes=first-last where first and "
    "last are the zero-based offsets of the first and last bytes to copy"
)

# One range-spec: first-last, first- or -suffix. ASCII digits only (\d would accept "²").
_SPEC = re.compile(r"([0-9]*)-([0-9]*)")
_COPY_SPEC = re.compile(r"bytes=([0-9]+)-([0-9]+)")


@dataclass(frozen=True, slots=True)
class ByteRange:
    """Bytes ``start`` to ``end`` of an object, both inclusive, as in ``Content-Range``."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        """The ``Content-Range`` header value of a 206 answer for an object of ``size`` bytes."""
        return f"bytes {self.start}-{self.end}/{size}"


class RangeNotSatisfiable(AndromedeError):
    """No byte of the requested range exists; the S3 layer answers 416 ``InvalidRange``."""

    def __init__(self, size: int) -> None:
        super().__init__(f"range not satisfiable for an object of {size} bytes")
        self.size = size  # for the 416's "Content-Range: bytes */size"


class InvalidCopySourceRange(AndromedeError):
    """A bad ``x-amz-copy-source-range``; the S3 layer answers 400 ``InvalidArgument``."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The range a GET of an object of ``size`` bytes must answer, or None for the whole object.

    Raises :class:`RangeNotSatisfiable` when the range parses but selects no byte.
    """
    if header is None:
        return None
    unit, equals, spec = header.strip().partition("=")
    if not equals or unit.strip().lower() != "bytes":
        return None
    match = _SPEC.fullmatch(spec.strip())
    if match is None:  # a comma (several ranges) lands here too
        return None
    first, last = match.group(1), match.group(2)
    if not first:
        if not last:
            return None
        suffix = int(last)
        if suffix == 0:
            raise RangeNotSatisfiable(size)
        if size == 0:
            return None
        return ByteRange(max(size - suffix, 0), size - 1)
    start = int(first)
    if last and int(last) < start:
        return None
    if start >= size:
        raise RangeNotSatisfiable(size)
    end = size - 1 if not last else min(int(last), size - 1)
    return ByteRange(start, end)


def parse_copy_source_range(header: str, size: int) -> ByteRange:
    """The range of the source object an UploadPartCopy copies.

    Raises :class:`InvalidCopySourceRange` with AWS's message when the header is not exactly
    ``bytes=first-last`` with first <= last, or when last is past the source's end.
    """
    match = _COPY_SPEC.fullmatch(header.strip())
    if match is None:
        raise InvalidCopySourceRange(COPY_SOURCE_RANGE_FORMAT_MESSAGE)
    start, end = int(match.group(1)), int(match.group(2))
    if start > end:
        raise InvalidCopySourceRange(COPY_SOURCE_RANGE_FORMAT_MESSAGE)
    if end >= size:
        raise InvalidCopySourceRange(
            f"Range specified is not valid for source object of size: {size}"
        )
    return ByteRange(start, end)
