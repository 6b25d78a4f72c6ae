"""What a body must prove, and the checksums an object or part ends up with.

Pure functions over the hashes a :class:`~andromede.storage.checksums.BodyHasher` computed while
the body streamed: Content-MD5 and the additional checksum checked, the full-object or
composite checksum of a multipart object derived from its parts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from andromede.storage.checksums import (
    BodyHasher,
    combine_full_object,
    composite_checksum,
    decode_checksum,
    default_checksum_type,
    encode_digest,
)
from andromede.storage.errors import BadDigest, ChecksumMismatch
from andromede.storage.model import (
    Checksum,
    ChecksumAlgorithm,
    ChecksumType,
    MultipartUpload,
    ObjectRecord,
    Part,
)

__all__ = [
    "BodyIntegrity",
    "checksum_base",
    "full_checksum",
    "multipart_checksum",
    "normal_etag",
    "source_integrity",
    "update_all",
    "verify_body",
]


@dataclass(slots=True)
class BodyIntegrity:
    """What the client asked us to verify about a body.

    ``checksum_value`` may be filled only once the body ends (trailing checksums): the service
    reads it after the body iterator is exhausted. A value of None means: compute, store and
    return the checksum, nothing to compare.
    """

    content_md5: bytes | None = None
    checksum_algorithm: ChecksumAlgorithm | None = None
    checksum_value: str | None = None


def update_all(hasher: BodyHasher, chunks: list[bytes]) -> None:
    for chunk in chunks:
        hasher.update(chunk)


def verify_body(hasher: BodyHasher, integrity: BodyIntegrity) -> None:
    if integrity.content_md5 is not None and integrity.content_md5 != hasher.md5_digest():
        raise BadDigest("The Content-MD5 you specified did not match what we received.")
    algorithm = integrity.checksum_algorithm
    if algorithm is not None and integrity.checksum_value is not None:
        expected = decode_checksum(algorithm, integrity.checksum_value)
        if hasher.algorithm is not algorithm or expected != hasher.checksum_digest():
            raise ChecksumMismatch(
                f"The {algorithm.value} you specified did not match the calculated checksum."
            )


def full_checksum(algorithm: ChecksumAlgorithm | None, hasher: BodyHasher) -> Checksum | None:
    digest = hasher.checksum_digest()
    if algorithm is None or digest is None:
        return None
    return Checksum(algorithm, encode_digest(digest), ChecksumType.FULL_OBJECT)


def source_integrity(source: ObjectRecord, algorithm: ChecksumAlgorithm | None) -> BodyIntegrity:
    """What a copy can check against its source: the MD5 of a single PUT, and the source's
    full-object checksum when the copy computes the same algorithm."""
    integrity = BodyIntegrity()
    if source.parts_count is None and len(source.etag) == 32:
        integrity.content_md5 = bytes.fromhex(source.etag)
    checksum = source.checksum
    if (
        checksum is not None
        and checksum.type is ChecksumType.FULL_OBJECT
        and checksum.algorithm is algorithm
    ):
        integrity.checksum_algorithm = algorithm
        integrity.checksum_value = checksum.value
    return integrity


def multipart_checksum(upload: MultipartUpload, parts: Sequence[Part]) -> Checksum | None:
    algorithm = upload.checksum_algorithm
    if algorithm is None:
        return None
    checksum_type = upload.checksum_type or default_checksum_type(algorithm)
    digests = [decode_checksum(algorithm, p.checksum.value) for p in parts if p.checksum]
    if checksum_type is ChecksumType.COMPOSITE:
        value = composite_checksum(algorithm, digests)
    else:
        value = encode_digest(
            combine_full_object(
                algorithm, [(d, p.size) for d, p in zip(digests, parts, strict=True)]
            )
        )
    return Checksum(algorithm, value, checksum_type)


def normal_etag(etag: str) -> str:
    return etag.strip().strip('"').lower()


def checksum_base(value: str) -> str:
    """A checksum value without its composite ``-N`` suffix (base64 has no '-')."""
    return value.partition("-")[0]
